// The `witchbolt-bench` command: runs the chosen workloads on Witchbolt, LMDB or both, --runs
// times with the engines alternating which goes first, and prints each engine's median run
// per workload (human-readable, or one JSON object a line), and with both engines the ratio
// Witchbolt / LMDB per workload. With --replicate, Witchbolt's write workloads also run with
// Stream on (engine `witchbolt+stream`, alternated with the others) with their replication
// lag, the ratio without / with Stream is printed, and the snapshot and restore workloads run
// against the replica (restore beside a plain copy of the same file).

import ArgumentParser
import WitchboltBenchKit
import WitchboltStream

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct WitchboltBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "witchbolt-bench",
        abstract: "Benchmark Witchbolt beside LMDB on the same workloads.",
        discussion: """
            Workloads: seq-insert (keys in order, --batch-size puts a transaction), rnd-insert (the same \
            keys shuffled), rnd-read (every key once, shuffled, one read transaction, on the seq-insert \
            file), seq-scan (a cursor over all keys touching each value's first byte), durable-commit \
            (--commit-count transactions of one put, fsync on unless --no-sync; latency percentiles). \
            Keys are 8-byte big-endian integers, values random bytes, the same for both engines.
            With --replicate URL: the write workloads run on Witchbolt with and without Stream (engine \
            witchbolt+stream: replication lag p50/p99/max, catch-up time after the last commit); \
            snapshot (a full snapshot of a seq-insert database written to the replica; peak anonymous \
            memory above the baseline) and restore (that snapshot restored into a new file, beside a \
            plain copy of the file: engine copy) run too. Each database gets its own replica under URL.
            """
    )

    enum Engine: String, ExpressibleByArgument, CaseIterable {
        case witchbolt, lmdb, both
    }

    @Option(help: "The engine: witchbolt, lmdb or both.")
    var engine: Engine = .both

    @Option(help: "Comma-separated workloads: seq-insert, rnd-insert, rnd-read, seq-scan, durable-commit, snapshot, restore (default: all; snapshot and restore with --replicate).")
    var workloads: String?

    @Option(help: "Also run the write workloads with Stream on, and snapshot and restore, against this replica (file:///dir, s3://, sftp://, nats://); each database gets its own replica under it.")
    var replicate: String?

    @Option(help: "With --replicate: when Stream syncs its open-segment log, on-seal (the default) or every-batch.")
    var shadowLogSync = ShadowLogSync.onSeal.rawValue

    @Option(help: "With --replicate: how Stream compresses artefacts, zstd:LEVEL (-7 to 22) or none.")
    var compression = "zstd:\(CompressionCodec.default.level)"

    @Option(help: "With --replicate: the directory for the shadow directories (default: beside each database file; another disk shows what the shared disk costs).")
    var shadowDir: String?

    @Option(help: "Number of keys.")
    var count = 1_000_000

    @Option(help: "Puts a write transaction in the insert workloads.")
    var batchSize = 1_000

    @Option(help: "Key size in bytes (the key number big-endian in the first 8).")
    var keySize = 8

    @Option(help: "Value size in bytes.")
    var valueSize = 100

    @Option(help: "Witchbolt's fill percent (0.1 to 1.0).")
    var fillPercent = 0.5

    @Option(help: "Witchbolt's page size (0: default 4096).")
    var pageSize = 0

    @Option(help: "Transactions in durable-commit.")
    var commitCount = 10_000

    @Flag(help: "Skip fsync (Witchbolt noSync, LMDB MDB_NOSYNC).")
    var noSync = false

    @Option(help: "The directory for the database files (default: a new one in the temporary directory).")
    var path: String?

    @Flag(help: "Keep the database files afterwards and print their paths.")
    var work = false

    @Option(help: "Runs per engine; each result is the median run.")
    var runs = 5

    @Option(help: "With two engines, fsync on and no --replicate, durable-commit runs the engines in alternating turns of this many commits (0: each engine's commits in one stretch).")
    var interleave = 250

    @Flag(help: "Print one JSON object a line instead of a table.")
    var json = false

    private var chosenWorkloads: Set<BenchWorkload> {
        guard let workloads else {
            return Set(BenchWorkload.engineWorkloads + (replicate != nil ? BenchWorkload.replicaWorkloads : []))
        }
        return Set(workloads.split(separator: ",").compactMap { BenchWorkload(rawValue: $0.trimmingCharacters()) })
    }

    private var config: BenchConfig {
        var c = BenchConfig()
        c.count = count
        c.batchSize = batchSize
        c.keySize = keySize
        c.valueSize = valueSize
        c.fillPercent = fillPercent
        c.pageSize = pageSize
        c.noSync = noSync
        c.commitCount = commitCount
        return c
    }

    func validate() throws {
        for name in (workloads ?? "").split(separator: ",") where BenchWorkload(rawValue: name.trimmingCharacters()) == nil {
            throw ValidationError("unknown workload '\(name)'; choose from \(BenchWorkload.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if chosenWorkloads.isEmpty { throw ValidationError("choose at least one workload") }
        if replicate == nil, let needs = chosenWorkloads.first(where: \.needsReplica) {
            throw ValidationError("the \(needs.rawValue) workload needs --replicate URL")
        }
        if replicate != nil && engine == .lmdb { throw ValidationError("--replicate replicates Witchbolt: choose --engine witchbolt or both") }
        if runs < 1 { throw ValidationError("--runs must be at least 1") }
        if interleave < 0 { throw ValidationError("--interleave must be 0 (off) or a number of commits") }
        do {
            _ = try ShadowLogSync(parsing: shadowLogSync)
        } catch {
            throw ValidationError("--shadow-log-sync: \(error)")
        }
        if CompressionCodec(string: compression) == nil {
            throw ValidationError("--compression: '\(compression)' is not zstd:LEVEL (-7 to 22) or none")
        }
        if let problem = config.problem() { throw ValidationError(problem) }
    }

    func run() throws {
        let directory = try workDirectory()
        let data = BenchData(config: config)
        var engines: [any BenchEngine] = switch engine {
        case .witchbolt: [WitchboltBenchEngine()]
        case .lmdb: [LMDBBenchEngine()]
        case .both: [WitchboltBenchEngine(), LMDBBenchEngine()]
        }
        var replicaWorkloads: ReplicaWorkloads?
        if let replicate {
            do {
                var stream = try StreamBenchEngine(replicaURL: replicate, replicaPerDatabase: true, keep: work)
                stream.shadowLogSync = try ShadowLogSync(parsing: shadowLogSync)
                stream.compression = CompressionCodec(string: compression) ?? .default
                stream.shadowParent = shadowDir
                engines.insert(stream, at: 1)
                replicaWorkloads = try ReplicaWorkloads(replicaURL: replicate, keep: work)
            } catch {
                throw ValidationError("--replicate: \(error)")
            }
        }
        let progress: (String) -> Void = { message in
            let bytes = Array((message + "\n").utf8)
            _ = bytes.withUnsafeBytes { write(2, $0.baseAddress!, $0.count) }
        }

        // The database that snapshot and restore copy: loaded once, untimed.
        let replicaChosen = chosenWorkloads.filter(\.needsReplica)
        let source = "\(directory)/replica-source.db"
        if replicaWorkloads != nil && !replicaChosen.isEmpty {
            progress("loading \(source) for snapshot and restore")
            let loader = BenchRunner(engine: WitchboltBenchEngine(), data: data, directory: directory, keepFiles: true, progress: progress)
            unlink(source)
            let store = try WitchboltBenchEngine().open(path: source, config: config)
            _ = try loader.insert(store, order: Array(0..<UInt64(count)), batchSize: batchSize, workload: .seqInsert)
            try store.close()
        }

        // Run each engine `runs` times, alternating which engine goes first; Stream runs the
        // write workloads only. Then snapshot and restore, restore and copy alternating.
        var results: [String: [BenchWorkload: [BenchResult]]] = [:]
        func note(_ r: BenchResult) {
            results[r.engine, default: [:]][r.workload, default: []].append(r)
            progress("  " + r.summary)
        }
        // Durable commits of Witchbolt and LMDB take turns within a run (see InterleavedCommits).
        let interleaved = interleave > 0 && engines.count == 2 && replicate == nil && !noSync && chosenWorkloads.contains(.durableCommit)
        var databaseBytes: Int64?
        // Each interleaved run's own Witchbolt / LMDB ratio: the two engines met the same disk.
        var pairedRatios: [BenchWorkload: [Double]] = [:]
        // With Stream, each write workload runs on Witchbolt without and with it back to back,
        // and each run's pair gives its own overhead: medians of runs tens of seconds apart
        // met different disks (a pair's plain side moved 56,800-63,500 random inserts/s
        // between invocations while the replicated side held 56,100-58,300).
        let pairedWrites = replicate == nil ? [] : BenchWorkload.writeWorkloads.filter { chosenWorkloads.contains($0) }
        var overheadPairs: [BenchWorkload: [Double]] = [:]
        for run in 0..<runs {
            let order = run % 2 == 0 ? engines : engines.reversed()
            for workload in pairedWrites {
                var seconds: [Bool: Double] = [:]
                for e in order where e.replicates || e.name == "witchbolt" {
                    progress("run \(run + 1) of \(runs): \(e.name) \(workload.rawValue)")
                    let runner = BenchRunner(engine: e, data: data, directory: directory, keepFiles: work && run == runs - 1, progress: progress)
                    for r in try runner.run([workload]) {
                        note(r)
                        if r.opsPerSecond > 0 { seconds[e.replicates] = 1 / r.opsPerSecond }
                    }
                }
                if let with = seconds[true], let without = seconds[false], without > 0 {
                    overheadPairs[workload, default: []].append(with / without)
                }
            }
            for e in order {
                var chosen = e.replicates ? chosenWorkloads.intersection(BenchWorkload.writeWorkloads) : chosenWorkloads.subtracting(BenchWorkload.replicaWorkloads)
                if interleaved { chosen.remove(.durableCommit) }
                if e.replicates || e.name == "witchbolt" { chosen.subtract(pairedWrites) }
                guard !chosen.isEmpty else { continue }
                progress("run \(run + 1) of \(runs): \(e.name)")
                let runner = BenchRunner(engine: e, data: data, directory: directory, keepFiles: work && run == runs - 1, progress: progress)
                for r in try runner.run(chosen) { note(r) }
            }
            if interleaved {
                progress("run \(run + 1) of \(runs): durable-commit, \(engines.map(\.name).joined(separator: " and ")) in turns of \(interleave)")
                let runners = engines.map { BenchRunner(engine: $0, data: data, directory: directory, keepFiles: work && run == runs - 1, progress: progress) }
                let paired = try InterleavedCommits(runners: runners, blockSize: interleave).run(first: run % 2)
                for r in paired { note(r) }
                if let w = paired.first(where: { $0.engine == "witchbolt" }), let l = paired.first(where: { $0.engine == "lmdb" }), l.opsPerSecond > 0 {
                    pairedRatios[.durableCommit, default: []].append(w.opsPerSecond / l.opsPerSecond)
                }
            }
            if let replicaWorkloads, !replicaChosen.isEmpty {
                progress("run \(run + 1) of \(runs): snapshot and restore")
                let (snapshot, replica) = try replicaWorkloads.snapshot(databasePath: source, run: run)
                defer { if !work { replica.remove() } }
                if replicaChosen.contains(.snapshot) { note(snapshot) }
                if replicaChosen.contains(.restore) {
                    // The copy moves the same bytes as the restore: the file up to the high-water
                    // mark (the first run restores first, to learn it).
                    let restore = {
                        let r = try replicaWorkloads.restore(replica, to: "\(directory)/restored.db")
                        databaseBytes = r.bytes
                        note(r)
                    }
                    let copy = { try note(replicaWorkloads.plainCopy(from: source, to: "\(directory)/copied.db", limit: databaseBytes)) }
                    if run % 2 == 0 { try restore(); try copy() } else { try copy(); try restore() }
                }
            }
        }
        if !work { unlink(source) }
        if !work && path == nil { rmdir(directory) }

        // Report each engine's median run per workload, then the ratios.
        for workload in BenchWorkload.allCases where chosenWorkloads.contains(workload) {
            var medians: [String: BenchResult] = [:]
            for name in engines.map(\.name) + ["copy"] {
                let runs = results[name]?[workload] ?? []
                guard var m = BenchResult.median(runs) else { continue }
                // Memory: the worst run counts against the target, not the median one.
                m.worstPeakAnonAboveBaselineBytes = runs.compactMap { $0.memory?.aboveBaselineBytes }.max()
                medians[name] = m
                print(json ? m.jsonLine : m.summary)
            }
            if let runs = pairedRatios[workload], !runs.isEmpty {
                // Interleaved runs: the median of the runs' own ratios (the medians of the two
                // engines may come from different runs, which met different disks).
                let paired = PairedRatios(runs: runs)
                print(json ? "{\"workload\":\"\(workload.rawValue)\",\"ratio\":\(fixed(paired.median, 3)),\(paired.jsonFields)}"
                           : "ratio witchbolt/lmdb \(workload.rawValue): \(fixed(paired.median, 2)) (median of \(runs.count) runs' own ratios, engines in turns of \(interleave): \(paired.list))")
            } else if let w = medians["witchbolt"], let l = medians["lmdb"], l.opsPerSecond > 0 {
                let ratio = w.opsPerSecond / l.opsPerSecond
                print(json ? "{\"workload\":\"\(workload.rawValue)\",\"ratio\":\(fixed(ratio, 3))}" : "ratio witchbolt/lmdb \(workload.rawValue): \(fixed(ratio, 2))")
            }
            if let runs = overheadPairs[workload], !runs.isEmpty {
                // Time with / without Stream, the median of the runs' own pairs: 1.08 means
                // replication costs 8% of the workload's time.
                let paired = PairedRatios(runs: runs)
                let ratio = paired.median
                print(json ? "{\"workload\":\"\(workload.rawValue)\",\"replicate\":true,\"replicationOverhead\":\(fixed(ratio, 3)),\"overheadPercent\":\(fixed((ratio - 1) * 100, 1)),\(paired.jsonFields)}"
                           : "replication overhead \(workload.rawValue): time with/without Stream \(fixed(ratio, 3)) (\(fixed((ratio - 1) * 100, 1))%; median of \(runs.count) runs' own pairs, back to back: \(paired.list))")
            }
            if let restore = medians["witchbolt+stream"], let copy = medians["copy"], workload == .restore, copy.megabytesPerSecond > 0 {
                let ratio = restore.megabytesPerSecond / copy.megabytesPerSecond
                print(json ? "{\"workload\":\"restore\",\"replicate\":true,\"restoreVsCopy\":\(fixed(ratio, 3))}"
                           : "restore / plain copy throughput: \(fixed(ratio, 3))")
            }
        }
    }

    private func workDirectory() throws -> String {
        if let path {
            mkdir(path, 0o755)
            return path
        }
        let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array("\(base)/witchbolt-bench-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw BenchError("cannot create a directory in \(base)")
        }
        return String(cString: made)
    }
}

extension Substring {
    /// Without leading and trailing spaces.
    func trimmingCharacters() -> String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
