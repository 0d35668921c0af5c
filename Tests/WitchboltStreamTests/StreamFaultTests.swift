// Faults around the stream: a shadow directory that cannot be written never fails a commit
// and the stream recovers with a new generation; a replica that fails for a while catches up
// with nothing lost; a replica down for long pushes the shadow directory over its bound and
// shipping resumes with a new generation; leftovers of a crash mid-write are cleaned; stopping
// reports what did not reach a replica.

import Clocks
import Foundation
import Synchronization
import Testing
import Witchbolt
@testable import WitchboltStream

@Suite("Stream faults")
struct StreamFaultTests {
    static let wall: Int64 = 1_700_000_000_000

    @Test("an unwritable shadow directory never fails a commit; the stream recovers with a new generation")
    func unwritableShadowDirectory() async throws {
        let clock = TestClock<Duration>()
        let streamClock = StreamClock(clock, wallMillisAtStart: Self.wall)
        let shadow = temporaryDirectory("fault-shadow")
        defer { try? FileManager.default.removeItem(atPath: shadow) }
        let replica = MemoryReplica()
        let db = PageModelDatabase(seed: 31, clock: streamClock)
        let broken = Mutex(false)
        let hooks = StreamHooks(shadowWrite: {
            if broken.withLock({ $0 }) { throw StreamError(.io, "\(shadow): No space left on device (injected)") }
        })
        let controller = try StreamController(config: testConfig(shadow: shadow, replicas: [replica], clock: streamClock), source: db, hooks: hooks)
        db.attach(controller)
        for _ in 0..<3 { db.commit() }
        #expect(controller.flush())
        let first = controller.status().generation

        // The disk fails: commits keep succeeding (the observer never throws).
        broken.withLock { $0 = true }
        for _ in 0..<5 {
            let info = db.commit()
            #expect(throws: Never.self) { try controller.didFlush(PageFlushInfo(txID: 1, parentTxID: 0, path: info.path, pageSize: info.pageSize, highWaterMark: 4, timestampMillis: 0, frames: [])) }
        }
        #expect(!controller.flush(timeout: .milliseconds(300)))
        #expect(controller.status().shadowError?.contains("No space left") == true)

        // The disk recovers: after the retry delay a new generation carries the newest state.
        broken.withLock { $0 = false }
        for _ in 0..<20 where controller.status().generation == first || controller.status().shadowError != nil {
            await clock.advance(by: .seconds(2))
            _ = controller.flush(timeout: .milliseconds(200))
        }
        db.commit()
        #expect(controller.flush())
        #expect(controller.status().generation != first)
        controller.stop()
        try expectNewestReplay(of: replica, equals: db)
    }

    @Test("a replica that fails for a while catches up when it recovers, with nothing lost", arguments: TestBackend.enabled)
    func replicaOutageCatchesUp(backend: TestBackend) async throws {
        let clock = TestClock<Duration>()
        let streamClock = StreamClock(clock, wallMillisAtStart: Self.wall)
        let shadow = temporaryDirectory("fault-outage")
        defer { try? FileManager.default.removeItem(atPath: shadow) }
        let healthy = MemoryReplica(name: "healthy")
        let flaky = FlakyReplica(try backend.makeClient())
        let db = PageModelDatabase(seed: 32, clock: streamClock)
        let controller = try StreamController(config: testConfig(shadow: shadow, replicas: [healthy, flaky], clock: streamClock), source: db)
        db.attach(controller)
        for _ in 0..<3 { db.commit() }
        #expect(controller.flush())

        flaky.failing.withLock { $0 = true }
        for _ in 0..<10 {
            db.commit()
            await clock.advance(by: .seconds(1))
        }
        #expect(!controller.flush(timeout: .milliseconds(300)))
        let during = controller.status()
        #expect(during.replicas[0].lagMillis == 0)
        #expect(during.replicas[1].lagMillis > 0)
        #expect(during.replicas[1].errors > 0)
        #expect(during.replicas[1].lastError?.contains("injected failure") == true)
        #expect(during.dataLossWindowMillis == during.replicas[1].lagMillis)

        flaky.failing.withLock { $0 = false }
        var caughtUp = false
        for _ in 0..<30 where !caughtUp {
            await clock.advance(by: .seconds(2))
            caughtUp = controller.flush(timeout: .milliseconds(500))
        }
        #expect(caughtUp)
        #expect(controller.status().replicas[1].lastError == nil)
        #expect(controller.status().replicas[1].retries > 0)
        #expect(controller.status().generationsStarted == 1)
        controller.stop()
        for replica in [healthy, flaky] as [any ReplicaClient] {
            let replay = try Replay.newest(replica)
            #expect(replay.lastTxID == db.txID)
            for (txID, image) in replay.images {
                let equalImages = imagesEqual(image, db.image(at: txID))
                #expect(equalImages, "\(replica.description) txid \(txID)")
            }
        }
    }

    @Test("past the shadow directory's size bound, pending artefacts are dropped and shipping resumes with a new generation")
    func shadowSizeBound() async throws {
        let clock = TestClock<Duration>()
        let streamClock = StreamClock(clock, wallMillisAtStart: Self.wall)
        let shadow = temporaryDirectory("fault-bound")
        defer { try? FileManager.default.removeItem(atPath: shadow) }
        let replica = MemoryReplica()
        let db = PageModelDatabase(seed: 33, clock: streamClock)
        var config = testConfig(shadow: shadow, replicas: [replica], clock: streamClock)
        config.shadowDirectoryLimit = 24 << 10
        config.compression = .none
        let controller = try StreamController(config: config, source: db)
        db.attach(controller)
        db.commit()
        #expect(controller.flush())
        let first = controller.status().generation

        replica.failing.withLock { $0 = true }
        for _ in 0..<40 {
            db.commit()
            await clock.advance(by: .seconds(1))
        }
        #expect(eventually { controller.status().generation != first })
        replica.failing.withLock { $0 = false }
        var caughtUp = false
        for _ in 0..<30 where !caughtUp {
            await clock.advance(by: .seconds(2))
            caughtUp = controller.flush(timeout: .milliseconds(200))
        }
        #expect(caughtUp)
        controller.stop()
        let replay = try Replay.newest(replica)
        #expect(replay.generation.rawValue != first)
        let equalImages = imagesEqual(replay.images[db.txID], db.image)
        #expect(equalImages)
    }

    @Test("temporary files left by a crash mid-write are removed when the controller starts")
    func leftoverTemporaryFiles() throws {
        let clock = TestClock<Duration>()
        let streamClock = StreamClock(clock, wallMillisAtStart: Self.wall)
        let shadow = temporaryDirectory("fault-temp")
        defer { try? FileManager.default.removeItem(atPath: shadow) }
        let generation = Generation.new(nowMillis: Self.wall - 1000)
        let segmentDir = shadow + "/" + ArtefactKey.generationPrefix(generation) + "segments"
        try FileManager.default.createDirectory(atPath: segmentDir, withIntermediateDirectories: true)
        let leftovers = [
            segmentDir + "/0000000000000002-0000000000000004.segment.tmp-1a2b",
            shadow + "/state.json.tmp-99",
        ]
        for path in leftovers { _ = FileManager.default.createFile(atPath: path, contents: Data([1, 2, 3])) }
        let db = PageModelDatabase(seed: 34, clock: streamClock)
        let controller = try StreamController(config: testConfig(shadow: shadow, replicas: [MemoryReplica()], clock: streamClock), source: db)
        for path in leftovers { #expect(!FileManager.default.fileExists(atPath: path)) }
        controller.stop()
    }

    @Test("stopping with a replica down reports what it did not receive, within the shutdown timeout")
    func shutdownReportsUnshipped() throws {
        let clock = TestClock<Duration>()
        let streamClock = StreamClock(clock, wallMillisAtStart: Self.wall)
        let shadow = temporaryDirectory("fault-stop")
        defer { try? FileManager.default.removeItem(atPath: shadow) }
        let replica = MemoryReplica(name: "down")
        replica.failing.withLock { $0 = true }
        let db = PageModelDatabase(seed: 35, clock: streamClock)
        var config = testConfig(shadow: shadow, replicas: [replica], clock: streamClock)
        config.shutdownTimeout = .milliseconds(300)
        let controller = try StreamController(config: config, source: db)
        db.attach(controller)
        for _ in 0..<3 { db.commit() }
        let started = Date()
        let report = controller.stop()
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(!report.isComplete)
        #expect(report.unshipped.map(\.replica) == ["memory://down"])
        #expect(report.description.contains("memory://down"))
    }
}
