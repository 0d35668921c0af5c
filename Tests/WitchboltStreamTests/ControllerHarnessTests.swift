// The controller tests' harness (no tests of its own): a synthetic database that commits
// random page frames and serves snapshots, an in-memory replica that can be told to fail,
// and a replayer that rebuilds every txid's image from what a replica received, checking
// each record's whole-database checksum on the way.

import Clocks
import Foundation
import Synchronization
import Testing
import Witchbolt
@testable import WitchboltStream

/// A seeded random generator (SplitMix64), so a failing run can be repeated with WITCHBOLT_SEED.
struct ControllerRandom: RandomNumberGenerator, Sendable {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The seed from WITCHBOLT_SEED, or a fresh one; printed either way.
    static func seed(_ test: String) -> UInt64 {
        let seed = ProcessInfo.processInfo.environment["WITCHBOLT_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64.max)
        print("\(test): WITCHBOLT_SEED=\(seed)")
        return seed
    }
}

/// A database made of pages, committing random frames to an observer, and serving
/// consistent snapshots. Every committed image is kept, by txid, for comparisons.
final class PageModelDatabase: SnapshotSource, Sendable {
    struct State {
        var pages: [[UInt8]]
        var txID: UInt64
        var random: ControllerRandom
        var history: [UInt64: [UInt8]] = [:]
        var observer: (any PageFlushObserver)?
    }

    let pageSize: Int
    let clock: StreamClock
    let state: Mutex<State>
    /// Runs between snapshot chunks (commits during a snapshot); set by tests.
    let duringSnapshot = Mutex<(@Sendable () -> Void)?>(nil)
    /// How long each snapshot chunk takes in real time (a slow snapshot).
    let snapshotChunkDelay = Mutex<TimeInterval>(0)
    let snapshotsTaken = Mutex(0)

    init(pageSize: Int = 1024, seed: UInt64, clock: StreamClock, startTxID: UInt64 = 1) {
        self.pageSize = pageSize
        self.clock = clock
        var random = ControllerRandom(seed: seed)
        var pages: [[UInt8]] = []
        for id in 0..<4 { pages.append(Self.page(id: UInt64(id), txID: startTxID, size: pageSize, random: &random)) }
        state = Mutex(State(pages: pages, txID: startTxID, random: random))
        state.withLock { $0.history[startTxID] = $0.pages.flatMap { $0 } }
    }

    static func page(id: UInt64, txID: UInt64, size: Int, random: inout ControllerRandom) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: size)
        withUnsafeBytes(of: id.littleEndian) { bytes.replaceSubrange(0..<8, with: $0) }
        withUnsafeBytes(of: txID.littleEndian) { bytes.replaceSubrange(8..<16, with: $0) }
        for i in stride(from: 16, to: size, by: 8) { bytes[i] = UInt8(truncatingIfNeeded: random.next()) }
        return bytes
    }

    func attach(_ observer: (any PageFlushObserver)?) { state.withLock { $0.observer = observer } }

    var txID: UInt64 { state.withLock { $0.txID } }
    var highWaterMark: Int { state.withLock { $0.pages.count } }
    func image(at txID: UInt64) -> [UInt8]? { state.withLock { $0.history[txID] } }
    var image: [UInt8] { state.withLock { $0.pages.flatMap { $0 } } }

    /// Commits one transaction: rewrites some pages (some with overflow), sometimes grows,
    /// writes the meta page last, and hands the frames to the observer (under the "writer lock").
    @discardableResult
    func commit(timestampMillis: Int64? = nil) -> PageFlushInfo {
        state.withLock { s in
            let txID = s.txID + 1
            var frames: [PageFrame] = []
            // Grow now and then, writing the new pages.
            if s.random.next() % 4 == 0 {
                let grow = Int(s.random.next() % 3) + 1
                let first = UInt64(s.pages.count)
                let data = (0..<grow).flatMap { i in Self.page(id: first + UInt64(i), txID: txID, size: pageSize, random: &s.random) }
                s.pages += (0..<grow).map { i in Array(data[(i * pageSize)..<((i + 1) * pageSize)]) }
                frames.append(PageFrame(id: first, overflow: UInt32(grow - 1), data: data))
            }
            // Rewrite a few existing data pages.
            let count = Int(s.random.next() % 4) + 1
            var used = Set(frames.flatMap { f in (0...UInt64(f.overflow)).map { f.id + $0 } })
            for _ in 0..<count {
                let id = 2 + s.random.next() % UInt64(s.pages.count - 2)
                guard !used.contains(id) else { continue }
                used.insert(id)
                let bytes = Self.page(id: id, txID: txID, size: pageSize, random: &s.random)
                s.pages[Int(id)] = bytes
                frames.append(PageFrame(id: id, overflow: 0, data: bytes))
            }
            frames.sort { $0.id < $1.id }
            // The meta page last.
            let metaID = txID % 2
            let meta = Self.page(id: metaID, txID: txID, size: pageSize, random: &s.random)
            s.pages[Int(metaID)] = meta
            frames.append(PageFrame(id: metaID, overflow: 0, data: meta))
            s.txID = txID
            s.history[txID] = s.pages.flatMap { $0 }
            let info = PageFlushInfo(
                txID: txID, parentTxID: txID - 1, path: "synthetic.db", pageSize: pageSize,
                highWaterMark: UInt64(s.pages.count), timestampMillis: timestampMillis ?? clock.nowMillis, frames: frames)
            try? s.observer?.didFlush(info)
            return info
        }
    }

    /// Commits without telling the observer (a commit while detached).
    func commitUnobserved() {
        let observer = state.withLock { s -> (any PageFlushObserver)? in defer { s.observer = nil }; return s.observer }
        commit()
        state.withLock { $0.observer = observer }
    }

    private struct ReadTx: SnapshotReadTransaction {
        let txID: UInt64
        let highWaterMark: UInt64
        let pageSize: Int
        let image: [UInt8]
        let db: PageModelDatabase
        func write(to sink: ([UInt8]) throws -> Void) throws {
            var offset = 0
            var n = 0
            while offset < image.count {
                let size = min(image.count - offset, [100, pageSize, 3 * pageSize + 7][n % 3])
                try sink(Array(image[offset..<(offset + size)]))
                offset += size
                n += 1
                if let during = db.duringSnapshot.withLock({ $0 }) { during() }
                let delay = db.snapshotChunkDelay.withLock { $0 }
                if delay > 0 { Thread.sleep(forTimeInterval: delay) }
            }
        }
    }

    func withReadTransaction<R>(_ body: (any SnapshotReadTransaction) throws -> R) throws -> R {
        snapshotsTaken.withLock { $0 += 1 }
        let tx = state.withLock { s in
            ReadTx(txID: s.txID, highWaterMark: UInt64(s.pages.count), pageSize: pageSize, image: s.pages.flatMap { $0 }, db: self)
        }
        return try body(tx)
    }
}

/// A replica in memory; `failing` makes every call throw a transient error.
final class MemoryReplica: ReplicaClient, Sendable {
    let objects = Mutex<[String: [UInt8]]>([:])
    let failing = Mutex(false)
    let writes = Mutex(0)
    let name: String

    init(name: String = "memory") { self.name = name }

    var description: String { "memory://\(name)" }
    var kind: String { "memory" }

    private func check() throws {
        if failing.withLock({ $0 }) { throw StreamError(.unavailable, "\(description): injected failure") }
    }

    func write(key: String, from source: ObjectSource) throws {
        try check()
        let bytes: [UInt8]
        switch source {
        case .bytes(let b): bytes = b
        case .file(let path): bytes = try ShadowFileIO.read(path)
        }
        objects.withLock { $0[key] = bytes }
        writes.withLock { $0 += 1 }
    }

    func read(key: String) throws -> [UInt8] {
        try check()
        guard let bytes = objects.withLock({ $0[key] }) else { throw StreamError(.notFound, "\(description): \(key)") }
        return bytes
    }

    func read(key: String, range: Range<Int64>) throws -> [UInt8] {
        let bytes = try read(key: key)
        let lower = Int(min(range.lowerBound, Int64(bytes.count)))
        let upper = Int(min(range.upperBound, Int64(bytes.count)))
        return Array(bytes[lower..<upper])
    }

    func list(prefix: String) throws -> [ObjectInfo] {
        try check()
        return objects.withLock { o in
            o.filter { $0.key.hasPrefix(prefix) }.map { ObjectInfo(key: $0.key, size: Int64($0.value.count)) }.sorted { $0.key < $1.key }
        }
    }

    func delete(keys: [String]) throws {
        try check()
        objects.withLock { o in for key in keys { o[key] = nil } }
    }

    var keys: [String] { objects.withLock { $0.keys.sorted() } }
}

/// A replica configuration handing out a given client (memory, failing wrappers, test backends).
struct ClientReplicaConfig: ReplicaConfig {
    let client: any ReplicaClient
    var description: String { client.description }
    func makeClient() throws -> any ReplicaClient { client }
}

/// What a replica holds, replayed: every txid's image, checked record by record.
struct Replay {
    var generation: Generation
    var images: [UInt64: [UInt8]] = [:]
    var snapshotTxIDs: [UInt64] = []
    var lastTxID: UInt64 = 0

    /// Replays the newest generation of `client` (or `generation`): its oldest snapshot, then
    /// every record after it, checking txid continuity, each record's whole-database checksum
    /// against the image rebuilt so far, and each later snapshot against the replayed image.
    /// With `strictSnapshots`, every later snapshot must equal the replayed image byte for
    /// byte (true of a synthetic database; a real one may differ on free pages reused while
    /// the snapshot copied them). Either way, replay goes on from each snapshot's image, as
    /// a restore from it would.
    static func newest(_ client: any ReplicaClient, generation: Generation? = nil, strictSnapshots: Bool = true) throws -> Replay {
        let parsed = try client.list(prefix: "generations/").compactMap { o in ArtefactKey.parse(o.key).map { (o.key, $0) } }
        guard let newest = generation ?? parsed.map(\.1.generation).max() else {
            throw StreamError(.noGeneration, "\(client.description) holds no generation")
        }
        var snapshots: [(UInt64, String)] = []
        var segments: [(UInt64, UInt64, String)] = []
        for (key, p) in parsed where p.generation == newest {
            switch p {
            case .snapshot(_, let t): snapshots.append((t, key))
            case .segment(_, let a, let b): segments.append((a, b, key))
            }
        }
        snapshots.sort { $0.0 < $1.0 }
        segments.sort { $0.0 < $1.0 }
        guard let base = snapshots.first else { throw StreamError(.noSnapshot, "generation \(newest) has no snapshot") }

        var replay = Replay(generation: newest)
        var image: [UInt8] = []
        let reader = try SnapshotReader(bytes: try client.read(key: base.1), name: base.1)
        let trailer = try reader.read { image += $0 }
        let pageSize = Int(reader.header.pageSize)
        #expect(image.count == Int(trailer.highWaterMark) * pageSize)
        #expect(DatabaseChecksum.of(image: image, pageSize: pageSize, txID: base.0) == trailer.databaseChecksum, "snapshot \(base.1) checksum")
        var checksum = DatabaseChecksum(pageSize: pageSize)
        checksum.appendImage(image)
        checksum.setActiveMeta(txID: base.0)
        var txID = base.0
        replay.images[txID] = image
        replay.snapshotTxIDs.append(txID)

        let later = snapshots.dropFirst()
        for (_, _, key) in segments {
            let (_, records) = try SegmentFile.decode(try client.read(key: key), name: key)
            for record in records where record.txID > txID {
                #expect(record.parentTxID == txID, "txid \(record.txID) follows \(txID)")
                // A snapshot at txID restarts the checksum chain from its image.
                if let snap = later.first(where: { $0.0 == txID }), txID != base.0 {
                    var snapImage: [UInt8] = []
                    let r = try SnapshotReader(bytes: try client.read(key: snap.1), name: snap.1)
                    let t = try r.read { snapImage += $0 }
                    if strictSnapshots {
                        let equal = snapImage == image
                        #expect(equal, "snapshot \(snap.1) equals the replayed image")
                    }
                    image = snapImage
                    checksum = DatabaseChecksum(pageSize: pageSize)
                    checksum.appendImage(snapImage)
                    checksum.setActiveMeta(txID: txID)
                    #expect(checksum.value == t.databaseChecksum)
                    replay.snapshotTxIDs.append(txID)
                }
                let hwm = Int(record.highWaterMark) * pageSize
                if image.count < hwm { image += [UInt8](repeating: 0, count: hwm - image.count) }
                if image.count > hwm { image.removeLast(image.count - hwm) }
                for frame in record.frames {
                    let start = Int(frame.id) * pageSize
                    image.replaceSubrange(start..<(start + frame.data.count), with: frame.data)
                }
                checksum.apply(record)
                #expect(checksum.value == record.databaseChecksum, "record \(record.txID) checksum")
                #expect(DatabaseChecksum.of(image: image, pageSize: pageSize, txID: record.txID) == record.databaseChecksum)
                txID = record.txID
                replay.images[txID] = image
            }
        }
        replay.lastTxID = txID
        return replay
    }
}

/// The usual controller test bed: a test clock, a temporary shadow directory (removed by
/// `cleanUp`), one memory replica, a page-model database and a test configuration for them.
struct ControllerBed {
    let clock = TestClock<Duration>()
    let streamClock: StreamClock
    let shadow: String
    let replica = MemoryReplica()
    let db: PageModelDatabase
    var config: StreamConfig

    init(_ label: String, pageSize: Int = 1024, seed: UInt64) {
        streamClock = StreamClock(clock, wallMillisAtStart: 1_700_000_000_000)
        shadow = temporaryDirectory(label)
        db = PageModelDatabase(pageSize: pageSize, seed: seed, clock: streamClock)
        config = testConfig(shadow: shadow, replicas: [replica], clock: streamClock)
    }

    /// A controller on the bed's database (attached), with `hooks`.
    func start(hooks: StreamHooks = StreamHooks()) throws -> StreamController {
        let controller = try StreamController(config: config, source: db, hooks: hooks)
        db.attach(controller)
        return controller
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: shadow) }
}

/// A gate on the writer thread: while closed, the writer waits before taking each commit, so
/// a test can queue commits (a burst, an overflow) that the writer then drains in one go.
final class WriterGate: Sendable {
    private let open = Mutex(true)

    func close() { open.withLock { $0 = false } }
    func reopen() { open.withLock { $0 = true } }

    /// Hooks that hold the writer while the gate is closed.
    var hooks: StreamHooks {
        StreamHooks(beforeShadowWrite: { [self] _ in
            while !open.withLock({ $0 }) { Thread.sleep(forTimeInterval: 0.002) }
            return true
        })
    }
}

/// A temporary directory, removed by the caller's `defer`.
func temporaryDirectory(_ label: String) -> String {
    let path = NSTemporaryDirectory() + "witchbolt-\(label)-\(UInt64.random(in: 0...UInt64.max) & 0xFFFF_FFFF)"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A test configuration: a TestClock-driven stream with short intervals.
func testConfig(shadow: String, replicas: [any ReplicaClient], clock: StreamClock) -> StreamConfig {
    StreamConfig(
        shadowDirectory: shadow, snapshotInterval: .seconds(3600), syncInterval: .seconds(1),
        replicas: replicas.map { ClientReplicaConfig(client: $0) }, shutdownTimeout: .seconds(10),
        initialRetryDelay: .seconds(1), maxRetryDelay: .seconds(8), clock: clock)
}

/// Waits (real time) until `condition` holds; false on timeout.
func eventually(timeout: TimeInterval = 20, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.005)
    }
    return condition()
}

/// Compares two images without printing them when they differ (they are large).
func imagesEqual(_ a: [UInt8]?, _ b: [UInt8]?) -> Bool { a == b }

/// Expects the newest generation on `replica` to replay up to `db`'s last commit and to give
/// back its image byte for byte.
func expectNewestReplay(of replica: any ReplicaClient, equals db: PageModelDatabase, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let replay = try Replay.newest(replica)
    #expect(replay.lastTxID == db.txID, sourceLocation: sourceLocation)
    let equalImages = imagesEqual(replay.images[db.txID], db.image)
    #expect(equalImages, "the replay at txid \(db.txID) differs from the database", sourceLocation: sourceLocation)
}

/// Wraps any replica client and makes every call fail while `failing` is set (an outage).
final class FlakyReplica: ReplicaClient, Sendable {
    let inner: any ReplicaClient
    let failing = Mutex(false)
    let failures = Mutex(0)

    init(_ inner: any ReplicaClient) { self.inner = inner }

    var description: String { "flaky+" + inner.description }
    var kind: String { inner.kind }

    private func check() throws {
        if failing.withLock({ $0 }) {
            failures.withLock { $0 += 1 }
            throw StreamError(.unavailable, "\(description): injected failure")
        }
    }

    func write(key: String, from source: ObjectSource) throws { try check(); try inner.write(key: key, from: source) }
    func read(key: String) throws -> [UInt8] { try check(); return try inner.read(key: key) }
    func read(key: String, range: Range<Int64>) throws -> [UInt8] { try check(); return try inner.read(key: key, range: range) }
    func list(prefix: String) throws -> [ObjectInfo] { try check(); return try inner.list(prefix: prefix) }
    func delete(keys: [String]) throws { try check(); try inner.delete(keys: keys) }
    func close() { inner.close() }
}
