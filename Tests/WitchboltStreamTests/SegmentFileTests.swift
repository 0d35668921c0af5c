// Segment files: round trips, and every kind of damage ends in a corrupt-artefact error that
// names the file, never a crash.

import Testing
import WitchboltTestSupport
import Witchbolt
@testable import WitchboltStream

@Suite("Segment files")
struct SegmentFileTests {
    static func chain(_ label: String, count: Int = 5) -> (ChainWriter, [TransactionRecord]) {
        var db = SyntheticDatabase(rng: SeededRandom(label: label))
        let records = (0..<count).map { _ in db.commit() }
        return (ChainWriter(client: NoClient()), records)
    }

    @Test("a segment round-trips with every codec")
    func roundTrip() throws {
        let (writer, records) = Self.chain("segment roundTrip")
        for codec in [CompressionCodec.none, .zstd(level: 1), .zstd(level: 3), .zstd(level: 12)] {
            var w = writer
            w.codec = codec
            let bytes = try w.segmentBytes(records)
            let (header, decoded) = try SegmentFile.decode(bytes, name: "s")
            #expect(header == w.segmentHeader(records))
            #expect(decoded == records)
            #expect(try SegmentFile.decodeHeader(Array(bytes.prefix(160)), name: "s") == header)
            // Checked whole, then handed out one record at a time: the same records.
            let checked = try SegmentFile.Checked(bytes, name: "s")
            #expect(checked.header == header)
            var oneByOne: [TransactionRecord] = []
            try checked.forEachRecord { oneByOne.append($0); return true }
            #expect(oneByOne == records)
            var first: [TransactionRecord] = []
            try checked.forEachRecord { first.append($0); return false }
            #expect(first == [records[0]])
        }
    }

    @Test("a checked segment refuses a damaged record or a broken chain before it hands out any record")
    func checkedRefusesBeforeApplying() throws {
        let (writer, records) = Self.chain("segment checked", count: 4)
        let header = writer.segmentHeader(records)
        let codec = BodyCodec(codec: writer.codec)
        func segment(_ payloadRecords: [TransactionRecord], flipping offset: Int? = nil) throws -> [UInt8] {
            var payload = ByteWriter()
            for record in payloadRecords { try record.encode(into: &payload) }
            var body = payload.bytes
            if let offset { body[offset] ^= 0x40 }
            var bytes: [UInt8] = []
            // The envelope and the file checksum are right: only the records are wrong.
            try SegmentFile.encode(header: header, payload: body, links: records.map(\.link), codec: codec, into: &bytes)
            return bytes
        }
        func refused(_ bytes: [UInt8], saying words: String) {
            do {
                let checked = try SegmentFile.Checked(bytes, name: "seg")
                try checked.forEachRecord { _ in Issue.record("a record was handed out"); return true }
                Issue.record("accepted a segment that should say \(words)")
            } catch let error as StreamError {
                #expect(error.code == .corruptArtefact)
                #expect(error.message.hasPrefix("seg: ") && error.message.contains(words), "\(error)")
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
        // A flipped byte in the last record's frames: its own checksum fails.
        let whole = try segment(records)
        #expect(try SegmentFile.Checked(whole, name: "seg").header == header)
        let lastStart = records.dropLast().reduce(0) { $0 + $1.encodedSize }
        refused(try segment(records, flipping: lastStart + records[3].encodedSize - 20), saying: "record checksum mismatch")
        // A record whose txids moved on by five: a valid record that breaks the chain.
        var moved = records
        moved[2].txID += 5
        moved[2].parentTxID += 5
        refused(try segment(moved), saying: "the chain is broken")
    }

    @Test("every truncation and sampled bit flip is a corrupt-artefact error naming the file")
    func damage() throws {
        let (writer, records) = Self.chain("segment damage", count: 3)
        let bytes = try writer.segmentBytes(records)
        let name = "generations/g/segments/a-b.segment"
        func refused(_ b: [UInt8], _ what: String) {
            do {
                _ = try SegmentFile.decode(b, name: name)
                Issue.record("accepted \(what)")
            } catch let error as StreamError {
                #expect(error.code == .corruptArtefact, "\(what): \(error)")
                #expect(error.message.hasPrefix(name + ": "), "\(what): \(error)")
            } catch {
                Issue.record("\(what): unexpected \(error)")
            }
        }
        for length in [0, 1, 100, 159, 160, 170, bytes.count / 2, bytes.count - 9, bytes.count - 1] {
            refused(Array(bytes.prefix(length)), "truncated to \(length)")
        }
        refused(bytes + [0], "an extra byte")
        for bit in stride(from: 0, to: bytes.count * 8, by: 997) {
            var flipped = bytes
            flipped[bit / 8] ^= UInt8(1 << (bit % 8))
            refused(flipped, "bit \(bit) flipped")
        }
    }

    @Test("records that break the chain, the header, or the page geometry cannot be encoded")
    func badChains() throws {
        let (writer, records) = Self.chain("segment badChains", count: 4)
        // Reordered: a gap and a step back.
        #expect(throws: StreamError.self) { try writer.segmentBytes([records[0], records[2], records[1], records[3]]) }
        // A missing record in the middle.
        #expect(throws: StreamError.self) { try writer.segmentBytes([records[0], records[1], records[3]]) }
        // A cycle: a txid that does not follow its parent.
        var cycle = records
        cycle[2].parentTxID = cycle[2].txID
        #expect(throws: StreamError.self) { try writer.segmentBytes(cycle) }
        // A frame past the high-water mark.
        var past = records
        past[1].frames[0].id = past[1].highWaterMark
        #expect(throws: StreamError.self) { try writer.segmentBytes(past) }
        // A frame whose size is not (overflow + 1) pages.
        var short = records
        short[0].frames[0].data.removeLast()
        #expect(throws: StreamError.self) { try writer.segmentBytes(short) }
        // A header that does not span the records.
        var header = writer.segmentHeader(records)
        header.maxTxID += 1
        #expect(throws: StreamError.self) { try SegmentFile.encode(header: header, records: records) }
        #expect(throws: StreamError.self) { try SegmentFile.encode(header: header, records: []) }
    }

    @Test("a snapshot file is not a segment, and vice versa")
    func kindMismatch() throws {
        var db = SyntheticDatabase(rng: SeededRandom(label: "segment kindMismatch"))
        let writer = ChainWriter(client: NoClient())
        let snapshot = try writer.snapshotBytes(db)
        #expect(throws: StreamError.self) { try SegmentFile.decode(snapshot, name: "x") }
        let segment = try writer.segmentBytes([db.commit()])
        #expect(throws: StreamError.self) { try SnapshotReader(bytes: segment, name: "y") }
    }
}

/// A client for tests that only build bytes.
final class NoClient: ReplicaClient {
    var description: String { "none" }
    var kind: String { "none" }
    func write(key: String, from source: ObjectSource) throws { throw StreamError(.io, "no client") }
    func read(key: String) throws -> [UInt8] { throw StreamError(.notFound, key) }
    func read(key: String, range: Range<Int64>) throws -> [UInt8] { throw StreamError(.notFound, key) }
    func list(prefix: String) throws -> [ObjectInfo] { [] }
    func delete(keys: [String]) throws {}
}
