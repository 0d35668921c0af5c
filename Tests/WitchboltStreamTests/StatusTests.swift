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

@Suite("Stream commands")
struct StreamCommandTests {
    @Test("witchbolt demo replicates, restores and compares; a second run continues the generation; witchbolt status prints it",
          arguments: TestBackend.enabled)
    func demoAndStatus(backend: TestBackend) throws {
        let dir = temporaryDirectory("demo")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let url = try backend.makeURL()
        let (first, out1, err1) = try runWitchbolt(["demo", "--dir", dir, "--replica", url, "--transactions", "60"])
        #expect(first == 0, "\(out1)\n\(err1)")
        #expect(out1.contains("restored txid 61"), "\(out1)")
        #expect(out1.contains("content identical"))
        #expect(out1.contains("demo passed"))
        let generation = try #require(try StreamStatus.read(shadowDirectory: dir + "/shadow").generation)

        let (second, out2, err2) = try runWitchbolt(["demo", "--dir", dir, "--replica", url, "--transactions", "40"])
        #expect(second == 0, "\(out2)\n\(err2)")
        #expect(out2.contains("restored txid 101"), "\(out2)")
        #expect(out2.contains("generation \(generation) (continued after a restart at txid 61)"), "\(out2)")

        let (status, text, _) = try runWitchbolt(["status", dir + "/shadow"])
        #expect(status == 0)
        #expect(text.contains("generation \(generation)"))
        #expect(text.contains("last txid  101"))
        let (jsonStatus, json, _) = try runWitchbolt(["status", dir + "/shadow", "--json"])
        #expect(jsonStatus == 0)
        let decoded = try JSONDecoder().decode(StreamStatus.self, from: Data(json.utf8))
        #expect(decoded.replicas.first?.lastTxID == 101)
        #expect(decoded.dataLossWindowMillis == 0)

        let (missing, _, missingErr) = try runWitchbolt(["status", dir + "/nowhere"])
        #expect(missing != 0)
        #expect(missingErr.contains("no status file"))
    }
}
