// Lag figures: a replica's lag is the age of the oldest commit it does not hold; the
// data-loss window is the largest lag; both come from the injected clock.

import Clocks
import Foundation
import Synchronization
import Testing
import Witchbolt
@testable import WitchboltStream

@Suite("Stream lag")
struct LagTests {
    @Test("a replica's lag is the age of the oldest commit it lacks; the data-loss window is the largest lag")
    func lagFigures() async throws {
        let clock = TestClock<Duration>()
        let streamClock = StreamClock(clock, wallMillisAtStart: 1_700_000_000_000)
        let shadow = temporaryDirectory("lag")
        defer { try? FileManager.default.removeItem(atPath: shadow) }
        let fast = MemoryReplica(name: "fast")
        let slow = MemoryReplica(name: "slow")
        let db = PageModelDatabase(seed: 51, clock: streamClock)
        var config = testConfig(shadow: shadow, replicas: [fast, slow], clock: streamClock)
        config.shutdownTimeout = .milliseconds(200)
        let controller = try StreamController(config: config, source: db)
        db.attach(controller)
        db.commit()
        #expect(controller.flush())
        #expect(controller.status().dataLossWindowMillis == 0)

        slow.failing.withLock { $0 = true }
        let committedAt = streamClock.nowMillis
        let info = db.commit()
        #expect(info.timestampMillis == committedAt)
        #expect(!controller.flush(timeout: .milliseconds(200)))
        await clock.advance(by: .milliseconds(7_500))
        let status = controller.status()
        #expect(status.replicas[0].lagMillis == 0)
        #expect(status.replicas[0].lastTxID == db.txID)
        #expect(status.replicas[1].lagMillis == 7_500)
        #expect(status.replicas[1].oldestUnshippedMillis == committedAt)
        #expect(status.replicas[1].lastTxID == db.txID - 1)
        #expect(status.dataLossWindowMillis == 7_500)
        #expect(controller.dataLossWindow == .milliseconds(7_500))
        controller.stop()
    }

    @Test("unsealed commits count in the lag even before a segment exists")
    func unsealedCommitsCount() async throws {
        let clock = TestClock<Duration>()
        let streamClock = StreamClock(clock, wallMillisAtStart: 1_700_000_000_000)
        let shadow = temporaryDirectory("lag-unsealed")
        defer { try? FileManager.default.removeItem(atPath: shadow) }
        let replica = MemoryReplica()
        let db = PageModelDatabase(seed: 52, clock: streamClock)
        var config = testConfig(shadow: shadow, replicas: [replica], clock: streamClock)
        config.syncInterval = .seconds(60)
        let controller = try StreamController(config: config, source: db)
        db.attach(controller)
        #expect(controller.flush())
        db.commit()
        #expect(eventually { controller.status().replicas[0].oldestUnshippedMillis != nil })
        await clock.advance(by: .seconds(3))
        #expect(controller.status().dataLossWindowMillis == 3_000)
        #expect(controller.flush())
        #expect(controller.status().dataLossWindowMillis == 0)
        controller.stop()
    }
    @Test("the confirmed txid is the last commit every replica holds: the slowest replica's")
    func confirmedTxIDIsTheSlowestReplicas() async throws {
        let clock = TestClock<Duration>()
        let streamClock = StreamClock(clock, wallMillisAtStart: 1_700_000_000_000)
        let shadow = temporaryDirectory("lag-confirmed")
        defer { try? FileManager.default.removeItem(atPath: shadow) }
        let fast = MemoryReplica(name: "fast")
        let slow = MemoryReplica(name: "slow")
        let db = PageModelDatabase(seed: 53, clock: streamClock)
        var config = testConfig(shadow: shadow, replicas: [fast, slow], clock: streamClock)
        config.shutdownTimeout = .milliseconds(200)
        let controller = try StreamController(config: config, source: db)
        db.attach(controller)
        db.commit()
        #expect(controller.flush())
        #expect(controller.confirmedTxID == db.txID)

        // The slow replica stops taking artefacts: the fast one moves on, the confirmed txid does not.
        slow.failing.withLock { $0 = true }
        db.commit()
        db.commit()
        #expect(!controller.flush(timeout: .milliseconds(200)))
        #expect(controller.status().replicas[0].lastTxID == db.txID)
        #expect(controller.confirmedTxID == db.txID - 2)

        // Once it works again, both hold everything.
        slow.failing.withLock { $0 = false }
        var caughtUp = false
        for _ in 0..<30 where !caughtUp {
            await clock.advance(by: .seconds(2))
            caughtUp = controller.flush(timeout: .milliseconds(500))
        }
        #expect(caughtUp)
        #expect(controller.confirmedTxID == db.txID)
        controller.stop()
    }

    @Test("without a replica that holds anything, there is no confirmed txid")
    func noConfirmedTxIDBeforeShipping() throws {
        let shadow = temporaryDirectory("lag-unconfirmed")
        defer { try? FileManager.default.removeItem(atPath: shadow) }
        let replica = MemoryReplica()
        replica.failing.withLock { $0 = true }
        let db = PageModelDatabase(seed: 54, clock: .continuous)
        var config = testConfig(shadow: shadow, replicas: [replica], clock: .continuous)
        config.shutdownTimeout = .milliseconds(100)
        let controller = try StreamController(config: config, source: db)
        db.attach(controller)
        db.commit()
        #expect(!controller.flush(timeout: .milliseconds(200)))
        #expect(controller.confirmedTxID == nil)
        controller.stop()
    }
}
