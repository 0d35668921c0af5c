// Buckets: bbolt's errors and limits, nested buckets, sequences, moves, inline buckets that
// grow into page buckets, and deletes that free every page. Each test ends with check().

import Testing
import Witchbolt
import WitchboltTestSupport

@Suite("Bucket")
struct BucketTests {
    func withDB(_ body: (DB) throws -> Void) throws {
        let dir = TemporaryDirectory()
        let db = try DB.open(path: dir.file("b.db"))
        try body(db)
        #expect(try db.checkProblems() == [])
        try db.close()
    }

    func code<T>(_ body: () throws -> T) -> WitchboltError.Code? {
        do { _ = try body(); return nil } catch let e as WitchboltError { return e.code } catch { return nil }
    }

    @Test("put and create reject what bbolt rejects, with bbolt's error codes")
    func errors() throws {
        try withDB { db in
            try db.update { (tx: Tx) throws in
                let b = try tx.createBucket("b")
                #expect(code { try tx.createBucket("b") } == .bucketExists)
                #expect(code { try tx.createBucket([UInt8]()) } == .bucketNameRequired)
                #expect(code { try b.put([UInt8](), [1]) } == .keyRequired)
                #expect(code { try b.put([UInt8](repeating: 1, count: 32769), [1]) } == .keyTooLarge)
                try b.put([UInt8](repeating: 1, count: 32768), [1])
                try b.put("v", "value")
                #expect(code { try b.createBucket("v") } == .incompatibleValue)
                #expect(code { try b.createBucketIfNotExists("v") } == .incompatibleValue)
                try b.createBucket("child")
                #expect(code { try b.put("child", "x") } == .incompatibleValue)
                #expect(code { try b.delete("child") } == .incompatibleValue)
                #expect(code { try b.deleteBucket("v") } == .incompatibleValue)
                #expect(code { try b.deleteBucket("nope") } == .bucketNotFound)
                #expect(code { try tx.deleteBucket("nope") } == .bucketNotFound)
                #expect(try b.get("child") == nil)
            }
            try db.view { (tx: Tx) throws in
                let b = try tx.bucket("b")!
                #expect(code { try b.put("k", "v") } == .txNotWritable)
                #expect(code { try tx.createBucket("x") } == .txNotWritable)
                #expect(b.isWritable == false)
            }
        }
    }

    @Test("nested buckets to depth 5 keep their contents across commits and reopen")
    func nesting() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("n.db")
        var db = try DB.open(path: path)
        try db.update { (tx: Tx) throws in
            var b = try tx.createBucket("l0")
            for depth in 1...5 {
                try b.put("at", Array("depth\(depth - 1)".utf8))
                b = try b.createBucket(Array("l\(depth)".utf8))
            }
            try b.put("leaf", "yes")
        }
        try db.close()
        db = try DB.open(path: path)
        try db.view { (tx: Tx) throws in
            var b = try tx.bucket("l0")!
            for depth in 1...5 { b = try b.bucket(Array("l\(depth)".utf8))! }
            #expect(try b.get("leaf") == "yes")
        }
        #expect(try db.checkProblems() == [])
        try db.close()
    }

    @Test("an inline bucket grows onto pages and shrinks back inline")
    func inlineToPagesAndBack() throws {
        try withDB { db in
            try db.update { try $0.createBucket("b").put("small", "x") }
            #expect(try db.view { try $0.bucket("b")!.rootPageID } == 0)
            try db.update { (tx: Tx) throws in
                let b = try tx.bucket("b")!
                for i in 0..<500 { try b.put(Array("k\(i)".utf8), [UInt8](repeating: 7, count: 50)) }
            }
            #expect(try db.view { try $0.bucket("b")!.rootPageID } != 0)
            try db.update { (tx: Tx) throws in
                let b = try tx.bucket("b")!
                for i in 0..<500 { try b.delete(Array("k\(i)".utf8)) }
            }
            #expect(try db.view { try $0.bucket("b")!.rootPageID } == 0)
            #expect(try db.view { try $0.bucket("b")!.get("small") } == "x")
        }
    }

    @Test("sequences: next, set and get, persisted")
    func sequences() throws {
        try withDB { db in
            try db.update { (tx: Tx) throws in
                let b = try tx.createBucket("s")
                #expect(b.sequence == 0)
                #expect(try b.nextSequence() == 1)
                #expect(try b.nextSequence() == 2)
                try b.setSequence(1000)
            }
            #expect(try db.view { try $0.bucket("s")!.sequence } == 1000)
            try db.update { (tx: Tx) throws in #expect(try tx.bucket("s")!.nextSequence() == 1001) }
        }
    }

    @Test("moving a bucket keeps its content and refuses same, existing, missing and descendant targets")
    func move() throws {
        try withDB { db in
            try db.update { (tx: Tx) throws in
                let a = try tx.createBucket("a")
                let b = try tx.createBucket("b")
                let child = try a.createBucket("child")
                try child.put("k", "v")
                try a.moveBucket(Array("child".utf8), to: b)
                #expect(try a.bucket("child") == nil)
                #expect(try b.bucket("child")?.get("k") == "v")
                #expect(code { try a.moveBucket(Array("child".utf8), to: b) } == .bucketNotFound)
                try a.createBucket("child")
                #expect(code { try a.moveBucket(Array("child".utf8), to: b) } == .bucketExists)
                #expect(code { try a.moveBucket(Array("child".utf8), to: a) } == .sameBuckets)
                let nested = try b.bucket("child")!.createBucket("deeper")
                #expect(code { try b.moveBucket(Array("child".utf8), to: nested) } != nil)
                try tx.moveBucket(Array("b".utf8), from: nil, to: a)
            }
            try db.view { (tx: Tx) throws in
                #expect(try tx.bucket("b") == nil)
                #expect(try tx.bucket("a")?.bucket("b")?.bucket("child")?.get("k") == "v")
            }
        }
    }

    @Test("deleting a large bucket frees all its pages for reuse")
    func deleteFreesPages() throws {
        try withDB { db in
            try db.update { (tx: Tx) throws in
                let b = try tx.createBucket("big")
                for i in 0..<5000 { try b.put(Array("k\(i)".utf8), [UInt8](repeating: 1, count: 100)) }
                try b.createBucket("inner").put("x", [UInt8](repeating: 2, count: 10000))
            }
            let before = try db.view { $0.highWaterMark }
            try db.update { try $0.deleteBucket("big") }
            try db.update { _ in } // release the pending pages
            #expect(db.stats.freePageCount > 100)
            try db.update { (tx: Tx) throws in
                let b = try tx.createBucket("again")
                for i in 0..<5000 { try b.put(Array("k\(i)".utf8), [UInt8](repeating: 1, count: 100)) }
            }
            #expect(try db.view { $0.highWaterMark } <= before + 10)
        }
    }

    @Test("forEach visits keys in byte order with nil values for buckets")
    func forEachOrder() throws {
        try withDB { db in
            try db.update { (tx: Tx) throws in
                let b = try tx.createBucket("o")
                for k in ["b", "a", "\u{00ff}", "aa", "B"] { try b.put(Array(k.utf8), [1]) }
                try b.createBucket("nested")
            }
            try db.view { (tx: Tx) throws in
                var keys: [[UInt8]] = []
                var nilValues = 0
                try tx.bucket("o")!.forEach { k, v in keys.append(k); if v == nil { nilValues += 1 } }
                #expect(keys == keys.sorted { $0.lexicographicallyPrecedes($1) })
                #expect(keys.count == 6)
                #expect(nilValues == 1)
            }
        }
    }
}
