// Licensed under the Apache License, Version 2.0.
//
// The `witchbolt` command: inspection and maintenance of database files (the engine's
// commands) and replication (the stream's commands), one file per subcommand.

import ArgumentParser

@main
struct WitchboltCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "witchbolt",
        abstract: "Inspect, compact, benchmark, replicate and restore Witchbolt (bbolt-format) databases.",
        subcommands: engineCommands + streamCommands
    )
}
