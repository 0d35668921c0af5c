// Simulated power loss: random workloads whose every commit is crashed at each of its disk
// events (every write, fdatasync and truncation), with the unsynced writes dropped, kept,
// torn by sector or page, or reordered. After each crash the file must open, pass check(),
// and hold the last acknowledged commit or the commit in flight, never a mix.
//
// Short form in the suite; WITCHBOLT_LONG=1 runs until at least 10,000 crash points.

import Foundation
import Testing
@_spi(Testing) import Witchbolt
import WitchboltTestSupport

/// Whether the long forms run (`WITCHBOLT_LONG=1`).
let isLongRun = ProcessInfo.processInfo.environment["WITCHBOLT_LONG"] == "1"

/// Runs random transactions through a CrashHarness.
struct PowerLossWorkload {
    var transactions: Int
    var maxOpsPerTransaction: Int
    var pageSize = 1024
    var freelistType: FreelistType = .array
    var plantedBugs: Set<PlantedBug> = []
    var generator = WorkloadGenerator(keySpace: 300, maxValueSize: 2500, maxDepth: 3)
    /// Picks the crash events of a commit with n events (default: all of them).
    var sample: Int? = nil
    /// Every `churnEvery`th transaction fills a bucket with hundreds of values or deletes it
    /// again, so the free list grows past one page and the file grows (0: never).
    var churnEvery = 5

    /// A churn transaction: fill bucket "churn" (1 KiB pages: many leaves) or delete it.
    static func churn(_ model: ModelBucket) -> [ModelOp] {
        let name = Array("churn".utf8)
        if model.buckets[name] != nil { return [.deleteBucket(path: [], name: name)] }
        var ops: [ModelOp] = [.createBucket(path: [], name: name)]
        for i in 0..<300 { ops.append(.put(path: [name], key: Array("c\(i)".utf8), value: [UInt8](repeating: UInt8(i & 0xFF), count: 150))) }
        return ops
    }

    func run(label: String, seed: UInt64, stopAtFirstFailure: Bool = false) throws -> CrashHarness {
        let dir = TemporaryDirectory("powerloss")
        var options = DB.Options()
        options.pageSize = pageSize
        options.freelistType = freelistType
        options.testHooks.plantedBugs = plantedBugs
        var harness = try CrashHarness(path: dir.file("p.db"), options: options)
        harness.stopAtFirstFailure = stopAtFirstFailure
        var rng = SeededRandom(label: label, seed: seed)
        var model = ModelBucket()
        for t in 0..<transactions {
            guard !harness.shouldStop else { break }
            // Some transactions are big (splits, overflow, file growth), most are small.
            let count = Int.random(in: 0..<10, using: &rng) == 0 ? maxOpsPerTransaction * 4 : Int.random(in: 1...maxOpsPerTransaction, using: &rng)
            var ops: [ModelOp] = []
            var scratch = model
            let isChurn = churnEvery > 0 && t % churnEvery == churnEvery - 1
            if isChurn {
                ops = Self.churn(model)
                for op in ops { _ = op.apply(to: &scratch) }
            } else {
                for _ in 0..<count {
                    let op = generator.next(model: scratch, &rng)
                    _ = op.apply(to: &scratch)
                    ops.append(op)
                }
            }
            let rollback = !isChurn && Int.random(in: 0..<10, using: &rng) == 0
            let sample = self.sample
            var pick = rng
            try harness.run(ops, rollback: rollback, label: "\(label) seed \(seed) tx \(t)", crashEvents: { n in
                guard let sample, sample < n else { return Array(1...max(n, 1)) }
                return (0..<sample).map { _ in Int.random(in: 1...n, using: &pick) }
            }, &rng)
            if !rollback { model = scratch }
        }
        return harness
    }
}

@Suite("Simulated power loss", .serialized)
struct PowerLossTests {
    @Test("every crash point of random workloads recovers the last commit or the one in flight")
    func crashAtEveryDiskEvent() throws {
        let base = SeededRandom(label: "power-loss").seed
        let workloads = isLongRun ? 400 : 10
        var crashPoints = 0, images = 0, transactions = 0
        for w in 0..<workloads {
            // Vary the page size and the free list strategy across workloads.
            var workload = PowerLossWorkload(transactions: isLongRun ? 30 : 12, maxOpsPerTransaction: 30)
            workload.pageSize = [1024, 4096][w % 2]
            workload.freelistType = w % 3 == 2 ? .hashmap : .array
            let seed = base &+ UInt64(w)
            let harness = try workload.run(label: "power-loss workload \(w)", seed: seed)
            crashPoints += harness.crashPoints
            images += harness.imagesChecked
            transactions += harness.transactions
            #expect(harness.failures.isEmpty, "seed \(seed): \(harness.failures.prefix(5).joined(separator: "\n"))")
            if isLongRun && crashPoints >= 10_000 && w >= 20 { break }
        }
        print("[power-loss] crash points simulated: \(crashPoints), recovered images verified: \(images), transactions: \(transactions)")
        #expect(crashPoints > 0)
    }
}
