// The nats backend under test. (Placeholder until the nats replica lands: it reports the backend
// as missing, which under CI=true is a failure.)

import WitchboltStream

enum NATSTestBackend {
    static func makeClient(prefix: String) throws -> any ReplicaClient {
        throw StreamError(.invalidConfiguration, "the nats replica is not built yet")
    }

    static func makeURL(prefix: String) throws -> String {
        throw StreamError(.invalidConfiguration, "the nats replica is not built yet")
    }
}
