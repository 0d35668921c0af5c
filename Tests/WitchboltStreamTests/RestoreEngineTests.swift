// Restore of a real database: a snapshot streamed with `Tx.write(to:)`, frames captured by a
// page-flush observer packed into segments, restored (with the engine's consistency check)
// to the latest txid and to every intermediate txid, and compared by export with the source.

import Foundation
import Testing
import WitchboltTestSupport
import Witchbolt
@testable import WitchboltStream

/// Keeps every flush it sees.
final class CapturingObserver: PageFlushObserver, @unchecked Sendable {
    // @unchecked Sendable because `infos` is only touched under `lock`.
    private let lock = NSLock()
    private var infos: [PageFlushInfo] = []
    func didFlush(_ info: PageFlushInfo) throws { lock.lock(); infos.append(info); lock.unlock() }
    var captured: [PageFlushInfo] { lock.lock(); defer { lock.unlock() }; return infos }
}

/// A real database with a replica: a snapshot streamed with `Tx.write(to:)` after some
/// commits, then commits captured by an observer, shipped as segments of up to 4 records.
struct RealReplica {
    let directory: String
    let client: FileReplicaClient
    /// The export after every txid from the snapshot on.
    var exports: [UInt64: String] = [:]
    var records: [TransactionRecord] = []
    var pageSize = 0

    init(_ label: String, commitsAfterSnapshot: Int = 12) throws {
        var rng = SeededRandom(label: label)
        directory = NSTemporaryDirectory() + "restore-engine-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let observer = CapturingObserver()
        var dbOptions = DB.Options()
        dbOptions.pageFlushObservers = [PageFlushObserverRegistration(observer: observer)]
        let db = try DB.open(path: directory + "/source.db", options: dbOptions)
        defer { try? db.close() }
        pageSize = db.pageSize

        func randomWrites(_ count: Int) throws {
            for _ in 0..<count {
                try db.update { tx in
                    let bucket = try tx.createBucketIfNotExists(Array("b\(Int.random(in: 0..<3, using: &rng))".utf8))
                    for _ in 0..<Int.random(in: 1...40, using: &rng) {
                        let key = Array("k\(Int.random(in: 0..<500, using: &rng))".utf8)
                        if Int.random(in: 0..<5, using: &rng) == 0 {
                            try bucket.delete(key)
                        } else {
                            let size = Int.random(in: 0..<10, using: &rng) == 0 ? 9000 : Int.random(in: 1...200, using: &rng)
                            try bucket.put(key, (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) })
                        }
                    }
                }
            }
        }
        try randomWrites(10)

        // The snapshot, streamed from a read transaction, with its checksum.
        client = try FileReplicaClient(root: directory + "/replica")
        let generation = Generation.new(nowMillis: 1_700_000_000_000)
        let databaseID = UUID().uuidString.lowercased()
        var checksum = DatabaseChecksum(pageSize: db.pageSize)
        let snapshotPath = directory + "/snapshot"
        let snapshotTxID: UInt64 = try db.view { tx in
            let time = observer.captured.last!.timestampMillis
            let writer = try SnapshotWriter(path: snapshotPath, header: ArtefactHeader(
                kind: .snapshot, databaseID: databaseID, generation: generation, minTxID: tx.id, maxTxID: tx.id,
                pageSize: UInt32(tx.pageSize), firstTimestampMillis: time, lastTimestampMillis: time, codec: .default))
            try tx.write { chunk in
                try writer.append(chunk)
                checksum.appendImage(chunk)
            }
            checksum.setActiveMeta(txID: tx.id)
            try writer.finish(highWaterMark: tx.highWaterMark, databaseChecksum: checksum.value)
            return tx.id
        }
        try client.write(key: ArtefactKey.snapshot(generation, txID: snapshotTxID), from: .file(path: snapshotPath))

        // Later commits, with the export after each, shipped as segments of up to 4 records.
        exports[snapshotTxID] = try db.view { try $0.exportString() }
        for _ in 0..<commitsAfterSnapshot {
            try randomWrites(1)
            try db.view { tx in exports[tx.id] = try tx.exportString() }
        }
        records = observer.captured.filter { $0.txID > snapshotTxID }.map { info -> TransactionRecord in
            var record = TransactionRecord(info, databaseChecksum: 0)
            checksum.apply(record)
            record.databaseChecksum = checksum.value
            return record
        }
        var writer = ChainWriter(client: client, generation: generation)
        writer.databaseID = databaseID
        for start in stride(from: 0, to: records.count, by: 4) {
            try writer.putSegment(Array(records[start..<min(records.count, start + 4)]))
        }
    }

    /// The export of the database at `path`, opened read-only, after checking it.
    static func export(of path: String) throws -> (txID: UInt64, export: String, problems: [String]) {
        var readOnly = DB.Options()
        readOnly.readOnly = true
        let restored = try DB.open(path: path, options: readOnly)
        defer { try? restored.close() }
        return try restored.view { tx in (tx.id, try tx.exportString(), tx.check()) }
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: directory) }
}

@Suite("Restore of a real database")
struct RestoreEngineTests {
    @Test("a database restored from snapshot plus observed frames exports exactly as the source, at every txid")
    func realDatabase() throws {
        let replica = try RealReplica("restore real database")
        defer { replica.cleanUp() }
        #expect(replica.records.count == 12)
        // Restore the latest state and every txid in between; each exports as the source did.
        for target in [nil] + Array(replica.exports.keys.sorted()) {
            let output = replica.directory + "/restored-\(target.map(String.init) ?? "latest").db"
            var options = RestoreOptions(outputPath: output)
            options.targetTxID = target
            let result = try #require(try Restorer.restore(from: [replica.client], options: options))
            #expect(result.txID == (target ?? replica.records.last!.txID))
            let restored = try RealReplica.export(of: output)
            #expect(restored.txID == result.txID)
            #expect(restored.problems.isEmpty)
            #expect(restored.export == replica.exports[result.txID], "txid \(result.txID)")
        }
        // The source's own file has the checksum the chain recorded at its last txid.
        let source = try LocalFile.openForReading(replica.directory + "/source.db")
        let last = replica.records.last!
        let onDisk = try RestoreExecution.checksum(of: source, pageSize: replica.pageSize, pages: last.highWaterMark, txID: last.txID)
        #expect(onDisk == last.databaseChecksum)
        // And verify calls the replica sound.
        #expect(try ReplicaVerifier.verify(replica.client).problems == [])
    }
}
