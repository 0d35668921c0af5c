// `witchbolt compact -o DST SRC`: writes a compacted copy of SRC into the new file DST (bbolt:
// cmd/bbolt compact): every bucket, sequence, key and value, on fresh, full pages.

import ArgumentParser
import Witchbolt

struct CompactCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "Write a compacted copy of a database to a new file.",
        discussion: """
            Opens SRC read-only and copies everything, bucket sequences included, into DST, a new \
            file with SRC's page size, committing every --tx-max-size bytes. Prints the sizes before \
            and after. DST must not exist.
            """
    )

    @Option(name: .shortAndLong, help: "The new file to write.")
    var output: String

    @Argument(help: "The database file to compact.")
    var source: String

    @Option(help: "Bytes of keys and values per write transaction (0: one transaction).")
    var txMaxSize: Int = 65536

    @Flag(help: "Skip fsync while writing (the result is synced once at the end).")
    var noSync = false

    func validate() throws {
        if txMaxSize < 0 { throw ValidationError("--tx-max-size must not be negative") }
        if output == source { throw ValidationError("the output must be a different file") }
    }

    func run() throws {
        if fileSize(output) != nil {
            printError("witchbolt: \(output) already exists; compact writes a new file")
            throw EngineExit.failure
        }
        let sourceDB = try openReadOnly(source)
        defer { try? sourceDB.close() }
        var options = DB.Options()
        options.pageSize = sourceDB.pageSize
        options.noSync = noSync
        do {
            let target = try DB.open(path: output, options: options)
            do {
                try DB.compact(from: sourceDB, to: target, txMaxSize: txMaxSize)
                if noSync { try target.sync() }
                try target.close()
            } catch {
                try? target.close()
                throw error
            }
        } catch {
            printError("witchbolt: compact \(source) to \(output): \(error)")
            throw EngineExit.failure
        }
        let before = fileSize(source) ?? 0
        let after = fileSize(output) ?? 0
        let gain = after > 0 ? Double(before) / Double(after) : 0
        print("\(before) -> \(after) bytes (gain=\(String(format2: gain))x)")
    }
}

extension String {
    /// `value` with two decimals.
    init(format2 value: Double) {
        let scaled = (value * 100).rounded()
        let whole = Int(scaled) / 100
        let fraction = abs(Int(scaled) % 100)
        self = "\(whole)." + (fraction < 10 ? "0" : "") + "\(fraction)"
    }
}
