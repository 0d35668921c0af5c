// The stream's subcommands: restore, verify, status, generations, snapshots, segments, demo.

import ArgumentParser

extension WitchboltCommand {
    static var streamCommands: [any ParsableCommand.Type] { [] }
}
