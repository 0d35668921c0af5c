// `witchbolt verify`: check every generation of a replica without writing a database.

import ArgumentParser
import WitchboltStream

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify a replica: checksums, headers, txid chains and whole-database checksums.",
        discussion: "Exit status: 0 when the replica is sound, 1 when problems were found (they are listed) or it cannot be read.")

    @Argument(help: ArgumentHelp(ArtefactCLI.replicaURLHelp))
    var replicaURL: String

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() throws {
        try ArtefactCLI.run("verify") {
            let report = try ReplicaVerifier.verify(try ArtefactCLI.client(replicaURL))
            if json {
                try ArtefactCLI.printJSON(VerifyJSON(report))
            } else {
                for g in report.generations {
                    let range = g.firstTxID.map { "txids \($0)...\(g.lastTxID ?? $0)" } ?? "no snapshot"
                    print("generation \(g.generation): \(g.snapshots) snapshots, \(g.segments) segments, \(range)")
                }
                print("\(report.recordsChecked) transactions replayed, \(ArtefactCLI.size(report.bytesRead)) read")
                if report.isSound {
                    print("sound")
                } else {
                    print("\(report.problems.count) problems:")
                    for problem in report.problems { print("  \(problem.message)") }
                }
            }
            if !report.isSound { throw ExitCode.failure }
        }
    }
}

/// The JSON form of a verify report.
struct VerifyJSON: Encodable {
    struct Generation: Encodable {
        var generation: String
        var snapshots, segments: Int
        var firstTxid, lastTxid: UInt64?
    }
    struct Problem: Encodable {
        var generation, key: String?
        var message: String
    }
    var sound: Bool
    var problems: [Problem]
    var generations: [Generation]
    var transactionsChecked: Int
    var bytesRead: Int64

    init(_ r: VerifyReport) {
        sound = r.isSound
        problems = r.problems.map { Problem(generation: $0.generation?.rawValue, key: $0.key, message: $0.message) }
        generations = r.generations.map {
            Generation(generation: $0.generation.rawValue, snapshots: $0.snapshots, segments: $0.segments, firstTxid: $0.firstTxID, lastTxid: $0.lastTxID)
        }
        transactionsChecked = r.recordsChecked
        bytesRead = r.bytesRead
    }
}
