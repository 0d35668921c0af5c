// Write-once semantics on a private sshd, whose directory the test can inspect from outside:
// a repeated write of the same bytes (what a retry after a lost rename reply looks like) counts
// as done; a different content, even of the same size, replaces the object; temporaries never
// appear in listings; deleting the last object of a directory removes the empty directories up
// to the replica's root; a symbolic link to a file lists as that file.

import Foundation
import Testing
import WitchboltStream

@Suite("SFTP write-once objects", .enabled(if: SFTPTestSupport.enabled))
struct SFTPWriteOnceTests {
    let server: SFTPPrivateServer

    init() throws {
        server = try SFTPPrivateServer()
        try server.start()
    }

    var replicaDirectory: String { server.rootPath + "/replica" }

    @Test("writing the same bytes again succeeds and leaves one object, no temporary")
    func sameContentAgain() throws {
        let client = try SFTPReplicaClient(config: server.config())
        defer { client.close() }
        let bytes = SFTPTestSupport.randomBytes(300_000, label: "sameContentAgain")
        try client.write(key: "segments/0001-0002.segment", from: .bytes(bytes))
        try client.write(key: "segments/0001-0002.segment", from: .bytes(bytes))
        #expect(try client.read(key: "segments/0001-0002.segment") == bytes)
        #expect(SFTPTestSupport.filesOnDisk(replicaDirectory) == ["segments/0001-0002.segment"])
    }

    @Test("a different content replaces the object, also when the size is the same")
    func differentContentReplaces() throws {
        let client = try SFTPReplicaClient(config: server.config())
        defer { client.close() }
        try client.write(key: "k.bin", from: .bytes([1, 2, 3, 4]))
        try client.write(key: "k.bin", from: .bytes([1, 2, 3, 5]))
        #expect(try client.read(key: "k.bin") == [1, 2, 3, 5])
        try client.write(key: "k.bin", from: .bytes([7]))
        #expect(try client.read(key: "k.bin") == [7])
        #expect(SFTPTestSupport.filesOnDisk(replicaDirectory) == ["k.bin"])
    }

    @Test("temporaries on the server are not objects: listing skips them")
    func temporariesAreNotListed() throws {
        let client = try SFTPReplicaClient(config: server.config())
        defer { client.close() }
        try client.write(key: "g/a.bin", from: .bytes([1]))
        #expect(FileManager.default.createFile(atPath: replicaDirectory + "/g/.b.bin.witchbolt-tmp-0123456789abcdef", contents: Data([1, 2])))
        #expect(FileManager.default.createFile(atPath: replicaDirectory + "/g/.hidden-but-real", contents: Data([3])))
        #expect(try client.list(prefix: "g/") == [ObjectInfo(key: "g/.hidden-but-real", size: 1), ObjectInfo(key: "g/a.bin", size: 1)])
    }

    @Test("deleting the last objects removes the emptied directories, never the root")
    func deleteRemovesEmptyDirectories() throws {
        let client = try SFTPReplicaClient(config: server.config())
        defer { client.close() }
        try client.write(key: "generations/g1/segments/1.segment", from: .bytes([1]))
        try client.write(key: "generations/g1/snapshots/1.snapshot", from: .bytes([2]))
        try client.write(key: "generations/g2/segments/1.segment", from: .bytes([3]))
        try client.delete(keys: ["generations/g1/segments/1.segment", "generations/g1/snapshots/1.snapshot"])
        #expect(!FileManager.default.fileExists(atPath: replicaDirectory + "/generations/g1"))
        #expect(FileManager.default.fileExists(atPath: replicaDirectory + "/generations/g2/segments/1.segment"))
        try client.delete(keys: ["generations/g2/segments/1.segment", "never/there.bin"])
        #expect(!FileManager.default.fileExists(atPath: replicaDirectory + "/generations"))
        #expect(FileManager.default.fileExists(atPath: replicaDirectory))
        #expect(try client.list(prefix: "").isEmpty)
    }

    @Test("listing starts at the deepest directory of the prefix and filters the rest by prefix")
    func listingByPartialPrefix() throws {
        let client = try SFTPReplicaClient(config: server.config())
        defer { client.close() }
        for key in ["gen/a1/x", "gen/a2/y", "gen/b1/z", "generic.bin", "other/q"] {
            try client.write(key: key, from: .bytes(Array(key.utf8)))
        }
        #expect(try client.list(prefix: "gen/a").map(\.key) == ["gen/a1/x", "gen/a2/y"])
        #expect(try client.list(prefix: "gen").map(\.key) == ["gen/a1/x", "gen/a2/y", "gen/b1/z", "generic.bin"])
        #expect(try client.list(prefix: "missing/dir/").isEmpty)
        #expect(try client.list(prefix: "").count == 5)
    }

    @Test("a symbolic link to a file lists as that file, with its size")
    func symbolicLink() throws {
        let client = try SFTPReplicaClient(config: server.config())
        defer { client.close() }
        try client.write(key: "real.bin", from: .bytes([1, 2, 3]))
        try FileManager.default.createSymbolicLink(atPath: replicaDirectory + "/link.bin", withDestinationPath: replicaDirectory + "/real.bin")
        #expect(try client.list(prefix: "") == [ObjectInfo(key: "link.bin", size: 3), ObjectInfo(key: "real.bin", size: 3)])
        #expect(try client.read(key: "link.bin") == [1, 2, 3])
    }

    @Test("many writers on a small pool: every object lands, the pool never exceeds its size")
    func smallPool() throws {
        var config = server.config()
        config.maxConnections = 2
        let client = try SFTPReplicaClient(config: config)
        defer { client.close() }
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: 6) { worker in
            do {
                for i in 0..<5 { try client.write(key: "p/\(worker)/\(i)", from: .bytes([UInt8(worker), UInt8(i)])) }
            } catch {
                failures.add("\(error)")
            }
        }
        #expect(failures.all.isEmpty, "\(failures.all)")
        #expect(try client.list(prefix: "p/").count == 30)
        #expect(client.counters.connects <= 2, "\(client.counters)")
    }
}
