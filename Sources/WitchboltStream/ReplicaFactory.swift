// Licensed under the Apache License, Version 2.0.
//
// Replica URLs, as the CLI and configuration files write them, turned into replica
// configurations: `file:///dir` and plain paths, `s3://`, `sftp://` and `nats://`, each
// parsed by its backend's configuration. An unknown scheme is a clear error, never a guess.

/// Builds replica configurations from URLs.
public enum ReplicaFactory {
    /// The configuration of the replica at `url`: `file:///abs/dir`, `file://localhost/abs/dir`,
    /// or a plain (absolute or relative) path.
    public static func config(url: String) throws -> any ReplicaConfig {
        guard !url.isEmpty else {
            throw StreamError(.invalidConfiguration, "empty replica URL")
        }
        guard let schemeEnd = schemeSeparator(in: url) else {
            // No scheme: a plain path. A "scheme:" without slashes is a mistake, not a path.
            if let colon = url.firstIndex(of: ":"), !url[..<colon].contains("/"),
               url[..<colon].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == "." }) {
                throw StreamError(.invalidConfiguration, "replica URL \"\(url)\": expected SCHEME://..., e.g. file:///var/backups/db")
            }
            return FileReplicaConfig(path: url)
        }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        let rest = url[schemeEnd.upperBound...]
        switch scheme {
        case "file":
            var path = String(rest)
            if path.hasPrefix("localhost/") { path = String(path.dropFirst("localhost".count)) }
            guard path.hasPrefix("/") else {
                throw StreamError(.invalidConfiguration, "replica URL \"\(url)\": a file URL needs an absolute path (file:///dir)")
            }
            if let query = path.firstIndex(where: { $0 == "?" || $0 == "#" }) {
                path = String(path[..<query])
            }
            return FileReplicaConfig(path: percentDecoded(path))
        case "s3":
            return try S3ReplicaConfig(url: url)
        case "sftp":
            return try SFTPReplicaConfig(url: url)
        case "nats", "tls":
            return try NATSReplicaConfig(url: url)
        default:
            throw StreamError(.invalidConfiguration, "replica URL \"\(redacted(url))\": unknown scheme \"\(scheme)\" (supported: file, s3, sftp, nats)")
        }
    }

    /// `url` with any `user:password@` removed, for messages.
    static func redacted(_ url: String) -> String {
        guard let schemeEnd = schemeSeparator(in: url), let at = url[schemeEnd.upperBound...].firstIndex(of: "@") else { return url }
        let slash = url[schemeEnd.upperBound...].firstIndex(of: "/") ?? url.endIndex
        guard at < slash else { return url }
        return String(url[..<schemeEnd.upperBound]) + "***@" + String(url[url.index(after: at)...])
    }

    /// The range of the first `://` in `url`.
    static func schemeSeparator(in url: String) -> Range<String.Index>? {
        var index = url.startIndex
        while index < url.endIndex {
            if url[index...].hasPrefix("://") {
                return index..<url.index(index, offsetBy: 3)
            }
            index = url.index(after: index)
        }
        return nil
    }

    /// Decodes `%XX` escapes (invalid escapes are kept as written).
    static func percentDecoded(_ s: String) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(s.utf8)[...]
        while let b = utf8.first {
            if b == UInt8(ascii: "%"), utf8.count >= 3,
               let v = UInt8(String(decoding: utf8.dropFirst().prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(v)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(b)
                utf8 = utf8.dropFirst()
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
