// `witchbolt page PATH ID...`: pages in human-readable form: the header, then the meta
// fields, the free list's ids, or each element's key and value or child page (bbolt:
// cmd/bbolt page).

import ArgumentParser
import Witchbolt

struct PageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "page",
        abstract: "Print pages of a database in human-readable form.",
        discussion: """
            Prints each page's header and contents: a meta page's fields, a free list's page ids, \
            a branch page's keys and child pages, a leaf page's keys and values (nested buckets \
            marked). Free pages show only their header. With --all, every page in order.
            """
    )

    @Argument(help: "The database file.")
    var path: String

    @Argument(help: "Page ids.")
    var ids: [UInt64] = []

    @Flag(help: "Print every page (overflow pages folded into their first page).")
    var all = false

    @Option(help: "How keys and values are printed: ascii-encoded, hex, bytes, auto or redacted.")
    var format: ByteFormat = .auto

    func validate() throws {
        if ids.isEmpty && !all { throw ValidationError("give page ids, or --all") }
        if !ids.isEmpty && all { throw ValidationError("give page ids or --all, not both") }
    }

    func run() throws {
        var missing: UInt64?
        let out = try withReadTransaction(path) { tx -> String in
            var out = ""
            let free = Set(try tx.freePageIDs())
            var queue = ids
            if all {
                var id: UInt64 = 0
                while let info = try tx.pageInfo(id, freePages: free) {
                    queue.append(id)
                    id += 1 + (info.kind == .free ? 0 : UInt64(info.overflow))
                }
            }
            for (n, id) in queue.enumerated() {
                if n > 0 { out += "\n" }
                guard let info = try tx.pageInfo(id, freePages: free) else {
                    missing = id
                    break
                }
                out += describe(tx, info)
            }
            return out
        }
        writeOut(out)
        if let missing {
            printError("witchbolt: page \(missing) is past the end of the database")
            throw EngineExit.notFound
        }
    }

    private func describe(_ tx: Tx, _ info: PageInfo) -> String {
        var out = "Page ID:    \(info.id)\n"
        out += "Page Type:  \(info.kind.rawValue)\(info.isPending ? " (pending)" : "")\n"
        out += "Total Size: \((Int(info.overflow) + 1) * tx.pageSize) bytes\n"
        out += "Overflow pages: \(info.overflow)\n"
        guard info.kind != .free, info.kind != .unknown else { return out }
        let content: PageContent
        do {
            content = try tx.pageContent(info.id)
        } catch {
            return out + "Error: \(error)\n"
        }
        switch content {
        case .meta(let m):
            out += "Version:    \(m.version)\n"
            out += "Page Size:  \(m.pageSize) bytes\n"
            out += "Flags:      \(hexString(withUnsafeBytes(of: m.flags.bigEndian) { Array($0) }))\n"
            out += "Root:       <pgid=\(m.rootPageID)>\n"
            out += "Sequence:   \(m.rootSequence)\n"
            out += "Freelist:   \(m.freelistPageID == UInt64.max ? "<none>" : "<pgid=\(m.freelistPageID)>")\n"
            out += "HWM:        <pgid=\(m.highWaterMark)>\n"
            out += "Txn ID:     \(m.txid)\n"
            out += "Checksum:   \(hexString(withUnsafeBytes(of: m.checksum.bigEndian) { Array($0) }))\(m.problem.map { " (\($0))" } ?? "")\n"
        case .freelist(let freeIDs):
            out += "Item Count: \(freeIDs.count)\n\n"
            for id in freeIDs { out += "\(id)\n" }
        case .branch(let elements):
            out += "Item Count: \(elements.count)\n\n"
            for e in elements { out += "\(format.format(e.key)): <pgid=\(e.childPageID)>\n" }
        case .leaf(let elements):
            out += "Item Count: \(elements.count)\n\n"
            for e in elements {
                if e.isBucket {
                    let root = e.value.count >= 16 ? e.value.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } : 0
                    let sequence = e.value.count >= 16 ? e.value.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self) } : 0
                    out += "\(format.format(e.key)): <bucket root=\(root)\(root == 0 ? " (inline)" : "") seq=\(sequence)>\n"
                } else {
                    out += "\(format.format(e.key)): \(format.format(e.value))\n"
                }
            }
        case .other:
            break
        }
        return out
    }
}
