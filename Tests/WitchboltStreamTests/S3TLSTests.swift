// TLS: verification is on by default. Against a private SeaweedFS serving HTTPS with a
// self-signed certificate, the default client is refused with a clear, unretried error; the
// server's certificate as CA bundle makes a verified connection work; the explicit insecure
// switch works too.

import Foundation
import Testing
import WitchboltStream

@Suite("S3 replica over TLS", .enabled(if: PrivateSeaweedFS.isEnabled))
struct S3TLSTests {
    @Test("an unverifiable certificate is refused at once; a CA bundle or the insecure switch let it through")
    func verification() throws {
        let server = try PrivateSeaweedFS(tls: true)
        defer { server.stop() }
        try server.start()
        var config = server.config(prefix: "tls")
        config.endpoint = server.httpsEndpoint

        let strict = try S3ReplicaClient(config: config)
        defer { strict.close() }
        do {
            try strict.write(key: "a.bin", from: .bytes([1, 2, 3]))
            Issue.record("a self-signed server was trusted by default")
        } catch let error as StreamError {
            #expect(error.code == .replicaError, "\(error)")
            #expect(!error.isTransient)
            #expect(error.message.contains("TLS verification failed"), "\(error.message)")
        }
        #expect(strict.counts.totalAttempts == 1)

        config.caBundlePath = server.certificatePath
        let pinned = try S3ReplicaClient(config: config)
        defer { pinned.close() }
        try pinned.write(key: "a.bin", from: .bytes([1, 2, 3]))
        #expect(try pinned.read(key: "a.bin") == [1, 2, 3])

        config.caBundlePath = nil
        config.insecureSkipTLSVerify = true
        let insecure = try S3ReplicaClient(config: config)
        defer { insecure.close() }
        #expect(try insecure.read(key: "a.bin", range: 1..<3) == [2, 3])
        try insecure.delete(keys: ["a.bin"])
        #expect(try insecure.list(prefix: "").isEmpty)
    }
}
