// The sftp backend under test. (Placeholder until the sftp replica lands: it reports the backend
// as missing, which under CI=true is a failure.)

import WitchboltStream

enum SFTPTestBackend {
    static func makeClient(prefix: String) throws -> any ReplicaClient {
        throw StreamError(.invalidConfiguration, "the sftp replica is not built yet")
    }

    static func makeURL(prefix: String) throws -> String {
        throw StreamError(.invalidConfiguration, "the sftp replica is not built yet")
    }
}
