// Licensed under the Apache License, Version 2.0. Port of bbolt's tx.go (WriteTo, CopyFile).
//
// A consistent copy of the database as a transaction sees it, streamed in chunks: the meta
// page of the transaction at its own place (`txid % 2`, byte for byte as the file has it),
// a fallback meta page with the previous txid at the other place, then pages [2, hwm) from
// the map. A read transaction never blocks the writer, so copies of any size run beside commits.

import CPageIO

extension Tx {
    /// Streams a consistent copy of the database file to `sink`, in chunks of at most `chunkSize` bytes.
    ///
    /// The copy is a valid database whose active meta page is this transaction's.
    /// - Returns: the number of bytes streamed (`highWaterMark * pageSize`).
    @discardableResult
    public func write(chunkSize: Int = 1 << 20, to sink: ([UInt8]) throws -> Void) throws -> Int64 {
        // The two meta pages: this transaction's at txid % 2, the previous txid at the other place.
        var metaPages = [UInt8](repeating: 0, count: 2 * pageSize)
        var previous = meta
        previous.txid = meta.txid &- 1
        metaPages.withUnsafeMutableBytes { p in
            for m in [meta, previous] {
                m.write(toPage: p.baseAddress! + Int(m.txid % 2) * pageSize)
            }
        }
        try sink(metaPages)

        // The data pages, read from the map in chunks.
        let chunkPages = max(1, chunkSize / pageSize)
        var id: PageID = 2
        while id < meta.pgid {
            let n = min(PageID(chunkPages), meta.pgid - id)
            let chunk = Array(UnsafeRawBufferPointer(start: map.base + Int(id) * pageSize, count: Int(n) * pageSize))
            try sink(chunk)
            id += n
        }
        return size
    }

    /// Writes a consistent copy of the database to a new file at `path` and syncs it.
    public func copyFile(to path: String) throws {
        let target = try DataFile(path: path, readOnly: false, create: true)
        try target.truncate(to: 0)
        var offset: Int64 = 0
        try write { chunk in
            try chunk.withUnsafeBytes { try target.write($0, at: offset) }
            offset += Int64(chunk.count)
        }
        try target.sync()
    }
}
