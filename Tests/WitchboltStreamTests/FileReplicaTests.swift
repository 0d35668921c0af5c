// The file replica beyond the conformance suite: temporary files stay invisible, deletes
// prune empty directories, keys cannot escape the root; replica URLs; the catalog's order.

import Foundation
import Testing
@testable import WitchboltStream

@Suite("File replica")
struct FileReplicaTests {
    static func root() -> String { NSTemporaryDirectory() + "file-replica-\(UUID().uuidString)" }

    @Test("leftover temporary files are not listed, and deletes prune empty directories but never the root")
    func listingAndPruning() throws {
        let root = Self.root()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let client = try FileReplicaClient(root: root)
        try client.write(key: "generations/g/segments/a.segment", from: .bytes([1, 2, 3]))
        // A crash mid-write leaves a dot-named temporary file beside the key.
        #expect(FileManager.default.createFile(atPath: root + "/generations/g/segments/.b.segment.write-1-2.tmp", contents: Data([9])))
        #expect(try client.list(prefix: "").map(\.key) == ["generations/g/segments/a.segment"])
        try client.delete(keys: ["generations/g/segments/a.segment"])
        #expect(FileManager.default.fileExists(atPath: root + "/generations/g/segments"))  // holds the leftover
        try FileManager.default.removeItem(atPath: root + "/generations/g/segments/.b.segment.write-1-2.tmp")
        try client.write(key: "generations/h/snapshots/x.snapshot", from: .bytes([1]))
        try client.delete(keys: ["generations/h/snapshots/x.snapshot"])
        #expect(!FileManager.default.fileExists(atPath: root + "/generations/h"))
        #expect(FileManager.default.fileExists(atPath: root))
        #expect(try client.list(prefix: "generations/").isEmpty)
    }

    @Test("keys that could escape the root or name temporary files are refused")
    func badKeys() throws {
        let root = Self.root()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let client = try FileReplicaClient(root: root)
        for key in ["../escape", "a/../../b", "/abs", "a//b", "", "a/.hidden", "."] {
            do {
                try client.write(key: key, from: .bytes([1]))
                Issue.record("accepted key \(key)")
            } catch let error as StreamError {
                #expect(error.code == .invalidConfiguration, "\(key): \(error)")
            }
        }
        #expect(throws: StreamError.self) { try FileReplicaClient(root: "") }
    }

    @Test("a write from a missing source file fails and leaves nothing behind")
    func failedWrite() throws {
        let root = Self.root()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let client = try FileReplicaClient(root: root)
        #expect(throws: StreamError.self) { try client.write(key: "k/v.bin", from: .file(path: root + "/nope")) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/k").isEmpty)
    }

    @Test("replica URLs: file URLs and plain paths; unknown schemes are clear errors without credentials")
    func urls() throws {
        #expect((try ReplicaFactory.config(url: "file:///var/backups/db") as? FileReplicaConfig)?.path == "/var/backups/db")
        #expect((try ReplicaFactory.config(url: "file://localhost/srv/x") as? FileReplicaConfig)?.path == "/srv/x")
        #expect((try ReplicaFactory.config(url: "file:///srv/with%20space") as? FileReplicaConfig)?.path == "/srv/with space")
        #expect((try ReplicaFactory.config(url: "/plain/path") as? FileReplicaConfig)?.path == "/plain/path")
        #expect((try ReplicaFactory.config(url: "relative/dir") as? FileReplicaConfig)?.path == "relative/dir")
        #expect(try ReplicaFactory.config(url: "file:///a").description == "file:///a")
        for bad in ["", "file://relative", "ftp://host/x", "gopher:thing"] {
            #expect(throws: StreamError.self, "\(bad)") { try ReplicaFactory.config(url: bad) }
        }
        do {
            _ = try ReplicaFactory.config(url: "webdav://user:secret@host/x")
            Issue.record("accepted an unknown scheme")
        } catch let error as StreamError {
            #expect(error.code == .invalidConfiguration)
            #expect(!error.message.contains("secret"))
        }
    }

    @Test("the catalog orders generations by the commit they hold, not by id, and sets foreign keys aside")
    func catalogOrder() throws {
        // An older-id generation holding a later commit (a newer generation by a stale node).
        var recent = try SyntheticReplica("catalog recent")
        defer { recent.cleanUp() }
        recent.writer.generation = .new(nowMillis: 1_000)
        recent.db.timeMillis = 2_000_000_000_000
        try recent.snapshot()
        try recent.segment(2)
        var stale = recent
        stale.writer.generation = .new(nowMillis: 5_000)
        stale.db.timeMillis = 1_000_000_000_000
        try stale.snapshot()
        try recent.client.write(key: "generations/junk.txt", from: .bytes([0]))
        let catalog = try ReplicaCatalog(client: recent.client)
        #expect(catalog.generations.map(\.generation) == [recent.writer.generation, stale.writer.generation])
        #expect(catalog.generations[0].lastCommitMillis == recent.db.timeMillis)
        #expect(catalog.generations[0].restorableTxID == recent.db.txID)
        #expect(catalog.generations[0].databaseID == recent.writer.databaseID)
        #expect(catalog.generations[1].maxTxID == stale.db.txID)
        #expect(catalog.foreignKeys == ["generations/junk.txt"])
    }
}
