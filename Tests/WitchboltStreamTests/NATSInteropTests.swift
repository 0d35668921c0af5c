// The NATS replica speaks the JetStream object store protocol exactly as other clients do:
// nats-py (through scripts/nats_interop.py) lists, reads and digest-checks what we put, and
// we read, byte for byte, the multi-chunk objects nats-py puts; deletes are seen both ways;
// the bucket nats-py creates is the one our client binds to.

import Crypto
import Foundation
import Testing
@testable import WitchboltStream

@Suite("NATS replica interop with nats-py", .enabled(if: TestBackend.nats.isEnabled))
struct NATSInteropTests {
    // Each test has a private server and a bucket nats-py creates: nats-py's listing waits for
    // the server's pending count to reach zero, which the shared bucket's churn can delay.
    let server: NATSPrivateServer
    let url: String
    let bucket = "interop"
    let prefix = TestEnvironment.uniquePrefix("interop")

    init() throws {
        server = try NATSPrivateServer()
        url = server.url
        try NATSInterop.run(["create", url, bucket])
    }

    @Test("an object we put is listed, read and digest-verified by nats-py")
    func natsPyReadsOurObject() throws {
        let client = try NATSReplicaClient(config: NATSReplicaConfig(url: url, bucket: bucket, prefix: prefix))
        defer { try? client.delete(keys: ["gen/ours.bin"]); client.close() }
        var random = NATSTestRandom("natsPyReadsOurObject")
        let bytes = random.bytes(3 * 128 * 1024 + 4321)
        try client.write(key: "gen/ours.bin", from: .bytes(bytes))

        // nats-py lists it with our size and chunk count.
        let listed = try NATSInterop.run(["list", url, bucket, prefix + "/"])["objects"] as? [[String: Any]] ?? []
        #expect(listed.count == 1)
        #expect(listed.first?["name"] as? String == prefix + "/gen/ours.bin")
        #expect(listed.first?["size"] as? Int == bytes.count)
        #expect(listed.first?["chunks"] as? Int == 4)

        // nats-py reads it (its get checks the digest) and the bytes are ours.
        let file = NSTemporaryDirectory() + "nats-interop-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: file) }
        let got = try NATSInterop.run(["get", url, bucket, prefix + "/gen/ours.bin", file])
        #expect(got["digest"] as? String == got["computed_digest"] as? String)
        #expect(got["digest"] as? String == NATSObjectDigest.field(SHA256.hash(data: bytes)))
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: file))) == bytes)

        // Our delete is a delete for nats-py too.
        try client.delete(keys: ["gen/ours.bin"])
        let afterDelete = try NATSInterop.run(["list", url, bucket, prefix + "/"])["objects"] as? [[String: Any]] ?? []
        #expect(afterDelete.isEmpty)
    }

    @Test("an object nats-py puts in many chunks is read by us, whole, ranged and listed")
    func weReadNatsPyObject() throws {
        let client = try NATSReplicaClient(config: NATSReplicaConfig(url: url, bucket: bucket, prefix: prefix))
        defer { client.close() }
        var random = NATSTestRandom("weReadNatsPyObject")
        let bytes = random.bytes(5 * 128 * 1024 + 999)
        let file = NSTemporaryDirectory() + "nats-interop-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let put = try NATSInterop.run(["put", url, bucket, prefix + "/snapshots/theirs.bin", file])
        #expect(put["chunks"] as? Int == 6)

        #expect(try client.read(key: "snapshots/theirs.bin") == bytes)
        #expect(try client.read(key: "snapshots/theirs.bin", range: 200_000..<500_000) == Array(bytes[200_000..<500_000]))
        #expect(try client.list(prefix: "snapshots/") == [ObjectInfo(key: "snapshots/theirs.bin", size: Int64(bytes.count))])

        // A nats-py delete is a delete for us.
        try NATSInterop.run(["delete", url, bucket, prefix + "/snapshots/theirs.bin"])
        #expect(try client.list(prefix: "snapshots/").isEmpty)
        do {
            _ = try client.read(key: "snapshots/theirs.bin")
            Issue.record("read of an object nats-py deleted succeeded")
        } catch let error as StreamError {
            #expect(error.code == .notFound, "\(error)")
        }
    }

    @Test("an overwrite by us replaces a nats-py object and purges its chunks")
    func overwriteAcrossClients() throws {
        let client = try NATSReplicaClient(config: NATSReplicaConfig(url: url, bucket: bucket, prefix: prefix))
        defer { try? client.delete(keys: ["state.bin"]); client.close() }
        let file = NSTemporaryDirectory() + "nats-interop-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try Data(repeating: 7, count: 300_000).write(to: URL(fileURLWithPath: file))
        let put = try NATSInterop.run(["put", url, bucket, prefix + "/state.bin", file])
        let oldNUID = try #require(put["nuid"] as? String)

        try client.write(key: "state.bin", from: .bytes([1, 2, 3]))
        #expect(try client.read(key: "state.bin") == [1, 2, 3])
        let got = try NATSInterop.run(["get", url, bucket, prefix + "/state.bin", file])
        #expect(got["size"] as? Int == 3)

        // The old instance's chunk subject is empty now.
        let store = try NATSConnection(settings: NATSConnectionSettings(servers: [url]))
        let old = try store.lastMessage(stream: "OBJ_\(bucket)", subject: "$O.\(bucket).C.\(oldNUID)", direct: false)
        #expect(old == nil)
    }

    @Test("a bucket without direct gets (as older clients made them) works through the stream API")
    func bucketWithoutDirectGets() throws {
        let plainBucket = "nodirect-\(UInt32.random(in: 0...UInt32.max))"
        try NATSInterop.run(["create-nodirect", url, plainBucket])
        defer { _ = try? NATSInterop.run(["drop", url, plainBucket]) }
        let connection = try NATSConnection(settings: NATSConnectionSettings(servers: [url]))
        #expect(try connection.streamInfo("OBJ_\(plainBucket)").allowsDirectGet == false)
        let client = try NATSReplicaClient(config: NATSReplicaConfig(url: url, bucket: plainBucket, prefix: "p"))
        defer { client.close() }
        var random = NATSTestRandom("bucketWithoutDirectGets")
        let bytes = random.bytes(3 * 128 * 1024 + 10)
        try client.write(key: "a.bin", from: .bytes(bytes))
        try client.write(key: "b.bin", from: .bytes([1, 2, 3]))
        #expect(try client.read(key: "a.bin") == bytes)
        #expect(try client.read(key: "b.bin") == [1, 2, 3])
        #expect(try client.read(key: "a.bin", range: 130_000..<270_000) == Array(bytes[130_000..<270_000]))
        #expect(try client.list(prefix: "") == [ObjectInfo(key: "a.bin", size: Int64(bytes.count)), ObjectInfo(key: "b.bin", size: 3)])
        try client.delete(keys: ["a.bin"])
        #expect(try client.list(prefix: "").map(\.key) == ["b.bin"])

        // nats-py reads what we wrote there too.
        let file = NSTemporaryDirectory() + "nats-interop-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: file) }
        let got = try NATSInterop.run(["get", url, plainBucket, "p/b.bin", file])
        #expect(got["bytes"] as? Int == 3)
    }
}
