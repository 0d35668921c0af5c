// Cursors: bbolt's edge behaviour on empty buckets, at both ends, past the last key, after
// deletes that empty pages, and deletion through the cursor.

import Foundation
import Testing
import Witchbolt
import WitchboltTestSupport

@Suite("Cursor")
struct CursorTests {
    @Test("an empty bucket has no first, last or seek result")
    func emptyBucket() throws {
        let dir = TemporaryDirectory()
        let db = try DB.open(path: dir.file("c.db"))
        try db.update { try $0.createBucket("e") }
        try db.view { (tx: Tx) throws in
            let c = try tx.bucket("e")!.cursor()
            #expect(try c.first() == nil)
            #expect(try c.last() == nil)
            #expect(try c.seek(Array("x".utf8)) == nil)
            #expect(try c.next() == nil)
            #expect(try c.prev() == nil)
        }
        #expect(try db.checkProblems() == [])
        try db.close()
    }

    @Test("walks, seeks and ends behave as bbolt's across many pages")
    func walking() throws {
        let dir = TemporaryDirectory()
        var options = DB.Options()
        options.pageSize = 1024
        let db = try DB.open(path: dir.file("c.db"), options: options)
        let keys = (0..<2000).map { Array(String(format: "%06d", $0 * 2).utf8) }
        try db.update { (tx: Tx) throws in
            let b = try tx.createBucket("w")
            for k in keys { try b.put(k, k) }
        }
        try db.view { (tx: Tx) throws in
            let c = try tx.bucket("w")!.cursor()
            #expect(try c.first()?.key == keys.first)
            #expect(try c.prev() == nil)
            // After running off the front, next() gives the second key (bbolt#733).
            #expect(try c.next()?.key == keys[1])
            #expect(try c.last()?.key == keys.last)
            #expect(try c.next() == nil)
            // Seek: exact, between keys, before all, after all.
            #expect(try c.seek(Array("000100".utf8))?.key == Array("000100".utf8))
            #expect(try c.seek(Array("000101".utf8))?.key == Array("000102".utf8))
            #expect(try c.seek(Array("".utf8))?.key == keys.first)
            #expect(try c.seek(Array("999999".utf8)) == nil)
            // Seek at the end of a leaf moves into the next leaf.
            var forward = 0
            var item = try c.seek(Array("000001".utf8))
            while item != nil { forward += 1; item = try c.next() }
            #expect(forward == 1999)
            var backward = 0
            item = try c.last()
            while item != nil { backward += 1; item = try c.prev() }
            #expect(backward == 2000)
        }
        #expect(try db.checkProblems() == [])
        try db.close()
    }

    @Test("deleting through the cursor, including every key of whole pages")
    func deleting() throws {
        let dir = TemporaryDirectory()
        var options = DB.Options()
        options.pageSize = 1024
        let db = try DB.open(path: dir.file("d.db"), options: options)
        try db.update { (tx: Tx) throws in
            let b = try tx.createBucket("d")
            for i in 0..<1000 { try b.put(Array(String(format: "%05d", i).utf8), [UInt8](repeating: 3, count: 30)) }
            try b.createBucket("sub")
        }
        try db.update { (tx: Tx) throws in
            let b = try tx.bucket("d")!
            let c = b.cursor()
            var item = try c.seek(Array("00100".utf8))
            while let (k, _) = item, k.lexicographicallyPrecedes(Array("00900".utf8)) {
                try c.delete()
                item = try c.seek(k)
            }
            _ = try c.seek(Array("sub".utf8))
            #expect(throws: WitchboltError.self) { try c.delete() }
        }
        try db.view { (tx: Tx) throws in
            let c = try tx.bucket("d")!.cursor()
            var n = 0
            var item = try c.first()
            while item != nil { n += 1; item = try c.next() }
            #expect(n == 201)
            #expect(try c.seek(Array("00500".utf8))?.key == Array("00900".utf8))
        }
        #expect(try db.checkProblems() == [])
        try db.close()
    }

    /// FuzzHostileFile found a file whose leaves are all empty; `last()` looped forever, as
    /// bbolt's Last() does. The same state arises in a write transaction that deletes every
    /// key of a bucket spanning many pages.
    @Test("last and prev end when every leaf of a bucket is empty", .timeLimit(.minutes(1)))
    func everyLeafEmpty() throws {
        let dir = TemporaryDirectory()
        let db = try DB.open(path: dir.file("e.db"))
        try db.update { tx in
            let b = try tx.createBucket("many")
            for i in 0..<2_000 { try b.put(Array(String(format: "%06d", i).utf8), [UInt8](repeating: 7, count: 100)) }
        }
        try db.update { tx in
            let b = try tx.bucket("many")!
            for i in 0..<2_000 { try b.delete(Array(String(format: "%06d", i).utf8)) }
            let c = b.cursor()
            #expect(try c.last() == nil)
            #expect(try c.prev() == nil)
            #expect(try c.first() == nil)
            #expect(try c.next() == nil)
            #expect(try c.seek(Array("000500".utf8)) == nil)
        }
        try db.view { (tx: Tx) throws in #expect(try tx.bucket("many")!.cursor().last() == nil) }
        #expect(try db.checkProblems() == [])
        try db.close()
    }

    /// The fuzz input itself (kept in the corpus): a read-only walk ends with an error or a
    /// result, within the time limit.
    @Test("a hostile file whose leaves are all empty is walked without hanging", .timeLimit(.minutes(1)))
    func hostileEmptyLeaves() throws {
        let dir = TemporaryDirectory()
        guard let db = try? openFuzzRegressionInput("regression-empty-leaves-last.db", in: dir) else { return }
        _ = try? db.view { tx in
            try tx.forEach { _, bucket in
                let c = bucket.cursor()
                var item = try c.last()
                var steps = 0
                while item != nil && steps < 100_000 { item = try c.prev(); steps += 1 }
            }
        }
        _ = try db.checkProblems()
        try db.close()
    }
}
