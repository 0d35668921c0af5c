// `witchbolt segments`: list a replica's segments (all generations, or one).

import ArgumentParser
import WitchboltStream

struct SegmentsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segments",
        abstract: "List a replica's segments with their txid range, commit times and size.")

    @Argument(help: ArgumentHelp(ArtefactCLI.replicaURLHelp))
    var replicaURL: String

    @Option(help: "Only this generation.")
    var generation: String?

    @Flag(help: "Print JSON.")
    var json = false

    struct Row: Encodable {
        var generation, key: String
        var minTxid, maxTxid: UInt64
        var firstCommit, lastCommit: String?
        var bytes: Int64
        var error: String?
    }

    func run() throws {
        try ArtefactCLI.run("segments") {
            let client = try ArtefactCLI.client(replicaURL)
            let catalog = try ReplicaCatalog(client: client)
            let rows = try selectGenerations(catalog, generation).flatMap { g in
                g.segments.map { s in
                    let header = Result { try ReplicaCatalog.header(of: s.key, client: client) }
                    let h = try? header.get()
                    return Row(generation: g.generation.rawValue, key: s.key, minTxid: s.minTxID, maxTxid: s.maxTxID,
                               firstCommit: h.map { formatMillis($0.firstTimestampMillis) },
                               lastCommit: h.map { formatMillis($0.lastTimestampMillis) }, bytes: s.size, error: header.errorText)
                }
            }
            if json { return try ArtefactCLI.printJSON(rows) }
            print(ArtefactCLI.table(["GENERATION", "TXIDS", "FIRST COMMIT", "LAST COMMIT", "SIZE"],
                rows.map { [$0.generation, "\($0.minTxid)-\($0.maxTxid)", $0.firstCommit ?? "unreadable: \($0.error ?? "")", $0.lastCommit ?? "", ArtefactCLI.size($0.bytes)] }))
        }
    }
}
