// The replica workloads of `witchbolt-bench --replicate`: `snapshot` (a full snapshot of a
// loaded database written to a new replica: the stream opened on the file starts a generation
// with a base snapshot, and the workload ends when the replica holds it), `restore` (that
// replica restored into a new file, with the restore's own checks), and the baseline of
// restore, a plain copy of the database file (read, write, fsync). Each is timed and its peak
// resident anonymous memory sampled (the mapped file is not anonymous memory).

import Foundation
import Witchbolt
import WitchboltStream

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs the snapshot, restore and copy workloads against one replica URL.
public struct ReplicaWorkloads {
    /// The replica URL; each snapshot goes to a new replica under it (`snapshot-<pid>-<n>`).
    public let replicaURL: String
    /// Keep the replicas and restored files afterwards.
    public let keep: Bool

    /// The workloads for `replicaURL`; throws when it is not a replica URL.
    public init(replicaURL: String, keep: Bool) throws {
        _ = try ReplicaFactory.config(url: replicaURL)
        self.replicaURL = replicaURL
        self.keep = keep
    }

    /// A replica holding a snapshot of a database; `remove()` deletes it (unless kept).
    public struct SnapshotReplica {
        /// Its URL.
        public let url: String
        let config: any ReplicaConfig

        /// Deletes the replica's objects.
        public func remove() { try? ReplicaCleanup.remove(config) }
    }

    /// Writes a full snapshot of the database at `path` to a new replica: opens the database
    /// with a stream (its first act is a base snapshot) and waits until the replica holds it.
    public func snapshot(databasePath path: String, run: Int) throws -> (BenchResult, SnapshotReplica) {
        let url = StreamBenchEngine.url(replicaURL, appending: "snapshot-\(getpid())-\(run)")
        let replica = try ReplicaFactory.config(url: url)
        let shadow = path + "-snapshot-stream"
        try? FileManager.default.removeItem(atPath: shadow)
        defer { if !keep { try? FileManager.default.removeItem(atPath: shadow) } }
        let bytes = fileSize(path)

        // Time from the open to the replica holding the snapshot; sample memory all along.
        let start = ContinuousClock.now
        let (caughtUp, memory) = try MemorySampler.measure { () throws -> Bool in
            let handle = StreamHandle()
            var options = DB.Options()
            options.pageFlushObservers = [Stream.observer(StreamConfig(shadowDirectory: shadow, replicas: [replica]), handle: handle)]
            let db = try DB.open(path: path, options: options)
            defer { try? db.close() }
            guard let controller = handle.controller else { throw BenchError("\(path): the stream did not start") }
            return controller.flush(timeout: .seconds(3600))
        }
        let seconds = elapsed(since: start)
        guard caughtUp else { throw BenchError("\(replica.description): the snapshot did not reach the replica within an hour") }
        var result = BenchResult(engine: "witchbolt+stream", workload: .snapshot, ops: 1, seconds: seconds, fileBytes: bytes)
        result.replicate = true
        result.bytes = bytes
        result.memory = memory
        return (result, SnapshotReplica(url: url, config: replica))
    }

    /// Restores `replica` into a new file at `output` (removed afterwards unless kept).
    public func restore(_ replica: SnapshotReplica, to output: String) throws -> BenchResult {
        unlink(output)
        defer { if !keep { unlink(output) } }
        let client = try replica.config.makeClient()
        defer { client.close() }
        let start = ContinuousClock.now
        let (restored, memory) = try MemorySampler.measure {
            try Restorer.restore(from: [client], options: RestoreOptions(outputPath: output))
        }
        let seconds = elapsed(since: start)
        guard restored != nil else { throw BenchError("\(replica.url): nothing to restore") }
        let bytes = fileSize(output)
        var result = BenchResult(engine: "witchbolt+stream", workload: .restore, ops: 1, seconds: seconds, fileBytes: bytes)
        result.replicate = true
        result.bytes = bytes
        result.memory = memory
        return result
    }

    /// The baseline of restore: copies the first `limit` bytes of `source` (all without a
    /// limit; a restore writes the database's pages up to its high-water mark, fewer than the
    /// file, which grows ahead) to `output` with 1 MiB reads and writes, then fsync; removed
    /// afterwards unless kept. Engine name `copy`.
    public func plainCopy(from source: String, to output: String, limit: Int64? = nil) throws -> BenchResult {
        unlink(output)
        defer { if !keep { unlink(output) } }
        let start = ContinuousClock.now
        let (bytes, memory) = try MemorySampler.measure { try copyFile(source, output, limit: limit ?? .max) }
        let seconds = elapsed(since: start)
        var result = BenchResult(engine: "copy", workload: .restore, ops: 1, seconds: seconds, fileBytes: bytes)
        result.bytes = bytes
        result.memory = memory
        return result
    }
}

/// Copies `source` (at most `limit` bytes) to a new file `output` in 1 MiB chunks and fsyncs
/// it; returns the bytes copied.
func copyFile(_ source: String, _ output: String, limit: Int64 = .max) throws -> Int64 {
    let input = open(source, O_RDONLY)
    guard input >= 0 else { throw BenchError("copy: cannot open \(source): errno \(errno)") }
    defer { close(input) }
    let out = open(output, O_WRONLY | O_CREAT | O_EXCL, 0o644)
    guard out >= 0 else { throw BenchError("copy: cannot create \(output): errno \(errno)") }
    defer { close(out) }
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    var total: Int64 = 0
    while total < limit {
        let want = Int(min(Int64(buffer.count), limit - total))
        let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress!, want) }
        if n < 0 { throw BenchError("copy: cannot read \(source): errno \(errno)") }
        if n == 0 { break }
        var done = 0
        while done < n {
            let w = buffer.withUnsafeBytes { write(out, $0.baseAddress! + done, n - done) }
            if w <= 0 { throw BenchError("copy: cannot write \(output): errno \(errno)") }
            done += w
        }
        total += Int64(n)
    }
    guard fsync(out) == 0 else { throw BenchError("copy: cannot fsync \(output): errno \(errno)") }
    return total
}

/// The size of the file at `path` (0 when it cannot be read).
func fileSize(_ path: String) -> Int64 {
    var st = stat()
    return stat(path, &st) == 0 ? Int64(st.st_size) : 0
}
