// Each harness proves it can fail: with a deliberate bug planted in the engine's commit
// (PlantedBug), the power-loss simulation must report a failure. If one of these tests
// passes with the bug off, or fails with it on, the harness is blind to that class of bug.

import Testing
@_spi(Testing) import Witchbolt
import WitchboltTestSupport

@Suite("Planted bugs are caught", .serialized)
struct PlantedBugTests {
    /// Runs power-loss workloads with `bug` planted until the harness reports a failure.
    func detect(_ bug: PlantedBug, maxWorkloads: Int) throws -> (detected: Bool, crashPoints: Int, message: String) {
        let base = SeededRandom(label: "planted \(bug.rawValue)").seed
        var crashPoints = 0
        for w in 0..<maxWorkloads {
            var workload = PowerLossWorkload(transactions: 12, maxOpsPerTransaction: 40)
            workload.plantedBugs = [bug]
            // Small pages: a torn free list shows once it holds more than 62 ids.
            workload.pageSize = 1024
            workload.generator = WorkloadGenerator(keySpace: 150, maxValueSize: 1500, maxDepth: 2)
            let harness = try workload.run(label: "planted \(bug.rawValue) \(w)", seed: base &+ UInt64(w), stopAtFirstFailure: true)
            crashPoints += harness.crashPoints
            if let first = harness.failures.first { return (true, crashPoints, first) }
        }
        return (false, crashPoints, "")
    }

    @Test("the power-loss harness catches a meta page written before the data pages are synced")
    func catchesMetaBeforeDataSync() throws {
        let result = try detect(.metaBeforeDataSync, maxWorkloads: 10)
        print("[planted metaBeforeDataSync] detected=\(result.detected) after \(result.crashPoints) crash points: \(result.message.prefix(300))")
        #expect(result.detected, "the power-loss harness did not notice metaBeforeDataSync")
    }

    @Test("the power-loss harness catches a skipped data-page fdatasync")
    func catchesSkipDataSync() throws {
        let result = try detect(.skipDataSync, maxWorkloads: 10)
        print("[planted skipDataSync] detected=\(result.detected) after \(result.crashPoints) crash points: \(result.message.prefix(300))")
        #expect(result.detected, "the power-loss harness did not notice skipDataSync")
    }

    @Test("the power-loss harness catches a torn free-list page")
    func catchesTornFreelist() throws {
        let result = try detect(.tornFreelist, maxWorkloads: 10)
        print("[planted tornFreelist] detected=\(result.detected) after \(result.crashPoints) crash points: \(result.message.prefix(300))")
        #expect(result.detected, "the power-loss harness did not notice tornFreelist")
    }

    @Test("the same workloads pass with no bug planted (the detections above are the bugs')")
    func cleanEngineIsNotFlagged() throws {
        let base = SeededRandom(label: "planted none").seed
        var workload = PowerLossWorkload(transactions: 12, maxOpsPerTransaction: 40)
        workload.pageSize = 1024
        workload.generator = WorkloadGenerator(keySpace: 150, maxValueSize: 1500, maxDepth: 2)
        let harness = try workload.run(label: "planted none", seed: base)
        #expect(harness.failures.isEmpty, "\(harness.failures.prefix(3))")
    }
}
