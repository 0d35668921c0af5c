// What the NATS replica promises beyond the conformance suite: a ranged read fetches only the
// chunks that cover the range, a listing reads no object bodies, a missing bucket is a clear
// configuration error, and replica URLs parse (or fail) the documented way.

import Foundation
import Testing
@testable import WitchboltStream

@Suite("NATS replica")
struct NATSReplicaTests {
    private func makeClient(prefix: String = TestEnvironment.uniquePrefix("nats")) throws -> NATSReplicaClient {
        try NATSReplicaClient(config: NATSTestBackend.config(prefix: prefix))
    }

    @Test("a ranged read of a five-chunk object fetches only the chunks covering the range", .enabled(if: TestBackend.nats.isEnabled))
    func rangedReadFetchesCoveringChunks() throws {
        let client = try makeClient()
        defer { try? client.delete(keys: ["five.bin"]); client.close() }
        let chunk = NATSReplicaConfig.defaultChunkSize
        var random = NATSTestRandom("rangedReadFetchesCoveringChunks")
        let bytes = random.bytes(5 * chunk)
        try client.write(key: "five.bin", from: .bytes(bytes))

        // Each case: a range, and how many chunks cover it.
        let cases: [(Range<Int64>, Int)] = [
            (Int64(2 * chunk + 100)..<Int64(3 * chunk + 50), 2),   // the end of chunk 2, the start of chunk 3
            (Int64(4 * chunk + 1)..<Int64(4 * chunk + 10), 1),     // inside the last chunk
            (0..<1, 1),                                            // the first byte
            (Int64(chunk - 1)..<Int64(4 * chunk + 1), 5),          // one byte into each end chunk
            (Int64(5 * chunk - 3)..<Int64(9 * chunk), 1),          // clamped at the end
        ]
        for (range, covering) in cases {
            let before = client.counters
            let got = try client.read(key: "five.bin", range: range)
            let after = client.counters
            let clamped = Int(range.lowerBound)..<min(Int(range.upperBound), bytes.count)
            #expect(got == Array(bytes[clamped]), "range \(range)")
            #expect(after.chunksFetched - before.chunksFetched == covering, "range \(range)")
            #expect(after.objectBodiesRead == before.objectBodiesRead, "range \(range)")
        }

        // A whole read fetches all five.
        let before = client.counters
        #expect(try client.read(key: "five.bin") == bytes)
        #expect(client.counters.chunksFetched - before.chunksFetched == 5)
        #expect(client.counters.objectBodiesRead - before.objectBodiesRead == 1)
    }

    @Test("listing reads meta messages only, never object bodies", .enabled(if: TestBackend.nats.isEnabled))
    func listingReadsNoBodies() throws {
        let client = try makeClient()
        defer { try? client.delete(keys: try client.list(prefix: "").map(\.key)); client.close() }
        for i in 0..<4 {
            try client.write(key: "l/\(i).bin", from: .bytes([UInt8](repeating: UInt8(i), count: 200_000 * i)))
        }
        try client.delete(keys: ["l/2.bin"])
        let before = client.counters
        let listed = try client.list(prefix: "l/")
        let after = client.counters
        #expect(listed == [ObjectInfo(key: "l/0.bin", size: 0), ObjectInfo(key: "l/1.bin", size: 200_000), ObjectInfo(key: "l/3.bin", size: 600_000)])
        #expect(after.chunksFetched == before.chunksFetched)
        #expect(after.objectBodiesRead == before.objectBodiesRead)
        #expect(after.metaMessagesRead > before.metaMessagesRead)
    }

    @Test("a listing is complete while another client overwrites, deletes and purges markers", .enabled(if: TestBackend.nats.isEnabled))
    func listingUnderChurn() throws {
        let client = try makeClient()
        let churner = try makeClient()
        defer { try? client.delete(keys: try client.list(prefix: "").map(\.key)); client.close(); churner.close() }
        let keys = (0..<200).map { String(format: "g/%05d.segment", $0) }
        for key in keys { try client.write(key: key, from: .bytes([1, 2])) }

        let done = NATSTestFlag()
        let churn = Thread {
            var i = 0
            while !done.isSet {
                try? churner.write(key: "x\(i % 20)", from: .bytes([UInt8](repeating: 1, count: 1000 + i)))
                try? churner.delete(keys: ["x\((i + 7) % 20)"])
                if i % 10 == 0 { _ = try? churner.purgeDeleteMarkers(olderThan: .zero) }
                i += 1
            }
            done.note("stopped")
        }
        churn.start()
        defer { done.setOnce() }
        for round in 0..<15 {
            let listed = try client.list(prefix: "g/")
            #expect(listed.map(\.key) == keys, "round \(round): \(listed.count) listed")
        }
    }

    @Test("delete markers of this prefix are purged once old enough; live objects stay", .enabled(if: TestBackend.nats.isEnabled))
    func purgesDeleteMarkers() throws {
        let client = try makeClient()
        defer { try? client.delete(keys: ["keep.bin"]); client.close() }
        try client.write(key: "keep.bin", from: .bytes([1]))
        try client.write(key: "gone.bin", from: .bytes([2]))
        try client.delete(keys: ["gone.bin"])
        #expect(try client.purgeDeleteMarkers(olderThan: .seconds(3600)) == 0)
        #expect(try client.purgeDeleteMarkers(olderThan: .zero) == 1)

        // The marker's meta subject is empty now; the live object is untouched.
        let config = try NATSTestBackend.config(prefix: "")
        let connection = try NATSConnection(settings: NATSConnectionSettings(servers: [config.url]))
        let layout = NATSObjectStoreLayout(bucket: config.bucket)
        #expect(try connection.lastMessage(stream: layout.stream, subject: layout.metaSubject(name: client.objectName("gone.bin")), direct: false) == nil)
        #expect(try client.list(prefix: "") == [ObjectInfo(key: "keep.bin", size: 1)])
        #expect(try client.read(key: "keep.bin") == [1])
        #expect(try client.purgeDeleteMarkers(olderThan: .zero) == 0)
    }

    @Test("a missing bucket is an invalid configuration that says how to create it", .enabled(if: TestBackend.nats.isEnabled))
    func missingBucket() throws {
        let url = try TestEnvironment.require("WITCHBOLT_NATS_URL")
        let client = try NATSReplicaClient(config: NATSReplicaConfig(url: url, bucket: "no-such-bucket-\(UInt32.random(in: 0...UInt32.max))"))
        for operation in [{ _ = try client.list(prefix: "") }, { try client.write(key: "k", from: .bytes([1])) }] {
            do {
                try operation()
                Issue.record("an operation on a missing bucket succeeded")
            } catch let error as StreamError {
                #expect(error.code == .invalidConfiguration, "\(error)")
                #expect(error.message.contains("nats object add no-such-bucket-"), "\(error)")
                #expect(!error.isTransient)
            }
        }
        #expect(client.counters.retries == 0)
    }

    @Test("a replica URL gives servers, bucket, prefix and options")
    func parsesURL() throws {
        let config = try NATSReplicaConfig(url: "nats://127.0.0.1:4222,10.0.0.2:4223/backups/cluster-a/db%201?creds=/etc/n.creds&chunk-size=65536")
        #expect(config.serverURLs == ["nats://127.0.0.1:4222", "nats://10.0.0.2:4223"])
        #expect(config.bucket == "backups")
        #expect(config.prefix == "cluster-a/db 1")
        #expect(config.credentialsFile == "/etc/n.creds")
        #expect(config.chunkSize == 65536)
        #expect(config.description == "nats://127.0.0.1:4222,10.0.0.2:4223/backups/cluster-a/db 1")

        let tokened = try NATSReplicaConfig(url: "tls://nats.example.com:4222/b?token=s3cret&tls-ca=/ca.pem&tls-ca=/ca2.pem")
        #expect(tokened.token == "s3cret")
        #expect(tokened.tlsRootCAFiles == ["/ca.pem", "/ca2.pem"])
        #expect(tokened.serverURLs == ["tls://nats.example.com:4222"])
        #expect(tokened.description == "tls://nats.example.com:4222/b")
        #expect(!tokened.description.contains("s3cret"))
        #expect(tokened.prefix == "")
    }

    @Test("malformed replica URLs are rejected with the reason", arguments: [
        ("s3://host/bucket", "scheme"),
        ("nats://host:4222", "no bucket"),
        ("nats://user:pw@host:4222/b", "credentials in the host part"),
        ("nats://host:4222/b?colour=red", "unknown option colour"),
        ("nats://host:4222/b?creds=", "needs a value"),
        ("nats://host:4222/b?chunk-size=-1", "chunk-size"),
        ("nats:///b", "no host"),
    ])
    func rejectsURL(_ url: String, _ reason: String) {
        do {
            _ = try NATSReplicaConfig(url: url)
            Issue.record("\(url) parsed")
        } catch let error as StreamError {
            #expect(error.code == .invalidConfiguration)
            #expect(error.message.contains(reason), "\(error)")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test("a URL user needs WITCHBOLT_NATS_PASSWORD", .enabled(if: ProcessInfo.processInfo.environment["WITCHBOLT_NATS_PASSWORD"] == nil))
    func userNeedsPassword() {
        #expect(throws: StreamError.self) { try NATSReplicaConfig(url: "nats://h:4222/b?user=alice") }
    }

    @Test("configurations with two kinds of credentials, a bad bucket or a missing file are refused")
    func validatesConfig() {
        var twoKinds = NATSReplicaConfig(bucket: "b")
        twoKinds.token = "t"
        twoKinds.user = "u"
        var badBucket = NATSReplicaConfig(bucket: "a.b")
        badBucket.prefix = "p"
        var missingFile = NATSReplicaConfig(bucket: "b")
        missingFile.credentialsFile = "/nonexistent/witchbolt.creds"
        for config in [twoKinds, badBucket, missingFile] {
            #expect(throws: StreamError.self) { _ = try config.makeClient() }
        }
    }

    @Test("object names encode as base64url with padding and digests parse either way")
    func protocolEncodings() {
        #expect(NATSObjectStoreLayout.encodeName("a") == "YQ==")
        #expect(NATSObjectStoreLayout(bucket: "b").metaSubject(name: "odd/é?>") == "$O.b.M.b2RkL8OpPz4=")
        let digest = "SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU="
        #expect(NATSObjectDigest.bytes(ofField: digest)?.count == 32)
        #expect(NATSObjectDigest.bytes(ofField: String(digest.dropLast())) == NATSObjectDigest.bytes(ofField: digest))
        #expect(NATSObjectDigest.bytes(ofField: "MD5=abc") == nil)
        #expect(NATSNUID.next().count == 22)
    }

    @Test("an NKey seed gives its public key")
    func nkeyPublicKey() throws {
        // The server-side check (a real nats-server accepting the derived key) is in NATSAuthTests.
        let seed = NATSNKey.seed(role: 20 << 3, bytes: [UInt8](repeating: 0, count: 32))
        #expect(seed.hasPrefix("SU"))
        let publicKey = try NATSNKey.publicKey(seed: seed)
        #expect(publicKey.hasPrefix("U") && publicKey.count == 56)
        #expect(throws: StreamError.self) { try NATSNKey.publicKey(seed: "SU" + String(seed.dropFirst(2).reversed())) }
    }
}
