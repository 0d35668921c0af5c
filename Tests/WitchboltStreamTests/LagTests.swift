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
}
