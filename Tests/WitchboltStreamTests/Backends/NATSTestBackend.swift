// The nats backend under test: the object store bucket `WITCHBOLT_NATS_BUCKET` on the
// nats-server at `WITCHBOLT_NATS_URL` that scripts/test-servers.sh started and provisioned,
// with a fresh prefix per client so tests share the bucket without seeing each other.

import WitchboltStream

enum NATSTestBackend {
    /// The configuration of a client on `prefix` of the shared test bucket.
    static func config(prefix: String) throws -> NATSReplicaConfig {
        NATSReplicaConfig(
            url: try TestEnvironment.require("WITCHBOLT_NATS_URL"),
            bucket: try TestEnvironment.require("WITCHBOLT_NATS_BUCKET"),
            prefix: prefix
        )
    }

    static func makeClient(prefix: String) throws -> any ReplicaClient {
        try config(prefix: prefix).makeClient()
    }

    static func makeURL(prefix: String) throws -> String {
        let url = try TestEnvironment.require("WITCHBOLT_NATS_URL")
        let bucket = try TestEnvironment.require("WITCHBOLT_NATS_BUCKET")
        return "\(url)/\(bucket)/\(prefix)"
    }
}
