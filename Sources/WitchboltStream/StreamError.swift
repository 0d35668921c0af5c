// Licensed under the Apache License, Version 2.0.
//
// One error type for replication, shaped like `WitchboltError`: a stable code, a message
// that names what is wrong (the replica, the object key, the file), and the underlying
// library's words. Credentials never appear in a message.

/// An error thrown by Witchbolt Stream: replication, replica clients and restore.
public struct StreamError: Error, Sendable, CustomStringConvertible, Equatable {
    /// A stable classification of stream errors.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let raw: String
        init(_ raw: String) { self.raw = raw }
        public var description: String { raw }

        /// The object or path does not exist on the replica.
        public static let notFound = Code("not found")
        /// The replica could not be reached or answered with a transient failure; retrying may help.
        public static let unavailable = Code("replica unavailable")
        /// The replica refused our credentials or denied access; retrying will not help.
        public static let accessDenied = Code("access denied")
        /// The configuration or a replica URL is invalid.
        public static let invalidConfiguration = Code("invalid configuration")
        /// An artefact's checksum, header, version or continuity is wrong.
        public static let corruptArtefact = Code("corrupt artefact")
        /// The replica holds no generation (nothing to restore).
        public static let noGeneration = Code("no generation")
        /// No snapshot covers the requested point.
        public static let noSnapshot = Code("no snapshot")
        /// The restored image's whole-database checksum differs from the recorded one.
        public static let checksumMismatch = Code("checksum mismatch")
        /// A host key did not match the pinned or known one.
        public static let hostKeyMismatch = Code("host key mismatch")
        /// A local file operation failed.
        public static let io = Code("i/o error")
        /// The target database already exists.
        public static let databaseExists = Code("database exists")
        /// Any other failure reported by a replica's server or library.
        public static let replicaError = Code("replica error")

        /// Enables `catch StreamError.Code.notFound { ... }`.
        public static func ~= (code: Code, error: any Error) -> Bool {
            (error as? StreamError)?.code == code
        }
    }

    /// What kind of error this is.
    public var code: Code
    /// What happened, naming the replica, object or file concerned.
    public var message: String
    /// Whether retrying the same operation may succeed (network errors, 5xx, throttling).
    public var isTransient: Bool

    /// Creates an error.
    public init(_ code: Code, _ message: String, isTransient: Bool? = nil) {
        self.code = code
        self.message = message
        self.isTransient = isTransient ?? (code == .unavailable)
    }

    public var description: String { "\(code.raw): \(message)" }
}
