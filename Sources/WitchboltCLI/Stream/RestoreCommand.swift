// `witchbolt restore`: rebuild a database from one or more replicas, to the latest commit, a
// txid, or a point in time. The freshest replica wins; the output is never overwritten.

import ArgumentParser
import Foundation
import WitchboltStream

struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a database from replicas (latest, a txid, or a point in time).",
        discussion: """
            REPLICA_URL is file:///dir or a plain directory path (and s3://, sftp://, nats:// where built in). \
            With several replicas, the one that can restore the highest txid wins; an unreachable one is skipped \
            with a warning when another works. The output must not exist unless --if-db-not-exists is given. \
            Exit status: 0 restored or skipped by an --if option, 1 on error.
            """)

    @Option(name: [.customShort("o"), .customLong("output")], help: "The database file to create.")
    var output: String

    @Option(help: "Restore exactly this transaction id (decimal).")
    var txid: UInt64?

    @Option(help: "Restore the last commit at or before this time (RFC 3339, e.g. 2026-11-27T03:00:00Z; no zone means UTC).")
    var timestamp: String?

    @Flag(name: .customLong("if-db-not-exists"), help: "Do nothing if the output already exists.")
    var ifDBNotExists = false

    @Flag(name: .customLong("if-replica-exists"), help: "Do nothing if no replica holds a generation.")
    var ifReplicaExists = false

    @Option(help: "Segments downloaded ahead in parallel.")
    var parallelism = 4

    @Flag(help: "Print the result as JSON.")
    var json = false

    @Argument(help: ArgumentHelp("Replica URLs; the freshest wins. " + ArtefactCLI.replicaURLHelp, valueName: "replica-url"))
    var replicaURLs: [String]

    func validate() throws {
        if txid != nil && timestamp != nil { throw ValidationError("--txid and --timestamp exclude each other") }
        if let timestamp, parseRFC3339Millis(timestamp) == nil {
            throw ValidationError("--timestamp \(timestamp): expected an RFC 3339 time such as 2026-11-27T03:00:00Z")
        }
        if parallelism < 1 || parallelism > 64 { throw ValidationError("--parallelism must be 1...64") }
        if replicaURLs.isEmpty { throw ValidationError("give at least one REPLICA_URL") }
    }

    func run() throws {
        try ArtefactCLI.run("restore") {
            let clients = try replicaURLs.map(ArtefactCLI.client)
            var options = RestoreOptions(outputPath: output)
            options.targetTxID = txid
            options.targetTimestampMillis = timestamp.flatMap(parseRFC3339Millis)
            options.ifDBNotExists = ifDBNotExists
            options.ifReplicaExists = ifReplicaExists
            options.parallelism = parallelism
            let bar = ArtefactCLI.stdoutIsTerminal && !json ? ProgressBar() : nil
            if let bar { options.progress = { bar.show($0) } }
            let result: RestoreResult?
            do {
                result = try Restorer.restore(from: clients, options: options)
                bar?.clear()
            } catch {
                bar?.clear()
                throw error
            }
            guard let result else {
                let reason = ifDBNotExists && FileManager.default.fileExists(atPath: output)
                    ? "\(output) exists" : "no replica holds a generation"
                if json {
                    try ArtefactCLI.printJSON(["restored": false, "reason": AnyCodable(reason)] as [String: AnyCodable])
                } else {
                    print("nothing restored: \(reason)")
                }
                return
            }
            if json {
                try ArtefactCLI.printJSON(RestoreJSON(result))
            } else {
                print("restored \(result.path) at txid \(result.txID) (committed \(formatMillis(result.timestampMillis)))")
                print("  from \(result.replica), generation \(result.generation), snapshot txid \(result.snapshotTxID)")
                print("  \(result.recordsApplied) transactions from \(result.segmentsApplied) segments, \(ArtefactCLI.size(result.bytesDownloaded)) downloaded")
            }
        }
    }
}

/// The JSON form of a restore's result.
struct RestoreJSON: Encodable {
    var restored = true
    var path, replica, generation, databaseID, committed, databaseChecksum: String
    var txid, snapshotTxid, highWaterMark: UInt64
    var pageSize, segmentsApplied, transactionsApplied: Int
    var bytesDownloaded: Int64

    init(_ r: RestoreResult) {
        path = r.path
        replica = r.replica
        generation = r.generation.rawValue
        databaseID = r.databaseID
        committed = formatMillis(r.timestampMillis)
        databaseChecksum = String(r.databaseChecksum, radix: 16)
        txid = r.txID
        snapshotTxid = r.snapshotTxID
        highWaterMark = r.highWaterMark
        pageSize = r.pageSize
        segmentsApplied = r.segmentsApplied
        transactionsApplied = r.recordsApplied
        bytesDownloaded = r.bytesDownloaded
    }
}

/// A string or a bool in a small JSON object.
enum AnyCodable: Encodable, ExpressibleByStringLiteral, ExpressibleByBooleanLiteral {
    case string(String), bool(Bool)
    init(stringLiteral value: String) { self = .string(value) }
    init(booleanLiteral value: Bool) { self = .bool(value) }
    init(_ s: String) { self = .string(s) }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .string(let s): try c.encode(s)
        case .bool(let b): try c.encode(b)
        }
    }
}

/// A one-line progress bar on stderr.
final class ProgressBar: @unchecked Sendable {
    // @unchecked Sendable because restore calls `show` from its one restoring thread only.
    private var lastWidth = 0

    func show(_ p: RestoreProgress) {
        let fraction = p.bytesTotal > 0 ? min(1, Double(p.bytesDone) / Double(p.bytesTotal)) : 0
        let filled = Int(fraction * 30)
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: 30 - filled)
        let line = String(format: "\r%@ [%@] %3d%% %@/%@ txid %llu", p.phase.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0),
                          bar, Int(fraction * 100), ArtefactCLI.size(p.bytesDone), ArtefactCLI.size(p.bytesTotal), p.txID)
        lastWidth = max(lastWidth, line.count)
        FileHandle.standardError.write(Data(line.utf8))
    }

    func clear() {
        guard lastWidth > 0 else { return }
        FileHandle.standardError.write(Data(("\r" + String(repeating: " ", count: lastWidth) + "\r").utf8))
    }
}
