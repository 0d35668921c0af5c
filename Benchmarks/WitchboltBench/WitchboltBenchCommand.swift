// The `witchbolt-bench` command: runs the chosen workloads on Witchbolt, LMDB or both, --runs
// times with the engines alternating which goes first, and prints each engine's median run
// per workload (human-readable, or one JSON object a line), and with both engines the ratio
// Witchbolt / LMDB per workload.

import ArgumentParser
import WitchboltBenchKit

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
            """
    )

    enum Engine: String, ExpressibleByArgument, CaseIterable {
        case witchbolt, lmdb, both
    }

    @Option(help: "The engine: witchbolt, lmdb or both.")
    var engine: Engine = .both

    @Option(help: "Comma-separated workloads: seq-insert, rnd-insert, rnd-read, seq-scan, durable-commit.")
    var workloads = BenchWorkload.allCases.map(\.rawValue).joined(separator: ",")

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

    @Flag(help: "Print one JSON object a line instead of a table.")
    var json = false

    private var chosenWorkloads: Set<BenchWorkload> {
        Set(workloads.split(separator: ",").compactMap { BenchWorkload(rawValue: $0.trimmingCharacters()) })
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
        for name in workloads.split(separator: ",") where BenchWorkload(rawValue: name.trimmingCharacters()) == nil {
            throw ValidationError("unknown workload '\(name)'; choose from \(BenchWorkload.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if chosenWorkloads.isEmpty { throw ValidationError("choose at least one workload") }
        if runs < 1 { throw ValidationError("--runs must be at least 1") }
        if let problem = config.problem() { throw ValidationError(problem) }
    }

    func run() throws {
        let directory = try workDirectory()
        let data = BenchData(config: config)
        let engines: [any BenchEngine] = switch engine {
        case .witchbolt: [WitchboltBenchEngine()]
        case .lmdb: [LMDBBenchEngine()]
        case .both: [WitchboltBenchEngine(), LMDBBenchEngine()]
        }
        let progress: (String) -> Void = { message in
            let bytes = Array((message + "\n").utf8)
            _ = bytes.withUnsafeBytes { write(2, $0.baseAddress!, $0.count) }
        }

        // Run each engine `runs` times, alternating which engine goes first.
        var results: [String: [BenchWorkload: [BenchResult]]] = [:]
        for run in 0..<runs {
            let order = run % 2 == 0 ? engines : engines.reversed()
            for e in order {
                progress("run \(run + 1) of \(runs): \(e.name)")
                let runner = BenchRunner(engine: e, data: data, directory: directory, keepFiles: work && run == runs - 1, progress: progress)
                for r in try runner.run(chosenWorkloads) {
                    results[e.name, default: [:]][r.workload, default: []].append(r)
                    progress("  " + r.summary)
                }
            }
        }
        if !work && path == nil { rmdir(directory) }

        // Report each engine's median run per workload, then the ratios.
        for workload in BenchWorkload.allCases where chosenWorkloads.contains(workload) {
            var medians: [String: BenchResult] = [:]
            for e in engines {
                guard let m = BenchResult.median(results[e.name]?[workload] ?? []) else { continue }
                medians[e.name] = m
                print(json ? m.jsonLine : m.summary)
            }
            if let w = medians["witchbolt"], let l = medians["lmdb"], l.opsPerSecond > 0 {
                let ratio = w.opsPerSecond / l.opsPerSecond
                print(json ? "{\"workload\":\"\(workload.rawValue)\",\"ratio\":\(fixed(ratio, 3))}" : "ratio witchbolt/lmdb \(workload.rawValue): \(fixed(ratio, 2))")
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
