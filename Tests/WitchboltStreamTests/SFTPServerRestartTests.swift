// The server dies in the middle of an upload: a private sshd (own port, keys and directory) is
// killed with its session processes while a large object streams to it, then restarted. The
// write in flight fails transiently; the final key never holds a partial object (only a
// temporary name exists, and listing ignores it); the retried write completes, the content is
// intact, and the temporary of the killed attempt is cleaned up. A frozen (hung) server makes
// calls time out instead of blocking forever.

import Foundation
import Testing
import WitchboltStream

@Suite("SFTP server outages: killed mid-upload, hung", .enabled(if: SFTPTestSupport.enabled))
struct SFTPServerRestartTests {
    @Test("sshd killed mid-upload and restarted: nothing partial under the final key, the retry lands intact")
    func killedMidUpload() throws {
        let server = try SFTPPrivateServer()
        try server.start()
        var config = server.config()
        config.maxAttempts = 2
        let client = try SFTPReplicaClient(config: config)
        defer { client.close() }

        // A large object from a file, as snapshots are written.
        let key = "generations/g/snapshots/00000000000000ff.snapshot"
        let payload = SFTPTestSupport.randomBytes(48 << 20, label: "killedMidUpload")
        let source = server.directory + "/source.snapshot"
        FileManager.default.createFile(atPath: source, contents: Data(payload))
        let directory = server.rootPath + "/replica/generations/g/snapshots"

        // Upload in the background; kill the server once a temporary holds a few MiB.
        let outcome = UploadOutcome()
        Thread {
            do { try client.write(key: key, from: .file(path: source)); outcome.finish(nil) } catch { outcome.finish(error) }
        }.start()
        let deadline = Date().addingTimeInterval(60)
        var partialSize: Int64 = 0
        while Date() < deadline && !outcome.isFinished {
            partialSize = Self.temporaries(in: directory).map(\.size).max() ?? 0
            if partialSize >= 2 << 20 { break }
            Thread.sleep(forTimeInterval: 0.002)
        }
        let killedDuringUpload = !outcome.isFinished
        server.kill()
        let error = outcome.wait(seconds: 60)
        #expect(killedDuringUpload, "the upload finished before the kill; nothing was tested")
        #expect(partialSize > 0 && partialSize < Int64(payload.count))

        // The write failed transiently, and the final key holds nothing: only a temporary exists.
        let streamError = error as? StreamError
        #expect(streamError?.code == .unavailable, "\(String(describing: error))")
        #expect(streamError?.isTransient == true)
        #expect(!FileManager.default.fileExists(atPath: directory + "/00000000000000ff.snapshot"))
        let leftovers = Self.temporaries(in: directory)
        #expect(!leftovers.isEmpty && leftovers.allSatisfy { $0.size < Int64(payload.count) }, "\(leftovers)")

        // Restarted, the server lists no object (temporaries are not objects), and the retry lands.
        try server.start()
        #expect(try client.list(prefix: "").isEmpty)
        try client.write(key: key, from: .file(path: source))
        #expect(try client.list(prefix: "generations/") == [ObjectInfo(key: key, size: Int64(payload.count))])
        #expect(try client.read(key: key) == payload)
        #expect(SFTPTestSupport.filesOnDisk(server.rootPath + "/replica") == [key], "the killed attempt's temporary is cleaned")
        let counters = client.counters
        #expect(counters.disconnectsObserved >= 1 && counters.reconnects >= 1, "\(counters)")
    }

    @Test("a hung server times out (transient, bounded), and the client recovers when it answers again")
    func hungServerTimesOut() throws {
        let server = try SFTPPrivateServer()
        try server.start()
        defer { server.freeze(false) }
        var config = server.config()
        config.timeout = .seconds(1)
        config.maxAttempts = 2
        let client = try SFTPReplicaClient(config: config)
        defer { client.close() }
        try client.write(key: "h.bin", from: .bytes([1, 2]))

        server.freeze(true)
        let started = ContinuousClock.now
        let error = SFTPTestSupport.streamError { _ = try client.read(key: "h.bin") }
        let elapsed = ContinuousClock.now - started
        #expect(error?.code == .unavailable, "\(String(describing: error))")
        #expect(error?.isTransient == true)
        #expect(elapsed >= .seconds(1) && elapsed < .seconds(15), "two attempts of about 1 s each: \(elapsed)")

        server.freeze(false)
        #expect(try client.read(key: "h.bin") == [1, 2])
        #expect(client.counters.disconnectsObserved >= 1, "\(client.counters)")
    }

    /// The temporaries in a directory on the server's disk, with their sizes.
    static func temporaries(in directory: String) -> [(name: String, size: Int64)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.contains("witchbolt-tmp-") }.map { name in
            let size = (try? FileManager.default.attributesOfItem(atPath: directory + "/" + name)[.size] as? NSNumber)?.int64Value ?? 0
            return (name, size)
        }
    }
}

/// The result of a write running on another thread.
final class UploadOutcome: @unchecked Sendable {
    // @unchecked Sendable because the fields are only touched under `condition`.
    private let condition = NSCondition()
    private var done = false
    private var error: (any Error)?

    var isFinished: Bool { condition.lock(); defer { condition.unlock() }; return done }

    func finish(_ error: (any Error)?) {
        condition.lock()
        self.error = error
        done = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for the write; returns its error (nil on success).
    func wait(seconds: Double) -> (any Error)? {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date().addingTimeInterval(seconds)
        while !done && condition.wait(until: deadline) {}
        return done ? error : StreamError(.unavailable, "the write did not finish within \(seconds) s")
    }
}
