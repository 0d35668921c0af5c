// `witchbolt get PATH BUCKET... KEY`: the value of one key (bbolt: cmd/bbolt get).

import ArgumentParser
import Witchbolt

struct GetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Print the value of a key.",
        discussion: "Give the bucket path from the top level down, then the key. Exits 1 when a bucket or the key does not exist, or the key holds a nested bucket."
    )

    @Argument(help: "The database file.")
    var path: String

    @Argument(help: "The bucket path, then the key.")
    var names: [String]

    @Option(help: "How the value is printed: ascii-encoded, hex, bytes, auto or redacted.")
    var format: ByteFormat = .auto

    @Option(help: "How bucket names and the key on the command line are read: ascii-encoded or hex.")
    var parseFormat: ParseFormat = .asciiEncoded

    func validate() throws {
        if names.count < 2 { throw ValidationError("give at least one bucket name and a key") }
    }

    func run() throws {
        let parsed = try names.map { try parseFormat.parse($0) }
        let key = parsed.last!
        let value = try withReadTransaction(path) { tx -> [UInt8]? in
            let bucket = try resolveBucket(tx, Array(parsed.dropLast())) { format.format($0) }
            return try bucket.get(key)
        }
        guard let value else {
            printError("witchbolt: key not found: \(format.format(key))")
            throw EngineExit.notFound
        }
        if format == .bytes {
            writeOut(String(decoding: value, as: UTF8.self))
        } else {
            print(format.format(value))
        }
    }
}
