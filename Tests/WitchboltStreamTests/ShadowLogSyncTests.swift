// The open segment's log sync policy (`StreamConfig.shadowLogSync`): by default the log is
// never fdatasynced on the commit path, only when it is emptied (seal, rotation) and when the
// stream stops; `.everyBatch` syncs it after every batch the writer takes. A power loss that
// drops the unsynced tail of the log makes the next start begin a new generation (and the
// replica still restores the database exactly); a clean stop continues the generation.

import Clocks
import Foundation
import Synchronization
import Testing
import Witchbolt
@testable import WitchboltStream

#if canImport(Glibc)
import Glibc
#endif

@Suite("Stream shadow log sync policy")
struct ShadowLogSyncTests {
    /// Counts the open log's fdatasyncs (from the writer thread).
    final class SyncCounter: Sendable {
        private let count = Mutex(0)
        func increment() { count.withLock { $0 += 1 } }
        var value: Int { count.withLock { $0 } }
    }

    struct Setup {
        let clock = TestClock<Duration>()
        let streamClock: StreamClock
        let shadow = temporaryDirectory("logsync")
        let replica = MemoryReplica()
        let db: PageModelDatabase
        let syncs = SyncCounter()

        init(seed: UInt64) {
            streamClock = StreamClock(clock, wallMillisAtStart: 1_700_000_000_000)
            db = PageModelDatabase(seed: seed, clock: streamClock)
        }

        /// A controller sealing only on request (the test clock never reaches the sync interval).
        func start(policy: ShadowLogSync? = nil) throws -> StreamController {
            var config = testConfig(shadow: shadow, replicas: [replica], clock: streamClock)
            config.syncInterval = .seconds(3600)
            if let policy { config.shadowLogSync = policy }
            let syncs = self.syncs
            let controller = try StreamController(config: config, source: db, hooks: StreamHooks(openLogSynced: { syncs.increment() }))
            db.attach(controller)
            return controller
        }

        /// A started controller whose generation holds one sealed commit, followed by `n`
        /// commits the writer has taken but not sealed; and that generation.
        func startWithUnsealedCommits(_ n: Int) throws -> (StreamController, String) {
            let controller = try start()
            db.commit()
            #expect(controller.flush())
            let generation = try #require(controller.status().generation)
            for i in 1...n {
                db.commit()
                #expect(eventually { controller.shared.withLock { $0.unsealedCount == i } })
            }
            return (controller, generation)
        }

        var openLogPath: String { ShadowLog(root: shadow).openLogPath }

        func snapshotCount() throws -> Int {
            try replica.list(prefix: "generations/").filter { $0.key.hasSuffix(".snapshot") }.count
        }

        /// Restarts the controller and checks that `generation` goes on: a next commit ships
        /// in it, no second snapshot is taken, and the replica replays to the database.
        func expectGenerationContinues(_ generation: String) throws {
            let controller = try start()
            #expect(controller.status().generation == generation)
            #expect(controller.status().generationReason?.contains("continued") == true)
            db.commit()
            #expect(controller.flush())
            #expect(controller.status().generation == generation)
            controller.stop()
            #expect(try snapshotCount() == 1)
            try expectNewestReplay(of: replica, equals: db)
        }

        func cleanup() { try? FileManager.default.removeItem(atPath: shadow) }
    }

    @Test("the default policy is on-seal, and policy names parse (or fail naming the choices)")
    func policyParsing() throws {
        #expect(StreamConfig(shadowDirectory: "/tmp/x").shadowLogSync == .onSeal)
        #expect(try ShadowLogSync(parsing: "every-batch") == .everyBatch)
        #expect(try ShadowLogSync(parsing: " On-Seal ") == .onSeal)
        let error = #expect(throws: StreamError.self) { try ShadowLogSync(parsing: "always") }
        #expect(error?.code == .invalidConfiguration)
        #expect("\(error.map { "\($0)" } ?? "")".contains("on-seal, every-batch"))
    }

    @Test("on-seal never fdatasyncs the open log per batch of commits; every-batch syncs it once a batch; a stop syncs it under both",
          arguments: [ShadowLogSync.onSeal, .everyBatch])
    func syncsPerBatch(policy: ShadowLogSync) throws {
        let s = Setup(seed: 41)
        defer { s.cleanup() }
        let controller = try s.start(policy: policy)
        s.db.commit()
        #expect(controller.flush())
        let before = s.syncs.value

        // Twenty batches of one commit each: the next commit is made once the writer took the last.
        let batches = 20
        for i in 1...batches {
            s.db.commit()
            #expect(eventually { controller.shared.withLock { $0.unsealedCount == i } })
        }
        let expected = policy == .everyBatch ? batches : 0
        #expect(eventually { s.syncs.value - before >= expected })
        Thread.sleep(forTimeInterval: 0.1)
        #expect(s.syncs.value - before == expected)
        #expect(ShadowOpenLog.read(path: s.openLogPath).count == batches)

        // Stopping seals the records and empties the log durably.
        controller.stop()
        #expect(s.syncs.value - before > expected)
        #expect(ShadowOpenLog.read(path: s.openLogPath).isEmpty)
        #expect(ShadowLog(root: s.shadow).loadState()?.lastTxID == s.db.txID)
    }

    @Test("a clean stop with unsealed commits, under the default policy, resumes the same generation without a snapshot")
    func cleanStopResumes() throws {
        let s = Setup(seed: 42)
        defer { s.cleanup() }
        let (controller, generation) = try s.startWithUnsealedCommits(3)
        controller.stop()
        #expect(ShadowOpenLog.read(path: s.openLogPath).isEmpty)
        #expect(ShadowLog(root: s.shadow).loadState()?.lastTxID == s.db.txID)

        try s.expectGenerationContinues(generation)
    }

    @Test("a power loss that undoes the open log's truncation after a seal continues the generation: the records it brings back are sealed already and skipped")
    func lostTruncationAfterSeal() throws {
        let s = Setup(seed: 44)
        defer { s.cleanup() }
        let (controller, generation) = try s.startWithUnsealedCommits(3)
        let unsealed = try #require(FileManager.default.contents(atPath: s.openLogPath))
        let syncs = s.syncs.value
        // The seal truncates the log without syncing it (state.json holds the sealed txid).
        #expect(controller.flush())
        #expect(ShadowOpenLog.read(path: s.openLogPath).isEmpty)
        #expect(s.syncs.value == syncs)

        // The process dies, and a power loss brings the truncated records back.
        controller.abandon()
        try unsealed.write(to: URL(fileURLWithPath: s.openLogPath))
        #expect(ShadowOpenLog.read(path: s.openLogPath).count == 3)

        try s.expectGenerationContinues(generation)
    }

    /// What a power loss leaves of the three unsynced records of the open log.
    enum PowerLoss: String, CaseIterable, Sendable {
        case everyRecordLost
        case firstRecordKept
        case lastRecordTorn
    }

    @Test("a power loss that drops the unsynced tail of the open log starts a new generation, and the replica restores the database exactly",
          arguments: PowerLoss.allCases)
    func powerLossStartsNewGeneration(loss: PowerLoss) throws {
        let s = Setup(seed: 43)
        defer { s.cleanup() }
        var (controller, generation) = try s.startWithUnsealedCommits(3)
        // The process dies; the database is durable at its last commit (its observers ran).
        controller.abandon()
        let records = ShadowOpenLog.read(path: s.openLogPath)
        try #require(records.count == 3)

        // The power loss: the page cache's part of the log is gone.
        let entry = { (i: Int) in off_t(records[i].encodedSize + 4) }
        let kept: off_t = switch loss {
        case .everyRecordLost: 0
        case .firstRecordKept: entry(0)
        case .lastRecordTorn: entry(0) + entry(1) + entry(2) - 10
        }
        #expect(truncate(s.openLogPath, kept) == 0)
        #expect(ShadowOpenLog.read(path: s.openLogPath).count == [PowerLoss.everyRecordLost: 0, .firstRecordKept: 1, .lastRecordTorn: 2][loss])

        controller = try s.start()
        s.db.commit()
        #expect(controller.flush())
        let status = controller.status()
        #expect(status.generation != nil && status.generation != generation)
        #expect(status.generationReason?.contains("does not follow the last shadowed txid") == true)
        controller.stop()
        #expect(try s.snapshotCount() == 2)
        try expectNewestReplay(of: s.replica, equals: s.db)
    }

    @Test("on the real engine: a close with unsealed commits reopens into the same generation; a power loss cutting open.log starts a new one; the restore equals the database")
    func realEngineCloseAndPowerLoss() throws {
        let dir = temporaryDirectory("logsync-engine")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let replica = FileReplicaConfig(path: dir + "/replica")
        var config = StreamConfig(shadowDirectory: dir + "/shadow", syncInterval: .seconds(3600), replicas: [replica])
        config.shutdownTimeout = .seconds(10)
        #expect(config.shadowLogSync == .onSeal)
        let openLogPath = ShadowLog(root: config.shadowDirectory).openLogPath
        func open() throws -> (DB, StreamController) {
            let handle = StreamHandle()
            var options = DB.Options()
            options.pageFlushObservers = [Stream.observer(config, handle: handle)]
            let db = try DB.open(path: dir + "/data.db", options: options)
            return (db, try #require(handle.controller))
        }

        // First session: a shipped base, then commits left in the open segment, and a clean close.
        var (db, controller) = try open()
        for i in 0..<5 { try GenerationEngineTests.put(db, i) }
        #expect(controller.flush(timeout: .seconds(60)))
        let first = try #require(controller.status().generation)
        for i in 5..<10 { try GenerationEngineTests.put(db, i) }
        #expect(eventually { controller.shared.withLock { $0.unsealedCount == 5 } })
        try db.close()
        #expect(ShadowOpenLog.read(path: openLogPath).isEmpty)

        // Second session: the generation goes on. Then the process dies with three commits
        // in the open log, and a power loss keeps only the first of them.
        (db, controller) = try open()
        #expect(controller.status().generation == first)
        for i in 10..<13 { try GenerationEngineTests.put(db, i) }
        #expect(eventually { controller.shared.withLock { $0.unsealedCount == 3 } })
        controller.abandon()
        try db.close()
        let records = ShadowOpenLog.read(path: openLogPath)
        try #require(records.count == 3)
        #expect(truncate(openLogPath, off_t(records[0].encodedSize + 4)) == 0)

        // Third session: a new generation; the replica restores the database exactly.
        (db, controller) = try open()
        try GenerationEngineTests.put(db, 13)
        #expect(controller.flush(timeout: .seconds(60)))
        let status = controller.status()
        #expect(status.generation != nil && status.generation != first)
        #expect(status.generationReason?.contains("does not follow the last shadowed txid") == true)
        let export = try db.view { try $0.exportString() }
        let txID = try db.view { $0.id }
        try db.close()
        let output = dir + "/restored.db"
        let result = try #require(try Restorer.restore(from: [try replica.makeClient()], options: RestoreOptions(outputPath: output)))
        #expect(result.generation.rawValue == status.generation)
        #expect(result.txID == txID)
        #expect(try exportFile(output).export == export)
    }
}
