// Go bbolt as a second reader of files Witchbolt writes: random workloads (nested buckets,
// overflow values, deletes, sequences) at page sizes 1024, 4096 and 16384, with both free
// list types and with the free list not stored, and their compacted copies; Go's check must
// say OK and Go's export must equal ours. Needs WITCHBOLT_GOCHECK (a program built on bbolt
// 1.3.6, Tools/gocheck); skipped without it, a failure under CI=true.

import Foundation
import Testing
import Witchbolt
import WitchboltTestSupport

private let gocheck = ProcessInfo.processInfo.environment["WITCHBOLT_GOCHECK"].flatMap { $0.isEmpty ? nil : $0 }
private let underCI = ProcessInfo.processInfo.environment["CI"] == "true"

@Suite("Go bbolt reads what Witchbolt writes", .enabled(if: gocheck != nil || underCI, "set WITCHBOLT_GOCHECK to the gocheck program"))
struct GoCrossCheckTests {
    struct Layout: CustomTestStringConvertible, Sendable {
        var pageSize: Int
        var freelist: FreelistType
        var noFreelistSync: Bool
        var testDescription: String { "\(pageSize) bytes, \(freelist.rawValue)\(noFreelistSync ? ", no free list sync" : "")" }
    }

    static let layouts = [
        Layout(pageSize: 1024, freelist: .array, noFreelistSync: false),
        Layout(pageSize: 1024, freelist: .hashmap, noFreelistSync: true),
        Layout(pageSize: 4096, freelist: .hashmap, noFreelistSync: false),
        Layout(pageSize: 4096, freelist: .array, noFreelistSync: true),
        Layout(pageSize: 16384, freelist: .array, noFreelistSync: false),
        Layout(pageSize: 16384, freelist: .hashmap, noFreelistSync: true),
    ]

    @Test("Go's check says OK and Go's export equals ours, for the file and its compacted copy", arguments: layouts)
    func goReadsOurFiles(_ layout: Layout) throws {
        let program = try #require(gocheck, "CI=true but WITCHBOLT_GOCHECK is not set")
        let dir = TemporaryDirectory()
        let path = dir.file("random.db")
        var rng = SeededRandom(label: "gocheck-\(layout.pageSize)-\(layout.freelist.rawValue)-\(layout.noFreelistSync)")
        var options = DB.Options()
        options.pageSize = layout.pageSize
        options.freelistType = layout.freelist
        options.noFreelistSync = layout.noFreelistSync
        options.noSync = true
        let db = try DB.open(path: path, options: options)
        try Self.randomWorkload(db, transactions: 24, rng: &rng)
        try db.close()

        let compacted = dir.file("compacted.db")
        let compact = try CLI.run(["compact", "-o", compacted, "--tx-max-size", "20000", path])
        #expect(compact.status == 0, "\(compact.stderr)")

        for file in [path, compacted] {
            let check = try CLI.runProgram(program, ["check", file])
            #expect(check.status == 0 && check.output == "OK\n", "gocheck check \(file): \(check.output) \(check.stderr)")
            let goExport = try CLI.runProgram(program, ["export", file])
            #expect(goExport.status == 0, "gocheck export: \(goExport.stderr)")
            let ours = try CLI.run(["export", file])
            #expect(ours.status == 0)
            #expect(goExport.stdout == ours.stdout, "exports differ for \(file)")
            #expect(!ours.stdout.isEmpty)
        }
    }

    /// Transactions that, in random top-level buckets, put small and overflowing values,
    /// delete about a tenth of the keys, bump sequences, create nested buckets (to depth 3,
    /// some small enough to stay inline) and sometimes delete one; now and then a whole
    /// top-level bucket goes.
    static func randomWorkload(_ db: DB, transactions: Int, rng: inout SeededRandom) throws {
        let topNames = (0..<4).map { Array("top-\($0)".utf8) }
        for _ in 0..<transactions {
            try db.update { tx in
                for name in topNames where Int.random(in: 0..<3, using: &rng) > 0 {
                    try fill(try tx.createBucketIfNotExists(name), depth: 0, rng: &rng)
                }
                if Int.random(in: 0..<10, using: &rng) == 0, let victim = topNames.randomElement(using: &rng), try tx.bucket(victim) != nil {
                    try tx.deleteBucket(victim)
                }
            }
        }
    }

    private static func fill(_ bucket: Bucket, depth: Int, rng: inout SeededRandom) throws {
        // Puts: short keys, values up to 300 bytes, one in 40 overflowing several pages.
        for _ in 0..<Int.random(in: 10...120, using: &rng) {
            let key = rng.bytes(Int.random(in: 1...24, using: &rng))
            let size = Int.random(in: 0..<40, using: &rng) == 0 ? Int.random(in: 5000...40000, using: &rng) : Int.random(in: 0...300, using: &rng)
            if try bucket.bucket(key) == nil { try bucket.put(key, rng.bytes(size)) }
        }
        // Deletes: about a tenth of the keys, and sometimes a nested bucket.
        var keys: [[UInt8]] = []
        var children: [[UInt8]] = []
        try bucket.forEach { k, v in if v != nil { keys.append(k) } else { children.append(k) } }
        for k in keys where Int.random(in: 0..<10, using: &rng) == 0 { try bucket.delete(k) }
        if let victim = children.randomElement(using: &rng), Int.random(in: 0..<8, using: &rng) == 0 { try bucket.deleteBucket(victim) }
        if Int.random(in: 0..<4, using: &rng) == 0 { _ = try bucket.nextSequence() }
        // Nested buckets, to depth 3; "tiny" ones stay small enough to be inline.
        if depth < 3 && Int.random(in: 0..<2, using: &rng) == 0 {
            let child = try bucket.createBucketIfNotExists(Array("nested-\(Int.random(in: 0..<3, using: &rng))".utf8))
            try fill(child, depth: depth + 1, rng: &rng)
        }
        if depth < 3 && Int.random(in: 0..<3, using: &rng) == 0 {
            let tiny = try bucket.createBucketIfNotExists(Array("tiny".utf8))
            try tiny.put(rng.bytes(4), rng.bytes(8))
        }
    }
}
