// Helpers shared by the SFTP tests: a log handler that captures messages (the insecure policy
// must warn), the fingerprint of an OpenSSH public key line computed independently of libssh2,
// and a look at a private server's directory from the outside (which names exist on disk).

import Crypto
import Foundation
import Logging
import Testing
import WitchboltStream

enum SFTPTestSupport {
    /// Whether the SFTP server tests run (the shared server is configured, or CI demands it).
    static var enabled: Bool { TestBackend.sftp.isEnabled }

    /// `SHA256:base64` of the key blob in an OpenSSH public key or known_hosts line (`[host] TYPE BASE64 ...`).
    static func fingerprint(ofKeyLine line: String) -> String? {
        let fields = line.split(separator: " ")
        guard let index = fields.firstIndex(where: { $0.hasPrefix("ssh-") || $0.hasPrefix("ecdsa-") }),
              index + 1 < fields.count, let blob = Data(base64Encoded: String(fields[index + 1])) else { return nil }
        var text = Data(SHA256.hash(data: blob)).base64EncodedString()
        while text.hasSuffix("=") { text.removeLast() }
        return "SHA256:" + text
    }

    /// Every file name under `directory`, recursively, relative to it (hidden ones included).
    static func filesOnDisk(_ directory: String) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
        var names: [String] = []
        while let name = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: directory + "/" + name, isDirectory: &isDirectory), !isDirectory.boolValue {
                names.append(name)
            }
        }
        return names.sorted()
    }

    /// Runs `body` and returns the `StreamError` it throws (recording an issue when it throws none).
    static func streamError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> StreamError? {
        do {
            try body()
            Issue.record("expected a StreamError, got success", sourceLocation: sourceLocation)
            return nil
        } catch let error as StreamError {
            return error
        } catch {
            Issue.record("expected a StreamError, got \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }

    /// Random bytes from a seeded generator (the seed printed, `WITCHBOLT_SEED` to repeat).
    static func randomBytes(_ count: Int, label: String) -> [UInt8] {
        let seed = ProcessInfo.processInfo.environment["WITCHBOLT_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 0...UInt64.max)
        print("\(label): seed \(seed) (WITCHBOLT_SEED=\(seed) repeats it)")
        var state = seed
        var bytes = [UInt8](repeating: 0, count: count)
        var i = 0
        while i < count {
            // SplitMix64, 8 bytes at a time.
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            for b in 0..<8 where i + b < count { bytes[i + b] = UInt8(truncatingIfNeeded: z >> (8 * UInt64(b))) }
            i += 8
        }
        return bytes
    }
}

/// Captures log messages, for asserting what a client logged.
final class CapturedLogs: @unchecked Sendable {
    // @unchecked Sendable because `entries` is only touched under `lock`.
    private let lock = NSLock()
    private var entries: [(Logger.Level, String)] = []

    func add(_ level: Logger.Level, _ message: String) { lock.lock(); entries.append((level, message)); lock.unlock() }

    /// The messages logged at `level`.
    func messages(at level: Logger.Level) -> [String] {
        lock.lock()
        defer { lock.unlock() }
        return entries.filter { $0.0 == level }.map(\.1)
    }

    /// A logger writing into this capture.
    func logger() -> Logger {
        Logger(label: "witchbolt.stream.sftp.test") { _ in CapturingLogHandler(sink: self) }
    }
}

struct CapturingLogHandler: LogHandler {
    let sink: CapturedLogs
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    var metadataProvider: Logger.MetadataProvider?

    func log(event: LogEvent) {
        sink.add(event.level, event.message.description)
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
}

/// A failure of the SFTP tests' own machinery (proxy, private server, key generation).
struct SFTPTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
