// Licensed under the Apache License, Version 2.0.
//
// The replica URL of an SFTP replica, as the CLI and configuration files write it:
//
//     sftp://USER@HOST[:PORT]/ABSOLUTE/PATH?key=/path/to/key&known-hosts=/path/to/known_hosts
//     sftp://USER@HOST/~/PATH/IN/HOME?key=...&fingerprint=SHA256:...
//     sftp://USER@HOST/PATH?insecure=true            (password from WITCHBOLT_SFTP_PASSWORD)
//
// Secrets never travel in the URL: a password comes from `WITCHBOLT_SFTP_PASSWORD` and a key
// passphrase from `WITCHBOLT_SFTP_KEY_PASSPHRASE`. A URL with `user:password@` is refused.

import Foundation

extension SFTPReplicaConfig {
    /// The environment variable holding the password for password authentication.
    public static let passwordEnvironmentVariable = "WITCHBOLT_SFTP_PASSWORD"
    /// The environment variable holding the passphrase of an encrypted private key.
    public static let passphraseEnvironmentVariable = "WITCHBOLT_SFTP_KEY_PASSPHRASE"

    /// Parses a replica URL; secrets come from the process environment.
    ///
    /// Query parameters: `key` (private key path), `known-hosts` (known_hosts path, the default
    /// being `~/.ssh/known_hosts`), `fingerprint` (`SHA256:...`), `insecure=true` (no host key
    /// check, logged as a warning on every connection), `connections` (pool size).
    /// Throws `.invalidConfiguration` naming what is wrong.
    public init(url: String) throws {
        try self.init(url: url, environment: ProcessInfo.processInfo.environment)
    }

    /// Parses a replica URL with secrets taken from `environment`.
    public init(url: String, environment: [String: String]) throws {
        func invalid(_ what: String) -> StreamError {
            StreamError(.invalidConfiguration, "sftp replica URL \(Self.redacted(url)): \(what)")
        }
        guard let components = URLComponents(string: url) else { throw invalid("not a URL") }
        guard components.scheme?.lowercased() == "sftp" else { throw invalid("the scheme must be sftp://") }
        guard let host = components.host, !host.isEmpty else { throw invalid("the host is missing") }
        guard let user = components.user, !user.isEmpty else { throw invalid("the user is missing (sftp://USER@HOST/PATH)") }
        if components.password != nil {
            throw invalid("a password in the URL is refused; set \(Self.passwordEnvironmentVariable) instead")
        }
        let port = components.port ?? 22
        guard (1...65535).contains(port) else { throw invalid("the port \(port) is out of range") }

        // The path: `/~/x` is relative to the home directory, anything else absolute.
        var path = components.path
        if path == "/~" || path.hasPrefix("/~/") {
            path = String(path.dropFirst(path == "/~" ? 2 : 3))
        }
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        if path.isEmpty || path == "/" { throw invalid("the path is missing (sftp://USER@HOST/PATH)") }

        // Query parameters: each at most once, no unknown ones.
        var parameters: [String: String] = [:]
        for item in components.queryItems ?? [] {
            guard ["key", "known-hosts", "fingerprint", "insecure", "connections"].contains(item.name) else {
                throw invalid("unknown parameter \(item.name) (known: key, known-hosts, fingerprint, insecure, connections)")
            }
            guard parameters[item.name] == nil else { throw invalid("parameter \(item.name) given twice") }
            guard let value = item.value, !value.isEmpty else { throw invalid("parameter \(item.name) has no value") }
            parameters[item.name] = value
        }

        // The host key policy: known_hosts by default, a pin, or explicitly none.
        var insecure = false
        if let value = parameters["insecure"] {
            switch value.lowercased() {
            case "true", "1", "yes": insecure = true
            case "false", "0", "no": insecure = false
            default: throw invalid("insecure must be true or false, not \(value)")
            }
        }
        let chosen = [parameters["known-hosts"] != nil, parameters["fingerprint"] != nil, insecure].filter { $0 }.count
        if chosen > 1 { throw invalid("give only one of known-hosts, fingerprint and insecure=true") }
        let policy: SFTPHostKeyPolicy
        if insecure {
            policy = .insecureAcceptAnyHostKey
        } else if let fingerprint = parameters["fingerprint"] {
            guard let normalized = SFTPFingerprint.normalize(fingerprint) else {
                throw invalid("fingerprint must be SHA256: and 43 base64 characters, as ssh-keygen -l prints it")
            }
            policy = .fingerprint(normalized)
        } else {
            policy = .knownHosts(path: parameters["known-hosts"] ?? "~/.ssh/known_hosts")
        }

        // Authentication: the key when given, otherwise the password from the environment.
        let authentication: SFTPAuthentication
        if let key = parameters["key"] {
            let passphrase = environment[Self.passphraseEnvironmentVariable].flatMap { $0.isEmpty ? nil : $0 }
            authentication = .privateKey(path: key, passphrase: passphrase)
        } else if let password = environment[Self.passwordEnvironmentVariable], !password.isEmpty {
            authentication = .password(password)
        } else {
            throw invalid("no key= parameter and no \(Self.passwordEnvironmentVariable) in the environment")
        }

        self.init(host: host, port: port, user: user, authentication: authentication, path: path, hostKeyPolicy: policy)
        if let connections = parameters["connections"] {
            guard let n = Int(connections), (1...64).contains(n) else { throw invalid("connections must be 1...64") }
            maxConnections = n
        }
        try validate()
    }

    /// The URL with any `user:password@` part masked, for error messages.
    private static func redacted(_ url: String) -> String {
        guard let at = url.firstIndex(of: "@"), let schemeEnd = url.range(of: "://")?.upperBound, schemeEnd < at else { return url }
        let userInfo = url[schemeEnd..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return url }
        return String(url[..<colon]) + ":***" + String(url[at...])
    }
}
