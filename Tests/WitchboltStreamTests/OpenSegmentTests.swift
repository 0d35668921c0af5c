// The open segment, the sealer and the body codec as the writer uses them: records encoded
// once on arrival seal into files that decode to exactly those records; the buffers they
// keep between seals never leak one segment's bytes into the next; a writer that falls
// behind still seals at the size limit.

import Clocks
import Foundation
import Synchronization
import Testing
import Witchbolt
@testable import WitchboltStream

extension SegmentSealer {
    /// Seals `records` through an open segment, as the writer does.
    func seal(generation: Generation, pageSize: Int, records: [TransactionRecord]) throws -> ShadowArtefact {
        var segment = OpenSegment(keptCapacity: 1 << 20)
        for record in records { try segment.append(record) }
        return try seal(generation: generation, pageSize: pageSize, segment: segment)
    }
}

@Suite("Open segment and sealing")
struct OpenSegmentTests {
    /// `count` consecutive records of random frames (some grown, some with overflow), from txid 2.
    static func records(_ label: String, count: Int, pageSize: Int = 512) -> [TransactionRecord] {
        let seed = ControllerRandom.seed(label)
        let db = PageModelDatabase(pageSize: pageSize, seed: seed, clock: StreamClock(TestClock<Duration>(), wallMillisAtStart: 1_700_000_000_000))
        return (0..<count).map { i in TransactionRecord(db.commit(), databaseChecksum: UInt64(i) &* 0x9E37_79B9) }
    }

    @Test("records appended to the open segment and its log seal into a file that decodes to exactly them")
    func sealedSegmentDecodesToRecords() throws {
        let dir = temporaryDirectory("open-segment")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let shadow = ShadowLog(root: dir)
        try shadow.prepare()
        let records = Self.records("sealedSegmentDecodesToRecords", count: 12)
        let log = try ShadowOpenLog(path: dir + "/open.log")
        var segment = OpenSegment(keptCapacity: 1 << 20)
        for record in records {
            let range = try segment.append(record)
            try log.append(encoded: segment.payload[range], pageSize: record.pageSize)
        }
        #expect(segment.count == records.count)
        #expect(segment.byteCount == records.reduce(0) { $0 + $1.encodedSize })
        #expect(ShadowOpenLog.read(path: dir + "/open.log") == records)

        let sealer = SegmentSealer(shadow: shadow, databaseID: "db", codec: .zstd(level: 1), keptCapacity: 1 << 20)
        let generation = Generation.new(nowMillis: 1_000, random: 3)
        let artefact = try sealer.seal(generation: generation, pageSize: 512, segment: segment)
        #expect(artefact.minTxID == records.first?.txID && artefact.maxTxID == records.last?.txID)
        let bytes = try ShadowFileIO.read(shadow.path(of: artefact))
        #expect(Int64(bytes.count) == artefact.size)
        let (header, decoded) = try SegmentFile.decode(bytes, name: artefact.key)
        #expect(decoded == records)
        #expect(header.generation == generation)
        // The envelope (what the uploader checks) agrees with the full decode.
        let envelope = try SegmentFile.envelope(bytes, name: artefact.key)
        #expect(envelope.header == header)
        #expect(envelope.recordCount == UInt64(records.count))
        #expect(envelope.payloadSize == UInt64(segment.byteCount))
    }

    @Test("a record that cannot be encoded leaves the open segment as it was")
    func failedAppendLeavesSegment() throws {
        let records = Self.records("failedAppendLeavesSegment", count: 3)
        var segment = OpenSegment(keptCapacity: 1 << 20)
        try segment.append(records[0])
        let before = segment.payload
        var bad = records[1]
        bad.frames[0].id = bad.highWaterMark
        #expect(throws: StreamError.self) { try segment.append(bad) }
        var short = records[1]
        short.frames[0].data.removeLast()
        #expect(throws: StreamError.self) { try segment.append(short) }
        #expect(segment.payload == before)
        #expect(segment.count == 1)
        try segment.append(records[1])
        try segment.append(records[2])
        #expect(segment.links == records.map(\.link))
    }

    @Test("the open segment keeps its buffer up to its bound and gives back a larger one")
    func bufferKeptWithinBound() throws {
        let records = Self.records("bufferKeptWithinBound", count: 6)
        var kept = OpenSegment(keptCapacity: 1 << 20)
        var small = OpenSegment(keptCapacity: 1024)
        for record in records {
            try kept.append(record)
            try small.append(record)
        }
        kept.removeAll()
        small.removeAll()
        #expect(kept.isEmpty && small.isEmpty && kept.first == nil)
        #expect(kept.payload.capacity >= records.reduce(0) { $0 + $1.encodedSize })
        #expect(small.payload.capacity < 1024)
        // Refilled, the kept buffer holds only the new records.
        try kept.append(records[5])
        var expected = ByteWriter()
        try records[5].encode(into: &expected)
        #expect(kept.payload == expected.bytes)
    }

    @Test("one sealer seals segments of growing and shrinking sizes, each reading back exactly")
    func sealerReusesBuffers() throws {
        let dir = temporaryDirectory("sealer-reuse")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let shadow = ShadowLog(root: dir)
        try shadow.prepare()
        // A small bound, so that the larger segments also take the path that gives buffers back.
        let sealer = SegmentSealer(shadow: shadow, databaseID: "db", codec: .zstd(level: 3), keptCapacity: 16 << 10)
        let generation = Generation.new(nowMillis: 1_000, random: 4)
        let records = Self.records("sealerReusesBuffers", count: 60)
        var next = 0
        for size in [1, 12, 3, 20, 1, 15, 8] {
            let part = Array(records[next..<(next + size)])
            next += size
            let artefact = try sealer.seal(generation: generation, pageSize: 512, records: part)
            let (_, decoded) = try SegmentFile.decode(try ShadowFileIO.read(shadow.path(of: artefact)), name: artefact.key)
            #expect(decoded == part, "segment of \(size) records")
        }
    }

    @Test("one body codec decompresses bodies of any size and ratio into a reused buffer, or checks them a window at a time")
    func bodyCodecReusesBuffer() throws {
        var random = ControllerRandom(seed: ControllerRandom.seed("bodyCodecReusesBuffer"))
        let noise = (0..<300_000).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        let zeros = [UInt8](repeating: 0, count: 2_000_000)
        let text = Array(String(repeating: "page frames of a B+tree, ", count: 20_000).utf8)
        for codec in [CompressionCodec.zstd(level: 1), .zstd(level: 5), .none] {
            let body = BodyCodec(codec: codec)
            var out: [UInt8] = []
            for input in [zeros, noise, [UInt8](), text, Array(zeros.prefix(10)), noise] {
                var packed: [UInt8] = []
                try body.compress(input[...], appendingTo: &packed)
                try body.decompress(packed[...], expectedCount: UInt64(input.count), name: "b", into: &out)
                #expect(out == input, "\(codec), \(input.count) bytes")
                // The windowed check agrees, and sees a changed, missing or extra byte.
                #expect(try body.decompresses(packed[...], to: input[...], name: "b"))
                if !input.isEmpty {
                    var changed = input
                    changed[changed.count / 2] ^= 0x40
                    #expect(try !body.decompresses(packed[...], to: changed[...], name: "b"))
                    #expect(try !body.decompresses(packed[...], to: input.dropLast(), name: "b"))
                }
                #expect(try !body.decompresses(packed[...], to: (input + [1])[...], name: "b"))
            }
            // Two frames back to back are one body; announcing one byte less or more is refused.
            var two: [UInt8] = []
            try body.compress(text[...], appendingTo: &two)
            try body.compress(noise[...], appendingTo: &two)
            try body.decompress(two[...], expectedCount: UInt64(text.count + noise.count), name: "two", into: &out)
            #expect(out == text + noise)
            for wrong in [text.count + noise.count - 1, text.count + noise.count + 1] {
                #expect(throws: StreamError.self) {
                    try body.decompress(two[...], expectedCount: UInt64(wrong), name: "two", into: &out)
                }
            }
        }
    }

    @Test("a writer that falls behind still seals at the size limit, and the chain replays")
    func longDrainSealsAtLimit() throws {
        var bed = ControllerBed("ctl-long-drain", pageSize: 512, seed: ControllerRandom.seed("longDrainSealsAtLimit"))
        defer { bed.cleanUp() }
        let (db, replica) = (bed.db, bed.replica)
        bed.config.segmentSizeLimit = 4096
        // The writer is held while the test queues a burst: it then drains it in one go.
        let gate = WriterGate()
        let controller = try bed.start(hooks: gate.hooks)
        #expect(controller.flush(timeout: .seconds(30)))
        gate.close()
        let burst = (0..<60).map { _ in TransactionRecord(db.commit(), databaseChecksum: 0) }
        gate.reopen()
        #expect(controller.flush(timeout: .seconds(30)))
        #expect(controller.status().generationsStarted == 1)
        controller.stop()

        let largest = burst.map(\.encodedSize).max() ?? 0
        let segments = try replica.list(prefix: "generations/").filter { $0.key.hasSuffix(".segment") }
        #expect(segments.count >= 60 * burst[0].encodedSize / (4096 + largest))
        for object in segments {
            let envelope = try SegmentFile.envelope(try replica.read(key: object.key), name: object.key)
            #expect(envelope.payloadSize < UInt64(4096 + largest), "\(object.key) holds \(envelope.payloadSize) bytes")
        }
        try expectNewestReplay(of: replica, equals: db)
    }
}
