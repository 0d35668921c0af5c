// The commit path's own containers: the page bitmap and the allocation table of the free list
// (against a Set and a Dictionary as models), and the page pool, whose reused buffers must
// never carry bytes of an earlier page into a new one.

import Foundation
import Testing
@testable import Witchbolt
import WitchboltTestSupport

@Suite("Commit buffers and free-list tables")
struct CommitBufferTests {
    @Test("the page bitmap agrees with a set under random inserts and removals, duplicates refused")
    func bitmapAgreesWithSet() {
        var rng = SeededRandom(label: "page-bitmap")
        var bitmap = PageBitmap()
        var model = Set<PageID>()
        for _ in 0..<50_000 {
            // Mostly a small range, so ids repeat; sometimes far out, so the bitmap grows.
            let id: PageID = rng.next() % 16 == 0 ? rng.next() % 200_000 : rng.next() % 2_000
            if rng.next() % 3 == 0 {
                bitmap.remove(id)
                model.remove(id)
            } else {
                #expect(bitmap.insert(id) == model.insert(id).inserted)
            }
            #expect(bitmap.count == model.count)
            let probe: PageID = rng.next() % 2_100
            #expect(bitmap.contains(probe) == model.contains(probe))
        }
        for id in model { #expect(bitmap.contains(id)) }
        #expect(PageBitmap(model).count == model.count)
        bitmap.removeAll()
        #expect(bitmap.count == 0)
        #expect(!model.contains { bitmap.contains($0) })
    }

    @Test("the allocation table records, forgets, and drops every page of one transaction")
    func allocationTableAgreesWithDictionary() {
        var rng = SeededRandom(label: "allocation-table")
        var table = AllocationTable()
        var model: [PageID: TxID] = [:]
        for _ in 0..<30_000 {
            let id: PageID = 2 + rng.next() % 5_000
            switch rng.next() % 5 {
            case 0:
                #expect(table.remove(id) == (model.removeValue(forKey: id) ?? 0))
            case 1:
                let txid: TxID = 1 + rng.next() % 4
                table.removeAll(allocatedBy: txid)
                model = model.filter { $0.value != txid }
            default:
                let txid: TxID = 1 + rng.next() % 4
                table.record(id, by: txid)
                model[id] = txid
            }
            let probe: PageID = rng.next() % 5_100
            #expect(table[probe] == (model[probe] ?? 0))
        }
        table.removeAll()
        #expect(model.keys.allSatisfy { table[$0] == 0 })
    }

    @Test("the page pool keeps only unshared single pages, up to its capacity")
    func poolKeepsSinglePagesUpToCapacity() {
        var pool = PagePool(pageSize: 4096, maxBytes: 3 * 4096)
        #expect(pool.capacity == 3)
        let single = (0..<5).map { PageBuffer(id: PageID(10 + $0), count: 1, pageSize: 4096) }
        let double = PageBuffer(id: 20, count: 2, pageSize: 4096)
        pool.recycle([double] + single)
        #expect(pool.count == 3)
        let taken = pool.take()
        #expect(taken?.count == 4096)
        #expect(pool.count == 2)
    }

    @Test("pages written into reused buffers end in zeros: no bytes of an earlier page survive")
    func reusedBuffersCarryNothingOver() throws {
        let dir = TemporaryDirectory()
        let db = try DB.open(path: dir.file("pool.db"))
        // Fill pages with long values, then rewrite them with short ones: the buffers the
        // short pages reuse held long pages one commit earlier.
        let keys = (0..<600).map { String(format: "key-%05d", $0) }
        try db.update { tx in
            let b = try tx.createBucket("b")
            for k in keys { try b.put(k, [UInt8](repeating: 0xAB, count: 300)) }
        }
        for round in 0..<5 {
            try db.update { tx in
                let b = try #require(try tx.bucket("b"))
                for (i, k) in keys.enumerated() where i % 5 == round { try b.put(k, [UInt8](repeating: 0xCD, count: 3)) }
            }
        }
        #expect(db.writerLock.withLock { db.pagePool.count } > 0, "the commits should have recycled their buffers")

        // Every reachable branch or leaf page: the bytes after its last element are zero.
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir.file("pool.db"))))
        let pageSize = db.pageSize
        var checked = 0
        try db.view { tx in
            try tx.forEachReachablePage { id, overflow in
                let start = Int(id) * pageSize, extent = (Int(overflow) + 1) * pageSize
                bytes.withUnsafeBytes { raw in
                    let page = PageRef(raw.baseAddress! + start, extent: extent)
                    guard page.isLeaf || page.isBranch else { return }
                    var end = PageLayout.headerSize
                    for i in 0..<page.count {
                        let element = PageLayout.headerSize + i * (page.isLeaf ? PageLayout.leafElementSize : PageLayout.branchElementSize)
                        let data = page.isLeaf ? page.leafValue(i) : page.branchKey(i)
                        end = max(end, element, data.baseAddress! - raw.baseAddress! - start + data.count)
                    }
                    let tail = bytes[(start + end)..<(start + extent)]
                    #expect(tail.allSatisfy { $0 == 0 }, "page \(id): bytes after its last element are not zero")
                    checked += 1
                }
            }
        }
        #expect(checked > 10)
        #expect(try db.checkProblems().isEmpty)
        try db.close()
    }
}
