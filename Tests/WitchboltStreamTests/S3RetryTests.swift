// The S3 replica's retry policy and what it puts on the wire, against a scripted HTTP server
// on loopback that answers each request with the next canned response: 503 SlowDown and 500
// are retried until success, a 400 is not retried, retries stop after the policy's attempts,
// a connection closed without an answer is retried; and every request carries the SigV4
// Authorization header, the payload hash and the session token, never the secret.

import Foundation
import Testing
@testable import WitchboltStream

@Suite("S3 replica retries, against a scripted server")
struct S3RetryTests {
    private func client(_ server: S3ScriptedServer, maxAttempts: Int = 5, token: String? = nil) throws -> S3ReplicaClient {
        var config = S3ReplicaConfig(bucket: "scripted", prefix: "p", endpoint: "http://127.0.0.1:\(server.port)", region: "us-east-1")
        config.addressing = .pathStyle
        config.accessKeyID = "AKIDSCRIPTED"
        config.secretAccessKey = "scripted-secret-value"
        config.sessionToken = token
        config.retry = .init(maxAttempts: maxAttempts, baseDelay: .milliseconds(10), maxDelay: .milliseconds(50))
        return try S3ReplicaClient(config: config)
    }

    private static func error(_ status: Int, _ code: String) -> S3ScriptedServer.Reply {
        .init(status: status, body: Array("<?xml version=\"1.0\"?><Error><Code>\(code)</Code><Message>scripted</Message></Error>".utf8))
    }

    @Test("503 SlowDown and 500 InternalError are retried until the request succeeds")
    func retriesServerErrors() throws {
        let server = try S3ScriptedServer([Self.error(503, "SlowDown"), Self.error(500, "InternalError"), .init(status: 200, body: Array("hello".utf8))])
        defer { server.stop() }
        let client = try client(server)
        #expect(try client.read(key: "k.bin") == Array("hello".utf8))
        #expect(server.requests.count == 3)
        #expect(client.counts.retries == 2)
        #expect(client.counts.attempts[.getObject] == 3)
        #expect(client.counts[.getObject] == 1)
    }

    @Test("a 400 is not retried and names the bucket, key and S3 code")
    func doesNotRetryClientErrors() throws {
        let server = try S3ScriptedServer([Self.error(400, "InvalidArgument"), .init(status: 200, body: [])])
        defer { server.stop() }
        let client = try client(server)
        do {
            try client.write(key: "k.bin", from: .bytes([1, 2, 3]))
            Issue.record("a 400 was taken for success")
        } catch let error as StreamError {
            #expect(error.code == .replicaError)
            #expect(!error.isTransient)
            #expect(error.message.contains("s3://scripted/p/k.bin") && error.message.contains("InvalidArgument"), "\(error.message)")
        }
        #expect(server.requests.count == 1)
        #expect(client.counts.retries == 0)
    }

    @Test("retries stop after the policy's attempts with a transient unavailable error")
    func givesUp() throws {
        let server = try S3ScriptedServer(Array(repeating: Self.error(503, "SlowDown"), count: 10))
        defer { server.stop() }
        let client = try client(server, maxAttempts: 3)
        do {
            _ = try client.list(prefix: "")
            Issue.record("a listing succeeded against a server that only throttles")
        } catch let error as StreamError {
            #expect(error.code == .unavailable)
            #expect(error.isTransient)
            #expect(error.message.contains("gave up after 3 attempts"), "\(error.message)")
        }
        #expect(server.requests.count == 3)
    }

    @Test("a connection closed without an answer is retried")
    func retriesDroppedConnections() throws {
        let server = try S3ScriptedServer([.init(status: 0, body: []), .init(status: 204, body: [])])
        defer { server.stop() }
        let client = try client(server)
        try client.write(key: "k.bin", from: .bytes([9]))
        #expect(server.requests.count == 2)
        #expect(client.counts.retries == 1)
    }

    @Test("an error thrown by a streaming read's sink comes back unchanged and is not retried")
    func sinkErrors() throws {
        let server = try S3ScriptedServer([.init(status: 200, body: [1, 2, 3]), .init(status: 200, body: [1, 2, 3])])
        defer { server.stop() }
        let client = try client(server)
        let sinkError = StreamError(.unavailable, "the sink is full")
        do {
            try client.read(key: "k.bin") { _ in throw sinkError }
            Issue.record("the sink's error was swallowed")
        } catch let error as StreamError {
            #expect(error == sinkError)
        }
        #expect(server.requests.count == 1)
        #expect(client.counts.retries == 0)
    }

    private static let initiated = S3ScriptedServer.Reply(
        status: 200, body: Array("<InitiateMultipartUploadResult><Bucket>scripted</Bucket><Key>p/big</Key><UploadId>up/1+=</UploadId></InitiateMultipartUploadResult>".utf8))

    private func multipartClient(_ server: S3ScriptedServer) throws -> S3ReplicaClient {
        var config = try client(server).config
        config.multipartThreshold = 1024
        return try S3ReplicaClient(config: config)
    }

    @Test("a part refused for good aborts the multipart upload")
    func abortsFailedMultipart() throws {
        let server = try S3ScriptedServer([Self.initiated, Self.error(400, "InvalidArgument"), .init(status: 204, body: [])])
        defer { server.stop() }
        let client = try multipartClient(server)
        #expect(throws: StreamError.self) { try client.write(key: "big", from: .bytes([UInt8](repeating: 7, count: 6 << 20))) }
        let lines = server.requests.map(\.requestLine)
        #expect(lines == [
            "POST /scripted/p/big?uploads= HTTP/1.1",
            "PUT /scripted/p/big?partNumber=1&uploadId=up%2F1%2B%3D HTTP/1.1",
            "DELETE /scripted/p/big?uploadId=up%2F1%2B%3D HTTP/1.1",
        ])
        #expect(client.counts[.abortMultipartUpload] == 1)
    }

    @Test("CompleteMultipartUpload answering 200 with an InternalError document is retried")
    func retriesCompleteWithErrorBody() throws {
        let part = S3ScriptedServer.Reply(status: 200, body: [], headers: ["ETag": "\"etag-1\""])
        let server = try S3ScriptedServer([
            Self.initiated, part, Self.error(200, "InternalError"),
            .init(status: 200, body: Array("<CompleteMultipartUploadResult><ETag>\"x-1\"</ETag></CompleteMultipartUploadResult>".utf8)),
        ])
        defer { server.stop() }
        let client = try multipartClient(server)
        try client.write(key: "big", from: .bytes([UInt8](repeating: 1, count: 4096)))
        #expect(server.requests.count == 4)
        #expect(client.counts[.completeMultipartUpload] == 1)
        #expect(client.counts.retries == 1)
        let complete = String(decoding: server.requests[3].body, as: UTF8.self)
        #expect(complete.contains("<Part><PartNumber>1</PartNumber><ETag>&quot;etag-1&quot;</ETag></Part>"), "\(complete)")
    }

    @Test("requests carry SigV4, the payload hash, Content-MD5, the range and the session token; never the secret")
    func wire() throws {
        let server = try S3ScriptedServer([.init(status: 200, body: []), .init(status: 206, body: [2, 3])])
        defer { server.stop() }
        let client = try client(server, token: "scripted-session-token")
        try client.write(key: "dir/a b.bin", from: .bytes([1, 2, 3]))
        #expect(try client.read(key: "dir/a b.bin", range: 1..<3) == [2, 3])

        let put = try #require(server.requests.first)
        #expect(put.requestLine == "PUT /scripted/p/dir/a%20b.bin HTTP/1.1")
        let digest = S3PayloadDigest(of: [1, 2, 3] as [UInt8])
        #expect(put.headers["x-amz-content-sha256"] == digest.sha256Hex)
        #expect(put.headers["content-md5"] == digest.md5Base64)
        #expect(put.headers["x-amz-security-token"] == "scripted-session-token")
        #expect(put.body == [1, 2, 3])
        let authorization = put.headers["authorization"] ?? ""
        #expect(authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDSCRIPTED/"), "\(authorization)")
        #expect(authorization.contains("/us-east-1/s3/aws4_request"), "\(authorization)")
        for signed in ["host", "x-amz-content-sha256", "x-amz-date", "x-amz-security-token", "content-md5"] {
            #expect(authorization.contains(signed), "\(signed) is not signed: \(authorization)")
        }

        let get = server.requests[1]
        #expect(get.headers["range"] == "bytes=1-2")
        #expect(get.headers["x-amz-content-sha256"] == S3Encoding.emptyPayloadSHA256)
        for request in server.requests {
            #expect(!request.raw.contains("scripted-secret-value"))
        }
    }
}
