// The S3 replica's configuration, URL form, credentials, XML documents, error mapping and
// backoff, checked without a server.

import Foundation
import Testing
@testable import WitchboltStream

@Suite("S3 replica configuration and protocol pieces")
struct S3ConfigTests {
    @Test("the CLI URL form sets bucket, prefix, endpoint, region, addressing and sizes")
    func parsesURL() throws {
        let config = try S3ReplicaConfig(
            url: "s3://wb-bucket/db/main?endpoint=http://127.0.0.1:8333&region=eu-central-1&path-style=true&part-size=6MiB&insecure=true&max-keys=250&multipart-threshold=32M&max-attempts=3")
        #expect(config.bucket == "wb-bucket")
        #expect(config.normalizedPrefix == "db/main")
        #expect(config.endpoint == "http://127.0.0.1:8333")
        #expect(config.region == "eu-central-1")
        #expect(config.addressing == .pathStyle)
        #expect(config.partSize == 6 << 20)
        #expect(config.multipartThreshold == 32 << 20)
        #expect(config.insecureSkipTLSVerify)
        #expect(config.listPageSize == 250)
        #expect(config.retry.maxAttempts == 3)
        #expect(config.description == "s3://wb-bucket/db/main at http://127.0.0.1:8333")

        let withCA = try S3ReplicaConfig(url: "s3://wb-bucket/p?endpoint=https://10.0.0.1:9000&ca-bundle=/etc/ssl/private-ca.pem&part-concurrency=2")
        #expect(withCA.caBundlePath == "/etc/ssl/private-ca.pem")
        #expect(withCA.partConcurrency == 2)
        #expect(withCA.insecureSkipTLSVerify == false)

        var tiny = S3ReplicaConfig(bucket: "wb-bucket")
        tiny.partSize = 1 << 20
        #expect(throws: StreamError.self) { try tiny.validate() }
        tiny.allowPartsBelowMinimum = true
        try tiny.validate()

        let plain = try S3ReplicaConfig(url: "s3://bucket-only")
        #expect(plain.normalizedPrefix == "")
        #expect(plain.addressing == nil)
        #expect(plain.insecureSkipTLSVerify == false)
        #expect(plain.partSize == 8 << 20)
        #expect(plain.listPageSize == 1000)
    }

    @Test("bad URLs and settings are invalidConfiguration with a message naming the problem", arguments: [
        ("http://bucket/prefix", "s3://"),
        ("s3:///prefix", "bucket"),
        ("s3://b/p", "bucket name"),
        ("s3://bucket/p?endpoint=ftp://host", "endpoint"),
        ("s3://bucket/p?part-size=1MiB", "5 MiB"),
        ("s3://bucket/p?part-size=lots", "part-size"),
        ("s3://bucket/p?max-keys=5000", "max-keys"),
        ("s3://bucket/p?path-style=maybe", "path-style"),
        ("s3://bucket/p?colour=blue", "unknown parameter 'colour'"),
        ("s3://AKID:s3cr3tvalue@bucket/p", "credentials do not belong"),
    ])
    func rejectsBadURLs(url: String, expected: String) {
        do {
            _ = try S3ReplicaConfig(url: url)
            Issue.record("\(url) was accepted")
        } catch let error as StreamError {
            #expect(error.code == .invalidConfiguration)
            #expect(error.message.contains(expected), "\(error.message)")
            #expect(!error.message.contains("s3cr3tvalue"), "\(error.message)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("credentials come from the config first, then AWS_* variables; none is ever printed")
    func credentials() throws {
        var config = S3ReplicaConfig(bucket: "bucket", prefix: "p")
        let environment = [
            "AWS_ACCESS_KEY_ID": "ENVKEY", "AWS_SECRET_ACCESS_KEY": "ENVSECRET", "AWS_SESSION_TOKEN": "ENVTOKEN",
            "AWS_REGION": "ap-south-1",
        ]
        let fromEnvironment = try S3Credentials.resolve(config, environment: environment)
        #expect(fromEnvironment.accessKeyID == "ENVKEY")
        #expect(fromEnvironment.secretAccessKey == "ENVSECRET")
        #expect(fromEnvironment.sessionToken == "ENVTOKEN")
        #expect(S3Credentials.region(config, environment: environment) == "ap-south-1")
        #expect(S3Credentials.region(config, environment: [:]) == "us-east-1")

        config.accessKeyID = "CONFIGKEY"
        config.secretAccessKey = "CONFIGSECRET"
        let configured = try S3Credentials.resolve(config, environment: environment)
        #expect(configured.accessKeyID == "CONFIGKEY")
        #expect(configured.secretAccessKey == "CONFIGSECRET")
        #expect(configured.sessionToken == nil, "a configured key pair must not borrow the environment's token")

        config.sessionToken = "CONFIGTOKEN"
        var dumped = ""
        dump(config, to: &dumped)
        for text in [config.description, String(describing: config), dumped] {
            #expect(!text.contains("CONFIGSECRET") && !text.contains("CONFIGTOKEN") && !text.contains("CONFIGKEY"), "\(text)")
        }

        let client = try S3ReplicaClient(config: config)
        var dumpedClient = ""
        dump(client, to: &dumpedClient)
        for text in [client.description, dumpedClient] {
            #expect(!text.contains("CONFIGSECRET") && !text.contains("CONFIGTOKEN"), "\(text)")
        }

        do {
            _ = try S3Credentials.resolve(S3ReplicaConfig(bucket: "bucket"), environment: ["AWS_ACCESS_KEY_ID": "K"])
            Issue.record("a missing secret was accepted")
        } catch let error as StreamError {
            #expect(error.code == .invalidConfiguration)
            #expect(error.message.contains("AWS_SECRET_ACCESS_KEY"))
        }
    }

    @Test("a ListObjectsV2 page: keys unescaped, sizes, truncation and the continuation token")
    func parsesListPage() throws {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>p/</Prefix>
            <KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>
            <Contents><Key>p/a &amp; b&lt;c&gt;.bin</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified><ETag>&quot;x&quot;</ETag><Size>12</Size></Contents>
            <Contents><Key>p/é~+=.bin</Key><Size>0</Size></Contents>
            <NextContinuationToken>1/ab+c==</NextContinuationToken></ListBucketResult>
            """
        let page = try #require(S3ListPage.parse(Array(xml.utf8)))
        #expect(page.objects.map(\.key) == ["p/a & b<c>.bin", "p/é~+=.bin"])
        #expect(page.objects.map(\.size) == [12, 0])
        #expect(page.nextContinuationToken == "1/ab+c==")

        let last = "<ListBucketResult><IsTruncated>false</IsTruncated><NextContinuationToken>t</NextContinuationToken></ListBucketResult>"
        #expect(try #require(S3ListPage.parse(Array(last.utf8))).nextContinuationToken == nil)
        #expect(S3ListPage.parse(Array("<Error><Code>X</Code></Error>".utf8)) == nil)
        #expect(S3ListPage.parse(Array("not xml".utf8)) == nil)
    }

    @Test("DeleteObjects and CompleteMultipartUpload bodies escape keys; answers are read back")
    func xmlBodies() throws {
        let delete = String(decoding: S3XMLBodies.delete(keys: ["a&b", "c<d>\"'"]), as: UTF8.self)
        #expect(delete.contains("<Quiet>true</Quiet>"))
        #expect(delete.contains("<Object><Key>a&amp;b</Key></Object><Object><Key>c&lt;d&gt;&quot;&apos;</Key></Object>"))
        let parsed = try #require(S3XMLElement.parse(S3XMLBodies.delete(keys: ["a&b", "c<d>\"'"])))
        #expect(parsed.all("Object").compactMap { $0.text("Key") } == ["a&b", "c<d>\"'"])

        let complete = String(decoding: S3XMLBodies.completeMultipart(etags: ["\"e1\"", "\"e2\""]), as: UTF8.self)
        #expect(complete.contains("<Part><PartNumber>1</PartNumber><ETag>&quot;e1&quot;</ETag></Part><Part><PartNumber>2</PartNumber>"))

        let result = "<DeleteResult><Deleted><Key>a</Key></Deleted><Error><Key>b</Key><Code>AccessDenied</Code><Message>no</Message></Error></DeleteResult>"
        let failures = try #require(S3XMLBodies.deleteFailures(Array(result.utf8)))
        #expect(failures.count == 1)
        #expect(failures.first?.key == "b")
        #expect(failures.first?.code == "AccessDenied")

        let initiated = "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>abc/123+=</UploadId></InitiateMultipartUploadResult>"
        #expect(S3XMLBodies.uploadID(Array(initiated.utf8)) == "abc/123+=")
    }

    @Test("answers map to codes: 404 notFound, NoSuchBucket named, 403 accessDenied, 5xx and SlowDown transient, 400 final")
    func errorMapping() {
        let target = S3Target(operation: .getObject, bucket: "wb", key: "p/k.bin")
        func error(_ status: Int, _ code: String?) -> StreamError {
            let body = code.map { Array("<Error><Code>\($0)</Code><Message>m</Message></Error>".utf8) } ?? []
            return S3Failures.error(for: target, status: status, body: body)
        }
        #expect(error(404, "NoSuchKey").code == .notFound)
        #expect(error(404, nil).code == .notFound)
        #expect(error(404, "NoSuchKey").message.contains("s3://wb/p/k.bin"))
        let bucket = error(404, "NoSuchBucket")
        #expect(bucket.code == .invalidConfiguration)
        #expect(bucket.message.contains("bucket 'wb'") && bucket.message.contains("NoSuchBucket"))
        for code in ["SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "ExpiredToken"] {
            let denied = error(403, code)
            #expect(denied.code == .accessDenied && !denied.isTransient && denied.message.contains(code))
        }
        #expect(error(403, nil).code == .accessDenied)
        for (status, code) in [(500, "InternalError"), (503, "SlowDown"), (503, nil), (429, nil), (400, "RequestTimeout"), (502, nil)] {
            let transient = error(status, code)
            #expect(transient.code == .unavailable && transient.isTransient, "\(status) \(code ?? "-")")
        }
        for (status, code) in [(400, "InvalidArgument"), (400, "EntityTooSmall"), (409, "OperationConflict_"), (404, "NoSuchUpload")] {
            let final = error(status, code)
            #expect(final.code == .replicaError && !final.isTransient, "\(status) \(code)")
        }
        #expect(S3Failures.error(for: target, failure: CurlFailure(code: 7, message: "refused")).isTransient)
        #expect(S3Failures.error(for: target, failure: CurlFailure(code: 56, message: "reset")).isTransient)
        #expect(S3Failures.error(for: target, failure: CurlFailure(code: 28, message: "timeout")).isTransient)
        #expect(!S3Failures.error(for: target, failure: CurlFailure(code: 60, message: "certificate")).isTransient)
    }

    @Test("backoff doubles from the base delay, is capped, and adds at most half again of jitter")
    func backoff() {
        let backoff = S3Backoff(policy: .init(maxAttempts: 10, baseDelay: .milliseconds(100), maxDelay: .seconds(1)))
        for _ in 0..<50 {
            let first = backoff.delay(beforeRetry: 1)
            #expect(first >= .milliseconds(100) && first < .milliseconds(150))
            let third = backoff.delay(beforeRetry: 3)
            #expect(third >= .milliseconds(400) && third < .milliseconds(600))
            let late = backoff.delay(beforeRetry: 40)
            #expect(late >= .seconds(1) && late < .milliseconds(1500))
        }
    }
}
