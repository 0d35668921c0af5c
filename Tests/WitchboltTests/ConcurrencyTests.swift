// Readers keep the snapshot they began with while a writer commits, and a long reader never
// makes a writer wait, even while the file grows far past its first mapping.

import Foundation
import Testing
import Witchbolt
import WitchboltTestSupport

@Suite("Concurrency")
struct ConcurrencyTests {
    @Test("a reader keeps its snapshot while writers commit")
    func readerSnapshotIsolation() throws {
        let dir = TemporaryDirectory()
        let db = try DB.open(path: dir.file("c.db"))
        try db.update { try $0.createBucket("b").put("k", "v1") }
        let reader = try db.begin(writable: false)
        try db.update { try $0.bucket("b")!.put("k", "v2") }
        try db.update { try $0.bucket("b")!.put("k2", "new") }
        #expect(try reader.bucket("b")?.get("k") == "v1")
        #expect(try reader.bucket("b")?.get("k2") == nil)
        reader.rollback()
        #expect(try db.view { try $0.bucket("b")?.get("k") } == "v2")
        #expect(try db.checkProblems() == [])
        try db.close()
    }

    @Test("a long reader never blocks writers that grow the file ten times past the first mapping")
    func growthWithoutWaitingForReaders() throws {
        let dir = TemporaryDirectory()
        var options = DB.Options()
        options.initialMmapSize = 256 * 1024
        options.noSync = true
        let db = try DB.open(path: dir.file("g.db"), options: options)
        try db.update { try $0.createBucket("b").put("first", "1") }
        // The reader stays open on this thread while the writes run on this thread too:
        // a writer that waited for readers would deadlock here.
        let reader = try db.begin(writable: false)
        let readerSize = reader.size
        var value = [UInt8](repeating: 0xAB, count: 1000)
        for t in 0..<60 {
            try db.update { tx in
                let b = try tx.bucket("b")!
                for i in 0..<100 {
                    value[0] = UInt8(truncatingIfNeeded: i)
                    try b.put(Array("k\(t)-\(i)".utf8), value)
                }
            }
        }
        let grownSize = try db.view { $0.size }
        #expect(grownSize > 10 * Int64(options.initialMmapSize), "grew to \(grownSize)")
        // The reader still sees exactly its snapshot.
        #expect(reader.size == readerSize)
        #expect(try reader.bucket("b")?.get("first") == "1")
        #expect(try reader.bucket("b")?.get("k0-0") == nil)
        reader.rollback()
        #expect(try db.view { try $0.bucket("b")?.get("k59-99") }?.count == 1000)
        #expect(try db.checkProblems() == [])
        try db.close()
    }

    @Test("concurrent readers see consistent snapshots while a writer moves value between keys")
    func concurrentReadersSeeInvariant() throws {
        let dir = TemporaryDirectory()
        var options = DB.Options()
        options.noSync = true
        let db = try DB.open(path: dir.file("s.db"), options: options)
        let accounts = 50
        try db.update { tx in
            let b = try tx.createBucket("acct")
            for i in 0..<accounts { try b.put(Array("a\(i)".utf8), withUnsafeBytes(of: UInt64(100)) { Array($0) }) }
        }
        let stop = ManagedAtomicFlag()
        let failures = FailureLog()
        let readers = (0..<3).map { _ in
            Thread {
                while !stop.isSet {
                    do {
                        let total = try db.view { tx -> UInt64 in
                            var sum: UInt64 = 0
                            try tx.bucket("acct")!.forEach { _, v in
                                sum += v!.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                            }
                            return sum
                        }
                        if total != UInt64(accounts * 100) { failures.add("sum \(total)") }
                    } catch { failures.add("\(error)") }
                }
            }
        }
        readers.forEach { $0.start() }
        var rng = SeededRandom(label: "transfers")
        for _ in 0..<300 {
            try db.update { tx in
                let b = try tx.bucket("acct")!
                let from = Array("a\(rng.next() % UInt64(accounts))".utf8), to = Array("a\(rng.next() % UInt64(accounts))".utf8)
                var x = try b.get(from)!.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                var y = try b.get(to)!.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                guard from != to, x > 0 else { return }
                x -= 1; y += 1
                try b.put(from, withUnsafeBytes(of: x) { Array($0) })
                try b.put(to, withUnsafeBytes(of: y) { Array($0) })
            }
        }
        stop.set()
        while readers.contains(where: { !$0.isFinished }) { usleep(1000) }
        #expect(failures.all.isEmpty, "\(failures.all.prefix(5))")
        #expect(try db.checkProblems() == [])
        try db.close()
    }

    @Test("batch coalesces concurrent calls and re-runs a failing call alone")
    func batchSemantics() throws {
        let dir = TemporaryDirectory()
        var options = DB.Options()
        options.noSync = true
        options.maxBatchDelay = .milliseconds(20)
        let db = try DB.open(path: dir.file("batch.db"), options: options)
        try db.update { try $0.createBucket("b") }
        let failures = FailureLog()
        DispatchQueue.concurrentPerform(iterations: 40) { i in
            do {
                if i == 7 {
                    do {
                        try db.batch { tx in
                            try tx.bucket("b")!.put(Array("bad".utf8), [1])
                            throw WitchboltError(.keyRequired, "deliberate")
                        }
                        failures.add("the failing call did not throw")
                    } catch let e as WitchboltError where e.message == "deliberate" {}
                } else {
                    try db.batch { tx in try tx.bucket("b")!.put(Array("k\(i)".utf8), [UInt8(i)]) }
                }
            } catch { failures.add("\(error)") }
        }
        #expect(failures.all.isEmpty, "\(failures.all)")
        try db.view { tx in
            let b = try tx.bucket("b")!
            for i in 0..<40 where i != 7 { #expect(try b.get(Array("k\(i)".utf8)) == [UInt8(i)]) }
            #expect(try b.get(Array("bad".utf8)) == nil)
        }
        #expect(try db.checkProblems() == [])
        try db.close()
    }
}

/// A flag set once, read from other threads.
final class ManagedAtomicFlag: @unchecked Sendable {
    // @unchecked Sendable because `value` is only touched under `lock`.
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
    func clear() { lock.withLock { value = false } }
}

/// Collects failures from other threads.
final class FailureLog: @unchecked Sendable {
    // @unchecked Sendable because `items` is only touched under `lock`.
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ s: String) { lock.withLock { items.append(s) } }
    var all: [String] { lock.withLock { items } }
}
