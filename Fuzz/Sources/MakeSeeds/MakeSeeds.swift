// Writes the seed corpora: small valid databases (1 KiB and 4 KiB pages, nested buckets,
// overflow values, a free list, no free list) cut to their high-water mark, for
// FuzzHostileFile; and a few byte strings for FuzzOperations. Usage: MakeSeeds CORPUS_ROOT
import Foundation
import Witchbolt

@main
struct MakeSeeds {
    static func write(_ dir: String, _ name: String, _ bytes: [UInt8]) {
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir + "/" + name, contents: Data(bytes))
    }

    static func database(pageSize: Int, noFreelistSync: Bool = false, _ fill: (DB) throws -> Void) throws -> [UInt8] {
        let path = NSTemporaryDirectory() + "seed-\(UUID().uuidString).db"
        defer { try? FileManager.default.removeItem(atPath: path) }
        var o = DB.Options()
        o.pageSize = pageSize
        o.noFreelistSync = noFreelistSync
        let db = try DB.open(path: path, options: o)
        try fill(db)
        let hwm = try db.view { Int($0.size) }
        try db.close()
        // Cut the file to its high-water mark: still valid, and smaller for the fuzzer.
        return Array(try Data(contentsOf: URL(fileURLWithPath: path)).prefix(hwm))
    }

    static func main() throws {
        let root = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "Corpus"
        let hostile = root + "/FuzzHostileFile"
        write(hostile, "empty-1k.db", try database(pageSize: 1024) { _ in })
        write(hostile, "small-1k.db", try database(pageSize: 1024) { db in
            try db.update { tx in
                let b = try tx.createBucket(Array("users".utf8))
                for i in 0..<40 { try b.put(Array("user\(i)".utf8), Array("role\(i % 3)".utf8)) }
                let n = try b.createBucket(Array("nested".utf8))
                try n.put(Array("k".utf8), Array("v".utf8))
                _ = try n.nextSequence()
            }
        })
        write(hostile, "split-free-1k.db", try database(pageSize: 1024) { db in
            try db.update { tx in
                let b = try tx.createBucket(Array("a".utf8))
                for i in 0..<120 { try b.put(Array("key\(i)".utf8), [UInt8](repeating: UInt8(i), count: 20)) }
                try b.put(Array("big".utf8), [UInt8](repeating: 7, count: 2500))
                let c = try tx.createBucket(Array("b".utf8))
                for i in 0..<30 { try c.createBucket(Array("sub\(i)".utf8)).put(Array("x".utf8), Array("y".utf8)) }
            }
            try db.update { tx in
                let b = try tx.bucket(Array("a".utf8))!
                for i in stride(from: 0, to: 120, by: 3) { try b.delete(Array("key\(i)".utf8)) }
            }
        })
        write(hostile, "nofreelist-1k.db", try database(pageSize: 1024, noFreelistSync: true) { db in
            try db.update { tx in
                let b = try tx.createBucket(Array("n".utf8))
                for i in 0..<60 { try b.put(Array("k\(i)".utf8), Array("v\(i)".utf8)) }
            }
        })
        write(hostile, "small-4k.db", try database(pageSize: 4096) { db in
            try db.update { tx in
                let b = try tx.createBucket(Array("four".utf8))
                for i in 0..<200 { try b.put(Array("key\(i)".utf8), Array("value\(i)".utf8)) }
            }
        })
        let ops = root + "/FuzzOperations"
        write(ops, "zeros", [UInt8](repeating: 0, count: 64))
        write(ops, "ramp", (0..<255).map { UInt8($0) })
        write(ops, "crashy", (0..<400).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 200) })
        print("seeds written under \(root)")
    }
}
