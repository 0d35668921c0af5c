// The SFTP replica's configuration and URL form, without a server: what parses to what, and
// every malformed URL refused with `.invalidConfiguration` naming what is wrong, with no secret
// in any message or description.

import Foundation
import Testing
import WitchboltStream

@Suite("SFTP replica configuration")
struct SFTPConfigTests {
    /// A readable file to stand for a private key (validation checks that it is readable).
    let keyPath: String = {
        let path = NSTemporaryDirectory() + "witchbolt-sftp-config-key-\(UInt32.random(in: 0...UInt32.max))"
        _ = FileManager.default.createFile(atPath: path, contents: Data("not really a key".utf8))
        return path
    }()

    @Test("a full URL parses into host, port, user, absolute path, key and known_hosts")
    func fullURL() throws {
        let config = try SFTPReplicaConfig(url: "sftp://replicator@backup.example.com:2222/srv/backups/db?key=\(keyPath)&known-hosts=/etc/ssh/known", environment: [:])
        #expect(config.host == "backup.example.com")
        #expect(config.port == 2222)
        #expect(config.user == "replicator")
        #expect(config.path == "/srv/backups/db")
        #expect(config.authentication == .privateKey(path: keyPath, passphrase: nil))
        #expect(config.keyPath == keyPath)
        #expect(config.hostKeyPolicy == .knownHosts(path: "/etc/ssh/known"))
        #expect(config.description == "sftp://replicator@backup.example.com:2222/srv/backups/db")
    }

    @Test("defaults: port 22, ~/.ssh/known_hosts; /~/ makes the path relative to the home directory")
    func defaults() throws {
        let config = try SFTPReplicaConfig(url: "sftp://u@h/~/backups/db/?key=\(keyPath)", environment: [:])
        #expect(config.port == 22)
        #expect(config.path == "backups/db")
        #expect(config.hostKeyPolicy == .knownHosts(path: "~/.ssh/known_hosts"))
        #expect(config.description == "sftp://u@h:22/~/backups/db")
    }

    @Test("a pinned fingerprint is normalized; insecure=true turns the check off; connections sizes the pool")
    func hostKeyPolicies() throws {
        let digest = [UInt8](repeating: 7, count: 32)
        var base64 = Data(digest).base64EncodedString()
        let padded = base64
        while base64.hasSuffix("=") { base64.removeLast() }
        let pinned = try SFTPReplicaConfig(url: "sftp://u@h/p?key=\(keyPath)&fingerprint=SHA256:\(padded)", environment: [:])
        #expect(pinned.hostKeyPolicy == .fingerprint("SHA256:" + base64))
        let insecure = try SFTPReplicaConfig(url: "sftp://u@h/p?key=\(keyPath)&insecure=true&connections=2", environment: [:])
        #expect(insecure.hostKeyPolicy == .insecureAcceptAnyHostKey)
        #expect(insecure.maxConnections == 2)
    }

    @Test("secrets come from the environment and never show in the description")
    func secretsFromEnvironment() throws {
        let password = try SFTPReplicaConfig(url: "sftp://u@h/p", environment: ["WITCHBOLT_SFTP_PASSWORD": "hunter2"])
        #expect(password.authentication == .password("hunter2"))
        #expect(!password.description.contains("hunter2"))
        let passphrase = try SFTPReplicaConfig(url: "sftp://u@h/p?key=\(keyPath)", environment: ["WITCHBOLT_SFTP_KEY_PASSPHRASE": "open sesame"])
        #expect(passphrase.authentication == .privateKey(path: keyPath, passphrase: "open sesame"))
        #expect(!passphrase.description.contains("sesame"))
    }

    @Test("malformed URLs are refused with invalidConfiguration naming the problem", arguments: [
        ("s3://u@h/p?key=KEY", "scheme"),
        ("sftp://h/p?key=KEY", "user"),
        ("sftp://u@h?key=KEY", "path"),
        ("sftp://u@h/?key=KEY", "path"),
        ("sftp://u@h:0/p?key=KEY", "port"),
        ("sftp://u:secret@h/p?key=KEY", "password in the URL"),
        ("sftp://u@h/p", "WITCHBOLT_SFTP_PASSWORD"),
        ("sftp://u@h/p?key=KEY&colour=blue", "unknown parameter colour"),
        ("sftp://u@h/p?key=KEY&key=KEY", "twice"),
        ("sftp://u@h/p?key=KEY&fingerprint=SHA256:abc", "fingerprint"),
        ("sftp://u@h/p?key=KEY&fingerprint=MD5:aa", "fingerprint"),
        ("sftp://u@h/p?key=KEY&insecure=maybe", "insecure"),
        ("sftp://u@h/p?key=KEY&insecure=true&known-hosts=/k", "only one"),
        ("sftp://u@h/p?key=/nonexistent/witchbolt-key", "missing or unreadable"),
        ("sftp://u@h/p?key=KEY&connections=0", "connections"),
    ])
    func refused(_ url: String, _ mentions: String) {
        let url = url.replacingOccurrences(of: "KEY", with: keyPath)
        let error = SFTPTestSupport.streamError { _ = try SFTPReplicaConfig(url: url, environment: [:]) }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains(mentions) == true, "\(String(describing: error))")
        #expect(error?.message.contains("secret") != true, "a password leaked into \(String(describing: error))")
    }

    @Test("a client refuses a configuration it cannot use, before connecting")
    func clientValidates() {
        var config = SFTPReplicaConfig(host: "127.0.0.1", user: "u", keyPath: keyPath, path: "p")
        config.maxAttempts = 0
        #expect(SFTPTestSupport.streamError { _ = try config.makeClient() }?.code == .invalidConfiguration)
        let pinned = SFTPReplicaConfig(host: "127.0.0.1", user: "u", keyPath: keyPath, path: "p", hostKeyPolicy: .fingerprint("SHA256:short"))
        #expect(SFTPTestSupport.streamError { _ = try pinned.makeClient() }?.code == .invalidConfiguration)
    }

    @Test("an invalid object key is refused without touching the server")
    func invalidKeys() throws {
        // Port 1 on loopback: nothing listens, so any attempt to connect would fail differently.
        let client = try SFTPReplicaClient(config: SFTPReplicaConfig(host: "127.0.0.1", port: 1, user: "u", keyPath: keyPath, path: "/p"))
        for key in ["", "/abs", "a//b", "a/../b", "./a", "a/"] {
            #expect(SFTPTestSupport.streamError { try client.write(key: key, from: .bytes([1])) }?.code == .invalidConfiguration, "\(key)")
        }
        #expect(client.counters.connectAttempts == 0)
    }
}
