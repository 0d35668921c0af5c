// Licensed under the Apache License, Version 2.0.
//
// What a failed S3 request means, and whether to try again. S3 answers a refusal with a
// status and an error document (`<Code>SignatureDoesNotMatch</Code>`); the network fails with
// a curl code. Both become a `StreamError` that names the operation, the bucket and the key,
// never a credential:
//
// - 404 NoSuchKey (or a 404 without a body) -> `.notFound`;
// - 404 NoSuchBucket -> `.invalidConfiguration`, naming the bucket;
// - 403 (AccessDenied, SignatureDoesNotMatch, InvalidAccessKeyId, ExpiredToken...) and 401
//   -> `.accessDenied` with S3's code;
// - 5xx, 429, SlowDown, RequestTimeout, connection refused or reset, timeouts -> `.unavailable`,
//   transient: retried with exponential backoff and jitter, a bounded number of times;
// - any other 4xx -> `.replicaError`, not retried (the same request would fail the same way).

/// Where a request was going, for error messages.
struct S3Target: Sendable {
    var operation: S3RequestKind
    var bucket: String
    /// The full object key, or nil for bucket-level requests (list, delete batch).
    var key: String?

    var label: String {
        if let key { return "\(operation.rawValue) s3://\(bucket)/\(key)" }
        return "\(operation.rawValue) s3://\(bucket)"
    }
}

enum S3Failures {
    /// S3 error codes that are worth a retry even with a 4xx status.
    static let transientCodes: Set<String> = [
        "SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "Throttling",
        "ThrottlingException", "TooManyRequests", "OperationAborted",
    ]

    /// S3 error codes that mean our credentials or permissions are wrong.
    static let accessCodes: Set<String> = [
        "AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidToken", "ExpiredToken",
        "TokenRefreshRequired", "AuthorizationHeaderMalformed", "InvalidSecurity", "AllAccessDisabled",
        "AccountProblem", "MissingSecurityHeader", "AuthFailure", "UnrecognizedClientException",
    ]

    /// The error for a non-2xx answer.
    static func error(for target: S3Target, status: Int, body: [UInt8]) -> StreamError {
        let document = S3ErrorDocument.parse(body)
        let code = document?.code ?? ""
        let detail = document.map { "\($0.code)\($0.message.isEmpty ? "" : ": \($0.message)")" } ?? "no error document"
        let what = "s3 replica: \(target.label): HTTP \(status) (\(detail))"

        if status == 404 && code == "NoSuchBucket" {
            return StreamError(.invalidConfiguration, "s3 replica: bucket '\(target.bucket)' does not exist (NoSuchBucket) - \(target.label)")
        }
        if status == 404 && (code == "NoSuchKey" || code.isEmpty || code == "NotFound") {
            return StreamError(.notFound, "s3 replica: no object s3://\(target.bucket)/\(target.key ?? "") (\(target.operation.rawValue), HTTP 404\(code.isEmpty ? "" : " \(code)"))")
        }
        if code == "NoSuchUpload" {
            // The multipart upload vanished (aborted, expired, or lost by a restarted server):
            // retrying this request cannot help, but the whole upload can start again
            // (`S3ReplicaClient.multipartUpload` looks for this code in the message).
            return StreamError(.replicaError, what, isTransient: false)
        }
        if status == 401 || status == 403 || accessCodes.contains(code) {
            return StreamError(.accessDenied, what + " - check the access key, the secret and the bucket's permissions", isTransient: false)
        }
        if status >= 500 || status == 429 || status == 408 || transientCodes.contains(code) {
            return StreamError(.unavailable, what, isTransient: true)
        }
        return StreamError(.replicaError, what, isTransient: false)
    }

    /// The error for a transfer that failed below HTTP.
    static func error(for target: S3Target, failure: CurlFailure) -> StreamError {
        let what = "s3 replica: \(target.label): \(failure.message) (curl error \(failure.code))"
        if failure.isTransient { return StreamError(.unavailable, what, isTransient: true) }
        if failure.code == 26 { return StreamError(.io, what, isTransient: false) }
        if failure.code == 60 || failure.code == 51 || failure.code == 58 || failure.code == 77 {
            return StreamError(.replicaError, what + " - TLS verification failed (insecureSkipTLSVerify exists for test servers only)", isTransient: false)
        }
        return StreamError(.replicaError, what, isTransient: false)
    }
}

/// Exponential backoff with jitter.
struct S3Backoff: Sendable {
    var policy: S3ReplicaConfig.RetryPolicy

    /// The wait before retry number `retry` (1 for the first retry): the base delay doubled
    /// `retry - 1` times, capped at the maximum, plus up to half of it at random.
    func delay(beforeRetry retry: Int) -> Duration {
        let exponent = min(max(retry - 1, 0), 30)
        var delay = policy.baseDelay * (1 << exponent)
        if delay > policy.maxDelay { delay = policy.maxDelay }
        let jitter = delay / 2 * Double.random(in: 0..<1)
        return delay + jitter
    }
}
