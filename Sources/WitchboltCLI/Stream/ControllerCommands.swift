// Subcommands of the running stream: status (what a controller reports in its shadow
// directory) and demo (the stream end to end on a local database).

import ArgumentParser

extension WitchboltCommand {
    static var controllerCommands: [any ParsableCommand.Type] { [StatusCommand.self, DemoCommand.self] }
}
