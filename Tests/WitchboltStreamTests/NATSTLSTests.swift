// TLS for the NATS replica: against a private nats-server that requires mutual TLS, with a
// throwaway CA made by openssl, the client trusts the CA from `tls-ca=` and presents its
// certificate from `tls-cert=`/`tls-key=`; without the CA or without a client certificate it
// does not get in.

import Foundation
import Testing
import WitchboltStream

@Suite("NATS replica over TLS", .enabled(if: TestBackend.nats.isEnabled))
struct NATSTLSTests {
    @Test("mutual TLS with the CA from the URL gets in; no CA or no client certificate does not")
    func mutualTLS() throws {
        let directory = NSTemporaryDirectory() + "witchbolt-nats-tls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.makeCertificates(in: directory)
        let server = try NATSPrivateServer(extraArguments: [
            "--tlsverify", "--tlscert", directory + "/server.pem", "--tlskey", directory + "/server.key",
            "--tlscacert", directory + "/ca.pem",
        ])
        let base = "tls://127.0.0.1:\(server.port)/missing"

        // With the CA and a client certificate the login works: the missing bucket is the error.
        let good = try NATSReplicaConfig(url: "\(base)?tls-ca=\(directory)/ca.pem&tls-cert=\(directory)/client.pem&tls-key=\(directory)/client.key")
        do {
            _ = try good.makeClient().list(prefix: "")
            Issue.record("listing a missing bucket succeeded")
        } catch let error as StreamError {
            #expect(error.code == .invalidConfiguration && error.message.contains("does not exist"), "\(error)")
        }

        // Without the client certificate (the server hangs up: a protocol error) or without
        // trusting the CA (a TLS error, a configuration problem) there is no connection.
        var noClientCertificate = good
        noClientCertificate.tlsCertificateFile = nil
        noClientCertificate.tlsKeyFile = nil
        noClientCertificate.retryTimeout = .seconds(1)
        var noCA = good
        noCA.tlsRootCAFiles = []
        noCA.retryTimeout = .seconds(1)
        for (label, config) in [("no client certificate", noClientCertificate), ("no CA", noCA)] {
            do {
                _ = try config.makeClient().list(prefix: "")
                Issue.record("\(label): listing succeeded")
            } catch let error as StreamError {
                #expect(!error.message.contains("does not exist"), "\(label): \(error)")
                #expect(label != "no CA" || error.code == .invalidConfiguration, "\(label): \(error)")
                #expect(error.message.hasPrefix("tls://127.0.0.1:\(server.port)/missing"), "\(label): \(error)")
            }
        }
    }

    /// A CA, a server certificate for 127.0.0.1 and a client certificate, made by openssl.
    private static func makeCertificates(in directory: String) throws {
        try "subjectAltName=IP:127.0.0.1\n".write(toFile: directory + "/server.ext", atomically: true, encoding: .utf8)
        try "extendedKeyUsage=clientAuth\n".write(toFile: directory + "/client.ext", atomically: true, encoding: .utf8)
        let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        try openssl(["req", "-x509"] + key + ["-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=witchbolt-test-ca"], in: directory)
        for name in ["server", "client"] {
            try openssl(["req"] + key + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=\(name == "server" ? "127.0.0.1" : "witchbolt")"], in: directory)
            try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                         "-out", "\(name).pem", "-days", "1", "-extfile", "\(name).ext"], in: directory)
        }
    }

    private static func openssl(_ arguments: [String], in directory: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw StreamError(.io, "openssl \(arguments.first ?? "") failed with status \(process.terminationStatus)")
        }
    }
}
