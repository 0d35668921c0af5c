// Licensed under the Apache License, Version 2.0.
//
// The configuration of an S3-compatible replica (AWS S3, SeaweedFS, MinIO, R2, moto...): the
// bucket and prefix, where the server is and how to address it, the credentials (from the
// configuration or the standard AWS environment variables), and the knobs of large uploads,
// listings and retries. It is built in code or parsed from the CLI's replica URL
//
//     s3://BUCKET/PREFIX?endpoint=http://127.0.0.1:8333&region=us-east-1&path-style=true
//
// Credentials never appear in `description`, in a mirror, in logs or in errors.

import Foundation

/// The configuration of an S3-compatible replica.
///
/// For example:
///
///     var config = S3ReplicaConfig(bucket: "backups", prefix: "db/main")
///     config.endpoint = "http://127.0.0.1:8333"
///     config.addressing = .pathStyle
///     let client = try config.makeClient()
public struct S3ReplicaConfig: ReplicaConfig, CustomReflectable {
    /// How a request names the bucket.
    public enum Addressing: String, Sendable, Equatable {
        /// `https://endpoint/BUCKET/KEY`: local servers, MinIO, SeaweedFS, buckets with dots.
        case pathStyle = "path-style"
        /// `https://BUCKET.endpoint/KEY`: AWS's default.
        case virtualHost = "virtual-host"
    }

    /// How failed requests are retried.
    public struct RetryPolicy: Sendable, Equatable {
        /// Attempts per request, the first included (1 disables retries).
        public var maxAttempts: Int
        /// The delay before the first retry; each later one doubles, up to `maxDelay`, and a
        /// random jitter of up to half the delay is added.
        public var baseDelay: Duration
        /// The longest wait between two attempts.
        public var maxDelay: Duration

        /// Creates a policy.
        public init(maxAttempts: Int = 5, baseDelay: Duration = .milliseconds(200), maxDelay: Duration = .seconds(5)) {
            self.maxAttempts = maxAttempts
            self.baseDelay = baseDelay
            self.maxDelay = maxDelay
        }
    }

    /// The smallest part S3 accepts for every part of a multipart upload but the last.
    public static let minimumPartSize = 5 << 20

    /// The bucket, which must exist.
    public var bucket: String
    /// The key prefix under which this replica's objects live, without leading or trailing `/`.
    public var prefix: String
    /// The server, `http(s)://host[:port]`; nil for AWS S3 in `region`.
    public var endpoint: String?
    /// The signing region; nil takes `AWS_REGION`, else `us-east-1`.
    public var region: String?
    /// The access key id; nil takes `AWS_ACCESS_KEY_ID`.
    public var accessKeyID: String?
    /// The secret access key; nil takes `AWS_SECRET_ACCESS_KEY`.
    public var secretAccessKey: String?
    /// A session token for temporary credentials; nil takes `AWS_SESSION_TOKEN` if set.
    public var sessionToken: String?
    /// Path-style or virtual-host addressing; nil picks path-style for a custom endpoint and
    /// virtual-host for AWS.
    public var addressing: Addressing?
    /// Skips TLS certificate and host-name verification. Off by default; only for test servers.
    public var insecureSkipTLSVerify: Bool = false
    /// A PEM file of CA certificates to verify the server with, instead of the system's
    /// (a private CA, a self-signed test server).
    public var caBundlePath: String?
    /// The size of each part of a multipart upload (default 8 MiB).
    public var partSize: Int = 8 << 20
    /// Lets `partSize` go below S3's 5 MiB minimum, for tests against servers that allow it.
    public var allowPartsBelowMinimum: Bool = false
    /// Parts of one multipart upload sent at once (default 4; at most `maxConnections`).
    public var partConcurrency: Int = 4
    /// Objects larger than this are uploaded in parts (default 16 MiB).
    public var multipartThreshold: Int = 16 << 20
    /// Keys per ListObjectsV2 page (`max-keys`, 1...1000; default 1000).
    public var listPageSize: Int = 1000
    /// How failed requests are retried.
    public var retry: RetryPolicy = RetryPolicy()
    /// Connection timeout.
    public var connectTimeout: Duration = .seconds(10)
    /// A transfer that moves no byte for this long is aborted (and retried).
    public var stallTimeout: Duration = .seconds(30)
    /// The most requests in flight at once (and connections kept open) per client.
    public var maxConnections: Int = 8

    /// Creates a configuration; credentials default to the AWS environment variables.
    public init(bucket: String, prefix: String = "", endpoint: String? = nil, region: String? = nil) {
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint = endpoint
        self.region = region
    }

    /// Parses the CLI's form
    /// `s3://BUCKET/PREFIX?endpoint=URL&region=R&path-style=true&part-size=8MiB&insecure=true`.
    ///
    /// Credentials come from the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`), never from the URL. Other parameters: `virtual-host=true`, `ca-bundle=PATH`,
    /// `multipart-threshold=`, `part-concurrency=`, `max-keys=`, `max-attempts=`, `max-connections=`.
    /// Throws `StreamError` `.invalidConfiguration` naming what is wrong.
    public init(url: String) throws {
        func invalid(_ why: String) -> StreamError {
            StreamError(.invalidConfiguration, "s3 replica URL \(Self.redactedURL(url)): \(why)")
        }
        guard url.hasPrefix("s3://") else { throw invalid("it must start with s3://") }
        guard let components = URLComponents(string: url) else { throw invalid("it is not a valid URL") }
        guard components.user == nil, components.password == nil else {
            throw invalid("credentials do not belong in the URL; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        }
        guard let bucket = components.host, !bucket.isEmpty else { throw invalid("the bucket is missing (s3://BUCKET/PREFIX)") }
        self.init(bucket: bucket, prefix: components.path)
        for item in components.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "endpoint":
                endpoint = value
            case "region":
                region = value
            case "path-style", "force-path-style":
                addressing = try Self.parseBool(value, item.name, invalid) ? .pathStyle : .virtualHost
            case "virtual-host":
                addressing = try Self.parseBool(value, item.name, invalid) ? .virtualHost : .pathStyle
            case "insecure", "skip-verify":
                insecureSkipTLSVerify = try Self.parseBool(value, item.name, invalid)
            case "ca-bundle":
                caBundlePath = value
            case "part-size":
                partSize = try Self.parseSize(value, item.name, invalid)
            case "multipart-threshold":
                multipartThreshold = try Self.parseSize(value, item.name, invalid)
            case "max-keys", "page-size":
                guard let n = Int(value) else { throw invalid("\(item.name) must be a number, not '\(value)'") }
                listPageSize = n
            case "max-attempts":
                guard let n = Int(value) else { throw invalid("max-attempts must be a number, not '\(value)'") }
                retry.maxAttempts = n
            case "part-concurrency":
                guard let n = Int(value) else { throw invalid("part-concurrency must be a number, not '\(value)'") }
                partConcurrency = n
            case "max-connections":
                guard let n = Int(value) else { throw invalid("max-connections must be a number, not '\(value)'") }
                maxConnections = n
            default:
                throw invalid("unknown parameter '\(item.name)' (known: endpoint, region, path-style, virtual-host, insecure, ca-bundle, part-size, part-concurrency, multipart-threshold, max-keys, max-attempts, max-connections)")
            }
        }
        try validate()
    }

    /// A short, credential-free description: `s3://bucket/prefix`, with the endpoint if any.
    public var description: String {
        let path = normalizedPrefix.isEmpty ? "" : "/" + normalizedPrefix
        return "s3://\(bucket)\(path)" + (endpoint.map { " at \($0)" } ?? "")
    }

    /// A mirror without credentials, so `dump(config)` never prints a secret.
    public var customMirror: Mirror {
        Mirror(self, children: [
            "bucket": bucket, "prefix": prefix, "endpoint": endpoint as Any, "region": region as Any,
            "addressing": addressing as Any, "insecureSkipTLSVerify": insecureSkipTLSVerify, "caBundlePath": caBundlePath as Any,
            "partSize": partSize, "partConcurrency": partConcurrency, "multipartThreshold": multipartThreshold,
            "listPageSize": listPageSize,
        ])
    }

    /// Builds a client. Throws `.invalidConfiguration` for a bad setting or missing credentials.
    public func makeClient() throws -> any ReplicaClient {
        try S3ReplicaClient(config: self)
    }

    /// The prefix without leading or trailing `/`.
    var normalizedPrefix: String {
        var p = Substring(prefix)
        while p.hasPrefix("/") { p = p.dropFirst() }
        while p.hasSuffix("/") { p = p.dropLast() }
        return String(p)
    }

    /// Checks every setting; the message names the one that is wrong.
    func validate() throws {
        func invalid(_ why: String) -> StreamError { StreamError(.invalidConfiguration, "\(description): \(why)") }
        guard Self.isPlausibleBucketName(bucket) else {
            throw invalid("'\(bucket)' is not a valid bucket name (3-63 characters: lowercase letters, digits, '.', '-', '_')")
        }
        if let endpoint {
            guard let url = URLComponents(string: endpoint), let scheme = url.scheme?.lowercased(),
                scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty
            else { throw invalid("the endpoint '\(endpoint)' must be http(s)://host[:port]") }
            guard url.query == nil, url.user == nil else { throw invalid("the endpoint must carry no query or credentials") }
        }
        if let caBundlePath, caBundlePath.isEmpty {
            throw invalid("the CA bundle path is empty")
        }
        if let region, region.isEmpty || region.contains(where: { $0 == ":" || $0 == " " }) {
            throw invalid("'\(region)' is not a region name")
        }
        guard partSize >= 1024, allowPartsBelowMinimum || partSize >= Self.minimumPartSize else {
            throw invalid("part size \(partSize) is below S3's minimum of 5 MiB")
        }
        guard partSize <= 5 << 30 else { throw invalid("part size \(partSize) is above S3's maximum of 5 GiB") }
        guard multipartThreshold >= 1 else { throw invalid("the multipart threshold must be positive") }
        guard (1...1000).contains(listPageSize) else { throw invalid("max-keys \(listPageSize) must be within 1...1000") }
        guard retry.maxAttempts >= 1 else { throw invalid("max attempts must be at least 1") }
        guard retry.baseDelay >= .zero, retry.maxDelay >= retry.baseDelay else { throw invalid("retry delays must satisfy 0 <= base <= max") }
        guard maxConnections >= 1 else { throw invalid("max connections must be at least 1") }
        guard partConcurrency >= 1 else { throw invalid("part concurrency must be at least 1") }
    }

    /// S3's bucket naming rules, loosely (servers differ; AWS is stricter).
    static func isPlausibleBucketName(_ name: String) -> Bool {
        (3...63).contains(name.utf8.count)
            && name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || ".-_".unicodeScalars.contains($0)) }
    }

    private static func parseBool(_ value: String, _ name: String, _ invalid: (String) -> StreamError) throws -> Bool {
        switch value.lowercased() {
        case "", "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw invalid("\(name) must be true or false, not '\(value)'")
        }
    }

    /// A byte count with an optional binary suffix: `8388608`, `8MiB`, `8M`, `512KiB`.
    static func parseSize(_ value: String, _ name: String, _ invalid: (String) -> StreamError) throws -> Int {
        let digits = value.prefix { $0.isASCII && $0.isNumber }
        let suffix = value.dropFirst(digits.count).lowercased()
        let multipliers: [String: Int] = ["": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mib": 1 << 20, "mb": 1 << 20, "g": 1 << 30, "gib": 1 << 30, "gb": 1 << 30]
        guard let n = Int(digits), let multiplier = multipliers[suffix] else {
            throw invalid("\(name) must be a size such as 8388608 or 8MiB, not '\(value)'")
        }
        return n * multiplier
    }

    /// The URL with any user-info part removed, for error messages.
    private static func redactedURL(_ url: String) -> String {
        guard let at = url.firstIndex(of: "@"), let scheme = url.range(of: "://"), scheme.upperBound < at,
            !url[scheme.upperBound..<at].contains("/")
        else { return url }
        return String(url[..<scheme.upperBound]) + "***@" + String(url[url.index(after: at)...])
    }
}

/// Credentials resolved from a configuration and the environment.
struct S3Credentials: Sendable, CustomStringConvertible, CustomReflectable {
    var accessKeyID: String
    var secretAccessKey: String
    var sessionToken: String?

    /// Never the values.
    var description: String { "S3Credentials(redacted)" }
    var customMirror: Mirror { Mirror(self, children: []) }

    /// The configuration's credentials, else `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
    /// `AWS_SESSION_TOKEN`. Throws `.invalidConfiguration` when a key is missing (naming the
    /// variable, never a value).
    static func resolve(_ config: S3ReplicaConfig, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> S3Credentials {
        func pick(_ configured: String?, _ variable: String) -> String? {
            if let configured, !configured.isEmpty { return configured }
            if let value = environment[variable], !value.isEmpty { return value }
            return nil
        }
        guard let key = pick(config.accessKeyID, "AWS_ACCESS_KEY_ID") else {
            throw StreamError(.invalidConfiguration, "\(config.description): no access key id (set accessKeyID or AWS_ACCESS_KEY_ID)")
        }
        guard let secret = pick(config.secretAccessKey, "AWS_SECRET_ACCESS_KEY") else {
            throw StreamError(.invalidConfiguration, "\(config.description): no secret access key (set secretAccessKey or AWS_SECRET_ACCESS_KEY)")
        }
        // A configured key pair does not borrow a session token from the environment.
        let token = config.accessKeyID != nil ? config.sessionToken : pick(config.sessionToken, "AWS_SESSION_TOKEN")
        return S3Credentials(accessKeyID: key, secretAccessKey: secret, sessionToken: token)
    }

    /// The signing region: configured, else `AWS_REGION`, else `us-east-1`.
    static func region(_ config: S3ReplicaConfig, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let region = config.region, !region.isEmpty { return region }
        if let region = environment["AWS_REGION"], !region.isEmpty { return region }
        if let region = environment["AWS_DEFAULT_REGION"], !region.isEmpty { return region }
        return "us-east-1"
    }
}
