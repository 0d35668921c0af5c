// `witchbolt bench`: bbolt's synthetic benchmark for Witchbolt alone (bbolt: cmd/bbolt bench),
// on the shared workload code of WitchboltBenchKit. A write phase (sequential or random keys,
// --batch-size puts a transaction), then a read phase (a cursor scan or random gets) on the
// same file. With --batch-size 1 every put is its own durable commit, and the write line
// carries commit latency percentiles. The side-by-side comparison with LMDB is
// `witchbolt-bench`.

import ArgumentParser
import Foundation
import Witchbolt
import WitchboltBenchKit
import WitchboltStream

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run a synthetic benchmark against a new Witchbolt database.",
        discussion: """
            Keys are 8-byte big-endian integers (zero padded to --key-size), values random bytes. \
            Prints ops/s and ns/op for the write and the read phase; with --batch-size 1, commit \
            latency percentiles. Progress goes to standard error.
            """
    )

    enum Mode: String, ExpressibleByArgument, CaseIterable {
        case seq, rnd
    }

    @Option(help: "Write keys in sequential (seq) or random (rnd) order.")
    var writeMode: Mode = .seq

    @Option(help: "Read with a cursor scan (seq) or random gets (rnd).")
    var readMode: Mode = .seq

    @Option(help: "Number of keys.")
    var count = 1000

    @Option(help: "Puts a write transaction (0: all in one; 1: one durable commit a key).")
    var batchSize = 0

    @Option(help: "Key size in bytes.")
    var keySize = 8

    @Option(help: "Value size in bytes.")
    var valueSize = 32

    @Option(help: "The bucket's fill percent (0.1 to 1.0).")
    var fillPercent = 0.5

    @Option(help: "The page size of the new database (0: the default, 4096).")
    var pageSize = 0

    @Flag(help: "Skip fsync on commit.")
    var noSync = false

    @Option(help: "The database file to create (default: a new file in the temporary directory).")
    var path: String?

    @Flag(help: "Keep the database file afterwards and print its path.")
    var work = false

    @Option(help: "Stream every commit to this replica (file:///dir, s3://, sftp://, nats://) while benchmarking.")
    var replicate: String?

    @Option(help: "With --replicate: when Stream syncs its open-segment log, on-seal (the default) or every-batch.")
    var shadowLogSync = ShadowLogSync.onSeal.rawValue

    private var config: BenchConfig {
        var c = BenchConfig()
        c.count = count
        c.batchSize = batchSize == 0 ? count : batchSize
        c.keySize = keySize
        c.valueSize = valueSize
        c.fillPercent = fillPercent
        c.pageSize = pageSize
        c.noSync = noSync
        return c
    }

    func validate() throws {
        if batchSize < 0 { throw ValidationError("--batch-size must not be negative") }
        if let problem = config.problem() { throw ValidationError(problem) }
        if batchSize > 0 && count % batchSize != 0 { throw ValidationError("--count must be a multiple of --batch-size") }
        do {
            _ = try ShadowLogSync(parsing: shadowLogSync)
        } catch {
            throw ValidationError("--shadow-log-sync: \(error)")
        }
    }

    func run() throws {
        let dbPath = path ?? "\(temporaryDirectory())/witchbolt-bench-\(getpid()).db"
        if let path, access(path, F_OK) == 0 {
            printError("witchbolt: \(path) already exists; bench creates a new database")
            throw EngineExit.failure
        }
        defer { if !work { unlink(dbPath) } }
        let config = self.config
        let data = BenchData(config: config)
        // With --replicate, a stream controller replicates every commit to the URL (its shadow
        // log beside the file, kept with --work; the replica is always kept).
        let shadow = dbPath + "-stream"
        var engine: any BenchEngine = WitchboltBenchEngine()
        if let replicate {
            do {
                var stream = try StreamBenchEngine(replicaURL: replicate, replicaPerDatabase: false, keep: true)
                stream.shadowLogSync = try ShadowLogSync(parsing: shadowLogSync)
                engine = stream
            } catch {
                printError("witchbolt: --replicate: \(error)")
                throw EngineExit.failure
            }
        }
        defer { if !work && replicate != nil { try? FileManager.default.removeItem(atPath: shadow) } }
        let runner = BenchRunner(engine: engine, data: data, directory: "", keepFiles: true) { printError($0) }
        do {
            let store = try engine.open(path: dbPath, config: config)
            defer { try? store.close() }

            // Write phase.
            let order = writeMode == .seq ? Array(0..<UInt64(count)) : data.insertOrder
            let write = try runner.insert(store, order: order, batchSize: config.batchSize, workload: writeMode == .seq ? .seqInsert : .rndInsert)
            let writeResult = BenchResult(engine: engine.name, workload: config.batchSize == 1 ? .durableCommit : (writeMode == .seq ? .seqInsert : .rndInsert),
                                          ops: count, seconds: write.seconds, latencies: write.latencies)
            print(line("Write", writeResult))
            if let lag = try store.finishWrites() {
                // How long the replica needed to hold each commit, and every commit after the last one.
                let catchUp = lag.catchUpMillis.map { "caught up \(fixed($0 / 1000, 3))s after the last commit" } ?? "NOT caught up"
                print("# Replicate\t\(catchUp)\t(lag p50 \(fixed(lag.p50Millis, 1)) ms, p99 \(fixed(lag.p99Millis, 1)) ms, max \(fixed(lag.maxMillis, 1)) ms over \(lag.commits) commits)")
            }

            // Read phase on the same file.
            let start = ContinuousClock.now
            let reads = readMode == .seq ? try store.scan() : try store.read(data.readOrder, data: data)
            let readResult = BenchResult(engine: engine.name, workload: readMode == .seq ? .seqScan : .rndRead, ops: reads, seconds: elapsed(since: start))
            guard reads == count else { throw BenchError("the read phase found \(reads) of \(count) keys") }
            print(line("Read", readResult))
        } catch let exit as ExitCode {
            throw exit
        } catch {
            printError("witchbolt: bench: \(error)")
            throw EngineExit.failure
        }
        if work { print("# Database: \(dbPath)\(replicate != nil ? " (shadow log \(shadow))" : "")") }
    }

    /// bbolt's result line, with ns/op, and commit latencies when each transaction was one put.
    private func line(_ phase: String, _ r: BenchResult) -> String {
        var s = "# \(phase)\t\(r.ops)(ops)\t\(fixed(r.seconds, 6))s\t(\(fixed(r.nsPerOp, 1)) ns/op)\t(\(grouped(r.opsPerSecond)) op/sec)"
        if phase == "Write", batchSize == 1, let p50 = r.percentile(50), let p90 = r.percentile(90), let p99 = r.percentile(99), let max = r.latencies.last {
            s += "\t(commit latency p50 \(fixed(p50, 1)) µs, p90 \(fixed(p90, 1)) µs, p99 \(fixed(p99, 1)) µs, max \(fixed(max, 1)) µs)"
        }
        return s
    }

    private func temporaryDirectory() -> String {
        if let dir = getenv("TMPDIR") { return String(cString: dir) }
        return "/tmp"
    }
}
