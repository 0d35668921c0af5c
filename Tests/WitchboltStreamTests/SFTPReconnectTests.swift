// Dropped connections, through a loopback proxy that cuts every connection between the client
// and a private sshd: in the middle of an upload, in the middle of a streamed download, and
// while the pooled connection sits idle, and exactly when the reply to the final rename is in
// flight (the object landed, the client never heard). Each time the client must observe the disconnect,
// reconnect, finish the operation, and leave the data intact with no temporary left behind.

import Foundation
import Logging
import Testing
import WitchboltStream

@Suite("SFTP reconnects after a dropped connection", .enabled(if: SFTPTestSupport.enabled))
struct SFTPReconnectTests {
    @Test("a connection cut mid-upload is observed, the client reconnects, and the object lands whole")
    func cutMidUpload() throws {
        let server = try SFTPPrivateServer()
        try server.start()
        let proxy = try SFTPLoopbackProxy(upstreamPort: server.port)
        defer { proxy.stop() }
        let client = try SFTPReplicaClient(config: server.config(viaPort: proxy.port))
        defer { client.close() }

        // Connect first, so that the cut lands inside the upload's byte stream, not the handshake.
        try client.write(key: "warmup.bin", from: .bytes([0]))
        let payload = SFTPTestSupport.randomBytes(6 << 20, label: "cutMidUpload")
        proxy.cut(afterClientBytes: 2 << 20)
        try client.write(key: "generations/g/snapshots/0000000000000001.snapshot", from: .bytes(payload))

        let counters = client.counters
        #expect(proxy.cuts == 1)
        #expect(counters.disconnectsObserved >= 1, "\(counters)")
        #expect(counters.reconnects >= 1, "\(counters)")
        #expect(proxy.accepted >= 2)
        #expect(try client.read(key: "generations/g/snapshots/0000000000000001.snapshot") == payload)
        #expect(try client.list(prefix: "") == [
            ObjectInfo(key: "generations/g/snapshots/0000000000000001.snapshot", size: Int64(payload.count)),
            ObjectInfo(key: "warmup.bin", size: 1),
        ])
        // The interrupted attempt's temporary was removed on the new connection.
        #expect(SFTPTestSupport.filesOnDisk(server.rootPath + "/replica") == ["generations/g/snapshots/0000000000000001.snapshot", "warmup.bin"])
    }

    @Test("a connection cut mid-download is observed; the streamed read resumes and delivers every byte once")
    func cutMidDownload() throws {
        let server = try SFTPPrivateServer()
        try server.start()
        let proxy = try SFTPLoopbackProxy(upstreamPort: server.port)
        defer { proxy.stop() }
        let client = try SFTPReplicaClient(config: server.config(viaPort: proxy.port))
        defer { client.close() }

        let payload = SFTPTestSupport.randomBytes(5 << 20, label: "cutMidDownload")
        try client.write(key: "big.bin", from: .bytes(payload))
        proxy.cut(afterServerBytes: 2 << 20)
        var received: [UInt8] = []
        var chunks = 0
        try client.read(key: "big.bin") { chunk in
            received += chunk
            chunks += 1
        }
        #expect(proxy.cuts == 1)
        #expect(received.count == payload.count)
        #expect(received == payload)
        #expect(chunks > 1)
        let counters = client.counters
        #expect(counters.disconnectsObserved >= 1 && counters.reconnects >= 1, "\(counters)")

        // A ranged read across a cut too.
        proxy.cut(afterServerBytes: 512 << 10)
        #expect(try client.read(key: "big.bin", range: 1_000_000..<3_000_000) == Array(payload[1_000_000..<3_000_000]))
        #expect(proxy.cuts == 2)
        #expect(client.counters.reconnects >= 2, "\(client.counters)")
    }

    @Test("a rename whose reply is lost is retried, finds its own object in place, and counts as written")
    func renameReplyLost() throws {
        let server = try SFTPPrivateServer()
        try server.start()
        let proxy = try SFTPLoopbackProxy(upstreamPort: server.port)
        defer { proxy.stop() }
        let logs = CapturedLogs()
        let client = try SFTPReplicaClient(config: server.config(viaPort: proxy.port), logger: logs.logger())
        defer { client.close() }

        // Measure what the server sends for one write on a warm connection (the same key length
        // and size each time, so the same packets): its last packet is the rename's status.
        try client.write(key: "d/warm.bin", from: .bytes([0]))
        let payload = [UInt8](repeating: 0x5A, count: 1000)
        let before = proxy.bytesFromServer
        try client.write(key: "d/one.bin", from: .bytes(payload))
        let perWrite = proxy.bytesFromServer - before

        // Cut when that last packet arrives: the server renamed, the client never hears of it.
        proxy.cut(afterServerBytes: perWrite - 1)
        try client.write(key: "d/two.bin", from: .bytes(payload))
        #expect(proxy.cuts == 1)
        #expect(logs.messages(at: .debug).contains { $0.contains("d/two.bin already holds the same 1000 bytes") },
                "the retry should have found the first attempt's object: \(logs.messages(at: .debug))")
        #expect(try client.read(key: "d/two.bin") == payload)
        #expect(client.counters.reconnects == 1, "\(client.counters)")
        #expect(SFTPTestSupport.filesOnDisk(server.rootPath + "/replica") == ["d/one.bin", "d/two.bin", "d/warm.bin"])
    }

    @Test("an idle pooled connection that was dropped is replaced on next use")
    func idleConnectionDropped() throws {
        let server = try SFTPPrivateServer()
        try server.start()
        let proxy = try SFTPLoopbackProxy(upstreamPort: server.port)
        defer { proxy.stop() }
        let client = try SFTPReplicaClient(config: server.config(viaPort: proxy.port))
        defer { client.close() }

        try client.write(key: "a.bin", from: .bytes([1, 2, 3]))
        #expect(client.counters.connects == 1)
        proxy.cutAll()
        Thread.sleep(forTimeInterval: 0.1)
        #expect(try client.read(key: "a.bin") == [1, 2, 3])
        let counters = client.counters
        #expect(counters.connects == 2, "\(counters)")
        #expect(counters.disconnectsObserved == 1, "\(counters)")
        #expect(counters.reconnects == 1, "\(counters)")
    }

    @Test("with the server gone for good, an operation fails transiently after its bounded attempts")
    func boundedRetries() throws {
        let server = try SFTPPrivateServer()
        try server.start()
        var config = server.config()
        config.maxAttempts = 3
        let client = try SFTPReplicaClient(config: config)
        defer { client.close() }
        try client.write(key: "a.bin", from: .bytes([1]))
        let before = client.counters.connectAttempts
        server.kill()
        let started = ContinuousClock.now
        let error = SFTPTestSupport.streamError { _ = try client.read(key: "a.bin") }
        let elapsed = ContinuousClock.now - started
        #expect(error?.code == .unavailable, "\(String(describing: error))")
        #expect(error?.isTransient == true)
        #expect(client.counters.connectAttempts - before == 3, "three attempts, each a new connection: \(client.counters)")
        // Backoff 50 ms then 100 ms between the three attempts: bounded, but not a busy loop.
        #expect(elapsed >= .milliseconds(150) && elapsed < .seconds(10), "\(elapsed)")
    }
}
