// The S3 replica through a server outage: a private SeaweedFS (weed mini on free ports, in a
// directory of its own; binary from WITCHBOLT_WEED_BIN) is killed with SIGKILL in the middle
// of a large multipart upload and started again on the same ports and directory. The upload's
// retries ride out the outage, the write completes, and the object reads back intact.
// The shared test server is never touched.

import Foundation
import Testing
import WitchboltStream
import WitchboltTestSupport

@Suite("S3 replica through a server outage", .enabled(if: PrivateSeaweedFS.isEnabled))
struct S3OutageTests {
    @Test("a multipart upload survives the server being killed and restarted mid-upload")
    func killedMidUpload() throws {
        let server = try PrivateSeaweedFS()
        defer { server.stop() }
        try server.start()

        var config = server.config(prefix: "outage")
        config.partSize = S3ReplicaConfig.minimumPartSize
        config.multipartThreshold = S3ReplicaConfig.minimumPartSize
        config.retry = .init(maxAttempts: 40, baseDelay: .milliseconds(100), maxDelay: .seconds(1))
        config.connectTimeout = .seconds(2)
        config.stallTimeout = .seconds(5)
        let client = try S3ReplicaClient(config: config)
        defer { client.close() }

        // A 40 MiB snapshot file: eight parts.
        var random = SeededRandom(label: "killedMidUpload")
        let bytes = Self.randomBytes(count: 8 * S3ReplicaConfig.minimumPartSize, using: &random)
        let path = server.directory + "/snapshot.bin"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))

        // Start the upload on another thread.
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            do {
                try client.write(key: "generations/g/snapshots/0000000000000001.snapshot", from: .file(path: path))
                outcome.set(nil)
            } catch {
                outcome.set("\(error)")
            }
            done.signal()
        }

        // Kill the server once two parts are up, then bring it back on the same ports and data.
        let deadline = Date().addingTimeInterval(60)
        while client.counts.partsUploaded < 2 && Date() < deadline { usleep(5_000) }
        #expect(client.counts.partsUploaded >= 2, "the upload did not start")
        #expect(client.counts[.completeMultipartUpload] == 0, "the upload finished before the outage")
        server.kill()
        usleep(500_000)
        try server.start()

        // The write completes by itself, after retries, and the object is intact.
        #expect(done.wait(timeout: .now() + 120) == .success, "the write did not finish")
        #expect(outcome.error == nil, "\(outcome.error ?? "")")
        let counts = client.counts
        print("killedMidUpload: counts after the outage: \(counts)")
        #expect(counts.retries >= 1)
        #expect(counts.partsUploaded >= 8)
        #expect(counts[.completeMultipartUpload] == 1)
        #expect(try client.read(key: "generations/g/snapshots/0000000000000001.snapshot") == bytes)
        #expect(try client.list(prefix: "generations/") == [
            ObjectInfo(key: "generations/g/snapshots/0000000000000001.snapshot", size: Int64(bytes.count)),
        ])
    }

    static func randomBytes(count: Int, using rng: inout SeededRandom) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { raw in
            for i in stride(from: 0, to: count - 7, by: 8) { raw.storeBytes(of: rng.next(), toByteOffset: i, as: UInt64.self) }
        }
        return bytes
    }
}

/// The result of a background write.
private final class Outcome: @unchecked Sendable {
    // @unchecked Sendable because `value` is only touched under `lock`.
    private let lock = NSLock()
    private var value: String?? = .none
    func set(_ error: String?) { lock.lock(); value = .some(error); lock.unlock() }
    var error: String? { lock.lock(); defer { lock.unlock() }; return value ?? "no outcome" }
}
