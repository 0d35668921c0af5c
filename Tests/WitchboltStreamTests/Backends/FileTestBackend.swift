// The file backend under test: a fresh directory under the system's temporary directory.

import Foundation
import WitchboltStream

enum FileTestBackend {
    static func directory(prefix: String) -> String {
        NSTemporaryDirectory() + "witchbolt-file-replica-" + prefix
    }

    static func makeClient(prefix: String) throws -> any ReplicaClient {
        try FileReplicaConfig(path: directory(prefix: prefix)).makeClient()
    }

    static func makeURL(prefix: String) throws -> String {
        "file://" + directory(prefix: prefix)
    }
}
