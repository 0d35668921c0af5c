// Stress: many concurrent readers with one writer. The writer moves money between accounts,
// opens accounts (splitting a balance) and closes them (merging it), so pages split, merge,
// are freed and reused and the file grows, while the total and the stored account count
// stay invariant in every committed state. Each reader sums every balance in its snapshot
// and must always find the invariant total and count, and never see the commit id go back.
// A few seconds in the suite; WITCHBOLT_LONG=1 runs three minutes.

import Foundation
import Synchronization
import Testing
import Witchbolt
import WitchboltTestSupport

@Suite("Concurrent readers and a writer")
struct StressTests {
    static let total: Int64 = 1_000_000
    static let accountsKey = Array("accounts".utf8)
    static let countKey = Array("count".utf8)

    static func encode(_ v: Int64) -> [UInt8] { withUnsafeBytes(of: v.bigEndian) { Array($0) } }
    static func decode(_ b: [UInt8]) -> Int64 { b.reduce(0) { $0 << 8 | Int64($1) } }

    /// Sums a snapshot; returns a problem or nil.
    static func audit(_ tx: Tx) throws -> String? {
        guard let accounts = try tx.bucket(accountsKey), let meta = try tx.bucket("meta") else { return "buckets missing" }
        var sum: Int64 = 0, count: Int64 = 0
        try accounts.forEach { _, v in
            sum += decode(v ?? [])
            count += 1
        }
        let stored = decode(try meta.get(countKey) ?? [])
        if sum != total { return "snapshot \(tx.id): balances sum to \(sum), expected \(total)" }
        if count != stored { return "snapshot \(tx.id): \(count) accounts, the count key says \(stored)" }
        return nil
    }

    @Test("readers always see a consistent snapshot while a writer commits")
    func readersSeeConsistentSnapshots() throws {
        var rng = SeededRandom(label: "stress")
        let dir = TemporaryDirectory("stress")
        var o = DB.Options()
        o.pageSize = 1024
        let db = try DB.open(path: dir.file("s.db"), options: o)
        defer { try? db.close() }
        try db.update { tx in
            let a = try tx.createBucket(Self.accountsKey)
            for i in 0..<100 { try a.put(Array("acct\(i)".utf8), Self.encode(Self.total / 100)) }
            try tx.createBucket("meta").put(Self.countKey, Self.encode(100))
        }

        let seconds = isLongRun ? 180.0 : 6.0
        let stop = Atomic<Bool>(false)
        let problems = Mutex<[String]>([])
        let reads = Atomic<Int>(0)
        let group = DispatchGroup()
        let readerCount = 8
        for r in 0..<readerCount {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                var lastID: UInt64 = 0
                while !stop.load(ordering: .relaxed) {
                    do {
                        let (problem, id) = try db.view { tx in (try Self.audit(tx), tx.id) }
                        if let problem { problems.withLock { $0.append("reader \(r): \(problem)") } }
                        if id < lastID { problems.withLock { $0.append("reader \(r): snapshot \(id) after \(lastID)") } }
                        lastID = id
                        reads.add(1, ordering: .relaxed)
                    } catch {
                        problems.withLock { $0.append("reader \(r): \(error)") }
                    }
                    if problems.withLock({ $0.count }) > 20 { return }
                }
            }
        }

        // The writer: transfers, openings and closings, each keeping the invariants.
        var commits = 0
        var next = 100
        let started = Date()
        let deadline = started.addingTimeInterval(seconds)
        while Date() < deadline && problems.withLock({ $0.isEmpty }) {
            var local = rng
            _ = rng.next()
            let opening = next
            try db.update { tx in
                let a = try tx.bucket(Self.accountsKey)!
                let meta = try tx.bucket("meta")!
                var names: [[UInt8]] = []
                try a.forEach { k, _ in names.append(k) }
                var count = Int64(names.count)
                for _ in 0..<Int.random(in: 1...20, using: &local) {
                    let from = names.randomElement(using: &local)!, to = names.randomElement(using: &local)!
                    guard from != to, let fb = try a.get(from), let tb = try a.get(to) else { continue }
                    let amount = Int64.random(in: 0...Self.decode(fb), using: &local)
                    try a.put(from, Self.encode(Self.decode(fb) - amount))
                    try a.put(to, Self.encode(Self.decode(tb) + amount))
                }
                switch Int.random(in: 0..<4, using: &local) {
                case 0:
                    // Open a few accounts, each with half of an existing balance.
                    for j in 0..<Int.random(in: 1...30, using: &local) {
                        let from = names.randomElement(using: &local)!
                        let fb = Self.decode(try a.get(from)!)
                        try a.put(from, Self.encode(fb - fb / 2))
                        try a.put(Array("acct\(opening + j)".utf8), Self.encode(fb / 2))
                        count += 1
                    }
                case 1 where names.count > 50:
                    // Close a few accounts, moving their balance to a survivor.
                    let survivor = names[0]
                    for name in names.dropFirst().shuffled(using: &local).prefix(Int.random(in: 1...25, using: &local)) {
                        let b = Self.decode(try a.get(name)!)
                        try a.delete(name)
                        try a.put(survivor, Self.encode(Self.decode(try a.get(survivor)!) + b))
                        count -= 1
                    }
                default: break
                }
                try meta.put(Self.countKey, Self.encode(count))
            }
            next += 30
            commits += 1
        }
        stop.store(true, ordering: .relaxed)
        group.wait()
        let found = problems.withLock { $0 }
        #expect(found.isEmpty, "seed \(rng.seed): \(found.prefix(5).joined(separator: "\n"))")
        #expect(try db.checkProblems() == [])
        print("[stress] \(readerCount) readers, \(reads.load(ordering: .relaxed)) consistent snapshots read while \(commits) commits landed in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }
}
