// Snapshot files: streamed round trips with every codec, refusal of damaged files by name.

import Foundation
import Testing
import WitchboltTestSupport
@testable import WitchboltStream

@Suite("Snapshot files")
struct SnapshotFileTests {
    @Test("a snapshot streams back the same image, high-water mark and checksum")
    func roundTrip() throws {
        var db = SyntheticDatabase(rng: SeededRandom(label: "snapshot roundTrip"), pages: 40)
        for _ in 0..<5 { _ = db.commit() }
        for codec in [CompressionCodec.none, .zstd(level: 3), .zstd(level: 15)] {
            let writer = ChainWriter(client: NoClient(), codec: codec)
            let bytes = try writer.snapshotBytes(db, chunk: 777)
            let reader = try SnapshotReader(bytes: bytes, name: "snap")
            #expect(reader.header == writer.snapshotHeader(db))
            var image: [UInt8] = []
            let trailer = try reader.read { image += $0 }
            #expect(image == db.image)
            #expect(trailer.highWaterMark == db.highWaterMark)
            #expect(trailer.databaseChecksum == db.expectedChecksum)
            // And the same from a file on disk.
            let path = NSTemporaryDirectory() + "snapshot-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: path) }
            #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
            var fromFile: [UInt8] = []
            _ = try SnapshotReader(path: path, name: "snap").read { fromFile += $0 }
            #expect(fromFile == db.image)
        }
    }

    @Test("the writer refuses an image that is not high-water-mark pages, and removes an abandoned file")
    func writerChecks() throws {
        let db = SyntheticDatabase(rng: SeededRandom(label: "snapshot writerChecks"))
        let path = NSTemporaryDirectory() + "snapshot-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try SnapshotWriter(path: path, header: ChainWriter(client: NoClient()).snapshotHeader(db))
        try writer.append(db.image)
        #expect(throws: StreamError.self) { try writer.finish(highWaterMark: db.highWaterMark + 1, databaseChecksum: 0) }
        writer.abandon()
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test("truncated, bit-flipped or foreign snapshots are refused by name, never a crash")
    func damage() throws {
        var db = SyntheticDatabase(rng: SeededRandom(label: "snapshot damage"), pages: 20)
        _ = db.commit()
        let bytes = try ChainWriter(client: NoClient()).snapshotBytes(db)
        let name = "generations/g/snapshots/t.snapshot"
        func refused(_ b: [UInt8], _ what: String) {
            do {
                let reader = try SnapshotReader(bytes: b, name: name)
                _ = try reader.read { _ in }
                Issue.record("accepted \(what)")
            } catch let error as StreamError {
                #expect(error.code == .corruptArtefact, "\(what): \(error)")
                #expect(error.message.hasPrefix(name + ": "), "\(what): \(error)")
            } catch {
                Issue.record("\(what): unexpected \(error)")
            }
        }
        for length in [0, 10, 160, 199, 200, bytes.count / 2, bytes.count - 40, bytes.count - 1] {
            refused(Array(bytes.prefix(length)), "truncated to \(length)")
        }
        refused(bytes + [1, 2, 3], "trailing bytes")
        for bit in stride(from: 0, to: bytes.count * 8, by: 1009) {
            var flipped = bytes
            flipped[bit / 8] ^= UInt8(1 << (bit % 8))
            refused(flipped, "bit \(bit) flipped")
        }
        refused(Array("SQLite format 3\0".utf8) + [UInt8](repeating: 0, count: 300), "a foreign file")
    }
}
