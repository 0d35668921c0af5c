// The replica backends the conformance suite and the stream's end-to-end tests run against.
//
// Each backend's file builds a client for a fresh, unique prefix on the server that
// `scripts/test-servers.sh` started (addresses and credentials in environment variables).
// A bare `swift test` without those variables skips the server-backed backends; under the
// README's test command (CI=true) a missing server is a failure, never a skip.

import Foundation
import WitchboltStream

/// A replica backend under test.
enum TestBackend: String, CaseIterable, Sendable, CustomStringConvertible {
    case file, s3, sftp, nats

    var description: String { rawValue }

    /// Whether tests on this backend run: the server is configured, or CI demands it.
    var isEnabled: Bool { self == .file || isConfigured || TestEnvironment.isCI }

    /// Whether the environment names this backend's server.
    var isConfigured: Bool {
        switch self {
        case .file: true
        case .s3: TestEnvironment.value("WITCHBOLT_S3_ENDPOINT") != nil
        case .sftp: TestEnvironment.value("WITCHBOLT_SFTP_HOST") != nil
        case .nats: TestEnvironment.value("WITCHBOLT_NATS_URL") != nil
        }
    }

    /// A client on a fresh prefix of this backend, or a thrown error naming what is missing.
    func makeClient(prefix: String = TestEnvironment.uniquePrefix()) throws -> any ReplicaClient {
        guard isConfigured else {
            throw StreamError(.invalidConfiguration, "the \(rawValue) test server is not configured: run the tests through scripts/test.sh, which starts it")
        }
        switch self {
        case .file: return try FileTestBackend.makeClient(prefix: prefix)
        case .s3: return try S3TestBackend.makeClient(prefix: prefix)
        case .sftp: return try SFTPTestBackend.makeClient(prefix: prefix)
        case .nats: return try NATSTestBackend.makeClient(prefix: prefix)
        }
    }

    /// The replica URL of a fresh prefix, in the CLI's form.
    func makeURL(prefix: String = TestEnvironment.uniquePrefix()) throws -> String {
        switch self {
        case .file: return try FileTestBackend.makeURL(prefix: prefix)
        case .s3: return try S3TestBackend.makeURL(prefix: prefix)
        case .sftp: return try SFTPTestBackend.makeURL(prefix: prefix)
        case .nats: return try NATSTestBackend.makeURL(prefix: prefix)
        }
    }

    /// The backends whose tests run in this environment.
    static var enabled: [TestBackend] { allCases.filter(\.isEnabled) }
}

enum TestEnvironment {
    static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    static func value(_ name: String) -> String? {
        guard let v = ProcessInfo.processInfo.environment[name], !v.isEmpty else { return nil }
        return v
    }

    static func require(_ name: String) throws -> String {
        guard let v = value(name) else {
            throw StreamError(.invalidConfiguration, "environment variable \(name) is not set (scripts/test-servers.sh exports it)")
        }
        return v
    }

    /// A prefix no other test uses, so tests run in parallel on one server.
    static func uniquePrefix(_ label: String = "t") -> String {
        "\(label)-\(UInt64.random(in: 0...UInt64.max) & 0xFFFF_FFFF_FFFF)"
    }
}
