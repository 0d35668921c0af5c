// Licensed under the Apache License, Version 2.0.
//
// Snapshots: a consistent copy of the database from a read transaction, streamed through
// `SnapshotWriter` (compression, checksum) to a temporary file in the shadow directory, then
// renamed into place. Memory does not depend on the database's size: the copy flows through
// in chunks, and only one page is buffered to feed the whole-database checksum.
//
// The checksum of a snapshot is the checksum of the image exactly as it was copied. While the
// copy runs, writers keep committing, and a page that was free at the snapshot's txid may be
// reused and rewritten before the copy reads it: the image then differs from the source on
// that free page, until the commit that rewrote it is replayed on top. So the controller
// restarts its running checksum from the snapshot's image, and every record after the
// snapshot carries the checksum of "this snapshot + the records since" — exactly what a
// restore from that snapshot computes.
//
// The engine is reached through `SnapshotSource`, a small protocol, so the pipeline is tested
// with a synthetic database as well as with the real one.

import Foundation
import Witchbolt

/// A read transaction's consistent view of the database.
protocol SnapshotReadTransaction {
    var txID: UInt64 { get }
    var highWaterMark: UInt64 { get }
    var pageSize: Int { get }
    /// Streams pages `[0, highWaterMark)` as the transaction sees them.
    func write(to sink: ([UInt8]) throws -> Void) throws
}

/// Where snapshots come from: the database, or a test's synthetic one.
protocol SnapshotSource: Sendable {
    func withReadTransaction<R>(_ body: (any SnapshotReadTransaction) throws -> R) throws -> R
}

/// The real database as a snapshot source: `db.view { tx in try tx.write(to:) }`.
struct DatabaseSnapshotSource: SnapshotSource {
    let db: DB
    /// The size of the chunks the copy is streamed in.
    var chunkSize = 1 << 20

    private struct ReadTx: SnapshotReadTransaction {
        let tx: Tx
        let chunkSize: Int
        var txID: UInt64 { tx.id }
        var highWaterMark: UInt64 { tx.highWaterMark }
        var pageSize: Int { tx.pageSize }
        func write(to sink: ([UInt8]) throws -> Void) throws { _ = try tx.write(chunkSize: chunkSize, to: sink) }
    }

    func withReadTransaction<R>(_ body: (any SnapshotReadTransaction) throws -> R) throws -> R {
        try db.view { tx in try body(ReadTx(tx: tx, chunkSize: chunkSize)) }
    }
}

/// What a snapshot run produced.
struct SnapshotOutcome: Sendable {
    /// The read transaction's txid.
    var txID: UInt64
    var highWaterMark: UInt64
    var pageSize: Int
    /// The whole-database checksum of the image as copied.
    var checksum: DatabaseChecksum
    /// The sealed snapshot.
    var artefact: ShadowArtefact?
}

/// Takes snapshots into the shadow directory.
struct Snapshotter {
    let shadow: ShadowLog
    let databaseID: String
    let codec: CompressionCodec

    /// Writes a snapshot of `generation`; `timestamp` gives its commit time from its txid.
    func run(source: any SnapshotSource, generation: Generation, timestamp: (UInt64) -> Int64) throws -> SnapshotOutcome {
        try source.withReadTransaction { tx in
            let txID = tx.txID
            let pageSize = tx.pageSize
            let hwm = tx.highWaterMark
            var hasher = ImageHasher(pageSize: pageSize, txID: txID)

            // Stream the image through the compressor to a temporary file, hashing its pages.
            let millis = timestamp(txID)
            let header = ArtefactHeader(
                kind: .snapshot, formatVersion: 1, databaseID: databaseID, generation: generation,
                minTxID: txID, maxTxID: txID, pageSize: UInt32(pageSize),
                firstTimestampMillis: millis, lastTimestampMillis: millis, codec: codec)
            let artefact = ShadowArtefact(
                kind: .snapshot, generation: generation, minTxID: txID, maxTxID: txID, size: 0,
                firstTimestampMillis: millis, lastTimestampMillis: millis)
            let finalPath = shadow.path(of: artefact)
            try ShadowFileIO.makeDirectory(ShadowFileIO.directory(of: finalPath))
            let temp = ShadowFileIO.temporaryPath(for: finalPath)
            do {
                let writer = try SnapshotWriter(path: temp, header: header)
                try tx.write { chunk in
                    hasher.feed(chunk)
                    try writer.append(chunk)
                }
                try writer.finish(highWaterMark: hwm, databaseChecksum: hasher.checksum.value)

                // Read the file back before it counts: a snapshot that does not verify is never shipped.
                let reader = try SnapshotReader(path: temp, name: artefact.key)
                let trailer = try reader.read(into: { _ in })
                guard trailer.highWaterMark == hwm, trailer.databaseChecksum == hasher.checksum.value else {
                    throw StreamError(.corruptArtefact, "\(temp): snapshot read back with high-water mark \(trailer.highWaterMark) and checksum \(trailer.databaseChecksum), written \(hwm) and \(hasher.checksum.value)")
                }
                try ShadowFileIO.rename(temp, to: finalPath)
            } catch {
                ShadowFileIO.remove(temp)
                throw error
            }
            var sealed = artefact
            sealed.size = ShadowFileIO.size(of: finalPath) ?? 0
            return SnapshotOutcome(txID: txID, highWaterMark: hwm, pageSize: pageSize, checksum: hasher.checksum, artefact: sealed)
        }
    }
}

/// Decides, when the controller starts, whether the generation in the shadow state goes on:
/// only if the database is exactly where the shadow log left it, at the last sealed txid or
/// at the last record of the open segment's log, with the whole-database checksum recorded
/// there. The checksum is rebuilt by reading the database once. This runs before the
/// controller's observer is registered, so a commit during the read cannot be missed: it
/// shows up as a gap and starts a new generation.
func resumePlan(source: any SnapshotSource, previous: ShadowState?, openLog: [TransactionRecord], justRestored: Bool) -> ResumePlan {
    if justRestored { return .newGeneration(reason: "the database was just restored") }
    guard let previous, let generation = Generation(rawValue: previous.generation) else {
        return .newGeneration(reason: "no shadow state")
    }
    let tail = openLog
    let lastTxID = tail.last?.txID ?? previous.lastTxID
    let expectedChecksum = tail.last?.databaseChecksum ?? previous.databaseChecksum
    do {
        return try source.withReadTransaction { tx in
            guard tx.txID == lastTxID else {
                return .newGeneration(reason: "the database's txid \(tx.txID) does not follow the last shadowed txid \(lastTxID)")
            }
            var hasher = ImageHasher(pageSize: tx.pageSize, txID: tx.txID)
            try tx.write { chunk in hasher.feed(chunk) }
            if let expectedChecksum, hasher.checksum.value != expectedChecksum {
                return .newGeneration(reason: "the database's content at txid \(tx.txID) differs from what the shadow log recorded")
            }
            return .resume(
                generation: generation, lastTxID: lastTxID,
                lastTimestampMillis: tail.last?.timestampMillis ?? previous.lastTimestampMillis,
                pageSize: tx.pageSize, checksum: hasher.checksum, unsealed: tail)
        }
    } catch {
        return .newGeneration(reason: "the database could not be read to resume generation \(generation): \(error)")
    }
}

/// Feeds a streamed image to the whole-database checksum (the active meta page, the one of
/// the read transaction's txid, and pages `[2, highWaterMark)`).
struct ImageHasher {
    private var running: DatabaseChecksum
    private let txID: UInt64

    init(pageSize: Int, txID: UInt64) {
        self.running = DatabaseChecksum(pageSize: pageSize)
        self.txID = txID
    }

    mutating func feed(_ chunk: [UInt8]) { running.appendImage(chunk) }

    /// The checksum of the image fed so far, with the read transaction's meta page active.
    var checksum: DatabaseChecksum {
        var result = running
        result.setActiveMeta(txID: txID)
        return result
    }
}
