// `witchbolt status SHADOW_DIR`: the replication status a stream controller keeps in its
// shadow directory (refreshed every sync interval): per replica the last txid it holds, its
// lag and its last error, and the data-loss window.

import ArgumentParser
import Foundation
import WitchboltStream

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Print a stream's replication status from its shadow directory.")

    @Argument(help: "The stream's shadow directory.")
    var shadowDirectory: String

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        try ArtefactCLI.run("status") {
            let status = try StreamStatus.read(shadowDirectory: shadowDirectory)
            if json { return try ArtefactCLI.printJSON(status) }
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            print(status.formatted(nowMillis: now))
        }
    }
}
