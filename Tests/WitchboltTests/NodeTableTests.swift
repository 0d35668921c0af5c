// The bucket's node table (an open-addressing hash table keyed by page id) against Swift's
// Dictionary as the model: random inserts, replacements and removals, with page id 0 (an
// inline bucket's root) and colliding ids, so the backward-shift removal is exercised.

import Testing
@testable import Witchbolt
import WitchboltTestSupport

@Suite("Node table")
struct NodeTableTests {
    @Test("the node table agrees with a dictionary under random inserts, replacements and removals")
    func agreesWithDictionary() throws {
        var rng = SeededRandom(label: "node-table")
        let dir = TemporaryDirectory()
        let db = try DB.open(path: dir.file("t.db"))
        let tx = try db.begin(writable: true)
        let bucket = tx.rootBucket
        var table = NodeTable()
        var model: [PageID: Node] = [:]
        for _ in 0..<20_000 {
            // Mostly a small range of ids, so probe runs collide and wrap; sometimes any id.
            let id: PageID = rng.next() % 8 == 0 ? rng.next() : rng.next() % 600
            if rng.next() % 3 == 0 {
                table[id] = nil
                model[id] = nil
            } else {
                let node = Node(bucket: bucket, isLeaf: true)
                table[id] = node
                model[id] = node
            }
            #expect(table.count == model.count)
            let probe: PageID = rng.next() % 600
            #expect(table[probe] === model[probe])
        }
        for (id, node) in model { #expect(table[id] === node) }
        #expect(Set(table.keys) == Set(model.keys))
        #expect(table.isEmpty == model.isEmpty)
        tx.rollback()
        #expect(try db.checkProblems().isEmpty)
        try db.close()
    }
}
