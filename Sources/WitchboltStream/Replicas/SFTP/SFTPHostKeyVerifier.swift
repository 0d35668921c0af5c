// Licensed under the Apache License, Version 2.0.
//
// Host-key verification, done on every new connection right after the handshake and before a
// credential is sent. The server's key must be known: listed for this host in an OpenSSH
// known_hosts file (libssh2's knownhost API reads it: plain names, `[host]:port` entries, hashed
// `|1|` entries, comma-separated names), or equal to a pinned SHA-256 fingerprint. An unknown,
// changed or revoked key fails with `.hostKeyMismatch`, whose message prints the key type and
// fingerprint the server presented, so an operator can compare it with `ssh-keygen -l`.
// The insecure policy skips the check and says so in the log on every connection.

import Foundation
import Logging

enum SFTPHostKeyVerifier {
    /// Checks the host key of a freshly handshaken connection against the policy.
    static func verify(_ connection: SSH2Connection, config: SFTPReplicaConfig, logger: Logger) throws {
        let key = connection.hostKey()
        let seen = connection.hostKeyFingerprint()
        let place = config.description
        switch config.hostKeyPolicy {
        case .insecureAcceptAnyHostKey:
            // The explicit opt-out: allowed, but never silent.
            logger.warning("host key verification is OFF for \(place) (insecure): accepted \(key.name) \(seen) without checking it")

        case .fingerprint(let pinned):
            // A pin compares the canonical forms, so padding or not in the configuration does not matter.
            let expected = SFTPFingerprint.normalize(pinned) ?? pinned
            if expected != seen {
                throw StreamError(.hostKeyMismatch,
                                  "\(place): the server presented host key \(key.name) \(seen), which does not match the pinned fingerprint \(expected); nothing was sent or written",
                                  isTransient: false)
            }

        case .knownHosts(let rawPath):
            // Read the file ourselves so that one line libssh2 cannot parse does not hide the others.
            let path = SFTPReplicaConfig.expandTilde(rawPath)
            guard let file = FileHandle(forReadingAtPath: path) else {
                throw StreamError(.hostKeyMismatch,
                                  "\(place): cannot verify host key \(key.name) \(seen): the known_hosts file \(rawPath) is missing or unreadable; nothing was sent or written",
                                  isTransient: false)
            }
            let text = String(decoding: (try? file.readToEnd()) ?? Data(), as: UTF8.self)
            try? file.close()
            var entries: [String] = []
            var revoked: [[UInt8]] = []
            for rawLine in text.split(whereSeparator: \.isNewline) {
                let line = rawLine.trimmingCharacters(in: .whitespaces)
                if line.isEmpty || line.hasPrefix("#") { continue }
                if line.hasPrefix("@revoked") {
                    if let blob = revokedKey(line) { revoked.append(blob) }
                    continue
                }
                entries.append(line)
            }

            // A revoked key is refused whatever else the file says.
            if revoked.contains(key.blob) {
                throw StreamError(.hostKeyMismatch,
                                  "\(place): the server presented host key \(key.name) \(seen), which known_hosts file \(rawPath) marks as revoked; nothing was sent or written",
                                  isTransient: false)
            }
            let (verdict, skipped) = connection.checkKnownHosts(lines: entries, host: config.host, port: config.port)
            if skipped > 0 {
                logger.debug("skipped \(skipped) known_hosts line(s) of \(rawPath) that libssh2 cannot parse")
            }
            let hostName = config.port == 22 ? config.host : "[\(config.host)]:\(config.port)"
            switch verdict {
            case .match:
                break
            case .mismatch:
                throw StreamError(.hostKeyMismatch,
                                  "\(place): HOST KEY CHANGED: the server presented \(key.name) \(seen), but known_hosts file \(rawPath) lists a different key for \(hostName); nothing was sent or written",
                                  isTransient: false)
            case .notFound:
                throw StreamError(.hostKeyMismatch,
                                  "\(place): unknown host key: the server presented \(key.name) \(seen), and known_hosts file \(rawPath) has no \(key.name) key for \(hostName) (check the fingerprint, then add the key, e.g. with ssh-keyscan); nothing was sent or written",
                                  isTransient: false)
            }
        }
    }

    /// The key blob of an `@revoked HOSTS TYPE BASE64` line.
    private static func revokedKey(_ line: String) -> [UInt8]? {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard fields.count >= 4, let blob = Data(base64Encoded: String(fields[3])) else { return nil }
        return Array(blob)
    }
}
