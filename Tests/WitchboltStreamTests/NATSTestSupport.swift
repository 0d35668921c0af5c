// Helpers of the NATS replica's tests: a private nats-server (own port, own store directory)
// that a test may kill and restart without disturbing the shared one, and a runner for
// scripts/nats_interop.py, the nats-py side of the interop tests.

import Foundation
import Testing
import WitchboltStream
#if canImport(Glibc)
import Glibc
#endif

/// A nats-server of one test's own, started with the given extra arguments.
final class NATSPrivateServer: @unchecked Sendable {
    // @unchecked Sendable because `process` is only replaced under `lock`.
    let port: Int
    let directory: String
    let arguments: [String]
    private let lock = NSLock()
    private var process: Process?

    var url: String { "nats://127.0.0.1:\(port)" }

    /// Starts a server with JetStream on a free port; `extraArguments` add auth and the like.
    init(extraArguments: [String] = []) throws {
        port = try Self.freePort()
        directory = NSTemporaryDirectory() + "witchbolt-nats-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/store", withIntermediateDirectories: true)
        arguments = ["-js", "-a", "127.0.0.1", "-p", "\(port)", "-sd", directory + "/store"] + extraArguments
        try start()
    }

    deinit {
        kill()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Starts (or restarts) the server and waits until it says it is ready.
    func start() throws {
        let log = directory + "/server-\(UUID().uuidString).log"
        FileManager.default.createFile(atPath: log, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.serverBinary())
        process.arguments = arguments
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        lock.withLock { self.process = process }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: log, encoding: .utf8), text.contains("Server is ready") { return }
            if !process.isRunning { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw StreamError(.unavailable, "private nats-server on port \(port) did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    func kill() {
        let process = lock.withLock { self.process }
        guard let process, process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    private static func serverBinary() throws -> String {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") + ["/usr/sbin", "/usr/bin"] {
            let path = "\(directory)/nats-server"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw StreamError(.invalidConfiguration, "nats-server is not on PATH")
    }

    /// A TCP port nobody listens on right now (bound to port 0 and released).
    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw StreamError(.io, "socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(fd, socketAddress, length) == 0 && getsockname(fd, socketAddress, &length) == 0
            }
        }
        guard bound else { throw StreamError(.io, "bind failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Runs scripts/nats_interop.py (nats-py) and decodes its JSON answer.
enum NATSInterop {
    static let scriptPath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/nats_interop.py").path

    /// Runs one command; throws with the script's stderr when it fails.
    @discardableResult
    static func run(_ arguments: [String]) throws -> [String: Any] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", scriptPath] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // The script bounds itself at 60 s; this is the backstop if it does not.
        DispatchQueue.global().asyncAfter(deadline: .now() + 90) { if process.isRunning { process.terminate() } }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw StreamError(.replicaError, "nats_interop.py \(arguments.first ?? "") failed: \(errorText)")
        }
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw StreamError(.replicaError, "nats_interop.py printed no JSON object")
        }
        return object
    }
}

/// Random bytes from a printed seed (WITCHBOLT_SEED reruns a failure).
struct NATSTestRandom: RandomNumberGenerator {
    private var state: UInt64

    init(_ label: String) {
        let seed = ProcessInfo.processInfo.environment["WITCHBOLT_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64.max)
        print("\(label): seed \(seed) (rerun with WITCHBOLT_SEED=\(seed))")
        state = seed
    }

    mutating func next() -> UInt64 {
        // splitmix64
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        for i in stride(from: 0, to: count, by: 8) {
            withUnsafeBytes(of: next()) { word in
                for j in 0..<min(8, count - i) { result[i + j] = word[j] }
            }
        }
        return result
    }
}
