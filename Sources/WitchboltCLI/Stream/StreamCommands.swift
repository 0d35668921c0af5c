// The stream's subcommands: restore, verify, generations, snapshots, segments (artefacts),
// status and demo (controller).

import ArgumentParser

extension WitchboltCommand {
    static var streamCommands: [any ParsableCommand.Type] { artefactCommands + controllerCommands }
}
