// The inspection commands on copies of the Go-made fixtures: export equals each manifest byte
// for byte, check says OK, buckets/keys/get print what the fixture holds in each format, and
// no command changes a byte of the file (nofreelistsync included, where a writer would add a
// free list on open).

import Foundation
import Testing
import Witchbolt
import WitchboltTestSupport

@Suite("witchbolt CLI: inspection")
struct CLIInspectionTests {
    @Test("export prints each fixture's manifest byte for byte", arguments: Fixtures.names)
    func exportMatchesManifest(_ name: String) throws {
        let dir = TemporaryDirectory()
        let path = try Fixtures.copy(name, into: dir)
        let result = try CLI.run(["export", path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == Data(try Fixtures.export(name).utf8))
    }

    @Test("check prints OK and exits 0 on every fixture", arguments: Fixtures.names)
    func checkOK(_ name: String) throws {
        let dir = TemporaryDirectory()
        let path = try Fixtures.copy(name, into: dir)
        let result = try CLI.run(["check", path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output == "OK\n")
    }

    @Test("no inspection command changes a byte of the file", arguments: Fixtures.names)
    func inspectionIsReadOnly(_ name: String) throws {
        let dir = TemporaryDirectory()
        let path = try Fixtures.copy(name, into: dir)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let modified = try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date
        var commands: [[String]] = [
            ["check", path], ["info", path], ["stats", path], ["pages", path], ["page", path, "0", "1", "2", "3"],
            ["buckets", path], ["export", path],
        ]
        // The page walk of every page is long on the 100 MB fixture; the others get it.
        if name != "freelist-over-65535" { commands.append(["page", "--all", path]) }
        if name == "basic" {
            commands += [["keys", path, "widgets"], ["get", path, "widgets", "foo"], ["buckets", path, "a"]]
        }
        for command in commands {
            let result = try CLI.run(command)
            #expect(result.status == 0, "\(command): \(result.stderr)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before, "the file changed")
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date == modified)
    }

    @Test("buckets lists the top level and nested buckets")
    func buckets() throws {
        let dir = TemporaryDirectory()
        let path = try Fixtures.copy("basic", into: dir)
        #expect(try CLI.run(["buckets", path]).output == "a\nempty-bucket\nemptyinline-parent\ninline\nunicode-✓\nwidgets\n")
        #expect(try CLI.run(["buckets", path, "a"]).output == "b\n")
        #expect(try CLI.run(["buckets", "--format", "hex", path, "a", "b"]).output == "63\n")
        let missing = try CLI.run(["buckets", path, "nope"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("bucket not found"))
    }

    @Test("keys lists a bucket's keys in each format")
    func keys() throws {
        let dir = TemporaryDirectory()
        let path = try Fixtures.copy("basic", into: dir)
        // auto: printable keys as text, others (a zero byte, invalid UTF-8) as hex.
        #expect(try CLI.run(["keys", path, "widgets"]).output == "00\nempty\nfoo\noverflow-10k\noverflow-200k\nffff\n")
        #expect(try CLI.run(["keys", "--format", "hex", path, "widgets"]).output
            == "00\n656d707479\n666f6f\n6f766572666c6f772d31306b\n6f766572666c6f772d3230306b\nffff\n")
        #expect(try CLI.run(["keys", "--format", "ascii-encoded", path, "widgets"]).output
            == "\"\\x00\"\n\"empty\"\n\"foo\"\n\"overflow-10k\"\n\"overflow-200k\"\n\"\\xff\\xff\"\n")
        // Nested buckets are listed with the keys.
        #expect(try CLI.run(["keys", path, "a", "b"]).output == "c\nmid\n")
        #expect(try CLI.run(["keys", "--parse-format", "hex", path, "756e69636f64652de29c93"]).output == "☃\n")
        #expect(try CLI.run(["keys", path, "a", "nope"]).status == 1)
    }

    @Test("get prints a value in each format, and exits 1 for a missing key")
    func get() throws {
        let dir = TemporaryDirectory()
        let path = try Fixtures.copy("basic", into: dir)
        #expect(try CLI.run(["get", path, "widgets", "foo"]).output == "bar2\n")
        #expect(try CLI.run(["get", path, "a", "b", "c", "deep"]).output == "value at depth three\n")
        #expect(try CLI.run(["get", "--parse-format", "hex", "--format", "hex", path, "77696467657473", "00"]).output == "ff00ff\n")
        #expect(try CLI.run(["get", "--parse-format", "hex", "--format", "ascii-encoded", path, "77696467657473", "00"]).output == "\"\\xff\\x00\\xff\"\n")
        #expect(try CLI.run(["get", "--parse-format", "hex", path, "77696467657473", "ffff"]).output == "last\n")
        #expect(try CLI.run(["get", "--format", "redacted", path, "widgets", "foo"]).output
            == "<redacted len:4 sha256:844b7fdecda076337696db0dcac0ce9d838319ac00b24380d6c62d442d0680af>\n")
        #expect(try CLI.run(["get", "--format", "bytes", path, "widgets", "empty"]).output == "")
        let big = try CLI.run(["get", "--format", "bytes", path, "widgets", "overflow-200k"])
        #expect(big.stdout.count == 200 * 1024)
        let missing = try CLI.run(["get", path, "widgets", "nope"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("key not found"))
        #expect(try CLI.run(["get", path, "nope", "foo"]).status == 1)
    }

    @Test("info, stats, pages and page describe the file")
    func describe() throws {
        let dir = TemporaryDirectory()
        let path = try Fixtures.copy("basic", into: dir)
        let info = try CLI.run(["info", path])
        #expect(info.output.hasPrefix("Page Size: 4096\n"))
        #expect(info.output.contains("Transaction ID: 3"))
        let stats = try CLI.run(["stats", path])
        #expect(stats.output.hasPrefix("Aggregate statistics for 6 buckets\n"))
        // 6 top-level buckets and 3 nested ones.
        #expect(stats.output.contains("\tTotal number of buckets: 9\n"))
        let pages = try CLI.run(["pages", path])
        let lines = pages.output.split(separator: "\n")
        #expect(lines.count > 4)
        #expect(lines[2].hasPrefix("0        meta"))
        #expect(lines[3].hasPrefix("1        meta"))
        let page = try CLI.run(["page", path, "0"])
        #expect(page.output.contains("Page Type:  meta"))
        #expect(page.output.contains("Version:    2"))
        let past = try CLI.run(["page", path, "999999"])
        #expect(past.status == 1)
    }

    @Test("stats equals Go bbolt's BucketStats of the same fixture", arguments: [
        // Recorded from Go bbolt 1.3.6 (tx.ForEach summing Bucket.Stats()) on these fixtures:
        // branch pages, branch overflow, leaf pages, leaf overflow, keys, depth, branch in use,
        // leaf in use, buckets, inline buckets, inline bytes.
        ("basic", [1, 0, 5, 52, 14, 3, 61, 215481, 9, 5, 186]),
        ("large-4k", [15, 0, 872, 186, 11326, 5, 35959, 2879813, 2, 0, 0]),
        ("nofreelistsync", [8, 0, 378, 125, 4741, 5, 15580, 1410748, 2, 0, 0]),
    ])
    func statsMatchGo(_ name: String, _ expected: [Int]) throws {
        let dir = TemporaryDirectory()
        let path = try Fixtures.copy(name, into: dir)
        let output = try CLI.run(["stats", path]).output
        // The first number on each statistics line, in order, without the allocation lines.
        let numbers = output.split(separator: "\n").filter { $0.hasPrefix("\t") && !$0.contains("allocated") }.compactMap { line in
            line.split(separator: ":").last?.split(separator: " ").first.flatMap { Int($0) }
        }
        #expect(numbers == expected)
    }

    @Test("pages agrees with the free list: nofreelistsync's free pages are marked free")
    func pagesFree() throws {
        let dir = TemporaryDirectory()
        let path = try Fixtures.copy("nofreelistsync", into: dir)
        let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Fixtures.directory! + "/nofreelistsync.meta.json"))) as! [String: Any]
        let pages = try CLI.run(["pages", path])
        #expect(pages.status == 0)
        let freeLines = pages.output.split(separator: "\n").filter { $0.split(separator: " ").dropFirst().first == "free" }
        let expected = (meta["freePages"] as? Int ?? 0) + (meta["pendingPages"] as? Int ?? 0)
        #expect(freeLines.count == expected)
    }

    @Test("every command answers --help")
    func help() throws {
        for command in ["check", "info", "stats", "pages", "page", "buckets", "keys", "get", "export", "compact", "bench"] {
            let result = try CLI.run([command, "--help"])
            #expect(result.status == 0, "\(command)")
            #expect(result.output.contains("USAGE"), "\(command)")
        }
    }
}
