// Real process kills: a child commits in a loop and prints "ack N" after each commit returns;
// the test SIGKILLs it at a random moment, then reopens the file: it must pass check() and
// hold every acknowledged commit (counter N or N+1: the commit in flight may have landed),
// with exactly the keys the commits up to the counter leave. The same file goes through all
// the kills. Short form in the suite; WITCHBOLT_LONG=1 runs 1,000 kills.
//
// A SIGKILL loses no page cache, so this catches ordering bugs inside the process (a commit
// acknowledged before its meta page was written) but not missing fdatasyncs: those are the
// power-loss harness's job.

import Foundation
import Testing
import Witchbolt
import WitchboltTestSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite("Real process kills", .serialized)
struct KillTests {
    /// The value the child stores for commit n (must match ProofChild.value).
    static func value(_ n: UInt64) -> [UInt8] {
        let length = Int(n % 7 == 0 ? 1500 + n % 3000 : n % 200)
        return (0..<length).map { UInt8(truncatingIfNeeded: n &+ UInt64($0)) }
    }

    /// Checks the reopened file against the acknowledgements; returns the counter found.
    static func verify(path: String, acknowledged: UInt64) throws -> UInt64 {
        let db = try DB.open(path: path)
        defer { try? db.close() }
        let problems = try db.checkProblems()
        guard problems.isEmpty else { throw ModelMismatch("check() after the kill: \(problems.prefix(3))") }
        return try db.view { tx -> UInt64 in
            guard let b = try tx.bucket("kill") else {
                if acknowledged == 0 { return 0 }
                throw ModelMismatch("bucket kill missing after \(acknowledged) acknowledged commits")
            }
            let counter = try b.get(Array("counter".utf8)).flatMap { UInt64(String(decoding: $0, as: UTF8.self)) } ?? 0
            guard counter == acknowledged || counter == acknowledged + 1 else {
                throw ModelMismatch("counter \(counter) after \(acknowledged) acknowledged commits")
            }
            // Exactly the keys k(counter-39)...k(counter) remain, with their values.
            var keys = 0
            try b.forEach { k, v in
                guard k.starts(with: Array("k".utf8)), let n = UInt64(String(decoding: k.dropFirst(), as: UTF8.self)) else { return }
                keys += 1
                guard n + 40 > counter, n <= counter else { throw ModelMismatch("key k\(n) should have been deleted (counter \(counter))") }
                guard v == value(n) else { throw ModelMismatch("key k\(n) has the wrong value") }
            }
            guard keys == Int(min(counter, 40)) else { throw ModelMismatch("\(keys) keys k*, expected \(min(counter, 40)) (counter \(counter))") }
            return counter
        }
    }

    @Test("SIGKILLed mid-commit, the file always reopens clean with every acknowledged commit")
    func killsDuringCommits() throws {
        var rng = SeededRandom(label: "kill")
        let kills = isLongRun ? 1000 : 50
        let dir = TemporaryDirectory("kill")
        let path = dir.file("k.db")
        var survived = 0
        var highest: UInt64 = 0
        for round in 0..<kills {
            let (child, out) = try ChildProcess.start(["commit-loop", path])
            // Wait for the child to be committing, then a random moment more.
            let reader = out.fileHandleForReading
            var text = ""
            let deadline = ContinuousClock.now + .seconds(30)
            while !text.contains("ack ") && ContinuousClock.now < deadline {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                text += String(decoding: chunk, as: UTF8.self)
            }
            usleep(UInt32.random(in: 0...60_000, using: &rng))
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            text += String(decoding: reader.readDataToEndOfFile(), as: UTF8.self)
            let acked = text.split(separator: "\n").compactMap { line -> UInt64? in
                line.hasPrefix("ack ") ? UInt64(line.dropFirst(4)) : nil
            }.max() ?? highest
            #expect(child.terminationReason == .uncaughtSignal, "round \(round): the child exited by itself: \(text.suffix(200))")
            do {
                highest = try Self.verify(path: path, acknowledged: acked)
                survived += 1
            } catch {
                Issue.record("round \(round) (seed \(rng.seed)): \(error)")
                break
            }
        }
        print("[kill] kills survived: \(survived) of \(kills), commits acknowledged: \(highest)")
        #expect(survived == kills)
    }
}
