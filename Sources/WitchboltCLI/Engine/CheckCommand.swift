// `witchbolt check PATH`: the consistency check (bbolt: cmd/bbolt check), on a read-only open.

import ArgumentParser
import Witchbolt

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check a database's consistency.",
        discussion: """
            Opens the file read-only and checks that every page is reachable from exactly one \
            place or free, that pages are inside the file, and that keys are in order. Prints \
            OK and exits 0 when consistent; prints each problem and 'N errors found' and exits 1 \
            otherwise; exits 2 when the file cannot be opened. The file is never changed.
            """
    )

    @Argument(help: "The database file.")
    var path: String

    func run() throws {
        let problems = try withReadTransaction(path) { $0.check() }
        if problems.isEmpty {
            print("OK")
            return
        }
        for problem in problems { print(problem) }
        print("\(problems.count) errors found")
        throw EngineExit.notFound
    }
}
