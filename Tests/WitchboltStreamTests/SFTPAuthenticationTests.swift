// User authentication methods against private sshd instances: ECDSA keys, RSA keys (libssh2
// 1.10 signs with ssh-rsa/SHA-1, which OpenSSH 9 accepts only when told to), an encrypted key
// with the right and a wrong passphrase, and password authentication refused by the server.
// Each refusal is `.accessDenied`, final, tried once.

import Foundation
import Testing
import WitchboltStream

@Suite("SFTP authentication methods", .enabled(if: SFTPTestSupport.enabled))
struct SFTPAuthenticationTests {
    @Test("an ECDSA user key authenticates")
    func ecdsaKey() throws {
        let server = try SFTPPrivateServer(clientKeyType: "ecdsa")
        try server.start()
        let client = try SFTPReplicaClient(config: server.config())
        defer { client.close() }
        try client.write(key: "ecdsa.bin", from: .bytes([1, 2]))
        #expect(try client.read(key: "ecdsa.bin") == [1, 2])
    }

    @Test("an RSA user key authenticates where the server accepts ssh-rsa signatures")
    func rsaKey() throws {
        let server = try SFTPPrivateServer(clientKeyType: "rsa", extraConfig: ["PubkeyAcceptedAlgorithms +ssh-rsa"])
        try server.start()
        let client = try SFTPReplicaClient(config: server.config())
        defer { client.close() }
        try client.write(key: "rsa.bin", from: .bytes([3]))
        #expect(try client.read(key: "rsa.bin") == [3])
    }

    @Test("an encrypted key opens with its passphrase; a wrong passphrase is accessDenied")
    func passphrase() throws {
        let server = try SFTPPrivateServer()
        let encrypted = server.directory + "/client_encrypted"
        try SFTPPrivateServer.keygen(type: "ed25519", path: encrypted, passphrase: "correct horse")
        let authorized = try String(contentsOfFile: server.directory + "/authorized_keys", encoding: .utf8)
            + (try String(contentsOfFile: encrypted + ".pub", encoding: .utf8))
        try authorized.write(toFile: server.directory + "/authorized_keys", atomically: true, encoding: .utf8)
        try server.start()

        var config = server.config()
        config.authentication = .privateKey(path: encrypted, passphrase: "correct horse")
        let client = try SFTPReplicaClient(config: config)
        try client.write(key: "p.bin", from: .bytes([5]))
        #expect(try client.read(key: "p.bin") == [5])
        client.close()

        config.authentication = .privateKey(path: encrypted, passphrase: "battery staple")
        let wrong = try SFTPReplicaClient(config: config)
        let error = SFTPTestSupport.streamError { _ = try wrong.read(key: "p.bin") }
        #expect(error?.code == .accessDenied, "\(String(describing: error))")
        #expect(error?.message.contains("staple") == false, "the passphrase leaked: \(String(describing: error))")
        #expect(wrong.counters.connectAttempts == 1)
    }

    @Test("a password the server refuses is accessDenied, tried once, and not in the message")
    func refusedPassword() throws {
        let server = try SFTPPrivateServer(extraConfig: ["PasswordAuthentication yes", "PermitRootLogin yes", "MaxAuthTries 3"])
        try server.start()
        var config = server.config()
        config.authentication = .password("not-the-password-4711")
        let client = try SFTPReplicaClient(config: config)
        defer { client.close() }
        let error = SFTPTestSupport.streamError { try client.write(key: "x.bin", from: .bytes([1])) }
        #expect(error?.code == .accessDenied, "\(String(describing: error))")
        #expect(error?.isTransient == false)
        #expect(error?.message.contains("4711") == false)
        #expect(client.counters.connectAttempts == 1)
        #expect(SFTPTestSupport.filesOnDisk(server.rootPath).isEmpty)
    }
}
