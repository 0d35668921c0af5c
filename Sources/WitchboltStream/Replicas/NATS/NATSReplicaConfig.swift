// Licensed under the Apache License, Version 2.0. After witchbolt's NATSReplicaConfig.
//
// The configuration of a NATS replica: where the servers are, which object store bucket and
// prefix, how to authenticate (credentials file, NKey seed file, user/password or token) and
// TLS. Built in code or parsed from a replica URL
// (`nats://HOST:PORT/BUCKET/PREFIX?creds=/path`, see `init(url:)`).
// The bucket is provisioned beforehand; this replica never creates or changes it.

import Foundation

/// The configuration of a replica in a NATS JetStream object store bucket.
///
/// For example:
///
/// ```swift
/// var config = NATSReplicaConfig(url: "nats://nats.example.com:4222", bucket: "backups", prefix: "cluster-a/db")
/// config.credentialsFile = "/etc/witchbolt/nats.creds"
/// let client = try config.makeClient()
/// ```
public struct NATSReplicaConfig: ReplicaConfig, Equatable {
    /// The server URL(s), comma separated, e.g. `nats://127.0.0.1:4222` or `tls://a:4222,tls://b:4222`.
    public var url: String
    /// The object store bucket; its stream `OBJ_<bucket>` must exist.
    public var bucket: String
    /// The prefix of every object name (`PREFIX/KEY`); empty for none.
    public var prefix: String
    /// A user credentials file (JWT and NKey seed), as `nats` CLI contexts use.
    public var credentialsFile: String?
    /// A file holding a user NKey seed (`SU...`).
    public var nkeySeedFile: String?
    /// A user name; used with `password`.
    public var user: String?
    /// The password of `user`.
    public var password: String?
    /// An authentication token.
    public var token: String?
    /// PEM files of the certificate authorities to trust; setting any turns TLS on.
    public var tlsRootCAFiles: [String]
    /// A client certificate (PEM) for mutual TLS; needs `tlsKeyFile`.
    public var tlsCertificateFile: String?
    /// The client certificate's private key (PEM).
    public var tlsKeyFile: String?
    /// The largest chunk a put publishes; 128 KiB, as every object store client.
    public var chunkSize: Int
    /// How long one request (publish, get, purge, next chunk) may take.
    public var requestTimeout: Duration
    /// How long an operation keeps retrying transient failures before it throws `.unavailable`.
    public var retryTimeout: Duration

    /// The default chunk size of the object store protocol.
    public static let defaultChunkSize = 128 * 1024

    /// Creates a configuration.
    public init(url: String = "nats://127.0.0.1:4222", bucket: String, prefix: String = "") {
        self.url = url
        self.bucket = bucket
        self.prefix = prefix
        self.tlsRootCAFiles = []
        self.chunkSize = Self.defaultChunkSize
        self.requestTimeout = .seconds(5)
        self.retryTimeout = .seconds(30)
    }

    /// A credential-free description: `nats://HOST:PORT/BUCKET/PREFIX` (or `tls://...`).
    public var description: String {
        let scheme = serverURLs.first?.hasPrefix("tls://") == true ? "tls" : "nats"
        let servers = serverURLs.map { $0.components(separatedBy: "://").last ?? $0 }.joined(separator: ",")
        return "\(scheme)://\(servers)/\(bucket)" + (prefix.isEmpty ? "" : "/\(prefix)")
    }

    /// Builds a ``NATSReplicaClient``; it connects on first use.
    public func makeClient() throws -> any ReplicaClient {
        try NATSReplicaClient(config: self)
    }

    /// The servers as libnats takes them.
    var serverURLs: [String] {
        url.split(separator: ",").map { part in
            let server = part.trimmingCharacters(in: .whitespaces)
            return server.contains("://") ? server : "nats://" + server
        }
    }

    /// Throws `.invalidConfiguration` naming the first problem.
    func validate() throws {
        func invalid(_ message: String) -> StreamError {
            StreamError(.invalidConfiguration, "nats replica \(description): \(message)")
        }
        guard NATSObjectStoreLayout.isValidBucketName(bucket) else {
            throw invalid("bucket name \"\(bucket)\" is invalid: use letters, digits, '-' and '_'")
        }
        guard !serverURLs.isEmpty, serverURLs.allSatisfy({ $0.hasPrefix("nats://") || $0.hasPrefix("tls://") }) else {
            throw invalid("server URLs must be nats://HOST:PORT or tls://HOST:PORT")
        }
        guard chunkSize > 0, chunkSize <= 8 << 20 else {
            throw invalid("chunk size \(chunkSize) must be between 1 byte and 8 MiB")
        }
        guard (tlsCertificateFile == nil) == (tlsKeyFile == nil) else {
            throw invalid("a TLS client certificate needs its key, and the other way round")
        }
        guard password == nil || user != nil else {
            throw invalid("a password needs a user")
        }
        let authentications = [credentialsFile != nil, nkeySeedFile != nil, user != nil, token != nil].filter { $0 }.count
        guard authentications <= 1 else {
            throw invalid("give one of credentials file, NKey seed file, user/password or token")
        }
        for file in [credentialsFile, nkeySeedFile, tlsCertificateFile, tlsKeyFile].compactMap({ $0 }) + tlsRootCAFiles {
            guard FileManager.default.isReadableFile(atPath: file) else { throw invalid("cannot read \(file)") }
        }
    }

    /// The connection settings libnats takes, with the NKey's public key derived from its seed.
    func connectionSettings() throws -> NATSConnectionSettings {
        var settings = NATSConnectionSettings(servers: serverURLs)
        settings.user = user
        settings.password = password
        settings.token = token
        settings.credentialsFile = credentialsFile
        if let nkeySeedFile {
            settings.nkeySeedFile = nkeySeedFile
            settings.nkeyPublicKey = try NATSNKey.publicKey(seedFile: nkeySeedFile)
        }
        if !tlsRootCAFiles.isEmpty {
            settings.tlsRootCAPEM = try tlsRootCAFiles.map { file in
                do { return try String(contentsOfFile: file, encoding: .utf8) } catch {
                    throw StreamError(.invalidConfiguration, "nats replica \(description): cannot read \(file): \(error)")
                }
            }.joined(separator: "\n")
        }
        settings.tlsCertificateFile = tlsCertificateFile
        settings.tlsKeyFile = tlsKeyFile
        settings.requiresTLS = serverURLs.contains { $0.hasPrefix("tls://") }
        settings.requestTimeoutMilliseconds = Self.milliseconds(requestTimeout)
        settings.connectTimeoutMilliseconds = Self.milliseconds(requestTimeout)
        return settings
    }

    /// A duration in whole milliseconds, as libnats takes timeouts.
    static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }
}
