// Licensed under the Apache License, Version 2.0.
//
// The replica URL of a NATS replica, as the CLI and restore take it:
//
//     nats://HOST:PORT[,HOST:PORT...]/BUCKET[/PREFIX][?OPTION=VALUE&...]
//     tls://HOST:PORT/BUCKET/PREFIX?tls-ca=/etc/ca.pem
//
// Options: `creds=FILE`, `nkey=SEEDFILE`, `token=TOKEN`, `user=NAME` (its password comes from
// the environment variable WITCHBOLT_NATS_PASSWORD, never from the URL), `tls-ca=FILE`
// (repeatable), `tls-cert=FILE`, `tls-key=FILE`, `chunk-size=BYTES`. Values are
// percent-decoded. Credentials in the authority (`user:pass@host`) are refused, so a
// password never sits in a URL that ends up in logs or shell history.

import Foundation

extension NATSReplicaConfig {
    /// The environment variable holding the password of a URL's `user=`.
    public static let passwordEnvironmentVariable = "WITCHBOLT_NATS_PASSWORD"

    /// Parses a replica URL: `nats://HOST:PORT/BUCKET/PREFIX?creds=/path`.
    ///
    /// - Throws: `StreamError` `.invalidConfiguration` naming what is wrong.
    public init(url replicaURL: String) throws {
        func invalid(_ message: String) -> StreamError {
            StreamError(.invalidConfiguration, "nats replica URL: \(message) (expected nats://HOST:PORT/BUCKET/PREFIX?creds=FILE)")
        }

        // Scheme, then the server list up to the first '/', then the path and the query.
        guard let schemeEnd = replicaURL.range(of: "://") else { throw invalid("no scheme") }
        let scheme = replicaURL[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "nats" || scheme == "tls" else { throw invalid("scheme \(scheme) is not nats or tls") }
        var rest = Substring(replicaURL[schemeEnd.upperBound...])
        var query = Substring("")
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        let authority = rest.prefix { $0 != "/" }
        let path = rest.dropFirst(authority.count).drop { $0 == "/" }
        guard !authority.contains("@") else {
            throw invalid("credentials in the host part are not accepted; use creds=, nkey=, token= or user= with \(Self.passwordEnvironmentVariable)")
        }
        let hosts = authority.split(separator: ",").map(String.init)
        guard !hosts.isEmpty, hosts.allSatisfy({ !$0.isEmpty && !$0.hasPrefix(":") }) else { throw invalid("no host") }

        // The first path segment is the bucket, the rest the prefix.
        let segments = path.split(separator: "/", omittingEmptySubsequences: true).map { $0.removingPercentEncoding ?? String($0) }
        guard let bucket = segments.first else { throw invalid("no bucket") }
        self.init(
            url: hosts.map { "\(scheme)://\($0)" }.joined(separator: ","),
            bucket: bucket,
            prefix: segments.dropFirst().joined(separator: "/")
        )
        try applyQuery(query, invalid)
    }

    private mutating func applyQuery(_ query: Substring, _ invalid: (String) -> StreamError) throws {
        for item in query.split(separator: "&") where !item.isEmpty {
            let parts = item.split(separator: "=", maxSplits: 1)
            let name = String(parts[0])
            guard parts.count == 2, let value = String(parts[1]).removingPercentEncoding, !value.isEmpty else {
                throw invalid("option \(name) needs a value")
            }
            switch name {
            case "creds": credentialsFile = value
            case "nkey": nkeySeedFile = value
            case "token": token = value
            case "user":
                user = value
                guard let password = ProcessInfo.processInfo.environment[Self.passwordEnvironmentVariable] else {
                    throw invalid("user=\(value) needs its password in the environment variable \(Self.passwordEnvironmentVariable)")
                }
                self.password = password
            case "tls-ca": tlsRootCAFiles.append(value)
            case "tls-cert": tlsCertificateFile = value
            case "tls-key": tlsKeyFile = value
            case "chunk-size":
                guard let size = Int(value), size > 0 else { throw invalid("chunk-size \(value) is not a positive number of bytes") }
                chunkSize = size
            default:
                throw invalid("unknown option \(name); known: creds, nkey, token, user, tls-ca, tls-cert, tls-key, chunk-size")
            }
        }
    }
}
