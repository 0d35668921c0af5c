// The engine's subcommands: inspection, compaction and the benchmark.

import ArgumentParser

extension WitchboltCommand {
    static var engineCommands: [any ParsableCommand.Type] { [] }
}
