// Runs workloads on one engine: loads (or reuses) the file the reads read, times each
// workload with a monotonic clock, measures each write transaction's latency and the file's
// size, and removes the files unless asked to keep them.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs the benchmark's workloads on one engine in one directory.
public struct BenchRunner {
    /// The engine.
    public let engine: any BenchEngine
    /// The keys, values and orders.
    public let data: BenchData
    /// The directory the database files go in.
    public let directory: String
    /// Keep the files afterwards (and print their paths).
    public let keepFiles: Bool
    /// Where progress goes (standard error in the executables).
    public let progress: (String) -> Void

    /// A runner.
    public init(engine: any BenchEngine, data: BenchData, directory: String, keepFiles: Bool, progress: @escaping (String) -> Void = { _ in }) {
        self.engine = engine
        self.data = data
        self.directory = directory
        self.keepFiles = keepFiles
        self.progress = progress
    }

    /// The path of the file a workload writes (`rnd-read` and `seq-scan` read the `seq-insert` file).
    public func path(for workload: BenchWorkload) -> String {
        switch workload {
        case .seqInsert, .rndRead, .seqScan, .snapshot, .restore: "\(directory)/\(engine.name)-loaded.db"
        case .rndInsert: "\(directory)/\(engine.name)-rnd-insert.db"
        case .durableCommit: "\(directory)/\(engine.name)-commits.db"
        }
    }

    /// Runs `workloads` in the order seq-insert, rnd-read, seq-scan, rnd-insert, durable-commit
    /// (the reads need the loaded file; without seq-insert it is loaded untimed).
    public func run(_ workloads: Set<BenchWorkload>) throws -> [BenchResult] {
        var results: [BenchResult] = []
        let config = data.config
        defer { if !keepFiles { for w in BenchWorkload.allCases { remove(path(for: w)) } } }

        // The loaded file: sequential inserts, timed when asked for, then the reads on it.
        if workloads.contains(.seqInsert) || workloads.contains(where: \.readsLoadedFile) {
            let path = path(for: .seqInsert)
            remove(path)
            let store = try engine.open(path: path, config: config)
            do {
                let load = try insert(store, order: Array(0..<UInt64(config.count)), batchSize: config.batchSize, workload: .seqInsert)
                let lag = try store.finishWrites()
                if workloads.contains(.seqInsert) {
                    results.append(result(.seqInsert, ops: config.count, load, lag: lag, path: path))
                }
                if workloads.contains(.rndRead) {
                    let start = ContinuousClock.now
                    let found = try store.read(data.readOrder, data: data)
                    let seconds = elapsed(since: start)
                    guard found == config.count else { throw BenchError("\(engine.name) rnd-read found \(found) of \(config.count) keys") }
                    results.append(BenchResult(engine: engine.name, workload: .rndRead, ops: found, seconds: seconds))
                }
                if workloads.contains(.seqScan) {
                    let start = ContinuousClock.now
                    let seen = try store.scan()
                    let seconds = elapsed(since: start)
                    guard seen == config.count else { throw BenchError("\(engine.name) seq-scan saw \(seen) of \(config.count) keys") }
                    results.append(BenchResult(engine: engine.name, workload: .seqScan, ops: seen, seconds: seconds))
                }
                try store.close()
            } catch {
                try? store.close()
                throw error
            }
        }

        // Random inserts into a new file.
        if workloads.contains(.rndInsert) {
            let path = path(for: .rndInsert)
            remove(path)
            let store = try engine.open(path: path, config: config)
            defer { try? store.close() }
            let load = try insert(store, order: data.insertOrder, batchSize: config.batchSize, workload: .rndInsert)
            results.append(result(.rndInsert, ops: config.count, load, lag: try store.finishWrites(), path: path))
        }

        // One put a transaction, durable unless noSync, into a new file.
        if workloads.contains(.durableCommit) {
            let path = path(for: .durableCommit)
            remove(path)
            let store = try engine.open(path: path, config: config)
            defer { try? store.close() }
            let commits = try insert(store, order: Array(0..<UInt64(config.commitCount)), batchSize: 1, workload: .durableCommit)
            results.append(result(.durableCommit, ops: config.commitCount, commits, lag: try store.finishWrites(), path: path))
        }
        if keepFiles {
            for w in Set(workloads.map { path(for: $0) }).sorted() { progress("kept \(w)") }
        }
        return results
    }

    /// Inserts keys in `order`, `batchSize` a transaction, timing the whole and each transaction.
    public func insert(_ store: any BenchStore, order: [UInt64], batchSize: Int, workload: BenchWorkload) throws -> (seconds: Double, latencies: [Double]) {
        var latencies: [Double] = []
        latencies.reserveCapacity(order.count / batchSize + 1)
        let step = max(1, order.count / batchSize / 10)
        let start = ContinuousClock.now
        var index = 0
        var batches = 0
        while index < order.count {
            let end = min(index + batchSize, order.count)
            let txStart = ContinuousClock.now
            try store.insert(order[index..<end], data: data)
            latencies.append(elapsed(since: txStart) * 1e6)
            index = end
            batches += 1
            if batches % step == 0 { progress("\(engine.name) \(workload.rawValue): \(index) of \(order.count)") }
        }
        return (elapsed(since: start), latencies)
    }

    /// The result of a write workload, with its replication lag when the engine replicates.
    private func result(_ workload: BenchWorkload, ops: Int, _ timed: (seconds: Double, latencies: [Double]), lag: ReplicationLag?, path: String) -> BenchResult {
        var r = BenchResult(engine: engine.name, workload: workload, ops: ops, seconds: timed.seconds, latencies: timed.latencies, fileBytes: size(path))
        r.replicate = engine.replicates
        r.lag = lag
        return r
    }

    /// The size of the database files at `path`.
    func size(_ path: String) -> Int64 {
        engine.files(path: path).reduce(0) { total, file in
            var st = stat()
            return total + (stat(file, &st) == 0 ? Int64(st.st_size) : 0)
        }
    }

    private func remove(_ path: String) {
        for file in engine.files(path: path) { unlink(file) }
    }

    /// Removes the files `workload` writes.
    func removeFiles(of workload: BenchWorkload) {
        remove(path(for: workload))
    }
}

/// Seconds since `start` on the continuous clock.
public func elapsed(since start: ContinuousClock.Instant) -> Double {
    let d = start.duration(to: .now)
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}
