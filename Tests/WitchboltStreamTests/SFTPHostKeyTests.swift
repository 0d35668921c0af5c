// Host-key verification and authentication against the shared sshd: an unknown key (empty
// known_hosts), a changed key (known_hosts with another key), a wrong pinned fingerprint and a
// wrong user key each fail at once, with a clear error (naming the fingerprint the server
// presented, for host keys), without retrying and without writing anything. The right pin, the
// URL form and the insecure switch (which warns on every connection) work.

import Foundation
import Logging
import Testing
import WitchboltStream

@Suite("SFTP host keys and authentication", .enabled(if: SFTPTestSupport.enabled))
struct SFTPHostKeyTests {
    let prefix = TestEnvironment.uniquePrefix("hostkey")
    let scratch = NSTemporaryDirectory() + "witchbolt-sftp-hostkey-\(UInt32.random(in: 0...UInt32.max))"

    init() throws {
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    }

    /// The server's real fingerprint, computed from the known_hosts file without libssh2.
    func serverFingerprint() throws -> String {
        let text = try String(contentsOfFile: try TestEnvironment.require("WITCHBOLT_SFTP_KNOWN_HOSTS"), encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { !$0.hasPrefix("#") && !$0.isEmpty })
        return try #require(SFTPTestSupport.fingerprint(ofKeyLine: String(line)))
    }

    /// Asserts that nothing exists under the test prefix, seen by a correctly configured client.
    func expectNothingWritten() throws {
        let good = try SFTPTestBackend.makeClient(prefix: prefix)
        defer { good.close() }
        #expect(try good.list(prefix: "").isEmpty)
    }

    func attemptWrite(_ config: SFTPReplicaConfig) throws -> (StreamError?, SFTPConnectionCounters) {
        let client = try SFTPReplicaClient(config: config)
        defer { client.close() }
        let error = SFTPTestSupport.streamError { try client.write(key: "generations/g/x.bin", from: .bytes([1, 2, 3])) }
        return (error, client.counters)
    }

    @Test("an unknown host key (empty known_hosts) is refused, naming the fingerprint seen; nothing written")
    func unknownHostKey() throws {
        let empty = scratch + "/known_hosts_empty"
        try "".write(toFile: empty, atomically: true, encoding: .utf8)
        var config = try SFTPTestBackend.makeConfig(prefix: prefix)
        config.hostKeyPolicy = .knownHosts(path: empty)
        let (error, counters) = try attemptWrite(config)
        #expect(error?.code == .hostKeyMismatch)
        #expect(error?.isTransient == false)
        #expect(error?.message.contains(try serverFingerprint()) == true, "\(String(describing: error))")
        #expect(error?.message.contains("unknown host key") == true)
        #expect(counters.connectAttempts == 1 && counters.connects == 0, "a host key failure is not retried: \(counters)")
        try expectNothingWritten()
    }

    @Test("a changed host key (known_hosts lists another key) is refused, naming the fingerprint seen; nothing written")
    func changedHostKey() throws {
        let other = scratch + "/other_host_key"
        try SFTPPrivateServer.keygen(type: "ed25519", path: other)
        let otherPublic = try String(contentsOfFile: other + ".pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        let port = try TestEnvironment.require("WITCHBOLT_SFTP_PORT")
        let host = try TestEnvironment.require("WITCHBOLT_SFTP_HOST")
        let knownHosts = scratch + "/known_hosts_changed"
        try "# a comment line\n[\(host)]:\(port) \(otherPublic)\n".write(toFile: knownHosts, atomically: true, encoding: .utf8)
        var config = try SFTPTestBackend.makeConfig(prefix: prefix)
        config.hostKeyPolicy = .knownHosts(path: knownHosts)
        let (error, counters) = try attemptWrite(config)
        #expect(error?.code == .hostKeyMismatch)
        #expect(error?.message.contains("CHANGED") == true, "\(String(describing: error))")
        #expect(error?.message.contains(try serverFingerprint()) == true, "\(String(describing: error))")
        #expect(counters.connectAttempts == 1)
        try expectNothingWritten()
    }

    @Test("a wrong pinned fingerprint is refused, printing both fingerprints; the right one is accepted")
    func pinnedFingerprint() throws {
        let wrong = "SHA256:" + String(Data(repeating: 0xAB, count: 32).base64EncodedString().dropLast())
        var config = try SFTPTestBackend.makeConfig(prefix: prefix)
        config.hostKeyPolicy = .fingerprint(wrong)
        let (error, _) = try attemptWrite(config)
        #expect(error?.code == .hostKeyMismatch)
        #expect(error?.message.contains(try serverFingerprint()) == true, "\(String(describing: error))")
        #expect(error?.message.contains(wrong) == true)
        try expectNothingWritten()

        config.hostKeyPolicy = .fingerprint(try serverFingerprint())
        let client = try SFTPReplicaClient(config: config)
        defer { client.close() }
        try client.write(key: "pinned.bin", from: .bytes([4, 5, 6]))
        #expect(try client.read(key: "pinned.bin") == [4, 5, 6])
        try client.delete(keys: ["pinned.bin"])
    }

    @Test("our fingerprint notation is the one ssh-keygen -l prints")
    func fingerprintMatchesSshKeygen() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-keygen")
        process.arguments = ["-l", "-E", "sha256", "-f", try TestEnvironment.require("WITCHBOLT_SFTP_KNOWN_HOSTS")]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(output.contains(try serverFingerprint()), "\(output)")

        // And the client itself reports that same fingerprint (here through an unknown-key error).
        let empty = scratch + "/known_hosts_empty2"
        try "".write(toFile: empty, atomically: true, encoding: .utf8)
        var config = try SFTPTestBackend.makeConfig(prefix: prefix)
        config.hostKeyPolicy = .knownHosts(path: empty)
        let (error, _) = try attemptWrite(config)
        let seen = error?.message.split(separator: " ").first { $0.hasPrefix("SHA256:") }.map { String($0).trimmingCharacters(in: .punctuationCharacters.subtracting(["+", "/"])) }
        #expect(seen.map { output.contains($0) } == true, "\(String(describing: error)) vs \(output)")
    }

    @Test("a wrong user key is accessDenied, not retried, and nothing is written")
    func wrongUserKey() throws {
        let stranger = scratch + "/stranger_key"
        try SFTPPrivateServer.keygen(type: "ed25519", path: stranger)
        var config = try SFTPTestBackend.makeConfig(prefix: prefix)
        config.authentication = .privateKey(path: stranger, passphrase: nil)
        let (error, counters) = try attemptWrite(config)
        #expect(error?.code == .accessDenied, "\(String(describing: error))")
        #expect(error?.isTransient == false)
        #expect(counters.connectAttempts == 1 && counters.retries == 0, "\(counters)")
        try expectNothingWritten()
    }

    @Test("insecure mode connects without a known key and warns on every connection")
    func insecureWarns() throws {
        var config = try SFTPTestBackend.makeConfig(prefix: prefix)
        config.hostKeyPolicy = .insecureAcceptAnyHostKey
        let logs = CapturedLogs()
        let client = try SFTPReplicaClient(config: config, logger: logs.logger())
        try client.write(key: "insecure.bin", from: .bytes([9]))
        client.close()
        #expect(try client.read(key: "insecure.bin") == [9])
        try client.delete(keys: ["insecure.bin"])
        client.close()
        let warnings = logs.messages(at: .warning).filter { $0.contains("host key verification is OFF") }
        #expect(warnings.count == client.counters.connects && warnings.count == 2, "\(warnings) for \(client.counters)")
        #expect(warnings.allSatisfy { $0.contains("SHA256:") })
    }

    @Test("a client built from the replica URL works end to end")
    func fromURL() throws {
        let url = try SFTPTestBackend.makeURL(prefix: prefix)
        let config = try SFTPReplicaConfig(url: url)
        let client = try config.makeClient()
        defer { client.close() }
        #expect(client.kind == "sftp")
        try client.write(key: "url/object.bin", from: .bytes([1, 1, 2, 3, 5, 8]))
        #expect(try client.list(prefix: "url/") == [ObjectInfo(key: "url/object.bin", size: 6)])
        #expect(try client.read(key: "url/object.bin", range: 2..<4) == [2, 3])
        try client.delete(keys: ["url/object.bin"])
        #expect(try client.list(prefix: "").isEmpty)
    }
}
