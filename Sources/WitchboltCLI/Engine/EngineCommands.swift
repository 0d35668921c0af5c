// The engine's subcommands: inspection, compaction and the benchmark, one file each.
// Their shared helpers (opening a file read-only, exit codes, byte formats) live in
// `EngineCLISupport.swift` and `ByteFormat.swift`.

import ArgumentParser

extension WitchboltCommand {
    static var engineCommands: [any ParsableCommand.Type] {
        [
            CheckCommand.self, InfoCommand.self, StatsCommand.self, PagesCommand.self, PageCommand.self,
            BucketsCommand.self, KeysCommand.self, GetCommand.self, ExportCommand.self, CompactCommand.self,
            BenchCommand.self,
        ]
    }
}
