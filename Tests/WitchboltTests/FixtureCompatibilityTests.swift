// Databases written by Go bbolt open here, pass the consistency check, export exactly as
// their manifests say, and stay valid after we write into copies of them.

import Foundation
import Testing
import Witchbolt
import WitchboltTestSupport

@Suite("Go bbolt fixtures")
struct FixtureCompatibilityTests {
    @Test("a fixture opens read-only, checks OK and exports its manifest byte for byte", arguments: Fixtures.names)
    func readsFixture(_ name: String) throws {
        let dir = TemporaryDirectory()
        let path = try Fixtures.copy(name, into: dir)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        var options = DB.Options()
        options.readOnly = true
        let db = try DB.open(path: path, options: options)
        #expect(try db.checkProblems() == [])
        let export = try db.exportString()
        #expect(export == (try Fixtures.export(name)))
        try db.close()
        // A read-only open never changes a byte.
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    @Test("writes into a copy of a fixture keep it valid and readable", arguments: Fixtures.names, FreelistType.allCases)
    func writesIntoFixture(_ name: String, _ freelist: FreelistType) throws {
        let dir = TemporaryDirectory()
        let path = try Fixtures.copy(name, into: dir)
        var options = DB.Options()
        options.freelistType = freelist
        let db = try DB.open(path: path, options: options)
        var rng = SeededRandom(label: "fixture-write-\(name)")
        var deleted: [[UInt8]] = []
        try db.update { tx in
            let b = try tx.createBucketIfNotExists("swift-was-here")
            for i in 0..<2000 { try b.put(Array("k\(i)".utf8), rng.bytes(Int.random(in: 0...200, using: &rng))) }
        }
        try db.update { tx in
            // Delete some of the fixture's own top-level keys' contents.
            var names: [[UInt8]] = []
            try tx.forEach { name, _ in names.append(name) }
            if let first = names.first, let b = try tx.bucket(first) {
                let c = b.cursor()
                var item = try c.first()
                var n = 0
                while let (k, v) = item, n < 100 {
                    if v != nil { deleted.append(k) }
                    n += 1
                    item = try c.next()
                }
                for k in deleted { try b.delete(k) }
            }
        }
        #expect(try db.checkProblems() == [])
        try db.close()
        let reopened = try DB.open(path: path, options: options)
        #expect(try reopened.checkProblems() == [])
        #expect(try reopened.view { try $0.bucket("swift-was-here")?.get(Array("k1999".utf8)) } != nil)
        try reopened.close()
    }
}
