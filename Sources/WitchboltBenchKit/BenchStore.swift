// What an engine must do for the benchmark: one write transaction of many puts, one read
// transaction of many gets, one cursor scan. `witchbolt-bench` adds LMDB behind the same
// protocol; this module knows only Witchbolt (so the `witchbolt` executable never links LMDB).

/// An open database of one engine, holding the benchmark's keys in one bucket (or table).
public protocol BenchStore: AnyObject {
    /// Puts `keys` (with their values) in one write transaction and commits it.
    func insert(_ keys: ArraySlice<UInt64>, data: BenchData) throws
    /// Reads every key of `keys` in one read transaction, touching the first byte of each
    /// value; returns how many were found.
    func read(_ keys: [UInt64], data: BenchData) throws -> Int
    /// Walks every key in order in one read transaction, touching the first byte of each
    /// value; returns how many keys it saw.
    func scan() throws -> Int
    /// Called after a write workload's last commit: waits for replication, if any, and
    /// returns its lag figures (nil without replication).
    func finishWrites() throws -> ReplicationLag?
    /// Closes the database.
    func close() throws
}

extension BenchStore {
    /// Without replication there is nothing to wait for.
    public func finishWrites() throws -> ReplicationLag? { nil }
}

/// An engine the benchmark can run.
public protocol BenchEngine: Sendable {
    /// Its name in results: "witchbolt" or "lmdb".
    var name: String { get }
    /// Opens (creating) the database file at `path`.
    func open(path: String, config: BenchConfig) throws -> any BenchStore
    /// The files the database at `path` consists of (to measure and remove them).
    func files(path: String) -> [String]
    /// Whether it streams every commit to a replica.
    var replicates: Bool { get }
}

extension BenchEngine {
    /// Engines replicate nothing unless they say so.
    public var replicates: Bool { false }
}
