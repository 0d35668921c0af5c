// Regression tests for engine bugs the proof harnesses found. Each names the harness and
// the repro. Inputs that crash the engine run in the child process (WitchboltProofChild
// open PATH), so a crash fails its own test instead of ending the whole test run.

import Foundation
import Testing
import Witchbolt
import WitchboltTestSupport

@Suite("Engine regressions found by the proof harnesses")
struct EngineRegressionTests {
    /// FuzzHostileFile crash-eb0de890 (760 bytes): meta 0 validates, but the file is shorter
    /// than two pages, and opening read meta page 1 past the file's end through the map (SIGBUS).
    static let shortFile = "AAAAAAAAAAAEAAAAAAAAAO3aDO0CAAAAABAAAAAAAAAHAAAAAAAAAAAAAAAAAAAACAAAAAAAAAAJAAAAAAAAAAIAAAAAAAAAL075IODvIMgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/////////zAAAAAAAAAAAAAAAA=="

    @Test("a file shorter than its two meta pages is rejected, not read past its end (fuzz repro)")
    func shortFileIsRejected() throws {
        let dir = TemporaryDirectory("regression")
        let path = dir.file("short.db")
        try Data(base64Encoded: Self.shortFile)!.write(to: URL(fileURLWithPath: path))
        let result = try ChildProcess.run(["open", path])
        #expect(result.status == 0, "opening the fuzzer's 760-byte file crashed the child (status \(result.status), 135 is SIGBUS)")
    }

    @Test("closing a read-only handle releases its shared lock, so a writer can open the file")
    func readOnlyCloseReleasesLock() throws {
        let dir = TemporaryDirectory("regression")
        let path = dir.file("lock.db")
        try DB.open(path: path).close()
        var readOnly = DB.Options()
        readOnly.readOnly = true
        let reader = try DB.open(path: path, options: readOnly)
        try reader.close()
        var writer = DB.Options()
        writer.timeout = .milliseconds(500)
        // The closed reader is still referenced: close() itself must have released the lock.
        try withExtendedLifetime(reader) {
            let db = try DB.open(path: path, options: writer)
            try db.close()
        }
    }

    /// The differential test's seeds 13160112452388213821 (fails at step 805) and
    /// 11928351579804098979 (step 1086): inside one write transaction, a value put into a
    /// bucket nested three deep (b2/n1/n1) is later missing from `get` after more puts and
    /// deletes in its parent and sibling buckets (b2/n1, b2/n1/n2); LMDB and the model still
    /// hold it (a seek there also returned a key before the one sought). Fixed on main by
    /// "Cursor: internal seek stays in its leaf"; kept as a regression test. Replay with WITCHBOLT_SEED=... WITCHBOLT_TRACE=1 swift test --filter Differential.
    @Test("a value put into a deeply nested bucket stays visible in its write transaction (differential seeds)",
          arguments: [(UInt64(13160112452388213821), 900), (UInt64(11928351579804098979), 1200)])
    func nestedBucketValueStaysVisible(_ seed: UInt64, _ steps: Int) throws {
        let run = try DifferentialRun(seed: seed)
        for _ in 0..<steps { try run.advance() }
    }
}
