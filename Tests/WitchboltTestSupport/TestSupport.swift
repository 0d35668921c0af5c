// Shared helpers for the test targets: temporary directories, fixtures, seeded randomness.

import Foundation
import Witchbolt

/// A temporary directory removed when the value is released.
public final class TemporaryDirectory: @unchecked Sendable {
    // @unchecked Sendable because `path` never changes.
    public let path: String

    public init(_ label: String = "witchbolt") {
        let base = NSTemporaryDirectory() + "\(label)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        path = base
    }

    public func file(_ name: String) -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A FuzzHostileFile regression input (`Fuzz/Corpus/FuzzHostileFile/NAME`), copied into
/// `directory` (the repository may be read-only) and opened read-only.
public func openFuzzRegressionInput(_ name: String, in directory: TemporaryDirectory) throws -> DB {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    let source = url.appendingPathComponent("Fuzz/Corpus/FuzzHostileFile/\(name)").path
    let path = directory.file(name)
    try FileManager.default.copyItem(atPath: source, toPath: path)
    var options = DB.Options()
    options.readOnly = true
    return try DB.open(path: path, options: options)
}

/// The fixtures written by Go bbolt: `../shared/fixtures` beside the repository, or `WITCHBOLT_FIXTURES`.
public enum Fixtures {
    public static var directory: String? {
        if let env = ProcessInfo.processInfo.environment["WITCHBOLT_FIXTURES"], !env.isEmpty { return env }
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        let candidate = url.deletingLastPathComponent().appendingPathComponent("shared/fixtures").path
        return FileManager.default.fileExists(atPath: candidate) ? candidate : nil
    }

    public static let names = ["basic", "large-4k", "large-16k-hashmap", "nofreelistsync", "freelist-over-65535"]

    /// Copies fixture `name` into `directory` (fixtures are read-only) and returns the copy's path.
    public static func copy(_ name: String, into directory: TemporaryDirectory) throws -> String {
        guard let dir = Self.directory else { throw FixtureMissing(name: name) }
        let target = directory.file("\(name).db")
        try FileManager.default.copyItem(atPath: dir + "/\(name).db", toPath: target)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: target)
        return target
    }

    public static func export(_ name: String) throws -> String {
        guard let dir = Self.directory else { throw FixtureMissing(name: name) }
        return try String(contentsOfFile: dir + "/\(name).export.jsonl", encoding: .utf8)
    }

    public struct FixtureMissing: Error, CustomStringConvertible {
        public let name: String
        public var description: String { "fixture \(name) not found: put shared/fixtures beside the repository or set WITCHBOLT_FIXTURES" }
    }
}

/// A seeded generator (SplitMix64) whose seed is printed and can be set with `WITCHBOLT_SEED`.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64
    public let seed: UInt64

    public init(label: String, seed: UInt64? = nil) {
        let fromEnv = ProcessInfo.processInfo.environment["WITCHBOLT_SEED"].flatMap { UInt64($0) }
        let chosen = seed ?? fromEnv ?? UInt64.random(in: 1...UInt64.max)
        self.seed = chosen
        self.state = chosen
        print("[\(label)] seed \(chosen) (rerun with WITCHBOLT_SEED=\(chosen))")
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) }
    }
}

extension DB {
    /// The database's export, from a fresh read transaction.
    public func exportString() throws -> String { try view { try $0.exportString() } }

    /// The consistency check's problems, from a fresh read transaction.
    public func checkProblems() throws -> [String] { try view { $0.check() } }
}

extension Array where Element == UInt8 {
    public init(_ s: String) { self = Array(s.utf8) }
}
