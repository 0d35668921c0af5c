// The file backend under test: a fresh directory under the system's temporary directory.
// (Placeholder until the file replica lands.)

import Foundation
import WitchboltStream

enum FileTestBackend {
    static func directory(prefix: String) -> String {
        NSTemporaryDirectory() + "witchbolt-file-replica-" + prefix
    }

    static func makeClient(prefix: String) throws -> any ReplicaClient {
        throw StreamError(.invalidConfiguration, "the file replica is not built yet")
    }

    static func makeURL(prefix: String) throws -> String {
        "file://" + directory(prefix: prefix)
    }
}
