// `witchbolt snapshots`: list a replica's snapshots (all generations, or one).

import ArgumentParser
import WitchboltStream

struct SnapshotsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshots",
        abstract: "List a replica's snapshots with their txid, time and size.")

    @Argument(help: ArgumentHelp(ArtefactCLI.replicaURLHelp))
    var replicaURL: String

    @Option(help: "Only this generation.")
    var generation: String?

    @Flag(help: "Print JSON.")
    var json = false

    struct Row: Encodable {
        var generation, key: String
        var txid: UInt64
        var committed: String?
        var bytes: Int64
        var error: String?
    }

    func run() throws {
        try ArtefactCLI.run("snapshots") {
            let client = try ArtefactCLI.client(replicaURL)
            let catalog = try ReplicaCatalog(client: client)
            let generations = try selectGenerations(catalog, generation)
            let rows = generations.flatMap { g in
                g.snapshots.map { s in
                    let header = Result { try ReplicaCatalog.header(of: s.key, client: client) }
                    return Row(generation: g.generation.rawValue, key: s.key, txid: s.txID,
                               committed: (try? header.get()).map { formatMillis($0.lastTimestampMillis) },
                               bytes: s.size, error: header.errorText)
                }
            }
            if json { return try ArtefactCLI.printJSON(rows) }
            print(ArtefactCLI.table(["GENERATION", "TXID", "COMMITTED", "SIZE"],
                rows.map { [$0.generation, "\($0.txid)", $0.committed ?? "unreadable: \($0.error ?? "")", ArtefactCLI.size($0.bytes)] }))
        }
    }
}

/// The generations a listing covers: all, or the one named (an unknown one is an error).
func selectGenerations(_ catalog: ReplicaCatalog, _ name: String?) throws -> [ReplicaCatalog.GenerationInfo] {
    guard let name else { return catalog.generations }
    guard let g = Generation(rawValue: name), let info = catalog.generation(g) else {
        throw StreamError(.noGeneration, "\(catalog.client.description): no generation \(name)")
    }
    return [info]
}

extension Result where Failure == any Error {
    /// The error's text, or nil on success.
    var errorText: String? {
        if case .failure(let error) = self { return "\(error)" }
        return nil
    }
}
