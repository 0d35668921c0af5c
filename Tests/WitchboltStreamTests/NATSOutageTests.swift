// The NATS replica against servers of its own that refuse it or die: wrong credentials
// (token, user/password, NKey) are `.accessDenied` at once, never retried; a server killed in
// the middle of a large put and restarted a moment later costs a retry, not the object, and
// no reader ever lists half an object.

import Foundation
import Testing
@testable import WitchboltStream

@Suite("NATS replica outages and authentication", .enabled(if: TestBackend.nats.isEnabled))
struct NATSOutageTests {
    /// Expects `operation` to fail with `.accessDenied`, without a retry.
    private func expectAccessDenied(_ config: NATSReplicaConfig, _ label: String) throws {
        let client = try NATSReplicaClient(config: config)
        let started = ContinuousClock.now
        do {
            _ = try client.list(prefix: "")
            Issue.record("\(label): listing succeeded")
        } catch let error as StreamError {
            #expect(error.code == .accessDenied, "\(label): \(error)")
            #expect(!error.isTransient, "\(label)")
        }
        #expect(client.counters.retries == 0, "\(label)")
        #expect(ContinuousClock.now - started < .seconds(3), "\(label)")
    }

    /// Expects the server to accept the login: the bucket is missing, so the error is that.
    private func expectAuthenticated(_ config: NATSReplicaConfig, _ label: String) throws {
        let client = try NATSReplicaClient(config: config)
        do {
            _ = try client.list(prefix: "")
            Issue.record("\(label): listing a missing bucket succeeded")
        } catch let error as StreamError {
            #expect(error.code == .invalidConfiguration, "\(label): \(error)")
        }
    }

    @Test("a wrong token is access denied, not retried; the right one gets in")
    func wrongToken() throws {
        let server = try NATSPrivateServer(extraArguments: ["--auth", "right-token"])
        var config = NATSReplicaConfig(url: server.url, bucket: "missing")
        config.token = "wrong-token"
        try expectAccessDenied(config, "wrong token")
        config.token = nil
        try expectAccessDenied(config, "no token")
        config.token = "right-token"
        try expectAuthenticated(config, "right token")
    }

    @Test("a wrong password is access denied, not retried; the right one gets in")
    func wrongPassword() throws {
        let server = try NATSPrivateServer(extraArguments: ["--user", "alice", "--pass", "right-password"])
        var config = NATSReplicaConfig(url: server.url, bucket: "missing")
        config.user = "alice"
        config.password = "wrong-password"
        try expectAccessDenied(config, "wrong password")
        config.password = "right-password"
        try expectAuthenticated(config, "right password")
    }

    @Test("an NKey seed file logs in as its user; another seed is access denied")
    func nkeyLogin() throws {
        let directory = NSTemporaryDirectory() + "witchbolt-nkey-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var random = NATSTestRandom("nkeyLogin")
        let seed = NATSNKey.seed(role: 20 << 3, bytes: random.bytes(32))
        let otherSeed = NATSNKey.seed(role: 20 << 3, bytes: random.bytes(32))
        try "# user seed\n\(seed)\n".write(toFile: directory + "/user.nk", atomically: true, encoding: .utf8)
        try otherSeed.write(toFile: directory + "/other.nk", atomically: true, encoding: .utf8)
        let userKey = try NATSNKey.publicKey(seed: seed)
        try "authorization { users = [ { nkey: \"\(userKey)\" } ] }\n".write(toFile: directory + "/server.conf", atomically: true, encoding: .utf8)
        let server = try NATSPrivateServer(extraArguments: ["-c", directory + "/server.conf"])

        var config = NATSReplicaConfig(url: server.url, bucket: "missing")
        config.nkeySeedFile = directory + "/other.nk"
        try expectAccessDenied(config, "other seed")
        config.nkeySeedFile = directory + "/user.nk"
        try expectAuthenticated(config, "user seed")
    }

    @Test("a server killed during a large put and restarted: the put retries and lands whole, never half listed")
    func serverRestartedMidUpload() throws {
        // A private server with its own bucket; the shared one is never disturbed.
        let server = try NATSPrivateServer()
        try NATSInterop.run(["create", server.url, "outage"])
        var config = NATSReplicaConfig(url: server.url, bucket: "outage", prefix: "db")
        config.requestTimeout = .seconds(2)
        config.retryTimeout = .seconds(60)
        let writer = try NATSReplicaClient(config: config)
        let watcher = try NATSReplicaClient(config: config)
        defer { writer.close(); watcher.close() }
        var random = NATSTestRandom("serverRestartedMidUpload")
        let bytes = random.bytes(24 << 20)
        #expect(try watcher.list(prefix: "").isEmpty, "a new bucket lists empty")

        // Kill the server after the 40th chunk (of 192), and start it again 3 s later: longer
        // than a request may wait, so the put fails over to a retry.
        let killed = NATSTestFlag()
        writer.setChunkPublishedHook { chunk in
            guard chunk == 40, killed.setOnce() else { return }
            server.kill()
            Thread.detachNewThread {
                Thread.sleep(forTimeInterval: 3)
                do { try server.start() } catch { killed.note("restart failed: \(error)") }
            }
        }

        // Meanwhile another client lists the prefix over and over: it must never see a part.
        let done = NATSTestFlag()
        let watching = Thread {
            while !done.isSet {
                if let listed = try? watcher.list(prefix: "") {
                    for info in listed where info != ObjectInfo(key: "snapshot.bin", size: Int64(bytes.count)) {
                        done.note("listed \(info)")
                    }
                    if !listed.isEmpty { done.note("seen whole") }
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        watching.start()
        let started = ContinuousClock.now
        try writer.write(key: "snapshot.bin", from: .bytes(bytes))
        print("serverRestartedMidUpload: put took \(ContinuousClock.now - started), \(writer.counters.retries) retries")
        Thread.sleep(forTimeInterval: 0.2)
        done.setOnce()

        #expect(killed.isSet)
        #expect(writer.counters.retries > 0)
        #expect(killed.notes.isEmpty, "\(killed.notes)")
        #expect(done.notes.allSatisfy { $0 == "seen whole" }, "\(done.notes)")
        #expect(try writer.list(prefix: "") == [ObjectInfo(key: "snapshot.bin", size: Int64(bytes.count))])
        #expect(try writer.read(key: "snapshot.bin") == bytes)
        let theirs = try NATSInterop.run(["list", server.url, "outage", ""])["objects"] as? [[String: Any]] ?? []
        #expect(theirs.count == 1 && theirs.first?["size"] as? Int == bytes.count)

        // The failed attempt's chunks were purged: the stream holds 192 chunks and one meta.
        let connection = try NATSConnection(settings: NATSConnectionSettings(servers: [server.url]))
        #expect(try connection.streamInfo("OBJ_outage").messageCount == 193)
    }
}

/// A flag set once, with notes, shared between a test and its threads.
final class NATSTestFlag: @unchecked Sendable {
    // @unchecked Sendable because every field is only touched under `lock`.
    private let lock = NSLock()
    private var set = false
    private var collected: [String] = []

    /// Sets the flag; true only for the call that set it.
    @discardableResult
    func setOnce() -> Bool { lock.withLock { defer { set = true }; return !set } }
    var isSet: Bool { lock.withLock { set } }
    func note(_ text: String) { lock.withLock { if !collected.contains(text) { collected.append(text) } } }
    var notes: [String] { lock.withLock { collected } }
}
