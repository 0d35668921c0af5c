// `witchbolt demo`: the stream end to end. Opens DIR/demo.db with a stream replicating to
// DIR/replica (or to the --replica URLs), runs a workload of nested buckets, updates and
// deletes while printing live lag, restores each replica into DIR/restored.db, checks it and
// compares its content with the source, and prints a summary. The database, the shadow
// directory and the replicas stay in place: a second run continues the same database and
// generation. Exits non-zero on any mismatch.

import ArgumentParser
import Foundation
import Witchbolt
import WitchboltStream

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Replicate a demo database, restore it from each replica and compare.")

    @Option(help: "The demo directory (database, shadow directory, default file replica, restored copy).")
    var dir = "./witchbolt-demo"

    @Option(name: .customLong("replica"), help: "A replica URL (repeatable); default: a file replica in DIR/replica.")
    var replicas: [String] = []

    @Option(help: "When Stream syncs its open-segment log: on-seal (the default) or every-batch.")
    var shadowLogSync = ShadowLogSync.onSeal.rawValue

    @Option(help: "How many transactions the workload commits.")
    var transactions = 500

    func run() throws {
        try ArtefactCLI.run("demo") {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let configs: [any ReplicaConfig] = replicas.isEmpty
                ? [FileReplicaConfig(path: dir + "/replica")]
                : try replicas.map { try ReplicaFactory.config(url: $0) }
            let source = dir + "/demo.db"
            let handle = StreamHandle()
            var config = StreamConfig(shadowDirectory: dir + "/shadow", replicas: configs)
            config.syncInterval = .milliseconds(250)
            config.snapshotInterval = .seconds(60)
            config.dataLossWindowThreshold = .seconds(10)
            config.shutdownTimeout = .seconds(30)
            config.shadowLogSync = try ShadowLogSync(parsing: shadowLogSync)
            var options = DB.Options()
            options.pageFlushObservers = [Stream.observer(config, handle: handle)]

            // Run the workload with the stream attached, printing the lag as it goes.
            let db = try DB.open(path: source, options: options)
            guard let controller = handle.controller else { throw ValidationError("the stream did not start") }
            print("database \(source), shadow \(config.shadowDirectory)")
            print("replicas: \(configs.map(\.description).joined(separator: ", "))")
            let started = Date()
            let startTxID = try db.view { $0.id }
            try DemoWorkload.run(db: db, transactions: transactions) { done in
                if done % max(1, transactions / 10) == 0 { print("  " + Self.lagLine(done: done, controller.status())) }
            }
            let caughtUp = controller.flush(timeout: .seconds(60))
            let status = controller.status()
            print("  " + Self.lagLine(done: transactions, status))
            let lastTxID = try db.view { $0.id }
            try db.close()
            let elapsed = Date().timeIntervalSince(started)
            print(String(format: "committed %d transactions (txid %llu to %llu) in %.1f s; generation %@ (%@)",
                         transactions, startTxID, lastTxID, elapsed, status.generation ?? "-", status.generationReason ?? "-"))

            // Restore each replica and compare it with the source.
            let expected = try Self.export(source)
            var failures = 0
            if !caughtUp {
                failures += 1
                print("MISMATCH: the replicas did not catch up within 60 s")
            }
            for replica in configs {
                let restored = dir + "/restored.db"
                try? FileManager.default.removeItem(atPath: restored)
                let client = try replica.makeClient()
                defer { client.close() }
                let result = try Restorer.restore(from: [client], options: RestoreOptions(outputPath: restored))
                let problems = try Self.check(restored)
                let same = try Self.export(restored) == expected
                let restoredTxID = result?.txID ?? 0
                if problems.isEmpty && same && restoredTxID == lastTxID {
                    print("OK: \(replica.description) restored txid \(restoredTxID) into \(restored): check clean, content identical")
                } else {
                    failures += 1
                    print("MISMATCH: \(replica.description) restored txid \(restoredTxID) (source \(lastTxID)), \(problems.count) check problems, content \(same ? "identical" : "DIFFERENT")")
                    for problem in problems.prefix(5) { print("  \(problem)") }
                }
            }
            print(failures == 0 ? "demo passed: every replica restores to the source's exact content" : "demo FAILED: \(failures) mismatches")
            if failures > 0 { throw ExitCode.failure }
        }
    }

    static func lagLine(done: Int, _ status: StreamStatus) -> String {
        let replicas = status.replicas.map { "\($0.name) txid \($0.lastTxID.map(String.init) ?? "-") lag \(StreamStatus.format(millis: $0.lagMillis))" }
        return "[\(done) tx] txid \(status.lastTxID.map(String.init) ?? "-"); " + replicas.joined(separator: "; ")
            + "; data-loss window \(StreamStatus.format(millis: status.dataLossWindowMillis))"
    }

    static func export(_ path: String) throws -> String {
        var options = DB.Options()
        options.readOnly = true
        let db = try DB.open(path: path, options: options)
        defer { try? db.close() }
        return try db.view { try $0.exportString() }
    }

    static func check(_ path: String) throws -> [String] {
        var options = DB.Options()
        options.readOnly = true
        let db = try DB.open(path: path, options: options)
        defer { try? db.close() }
        return try db.view { $0.check() }
    }
}

/// The demo's workload: customers in nested buckets, orders added, updated and deleted,
/// now and then a large attachment (overflow pages).
enum DemoWorkload {
    static func run(db: DB, transactions: Int, progress: (Int) -> Void) throws {
        var rng = SystemRandomNumberGenerator()
        for done in 1...max(1, transactions) {
            try db.update { tx in
                let customers = try tx.createBucketIfNotExists(Array("customers".utf8))
                let customer = try customers.createBucketIfNotExists(Array("customer-\(Int.random(in: 0..<20, using: &rng))".utf8))
                let orders = try customer.createBucketIfNotExists(Array("orders".utf8))
                for _ in 0..<Int.random(in: 1...8, using: &rng) {
                    let key = Array(String(format: "order-%05d", Int.random(in: 0..<400, using: &rng)).utf8)
                    switch Int.random(in: 0..<10, using: &rng) {
                    case 0...1: try orders.delete(key)
                    case 2: try orders.put(key, [UInt8](repeating: UInt8.random(in: 0...255, using: &rng), count: Int.random(in: 5_000...20_000, using: &rng)))
                    default: try orders.put(key, Array("amount=\(Int.random(in: 1...9999, using: &rng)) status=\(["new", "paid", "sent"].randomElement(using: &rng)!)".utf8))
                    }
                }
                try customer.put(Array("updated".utf8), Array("\(done)".utf8))
                let count = try customers.nextSequence()
                try tx.createBucketIfNotExists(Array("stats".utf8)).put(Array("transactions".utf8), Array("\(count)".utf8))
            }
            progress(done)
        }
    }
}
