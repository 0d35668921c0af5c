// The power-loss harness: runs a workload one transaction at a time and, for each commit,
// crashes it at every disk event (each write, sync and truncation, or a sample of them) on a
// PowerLossDisk. After each crash the handle must be poisoned; then the file is rolled back
// to what the disk would hold in each PowerLossMode, reopened, checked, and compared with the
// model: it must hold the last acknowledged commit or, for the commit in flight, its new
// state, never anything else. The recovered database must also accept a new commit.
//
// Shared with the fuzz package (symlinked); debug builds only (it needs the test hooks).

#if DEBUG
import Logging
@_spi(Testing) import Witchbolt

/// A logger that discards everything (crash tests fail thousands of commits on purpose).
public let silentLogger = Logger(label: "witchbolt.test.silent", factory: { _ in SwiftLogNoOpLogHandler() })

/// Crash-tests commits one transaction at a time against a reference model.
public struct CrashHarness {
    /// The database file.
    public let path: String
    /// The options of the writing handle (page size, planted bugs, free list type...).
    public var options: DB.Options
    /// The power-loss modes to try at each crash point.
    public var modes: [PowerLossMode] = PowerLossMode.allCases
    /// Stop at the first failure (the planted-bug tests only need one).
    public var stopAtFirstFailure = false

    /// The last acknowledged state.
    public private(set) var committed = ModelBucket()
    /// Crash points simulated (each a commit stopped at one disk event).
    public private(set) var crashPoints = 0
    /// Disk images recovered and verified (crash points times modes).
    public private(set) var imagesChecked = 0
    /// Transactions run (committed or rolled back).
    public private(set) var transactions = 0
    /// What went wrong, each naming the transaction, the crash event and the mode.
    public private(set) var failures: [String] = []

    /// A harness on a new database at `path`, created with `options`.
    public init(path: String, options: DB.Options) throws {
        self.path = path
        self.options = options
        self.options.logger = silentLogger
        var create = options
        create.testHooks = TestHooks()
        let db = try DB.open(path: path, options: create)
        try db.close()
    }

    /// Whether the harness should stop.
    public var shouldStop: Bool { stopAtFirstFailure && !failures.isEmpty }

    private mutating func fail(_ message: String) { failures.append(message) }

    /// Opens the writing handle on a disk that crashes at event `crashAt`.
    private func openWriter(disk: PowerLossDisk) throws -> DB {
        var o = options
        o.testHooks.fileFaults = disk
        return try DB.open(path: path, options: o)
    }

    /// Applies `ops` in a write transaction, checking each outcome against `expected`.
    private func applyAll(_ ops: [ModelOp], expected: [WitchboltError.Code?], tx: Tx) throws -> String? {
        for (i, op) in ops.enumerated() {
            let got = try op.apply(to: tx)
            if got != expected[i] {
                return "op \(i) \(op): engine says \(got.map { "\($0)" } ?? "ok"), model says \(expected[i].map { "\($0)" } ?? "ok")"
            }
        }
        return nil
    }

    /// Runs one transaction: once to the end, then crashed at each event `crashEvents` picks
    /// from its 1...n disk events. `rollback` ends it with a rollback instead of a commit.
    public mutating func run<G: RandomNumberGenerator>(
        _ ops: [ModelOp], rollback: Bool = false, label: String,
        crashEvents: (Int) -> [Int], _ rng: inout G
    ) throws {
        guard !shouldStop else { return }
        transactions += 1
        let before = DiskImage.read(path)
        var after = committed
        let expected = ops.map { $0.apply(to: &after) }
        if rollback { after = committed }
        let pageSize = max(options.pageSize, 1024)

        // Run the transaction to the end, counting its disk events.
        let disk = PowerLossDisk(durable: before, pageSize: pageSize)
        do {
            let db = try openWriter(disk: disk)
            defer { try? db.close() }
            let tx = try db.begin(writable: true)
            if let problem = try applyAll(ops, expected: expected, tx: tx) {
                tx.rollback()
                fail("\(label): \(problem)")
                return
            }
            if rollback { tx.rollback() } else { try tx.commit() }
            let now = try db.view { try ModelBucket.load(from: $0) }
            try expectSame(now, after, "\(label): state after the commit")
        } catch {
            fail("\(label): the transaction failed without a crash: \(error)")
            return
        }
        let eventCount = disk.events
        let committedFile = DiskImage.read(path)

        // Crash the same transaction at each chosen disk event, from the same starting file.
        for event in crashEvents(eventCount) where event >= 1 && event <= eventCount {
            guard !shouldStop else { break }
            try DiskImage.write(before, to: path)
            let crashing = PowerLossDisk(durable: before, pageSize: pageSize, crashAt: event)
            do {
                let db = try openWriter(disk: crashing)
                let tx = try db.begin(writable: true)
                _ = try applyAll(ops, expected: expected, tx: tx)
                do {
                    if rollback { tx.rollback() } else { try tx.commit() }
                } catch is SimulatedPowerLoss {
                }
                if crashing.crashed {
                    // A failed commit must poison the handle.
                    do {
                        try db.update { _ in }
                        fail("\(label) crash@\(event): the handle accepted a write after a failed commit")
                    } catch let error as WitchboltError where error.code == .poisoned {
                    } catch {
                        fail("\(label) crash@\(event): after a failed commit, a write threw \(error) instead of .poisoned")
                    }
                }
                try? db.close()
            } catch {
                fail("\(label) crash@\(event): unexpected error before the crash: \(error)")
                continue
            }
            guard crashing.crashed else { continue }
            crashPoints += 1

            // Roll the file back to what the disk would hold, in each mode, and verify it.
            for mode in modes {
                // With nothing pending, every mode gives the durable image.
                if crashing.pendingAtCrash == 0 && mode != .dropAll { continue }
                let image = crashing.imageAfterPowerLoss(mode, &rng)
                try DiskImage.write(image, to: path)
                imagesChecked += 1
                if let problem = verifyRecovered(old: committed, new: after) {
                    fail("\(label) crash@\(event)/\(eventCount) \(mode): \(problem)")
                    if shouldStop { break }
                }
            }
        }

        // Move on from the committed file.
        try DiskImage.write(committedFile, to: path)
        committed = after
    }

    /// Opens the recovered file, checks it and compares it with both allowed states; then
    /// makes sure it accepts a commit. Returns the problem, or nil.
    private func verifyRecovered(old: ModelBucket, new: ModelBucket) -> String? {
        do {
            var plain = DB.Options()
            plain.logger = silentLogger
            let db = try DB.open(path: path, options: plain)
            defer { try? db.close() }
            let problems = try db.view { $0.check() }
            if !problems.isEmpty { return "check() after recovery: \(problems.prefix(3))" }
            let state = try db.view { try ModelBucket.load(from: $0) }
            if state != old && state != new {
                var oldDiff = "", newDiff = ""
                do { try expectSame(state, old, "vs the last commit") } catch { oldDiff = "\(error)" }
                do { try expectSame(state, new, "vs the commit in flight") } catch { newDiff = "\(error)" }
                return "recovered a state that is neither the last commit nor the new one (\(oldDiff); \(newDiff))"
            }
            // The recovered database must take a commit and stay consistent.
            try db.update { tx in try tx.createBucketIfNotExists(Array("after-crash".utf8)).put(Array("k".utf8), Array("v".utf8)) }
            let after = try db.view { $0.check() }
            if !after.isEmpty { return "check() after a commit on the recovered file: \(after.prefix(3))" }
            return nil
        } catch {
            return "recovery failed: \(error)"
        }
    }
}
#endif
