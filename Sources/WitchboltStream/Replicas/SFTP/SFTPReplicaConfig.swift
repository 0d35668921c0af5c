// Licensed under the Apache License, Version 2.0.
//
// The configuration of an SFTP replica: where the server is, who we are (a private key or a
// password), how the server proves who it is (a known_hosts file or a pinned SHA-256
// fingerprint; checking is on by default), and where on the server the replica lives.
// It is built in code or parsed from a replica URL (`SFTPReplicaConfig+URL.swift`).

import Foundation

/// How the client authenticates to the SSH server.
public enum SFTPAuthentication: Sendable, Equatable {
    /// A private key file (ed25519, ECDSA; RSA where the server accepts `ssh-rsa` signatures),
    /// with its passphrase when it has one.
    case privateKey(path: String, passphrase: String?)
    /// A password (keyboard-interactive is not used).
    case password(String)
}

/// How the client checks the server's host key before it authenticates.
public enum SFTPHostKeyPolicy: Sendable, Equatable {
    /// The key must be listed for this host (plain, `[host]:port` or hashed entries) in an
    /// OpenSSH known_hosts file; an unknown or different key is refused.
    case knownHosts(path: String)
    /// The key's SHA-256 fingerprint must equal this one, written as `ssh-keygen -l` prints it
    /// (`SHA256:` and base64).
    case fingerprint(String)
    /// No check at all. Insecure: every connection logs a warning.
    case insecureAcceptAnyHostKey
}

/// The configuration of a replica on an SFTP server.
///
/// For example:
/// ```swift
/// let config = SFTPReplicaConfig(host: "backup.example.com", user: "replicator",
///                                keyPath: "/etc/witchbolt/sftp_key", path: "backups/db")
/// ```
/// A relative `path` is relative to the user's home directory on the server.
public struct SFTPReplicaConfig: ReplicaConfig, Equatable {
    /// The server's host name or address.
    public var host: String
    /// The server's SSH port.
    public var port: Int
    /// The user to log in as.
    public var user: String
    /// How to authenticate.
    public var authentication: SFTPAuthentication
    /// How to check the server's host key; a known_hosts file (`~/.ssh/known_hosts`) by default.
    public var hostKeyPolicy: SFTPHostKeyPolicy
    /// The replica's root directory on the server (absolute, or relative to the home directory).
    public var path: String
    /// Connections the client keeps open at most (concurrent operations beyond it wait).
    public var maxConnections: Int
    /// The bound on connecting and on every blocking call.
    public var timeout: Duration
    /// How often an idle session sends an SSH keepalive (0 turns them off).
    public var keepaliveInterval: Duration
    /// Attempts per operation on transient failures (reconnecting between them), at least 1.
    public var maxAttempts: Int
    /// The first backoff between attempts; it doubles up to `maxBackoff`.
    public var initialBackoff: Duration
    /// The longest backoff between attempts.
    public var maxBackoff: Duration

    /// The private key path, when the authentication is by key (the seed's `KeyPath`).
    public var keyPath: String? {
        if case .privateKey(let path, _) = authentication { return path }
        return nil
    }

    /// Creates a configuration with key authentication and known_hosts checking.
    public init(host: String, port: Int = 22, user: String, keyPath: String, keyPassphrase: String? = nil,
                path: String, hostKeyPolicy: SFTPHostKeyPolicy = .knownHosts(path: "~/.ssh/known_hosts")) {
        self.init(host: host, port: port, user: user, authentication: .privateKey(path: keyPath, passphrase: keyPassphrase),
                  path: path, hostKeyPolicy: hostKeyPolicy)
    }

    /// Creates a configuration with any authentication.
    public init(host: String, port: Int = 22, user: String, authentication: SFTPAuthentication, path: String,
                hostKeyPolicy: SFTPHostKeyPolicy = .knownHosts(path: "~/.ssh/known_hosts")) {
        self.host = host
        self.port = port
        self.user = user
        self.authentication = authentication
        self.hostKeyPolicy = hostKeyPolicy
        self.path = path
        self.maxConnections = 4
        self.timeout = .seconds(30)
        self.keepaliveInterval = .seconds(15)
        self.maxAttempts = 5
        self.initialBackoff = .milliseconds(200)
        self.maxBackoff = .seconds(5)
    }

    /// `sftp://user@host:port/path`, without credentials.
    public var description: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        let pathPart = path.hasPrefix("/") ? path : "/~/" + path
        return "sftp://\(user)@\(hostPart):\(port)\(pathPart)"
    }

    /// Checks the configuration and builds a client (it connects on first use).
    public func makeClient() throws -> any ReplicaClient {
        try SFTPReplicaClient(config: self)
    }

    /// Throws `.invalidConfiguration` naming the first field that cannot work.
    public func validate() throws {
        func invalid(_ what: String) -> StreamError { StreamError(.invalidConfiguration, "\(description): \(what)") }
        if host.isEmpty { throw invalid("the host is empty") }
        if !(1...65535).contains(port) { throw invalid("the port \(port) is out of range") }
        if user.isEmpty { throw invalid("the user is empty") }
        if maxConnections < 1 { throw invalid("maxConnections must be at least 1") }
        if maxAttempts < 1 { throw invalid("maxAttempts must be at least 1") }
        if timeout <= .zero { throw invalid("the timeout must be positive") }
        switch authentication {
        case .privateKey(let path, _):
            if path.isEmpty { throw invalid("the private key path is empty") }
            if !FileManager.default.isReadableFile(atPath: Self.expandTilde(path)) {
                throw invalid("the private key \(path) is missing or unreadable")
            }
        case .password(let password):
            if password.isEmpty { throw invalid("the password is empty") }
        }
        switch hostKeyPolicy {
        case .knownHosts(let path):
            if path.isEmpty { throw invalid("the known_hosts path is empty") }
        case .fingerprint(let fingerprint):
            if SFTPFingerprint.normalize(fingerprint) == nil {
                throw invalid("the fingerprint \(fingerprint) is not a SHA-256 fingerprint (SHA256: and 43 base64 characters, as ssh-keygen -l prints it)")
            }
        case .insecureAcceptAnyHostKey:
            break
        }
    }

    /// Replaces a leading `~/` with the local home directory.
    static func expandTilde(_ path: String) -> String {
        guard path == "~" || path.hasPrefix("~/") else { return path }
        return NSHomeDirectory() + path.dropFirst()
    }
}

/// SHA-256 host key fingerprints in OpenSSH's notation.
enum SFTPFingerprint {
    /// `SHA256:` followed by the unpadded base64 of the digest.
    static func format(sha256 digest: [UInt8]) -> String {
        var base64 = Data(digest).base64EncodedString()
        while base64.hasSuffix("=") { base64.removeLast() }
        return "SHA256:" + base64
    }

    /// The canonical form of a fingerprint written by a person (padding tolerated), or nil if it is not one.
    static func normalize(_ text: String) -> String? {
        guard text.hasPrefix("SHA256:") else { return nil }
        var base64 = String(text.dropFirst("SHA256:".count))
        while base64.hasSuffix("=") { base64.removeLast() }
        var padded = base64
        while padded.count % 4 != 0 { padded += "=" }
        guard let digest = Data(base64Encoded: padded), digest.count == 32 else { return nil }
        return format(sha256: Array(digest))
    }
}
