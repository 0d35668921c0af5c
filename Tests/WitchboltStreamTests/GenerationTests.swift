// When a generation starts and when it goes on: a clean restart or a crash after the shadow
// log caught up continues it; a commit while detached, a crash between the commit and the
// shadow write, a txid gap, or a replica holding newer state start a new one, each with a
// snapshot, and the newest state always replays.

import Clocks
import Foundation
import Synchronization
import Testing
import Witchbolt
@testable import WitchboltStream

@Suite("Stream generations")
struct GenerationTests {
    struct Setup {
        let clock = TestClock<Duration>()
        let streamClock: StreamClock
        let shadow = temporaryDirectory("gen")
        let replica = MemoryReplica()
        let db: PageModelDatabase

        init(seed: UInt64) {
            streamClock = StreamClock(clock, wallMillisAtStart: 1_700_000_000_000)
            db = PageModelDatabase(seed: seed, clock: streamClock)
        }

        func start(hooks: StreamHooks = StreamHooks(), on database: PageModelDatabase? = nil) throws -> StreamController {
            let database = database ?? db
            let controller = try StreamController(config: testConfig(shadow: shadow, replicas: [replica], clock: streamClock), source: database, hooks: hooks)
            database.attach(controller)
            return controller
        }

        func generations() throws -> Set<String> {
            Set(try replica.list(prefix: "generations/").compactMap { ArtefactKey.parse($0.key)?.generation.rawValue })
        }

        func cleanup() { try? FileManager.default.removeItem(atPath: shadow) }
    }

    @Test("a restart after a clean stop continues the same generation without a new snapshot")
    func cleanRestartContinues() throws {
        let s = Setup(seed: 21)
        defer { s.cleanup() }
        var controller = try s.start()
        for _ in 0..<5 { s.db.commit() }
        #expect(controller.flush())
        let generation = controller.status().generation
        controller.stop()

        controller = try s.start()
        for _ in 0..<5 { s.db.commit() }
        #expect(controller.flush())
        #expect(controller.status().generation == generation)
        #expect(controller.status().generationReason?.contains("continued") == true)
        controller.stop()
        #expect(try s.generations().count == 1)
        let snapshots = try s.replica.list(prefix: "generations/").filter { $0.key.hasSuffix(".snapshot") }
        #expect(snapshots.count == 1)
        try expectNewestReplay(of: s.replica, equals: s.db)
    }

    @Test("a crash after the shadow log caught up continues the same generation")
    func crashAfterCatchUpContinues() throws {
        let s = Setup(seed: 22)
        defer { s.cleanup() }
        var controller = try s.start()
        for _ in 0..<5 { s.db.commit() }
        #expect(controller.flush())
        let generation = controller.status().generation
        controller.abandon()

        controller = try s.start()
        s.db.commit()
        #expect(controller.flush())
        #expect(controller.status().generation == generation)
        controller.stop()
        #expect(try Replay.newest(s.replica).lastTxID == s.db.txID)
    }

    @Test("a commit while detached starts a new generation with a snapshot")
    func detachedCommitRotates() throws {
        let s = Setup(seed: 23)
        defer { s.cleanup() }
        var controller = try s.start()
        for _ in 0..<3 { s.db.commit() }
        #expect(controller.flush())
        let generation = controller.status().generation
        controller.stop()
        s.db.attach(nil)
        s.db.commit()

        controller = try s.start()
        s.db.commit()
        #expect(controller.flush())
        let status = controller.status()
        #expect(status.generation != generation)
        #expect(status.generationReason?.contains("does not follow the last shadowed txid") == true)
        controller.stop()
        #expect(try s.generations().count == 2)
        try expectNewestReplay(of: s.replica, equals: s.db)
    }

    @Test("a crash between the commit and the shadow write starts a new generation")
    func crashBeforeShadowWriteRotates() throws {
        let s = Setup(seed: 24)
        defer { s.cleanup() }
        let crashAt = Mutex<UInt64>(.max)
        var controller = try s.start(hooks: StreamHooks(beforeShadowWrite: { txID in txID < crashAt.withLock { $0 } }))
        for _ in 0..<4 { s.db.commit() }
        #expect(controller.flush())
        let generation = controller.status().generation
        crashAt.withLock { $0 = s.db.txID + 1 }
        s.db.commit()
        #expect(eventually { controller.shared.withLock { $0.abandoned } })
        controller.abandon()

        controller = try s.start()
        #expect(controller.flush())
        #expect(controller.status().generation != generation)
        controller.stop()
        try expectNewestReplay(of: s.replica, equals: s.db)
    }

    @Test("a txid gap starts a new generation whose snapshot covers the missing commits")
    func gapRotates() throws {
        let s = Setup(seed: 25)
        defer { s.cleanup() }
        let controller = try s.start()
        for _ in 0..<3 { s.db.commit() }
        #expect(controller.flush())
        let generation = controller.status().generation
        s.db.commitUnobserved()
        s.db.commit()
        #expect(controller.flush())
        let status = controller.status()
        #expect(status.generation != generation)
        #expect(status.generationReason?.contains("does not follow the chain") == true)
        controller.stop()
        let replay = try Replay.newest(s.replica)
        let equalImages = imagesEqual(replay.images[s.db.txID], s.db.image)
        #expect(equalImages)
    }

    @Test("a replica holding a newer generation is left untouched; the stream starts a newer one")
    func newerReplicaStateUntouched() throws {
        let s = Setup(seed: 26)
        defer { s.cleanup() }
        var controller = try s.start()
        for _ in 0..<3 { s.db.commit() }
        #expect(controller.flush())
        let generation = try #require(controller.status().generation)
        controller.stop()

        // Another node wrote a newer generation to the replica meanwhile.
        let foreign = Generation.new(nowMillis: s.streamClock.nowMillis + 60_000)
        let foreignKey = ArtefactKey.snapshot(foreign, txID: 999)
        try s.replica.write(key: foreignKey, from: .bytes([1, 2, 3]))

        controller = try s.start()
        s.db.commit()
        #expect(controller.flush())
        let status = controller.status()
        #expect(status.generation != generation)
        #expect(status.generationReason?.contains("newer position") == true)
        controller.stop()
        #expect(try s.replica.read(key: foreignKey) == [1, 2, 3])
        let mine = try #require(status.generation.flatMap(Generation.init(rawValue:)))
        let replay = try Replay.newest(s.replica, generation: mine)
        let equalImages = imagesEqual(replay.images[s.db.txID], s.db.image)
        #expect(equalImages)
    }

    @Test("a different database at the same txid as the shadow log starts a new generation")
    func replacedDatabaseRotates() throws {
        let s = Setup(seed: 27)
        defer { s.cleanup() }
        var controller = try s.start()
        for _ in 0..<4 { s.db.commit() }
        #expect(controller.flush())
        let generation = controller.status().generation
        controller.stop()

        let other = PageModelDatabase(seed: 2727, clock: s.streamClock, startTxID: s.db.txID)
        controller = try s.start(on: other)
        other.commit()
        #expect(controller.flush())
        let status = controller.status()
        #expect(status.generation != generation)
        #expect(status.generationReason?.contains("differs from what the shadow log recorded") == true)
        controller.stop()
        let replay = try Replay.newest(s.replica)
        let equalImages = imagesEqual(replay.images[other.txID], other.image)
        #expect(equalImages)
    }

    @Test("a crash with commits in the open segment's log continues the generation and ships them")
    func crashWithUnsealedCommitsRecovers() throws {
        let s = Setup(seed: 28)
        defer { s.cleanup() }
        var config = testConfig(shadow: s.shadow, replicas: [s.replica], clock: s.streamClock)
        config.syncInterval = .seconds(3600)
        var controller = try StreamController(config: config, source: s.db)
        s.db.attach(controller)
        s.db.commit()
        #expect(controller.flush())
        let generation = controller.status().generation
        for _ in 0..<3 { s.db.commit() }
        #expect(eventually { controller.shared.withLock { $0.unsealedCount == 3 } })
        controller.abandon()
        #expect(ShadowOpenLog.read(path: ShadowLog(root: s.shadow).openLogPath).count == 3)

        controller = try s.start()
        #expect(controller.flush())
        #expect(controller.status().generation == generation)
        controller.stop()
        try expectNewestReplay(of: s.replica, equals: s.db)
    }

    @Test("a torn last entry of the open segment's log ends it there")
    func tornOpenLogEntry() throws {
        let dir = temporaryDirectory("openlog")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/open.log"
        let log = try ShadowOpenLog(path: path)
        for tx in UInt64(5)...7 {
            try log.append(TransactionRecord(txID: tx, parentTxID: tx - 1, timestampMillis: Int64(tx), pageSize: 256, highWaterMark: 4,
                                             frames: [PageFrame(id: tx % 2, overflow: 0, data: [UInt8](repeating: UInt8(tx), count: 256))], databaseChecksum: tx))
        }
        try log.sync()
        let size = try #require(ShadowFileIO.size(of: path))
        #expect(truncate(path, off_t(size - 10)) == 0)
        #expect(ShadowOpenLog.read(path: path).map(\.txID) == [5, 6])
        #expect(ShadowOpenLog.tail(path: path, after: 5).map(\.txID) == [6])
        #expect(ShadowOpenLog.tail(path: path, after: 3).isEmpty)
    }
}
