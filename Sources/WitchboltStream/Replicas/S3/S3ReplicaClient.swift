// Licensed under the Apache License, Version 2.0.
//
// The S3 replica client: the `ReplicaClient` contract over S3's REST API, for AWS and every
// S3-compatible server. Objects live under `PREFIX/` in the bucket; keys given to and returned
// by the client are relative to it.
//
// Each request is signed by libcurl (SigV4, `CURLOPT_AWS_SIGV4`); this file only builds
// canonical URLs (see `S3Encoding`) and sends the payload's SHA-256 in `x-amz-content-sha256`,
// which curl signs and S3 verifies (curl 7.88 does not send it itself). Transient failures
// (5xx, throttling, timeouts, resets) are retried with exponential backoff and jitter, a
// bounded number of times; refusals (4xx) are not, and their errors name the bucket and key.
//
// Writes are single PUTs up to the multipart threshold and multipart uploads above it
// (S3Multipart.swift); both are atomic on S3: a reader sees the old object or the new one.

import Foundation
import Logging

/// A `ReplicaClient` for AWS S3 and S3-compatible object stores.
///
/// Thread-safe: requests from several threads run in parallel on a small pool of connections
/// (`S3ReplicaConfig.maxConnections`). Build one with `S3ReplicaConfig.makeClient()`.
public final class S3ReplicaClient: ReplicaClient, CustomReflectable {
    /// The configuration this client was built from.
    public let config: S3ReplicaConfig
    /// `s3`.
    public let kind = "s3"
    /// `s3://bucket/prefix`, with the endpoint if any; never a credential.
    public var description: String { config.description }
    /// What this client has done so far, per request kind.
    public var counts: S3RequestCounts { counters.snapshot }
    /// A mirror without credentials, so `dump(client)` never prints a secret or token.
    public var customMirror: Mirror { Mirror(self, children: ["description": description, "counts": counts]) }

    let bucket: String
    /// The replica's prefix followed by `/`, or empty for the whole bucket.
    let root: String
    let settings: CurlSettings
    let sessionToken: String?
    let pool: CurlHandlePool
    let counters = S3Counters()
    let backoff: S3Backoff
    let logger = Logger(label: "witchbolt.stream.s3")
    /// The URL of the bucket (`http://host:port/bucket` or `https://bucket.host`), no `/` at the end.
    private let bucketURL: String

    /// Creates a client; throws `.invalidConfiguration` for a bad setting or missing credentials.
    public init(config: S3ReplicaConfig) throws {
        try config.validate()
        let credentials = try S3Credentials.resolve(config)
        let region = S3Credentials.region(config)
        self.config = config
        self.bucket = config.bucket
        self.root = config.normalizedPrefix.isEmpty ? "" : config.normalizedPrefix + "/"
        self.sessionToken = credentials.sessionToken
        self.settings = CurlSettings(
            sigV4Provider: "aws:amz:\(region):s3",
            accessKeyID: credentials.accessKeyID,
            secretAccessKey: credentials.secretAccessKey,
            verifyTLS: !config.insecureSkipTLSVerify,
            caBundlePath: config.caBundlePath,
            connectTimeoutMilliseconds: Int(config.connectTimeout.components.seconds * 1000
                + config.connectTimeout.components.attoseconds / 1_000_000_000_000_000),
            lowSpeedTimeSeconds: max(1, Int(config.stallTimeout.components.seconds)))
        self.pool = CurlHandlePool(capacity: config.maxConnections)
        self.backoff = S3Backoff(policy: config.retry)
        self.bucketURL = try Self.bucketURL(config: config, region: region)
    }

    /// The bucket's base URL for the configured addressing style.
    private static func bucketURL(config: S3ReplicaConfig, region: String) throws -> String {
        let endpoint = config.endpoint ?? "https://s3.\(region).amazonaws.com"
        guard var components = URLComponents(string: endpoint), let host = components.host else {
            throw StreamError(.invalidConfiguration, "\(config.description): bad endpoint '\(endpoint)'")
        }
        var basePath = components.percentEncodedPath
        while basePath.hasSuffix("/") { basePath.removeLast() }
        let addressing = config.addressing ?? (config.endpoint == nil ? .virtualHost : .pathStyle)
        switch addressing {
        case .pathStyle:
            components.percentEncodedPath = basePath + "/" + S3Encoding.uriEncode(config.bucket)
        case .virtualHost:
            components.host = config.bucket + "." + host
            components.percentEncodedPath = basePath
        }
        guard let url = components.string else {
            throw StreamError(.invalidConfiguration, "\(config.description): cannot build a URL from endpoint '\(endpoint)'")
        }
        return url
    }

    // MARK: - ReplicaClient

    /// Writes an object: one PUT up to the multipart threshold, a multipart upload above it.
    public func write(key: String, from source: ObjectSource) throws {
        let fullKey = try objectKey(key)
        switch source {
        case .bytes(let bytes):
            if bytes.count > config.multipartThreshold {
                try multipartUpload(fullKey: fullKey, source: .bytes(bytes), length: Int64(bytes.count))
            } else {
                try putObject(fullKey: fullKey, body: .bytes(bytes), digest: S3PayloadDigest(of: bytes))
            }
        case .file(let path):
            let length = try Self.fileSize(path)
            if length > Int64(config.multipartThreshold) {
                try multipartUpload(fullKey: fullKey, source: .file(path), length: length)
            } else {
                // Hash first (a streamed read), then stream the file as the signed body.
                let digest = try S3PayloadDigest.ofFile(path: path, offset: 0, length: length)
                try putObject(fullKey: fullKey, body: .file(path: path, offset: 0, length: length), digest: digest)
            }
        }
    }

    /// Reads a whole object.
    public func read(key: String) throws -> [UInt8] {
        let fullKey = try objectKey(key)
        let target = S3Target(operation: .getObject, bucket: bucket, key: fullKey)
        return try withRetries(target) { try send(target, method: "GET").body }
    }

    /// Reads `range` of an object, clamped to its end; a range past the end reads nothing.
    public func read(key: String, range: Range<Int64>) throws -> [UInt8] {
        let fullKey = try objectKey(key)
        guard range.lowerBound >= 0 else {
            throw StreamError(.invalidConfiguration, "s3 replica: negative range \(range) for s3://\(bucket)/\(fullKey)")
        }
        // An empty range reads nothing, but a missing object is still an error.
        guard !range.isEmpty else {
            _ = try head(key: key)
            return []
        }
        let target = S3Target(operation: .getObject, bucket: bucket, key: fullKey)
        let header = ("Range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)")
        return try withRetries(target) {
            let response = try send(target, method: "GET", headers: [header], accept: [416])
            switch response.status {
            case 206: return response.body
            // 416: the range starts at or after the end (an empty object, or past its end).
            case 416: return []
            // A server that ignores Range sends the whole object: cut the range out of it.
            default:
                let count = Int64(response.body.count)
                let lower = Int(min(range.lowerBound, count)), upper = Int(min(range.upperBound, count))
                return Array(response.body[lower..<upper])
            }
        }
    }

    /// Streams an object to `sink` in chunks of about a MiB. A transfer that breaks is resumed
    /// from the first byte the sink has not seen (`Range: bytes=N-`), so no byte is given twice.
    public func read(key: String, into sink: ([UInt8]) throws -> Void) throws {
        let fullKey = try objectKey(key)
        let target = S3Target(operation: .getObject, bucket: bucket, key: fullKey)
        do {
            try streamObject(target, into: sink)
        } catch let failure as SinkFailure {
            throw failure.underlying
        }
    }

    /// The retried, resumed transfer of `read(key:into:)`.
    private func streamObject(_ target: S3Target, into sink: ([UInt8]) throws -> Void) throws {
        try withoutActuallyEscaping(sink) { sink in
            var delivered: Int64 = 0
            let counting: ([UInt8]) throws -> Void = { chunk in
                try sink(chunk)
                delivered += Int64(chunk.count)
            }
            try withRetries(target) {
                let resumeAt = delivered
                let resume = resumeAt > 0 ? [("Range", "bytes=\(resumeAt)-")] : []
                // A resumed read must get 206 (or 416 when the break came after the last byte):
                // a 200 would start again from byte 0, so its body never reaches the sink.
                let response = try send(
                    target, method: "GET", headers: resume, accept: resumeAt > 0 ? [416] : [],
                    sink: counting, sinkStatuses: resumeAt > 0 ? [206] : [200])
                if resumeAt > 0 && response.status == 200 {
                    throw StreamError(.replicaError, "s3 replica: \(target.label): the server ignored the Range of a resumed read")
                }
            }
        }
    }

    /// Lists the objects under `prefix`, page by page (ListObjectsV2 with continuation
    /// tokens, `listPageSize` keys a page), sorted by key.
    public func list(prefix: String) throws -> [ObjectInfo] {
        let fullPrefix = root + prefix
        let target = S3Target(operation: .listObjects, bucket: bucket, key: nil)
        var objects: [ObjectInfo] = []
        var token: String? = nil
        repeat {
            var query = [("list-type", "2"), ("prefix", fullPrefix), ("max-keys", String(config.listPageSize))]
            if let token { query.append(("continuation-token", token)) }
            let page = try withRetries(target) {
                let response = try send(target, method: "GET", query: query)
                guard let page = S3ListPage.parse(response.body) else {
                    throw StreamError(.replicaError, "s3 replica: \(target.label) prefix '\(fullPrefix)': the answer is not a ListBucketResult")
                }
                return page
            }
            for object in page.objects where object.key.hasPrefix(root) {
                objects.append(ObjectInfo(key: String(object.key.dropFirst(root.count)), size: object.size))
            }
            guard page.nextContinuationToken == nil || page.nextContinuationToken != token else {
                throw StreamError(.replicaError, "s3 replica: \(target.label): the server repeated a continuation token")
            }
            token = page.nextContinuationToken
        } while token != nil
        objects.sort { $0.key < $1.key }
        return objects
    }

    /// Deletes objects with DeleteObjects, at most 1,000 keys a request; missing keys are fine.
    public func delete(keys: [String]) throws {
        var seen = Set<String>()
        let fullKeys = try keys.map(objectKey).filter { seen.insert($0).inserted }
        let target = S3Target(operation: .deleteObjects, bucket: bucket, key: nil)
        for start in stride(from: 0, to: fullKeys.count, by: 1000) {
            let batch = Array(fullKeys[start..<min(start + 1000, fullKeys.count)])
            let body = S3XMLBodies.delete(keys: batch)
            let digest = S3PayloadDigest(of: body)
            let failures = try withRetries(target) {
                let response = try send(
                    target, method: "POST", query: [("delete", "")], headers: [("Content-Type", "application/xml")],
                    body: .bytes(body), digest: digest)
                guard let failures = S3XMLBodies.deleteFailures(response.body) else {
                    throw StreamError(.replicaError, "s3 replica: \(target.label): the answer is not a DeleteResult")
                }
                return failures.filter { $0.code != "NoSuchKey" }
            }
            if let first = failures.first {
                let code: StreamError.Code = S3Failures.accessCodes.contains(first.code) ? .accessDenied : .replicaError
                throw StreamError(code, "s3 replica: DeleteObjects s3://\(bucket): \(failures.count) of \(batch.count) keys not deleted, first \(first.key): \(first.code) \(first.message)")
            }
        }
    }

    /// Drops idle connections; the client reconnects on its next request.
    public func close() {
        pool.drain()
    }

    // MARK: - More S3

    /// The size of an object (HeadObject); `.notFound` when it does not exist.
    public func head(key: String) throws -> ObjectInfo {
        let fullKey = try objectKey(key)
        let target = S3Target(operation: .headObject, bucket: bucket, key: fullKey)
        return try withRetries(target) {
            let response = try send(target, method: "HEAD")
            return ObjectInfo(key: key, size: Int64(response.headers["content-length"] ?? "") ?? 0)
        }
    }

    // MARK: - Requests

    /// One PutObject, retried.
    func putObject(fullKey: String, body: CurlBody, digest: S3PayloadDigest) throws {
        let target = S3Target(operation: .putObject, bucket: bucket, key: fullKey)
        try withRetries(target) { _ = try send(target, method: "PUT", body: body, digest: digest) }
    }

    /// The object key in the bucket for a replica key.
    func objectKey(_ key: String) throws -> String {
        guard !key.isEmpty else { throw StreamError(.invalidConfiguration, "s3 replica \(description): empty object key") }
        return root + key
    }

    /// Runs `attempt` until it succeeds, fails for good, or the policy's attempts are spent;
    /// waits with exponential backoff and jitter between attempts.
    func withRetries<T>(_ target: S3Target, _ attempt: () throws -> T) throws -> T {
        var number = 1
        while true {
            counters.attempt(target.operation, isRetry: number > 1)
            do {
                let value = try attempt()
                counters.succeeded(target.operation)
                return value
            } catch let error as StreamError where error.isTransient && number < config.retry.maxAttempts {
                let wait = backoff.delay(beforeRetry: number)
                logger.warning("s3 request failed, retrying", metadata: [
                    "request": "\(target.label)", "attempt": "\(number)", "wait": "\(wait)", "error": "\(error.message)",
                ])
                Thread.sleep(forTimeInterval: Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18)
                number += 1
            } catch let error as StreamError {
                counters.failed()
                guard error.isTransient else { throw error }
                throw StreamError(error.code, error.message + " (gave up after \(number) attempts)", isTransient: true)
            } catch {
                counters.failed()
                throw error
            }
        }
    }

    /// Sends one request for `target` and checks its status; a non-2xx answer (other than
    /// those in `accept`) becomes a `StreamError`. Adds the payload hash (signed by curl),
    /// Content-MD5 for bodies, and the session token.
    func send(
        _ target: S3Target, method: String, query: [(String, String)] = [], headers: [(String, String)] = [],
        body: CurlBody = .none, digest: S3PayloadDigest? = nil, accept: Set<Int> = [],
        sink: (([UInt8]) throws -> Void)? = nil, sinkStatuses: Set<Int> = [200]
    ) throws -> CurlResponse {
        var all = headers.map { (name: $0.0, value: $0.1) }
        all.append(("x-amz-content-sha256", digest?.sha256Hex ?? S3Encoding.emptyPayloadSHA256))
        if let digest { all.append(("Content-MD5", digest.md5Base64)) }
        if let sessionToken { all.append(("x-amz-security-token", sessionToken)) }
        let url = requestURL(key: target.key, query: query)
        let request = CurlRequest(method: method, url: url, headers: all, body: body, sinkStatuses: sinkStatuses)

        let response: CurlResponse
        do {
            response = try pool.withHandle { try $0.perform(request, settings: settings, sink: sink) }
        } catch let failure as CurlFailure {
            // The sink's own error is the caller's: wrapped so that it is never retried.
            if let sinkError = failure.sinkError { throw SinkFailure(underlying: sinkError) }
            throw S3Failures.error(for: target, failure: failure)
        }
        guard (200..<300).contains(response.status) || accept.contains(response.status) else {
            throw S3Failures.error(for: target, status: response.status, body: response.body)
        }
        return response
    }

    /// The URL of a request, already in SigV4's canonical form (curl signs it as written):
    /// the key URI-encoded with its `/` kept, the query sorted and encoded.
    func requestURL(key: String?, query: [(String, String)]) -> String {
        var url = bucketURL + (key.map { S3Encoding.canonicalPath(key: $0) } ?? "/")
        if !query.isEmpty { url += "?" + S3Encoding.canonicalQuery(query.map { (name: $0.0, value: $0.1) }) }
        return url
    }

    /// An error thrown by a streaming read's sink, carried through the retry loop untouched.
    struct SinkFailure: Error {
        var underlying: any Error
    }

    /// The size of a local file to upload.
    static func fileSize(_ path: String) throws -> Int64 {
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            guard let size = (attributes[.size] as? NSNumber)?.int64Value else {
                throw StreamError(.io, "s3 replica: cannot tell the size of \(path)")
            }
            return size
        } catch let error as StreamError {
            throw error
        } catch {
            throw StreamError(.io, "s3 replica: cannot read \(path) to upload it: \(error.localizedDescription)")
        }
    }
}
