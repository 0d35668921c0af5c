// Restore of a real database: a snapshot streamed with `Tx.write(to:)`, frames captured by a
// page-flush observer packed into segments, restored (with the engine's consistency check)
// to the latest txid and to every intermediate txid, and compared by export with the source.

import Foundation
import Testing
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

@Suite("Restore of a real database")
struct RestoreEngineTests {
    @Test("a database restored from snapshot plus observed frames exports exactly as the source, at every txid")
    func realDatabase() throws {
        var rng = SeededRandom.forTest("restore real database")
        let dir = NSTemporaryDirectory() + "restore-engine-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let observer = CapturingObserver()
        var dbOptions = DB.Options()
        dbOptions.pageFlushObservers = [PageFlushObserverRegistration(observer: observer)]
        let db = try DB.open(path: dir + "/source.db", options: dbOptions)
        defer { try? db.close() }

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
        let replicaDir = dir + "/replica"
        let client = try FileReplicaClient(root: replicaDir)
        let generation = Generation.new(nowMillis: 1_700_000_000_000)
        let databaseID = UUID().uuidString.lowercased()
        var checksum = DatabaseChecksum(pageSize: db.pageSize)
        let snapshotPath = dir + "/snapshot"
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
        var exports: [UInt64: String] = [snapshotTxID: try db.view { try $0.exportString() }]
        for _ in 0..<12 {
            try randomWrites(1)
            try db.view { tx in exports[tx.id] = try tx.exportString() }
        }
        let records = observer.captured.filter { $0.txID > snapshotTxID }.map { info -> TransactionRecord in
            var record = TransactionRecord(info, databaseChecksum: 0)
            checksum.apply(record)
            record.databaseChecksum = checksum.value
            return record
        }
        #expect(records.count == 12)
        var writer = ChainWriter(client: client, generation: generation)
        writer.databaseID = databaseID
        for start in stride(from: 0, to: records.count, by: 4) {
            try writer.putSegment(Array(records[start..<min(records.count, start + 4)]))
        }

        // Restore the latest state and every txid in between; each exports as the source did.
        for target in [nil] + Array(exports.keys.sorted()) {
            let output = dir + "/restored-\(target.map(String.init) ?? "latest").db"
            var options = RestoreOptions(outputPath: output)
            options.targetTxID = target
            let result = try #require(try Restorer.restore(from: [client], options: options))
            #expect(result.txID == (target ?? records.last!.txID))
            var readOnly = DB.Options()
            readOnly.readOnly = true
            let restored = try DB.open(path: output, options: readOnly)
            defer { try? restored.close() }
            let export = try restored.view { tx in
                #expect(tx.id == result.txID)
                #expect(tx.check().isEmpty)
                return try tx.exportString()
            }
            #expect(export == exports[result.txID], "txid \(result.txID)")
        }
        // The source's own file has the checksum the chain recorded at its last txid.
        let source = try LocalFile.openForReading(dir + "/source.db")
        let onDisk = try RestoreExecution.checksum(of: source, pageSize: db.pageSize, pages: records.last!.highWaterMark, txID: records.last!.txID)
        #expect(onDisk == records.last!.databaseChecksum)
    }
}
