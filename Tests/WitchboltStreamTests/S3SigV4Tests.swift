// The S3 replica's canonical forms checked against the vectors AWS publishes.
//
// libcurl signs our requests, but it signs the path and query exactly as we write them, so
// these encodings are what makes a signature right. Each test feeds our `canonicalPath` and
// `canonicalQuery` into a reference SigV4 signer written here with swift-crypto's HMAC, and
// compares the result with AWS's published signature: the S3 examples of "Authenticating
// Requests: Using the Authorization Header" (GET Object with a Range, GET bucket lifecycle,
// ListObjects, PUT Object) and cases of the aws-sig-v4-test-suite (service `service`).

import Crypto
import Foundation
import Testing
@testable import WitchboltStream

/// A plain SigV4 signer, for checking vectors only (the replica lets libcurl sign).
private struct ReferenceSigner {
    var accessKey: String
    var secret: String
    var amzDate: String  // 20130524T000000Z
    var region: String
    var service: String

    /// The canonical request, as SigV4 defines it.
    func canonicalRequest(method: String, path: String, query: String, headers: [(String, String)], payloadHash: String) -> String {
        let canonical = headers
            .map { ($0.0.lowercased(), $0.1.trimmingCharacters(in: .whitespaces)) }
            .sorted { $0.0 < $1.0 }
        let lines = canonical.map { "\($0.0):\($0.1)\n" }.joined()
        let signed = canonical.map(\.0).joined(separator: ";")
        return [method, path, query, lines, signed, payloadHash].joined(separator: "\n")
    }

    func stringToSign(_ canonicalRequest: String) -> String {
        let day = String(amzDate.prefix(8))
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        return "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope)\n" + S3Encoding.hex(SHA256.hash(data: Array(canonicalRequest.utf8)))
    }

    func signature(_ stringToSign: String) -> String {
        func hmac(_ key: [UInt8], _ text: String) -> [UInt8] {
            Array(HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: SymmetricKey(data: key)))
        }
        var key = hmac(Array("AWS4\(secret)".utf8), String(amzDate.prefix(8)))
        key = hmac(key, region)
        key = hmac(key, service)
        key = hmac(key, "aws4_request")
        return S3Encoding.hex(hmac(key, stringToSign))
    }

    func sign(method: String, path: String, query: String, headers: [(String, String)], payloadHash: String) -> String {
        signature(stringToSign(canonicalRequest(method: method, path: path, query: query, headers: headers, payloadHash: payloadHash)))
    }
}

@Suite("S3 SigV4 canonical forms")
struct S3SigV4Tests {
    // MARK: The S3 examples (AKIAIOSFODNN7EXAMPLE, 20130524, examplebucket, us-east-1)

    private let s3 = ReferenceSigner(
        accessKey: "AKIAIOSFODNN7EXAMPLE", secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        amzDate: "20130524T000000Z", region: "us-east-1", service: "s3")
    private let host = ("Host", "examplebucket.s3.amazonaws.com")
    private let date = ("x-amz-date", "20130524T000000Z")
    private let empty = S3Encoding.emptyPayloadSHA256

    @Test("GET Object test.txt with Range bytes=0-9 gives AWS's signature f0e8bdb8...")
    func getObjectExample() {
        let creq = s3.canonicalRequest(
            method: "GET", path: S3Encoding.canonicalPath(key: "test.txt"), query: S3Encoding.canonicalQuery([]),
            headers: [host, ("Range", "bytes=0-9"), ("x-amz-content-sha256", empty), date], payloadHash: empty)
        #expect(S3Encoding.hex(SHA256.hash(data: Array(creq.utf8))) == "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972")
        #expect(s3.signature(s3.stringToSign(creq)) == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    @Test("GET ?lifecycle: an empty value is written name= (signature fea454ca...)")
    func lifecycleExample() {
        let query = S3Encoding.canonicalQuery([("lifecycle", "")])
        #expect(query == "lifecycle=")
        let signature = s3.sign(method: "GET", path: "/", query: query, headers: [host, ("x-amz-content-sha256", empty), date], payloadHash: empty)
        #expect(signature == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
    }

    @Test("ListObjects ?prefix=J&max-keys=2: parameters are sorted (signature 34b48302...)")
    func listObjectsExample() {
        let query = S3Encoding.canonicalQuery([("prefix", "J"), ("max-keys", "2")])
        #expect(query == "max-keys=2&prefix=J")
        let signature = s3.sign(method: "GET", path: "/", query: query, headers: [host, ("x-amz-content-sha256", empty), date], payloadHash: empty)
        #expect(signature == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    @Test("PUT Object test$file.text: `$` is encoded in the path and the body hash is signed (98ad7217...)")
    func putObjectExample() {
        let path = S3Encoding.canonicalPath(key: "test$file.text")
        #expect(path == "/test%24file.text")
        let body = Array("Welcome to Amazon S3.".utf8)
        let digest = S3PayloadDigest(of: body)
        #expect(digest.sha256Hex == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        let signature = s3.sign(
            method: "PUT", path: path, query: "",
            headers: [
                ("Date", "Fri, 24 May 2013 00:00:00 GMT"), host, ("x-amz-content-sha256", digest.sha256Hex), date,
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ],
            payloadHash: digest.sha256Hex)
        #expect(signature == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    // MARK: aws-sig-v4-test-suite (AKIDEXAMPLE, 20150830T123600Z, service "service")

    private let suite = ReferenceSigner(
        accessKey: "AKIDEXAMPLE", secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        amzDate: "20150830T123600Z", region: "us-east-1", service: "service")

    private func suiteSignature(path: String = "/", query: [(String, String)]) -> String {
        suite.sign(
            method: "GET", path: path, query: S3Encoding.canonicalQuery(query.map { (name: $0.0, value: $0.1) }),
            headers: [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")], payloadHash: S3Encoding.emptyPayloadSHA256)
    }

    @Test("get-vanilla, get-vanilla-query-order-key-case and get-vanilla-query-order-value")
    func suiteQueryOrder() {
        #expect(suiteSignature(query: []) == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        #expect(S3Encoding.canonicalQuery([("Param2", "value2"), ("Param1", "value1")]) == "Param1=value1&Param2=value2")
        #expect(suiteSignature(query: [("Param2", "value2"), ("Param1", "value1")]) == "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")
        #expect(S3Encoding.canonicalQuery([("Param1", "value2"), ("Param1", "value1")]) == "Param1=value1&Param1=value2")
        #expect(suiteSignature(query: [("Param1", "value2"), ("Param1", "value1")]) == "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694")
    }

    @Test("get-vanilla-utf8-query and get-vanilla-query-unreserved")
    func suiteQueryEncoding() {
        #expect(S3Encoding.canonicalQuery([("\u{1234}", "bar")]) == "%E1%88%B4=bar")
        #expect(suiteSignature(query: [("\u{1234}", "bar")]) == "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04")
        let unreserved = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        #expect(S3Encoding.canonicalQuery([(unreserved, unreserved)]) == "\(unreserved)=\(unreserved)")
        #expect(suiteSignature(query: [(unreserved, unreserved)]) == "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197")
    }

    @Test("get-unreserved, get-utf8 and get-space: path encoding")
    func suitePathEncoding() {
        let unreserved = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        #expect(S3Encoding.canonicalPath(key: unreserved) == "/" + unreserved)
        #expect(suiteSignature(path: S3Encoding.canonicalPath(key: unreserved), query: []) == "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f")
        #expect(S3Encoding.canonicalPath(key: "\u{1234}") == "/%E1%88%B4")
        #expect(S3Encoding.canonicalPath(key: "example space/") == "/example%20space/")
    }

    // MARK: Our keys and parameters

    @Test("object keys keep `/` and encode everything outside A-Za-z0-9-._~ with uppercase hex")
    func keyEncoding() {
        #expect(S3Encoding.canonicalPath(key: "odd/a b.bin") == "/odd/a%20b.bin")
        #expect(S3Encoding.canonicalPath(key: "odd/a+b=c.bin") == "/odd/a%2Bb%3Dc.bin")
        #expect(S3Encoding.canonicalPath(key: "odd/tilde~x.bin") == "/odd/tilde~x.bin")
        #expect(S3Encoding.canonicalPath(key: "odd/é-ü-ß-日本.bin") == "/odd/%C3%A9-%C3%BC-%C3%9F-%E6%97%A5%E6%9C%AC.bin")
        #expect(S3Encoding.canonicalPath(key: "p/generations/0000000000000001-00000000000000ff.segment") == "/p/generations/0000000000000001-00000000000000ff.segment")
        #expect(S3Encoding.canonicalPath(key: "a//b/./c") == "/a//b/./c")  // S3 never normalises
        #expect(S3Encoding.canonicalPath(key: "100%!*'()&$@:,;?#[]") == "/100%25%21%2A%27%28%29%26%24%40%3A%2C%3B%3F%23%5B%5D")
    }

    @Test("query values encode `/` as %2F, spaces as %20, and sort by name")
    func queryEncoding() {
        #expect(S3Encoding.canonicalQuery([("prefix", "dir/sub dir/"), ("list-type", "2"), ("max-keys", "1000")])
            == "list-type=2&max-keys=1000&prefix=dir%2Fsub%20dir%2F")
        #expect(S3Encoding.canonicalQuery([("uploads", "")]) == "uploads=")
        #expect(S3Encoding.canonicalQuery([("uploadId", "a+b/c=="), ("partNumber", "3")]) == "partNumber=3&uploadId=a%2Bb%2Fc%3D%3D")
        #expect(S3Encoding.canonicalQuery([("continuation-token", "1/ab+c="), ("prefix", "")]) == "continuation-token=1%2Fab%2Bc%3D&prefix=")
    }

    @Test("the client's URLs are canonical, path-style and virtual-host")
    func requestURLs() throws {
        var config = S3ReplicaConfig(bucket: "wb-bucket", prefix: "/db/main/", endpoint: "http://127.0.0.1:9000", region: "us-east-1")
        config.accessKeyID = "AKIDEXAMPLE"
        config.secretAccessKey = "secret"
        let pathStyle = try S3ReplicaClient(config: config)
        #expect(pathStyle.requestURL(key: try pathStyle.objectKey("odd/a b+c.bin"), query: [])
            == "http://127.0.0.1:9000/wb-bucket/db/main/odd/a%20b%2Bc.bin")
        #expect(pathStyle.requestURL(key: nil, query: [("prefix", "db/main/g/"), ("list-type", "2")])
            == "http://127.0.0.1:9000/wb-bucket/?list-type=2&prefix=db%2Fmain%2Fg%2F")

        config.addressing = .virtualHost
        config.endpoint = "https://storage.example.com"
        let virtualHost = try S3ReplicaClient(config: config)
        #expect(virtualHost.requestURL(key: "db/main/x.bin", query: [("delete", "")]) == "https://wb-bucket.storage.example.com/db/main/x.bin?delete=")

        config.endpoint = nil
        config.addressing = nil
        config.region = "eu-west-3"
        let aws = try S3ReplicaClient(config: config)
        #expect(aws.requestURL(key: "k", query: []) == "https://wb-bucket.s3.eu-west-3.amazonaws.com/k")
        #expect(aws.settings.sigV4Provider == "aws:amz:eu-west-3:s3")
    }
}
