// The status file: refreshed every sync interval in the shadow directory, readable from
// another process, printed by `witchbolt status`.

import Clocks
import Foundation
import Testing
import Witchbolt
@testable import WitchboltStream

@Suite("Stream status file")
struct StatusTests {
    @Test("status.json is refreshed every sync and reads back as the controller's status")
    func statusFileRoundTrip() async throws {
        let clock = TestClock<Duration>()
        let streamClock = StreamClock(clock, wallMillisAtStart: 1_700_000_000_000)
        let shadow = temporaryDirectory("status")
        defer { try? FileManager.default.removeItem(atPath: shadow) }
        let replica = MemoryReplica(name: "r1")
        let db = PageModelDatabase(seed: 61, clock: streamClock)
        let controller = try StreamController(config: testConfig(shadow: shadow, replicas: [replica], clock: streamClock), source: db)
        db.attach(controller)
        for _ in 0..<4 { db.commit() }
        #expect(controller.flush())
        await clock.advance(by: .seconds(1))
        #expect(eventually {
            (try? StreamStatus.read(shadowDirectory: shadow))?.replicas.first?.lastTxID == db.txID
        })
        let status = try StreamStatus.read(shadowDirectory: shadow)
        #expect(status.databaseID == controller.databaseID)
        #expect(status.generation == controller.status().generation)
        #expect(status.replicas.map(\.name) == ["memory://r1"])
        #expect(status.replicas[0].objectsShipped >= 1)
        #expect(status.replicas[0].bytesShipped > 0)
        let text = status.formatted(nowMillis: streamClock.nowMillis)
        #expect(text.contains("replica memory://r1: txid \(db.txID)"))
        #expect(text.contains("data-loss window 0 ms"))
        controller.stop()
    }

    @Test("reading the status of a directory without one names the path")
    func missingStatusFile() {
        let shadow = temporaryDirectory("status-missing")
        defer { try? FileManager.default.removeItem(atPath: shadow) }
        #expect {
            try StreamStatus.read(shadowDirectory: shadow)
        } throws: { error in
            (error as? StreamError)?.code == .notFound && "\(error)".contains(shadow)
        }
    }
}
