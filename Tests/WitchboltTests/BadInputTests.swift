// Hostile files: empty, truncated, bit-flipped and garbage files, a wrong magic, version or
// checksum, a page id out of range, a cycle of pages. Each gives a clear error (or a list of
// problems from check), never a crash and never a hang.

import Foundation
import Testing
@testable import Witchbolt
import WitchboltTestSupport

@Suite("Bad input")
struct BadInputTests {
    /// A small valid database with a few levels of branch pages, and its page size.
    private func makeDatabase(_ dir: TemporaryDirectory, pageSize: Int = 1024) throws -> String {
        let path = dir.file("bad.db")
        var options = DB.Options()
        options.pageSize = pageSize
        let db = try DB.open(path: path, options: options)
        try db.update { tx in
            let b = try tx.createBucket("b")
            for i in 0..<3000 { try b.put(Array(String(format: "key%05d", i).utf8), Array(repeating: UInt8(i & 255), count: 20)) }
        }
        try db.close()
        return path
    }

    private func readOnly() -> DB.Options {
        var o = DB.Options()
        o.readOnly = true
        o.timeout = .seconds(1)
        return o
    }

    private func mutate(_ path: String, _ body: (inout [UInt8]) -> Void) throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        body(&bytes)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// Opens, walks everything and checks; returns the error or the problems.
    private func openWalkCheck(_ path: String) -> (error: WitchboltError?, problems: [String]) {
        do {
            let db = try DB.open(path: path, options: readOnly())
            defer { try? db.close() }
            let problems = try db.view { tx -> [String] in
                var p = tx.check()
                do { _ = try tx.exportString() } catch { p.append("export: \(error)") }
                return p
            }
            return (nil, problems)
        } catch let e as WitchboltError {
            return (e, [])
        } catch {
            Issue.record("unexpected error type: \(error)")
            return (nil, [])
        }
    }

    @Test("an empty file is invalid read-only, and initialised read-write as bbolt does")
    func emptyFile() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("empty.db")
        _ = FileManager.default.createFile(atPath: path, contents: Data())
        #expect(throws: WitchboltError.self) { try DB.open(path: path, options: readOnly()) }
        let db = try DB.open(path: path)
        #expect(try db.checkProblems() == [])
        try db.close()
    }

    @Test("garbage and a wrong magic are .invalid; a wrong version is .versionMismatch")
    func garbageAndMagic() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("garbage.db")
        var rng = SeededRandom(label: "garbage")
        try Data(rng.bytes(64 * 1024)).write(to: URL(fileURLWithPath: path))
        #expect(openWalkCheck(path).error?.code == .invalid)

        let good = try makeDatabase(dir)
        try mutate(good) { b in
            for base in [0, 1024] { b[base + 16] ^= 0xFF }
        }
        #expect(openWalkCheck(good).error?.code == .invalid)
    }

    @Test("a wrong version in both metas is .versionMismatch")
    func versionMismatch() throws {
        let dir = TemporaryDirectory()
        let path = try makeDatabase(dir)
        try mutate(path) { b in
            for base in [0, 1024] { b[base + 20] = 3 }
        }
        let result = openWalkCheck(path)
        #expect(result.error?.code == .versionMismatch, "\(String(describing: result.error))")
    }

    @Test("a bad checksum on the newer meta falls back to the older one")
    func metaFallback() throws {
        let dir = TemporaryDirectory()
        let path = try makeDatabase(dir)
        // The newest meta is txid 2 at page 0; flip a byte of its root field.
        try mutate(path) { b in b[32] ^= 0x01 }
        let result = openWalkCheck(path)
        #expect(result.error == nil)
        // The fallback (txid 1) is the empty initial database.
        let db = try DB.open(path: path, options: readOnly())
        #expect(try db.view { $0.id } == 1)
        try db.close()

        // Both metas corrupt: a checksum error.
        try mutate(path) { b in b[1024 + 32] ^= 0x01 }
        #expect(openWalkCheck(path).error?.code == .checksum)
    }

    @Test("a file truncated inside its used pages gives a clear error", arguments: [0.2, 0.5, 0.9, 0.999])
    func truncated(_ fraction: Double) throws {
        let dir = TemporaryDirectory()
        let path = try makeDatabase(dir)
        let db = try DB.open(path: path, options: readOnly())
        let used = try db.view { Int($0.size) }
        try db.close()
        try mutate(path) { b in b.removeLast(b.count - Int(Double(used) * fraction)) }
        let result = openWalkCheck(path)
        #expect(result.error != nil || !result.problems.isEmpty)
    }

    @Test("random bit flips give an error or a problem list, never a crash", arguments: 0..<32)
    func bitFlips(_ round: Int) throws {
        let dir = TemporaryDirectory()
        let path = try makeDatabase(dir)
        var rng = SeededRandom(label: "bitflip-\(round)")
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        try mutate(path) { b in
            for _ in 0..<20 {
                let i = 2048 + Int(rng.next() % UInt64(size - 2048))
                b[i] ^= UInt8(1 << (rng.next() % 8))
            }
        }
        _ = openWalkCheck(path)
    }

    @Test("a branch pointing past the high-water mark, and a cycle of pages, are reported")
    func outOfRangeAndCycle() throws {
        let dir = TemporaryDirectory()
        let path = try makeDatabase(dir)
        // Find the bucket's root branch page and its first child.
        let db = try DB.open(path: path, options: readOnly())
        let (root, hwm) = try db.view { tx in (try tx.bucket("b")!.rootPageID, tx.highWaterMark) }
        try db.close()
        let childOffset = Int(root) * 1024 + 16 + 8
        var original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))

        // Past the high-water mark.
        original.withUnsafeMutableBytes { $0.storeBytes(of: hwm + 10, toByteOffset: childOffset, as: UInt64.self) }
        try Data(original).write(to: URL(fileURLWithPath: path))
        let outOfRange = openWalkCheck(path)
        #expect(outOfRange.problems.contains { $0.contains("out of bounds") || $0.contains("past the high-water mark") }, "\(outOfRange.problems.prefix(3))")

        // A cycle: the root's first child is the root itself.
        original.withUnsafeMutableBytes { $0.storeBytes(of: root, toByteOffset: childOffset, as: UInt64.self) }
        try Data(original).write(to: URL(fileURLWithPath: path))
        let cycle = openWalkCheck(path)
        #expect(cycle.error != nil || !cycle.problems.isEmpty)
        #expect(cycle.problems.contains { $0.contains("multiple references") } || cycle.error != nil, "\(cycle.problems.prefix(3))")
    }
}

@Suite("Bad input: short files")
struct ShortFileTests {
    @Test("a file shorter than its two meta pages is refused before anything reads past its end")
    func shortFile() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("short.db")
        let db = try DB.open(path: path)
        try db.close()
        // Keep meta 0 whole, cut inside meta 1.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path)).prefix(4096 + 760)
        try bytes.write(to: URL(fileURLWithPath: path))
        var options = DB.Options()
        options.readOnly = true
        #expect(throws: WitchboltError.self) { try DB.open(path: path, options: options) }
    }
}

@Suite("Bad input: bucket cycles")
struct BucketCycleTests {
    /// FuzzHostileFile's crash (a stack overflow): a bucket whose header points back at an
    /// ancestor's pages, so nested buckets go on forever. Kept in the fuzz corpus too.
    @Test("a cycle of bucket pages is reported by check and refused by export, not a stack overflow")
    func bucketCycle() throws {
        let dir = TemporaryDirectory()
        let db = try openFuzzRegressionInput("regression-bucket-cycle.db", in: dir)
        #expect(try !db.checkProblems().isEmpty)
        #expect(throws: WitchboltError.self) { try db.exportString() }
        try db.close()
    }

    /// FuzzHostileFile's timeout in the final round: a cycle of buckets in which a bucket
    /// holds several nested buckets pointing back, so `check()` walked each path of the cycle
    /// again, in exponential time. Kept in the fuzz corpus too.
    @Test("check reports a branching cycle of buckets once, in linear time", .timeLimit(.minutes(1)))
    func branchingBucketCycle() throws {
        let dir = TemporaryDirectory()
        let db = try openFuzzRegressionInput("regression-bucket-cycle-fanout.db", in: dir)
        let problems = try db.checkProblems()
        #expect(problems.contains { $0.contains("multiple references") }, "\(problems.prefix(3))")
        try db.close()
    }
}
