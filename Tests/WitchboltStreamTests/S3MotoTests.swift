// The S3 replica against moto_server with SigV4 enforced: unlike SeaweedFS, moto checks the
// payload hash we send, so this proves our requests are signed the way AWS expects (write,
// read, range, list, delete), and that a wrong secret is refused at once, without retries.
// Server: WITCHBOLT_MOTO_ENDPOINT, WITCHBOLT_MOTO_BUCKET (exists), WITCHBOLT_MOTO_ACCESS_KEY_ID,
// WITCHBOLT_MOTO_SECRET_ACCESS_KEY.

import Foundation
import Testing
import WitchboltStream

@Suite("S3 replica against moto_server with enforced auth", .enabled(if: S3MotoServer.isEnabled))
struct S3MotoTests {
    @Test("write, read, range read, list and delete are accepted by a server that checks signatures")
    func roundTrip() throws {
        // moto verifies the canonical query string decoded, so it refuses a `prefix` holding
        // `%2F`, which AWS requires (see docs/replicas/S3.md). Here the replica sits at the
        // bucket's root and the listed prefix has no `/`; keys with `/` in the path are fine.
        var config = try S3MotoServer.makeConfig()
        config.prefix = ""
        let client = try S3ReplicaClient(config: config)
        defer { client.close() }
        let tag = TestEnvironment.uniquePrefix("moto")
        let bytes = (0..<(200 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }
        try client.write(key: "\(tag)-g/snapshots/0000000000000001.snapshot", from: .bytes(bytes))
        try client.write(key: "\(tag)-g/segments/a.segment", from: .bytes([1, 2, 3]))
        try client.write(key: "\(tag)-g/segments/empty.segment", from: .bytes([]))

        #expect(try client.read(key: "\(tag)-g/snapshots/0000000000000001.snapshot") == bytes)
        #expect(try client.read(key: "\(tag)-g/snapshots/0000000000000001.snapshot", range: 100..<300) == Array(bytes[100..<300]))
        #expect(try client.read(key: "\(tag)-g/segments/empty.segment") == [])
        var streamed: [UInt8] = []
        try client.read(key: "\(tag)-g/snapshots/0000000000000001.snapshot") { streamed += $0 }
        #expect(streamed == bytes)
        let listed = try client.list(prefix: tag)
        #expect(listed.map(\.key) == [
            "\(tag)-g/segments/a.segment", "\(tag)-g/segments/empty.segment",
            "\(tag)-g/snapshots/0000000000000001.snapshot",
        ])
        #expect(listed.map(\.size) == [3, 0, Int64(bytes.count)])

        try client.delete(keys: listed.map(\.key) + ["\(tag)-g/never-written"])
        #expect(try client.list(prefix: tag).isEmpty)
        do {
            _ = try client.read(key: "\(tag)-g/segments/a.segment")
            Issue.record("a deleted object was read")
        } catch let error as StreamError {
            #expect(error.code == .notFound, "\(error)")
        }
    }

    @Test("a wrong secret is accessDenied with S3's error code, after exactly one attempt")
    func wrongSecret() throws {
        var config = try S3MotoServer.makeConfig()
        config.secretAccessKey = "not-the-secret-0123456789"
        let client = try #require(try config.makeClient() as? S3ReplicaClient)
        defer { client.close() }
        do {
            try client.write(key: "x.bin", from: .bytes([1]))
            Issue.record("a write with a wrong secret succeeded")
        } catch let error as StreamError {
            #expect(error.code == .accessDenied, "\(error)")
            #expect(error.isTransient == false)
            #expect(error.message.contains("SignatureDoesNotMatch"), "\(error.message)")
            #expect(error.message.contains(config.bucket), "\(error.message)")
            #expect(!error.message.contains("not-the-secret"), "the secret leaked into \(error.message)")
        }
        #expect(client.counts.totalAttempts == 1)
        #expect(client.counts.retries == 0)
    }
}

/// The moto_server of the test environment.
enum S3MotoServer {
    static var isEnabled: Bool { TestEnvironment.value("WITCHBOLT_MOTO_ENDPOINT") != nil || TestEnvironment.isCI }

    static func makeConfig() throws -> S3ReplicaConfig {
        var config = S3ReplicaConfig(
            bucket: try TestEnvironment.require("WITCHBOLT_MOTO_BUCKET"),
            prefix: TestEnvironment.uniquePrefix("moto"),
            endpoint: try TestEnvironment.require("WITCHBOLT_MOTO_ENDPOINT"),
            region: "us-east-1")
        config.addressing = .pathStyle
        config.accessKeyID = try TestEnvironment.require("WITCHBOLT_MOTO_ACCESS_KEY_ID")
        config.secretAccessKey = try TestEnvironment.require("WITCHBOLT_MOTO_SECRET_ACCESS_KEY")
        return config
    }

    static func makeClient() throws -> S3ReplicaClient {
        try S3ReplicaClient(config: try makeConfig())
    }
}
