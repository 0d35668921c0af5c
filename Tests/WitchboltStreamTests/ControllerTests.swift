// The controller pipeline end to end on a synthetic database: what a replica receives
// replays to the source's exact image at every txid, snapshots taken while commits run
// included; flush waits for every replica; the commit path never blocks.

import Clocks
import Foundation
import Synchronization
import Testing
import Witchbolt
@testable import WitchboltStream

@Suite("Stream controller")
struct ControllerTests {
    @Test("every txid replays exactly from what the replicas received, with commits during snapshots")
    func replaysExactly() async throws {
        let seed = ControllerRandom.seed("replaysExactly")
        let clock = TestClock<Duration>()
        let streamClock = StreamClock(clock, wallMillisAtStart: 1_700_000_000_000)
        let shadow = temporaryDirectory("ctl-exact")
        defer { try? FileManager.default.removeItem(atPath: shadow) }
        let replicas = [MemoryReplica(name: "a"), MemoryReplica(name: "b")]
        let db = PageModelDatabase(pageSize: 512, seed: seed, clock: streamClock)
        var config = testConfig(shadow: shadow, replicas: replicas, clock: streamClock)
        config.snapshotInterval = .seconds(5)
        config.compression = .zstd(level: 1)
        let controller = try StreamController(config: config, source: db)
        db.attach(controller)

        // Commits run inside every snapshot (between its chunks), and between clock ticks.
        let during = Mutex(0)
        db.duringSnapshot.withLock { $0 = { @Sendable in
            if during.withLock({ n in n += 1; return n % 3 == 0 }) { db.commit() }
        } }
        for round in 0..<30 {
            for _ in 0..<(round % 4 + 1) { db.commit() }
            await clock.advance(by: .seconds(1))
            if round % 10 == 9 { #expect(controller.flush(timeout: .seconds(30))) }
        }
        db.duringSnapshot.withLock { $0 = nil }
        #expect(controller.flush(timeout: .seconds(30)))
        #expect(controller.status().generationsStarted == 1, "no rotation expected: \(controller.status().generationReason ?? "-")")
        let report = controller.stop()
        #expect(report.isComplete, "\(report)")

        for replica in replicas {
            let replay = try Replay.newest(replica)
            #expect(replay.lastTxID == db.txID)
            #expect(replay.snapshotTxIDs.count >= 3, "periodic snapshots in \(replay.snapshotTxIDs)")
            for (txID, image) in replay.images {
                let equalImages = imagesEqual(image, db.image(at: txID))
                #expect(equalImages, "image at txid \(txID)")
            }
        }
        #expect(db.snapshotsTaken.withLock { $0 } >= 3)
    }

    @Test("flush returns once every replica holds every commit; status reports them caught up")
    func flushWaitsForReplicas() async throws {
        let bed = ControllerBed("ctl-flush", seed: 7)
        defer { bed.cleanUp() }
        let (db, replica) = (bed.db, bed.replica)
        let controller = try bed.start()
        for _ in 0..<20 { db.commit() }
        #expect(controller.flush(timeout: .seconds(30)))
        let status = controller.status()
        #expect(status.lastTxID == db.txID)
        #expect(status.replicas.first?.lastTxID == db.txID)
        #expect(status.dataLossWindowMillis == 0)
        #expect(status.generationsStarted == 1)
        controller.stop()
        #expect(try Replay.newest(replica).lastTxID == db.txID)
    }

    @Test("the queue never blocks: past its capacity it drops, flags the overflow and counts")
    func queueOverflow() {
        let queue = StreamControllerQueue(capacity: 3, byteCapacity: 1 << 20)
        let info = { (tx: UInt64) in PageFlushInfo(txID: tx, parentTxID: tx - 1, path: "x", pageSize: 64, highWaterMark: 4, timestampMillis: 0, frames: []) }
        #expect(queue.offer(info(2)))
        #expect(queue.offer(info(3)))
        #expect(queue.offer(info(4)))
        #expect(!queue.offer(info(5)))
        #expect(!queue.offer(info(6)))
        let (items, overflowed) = queue.drain(timeout: 0)
        #expect(items.map(\.txID) == [2, 3, 4])
        #expect(overflowed)
        #expect(queue.droppedCount == 2)
        #expect(queue.offer(info(7)))
        #expect(queue.drain(timeout: 0).overflowed == false)
    }

    @Test("offers wake a sleeping writer once, never a polling one, and an unannounced commit is still drained within the wake interval")
    func queueWakesSparingly() {
        let queue = StreamControllerQueue(capacity: 4096, byteCapacity: 1 << 30)
        let info = { (tx: UInt64) in PageFlushInfo(txID: tx, parentTxID: tx - 1, path: "x", pageSize: 64, highWaterMark: 4, timestampMillis: 0, frames: []) }
        // The first offer wakes; the next ones, made at once, do not: the writer is on its way.
        #expect(queue.offer(info(2)))
        for tx in UInt64(3)...200 { #expect(queue.offer(info(tx))) }
        #expect(queue.wakeCount == 1, "\(queue.wakeCount) wakes for 199 offers in a tight loop")
        #expect(queue.drain(timeout: 0).items.count == 199)
        // The writer took commits, so it polls: an offer made while it sleeps does not wake
        // it, and it still takes the commit within the wake interval, long before its own
        // timeout of 2 seconds. (A first, empty drain consumes the wake the first offer left
        // pending: nobody was waiting for it.)
        #expect(queue.drain(timeout: 0.5).items.isEmpty)
        let wakes = queue.wakeCount
        let start = Date()
        let late = info(201)
        let committer = Thread {
            Thread.sleep(forTimeInterval: 0.001)
            _ = queue.offer(late)
        }
        committer.start()
        let (items, _) = queue.drain(timeout: 2)
        let waited = Date().timeIntervalSince(start)
        #expect(items.map(\.txID) == [201])
        #expect(waited < 1.5, "drained after \(waited) s")
        #expect(queue.wakeCount == wakes, "an offer woke a polling writer")
        // A look that finds nothing ends the polling: the next offer wakes the writer.
        #expect(queue.drain(timeout: 0.05).items.isEmpty)
        #expect(queue.offer(info(202)))
        #expect(queue.wakeCount == wakes + 1)
        #expect(queue.drain(timeout: 2).items.map(\.txID) == [202])
        // A poke still ends a wait at once, with nothing queued.
        queue.poke()
        #expect(queue.drain(timeout: 2).items.isEmpty)
    }

    @Test("a queue overflow starts a new generation with a snapshot, and the newest state replays")
    func overflowStartsGeneration() async throws {
        var bed = ControllerBed("ctl-overflow", seed: 11)
        defer { bed.cleanUp() }
        let (db, replica) = (bed.db, bed.replica)
        bed.config.queueCapacity = 2
        // The writer is held while the test overflows the queue.
        let gate = WriterGate()
        let controller = try bed.start(hooks: gate.hooks)
        #expect(controller.flush(timeout: .seconds(30)))
        let first = try #require(controller.status().generation)
        gate.close()
        for _ in 0..<10 { db.commit() }
        gate.reopen()
        #expect(controller.flush(timeout: .seconds(30)))
        let status = controller.status()
        // The held writer took one or two commits in its last drain (capacity 2), the queue
        // holds two more: of ten, at least six were dropped.
        #expect(status.droppedCommits >= 6)
        #expect(status.generation != first)
        #expect(status.generationReason?.contains("overflow") == true)
        controller.stop()
        let replay = try Replay.newest(replica)
        #expect(replay.generation.rawValue == status.generation)
        #expect(replay.lastTxID == db.txID)
        let equalImages = imagesEqual(replay.images[db.txID], db.image)
        #expect(equalImages)
    }

    @Test("commit times never go backwards within a generation: an earlier one is clamped to the previous")
    func timestampsClamped() throws {
        let bed = ControllerBed("ctl-time", seed: 9)
        defer { bed.cleanUp() }
        let (db, replica) = (bed.db, bed.replica)
        let controller = try bed.start()
        #expect(controller.flush())
        let base = bed.streamClock.nowMillis
        for offset: Int64 in [5_000, 3_000, 7_000, 6_000] { db.commit(timestampMillis: base + offset) }
        #expect(controller.flush())
        controller.stop()
        let records = try replica.list(prefix: "generations/").filter { $0.key.hasSuffix(".segment") }.flatMap { object in
            try SegmentFile.decode(try replica.read(key: object.key), name: object.key).1
        }
        #expect(records.map(\.timestampMillis) == [5_000, 5_000, 7_000, 7_000].map { base + $0 })
    }
}
