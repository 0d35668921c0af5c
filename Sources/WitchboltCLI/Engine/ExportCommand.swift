// `witchbolt export PATH`: the whole content, one JSON object a line, in the fixtures'
// manifest format (shared/fixtures/README.md): two databases hold the same content exactly
// when their exports are equal.

import ArgumentParser
import Witchbolt

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Print a database's whole content as JSON lines (hex names, keys and values).",
        discussion: """
            Lines come in cursor order, depth first: {"path":[...],"bucket":"<hex>","sequence":N} \
            for a bucket, {"path":[...],"key":"<hex>","value":"<hex>"} for a key.
            """
    )

    @Argument(help: "The database file.")
    var path: String

    func run() throws {
        try withReadTransaction(path) { tx in
            // Write in chunks so that a large database streams instead of building one string.
            var chunk = ""
            chunk.reserveCapacity(1 << 16)
            try tx.export { line in
                chunk += line
                chunk += "\n"
                if chunk.utf8.count >= 1 << 16 {
                    writeOut(chunk)
                    chunk.removeAll(keepingCapacity: true)
                }
            }
            writeOut(chunk)
        }
    }
}
