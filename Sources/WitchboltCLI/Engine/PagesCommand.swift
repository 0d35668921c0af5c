// `witchbolt pages PATH`: one line per page (overflow pages folded into their first page):
// id, kind, element count and overflow count (bbolt: cmd/bbolt pages, same table).

import ArgumentParser
import Witchbolt

struct PagesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pages",
        abstract: "Print a table of a database's pages: id, type, items, overflow.",
        discussion: "Free pages are listed with the type 'free' (their stale contents are not read)."
    )

    @Argument(help: "The database file.")
    var path: String

    func run() throws {
        let out = try withReadTransaction(path) { tx -> String in
            var out = "ID       TYPE       ITEMS  OVRFLW\n"
            out += "======== ========== ====== ======\n"
            let free = Set(try tx.freePageIDs())
            var id: UInt64 = 0
            while let info = try tx.pageInfo(id, freePages: free) {
                let items = info.kind == .free ? "" : String(info.count)
                let overflow = info.kind != .free && info.overflow > 0 ? String(info.overflow) : ""
                out += pad(String(info.id), 8) + " " + pad(info.kind.rawValue, 10) + " " + pad(items, 6) + " " + overflow + "\n"
                // Move to the next page that is not an overflow page of this one.
                id += 1
                if info.kind != .free { id += UInt64(info.overflow) }
            }
            return out
        }
        writeOut(out)
    }

    private func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }
}
