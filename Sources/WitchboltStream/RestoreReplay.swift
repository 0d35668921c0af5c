// Licensed under the Apache License, Version 2.0.
//
// The rules of replaying a chain, shared by restore (which also writes the pages) and verify
// (which only keeps the checksum): a segment must belong to the database and generation of
// its snapshot, share its page size, and continue the txid chain exactly; records at or
// before the current txid are skipped; every page is inside the high-water mark; growth is
// bounded; and the whole-database checksum after every record equals the recorded one.

import Witchbolt

/// The state of a chain being replayed: position, geometry and whole-database checksum.
struct ChainReplay {
    let databaseID: String
    let generation: Generation
    let pageSize: Int
    let maxDatabaseBytes: UInt64
    /// The last txid applied.
    private(set) var txID: UInt64
    /// The commit time of the last txid applied (the snapshot's header time at first).
    private(set) var timestampMillis: Int64
    private(set) var checksum: DatabaseChecksum

    /// The largest growth (in pages) a record may make without frames writing those pages.
    static let maxUnwrittenGrowth: UInt64 = 65536

    /// Starts from a snapshot whose image was fed to `checksum` (and whose trailer was checked).
    init(snapshot header: ArtefactHeader, checksum: DatabaseChecksum, maxDatabaseBytes: UInt64) {
        self.databaseID = header.databaseID
        self.generation = header.generation
        self.pageSize = Int(header.pageSize)
        self.maxDatabaseBytes = maxDatabaseBytes
        self.txID = header.maxTxID
        self.timestampMillis = header.lastTimestampMillis
        self.checksum = checksum
    }

    var highWaterMark: UInt64 { checksum.highWaterMark }

    /// Checks that a segment's header belongs to this chain.
    func checkSegment(_ header: ArtefactHeader, key: String) throws {
        guard header.databaseID == databaseID else {
            throw StreamError(.corruptArtefact, "\(key): belongs to database \(header.databaseID), the snapshot to \(databaseID)")
        }
        guard header.generation == generation else {
            throw StreamError(.corruptArtefact, "\(key): belongs to generation \(header.generation), not \(generation)")
        }
        guard Int(header.pageSize) == pageSize else {
            throw StreamError(.corruptArtefact, "\(key): page size \(header.pageSize) differs from the snapshot's \(pageSize)")
        }
    }

    /// Whether `record` is already applied (at or before the current txid): it is skipped.
    func isBehind(_ record: TransactionRecord) -> Bool { record.txID <= txID }

    /// Checks `record` continues the chain and fits the geometry; call before writing it.
    func check(_ record: TransactionRecord, key: String) throws {
        guard record.parentTxID == txID else {
            throw StreamError(.corruptArtefact, "\(key): txid \(record.txID) follows txid \(record.parentTxID), but the chain is at txid \(txID) (gap or reorder)")
        }
        guard record.highWaterMark >= 2 else {
            throw StreamError(.corruptArtefact, "\(key): txid \(record.txID): high-water mark \(record.highWaterMark) is below 2")
        }
        let (bytes, overflow) = record.highWaterMark.multipliedReportingOverflow(by: UInt64(pageSize))
        guard !overflow, bytes <= maxDatabaseBytes else {
            throw StreamError(.corruptArtefact, "\(key): txid \(record.txID): high-water mark \(record.highWaterMark) makes a database larger than \(maxDatabaseBytes) bytes")
        }
        if record.highWaterMark > highWaterMark {
            var written = 0 as UInt64
            for frame in record.frames {
                let end = frame.id + UInt64(frame.overflow) + 1
                if end > highWaterMark { written += end - max(frame.id, highWaterMark) }
            }
            let growth = record.highWaterMark - highWaterMark
            guard growth <= written + Self.maxUnwrittenGrowth else {
                throw StreamError(.corruptArtefact, "\(key): txid \(record.txID): grows the database by \(growth) pages but writes only \(written) of them")
            }
        }
        for frame in record.frames where frame.id + UInt64(frame.overflow) >= record.highWaterMark {
            throw StreamError(.corruptArtefact, "\(key): txid \(record.txID): page \(frame.id) is past the high-water mark \(record.highWaterMark)")
        }
    }

    /// Applies `record` to the checksum and compares it with the recorded value.
    mutating func apply(_ record: TransactionRecord, key: String) throws {
        checksum.apply(record)
        guard checksum.value == record.databaseChecksum else {
            throw StreamError(.checksumMismatch, "\(key): txid \(record.txID): whole-database checksum \(hex(checksum.value, digits: 16)) after replay differs from the recorded \(hex(record.databaseChecksum, digits: 16))")
        }
        txID = record.txID
        timestampMillis = record.timestampMillis
    }
}
