// The child process of the proof tests (not a test itself).
//
// - `commit-loop PATH`: commits forever into PATH; after each commit returns it prints
//   "ack N" on stdout (a pipe to the parent), so every acknowledged commit is one the parent
//   may demand after SIGKILLing this process. Commit N sets counter = N, puts key kN, deletes
//   k(N-40), and rewrites a few values of a second bucket; see `KillTests.verify`.
// - `open PATH`: opens PATH read-only, walks every bucket and checks it; exit 0 when that
//   returns (with or without errors). The regression tests run crash repros this way, so a
//   crash in the engine fails one test instead of killing the whole test run.
import Foundation
import Witchbolt

@main
struct ProofChild {
    static func main() throws {
        let args = CommandLine.arguments
        guard args.count >= 3 else {
            FileHandle.standardError.write(Data("usage: WitchboltProofChild commit-loop|open PATH\n".utf8))
            exit(2)
        }
        switch args[1] {
        case "commit-loop": try commitLoop(path: args[2])
        case "open": openAndWalk(path: args[2])
        default: exit(2)
        }
    }

    /// The value commit `n` stores under kN (its length varies, some spill to overflow pages).
    static func value(_ n: UInt64) -> [UInt8] {
        let length = Int(n % 7 == 0 ? 1500 + n % 3000 : n % 200)
        return (0..<length).map { UInt8(truncatingIfNeeded: n &+ UInt64($0)) }
    }

    static func commitLoop(path: String) throws {
        let db = try DB.open(path: path)
        let counterKey = Array("counter".utf8)
        var n: UInt64 = try db.view { tx in
            guard let v = try tx.bucket("kill")?.get(counterKey) else { return 0 }
            return UInt64(String(decoding: v, as: UTF8.self)) ?? 0
        }
        while true {
            n += 1
            let current = n
            try db.update { tx in
                let b = try tx.createBucketIfNotExists("kill")
                try b.put(counterKey, Array(String(current).utf8))
                try b.put(Array("k\(current)".utf8), value(current))
                if current > 40 { try b.delete(Array("k\(current - 40)".utf8)) }
                // Churn a second bucket so pages are freed and reused.
                let churn = try tx.createBucketIfNotExists("churn")
                for i in 0..<UInt64(8) { try churn.put(Array("c\((current &* 13 &+ i) % 97)".utf8), Array(repeating: UInt8(i), count: Int(current % 300))) }
            }
            // Unbuffered: the parent must see the ack as soon as the commit returned.
            FileHandle.standardOutput.write(Data("ack \(current)\n".utf8))
        }
    }

    static func openAndWalk(path: String) {
        var o = DB.Options()
        o.readOnly = true
        guard let db = try? DB.open(path: path, options: o) else { print("open failed"); return }
        _ = try? db.view { tx in
            func walk(_ b: Bucket, _ depth: Int) throws {
                guard depth < 12 else { return }
                let c = b.cursor()
                var item = try c.first()
                while let (k, v) = item {
                    if v == nil, let child = try b.bucket(k) { try walk(child, depth + 1) }
                    item = try c.next()
                }
            }
            try tx.forEach { _, b in try walk(b, 0) }
            print("check: \(tx.check().count) problems")
        }
        try? db.close()
    }
}
