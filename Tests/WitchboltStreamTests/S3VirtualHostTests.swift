// Virtual-host addressing (`https://BUCKET.host/KEY`, AWS's default) against a real server: a
// private SeaweedFS started with `-s3.domainName=localhost`, reached as `BUCKET.localhost`
// (libcurl resolves `*.localhost` to loopback itself). The path-style tests cover the rest.

import Foundation
import Testing
import WitchboltStream

@Suite("S3 replica with virtual-host addressing", .enabled(if: PrivateSeaweedFS.isEnabled))
struct S3VirtualHostTests {
    @Test("write, read, range, list and delete work with the bucket in the host name")
    func virtualHost() throws {
        let server = try PrivateSeaweedFS()
        defer { server.stop() }
        try server.start()

        var config = server.config(prefix: "vhost/db")
        config.endpoint = server.endpoint.replacingOccurrences(of: "127.0.0.1", with: server.domainName)
        config.addressing = .virtualHost
        let client = try S3ReplicaClient(config: config)
        defer { client.close() }

        let keys = ["generations/g/snapshots/0000000000000001.snapshot", "odd/a b+c=d~é.bin"]
        for (i, key) in keys.enumerated() { try client.write(key: key, from: .bytes([UInt8](repeating: UInt8(i + 1), count: 1000 + i))) }
        #expect(try client.read(key: keys[1]) == [UInt8](repeating: 2, count: 1001))
        #expect(try client.read(key: keys[0], range: 10..<20) == [UInt8](repeating: 1, count: 10))
        #expect(try client.list(prefix: "").map(\.key) == keys.sorted())
        // The same objects seen path-style: they really are in the bucket named by the host.
        let pathStyle = try S3ReplicaClient(config: server.config(prefix: "vhost/db"))
        defer { pathStyle.close() }
        #expect(try pathStyle.read(key: keys[0]) == [UInt8](repeating: 1, count: 1000))
        try client.delete(keys: keys)
        #expect(try client.list(prefix: "").isEmpty)
    }
}
