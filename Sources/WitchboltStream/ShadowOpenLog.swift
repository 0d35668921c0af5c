// Licensed under the Apache License, Version 2.0.
//
// The open segment's durable log: `SHADOW/open.log`. Every record the writer appends to the
// open segment (with its whole-database checksum) is appended here too. When the records
// are made durable is the configuration's `shadowLogSync` policy (ShadowLogSync.swift): by
// default only when the stream stops, never per batch of commits. When the segment is sealed
// (or the generation ends), the log is emptied. When a generation ends, the truncation is
// synced, so that its records cannot come back after a power loss; after a seal it is synced
// with the log's next sync (the records it drops are all covered by `state.json`).
//
// After a crash, the records in the log that follow the last sealed txid of `state.json` are
// the unsealed tail of the chain. If the database is exactly at the last of them (same txid,
// same whole-database checksum), the generation goes on and they are sealed first; a torn
// last entry (a crash mid-append) fails its checksum and ends the log there.
//
// Entry: page size (u32), then the record in its segment encoding (which ends with its own
// XXH64), so entries are self-checking.

import Foundation

/// The open segment's log in the shadow directory.
final class ShadowOpenLog {
    let path: String
    private let file: AppendFile
    private var pendingSync = false
    /// Called after every fdatasync of the log (tests count them).
    private let didSync: (@Sendable () -> Void)?

    /// Opens the log at `path`, keeping what it holds; `didSync` is called after each fdatasync.
    init(path: String, didSync: (@Sendable () -> Void)? = nil) throws {
        self.path = path
        self.file = try AppendFile(path: path, truncate: false)
        self.didSync = didSync
    }

    /// Appends a record (made durable by the next `sync`).
    func append(_ record: TransactionRecord) throws {
        var w = ByteWriter(capacity: record.encodedSize)
        try record.encode(into: &w)
        try append(encoded: w.bytes[...], pageSize: record.pageSize)
    }

    /// Appends a record already in its segment encoding (the open segment's bytes), without
    /// copying it: the page size, then the record, in one `writev`.
    func append(encoded record: ArraySlice<UInt8>, pageSize: UInt32) throws {
        try file.append(prefix: withUnsafeBytes(of: pageSize.littleEndian) { Array($0) }, record)
        pendingSync = true
    }

    /// Makes the appended records durable.
    func sync() throws {
        guard pendingSync else { return }
        try file.sync()
        pendingSync = false
        didSync?()
    }

    /// Empties the log: its records are sealed, or belong to a generation that ended. Once
    /// per seal or rotation, never per commit.
    ///
    /// - Parameter durable: sync the truncation now. A generation that ended must not come
    ///   back after a power loss, so a rotation syncs. After a seal it need not: every record
    ///   the log held is at most the sealed txid that `state.json` durably records, and the
    ///   restart reads only the records after that txid, so the next `sync` (the next batch
    ///   with `.everyBatch`, or the stop) makes the truncation durable with what follows it.
    func reset(durable: Bool = true) throws {
        try file.truncate()
        if durable {
            try file.sync()
            pendingSync = false
            didSync?()
        } else {
            pendingSync = true
        }
    }

    /// The valid records of the log at `path`, in order, up to the first damaged entry.
    static func read(path: String) -> [TransactionRecord] {
        guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else { return [] }
        let bytes = [UInt8](data)
        var reader = ByteReader(bytes[...], name: path)
        var records: [TransactionRecord] = []
        while reader.remaining > 0 {
            guard let pageSize = try? reader.u32("page size"),
                  let record = try? TransactionRecord.decode(from: &reader, pageSize: pageSize)
            else { break }
            records.append(record)
        }
        return records
    }

    /// The unsealed tail after `lastTxID`: consecutive records starting at `lastTxID + 1`.
    static func tail(path: String, after lastTxID: UInt64) -> [TransactionRecord] {
        var expected = lastTxID &+ 1
        var tail: [TransactionRecord] = []
        for record in read(path: path) where record.txID >= expected {
            guard record.txID == expected, record.parentTxID == expected &- 1 else { break }
            tail.append(record)
            expected &+= 1
        }
        return tail
    }
}
