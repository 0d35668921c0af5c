// The benchmark's workloads and settings, shared by `witchbolt bench` (Witchbolt only) and
// `witchbolt-bench` (Witchbolt beside LMDB), so that both engines get the same keys, in the
// same order, with the same values.

/// One benchmark workload.
public enum BenchWorkload: String, CaseIterable, Sendable {
    /// Keys 0..<count in ascending order, `batchSize` puts a write transaction, into a new file.
    case seqInsert = "seq-insert"
    /// The same keys in a shuffled order, into a new file.
    case rndInsert = "rnd-insert"
    /// Every key once, in a shuffled order, in one read transaction, from the loaded file.
    case rndRead = "rnd-read"
    /// A cursor over every key in order, touching the first byte of each value, in one read transaction.
    case seqScan = "seq-scan"
    /// `commitCount` write transactions of one put each (fsync on unless `noSync`), with latencies.
    case durableCommit = "durable-commit"
    /// A full snapshot of the loaded (`seq-insert`) database written to a replica (needs a replica).
    case snapshot = "snapshot"
    /// That snapshot restored from the replica into a new file, beside a plain copy of the same
    /// bytes (needs a replica).
    case restore = "restore"

    /// The workloads an engine runs by itself (no replica needed).
    public static let engineWorkloads: [BenchWorkload] = [.seqInsert, .rndInsert, .rndRead, .seqScan, .durableCommit]
    /// The write workloads, which `--replicate` runs with and without a stream.
    public static let writeWorkloads: [BenchWorkload] = [.seqInsert, .rndInsert, .durableCommit]
    /// The workloads that need a replica.
    public static let replicaWorkloads: [BenchWorkload] = [.snapshot, .restore]

    /// Whether the workload reads the file that `seq-insert` loads.
    public var readsLoadedFile: Bool { self == .rndRead || self == .seqScan }
    /// Whether the workload needs a replica.
    public var needsReplica: Bool { self == .snapshot || self == .restore }
}

/// The settings of a benchmark run (bbolt's bench flags, plus page size and commit count).
public struct BenchConfig: Sendable {
    /// Keys written by the insert workloads and read by the read workloads.
    public var count = 1_000_000
    /// Puts a write transaction in the insert workloads.
    public var batchSize = 1_000
    /// Key length in bytes: the key number big-endian in the first 8 bytes (fewer if shorter), zero padded.
    public var keySize = 8
    /// Value length in bytes (random bytes).
    public var valueSize = 100
    /// Witchbolt's fill percent for the benchmark bucket.
    public var fillPercent = 0.5
    /// The page size of new files (0: the engine's default).
    public var pageSize = 0
    /// Skip fsync (Witchbolt noSync, LMDB MDB_NOSYNC).
    public var noSync = false
    /// Transactions in `durable-commit`.
    public var commitCount = 10_000
    /// The seed of the value bytes and the shuffles.
    public var seed: UInt64 = 0x5EED_B0B7

    /// The defaults: 1,000,000 keys of 8 bytes, 100-byte values, 1,000 puts a transaction.
    public init() {}

    /// A problem with the settings, or nil.
    public func problem() -> String? {
        if count < 1 { return "--count must be at least 1" }
        if batchSize < 1 { return "--batch-size must be at least 1" }
        if keySize < 1 || keySize > 32768 { return "--key-size must be from 1 to 32768" }
        if keySize < 8 && UInt64(count - 1) >> UInt64(8 * keySize) != 0 { return "--key-size \(keySize) is too short for \(count) distinct keys" }
        if valueSize < 1 { return "--value-size must be at least 1" }
        if fillPercent < 0.1 || fillPercent > 1.0 { return "--fill-percent must be from 0.1 to 1.0" }
        if commitCount < 1 { return "the commit count must be at least 1" }
        return nil
    }
}
