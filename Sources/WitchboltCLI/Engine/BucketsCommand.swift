// `witchbolt buckets PATH [BUCKET...]`: the names of the top-level buckets, or of the buckets
// nested in the given one (bbolt: cmd/bbolt buckets, top level only).

import ArgumentParser
import Witchbolt

struct BucketsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "buckets",
        abstract: "List the buckets of a database (or those nested in a bucket).",
        discussion: "Exits 1 when a named bucket does not exist."
    )

    @Argument(help: "The database file.")
    var path: String

    @Argument(help: "The path of bucket names to list the nested buckets of (empty: the top level).")
    var buckets: [String] = []

    @Option(help: "How names are printed: ascii-encoded, hex, bytes, auto or redacted.")
    var format: ByteFormat = .auto

    @Option(help: "How bucket names on the command line are read: ascii-encoded or hex.")
    var parseFormat: ParseFormat = .asciiEncoded

    func run() throws {
        let names = try buckets.map { try parseFormat.parse($0) }
        let lines = try withReadTransaction(path) { tx -> [String] in
            let bucket = try resolveBucket(tx, names) { format.format($0) }
            var lines: [String] = []
            try bucket.forEachBucket { lines.append(format.format($0)) }
            return lines
        }
        for line in lines { print(line) }
    }
}
