// Retention deletes exactly what the policy says, on a listing and on a live replica, and
// what it leaves still restores.

import Clocks
import Foundation
import Testing
import Witchbolt
@testable import WitchboltStream

@Suite("Stream retention")
struct RetentionTests {
    static let hour: Int64 = 3_600_000
    static let now: Int64 = 1_700_000_000_000

    static func snapshot(_ g: Generation, _ txID: UInt64, hoursAgo: Double) -> RetentionItem {
        RetentionItem(key: ArtefactKey.snapshot(g, txID: txID), generation: g, isSnapshot: true, minTxID: txID, maxTxID: txID,
                      timestampMillis: now - Int64(hoursAgo * Double(hour)))
    }

    static func segment(_ g: Generation, _ a: UInt64, _ b: UInt64) -> RetentionItem {
        RetentionItem(key: ArtefactKey.segment(g, minTxID: a, maxTxID: b), generation: g, isSnapshot: false, minTxID: a, maxTxID: b, timestampMillis: 0)
    }

    @Test("keeps snapshots inside the window, the one at its start and the newest; trims segments before the oldest kept; drops empty generations")
    func planDeletesExactly() {
        let old = Generation.new(nowMillis: Self.now - 50 * Self.hour, random: 1)
        let current = Generation.new(nowMillis: Self.now - 30 * Self.hour, random: 2)
        let items = [
            Self.snapshot(old, 10, hoursAgo: 50), Self.segment(old, 11, 20), Self.snapshot(old, 20, hoursAgo: 40), Self.segment(old, 21, 30),
            Self.snapshot(current, 40, hoursAgo: 30), Self.segment(current, 41, 50),
            Self.snapshot(current, 50, hoursAgo: 26), Self.segment(current, 51, 60),
            Self.snapshot(current, 60, hoursAgo: 20), Self.segment(current, 61, 70),
            Self.snapshot(current, 70, hoursAgo: 1), Self.segment(current, 71, 80),
        ]
        let deleted = Retention.plan(items: items, nowMillis: Self.now, window: .seconds(24 * 3600), current: current)
        // Window start is 24 h ago: the snapshot at 26 h is the one at or before it, kept with
        // those at 20 h and 1 h; everything before txid 50 goes, and so does the old generation.
        let expected = [
            Self.snapshot(old, 10, hoursAgo: 50).key, Self.segment(old, 11, 20).key, Self.snapshot(old, 20, hoursAgo: 40).key, Self.segment(old, 21, 30).key,
            Self.snapshot(current, 40, hoursAgo: 30).key, Self.segment(current, 41, 50).key,
        ].sorted()
        #expect(deleted == expected)
    }

    @Test("never touches a generation newer than the one being written, and keeps the current base")
    func planSparesNewerGenerations() {
        let current = Generation.new(nowMillis: Self.now - 100 * Self.hour, random: 1)
        let newer = Generation.new(nowMillis: Self.now - 90 * Self.hour, random: 2)
        let items = [
            Self.snapshot(current, 5, hoursAgo: 100), Self.segment(current, 6, 9),
            Self.snapshot(newer, 100, hoursAgo: 90), Self.segment(newer, 101, 110),
        ]
        #expect(Retention.plan(items: items, nowMillis: Self.now, window: .seconds(3600), current: current).isEmpty)
        // Without a current generation (restore tooling), the old one goes and the newest stays.
        #expect(Retention.plan(items: items, nowMillis: Self.now, window: .seconds(3600), current: nil) == [Self.snapshot(current, 5, hoursAgo: 100).key, Self.segment(current, 6, 9).key].sorted())
    }

    @Test("retention on a live replica and in the shadow directory deletes old history, and the rest still replays")
    func liveRetention() async throws {
        let clock = TestClock<Duration>()
        let streamClock = StreamClock(clock, wallMillisAtStart: Self.now)
        let shadow = temporaryDirectory("retention")
        defer { try? FileManager.default.removeItem(atPath: shadow) }
        let replica = MemoryReplica()
        let db = PageModelDatabase(seed: 41, clock: streamClock)
        var config = testConfig(shadow: shadow, replicas: [replica], clock: streamClock)
        config.snapshotInterval = .seconds(10)
        config.retention = .init(window: .seconds(30), checkInterval: .seconds(5))
        let controller = try StreamController(config: config, source: db)
        db.attach(controller)
        for _ in 0..<100 {
            db.commit()
            await clock.advance(by: .seconds(1))
            if db.txID % 10 == 0 { _ = controller.flush() }
        }
        #expect(controller.flush())
        await clock.advance(by: .seconds(6))
        _ = eventually(timeout: 2) { false }
        controller.stop()

        // What is left: snapshots within 30 s of the end, plus the one at or before the window start.
        let objects = try replica.list(prefix: "generations/")
        let snapshots = objects.compactMap { o -> UInt64? in if case .snapshot(_, let t) = ArtefactKey.parse(o.key) { return t } else { return nil } }
        let segments = objects.compactMap { o -> (UInt64, UInt64)? in if case .segment(_, let a, let b) = ArtefactKey.parse(o.key) { return (a, b) } else { return nil } }
        #expect(snapshots.count >= 3 && snapshots.count <= 5, "snapshots left: \(snapshots)")
        let oldest = try #require(snapshots.min())
        #expect(segments.allSatisfy { $0.1 > oldest }, "no segment before the oldest kept snapshot \(oldest)")
        #expect(oldest > 40, "the first snapshots are gone: \(snapshots)")
        let replay = try Replay.newest(replica)
        #expect(replay.lastTxID == db.txID)
        for (txID, image) in replay.images {
            let equalImages = imagesEqual(image, db.image(at: txID))
            #expect(equalImages, "txid \(txID)")
        }
        // The shadow directory holds nothing the replica already has.
        let shadowArtefacts = ShadowLog(root: shadow).listArtefacts()
        #expect(shadowArtefacts.isEmpty, "\(shadowArtefacts.map(\.key))")
    }
}
