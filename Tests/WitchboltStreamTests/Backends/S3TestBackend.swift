// The s3 backend under test. (Placeholder until the s3 replica lands: it reports the backend
// as missing, which under CI=true is a failure.)

import WitchboltStream

enum S3TestBackend {
    static func makeClient(prefix: String) throws -> any ReplicaClient {
        throw StreamError(.invalidConfiguration, "the s3 replica is not built yet")
    }

    static func makeURL(prefix: String) throws -> String {
        throw StreamError(.invalidConfiguration, "the s3 replica is not built yet")
    }
}
