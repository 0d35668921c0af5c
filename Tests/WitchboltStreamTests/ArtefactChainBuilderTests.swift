// Synthetic databases and artefact chains for the artefact, restore and verify tests: a
// "database" of random pages whose commits rewrite random pages, grow the file, and end with
// a meta page, exactly the shape of what the engine's observer delivers, so restore and
// verify can be tested before (and independently of) the engine.

import Foundation
import Testing
import Witchbolt
import WitchboltTestSupport
@testable import WitchboltStream

/// A database image of random pages, and the records of its commits.
struct SyntheticDatabase {
    let pageSize: Int
    var image: [UInt8]
    var txID: UInt64
    var timeMillis: Int64
    var checksum: DatabaseChecksum
    var rng: SeededRandom

    init(rng: SeededRandom, pageSize: Int = 512, pages: Int = 8, txID: UInt64 = 1, timeMillis: Int64 = 1_700_000_000_000) {
        self.pageSize = pageSize
        self.rng = rng
        self.txID = txID
        self.timeMillis = timeMillis
        self.image = []
        for _ in 0..<(pages * pageSize) { image.append(UInt8.random(in: 0...255, using: &self.rng)) }
        self.checksum = DatabaseChecksum(pageSize: pageSize)
        checksum.appendImage(image)
        checksum.setActiveMeta(txID: txID)
    }

    var highWaterMark: UInt64 { UInt64(image.count / pageSize) }

    func page(_ id: UInt64) -> [UInt8] { Array(image[(Int(id) * pageSize)..<(Int(id + 1) * pageSize)]) }

    /// Commits a transaction: rewrites a few pages, sometimes grows the file (with an overflow
    /// frame), writes the meta page last; returns the record.
    mutating func commit(timeStep: Int64 = 1000) -> TransactionRecord {
        txID += 1
        timeMillis += timeStep
        var frames: [PageFrame] = []
        let rewrites = Int.random(in: 1...4, using: &rng)
        var touched = Set<UInt64>()
        for _ in 0..<rewrites {
            let id = UInt64.random(in: 2..<highWaterMark, using: &rng)
            guard touched.insert(id).inserted else { continue }
            frames.append(PageFrame(id: id, overflow: 0, data: randomBytes(pageSize)))
        }
        if Bool.random(using: &rng) {
            let overflow = UInt32.random(in: 0...2, using: &rng)
            let id = highWaterMark
            image += [UInt8](repeating: 0, count: (Int(overflow) + 1) * pageSize)
            frames.append(PageFrame(id: id, overflow: overflow, data: randomBytes((Int(overflow) + 1) * pageSize)))
        }
        var meta = randomBytes(pageSize)
        withUnsafeBytes(of: txID.littleEndian) { meta.replaceSubrange(0..<8, with: $0) }
        frames.append(PageFrame(id: txID % 2, overflow: 0, data: meta))
        for frame in frames {
            let start = Int(frame.id) * pageSize
            image.replaceSubrange(start..<(start + frame.data.count), with: frame.data)
        }
        var record = TransactionRecord(
            txID: txID, parentTxID: txID - 1, timestampMillis: timeMillis, pageSize: UInt32(pageSize),
            highWaterMark: highWaterMark, frames: frames, databaseChecksum: 0)
        checksum.apply(record)
        record.databaseChecksum = checksum.value
        return record
    }

    mutating func randomBytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    /// The image with the checksum's own definition: the active meta page of `txID`.
    var expectedChecksum: UInt64 { DatabaseChecksum.of(image: image, pageSize: pageSize, txID: txID) }
}

/// Writes artefacts of one generation to a replica client.
struct ChainWriter {
    let client: any ReplicaClient
    var databaseID = "7d1c2a9e-0000-4000-8000-00000000000a"
    var generation: Generation
    var codec: CompressionCodec = .default

    init(client: any ReplicaClient, generation: Generation = .new(nowMillis: 1_700_000_000_000), codec: CompressionCodec = .default) {
        self.client = client
        self.generation = generation
        self.codec = codec
    }

    func snapshotHeader(_ db: SyntheticDatabase) -> ArtefactHeader {
        ArtefactHeader(
            kind: .snapshot, databaseID: databaseID, generation: generation, minTxID: db.txID, maxTxID: db.txID,
            pageSize: UInt32(db.pageSize), firstTimestampMillis: db.timeMillis, lastTimestampMillis: db.timeMillis, codec: codec)
    }

    /// The bytes of a snapshot of `db` as it is now.
    func snapshotBytes(_ db: SyntheticDatabase, chunk: Int = 1000) throws -> [UInt8] {
        let path = NSTemporaryDirectory() + "synthetic-\(UUID().uuidString).snapshot"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try SnapshotWriter(path: path, header: snapshotHeader(db))
        var offset = 0
        while offset < db.image.count {
            try writer.append(Array(db.image[offset..<min(db.image.count, offset + chunk)]))
            offset += chunk
        }
        try writer.finish(highWaterMark: db.highWaterMark, databaseChecksum: db.checksum.value)
        return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    @discardableResult
    func putSnapshot(_ db: SyntheticDatabase) throws -> String {
        let key = ArtefactKey.snapshot(generation, txID: db.txID)
        try client.write(key: key, from: .bytes(try snapshotBytes(db)))
        return key
    }

    func segmentHeader(_ records: [TransactionRecord]) -> ArtefactHeader {
        ArtefactHeader(
            kind: .segment, databaseID: databaseID, generation: generation, minTxID: records.first!.txID,
            maxTxID: records.last!.txID, pageSize: records.first!.pageSize,
            firstTimestampMillis: records.first!.timestampMillis, lastTimestampMillis: records.last!.timestampMillis, codec: codec)
    }

    func segmentBytes(_ records: [TransactionRecord]) throws -> [UInt8] {
        try SegmentFile.encode(header: segmentHeader(records), records: records)
    }

    @discardableResult
    func putSegment(_ records: [TransactionRecord]) throws -> String {
        let key = ArtefactKey.segment(generation, minTxID: records.first!.txID, maxTxID: records.last!.txID)
        try client.write(key: key, from: .bytes(try segmentBytes(records)))
        return key
    }
}

@Suite("Artefact chain builder")
struct ArtefactChainBuilderTests {
    @Test("the synthetic database's incremental checksum equals a recomputation over its image")
    func syntheticChecksum() {
        var db = SyntheticDatabase(rng: SeededRandom(label: "syntheticChecksum"))
        for _ in 0..<40 {
            let record = db.commit()
            #expect(record.databaseChecksum == db.expectedChecksum)
            #expect(record.highWaterMark == db.highWaterMark)
        }
    }
}
