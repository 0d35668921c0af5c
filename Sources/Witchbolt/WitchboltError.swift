// Licensed under the Apache License, Version 2.0. Port of bbolt's errors/errors.go.
//
// One error type for the engine, with one code per bbolt sentinel error (so a differential
// test can assert "Go returned ErrBucketExists <=> Swift threw .bucketExists"), plus codes for
// what bbolt panics on (corruption) and for a handle poisoned by a failed write or sync.

/// An error thrown by Witchbolt.
///
/// Match on the code:
///
/// ```swift
/// do { try tx.createBucket("users") }
/// catch WitchboltError.Code.bucketExists { /* fine */ }
/// ```
public struct WitchboltError: Error, Sendable, CustomStringConvertible, Equatable {
    /// A stable classification; one per bbolt sentinel error, plus `corrupted`, `io` and `poisoned`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let raw: String
        init(_ raw: String) { self.raw = raw }
        public var description: String { raw }

        /// "database not open"
        public static let databaseNotOpen = Code("database not open")
        /// "invalid database": the file is not a bbolt database (bad magic, or no valid meta page).
        public static let invalid = Code("invalid database")
        /// "database isn't correctly mapped"
        public static let invalidMapping = Code("database isn't correctly mapped")
        /// "version mismatch"
        public static let versionMismatch = Code("version mismatch")
        /// "checksum error"
        public static let checksum = Code("checksum error")
        /// "timeout": the file lock could not be taken in time.
        public static let timeout = Code("timeout")
        /// "tx not writable"
        public static let txNotWritable = Code("tx not writable")
        /// "tx closed"
        public static let txClosed = Code("tx closed")
        /// "database is in read-only mode"
        public static let databaseReadOnly = Code("database is in read-only mode")
        /// "free pages are not pre-loaded"
        public static let freePagesNotLoaded = Code("free pages are not pre-loaded")
        /// "bucket not found"
        public static let bucketNotFound = Code("bucket not found")
        /// "bucket already exists"
        public static let bucketExists = Code("bucket already exists")
        /// "bucket name required"
        public static let bucketNameRequired = Code("bucket name required")
        /// "key required"
        public static let keyRequired = Code("key required")
        /// "key too large"
        public static let keyTooLarge = Code("key too large")
        /// "value too large"
        public static let valueTooLarge = Code("value too large")
        /// "database reached maximum size"
        public static let maxSizeReached = Code("database reached maximum size")
        /// "incompatible value": a key holds a bucket where a value was expected, or the reverse.
        public static let incompatibleValue = Code("incompatible value")
        /// "the source and target are the same bucket"
        public static let sameBuckets = Code("the source and target are the same bucket")
        /// "the source and target buckets are in different database files"
        public static let differentDB = Code("the source and target buckets are in different database files")
        /// The file's contents contradict the format (bbolt panics here; we throw).
        public static let corrupted = Code("database file is corrupted")
        /// A system call failed; the message names it and the errno.
        public static let io = Code("i/o error")
        /// An earlier write or sync failed; the handle refuses writes until the database is reopened.
        public static let poisoned = Code("database handle poisoned by an earlier write failure")

        /// Enables `catch WitchboltError.Code.bucketNotFound { ... }`.
        public static func ~= (code: Code, error: any Error) -> Bool {
            (error as? WitchboltError)?.code == code
        }
    }

    /// What kind of error this is.
    public var code: Code
    /// What happened, in words that say what to do about it.
    public var message: String
    /// The errno of a failed system call, when there was one.
    public var errno: Int32?

    /// Creates an error.
    public init(_ code: Code, _ message: String? = nil, errno: Int32? = nil) {
        self.code = code
        self.message = message ?? code.raw
        self.errno = errno
    }

    public var description: String {
        message == code.raw ? message : "\(code.raw): \(message)"
    }
}
