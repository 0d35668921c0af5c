// Small commits take their pages from one contiguous run (Tx+Reservation.swift): their data
// pages go out as one write, the file stays compact when the free pages are scattered, and a
// commit that fails after reserving gives every page back.

import Foundation
import Testing
@_spi(Testing) @testable import Witchbolt
import WitchboltTestSupport

/// Records the data pages (not the meta page) of each commit.
final class CommitPages: PageFlushObserver, @unchecked Sendable {
    // @unchecked Sendable because the engine calls didFlush with its writer lock held, one
    // call at a time; the test reads the field only between commits.
    var commits: [[PageFrame]] = []

    func didFlush(_ info: PageFlushInfo) throws {
        commits.append(info.frames.filter { $0.id > 1 })
    }

    /// Whether a commit's pages, sorted, follow each other with no gap.
    static func isContiguous(_ frames: [PageFrame]) -> Bool {
        let sorted = frames.sorted { $0.id < $1.id }
        return zip(sorted, sorted.dropFirst()).allSatisfy { $0.id + UInt64($0.overflow) + 1 == $1.id }
    }
}

@Suite("Small commits reserve one run of pages")
struct CommitReservationTests {
    /// A database with `count` keys in bucket "b", loaded 500 a transaction, and a recorder.
    private func loaded(_ dir: TemporaryDirectory, count: Int, options base: DB.Options = DB.Options()) throws -> (DB, CommitPages) {
        let pages = CommitPages()
        var options = base
        options.noSync = true
        options.pageFlushObservers = [PageFlushObserverRegistration(observer: pages)]
        let db = try DB.open(path: dir.file("r.db"), options: options)
        for start in stride(from: 0, to: count, by: 500) {
            try db.update { tx in
                let b = try tx.createBucketIfNotExists("b")
                for i in start..<min(start + 500, count) { try b.put(Self.key(i), [UInt8](repeating: UInt8(i & 0xFF), count: 100)) }
            }
        }
        return (db, pages)
    }

    private static func key(_ i: Int) -> [UInt8] { withUnsafeBytes(of: UInt64(i).bigEndian) { Array($0) } }

    @Test("one-put commits appending to a three-level tree each write one contiguous run")
    func appendsWriteOneRun() throws {
        let dir = TemporaryDirectory()
        let (db, pages) = try loaded(dir, count: 10_000)
        pages.commits = []
        for i in 10_000..<10_400 {
            try db.update { try $0.bucket("b")!.put(Self.key(i), [UInt8](repeating: 7, count: 100)) }
        }
        // Leaf, two branches, the root bucket's leaf and the free list: five pages or more.
        #expect(pages.commits.count == 400)
        #expect(pages.commits.allSatisfy { $0.count >= 5 })
        // Node by node, about half of them alternated with a scattered set of pages.
        let contiguous = pages.commits.filter(CommitPages.isContiguous).count
        #expect(contiguous >= 396, "\(contiguous) of 400 commits wrote one contiguous run")
        #expect(try db.checkProblems() == [])
        try db.close()
    }

    @Test("random one-put updates keep the file compact: at most a bounded number of extra free pages")
    func randomUpdatesStayCompact() throws {
        let dir = TemporaryDirectory()
        let (db, pages) = try loaded(dir, count: 20_000)
        let before = try db.view { $0.highWaterMark }
        var rng = SeededRandom(label: "reservation-random-updates")
        pages.commits = []
        for _ in 0..<1_500 {
            let i = Int(rng.next() % 20_000)
            try db.update { try $0.bucket("b")!.put(Self.key(i), rng.bytes(100)) }
        }
        // Updates change no sizes: the file grows only by runs taken at its end, which stops
        // once maxFreePagesToGrow pages are free.
        let after = try db.view { $0.highWaterMark }
        let stats = db.stats
        #expect(after - before <= UInt64(Tx.maxFreePagesToGrow + 2 * Tx.maxReservedPages), "grew \(after - before) pages, seed \(rng.seed)")
        #expect(stats.freePageCount + stats.pendingPageCount <= Tx.maxFreePagesToGrow + 3 * Tx.maxReservedPages)
        let contiguous = pages.commits.filter(CommitPages.isContiguous).count
        print("random updates: \(contiguous) of \(pages.commits.count) commits contiguous, grew \(after - before) pages, \(stats.freePageCount) free")
        #expect(try db.checkProblems() == [])
        try db.close()
    }

    @Test("a commit that fails after reserving its run rolls back with every free page still free")
    func failedCommitReturnsTheRun() throws {
        let dir = TemporaryDirectory()
        let armed = ManagedAtomicFlag()
        var options = DB.Options()
        options.testHooks.failpoint = { point in
            if point == .beforeWriteFreelist && armed.isSet { throw WitchboltError(.io, "injected failure at \(point)") }
        }
        let (db, pages) = try loaded(dir, count: 5_000, options: options)
        // Warm up: a few one-put commits leave free runs to reserve from.
        for i in 5_000..<5_010 { try db.update { try $0.bucket("b")!.put(Self.key(i), [1]) } }
        let freeBefore = db.stats.freePageCount + db.stats.pendingPageCount
        let markBefore = try db.view { $0.highWaterMark }

        armed.set()
        #expect(throws: WitchboltError.self) { try db.update { try $0.bucket("b")!.put(Self.key(9_999), [2]) } }
        armed.clear()

        // Rolled back, not poisoned: the free list is as it was, and commits go on from it.
        #expect(db.stats.freePageCount + db.stats.pendingPageCount == freeBefore)
        #expect(try db.view { $0.highWaterMark } == markBefore)
        #expect(try db.view { try $0.bucket("b")!.get(Self.key(9_999)) } == nil)
        pages.commits = []
        for i in 5_010..<5_020 { try db.update { try $0.bucket("b")!.put(Self.key(i), [3]) } }
        #expect(pages.commits.filter(CommitPages.isContiguous).count == 10)
        #expect(try db.checkProblems() == [])
        try db.close()

        // Reopened, the file says the same.
        let reopened = try DB.open(path: dir.file("r.db"))
        #expect(try reopened.view { try $0.bucket("b")!.get(Self.key(5_019)) } == [3])
        #expect(try reopened.checkProblems() == [])
        try reopened.close()
    }
}
