// The s3 backend under test: the SeaweedFS that scripts/test-servers.sh started, named by
// WITCHBOLT_S3_ENDPOINT, WITCHBOLT_S3_REGION, WITCHBOLT_S3_BUCKET (which exists),
// WITCHBOLT_S3_ACCESS_KEY_ID and WITCHBOLT_S3_SECRET_ACCESS_KEY. Each client gets a fresh prefix.

import WitchboltStream

enum S3TestBackend {
    /// A configuration for `prefix` on the shared test server, with its credentials.
    static func makeConfig(prefix: String) throws -> S3ReplicaConfig {
        var config = S3ReplicaConfig(
            bucket: try TestEnvironment.require("WITCHBOLT_S3_BUCKET"),
            prefix: prefix,
            endpoint: try TestEnvironment.require("WITCHBOLT_S3_ENDPOINT"),
            region: TestEnvironment.value("WITCHBOLT_S3_REGION") ?? "us-east-1")
        config.addressing = .pathStyle
        config.accessKeyID = try TestEnvironment.require("WITCHBOLT_S3_ACCESS_KEY_ID")
        config.secretAccessKey = try TestEnvironment.require("WITCHBOLT_S3_SECRET_ACCESS_KEY")
        return config
    }

    static func makeClient(prefix: String) throws -> any ReplicaClient {
        try makeConfig(prefix: prefix).makeClient()
    }

    /// The CLI's URL form; credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
    /// which scripts/test-servers.sh sets to the same values.
    static func makeURL(prefix: String) throws -> String {
        let bucket = try TestEnvironment.require("WITCHBOLT_S3_BUCKET")
        let endpoint = try TestEnvironment.require("WITCHBOLT_S3_ENDPOINT")
        let region = TestEnvironment.value("WITCHBOLT_S3_REGION") ?? "us-east-1"
        return "s3://\(bucket)/\(prefix)?endpoint=\(endpoint)&region=\(region)&path-style=true"
    }
}
