// Licensed under the Apache License, Version 2.0.
//
// What an S3 client has done, counted per request kind: how many objects were put and read,
// how many list pages were fetched, how many multipart parts went up, how many HTTP attempts
// were made and how many of them were retries. Tests read them to prove that paging and
// multipart really happened and that a refused request was not retried; operators can log them.

import Synchronization

/// The kinds of S3 request the replica makes.
public enum S3RequestKind: String, Sendable, CaseIterable {
    /// A single-request upload.
    case putObject = "PutObject"
    /// A whole, ranged or streamed read.
    case getObject = "GetObject"
    /// A size lookup (and the existence check of an empty range read).
    case headObject = "HeadObject"
    /// One page of a listing.
    case listObjects = "ListObjectsV2"
    /// One batch of up to 1,000 deletions.
    case deleteObjects = "DeleteObjects"
    /// The start of a multipart upload.
    case createMultipartUpload = "CreateMultipartUpload"
    /// One part of a multipart upload.
    case uploadPart = "UploadPart"
    /// The end of a multipart upload, when the object appears.
    case completeMultipartUpload = "CompleteMultipartUpload"
    /// The abandonment of a failed multipart upload.
    case abortMultipartUpload = "AbortMultipartUpload"
}

/// A snapshot of an S3 client's counters.
public struct S3RequestCounts: Sendable, Equatable {
    /// Requests that succeeded, by kind (a list page, an uploaded part, a delete batch...).
    public var succeeded: [S3RequestKind: Int] = [:]
    /// HTTP attempts made, by kind, successful or not, retries included.
    public var attempts: [S3RequestKind: Int] = [:]
    /// Attempts that were retries of a failed one.
    public var retries: Int = 0
    /// Requests that failed for good (after their retries, or at once for a 4xx).
    public var failures: Int = 0

    /// Requests of `kind` that succeeded.
    public subscript(kind: S3RequestKind) -> Int { succeeded[kind, default: 0] }

    /// All attempts of all kinds.
    public var totalAttempts: Int { attempts.values.reduce(0, +) }

    /// ListObjectsV2 pages fetched.
    public var listPages: Int { self[.listObjects] }
    /// Parts of multipart uploads uploaded.
    public var partsUploaded: Int { self[.uploadPart] }
}

/// The live counters of one client.
final class S3Counters: Sendable {
    private let counts = Mutex(S3RequestCounts())

    func attempt(_ kind: S3RequestKind, isRetry: Bool) {
        counts.withLock {
            $0.attempts[kind, default: 0] += 1
            if isRetry { $0.retries += 1 }
        }
    }

    func succeeded(_ kind: S3RequestKind) { counts.withLock { $0.succeeded[kind, default: 0] += 1 } }
    func failed() { counts.withLock { $0.failures += 1 } }
    var snapshot: S3RequestCounts { counts.withLock { $0 } }
}
