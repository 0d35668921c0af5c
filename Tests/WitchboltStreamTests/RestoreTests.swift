// Restore from synthetic chains built with SegmentFile and SnapshotWriter directly: to the
// latest txid, a target txid, a target time; the if-options; several replicas; and every
// kind of bad artefact ends in a clear error naming it, with nothing left at the output.

import Foundation
import Testing
import WitchboltTestSupport
import Witchbolt
@testable import WitchboltStream

/// A synthetic history on a file replica: the images after every txid, and the keys written.
struct SyntheticReplica {
    let directory: String
    let client: any ReplicaClient
    var writer: ChainWriter
    var db: SyntheticDatabase
    /// The image after each txid.
    var images: [UInt64: [UInt8]] = [:]
    var times: [UInt64: Int64] = [:]
    var segmentKeys: [String] = []

    init(_ label: String, pages: Int = 8) throws {
        directory = NSTemporaryDirectory() + "restore-replica-\(UUID().uuidString)"
        client = try FileReplicaClient(root: directory)
        writer = ChainWriter(client: client)
        db = SyntheticDatabase(rng: SeededRandom(label: label), pages: pages)
        images[db.txID] = db.image
        times[db.txID] = db.timeMillis
    }

    /// Writes a snapshot of the current state.
    mutating func snapshot() throws {
        try writer.putSnapshot(db)
    }

    /// Commits `count` transactions and ships them as one segment.
    @discardableResult
    mutating func segment(_ count: Int) throws -> [TransactionRecord] {
        var records: [TransactionRecord] = []
        for _ in 0..<count {
            records.append(db.commit())
            images[db.txID] = db.image
            times[db.txID] = db.timeMillis
        }
        segmentKeys.append(try writer.putSegment(records))
        return records
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: directory) }
}

/// A fresh output path in a fresh directory.
func restoreOutput() -> String {
    let dir = NSTemporaryDirectory() + "restore-out-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir + "/restored.db"
}

func syntheticOptions(_ output: String) -> RestoreOptions {
    var options = RestoreOptions(outputPath: output)
    options.runConsistencyCheck = false  // random pages are not a B+tree
    return options
}

func fileBytes(_ path: String) -> [UInt8]? {
    FileManager.default.contents(atPath: path).map { Array($0) }
}

/// The names in the output's directory (to prove no temporary file is left behind).
func directoryEntries(of output: String) -> [String] {
    (try? FileManager.default.contentsOfDirectory(atPath: (output as NSString).deletingLastPathComponent)) ?? []
}

/// A replica that cannot be reached.
final class UnreachableClient: ReplicaClient {
    var description: String { "file:///unreachable" }
    var kind: String { "file" }
    func write(key: String, from source: ObjectSource) throws { throw StreamError(.unavailable, "unreachable") }
    func read(key: String) throws -> [UInt8] { throw StreamError(.unavailable, "unreachable") }
    func read(key: String, range: Range<Int64>) throws -> [UInt8] { throw StreamError(.unavailable, "unreachable") }
    func list(prefix: String) throws -> [ObjectInfo] { throw StreamError(.unavailable, "unreachable") }
    func delete(keys: [String]) throws { throw StreamError(.unavailable, "unreachable") }
}

@Suite("Restore")
struct RestoreTests {
    @Test("restores the latest txid byte for byte, skipping records before the newest snapshot")
    func latest() throws {
        var replica = try SyntheticReplica("restore latest")
        defer { replica.cleanUp() }
        try replica.snapshot()
        try replica.segment(3)
        try replica.segment(4)
        try replica.snapshot()  // a newer snapshot at txid 8
        try replica.segment(2)
        try replica.client.write(key: "README.txt", from: .bytes(Array("foreign".utf8)))
        let output = restoreOutput()
        var phases: [RestoreProgress.Phase] = []
        let seen = Mutexed<[RestoreProgress.Phase]>([])
        var options = syntheticOptions(output)
        options.progress = { p in seen.update { $0.append(p.phase) } }
        let result = try #require(try Restorer.restore(from: [replica.client], options: options))
        phases = seen.value
        #expect(result.txID == replica.db.txID)
        #expect(result.snapshotTxID == 8)
        #expect(result.recordsApplied == 2)
        #expect(fileBytes(output) == replica.db.image)
        #expect(result.databaseChecksum == replica.db.expectedChecksum)
        #expect(phases.first == .planning && phases.last == .done)
        #expect(directoryEntries(of: output) == ["restored.db"])
    }

    @Test("restores any target txid, from the newest snapshot at or before it")
    func targetTxID() throws {
        var replica = try SyntheticReplica("restore targetTxID")
        defer { replica.cleanUp() }
        try replica.snapshot()
        try replica.segment(4)
        try replica.snapshot()
        try replica.segment(4)
        for target: UInt64 in [1, 2, 4, 5, 6, 7, 9] {
            let output = restoreOutput()
            var options = syntheticOptions(output)
            options.targetTxID = target
            options.parallelism = Int(target % 3) + 1
            let result = try #require(try Restorer.restore(from: [replica.client], options: options))
            #expect(result.txID == target)
            #expect(result.snapshotTxID == (target >= 5 ? 5 : 1))
            #expect(fileBytes(output) == replica.images[target], "txid \(target)")
        }
        var options = syntheticOptions(restoreOutput())
        options.targetTxID = 99
        #expect(throws: StreamError.self) { try Restorer.restore(from: [replica.client], options: options) }
    }

    @Test("restores the last commit at or before a target time")
    func targetTime() throws {
        var replica = try SyntheticReplica("restore targetTime")
        defer { replica.cleanUp() }
        try replica.snapshot()
        try replica.segment(5)
        try replica.segment(5)
        for txID: UInt64 in [1, 3, 6, 11] {
            let time = replica.times[txID]!
            for offset: Int64 in [0, 999] {
                let output = restoreOutput()
                var options = syntheticOptions(output)
                options.targetTimestampMillis = time + offset
                let result = try #require(try Restorer.restore(from: [replica.client], options: options))
                #expect(result.txID == txID)
                #expect(fileBytes(output) == replica.images[txID])
            }
        }
        var options = syntheticOptions(restoreOutput())
        options.targetTimestampMillis = replica.times[1]! - 1
        do {
            _ = try Restorer.restore(from: [replica.client], options: options)
            Issue.record("restored before the first snapshot")
        } catch let error as StreamError {
            #expect(error.code == .noSnapshot)
        }
    }

    @Test("if-db-not-exists and if-replica-exists skip; without them the conditions are errors")
    func ifOptions() throws {
        var replica = try SyntheticReplica("restore ifOptions")
        defer { replica.cleanUp() }
        try replica.snapshot()
        let output = restoreOutput()
        try Data("existing".utf8).write(to: URL(fileURLWithPath: output))
        var options = syntheticOptions(output)
        do {
            _ = try Restorer.restore(from: [replica.client], options: options)
            Issue.record("overwrote an existing database")
        } catch let error as StreamError {
            #expect(error.code == .databaseExists)
        }
        options.ifDBNotExists = true
        #expect(try Restorer.restore(from: [replica.client], options: options) == nil)
        #expect(fileBytes(output) == Array("existing".utf8))

        let empty = try FileReplicaClient(root: NSTemporaryDirectory() + "restore-empty-\(UUID().uuidString)")
        var fresh = syntheticOptions(restoreOutput())
        do {
            _ = try Restorer.restore(from: [empty], options: fresh)
            Issue.record("restored from an empty replica")
        } catch let error as StreamError {
            #expect(error.code == .noGeneration)
        }
        fresh.ifReplicaExists = true
        #expect(try Restorer.restore(from: [empty], options: fresh) == nil)
        #expect(!FileManager.default.fileExists(atPath: fresh.outputPath))
    }

    @Test("of several replicas the freshest wins and an unreachable one is skipped")
    func severalReplicas() throws {
        var stale = try SyntheticReplica("restore several")
        defer { stale.cleanUp() }
        try stale.snapshot()
        try stale.segment(2)
        // The fresh replica holds the same history and more.
        let freshDir = NSTemporaryDirectory() + "restore-fresh-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: freshDir) }
        try FileManager.default.copyItem(atPath: stale.directory, toPath: freshDir)
        var fresh = stale
        fresh.writer = ChainWriter(client: try FileReplicaClient(root: freshDir), generation: stale.writer.generation)
        try fresh.segment(3)
        let output = restoreOutput()
        let result = try #require(try Restorer.restore(from: [stale.client, UnreachableClient(), fresh.writer.client], options: syntheticOptions(output)))
        #expect(result.txID == fresh.db.txID)
        #expect(result.replica == "file://" + freshDir)
        #expect(fileBytes(output) == fresh.db.image)
        // With every replica unreachable the error says so.
        #expect(throws: StreamError.self) { try Restorer.restore(from: [UnreachableClient()], options: syntheticOptions(restoreOutput())) }
    }

    @Test("a missing segment (a gap) refuses a latest restore, naming the segment past it")
    func gap() throws {
        var replica = try SyntheticReplica("restore gap")
        defer { replica.cleanUp() }
        try replica.snapshot()
        try replica.segment(2)
        try replica.segment(2)
        try replica.segment(2)
        try replica.client.delete(keys: [replica.segmentKeys[1]])
        try expectRefusal(replica, code: .corruptArtefact, naming: replica.segmentKeys[2])
    }

    @Test("a damaged segment, a foreign database's segment, or another generation's segment is refused by key")
    func badSegments() throws {
        // A flipped bit.
        do {
            var replica = try SyntheticReplica("restore bitflip")
            defer { replica.cleanUp() }
            try replica.snapshot()
            try replica.segment(3)
            var bytes = try replica.client.read(key: replica.segmentKeys[0])
            bytes[bytes.count / 2] ^= 0x10
            try replica.client.write(key: replica.segmentKeys[0], from: .bytes(bytes))
            try expectRefusal(replica, code: .corruptArtefact, naming: replica.segmentKeys[0])
        }
        // A segment of another database under the right name.
        do {
            var replica = try SyntheticReplica("restore foreign database")
            defer { replica.cleanUp() }
            try replica.snapshot()
            replica.writer.databaseID = "another-database"
            try replica.segment(3)
            try expectRefusal(replica, code: .corruptArtefact, naming: replica.segmentKeys[0])
        }
        // A segment of another generation copied under this generation's name.
        do {
            var replica = try SyntheticReplica("restore mixed generation")
            defer { replica.cleanUp() }
            try replica.snapshot()
            let records = try replica.segment(3)
            var other = replica.writer
            other.generation = .new(nowMillis: 1_800_000_000_000)
            try replica.client.write(key: replica.segmentKeys[0], from: .bytes(try other.segmentBytes(records)))
            try expectRefusal(replica, code: .corruptArtefact, naming: replica.segmentKeys[0])
        }
        // Two segments' contents swapped (reordered under each other's names).
        do {
            var replica = try SyntheticReplica("restore swapped")
            defer { replica.cleanUp() }
            try replica.snapshot()
            try replica.segment(2)
            try replica.segment(2)
            let first = try replica.client.read(key: replica.segmentKeys[0])
            let second = try replica.client.read(key: replica.segmentKeys[1])
            try replica.client.write(key: replica.segmentKeys[0], from: .bytes(second))
            try replica.client.write(key: replica.segmentKeys[1], from: .bytes(first))
            try expectRefusal(replica, code: .corruptArtefact, naming: replica.segmentKeys[0])
        }
        // A recorded whole-database checksum that does not match the replayed image.
        do {
            var replica = try SyntheticReplica("restore checksum")
            defer { replica.cleanUp() }
            try replica.snapshot()
            var records = [replica.db.commit(), replica.db.commit()]
            records[1].databaseChecksum ^= 1
            let key = try replica.writer.putSegment(records)
            try expectRefusal(replica, code: .checksumMismatch, naming: key)
        }
    }

    @Test("hand-made segments with a page past the high-water mark, a huge high-water mark, or a txid cycle are refused")
    func hostileSegments() throws {
        func plant(_ label: String, _ mutate: (inout [TransactionRecord]) -> Void) throws {
            var replica = try SyntheticReplica(label)
            defer { replica.cleanUp() }
            try replica.snapshot()
            var records = [replica.db.commit(), replica.db.commit()]
            mutate(&records)
            let header = replica.writer.segmentHeader(records)
            let key = ArtefactKey.segment(header.generation, minTxID: header.minTxID, maxTxID: header.maxTxID)
            try replica.client.write(key: key, from: .bytes(try rawSegment(header: header, records: records)))
            try expectRefusal(replica, code: .corruptArtefact, naming: key)
        }
        try plant("restore past hwm") { $0[1].frames[0].id = $0[1].highWaterMark + 3 }
        try plant("restore huge hwm") { $0[1].highWaterMark = 1 << 50 }
        try plant("restore growth") { $0[1].highWaterMark += 1 << 20 }
        try plant("restore cycle") { $0[1].txID = $0[0].txID; $0[1].parentTxID = $0[0].parentTxID }
    }

    @Test("a damaged or wrong snapshot is refused by key and leaves nothing behind")
    func badSnapshot() throws {
        var replica = try SyntheticReplica("restore bad snapshot")
        defer { replica.cleanUp() }
        try replica.snapshot()
        let key = ArtefactKey.snapshot(replica.writer.generation, txID: replica.db.txID)
        var bytes = try replica.client.read(key: key)
        bytes[200] ^= 0x01
        try replica.client.write(key: key, from: .bytes(bytes))
        try expectRefusal(replica, code: .corruptArtefact, naming: key)
        // A snapshot stored under another txid's name.
        try replica.client.delete(keys: [key])
        let wrong = ArtefactKey.snapshot(replica.writer.generation, txID: replica.db.txID + 7)
        try replica.client.write(key: wrong, from: .bytes(try replica.writer.snapshotBytes(replica.db)))
        try expectRefusal(replica, code: .corruptArtefact, naming: wrong)
    }
}

/// Restores `replica` expecting an error of `code` whose message names `key`, and checks
/// that the output directory holds nothing afterwards.
func expectRefusal(_ replica: SyntheticReplica, code: StreamError.Code, naming key: String) throws {
    let output = restoreOutput()
    do {
        let result = try Restorer.restore(from: [replica.client], options: syntheticOptions(output))
        Issue.record("restore succeeded at txid \(result?.txID ?? 0)")
    } catch let error as StreamError {
        #expect(error.code == code, "\(error)")
        #expect(error.message.contains(key), "\(error)")
    }
    #expect(directoryEntries(of: output).isEmpty, "\(directoryEntries(of: output))")
}

/// A segment file assembled without the encoder's checks (to plant hostile content).
func rawSegment(header: ArtefactHeader, records: [TransactionRecord]) throws -> [UInt8] {
    var payload = ByteWriter()
    for record in records { try record.encode(into: &payload) }
    let body = try Compression.compress(payload.bytes, codec: header.codec)
    var w = ByteWriter()
    w.raw(try header.encode())
    w.raw(body)
    w.u64(UInt64(records.count))
    w.u64(UInt64(payload.bytes.count))
    w.u64(UInt64(body.count))
    w.u64(XXH64.hash(w.bytes))
    return w.bytes
}

/// A value shared with a Sendable closure.
final class Mutexed<T>: @unchecked Sendable {
    // @unchecked Sendable because `stored` is only touched under `lock`.
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    func update(_ body: (inout T) -> Void) { lock.lock(); body(&stored); lock.unlock() }
    var value: T { lock.lock(); defer { lock.unlock() }; return stored }
}

@Suite("Restore target times")
struct RestoreTimeTests {
    @Test("RFC 3339 times parse with optional fraction and zone, and print back")
    func parsing() {
        #expect(parseRFC3339Millis("1970-01-01T00:00:00Z") == 0)
        #expect(parseRFC3339Millis("2023-11-14T22:13:20Z") == 1_700_000_000_000)
        #expect(parseRFC3339Millis("2023-11-14T22:13:20.5Z") == 1_700_000_000_500)
        #expect(parseRFC3339Millis("2023-11-14T22:13:20.123456789Z") == 1_700_000_000_123)
        #expect(parseRFC3339Millis("2023-11-15T00:13:20+02:00") == 1_700_000_000_000)
        #expect(parseRFC3339Millis("2023-11-14T16:43:20-0530") == 1_700_000_000_000)
        #expect(parseRFC3339Millis("2023-11-14 22:13:20") == 1_700_000_000_000)
        #expect(parseRFC3339Millis("2000-02-29T12:00:00Z") == 951_825_600_000)
        for bad in ["", "2023-11-14", "2023-13-14T22:13:20Z", "2023-11-14T22:13:20Q", "2023-11-14T22:13:20.Z", "yesterday"] {
            #expect(parseRFC3339Millis(bad) == nil, "\(bad)")
        }
        #expect(formatMillis(1_700_000_000_123) == "2023-11-14T22:13:20.123Z")
        #expect(formatMillis(0) == "1970-01-01T00:00:00.000Z")
    }
}

/// A client that fails every `every`-th read with a transient error, each key at most
/// `failuresPerKey` times (so that a reader retrying a key is not failed again by reads of
/// other keys on other threads landing on the count in between).
final class FlakyClient: ReplicaClient, @unchecked Sendable {
    // @unchecked Sendable because `count` and `failures` are only touched under `lock`.
    let inner: any ReplicaClient
    let every: Int
    let failuresPerKey: Int
    private let lock = NSLock()
    private var count = 0
    private var failures: [String: Int] = [:]
    init(_ inner: any ReplicaClient, every: Int, failuresPerKey: Int = .max) {
        self.inner = inner
        self.every = every
        self.failuresPerKey = failuresPerKey
    }
    var description: String { inner.description }
    var kind: String { inner.kind }
    private func tick(_ key: String) throws {
        lock.lock()
        count += 1
        let fail = count % every == 0 && failures[key, default: 0] < failuresPerKey
        if fail { failures[key, default: 0] += 1 }
        lock.unlock()
        if fail { throw StreamError(.unavailable, "flaky: \(key)") }
    }
    func write(key: String, from source: ObjectSource) throws { try inner.write(key: key, from: source) }
    func read(key: String) throws -> [UInt8] { try tick(key); return try inner.read(key: key) }
    func read(key: String, range: Range<Int64>) throws -> [UInt8] { try inner.read(key: key, range: range) }
    func read(key: String, into sink: ([UInt8]) throws -> Void) throws { try tick(key); try inner.read(key: key, into: sink) }
    func list(prefix: String) throws -> [ObjectInfo] { try inner.list(prefix: prefix) }
    func delete(keys: [String]) throws { try inner.delete(keys: keys) }
}

@Suite("Restore prefetch")
struct RestorePrefetchTests {
    @Test("many segments restore in order at every parallelism, through transient read failures")
    func manySegments() throws {
        var replica = try SyntheticReplica("restore prefetch")
        defer { replica.cleanUp() }
        try replica.snapshot()
        for i in 0..<40 { try replica.segment(1 + i % 3) }
        for parallelism in [1, 3, 8, 16] {
            let output = restoreOutput()
            var options = syntheticOptions(output)
            options.parallelism = parallelism
            // Once a key: the restore retries a read up to three times, and with 16 threads
            // reading, a key's retries could otherwise keep landing on every fourth read.
            let client = FlakyClient(replica.client, every: 4, failuresPerKey: 1)
            let result = try #require(try Restorer.restore(from: [client], options: options))
            #expect(result.txID == replica.db.txID)
            #expect(result.segmentsApplied == 40)
            #expect(fileBytes(output) == replica.db.image, "parallelism \(parallelism)")
        }
    }

    @Test("a replica that keeps failing ends the restore with its error and no output")
    func persistentFailure() throws {
        var replica = try SyntheticReplica("restore persistent failure")
        defer { replica.cleanUp() }
        try replica.snapshot()
        for _ in 0..<6 { try replica.segment(2) }
        let output = restoreOutput()
        do {
            _ = try Restorer.restore(from: [FlakyClient(replica.client, every: 1)], options: syntheticOptions(output))
            Issue.record("restored through a dead replica")
        } catch let error as StreamError {
            #expect(error.code == .unavailable)
        }
        #expect(directoryEntries(of: output).isEmpty)
    }
}

@Suite("Restore fallback")
struct RestoreFallbackTests {
    @Test("when the freshest replica becomes unreachable mid-restore, the next freshest is used; damage is not papered over")
    func fallback() throws {
        var older = try SyntheticReplica("restore fallback")
        defer { older.cleanUp() }
        try older.snapshot()
        try older.segment(2)
        let olderTxID = older.db.txID
        let olderImage = older.db.image
        let freshDir = NSTemporaryDirectory() + "restore-fallback-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: freshDir) }
        try FileManager.default.copyItem(atPath: older.directory, toPath: freshDir)
        var fresh = older
        fresh.writer = ChainWriter(client: try FileReplicaClient(root: freshDir), generation: older.writer.generation)
        try fresh.segment(2)
        // Lists fine, every read fails: unreachable once the restore starts downloading.
        let dying = FlakyClient(fresh.writer.client, every: 1)
        let output = restoreOutput()
        let result = try #require(try Restorer.restore(from: [dying, older.client], options: syntheticOptions(output)))
        #expect(result.txID == olderTxID)
        #expect(fileBytes(output) == olderImage)
        // A damaged segment on the freshest replica ends the restore instead.
        let key = fresh.segmentKeys.last!
        var bytes = try fresh.writer.client.read(key: key)
        bytes[bytes.count / 2] ^= 1
        try fresh.writer.client.write(key: key, from: .bytes(bytes))
        let second = restoreOutput()
        do {
            _ = try Restorer.restore(from: [fresh.writer.client, older.client], options: syntheticOptions(second))
            Issue.record("restored older data over a damaged freshest replica")
        } catch let error as StreamError {
            #expect(error.code == .corruptArtefact)
            #expect(error.message.contains(key))
        }
        #expect(directoryEntries(of: second).isEmpty)
    }
}
