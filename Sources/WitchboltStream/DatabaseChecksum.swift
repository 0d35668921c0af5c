// Licensed under the Apache License, Version 2.0.
//
// The whole-database checksum of ARCHITECTURE.md: the XOR, over the active meta page and the
// pages [2, highWaterMark), of a 64-bit hash of (page id, page bytes). XOR makes it
// incremental: a rewritten page XORs its old hash out and its new hash in, so the stream
// keeps it up to date from the frames alone, with no work in the engine, and restore and
// verify recompute it while they replay. The page hash is XXH64 of the page's bytes seeded
// with the page id (so equal bytes at different ids hash differently). Pages inside the
// high-water mark that nothing has written are zero pages, as in a file that grew.

import Witchbolt

/// The whole-database checksum, kept incrementally (8 bytes of state per page).
public struct DatabaseChecksum: Sendable {
    /// The page size in bytes.
    public let pageSize: Int
    /// The hash of every page `[0, highWaterMark)`, by page id (0 and 1 are the meta pages).
    private var hashes: [UInt64] = []
    /// The XOR of `hashes[2...]`.
    private var dataPages: UInt64 = 0
    /// Which meta page is active (the one written by the last transaction: txid % 2).
    private var activeMeta = 0
    /// Image bytes of a page not yet complete (``appendImage(_:)``).
    private var partial: [UInt8] = []
    private let zeroPage: [UInt8]

    /// An empty image of pages of `pageSize` bytes.
    public init(pageSize: Int) {
        self.pageSize = pageSize
        self.zeroPage = [UInt8](repeating: 0, count: pageSize)
    }

    /// The hash of one page: XXH64 of its bytes, seeded with its id.
    public static func pageHash(id: UInt64, bytes: some Collection<UInt8>) -> UInt64 {
        XXH64.hash(bytes, seed: id)
    }

    /// The checksum's current value.
    public var value: UInt64 {
        hashes.count > activeMeta ? dataPages ^ hashes[activeMeta] : dataPages
    }

    /// The number of pages in the image.
    public var highWaterMark: UInt64 { UInt64(hashes.count) }

    /// How many page hashes the storage holds without reallocating (tests: growth is geometric).
    var reservedPages: Int { hashes.capacity }

    /// Sets page `id` to `bytes` (one page): XORs the old hash out and the new one in.
    /// Setting a page past the high-water mark grows the image (zero pages in between).
    public mutating func setPage(id: UInt64, bytes: ArraySlice<UInt8>) {
        if id >= highWaterMark { resize(to: id + 1) }
        let hash = Self.pageHash(id: id, bytes: bytes)
        let index = Int(id)
        if index >= 2 { dataPages ^= hashes[index] ^ hash }
        hashes[index] = hash
    }

    /// Makes the meta page of `txID` (page `txID % 2`) the active one, as the engine does.
    public mutating func setActiveMeta(txID: UInt64) {
        activeMeta = Int(txID % 2)
    }

    /// Grows (with zero pages) or shrinks the image to `highWaterMark` pages.
    public mutating func resize(to highWaterMark: UInt64) {
        let target = Int(highWaterMark)
        while hashes.count > target {
            let id = hashes.count - 1
            if id >= 2 { dataPages ^= hashes[id] }
            hashes.removeLast()
        }
        // Grow the storage geometrically: an image fed page by page (`appendImage`, as in every
        // snapshot and restore) resizes once a page, and reserving exactly `target` each time
        // made Array reallocate and copy all the hashes every few hundred pages (quadratic).
        if hashes.capacity < target { hashes.reserveCapacity(Swift.max(target, 2 * hashes.capacity)) }
        while hashes.count < target {
            let id = UInt64(hashes.count)
            let hash = Self.pageHash(id: id, bytes: zeroPage)
            if id >= 2 { dataPages ^= hash }
            hashes.append(hash)
        }
    }

    /// Applies a transaction's frames: resizes to its high-water mark, sets every page of
    /// every frame (overflow frames split into pages), and activates its meta page.
    public mutating func apply(_ record: TransactionRecord) {
        resize(to: record.highWaterMark)
        for frame in record.frames {
            for i in 0...UInt64(frame.overflow) {
                let id = frame.id + i
                let start = Int(i) * pageSize
                guard id < highWaterMark, start + pageSize <= frame.data.count else { continue }
                setPage(id: id, bytes: frame.data[start..<(start + pageSize)])
            }
        }
        setActiveMeta(txID: record.txID)
    }

    /// Feeds the next bytes of a whole image (a snapshot: pages 0, 1, 2... in order, in any
    /// chunking). The caller sets the active meta page afterwards.
    public mutating func appendImage(_ chunk: [UInt8]) {
        var offset = 0
        if !partial.isEmpty {
            let take = min(pageSize - partial.count, chunk.count)
            partial += chunk[0..<take]
            offset = take
            guard partial.count == pageSize else { return }
            setPage(id: highWaterMark, bytes: partial[...])
            partial.removeAll(keepingCapacity: true)
        }
        while offset + pageSize <= chunk.count {
            setPage(id: highWaterMark, bytes: chunk[offset..<(offset + pageSize)])
            offset += pageSize
        }
        partial += chunk[offset...]
    }

    /// Whether ``appendImage(_:)`` has a partial page pending (the image was not page-aligned).
    public var hasPartialPage: Bool { !partial.isEmpty }

    /// The checksum of a whole image held in memory, with the meta page of `txID` active.
    public static func of(image: [UInt8], pageSize: Int, txID: UInt64) -> UInt64 {
        var checksum = DatabaseChecksum(pageSize: pageSize)
        checksum.appendImage(image)
        checksum.setActiveMeta(txID: txID)
        return checksum.value
    }
}
