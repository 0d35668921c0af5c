// `witchbolt generations`: list a replica's generations, newest first.

import ArgumentParser
import WitchboltStream

struct GenerationsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generations",
        abstract: "List a replica's generations, newest (holding the most recent commit) first.")

    @Argument(help: ArgumentHelp(ArtefactCLI.replicaURLHelp))
    var replicaURL: String

    @Flag(help: "Print JSON.")
    var json = false

    struct Row: Encodable {
        var generation, created: String
        var lastCommit: String?
        var snapshots, segments: Int
        var maxTxid: UInt64
        var restorableTxid: UInt64?
        var bytes: Int64
    }

    func run() throws {
        try ArtefactCLI.run("generations") {
            let catalog = try ReplicaCatalog(client: try ArtefactCLI.client(replicaURL))
            let rows = catalog.generations.map { g in
                Row(generation: g.generation.rawValue, created: formatMillis(g.generation.createdMillis),
                    lastCommit: g.lastCommitMillis.map(formatMillis), snapshots: g.snapshots.count, segments: g.segments.count,
                    maxTxid: g.maxTxID, restorableTxid: g.restorableTxID,
                    bytes: g.snapshots.reduce(0) { $0 + $1.size } + g.segments.reduce(0) { $0 + $1.size })
            }
            if json { return try ArtefactCLI.printJSON(rows) }
            print(ArtefactCLI.table(
                ["GENERATION", "CREATED", "LAST COMMIT", "SNAPSHOTS", "SEGMENTS", "MAX TXID", "RESTORABLE", "SIZE"],
                rows.map { [$0.generation, $0.created, $0.lastCommit ?? "?", "\($0.snapshots)", "\($0.segments)", "\($0.maxTxid)",
                            $0.restorableTxid.map(String.init) ?? "-", ArtefactCLI.size($0.bytes)] }))
        }
    }
}
