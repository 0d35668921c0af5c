// The sftp backend under test: OpenSSH's sshd on loopback, started by scripts/test-servers.sh
// (or by hand, as environment.md §5 shows), reached with the key and known_hosts file it
// exports. Each client gets a fresh directory under `$WITCHBOLT_SFTP_ROOT`.

import Foundation
import WitchboltStream

enum SFTPTestBackend {
    /// The configuration of a replica at `$WITCHBOLT_SFTP_ROOT/<prefix>` with host-key checking on.
    static func makeConfig(prefix: String) throws -> SFTPReplicaConfig {
        let host = try TestEnvironment.require("WITCHBOLT_SFTP_HOST")
        let portText = try TestEnvironment.require("WITCHBOLT_SFTP_PORT")
        guard let port = Int(portText) else {
            throw StreamError(.invalidConfiguration, "WITCHBOLT_SFTP_PORT is not a number: \(portText)")
        }
        let root = try TestEnvironment.require("WITCHBOLT_SFTP_ROOT")
        var config = SFTPReplicaConfig(
            host: host, port: port,
            user: try TestEnvironment.require("WITCHBOLT_SFTP_USER"),
            keyPath: try TestEnvironment.require("WITCHBOLT_SFTP_KEY"),
            path: root + "/" + prefix,
            hostKeyPolicy: .knownHosts(path: try TestEnvironment.require("WITCHBOLT_SFTP_KNOWN_HOSTS")))
        config.timeout = .seconds(20)
        config.initialBackoff = .milliseconds(50)
        return config
    }

    static func makeClient(prefix: String) throws -> any ReplicaClient {
        try SFTPReplicaClient(config: makeConfig(prefix: prefix))
    }

    static func makeURL(prefix: String) throws -> String {
        let host = try TestEnvironment.require("WITCHBOLT_SFTP_HOST")
        let port = try TestEnvironment.require("WITCHBOLT_SFTP_PORT")
        let user = try TestEnvironment.require("WITCHBOLT_SFTP_USER")
        let root = try TestEnvironment.require("WITCHBOLT_SFTP_ROOT")
        let key = try TestEnvironment.require("WITCHBOLT_SFTP_KEY")
        let knownHosts = try TestEnvironment.require("WITCHBOLT_SFTP_KNOWN_HOSTS")
        var components = URLComponents()
        components.scheme = "sftp"
        components.user = user
        components.host = host
        components.port = Int(port)
        components.path = root + "/" + prefix
        components.queryItems = [URLQueryItem(name: "key", value: key), URLQueryItem(name: "known-hosts", value: knownHosts)]
        guard let url = components.string else {
            throw StreamError(.invalidConfiguration, "cannot build an sftp URL for \(root)/\(prefix)")
        }
        return url
    }
}
