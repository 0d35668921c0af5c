// Subcommands over replica artefacts: restore, verify, generations, snapshots, segments;
// and what they share: opening a replica from its URL, JSON output, error reporting.

import ArgumentParser
import Foundation
import WitchboltStream

extension WitchboltCommand {
    static var artefactCommands: [any ParsableCommand.Type] {
        [RestoreCommand.self, VerifyCommand.self, GenerationsCommand.self, SnapshotsCommand.self, SegmentsCommand.self]
    }
}

/// Helpers of the artefact commands.
enum ArtefactCLI {
    /// The help of every replica-URL argument, naming every scheme the factory accepts.
    static let replicaURLHelp = "The replica URL: file:///dir or a path, s3://BUCKET/PREFIX?endpoint=...&region=..., sftp://USER@HOST:PORT/PATH?key=...&known-hosts=..., or nats://HOST:PORT/BUCKET/PREFIX."

    /// A client for the replica at `url`.
    static func client(_ url: String) throws -> any ReplicaClient {
        try ReplicaFactory.config(url: url).makeClient()
    }

    /// Prints `value` as pretty, key-sorted JSON on stdout.
    static func printJSON(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// Runs `body`; a thrown error is printed on stderr as `witchbolt COMMAND: message` and
    /// the process exits with status 1.
    static func run(_ command: String, _ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as ExitCode {
            throw error
        } catch let error as StreamError {
            printError("witchbolt \(command): \(error.message) (\(error.code))")
            throw ExitCode.failure
        } catch {
            printError("witchbolt \(command): \(error)")
            throw ExitCode.failure
        }
    }

    static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// Whether stdout is a terminal.
    static var stdoutIsTerminal: Bool { isatty(1) == 1 }

    /// `bytes` as a human size.
    static func size(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }

    /// Rows as left-aligned columns.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { c in all.map { $0[c].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { c, cell in
                c == row.count - 1 ? cell : cell.padding(toLength: widths[c], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
