// Witchbolt behind the benchmark's protocol: one bucket "bench", puts through the public API
// (keys and values as arrays), reads and scans in place (`withValue`, `forEachInPlace`), as
// LMDB hands out pointers into its map.

import Witchbolt

/// The Witchbolt engine for the benchmark.
public struct WitchboltBenchEngine: BenchEngine {
    /// Page-flush observers to open the database with (e.g. a stream, to measure replication's cost).
    public var observers: [PageFlushObserverRegistration]

    /// The engine, optionally with page-flush observers.
    public init(observers: [PageFlushObserverRegistration] = []) {
        self.observers = observers
    }

    public var name: String { "witchbolt" }

    public func open(path: String, config: BenchConfig) throws -> any BenchStore {
        try openStore(path: path, config: config)
    }

    func openStore(path: String, config: BenchConfig) throws -> WitchboltBenchStore {
        var options = DB.Options()
        options.noSync = config.noSync
        options.pageSize = config.pageSize
        options.pageFlushObservers = observers
        return try WitchboltBenchStore(db: DB.open(path: path, options: options), fillPercent: config.fillPercent)
    }

    public func files(path: String) -> [String] { [path] }
}

/// An open Witchbolt database with the benchmark bucket.
final class WitchboltBenchStore: BenchStore {
    private let db: DB
    private let fillPercent: Double
    private static let bucketName = Array("bench".utf8)
    /// Called with the txid of each insert transaction after it committed (replication lag).
    var onCommit: ((UInt64) -> Void)?

    init(db: DB, fillPercent: Double) throws {
        self.db = db
        self.fillPercent = fillPercent
        try db.update { tx in _ = try tx.createBucketIfNotExists(Self.bucketName) }
    }

    func insert(_ keys: ArraySlice<UInt64>, data: BenchData) throws {
        let txID = try db.update { tx in
            guard let bucket = try tx.bucket(Self.bucketName) else { throw BenchError("bucket bench is missing") }
            bucket.fillPercent = fillPercent
            for n in keys { try bucket.put(data.key(n), data.value(n)) }
            return tx.id
        }
        onCommit?(txID)
    }

    func read(_ keys: [UInt64], data: BenchData) throws -> Int {
        try db.view { tx in
            guard let bucket = try tx.bucket(Self.bucketName) else { throw BenchError("bucket bench is missing") }
            var found = 0
            var touched: UInt8 = 0
            for n in keys {
                try bucket.withValue(data.key(n)) { value in
                    if let value, !value.isEmpty {
                        found += 1
                        touched &+= value[0]
                    }
                }
            }
            blackHole(touched)
            return found
        }
    }

    func scan() throws -> Int {
        try db.view { tx in
            guard let bucket = try tx.bucket(Self.bucketName) else { throw BenchError("bucket bench is missing") }
            var seen = 0
            var touched: UInt8 = 0
            try bucket.forEachInPlace { _, value in
                seen += 1
                if let value, !value.isEmpty { touched &+= value[0] }
            }
            blackHole(touched)
            return seen
        }
    }

    func close() throws { try db.close() }
}

/// A benchmark failure with a message.
public struct BenchError: Error, CustomStringConvertible {
    /// What went wrong.
    public var description: String
    /// A failure saying `message`.
    public init(_ message: String) { description = message }
}

/// Keeps `value` alive so that the optimiser cannot drop the work that made it.
@inline(never)
public func blackHole<T>(_ value: T) {
    withExtendedLifetime(value) {}
}
