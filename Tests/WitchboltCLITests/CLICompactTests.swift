// `witchbolt compact` writes a new file with the same export (bucket sequences included)
// that passes check, prints the sizes, and refuses to overwrite an existing file.

import Foundation
import Testing
import Witchbolt
import WitchboltTestSupport

@Suite("witchbolt CLI: compact and bench")
struct CLICompactTests {
    @Test("compact preserves the export of every fixture", arguments: Fixtures.names)
    func compactPreservesExport(_ name: String) throws {
        let dir = TemporaryDirectory()
        let path = try Fixtures.copy(name, into: dir)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let target = dir.file("compacted.db")
        let result = try CLI.run(["compact", "-o", target, "--tx-max-size", "65536", path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output.contains(" -> "))
        #expect(result.output.contains("bytes (gain="))
        #expect(try CLI.run(["check", target]).output == "OK\n")
        #expect(try CLI.run(["export", target]).stdout == Data(try Fixtures.export(name).utf8))
        // The source is untouched, and an existing target is refused.
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(try CLI.run(["compact", "-o", target, path]).status == 2)
    }

    @Test("bench writes and reads, and reports ops/s and ns/op")
    func bench() throws {
        let dir = TemporaryDirectory()
        let result = try CLI.run(["bench", "--count", "2000", "--batch-size", "100", "--write-mode", "rnd", "--read-mode", "rnd",
                                  "--value-size", "100", "--no-sync", "--path", dir.file("b.db")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output.contains("# Write\t2000(ops)"))
        #expect(result.output.contains("# Read\t2000(ops)"))
        #expect(result.output.contains("ns/op"))
        #expect(!FileManager.default.fileExists(atPath: dir.file("b.db")))

        let durable = try CLI.run(["bench", "--count", "50", "--batch-size", "1", "--work", "--path", dir.file("d.db")])
        #expect(durable.status == 0, "\(durable.stderr)")
        #expect(durable.output.contains("commit latency p50"))
        #expect(try CLI.run(["check", dir.file("d.db")]).output == "OK\n")
        #expect(try CLI.run(["keys", "--format", "hex", dir.file("d.db"), "bench"]).output.split(separator: "\n").count == 50)
    }

    @Test("bench --replicate streams every commit: a restore of the replica has the same export")
    func benchReplicate() throws {
        let dir = TemporaryDirectory()
        let db = dir.file("r.db")
        let result = try CLI.run(["bench", "--count", "3000", "--batch-size", "100", "--write-mode", "rnd", "--no-sync",
                                  "--replicate", "file://" + dir.file("replica"), "--work", "--path", db])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output.contains("# Replicate\tcaught up"))
        let restored = dir.file("restored.db")
        let restore = try CLI.run(["restore", "-o", restored, "file://" + dir.file("replica")])
        #expect(restore.status == 0, "\(restore.stderr)")
        let original = try CLI.run(["export", db])
        #expect(original.stdout.count > 3000 * 20)
        #expect(try CLI.run(["export", restored]).stdout == original.stdout)
    }

    @Test("bench --replicate with a bad URL exits 2")
    func benchReplicateBadURL() throws {
        let dir = TemporaryDirectory()
        let result = try CLI.run(["bench", "--count", "10", "--replicate", "gopher://x/y", "--path", dir.file("x.db")])
        #expect(result.status == 2)
        #expect(result.stderr.contains("--replicate"))
    }

    @Test("bench --shadow-log-sync takes on-seal or every-batch; anything else is a usage error (exit 64) naming the choices")
    func benchShadowLogSync() throws {
        let dir = TemporaryDirectory()
        let good = try CLI.run(["bench", "--count", "200", "--batch-size", "10", "--replicate", "file://" + dir.file("replica"),
                                "--shadow-log-sync", "every-batch", "--path", dir.file("s.db")])
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.output.contains("# Replicate\tcaught up"))
        let bad = try CLI.run(["bench", "--count", "10", "--replicate", "file://" + dir.file("replica2"),
                               "--shadow-log-sync", "always", "--path", dir.file("x.db")])
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("on-seal, every-batch"))
    }
}
