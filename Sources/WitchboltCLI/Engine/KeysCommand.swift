// `witchbolt keys PATH BUCKET...`: the keys of a (nested) bucket, nested buckets' names
// included, one a line (bbolt: cmd/bbolt keys).

import ArgumentParser
import Witchbolt

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "List the keys of a bucket.",
        discussion: "Give the bucket path from the top level down. Exits 1 when a bucket does not exist."
    )

    @Argument(help: "The database file.")
    var path: String

    @Argument(help: "The bucket path: a top-level bucket, then nested buckets.")
    var buckets: [String]

    @Option(help: "How keys are printed: ascii-encoded, hex, bytes, auto or redacted.")
    var format: ByteFormat = .auto

    @Option(help: "How bucket names on the command line are read: ascii-encoded or hex.")
    var parseFormat: ParseFormat = .asciiEncoded

    func validate() throws {
        if buckets.isEmpty { throw ValidationError("give at least one bucket name") }
    }

    func run() throws {
        let names = try buckets.map { try parseFormat.parse($0) }
        let out = try withReadTransaction(path) { tx -> String in
            let bucket = try resolveBucket(tx, names) { format.format($0) }
            var out = ""
            try bucket.forEach { key, _ in
                out += format.format(key)
                out += "\n"
            }
            return out
        }
        writeOut(out)
    }
}
