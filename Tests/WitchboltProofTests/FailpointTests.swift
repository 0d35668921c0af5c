// Failpoints: a commit made to fail at each named step (before the data pages' sync, before
// the meta page is written, before its sync, when the file must grow, when the file is
// mapped). The handle must then refuse writes with `.poisoned`, and a reopened handle must
// find the previous commit intact and consistent.

import Synchronization
import Testing
@_spi(Testing) import Witchbolt
import WitchboltTestSupport

struct InjectedFailure: Error, CustomStringConvertible {
    let point: Failpoint
    var description: String { "injected failure at \(point.rawValue)" }
}

/// A failpoint switch the test arms and the engine consults.
final class FailpointSwitch: Sendable {
    private let armed = Mutex<Failpoint?>(nil)
    private let hits = Mutex<[Failpoint]>([])
    func arm(_ point: Failpoint?) { armed.withLock { $0 = point } }
    var hitPoints: [Failpoint] { hits.withLock { $0 } }
    func hook(_ point: Failpoint) throws {
        hits.withLock { $0.append(point) }
        if armed.withLock({ $0 }) == point { throw InjectedFailure(point: point) }
    }
}

@Suite("Failpoints in the commit")
struct FailpointTests {
    /// The state every test starts from: one bucket with some keys.
    static func seed(_ db: DB) throws -> ModelBucket {
        try db.update { tx in
            let b = try tx.createBucket("base")
            for i in 0..<200 { try b.put("key\(i)", "value\(i)") }
        }
        return try db.view { try ModelBucket.load(from: $0) }
    }

    @Test("a commit failed at each step poisons the handle and leaves the previous commit intact",
          arguments: [Failpoint.beforeSyncDataPages, .beforeWriteMeta, .beforeSyncMetaPage, .lackOfDiskSpace])
    func commitFailsAtStep(_ point: Failpoint) throws {
        let dir = TemporaryDirectory("failpoint")
        let path = dir.file("f.db")
        let switcher = FailpointSwitch()
        var options = DB.Options()
        options.logger = silentLogger
        options.testHooks.failpoint = { try switcher.hook($0) }
        let db = try DB.open(path: path, options: options)
        let before = try Self.seed(db)

        // A commit big enough to grow the file, so the growth step is reached too.
        switcher.arm(point)
        #expect(throws: InjectedFailure.self) {
            try db.update { tx in
                let b = try tx.createBucketIfNotExists("base")
                for i in 0..<3000 { try b.put(Array("new\(i)".utf8), [UInt8](repeating: UInt8(i & 0xFF), count: 300)) }
                try b.delete("key1")
            }
        }
        #expect(switcher.hitPoints.contains(point), "the commit never reached \(point)")
        switcher.arm(nil)

        // The handle refuses writes.
        let refused = #expect(throws: WitchboltError.self) {
            try db.update { tx in try tx.createBucketIfNotExists("x").put("a", "b") }
        }
        #expect(refused?.code == .poisoned)
        let seenByHandle = try db.view { try ModelBucket.load(from: $0) }
        try db.close()

        // Reopening finds a consistent file, writable again.
        var plain = DB.Options()
        plain.logger = silentLogger
        let reopened = try DB.open(path: path, options: plain)
        #expect(try reopened.checkProblems() == [])
        let seenAfterReopen = try reopened.view { try ModelBucket.load(from: $0) }
        if point == .beforeSyncMetaPage {
            // The meta page is already in the file (its sync failed): the failed commit may be
            // visible, but only whole. See TESTING.md: the stricter "previous state" is not met.
            #expect(seenByHandle == before || seenByHandle == Self.failedCommit(before))
            #expect(seenAfterReopen == before || seenAfterReopen == Self.failedCommit(before))
        } else {
            try expectSame(seenByHandle, before, "\(point): the poisoned handle's reads")
            try expectSame(seenAfterReopen, before, "\(point): after reopening")
        }
        try reopened.update { tx in try tx.bucket("base")!.put("after", "reopen") }
        #expect(try reopened.checkProblems() == [])
        try reopened.close()
    }

    /// The state the failed commit would have produced.
    static func failedCommit(_ before: ModelBucket) -> ModelBucket {
        var m = before
        let base = Array("base".utf8)
        for i in 0..<3000 { m.buckets[base]!.values[Array("new\(i)".utf8)] = [UInt8](repeating: UInt8(i & 0xFF), count: 300) }
        m.buckets[base]!.values[Array("key1".utf8)] = nil
        return m
    }

    @Test("a failure to map the file fails the open, and the file opens intact afterwards")
    func mapErrorFailsOpen() throws {
        let dir = TemporaryDirectory("failpoint")
        let path = dir.file("f.db")
        let db = try DB.open(path: path)
        let before = try Self.seed(db)
        try db.close()

        let switcher = FailpointSwitch()
        switcher.arm(.mapError)
        var options = DB.Options()
        options.logger = silentLogger
        options.testHooks.failpoint = { try switcher.hook($0) }
        #expect(throws: InjectedFailure.self) { _ = try DB.open(path: path, options: options) }

        let reopened = try DB.open(path: path)
        #expect(try reopened.checkProblems() == [])
        try expectSame(try reopened.view { try ModelBucket.load(from: $0) }, before, "after a failed map")
        try reopened.close()
    }
}
