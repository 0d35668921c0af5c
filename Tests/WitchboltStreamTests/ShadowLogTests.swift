// The shadow directory's own files: state and replica positions survive a restart, the
// database id is stable, sealed artefacts list in shipping order, a sealed segment reads back.

import Foundation
import Testing
import Witchbolt
@testable import WitchboltStream

@Suite("Stream shadow log")
struct ShadowLogTests {
    @Test("state, replica positions and the database id survive a restart")
    func persistentFiles() throws {
        let dir = temporaryDirectory("shadowlog")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = ShadowLog(root: dir)
        try log.prepare()
        let id = try log.databaseID()
        #expect(try ShadowLog(root: dir + "/").databaseID() == id)
        #expect(log.loadState() == nil)
        let state = ShadowState(generation: Generation.new(nowMillis: 5).rawValue, lastTxID: 42, lastTimestampMillis: 1234, pageSize: 4096, databaseChecksum: 99)
        try log.saveState(state)
        #expect(log.loadState() == state)
        let cursor = ReplicaCursor(replica: "file:///x", position: ShipPosition(generation: state.generation, order: 43, rank: 1), lastTxID: 50)
        try log.saveCursor(cursor, replica: 3)
        #expect(log.loadCursor(replica: 3) == cursor)
        #expect(log.loadCursor(replica: 4) == nil)
    }

    @Test("sealed artefacts list in shipping order: by generation, a snapshot just before the segment that follows it")
    func shippingOrder() throws {
        let dir = temporaryDirectory("shadowlog-order")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = ShadowLog(root: dir)
        try log.prepare()
        let sealer = SegmentSealer(shadow: log, databaseID: "db", codec: .zstd(level: 1), keptCapacity: 1 << 20)
        let g1 = Generation.new(nowMillis: 1_000, random: 1)
        let g2 = Generation.new(nowMillis: 2_000, random: 1)
        func records(_ range: ClosedRange<UInt64>) -> [TransactionRecord] {
            range.map { TransactionRecord(txID: $0, parentTxID: $0 - 1, timestampMillis: Int64($0), pageSize: 512, highWaterMark: 4,
                                          frames: [PageFrame(id: $0 % 2, overflow: 0, data: [UInt8](repeating: UInt8($0), count: 512))], databaseChecksum: $0) }
        }
        let a = try sealer.seal(generation: g1, pageSize: 512, records: records(5...9))
        let b = try sealer.seal(generation: g1, pageSize: 512, records: records(10...12))
        let c = try sealer.seal(generation: g2, pageSize: 512, records: records(21...22))
        // A snapshot of g1 at txid 9 goes between the segments ending at 9 and starting at 10.
        let snapshot = ShadowArtefact(kind: .snapshot, generation: g1, minTxID: 9, maxTxID: 9, size: 0, firstTimestampMillis: 9, lastTimestampMillis: 9)
        let path = log.path(of: snapshot)
        try FileManager.default.createDirectory(atPath: ShadowFileIO.directory(of: path), withIntermediateDirectories: true)
        let writer = try SnapshotWriter(path: path, header: ArtefactHeader(kind: .snapshot, databaseID: "db", generation: g1, minTxID: 9, maxTxID: 9, pageSize: 512, firstTimestampMillis: 9, lastTimestampMillis: 9, codec: .none))
        try writer.append([UInt8](repeating: 0, count: 4 * 512))
        try writer.finish(highWaterMark: 4, databaseChecksum: DatabaseChecksum.of(image: [UInt8](repeating: 0, count: 4 * 512), pageSize: 512, txID: 9))
        let listed = log.listArtefacts()
        #expect(listed.map(\.key) == [a.key, snapshot.key, b.key, c.key])
        #expect(listed[0].firstTimestampMillis == 5 && listed[0].lastTimestampMillis == 9)
        #expect(listed.map(\.position) == listed.map(\.position).sorted())
    }

    @Test("an unreadable artefact is reported, not listed")
    func corruptArtefactReported() throws {
        let dir = temporaryDirectory("shadowlog-corrupt")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = ShadowLog(root: dir)
        try log.prepare()
        let g = Generation.new(nowMillis: 1_000, random: 7)
        let key = ArtefactKey.segment(g, minTxID: 2, maxTxID: 3)
        try FileManager.default.createDirectory(atPath: ShadowFileIO.directory(of: log.path(ofKey: key)), withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: log.path(ofKey: key), contents: Data([1, 2, 3]))
        var reported: [String] = []
        #expect(log.listArtefacts { path, _ in reported.append(path) }.isEmpty)
        #expect(reported == [log.path(ofKey: key)])
    }
}
