// Exit codes for files that are missing, not databases, or corrupt: 2 with a clear message
// when the file cannot be opened, 1 with the problems when check finds damage.

import Foundation
import Testing
import Witchbolt
import WitchboltTestSupport

@Suite("witchbolt CLI: errors")
struct CLIErrorTests {
    @Test("a missing file exits 2 with a message naming it")
    func missingFile() throws {
        let dir = TemporaryDirectory()
        for command in ["check", "info", "stats", "pages", "buckets", "export"] {
            let result = try CLI.run([command, dir.file("nope.db")])
            #expect(result.status == 2, "\(command)")
            #expect(result.stderr.contains("cannot open \(dir.file("nope.db"))"), "\(command): \(result.stderr)")
        }
        // A read-only open never creates the file.
        #expect(!FileManager.default.fileExists(atPath: dir.file("nope.db")))
    }

    @Test("a file that is not a database exits 2")
    func notADatabase() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("junk.db")
        var rng = SeededRandom(label: "cli-junk")
        try Data(rng.bytes(16384)).write(to: URL(fileURLWithPath: path))
        let result = try CLI.run(["check", path])
        #expect(result.status == 2)
        #expect(result.stderr.contains("cannot open"))
        let empty = dir.file("empty.db")
        FileManager.default.createFile(atPath: empty, contents: Data())
        #expect(try CLI.run(["check", empty]).status == 2)
    }

    @Test("both meta pages destroyed: check exits 2")
    func corruptMetas() throws {
        let dir = TemporaryDirectory()
        let path = try Fixtures.copy("basic", into: dir)
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try handle.seek(toOffset: 16)
        try handle.write(contentsOf: Data(repeating: 0xAB, count: 64))
        try handle.seek(toOffset: 4096 + 16)
        try handle.write(contentsOf: Data(repeating: 0xAB, count: 64))
        try handle.close()
        let result = try CLI.run(["check", path])
        #expect(result.status == 2)
        #expect(result.stderr.contains("cannot open"))
    }

    @Test("a zeroed leaf page: check lists the problems and exits 1; export exits 2")
    func corruptLeaf() throws {
        let dir = TemporaryDirectory()
        let path = try Fixtures.copy("large-4k", into: dir)
        // Find a leaf page from the page table, then zero it.
        let pages = try CLI.run(["pages", path])
        let leaf = try #require(pages.output.split(separator: "\n").dropFirst(2).first { $0.contains(" leaf ") })
        let id = try #require(UInt64(leaf.split(separator: " ")[0]))
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try handle.seek(toOffset: id * 4096)
        try handle.write(contentsOf: Data(repeating: 0, count: 4096))
        try handle.close()
        let check = try CLI.run(["check", path])
        #expect(check.status == 1)
        #expect(check.output.contains("page \(id)"))
        #expect(check.output.hasSuffix("errors found\n"))
        let export = try CLI.run(["export", path])
        #expect(export.status == 2)
        #expect(!export.stderr.isEmpty)
    }

    @Test("usage errors exit 64 with a message")
    func usage() throws {
        let result = try CLI.run(["get", "x.db"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("bucket"))
    }
}
