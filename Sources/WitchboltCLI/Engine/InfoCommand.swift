// `witchbolt info PATH`: the file's page size and its active meta page (bbolt: cmd/bbolt info,
// which prints only the page size).

import ArgumentParser
import Witchbolt

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Print a database's page size, size, transaction id and meta pages.",
        discussion: "Opens the file read-only. The first line is bbolt's ('Page Size: N')."
    )

    @Argument(help: "The database file.")
    var path: String

    func run() throws {
        let size = fileSize(path) ?? 0
        let lines = try withReadTransaction(path) { tx -> [String] in
            let meta = tx.activeMeta
            let free = try tx.freePageIDs()
            var lines = [
                "Page Size: \(tx.pageSize)",
                "File Size: \(size) bytes",
                "Pages In Use: \(meta.highWaterMark) (\(tx.size) bytes)",
                "Free Pages: \(free.count)",
                "Transaction ID: \(meta.txid)",
                "Root Page: \(meta.rootPageID)",
                "Free List Page: \(meta.freelistPageID == UInt64.max ? "none (not stored)" : String(meta.freelistPageID))",
            ]
            for m in tx.metaPages() {
                lines.append("Meta \(m.pageID): txid \(m.txid), \(m.problem ?? "valid")\(m.txid == meta.txid && m.problem == nil ? " (active)" : "")")
            }
            return lines
        }
        for line in lines { print(line) }
    }
}
