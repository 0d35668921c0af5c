// Runs WitchboltProofChild (Tests/WitchboltProofTests/KillChild), the executable the kill
// tests SIGKILL and the crash-repro tests run suspicious files in.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

enum ChildProcess {
    /// The child executable, beside the test bundle in the build directory.
    static var executable: String? {
        var candidates: [String] = []
        let argv0 = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        candidates.append(argv0.appendingPathComponent("WitchboltProofChild").path)
        candidates.append(argv0.deletingLastPathComponent().appendingPathComponent("WitchboltProofChild").path)
        var repo = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { repo.deleteLastPathComponent() }
        candidates.append(repo.appendingPathComponent(".build/debug/WitchboltProofChild").path)
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Starts the child with `arguments`, its stdout on a pipe.
    static func start(_ arguments: [String]) throws -> (Process, Pipe) {
        guard let executable else {
            throw ChildMissing()
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        return (p, out)
    }

    /// Runs the child to the end; returns its exit status (a signal shows as 128 + signo) and output.
    static func run(_ arguments: [String], timeout: Duration = .seconds(60)) throws -> (status: Int32, output: String) {
        let (p, out) = try start(arguments)
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let status = p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
        return (status, String(decoding: data, as: UTF8.self))
    }

    struct ChildMissing: Error, CustomStringConvertible {
        var description: String { "WitchboltProofChild not found beside the test bundle: build with `swift build --build-tests`" }
    }
}
