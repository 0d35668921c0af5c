// Opening, options, locking, transactions' lifecycle, failures that poison the handle,
// copies and compaction.

import Foundation
import Testing
@_spi(Testing) import Witchbolt
import WitchboltTestSupport

@Suite("DB")
struct DBTests {
    @Test("a second writer times out on the file lock; read-only opens share it with each other")
    func locking() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("l.db")
        let db = try DB.open(path: path)
        var options = DB.Options()
        options.timeout = .milliseconds(200)
        do {
            _ = try DB.open(path: path, options: options)
            Issue.record("a second writer opened")
        } catch let e as WitchboltError {
            #expect(e.code == .timeout)
        }
        try db.close()
        var ro = DB.Options()
        ro.readOnly = true
        let r1 = try DB.open(path: path, options: ro)
        let r2 = try DB.open(path: path, options: ro)
        #expect(throws: WitchboltError.self) { try r1.update { _ in } }
        #expect(try r1.checkProblems() == [])
        try r1.close()
        try r2.close()
    }

    @Test("page sizes from 1 KiB to 64 KiB are accepted and kept; others are refused", arguments: [1024, 2048, 4096, 8192, 16384, 32768, 65536])
    func pageSizes(_ size: Int) throws {
        let dir = TemporaryDirectory()
        var options = DB.Options()
        options.pageSize = size
        let db = try DB.open(path: dir.file("p.db"), options: options)
        try db.update { try $0.createBucket("b").put("k", [UInt8](repeating: 1, count: size * 2)) }
        try db.close()
        let reopened = try DB.open(path: dir.file("p.db"))
        #expect(reopened.pageSize == size)
        #expect(try reopened.checkProblems() == [])
        try reopened.close()
    }

    @Test("an invalid page size is refused")
    func invalidPageSize() throws {
        let dir = TemporaryDirectory()
        var options = DB.Options()
        options.pageSize = 3000
        #expect(throws: WitchboltError.self) { try DB.open(path: dir.file("x.db"), options: options) }
    }

    @Test("rollback discards, commit handlers run after commit only, closed transactions refuse work")
    func lifecycle() throws {
        let dir = TemporaryDirectory()
        let db = try DB.open(path: dir.file("t.db"))
        let tx = try db.begin(writable: true)
        try tx.createBucket("gone")
        tx.rollback()
        #expect(try db.view { try $0.bucket("gone") } == nil)
        let events = FailureLog()
        let tx2 = try db.begin(writable: true)
        tx2.onCommit { events.add("committed") }
        let b = try tx2.createBucket("kept")
        try tx2.commit()
        #expect(events.all == ["committed"])
        #expect(throws: WitchboltError.self) { try b.put("k", "v") }
        #expect(throws: WitchboltError.self) { try tx2.commit() }
        #expect(try db.checkProblems() == [])
        try db.close()
    }

    @Test("max size stops growth with .maxSizeReached and keeps what was committed")
    func maxSize() throws {
        let dir = TemporaryDirectory()
        var options = DB.Options()
        options.maxSize = 1 << 20
        let db = try DB.open(path: dir.file("m.db"), options: options)
        try db.update { try $0.createBucket("b").put("first", "1") }
        do {
            try db.update { (tx: Tx) throws in
                let b = try tx.bucket("b")!
                for i in 0..<2000 { try b.put(Array("k\(i)".utf8), [UInt8](repeating: 1, count: 1000)) }
            }
            Issue.record("the commit should not fit")
        } catch let e as WitchboltError {
            #expect(e.code == .maxSizeReached)
        }
        #expect(try db.view { try $0.bucket("b")?.get("first") } == "1")
        try db.update { try $0.bucket("b")!.put("after", "ok") }
        #expect(try db.checkProblems() == [])
        try db.close()
    }

    @Test("a failure at each commit step poisons the handle and reopening finds the previous state",
          arguments: [Failpoint.beforeSyncDataPages, .beforeWriteMeta, .beforeSyncMetaPage, .lackOfDiskSpace])
    func failpoints(_ failpoint: Failpoint) throws {
        let dir = TemporaryDirectory()
        let path = dir.file("f.db")
        let armed = ManagedAtomicFlag()
        var options = DB.Options()
        options.testHooks.failpoint = { point in
            if point == failpoint && armed.isSet { throw WitchboltError(.io, "injected failure at \(point)") }
        }
        let db = try DB.open(path: path, options: options)
        try db.update { try $0.createBucket("b").put("k", "before") }
        armed.set()
        #expect(throws: WitchboltError.self) {
            try db.update { (tx: Tx) throws in
                let b = try tx.bucket("b")!
                try b.put("k", "after")
                for i in 0..<3000 { try b.put(Array("grow\(i)".utf8), [UInt8](repeating: 1, count: 200)) }
            }
        }
        do {
            try db.update { _ in }
            Issue.record("a poisoned handle accepted a write")
        } catch let e as WitchboltError {
            #expect(e.code == .poisoned)
        }
        try db.close()
        let reopened = try DB.open(path: path)
        let value = try reopened.view { try $0.bucket("b")?.get("k") }
        if failpoint == .beforeSyncMetaPage {
            // The meta page was written (not synced): either state is acceptable, never a mix.
            #expect(value == "before" || value == "after")
        } else {
            #expect(value == "before")
        }
        #expect(try reopened.checkProblems() == [])
        try reopened.close()
    }

    @Test("a copy and a compacted file hold the same content as the source")
    func copyAndCompact() throws {
        let dir = TemporaryDirectory()
        let db = try DB.open(path: dir.file("src.db"))
        var rng = SeededRandom(label: "compact")
        try db.update { (tx: Tx) throws in
            let b = try tx.createBucket("b")
            try b.setSequence(42)
            for i in 0..<3000 { try b.put(Array("k\(i)".utf8), rng.bytes(Int(rng.next() % 300))) }
            try b.createBucket("inner").put("x", rng.bytes(9000))
        }
        try db.update { (tx: Tx) throws in
            let b = try tx.bucket("b")!
            for i in stride(from: 0, to: 3000, by: 3) { try b.delete(Array("k\(i)".utf8)) }
        }
        let export = try db.exportString()
        try db.view { try $0.copyFile(to: dir.file("copy.db")) }
        let copy = try DB.open(path: dir.file("copy.db"))
        #expect(try copy.exportString() == export)
        #expect(try copy.checkProblems() == [])
        try copy.close()

        let target = try DB.open(path: dir.file("compact.db"))
        try DB.compact(from: db, to: target, txMaxSize: 64 * 1024)
        #expect(try target.exportString() == export)
        #expect(try target.checkProblems() == [])
        #expect(try target.view { $0.size } < db.view { $0.size })
        try target.close()
        try db.close()
    }

    @Test("reopening a no-freelist-sync file without the option writes a free list; with it, none")
    func noFreelistSyncTransition() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("nf.db")
        var options = DB.Options()
        options.noFreelistSync = true
        let db = try DB.open(path: path, options: options)
        try db.update { (tx: Tx) throws in
            let b = try tx.createBucket("b")
            for i in 0..<1000 { try b.put(Array("k\(i)".utf8), [1, 2, 3]) }
        }
        try db.update { (tx: Tx) throws in for i in 0..<500 { try tx.bucket("b")!.delete(Array("k\(i)".utf8)) } }
        #expect(try db.checkProblems() == [])
        try db.close()
        let reopened = try DB.open(path: path)
        #expect(try reopened.checkProblems() == [])
        #expect(try reopened.view { try $0.bucket("b")?.get(Array("k999".utf8)) } == [1, 2, 3])
        try reopened.close()
    }
}
