// Model-based random testing: long random sequences of puts, deletes, gets, seeks, forward
// and backward iteration, bucket creation and deletion, commits, rollbacks and reopens, applied
// both to Witchbolt and to an in-memory model; every answer is compared, and after every
// commit the database passes check() and its export equals the model's. Both free list types,
// page sizes 1024, 4096 and 16384. The seed is printed; WITCHBOLT_SEED replays a run.

import Foundation
import Testing
import Witchbolt
import WitchboltTestSupport

@Suite("Model-based random operations")
struct ModelBasedTests {
    static let pageSizes = [1024, 4096, 16384]

    @Test("random operations agree with the model", arguments: FreelistType.allCases, pageSizes)
    func randomOperations(_ freelist: FreelistType, _ pageSize: Int) throws {
        var rng = SeededRandom(label: "model-\(freelist)-\(pageSize)")
        let dir = TemporaryDirectory()
        let path = dir.file("model.db")
        var options = DB.Options()
        options.freelistType = freelist
        options.pageSize = pageSize
        options.noSync = true
        options.noFreelistSync = rng.next() % 3 == 0
        var db = try DB.open(path: path, options: options)
        var model = ModelBucket()
        let transactions = ProcessInfo.processInfo.environment["WITCHBOLT_LONG"] == "1" ? 2000 : 80

        for t in 0..<transactions {
            // Sometimes reopen, to read everything back from the file.
            if t % 25 == 24 {
                try db.close()
                db = try DB.open(path: path, options: options)
            }
            let tx = try db.begin(writable: true)
            let working = model.copy()
            let opCount = Int(rng.next() % 60) + 1
            for _ in 0..<opCount {
                try applyRandomOperation(tx: tx, model: working, rng: &rng, pageSize: pageSize)
            }
            if rng.next() % 5 == 0 {
                tx.rollback()
            } else {
                try tx.commit()
                model = working
            }
            // The database equals the model, and is consistent.
            let (export, problems) = try db.view { tx in (try tx.exportString(), tx.check()) }
            #expect(problems == [], "seed \(rng.seed), transaction \(t)")
            #expect(export == model.exportString(), "seed \(rng.seed), transaction \(t)")
            if !problems.isEmpty || export != model.exportString() { break }
        }
        #expect(try db.checkProblems() == [])
        try db.close()
    }

    /// Picks an existing bucket (the root's children, one level deep, or deeper).
    private func pickBucket(tx: Tx, model: ModelBucket, rng: inout SeededRandom) throws -> (Bucket, ModelBucket)? {
        var names = model.sortedKeys.filter { if case .bucket = model.entries[$0]! { return true }; return false }
        guard !names.isEmpty else { return nil }
        var name = names[Int(rng.next() % UInt64(names.count))]
        var bucket = try tx.bucket(name)!
        guard case .bucket(var m) = model.entries[name]! else { return nil }
        // Descend into nested buckets now and then.
        while rng.next() % 3 == 0 {
            names = m.sortedKeys.filter { if case .bucket = m.entries[$0]! { return true }; return false }
            guard !names.isEmpty else { break }
            name = names[Int(rng.next() % UInt64(names.count))]
            bucket = try bucket.bucket(name)!
            guard case .bucket(let child) = m.entries[name]! else { break }
            m = child
        }
        return (bucket, m)
    }

    private func randomKey(_ rng: inout SeededRandom) -> [UInt8] {
        let space = rng.next() % 4 == 0 ? 40 : 400
        let n = rng.next() % UInt64(space)
        let width = Int(rng.next() % 3)
        return Array("k\(String(repeating: "0", count: width))\(n)".utf8)
    }

    private func randomValue(_ rng: inout SeededRandom, pageSize: Int) -> [UInt8] {
        switch rng.next() % 20 {
        case 0: return []
        case 1: return rng.bytes(pageSize * 2 + Int(rng.next() % 500)) // overflow pages
        default: return rng.bytes(Int(rng.next() % 120))
        }
    }

    private func applyRandomOperation(tx: Tx, model: ModelBucket, rng: inout SeededRandom, pageSize: Int) throws {
        let op = rng.next() % 100
        if op < 6 || model.entries.isEmpty {
            // Create a top-level or nested bucket.
            let name = Array("b\(rng.next() % 6)".utf8)
            if let (bucket, m) = try pickBucket(tx: tx, model: model, rng: &rng), rng.next() % 2 == 0 {
                try createBucket(name, in: bucket, model: m)
            } else {
                try createBucket(name, in: tx.rootBucket, model: model)
            }
            return
        }
        if op < 8 {
            // Delete a bucket.
            guard let (bucket, m) = try pickBucket(tx: tx, model: model, rng: &rng) else { return }
            let names = m.sortedKeys.filter { if case .bucket = m.entries[$0]! { return true }; return false }
            guard let name = names.randomElement(using: &rng) else { return }
            try bucket.deleteBucket(name)
            m.entries[name] = nil
            return
        }
        guard let (bucket, m) = try pickBucket(tx: tx, model: model, rng: &rng) else { return }
        let key = randomKey(&rng)
        switch op {
        case 8..<55:
            let value = randomValue(&rng, pageSize: pageSize)
            if case .bucket = m.entries[key] {
                #expect(throws: WitchboltError.self) { try bucket.put(key, value) }
            } else {
                try bucket.put(key, value)
                m.entries[key] = .value(value)
            }
        case 55..<70:
            if case .bucket = m.entries[key] {
                #expect(throws: WitchboltError.self) { try bucket.delete(key) }
            } else {
                try bucket.delete(key)
                m.entries[key] = nil
            }
        case 70..<80:
            let expected: [UInt8]? = if case .value(let v) = m.entries[key] { v } else { nil }
            #expect(try bucket.get(key) == expected)
        case 80..<88:
            // Seek lands on the first key at or after the sought one.
            let keys = m.sortedKeys
            let expected = keys.first { !$0.lexicographicallyPrecedes(key) }
            let got = try bucket.cursor().seek(key)?.key
            #expect(got == expected, "seek \(hexString(key)): got \(got.map(hexString) ?? "nil"), expected \(expected.map(hexString) ?? "nil") among \(keys.count) keys")
        case 88..<92:
            _ = try bucket.nextSequence()
            m.sequence += 1
        case 92..<96:
            // A full forward walk.
            var seen: [[UInt8]] = []
            let c = bucket.cursor()
            var item = try c.first()
            while let (k, _) = item { seen.append(k); item = try c.next() }
            #expect(seen == m.sortedKeys)
        default:
            // A full backward walk.
            var seen: [[UInt8]] = []
            let c = bucket.cursor()
            var item = try c.last()
            while let (k, _) = item { seen.append(k); item = try c.prev() }
            #expect(seen == m.sortedKeys.reversed())
        }
    }

    private func createBucket(_ name: [UInt8], in bucket: Bucket, model: ModelBucket) throws {
        switch model.entries[name] {
        case .bucket:
            #expect(throws: WitchboltError.self) { try bucket.createBucket(name) }
            _ = try bucket.createBucketIfNotExists(name)
        case .value:
            #expect(throws: WitchboltError.self) { try bucket.createBucketIfNotExists(name) }
        case nil:
            try bucket.createBucket(name)
            model.entries[name] = .bucket(ModelBucket())
        }
    }
}
