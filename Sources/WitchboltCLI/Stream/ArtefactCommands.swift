// Subcommands over replica artefacts: restore, verify, generations, snapshots, segments.

import ArgumentParser

extension WitchboltCommand {
    static var artefactCommands: [any ParsableCommand.Type] { [] }
}
