// Subcommands of the running stream: status and demo.

import ArgumentParser

extension WitchboltCommand {
    static var controllerCommands: [any ParsableCommand.Type] { [] }
}
