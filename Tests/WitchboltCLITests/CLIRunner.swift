// Runs the built `witchbolt` executable for the CLI tests: finds it next to the test bundle
// (or at WITCHBOLT_CLI), runs it with arguments, and returns its exit code and output. The
// test target does not depend on the executable target; `swift build --build-tests` and
// `swift test` build both into the same products directory.

import Foundation
import Testing

/// The outcome of one run of the CLI.
struct CLIResult {
    var status: Int32
    var stdout: Data
    var stderr: String
    var output: String { String(decoding: stdout, as: UTF8.self) }
}

enum CLI {
    /// The `witchbolt` executable: $WITCHBOLT_CLI, else beside the running test binary, else
    /// under `.build/debug` of this package.
    static var executable: String? {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["WITCHBOLT_CLI"], !env.isEmpty { return env }
        var candidates: [URL] = []
        if let exe = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append(URL(fileURLWithPath: exe).deletingLastPathComponent())
        }
        if let main = Bundle.main.executableURL { candidates.append(main.deletingLastPathComponent()) }
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent())
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        candidates.append(root.appendingPathComponent(".build/debug"))
        for dir in candidates {
            // Inside an .xctest bundle directory (macOS), the products directory is further up.
            for up in 0..<4 {
                var d = dir
                for _ in 0..<up { d.deleteLastPathComponent() }
                let path = d.appendingPathComponent("witchbolt").path
                var isDir: ObjCBool = false
                if fm.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue, fm.isExecutableFile(atPath: path) { return path }
            }
        }
        return nil
    }

    /// Runs `witchbolt arguments...` to completion.
    static func run(_ arguments: [String]) throws -> CLIResult {
        let exe = try #require(executable, "the witchbolt executable was not found: build it (swift build) or set WITCHBOLT_CLI")
        return try runProgram(exe, arguments)
    }

    /// Runs an external program (gocheck) to completion.
    static func runProgram(_ path: String, _ arguments: [String]) throws -> CLIResult {
        // Output goes to files, so that a large export can never fill a pipe and stall.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("witchbolt-prog-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("stdout")
        let err = dir.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let outHandle = try FileHandle(forWritingTo: out)
        let errHandle = try FileHandle(forWritingTo: err)
        process.standardOutput = outHandle
        process.standardError = errHandle
        try process.run()
        process.waitUntilExit()
        try outHandle.close()
        try errHandle.close()
        return CLIResult(status: process.terminationStatus, stdout: try Data(contentsOf: out),
                         stderr: String(decoding: try Data(contentsOf: err), as: UTF8.self))
    }
}
