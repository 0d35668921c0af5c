// Verify finds every planted problem, by key, and calls a sound replica sound.

import Foundation
import Testing
@testable import WitchboltStream

@Suite("Verify")
struct VerifyTests {
    /// A sound replica of two generations, the first with two snapshots.
    static func soundReplica(_ label: String) throws -> SyntheticReplica {
        var replica = try SyntheticReplica(label)
        try replica.snapshot()
        try replica.segment(3)
        try replica.segment(2)
        try replica.snapshot()
        try replica.segment(4)
        return replica
    }

    @Test("a sound replica verifies clean, with every record replayed")
    func sound() throws {
        let replica = try Self.soundReplica("verify sound")
        defer { replica.cleanUp() }
        var second = replica
        second.writer.generation = .new(nowMillis: 1_800_000_000_000)
        try second.snapshot()
        try second.segment(2)
        let report = try ReplicaVerifier.verify(replica.client)
        #expect(report.problems == [], "\(report.problems)")
        #expect(report.recordsChecked == 11)
        #expect(report.generations.count == 2)
        #expect(report.generations.map(\.lastTxID).contains(10))
    }

    @Test("each planted problem is reported naming its artefact")
    func planted() throws {
        func check(_ label: String, naming: (SyntheticReplica) -> String, _ plant: (inout SyntheticReplica) throws -> Void) throws {
            var replica = try Self.soundReplica(label)
            defer { replica.cleanUp() }
            try plant(&replica)
            let report = try ReplicaVerifier.verify(replica.client)
            let key = naming(replica)
            #expect(!report.isSound, "\(label)")
            #expect(report.problems.contains { $0.message.contains(key) }, "\(label): \(report.problems)")
            print("\(label): \(report.problems)")
        }
        try check("verify bit flip", naming: { $0.segmentKeys[1] }) { r in
            var bytes = try r.client.read(key: r.segmentKeys[1])
            bytes[bytes.count - 20] ^= 4
            try r.client.write(key: r.segmentKeys[1], from: .bytes(bytes))
        }
        try check("verify truncated", naming: { $0.segmentKeys[2] }) { r in
            let bytes = try r.client.read(key: r.segmentKeys[2])
            try r.client.write(key: r.segmentKeys[2], from: .bytes(Array(bytes.prefix(bytes.count - 3))))
        }
        try check("verify gap", naming: { $0.segmentKeys[1] }) { r in
            try r.client.delete(keys: [r.segmentKeys[0]])
        }
        try check("verify snapshot", naming: { ArtefactKey.snapshot($0.writer.generation, txID: 1) }) { r in
            let key = ArtefactKey.snapshot(r.writer.generation, txID: 1)
            var bytes = try r.client.read(key: key)
            bytes[170] ^= 1
            try r.client.write(key: key, from: .bytes(bytes))
        }
        try check("verify foreign", naming: { _ in "notes/backup.tar" }) { r in
            try r.client.write(key: "notes/backup.tar", from: .bytes([1, 2, 3]))
        }
        try check("verify database id", naming: { $0.segmentKeys.last! }) { r in
            r.writer.databaseID = "someone-else"
            try r.segment(2)
        }
        try check("verify checksum", naming: { $0.segmentKeys.last! }) { r in
            var records = [r.db.commit(), r.db.commit()]
            records[0].databaseChecksum &+= 1
            r.segmentKeys.append(try r.writer.putSegment(records))
        }
        try check("verify no snapshot", naming: { $0.writer.generation.rawValue }) { r in
            r.writer.generation = .new(nowMillis: 1_900_000_000_000)
            try r.segment(1)
        }
    }
}

@Suite("Verify commit times")
struct VerifyTimeTests {
    @Test("a commit time going backwards across segments is reported")
    func backwards() throws {
        var replica = try SyntheticReplica("verify time")
        defer { replica.cleanUp() }
        try replica.snapshot()
        try replica.segment(2)
        replica.db.timeMillis -= 60_000
        try replica.segment(2)
        let report = try ReplicaVerifier.verify(replica.client)
        #expect(report.problems.count == 1)
        #expect(report.problems.first?.message.contains(replica.segmentKeys[1]) == true, "\(report.problems)")
        #expect(report.problems.first?.message.contains("goes back") == true)
    }
}
