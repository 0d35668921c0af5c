// Exactness on the real engine: a random workload (nested buckets, deletes, overflow values)
// replicated by the controller, with commits running inside every snapshot (between the
// chunks of its copy), on several page sizes, with and without freelist sync. For every txid,
// replaying what the replica received (the newest snapshot at or before it, then the records
// after) gives a database that checks clean and exports exactly as the source did at that
// txid; full restores at a sample of txids export the same; at the newest txid the replayed
// pages [2, hwm) and the active meta page equal the source file byte for byte.

import Clocks
import Foundation
import Synchronization
import Testing
import Witchbolt
@testable import WitchboltStream

/// Keeps a byte copy of the source after every commit, built from the frames alone.
final class ImageRecorder: PageFlushObserver, Sendable {
    let state = Mutex<(image: [UInt8], history: [UInt64: [UInt8]])>(([], [:]))

    func didFlush(_ info: PageFlushInfo) throws {
        state.withLock { s in
            let size = Int(info.highWaterMark) * info.pageSize
            if s.image.count < size { s.image += [UInt8](repeating: 0, count: size - s.image.count) }
            for frame in info.frames {
                let start = Int(frame.id) * info.pageSize
                s.image.replaceSubrange(start..<(start + frame.data.count), with: frame.data)
            }
            s.history[info.txID] = Array(s.image.prefix(size))
        }
    }

    func image(at txID: UInt64) -> [UInt8]? { state.withLock { $0.history[txID] } }
}

/// A snapshot source that runs `between` after every chunk of the copy.
struct InterleavedSource: SnapshotSource {
    let inner: DatabaseSnapshotSource
    let between: @Sendable () -> Void

    private struct ReadTx: SnapshotReadTransaction {
        let inner: any SnapshotReadTransaction
        let between: () -> Void
        var txID: UInt64 { inner.txID }
        var highWaterMark: UInt64 { inner.highWaterMark }
        var pageSize: Int { inner.pageSize }
        func write(to sink: ([UInt8]) throws -> Void) throws {
            try inner.write { chunk in
                try sink(chunk)
                between()
            }
        }
    }

    func withReadTransaction<R>(_ body: (any SnapshotReadTransaction) throws -> R) throws -> R {
        try inner.withReadTransaction { tx in try body(ReadTx(inner: tx, between: between)) }
    }
}

/// Opens a database image written to a file, checks it, and exports it.
func exportImage(_ image: [UInt8], in dir: String, name: String) throws -> (export: String, problems: [String]) {
    let path = dir + "/" + name
    _ = FileManager.default.createFile(atPath: path, contents: Data(image))
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try exportFile(path)
}

func exportFile(_ path: String) throws -> (export: String, problems: [String]) {
    var options = DB.Options()
    options.readOnly = true
    let db = try DB.open(path: path, options: options)
    defer { try? db.close() }
    return try db.view { tx in (try tx.exportString(), tx.check()) }
}

@Suite("Stream exactness on the real engine")
struct ExactnessTests {
    struct Shape: Sendable, CustomStringConvertible {
        var pageSize: Int
        var noFreelistSync: Bool
        var description: String { "page size \(pageSize)\(noFreelistSync ? ", no freelist sync" : "")" }
    }

    static let shapes = [
        Shape(pageSize: 1024, noFreelistSync: false), Shape(pageSize: 4096, noFreelistSync: false),
        Shape(pageSize: 16384, noFreelistSync: false), Shape(pageSize: 1024, noFreelistSync: true),
        Shape(pageSize: 4096, noFreelistSync: true), Shape(pageSize: 16384, noFreelistSync: true),
    ]

    @Test("every txid replays exactly from the replica, with commits inside every snapshot", arguments: TestBackend.enabled, shapes)
    func exactReplay(backend: TestBackend, shape: Shape) async throws {
        let seed = ControllerRandom.seed("exactReplay \(backend) \(shape)")
        let rng = Mutex(ControllerRandom(seed: seed))
        let dir = temporaryDirectory("exact")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let client = try backend.makeClient()
        let clock = TestClock<Duration>()
        let streamClock = StreamClock(clock)

        let recorder = ImageRecorder()
        var options = DB.Options()
        options.pageSize = shape.pageSize
        options.noFreelistSync = shape.noFreelistSync
        options.pageFlushObservers = [PageFlushObserverRegistration(observer: recorder)]
        let db = try DB.open(path: dir + "/source.db", options: options)
        defer { try? db.close() }

        // One random transaction: nested buckets, puts (some overflowing a page), deletes.
        @Sendable func randomTransaction() {
            try? db.update { tx in
                var r = rng.withLock { $0 }
                defer { rng.withLock { $0 = r } }
                let top = try tx.createBucketIfNotExists(Array("top\(r.next() % 3)".utf8))
                let bucket = r.next() % 2 == 0 ? top : try top.createBucketIfNotExists(Array("nested\(r.next() % 4)".utf8))
                for _ in 0..<Int(r.next() % 30 + 1) {
                    let key = Array("key\(r.next() % 400)".utf8)
                    switch r.next() % 10 {
                    case 0, 1: try? bucket.delete(key)
                    case 2: try bucket.put(key, [UInt8](repeating: UInt8(truncatingIfNeeded: r.next()), count: shape.pageSize * Int(r.next() % 3 + 1) + 17))
                    default: try bucket.put(key, (0..<Int(r.next() % 120 + 1)).map { _ in UInt8(truncatingIfNeeded: r.next()) })
                    }
                }
                if r.next() % 25 == 0 { try? top.deleteBucket(Array("nested\(r.next() % 4)".utf8)) }
            }
        }

        // Commits run inside every snapshot: one after each chunk of its copy (up to a few).
        let inSnapshot = Mutex(0)
        let source = InterleavedSource(inner: DatabaseSnapshotSource(db: db, chunkSize: 2 * shape.pageSize)) {
            if inSnapshot.withLock({ n in n += 1; return n <= 4 }) { randomTransaction() }
        }
        var config = testConfig(shadow: dir + "/shadow", replicas: [client], clock: streamClock)
        config.snapshotInterval = .seconds(10)
        let controller = try StreamController(config: config, source: source)
        db.register(controller)

        for round in 0..<6 {
            inSnapshot.withLock { $0 = 0 }
            await clock.advance(by: .seconds(10))
            for _ in 0..<8 { randomTransaction() }
            #expect(controller.flush(timeout: .seconds(60)), "round \(round)")
        }
        let status = controller.status()
        #expect(status.generationsStarted == 1, "no rotation expected: \(status.generationReason ?? "-")")
        db.unregister(controller)
        let report = controller.stop()
        #expect(report.isComplete, "\(report)")

        // Replay what the replica holds and compare with the source at every txid.
        let replay = try Replay.newest(client, strictSnapshots: false)
        let newest = try db.view { $0.id }
        #expect(replay.lastTxID == newest)
        #expect(replay.snapshotTxIDs.count >= 5, "periodic snapshots: \(replay.snapshotTxIDs)")
        // Byte-equal images need no more; the others (free pages reused while a snapshot
        // copied them) must still check clean and export as the source.
        var differing = 0
        for txID in replay.images.keys.sorted() {
            let source = try #require(recorder.image(at: txID), "source image at txid \(txID)")
            if replay.images[txID]! == source { continue }
            differing += 1
            let replayed = try exportImage(replay.images[txID]!, in: dir, name: "replayed.db")
            let expected = try exportImage(source, in: dir, name: "expected.db")
            #expect(replayed.problems.isEmpty, "txid \(txID): \(replayed.problems)")
            #expect(replayed.export == expected.export, "export at txid \(txID)")
        }
        print("exactReplay \(shape): \(replay.images.count) txids replayed, \(differing) differ in bytes from the source (free pages reused during a snapshot copy) and were compared by check and export")

        // Full restores at a sample of txids.
        let txIDs = replay.images.keys.sorted()
        for txID in [txIDs[txIDs.count / 3], txIDs[2 * txIDs.count / 3], newest] {
            var restoreOptions = RestoreOptions(outputPath: dir + "/restored-\(txID).db")
            restoreOptions.targetTxID = txID
            let result = try #require(try Restorer.restore(from: [client], options: restoreOptions))
            #expect(result.txID == txID)
            let restored = try exportFile(restoreOptions.outputPath)
            #expect(restored.problems.isEmpty)
            #expect(restored.export == (try exportImage(recorder.image(at: txID)!, in: dir, name: "expected.db")).export, "restore at txid \(txID)")
        }

        // At the newest txid, pages [2, hwm) and the active meta page equal the file's.
        let file = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/source.db")))
        let image = replay.images[newest]!
        let pageSize = shape.pageSize
        let active = Int(newest % 2) * pageSize
        let sameMeta = file[active..<(active + pageSize)] == image[active..<(active + pageSize)]
        let sameData = file[(2 * pageSize)..<image.count] == image[(2 * pageSize)...]
        #expect(sameMeta, "active meta page")
        #expect(sameData, "pages [2, hwm)")
    }
}
