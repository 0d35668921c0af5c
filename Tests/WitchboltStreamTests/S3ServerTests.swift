// The S3 replica against the shared SeaweedFS, beyond the conformance suite: multipart uploads
// and ListObjectsV2 paging proven by the client's request counters, batch deletes of more than
// 1,000 keys, streamed reads, the URL form, and clear, unretried refusals (wrong secret,
// unknown key, missing bucket).

import Foundation
import Testing
import WitchboltStream
import WitchboltTestSupport

@Suite("S3 replica against SeaweedFS", .enabled(if: TestBackend.s3.isEnabled))
struct S3ServerTests {
    /// A client on a fresh prefix of the shared server, with `adjust` applied to its config.
    private func makeClient(_ adjust: (inout S3ReplicaConfig) -> Void = { _ in }) throws -> S3ReplicaClient {
        var config = try S3TestBackend.makeConfig(prefix: TestEnvironment.uniquePrefix("s3"))
        adjust(&config)
        return try S3ReplicaClient(config: config)
    }

    /// Deletes everything the client wrote.
    private func cleanUp(_ client: S3ReplicaClient) {
        if let leftovers = try? client.list(prefix: ""), !leftovers.isEmpty { try? client.delete(keys: leftovers.map(\.key)) }
        client.close()
    }

    // SeaweedFS, like AWS, refuses parts below 5 MiB (EntityTooSmall), so the lowered part
    // size is S3's minimum, and the threshold is lowered below it.

    @Test("bytes above the threshold go up in parts of the lowered size, and read back intact")
    func multipartFromBytes() throws {
        let client = try makeClient {
            $0.partSize = S3ReplicaConfig.minimumPartSize
            $0.multipartThreshold = 2 << 20
        }
        defer { cleanUp(client) }
        var rng = SeededRandom(label: "multipartFromBytes")
        let bytes = (0..<(2 * S3ReplicaConfig.minimumPartSize + 12_345)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        try client.write(key: "big/snapshot.bin", from: .bytes(bytes))
        let counts = client.counts
        #expect(counts[.createMultipartUpload] == 1)
        #expect(counts.partsUploaded == 3)
        #expect(counts[.completeMultipartUpload] == 1)
        #expect(counts[.putObject] == 0)
        #expect(try client.read(key: "big/snapshot.bin") == bytes)
        #expect(try client.head(key: "big/snapshot.bin").size == Int64(bytes.count))

        // A streamed read hands the object over in several chunks, in order.
        var chunks = 0
        var streamed: [UInt8] = []
        try client.read(key: "big/snapshot.bin") { chunk in
            chunks += 1
            streamed += chunk
        }
        #expect(streamed == bytes)
        #expect(chunks > 1)
        // A range across a part boundary.
        let boundary = S3ReplicaConfig.minimumPartSize
        #expect(try client.read(key: "big/snapshot.bin", range: Int64(boundary - 500)..<Int64(boundary + 500)) == Array(bytes[(boundary - 500)..<(boundary + 500)]))
    }

    @Test("a file above the threshold is streamed up part by part; below it, in one PUT")
    func multipartFromFile() throws {
        let client = try makeClient {
            $0.partSize = S3ReplicaConfig.minimumPartSize
            $0.multipartThreshold = 1 << 20
        }
        defer { cleanUp(client) }
        let bytes = (0..<(2 * S3ReplicaConfig.minimumPartSize + 7)).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 7) }
        let path = NSTemporaryDirectory() + "s3-multipart-\(UUID().uuidString)"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        try client.write(key: "file/large.bin", from: .file(path: path))
        #expect(client.counts.partsUploaded == 3)
        #expect(try client.read(key: "file/large.bin") == bytes)

        let small = Array(bytes.prefix(1 << 20))
        let smallPath = path + ".small"
        #expect(FileManager.default.createFile(atPath: smallPath, contents: Data(small)))
        defer { try? FileManager.default.removeItem(atPath: smallPath) }
        try client.write(key: "file/small.bin", from: .file(path: smallPath))
        #expect(client.counts[.putObject] == 1)
        #expect(client.counts.partsUploaded == 3)
        #expect(try client.read(key: "file/small.bin") == small)
    }

    @Test("more than 1,000 objects: listing pages through continuation tokens, deletes go in batches of 1,000")
    func pagingAndBatchDelete() throws {
        let client = try makeClient { $0.listPageSize = 250 }
        defer { cleanUp(client) }
        let count = 1_030
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for i in stride(from: worker, to: count, by: 8) {
                do {
                    try client.write(key: String(format: "many/%05d.seg", i), from: .bytes([UInt8(i % 251)]))
                } catch {
                    failures.add("\(i): \(error)")
                }
            }
        }
        #expect(failures.all.isEmpty, "\(failures.all.prefix(3))")

        let listed = try client.list(prefix: "many/")
        #expect(listed.count == count)
        #expect(listed.map(\.key) == (0..<count).map { String(format: "many/%05d.seg", $0) })
        #expect(client.counts.listPages == 5)  // 250 + 250 + 250 + 250 + 30

        try client.delete(keys: listed.map(\.key))
        #expect(client.counts[.deleteObjects] == 2)  // 1,000 + 30
        #expect(try client.list(prefix: "many/").isEmpty)
    }

    @Test("the default page size lists 1,000 keys a page")
    func defaultPageSize() throws {
        let client = try makeClient()
        defer { cleanUp(client) }
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for i in stride(from: worker, to: 1_001, by: 8) {
                try? client.write(key: String(format: "p/%04d", i), from: .bytes([]))
            }
        }
        #expect(try client.list(prefix: "p/").count == 1_001)
        #expect(client.counts.listPages == 2)
    }

    @Test("a client from the CLI's URL form works, with credentials from AWS_* variables")
    func urlForm() throws {
        let prefix = TestEnvironment.uniquePrefix("s3url")
        let config = try S3ReplicaConfig(url: try S3TestBackend.makeURL(prefix: prefix))
        #expect(config.description.hasPrefix("s3://"))
        let client = try config.makeClient()
        defer { try? client.delete(keys: (try? client.list(prefix: ""))?.map(\.key) ?? []) }
        try client.write(key: "via-url.bin", from: .bytes([7, 7, 7]))
        #expect(try client.read(key: "via-url.bin") == [7, 7, 7])
        #expect(client.description.contains(prefix))
    }

    @Test("ranges: past the end reads nothing, an empty range of a missing object is notFound")
    func rangeEdges() throws {
        let client = try makeClient()
        defer { cleanUp(client) }
        try client.write(key: "r.bin", from: .bytes([1, 2, 3, 4, 5]))
        try client.write(key: "empty.bin", from: .bytes([]))
        #expect(try client.read(key: "r.bin", range: 5..<10) == [])
        #expect(try client.read(key: "r.bin", range: 3..<3) == [])
        #expect(try client.read(key: "r.bin", range: 3..<100) == [4, 5])
        #expect(try client.read(key: "empty.bin", range: 0..<10) == [])
        #expect(throws: StreamError.self) { try client.read(key: "missing.bin", range: 2..<2) }
        #expect(throws: StreamError.self) { try client.read(key: "missing.bin") { _ in } }
    }

    @Test("a wrong secret or an unknown key is accessDenied naming S3's code, after one attempt")
    func refusedCredentials() throws {
        for (adjust, code) in [
            ({ (c: inout S3ReplicaConfig) in c.secretAccessKey = "wrong-secret-value" }, "SignatureDoesNotMatch"),
            ({ (c: inout S3ReplicaConfig) in c.accessKeyID = "AKIDUNKNOWN00000000" }, "InvalidAccessKeyId"),
        ] {
            let client = try makeClient(adjust)
            defer { client.close() }
            do {
                _ = try client.list(prefix: "")
                Issue.record("refused credentials listed the bucket")
            } catch let error as StreamError {
                #expect(error.code == .accessDenied, "\(error)")
                #expect(error.message.contains(code), "\(error.message)")
                #expect(error.message.contains(client.config.bucket))
                #expect(!error.message.contains("wrong-secret-value"))
            }
            do {
                try client.write(key: "k.bin", from: .bytes([1]))
                Issue.record("refused credentials wrote an object")
            } catch let error as StreamError {
                #expect(error.code == .accessDenied, "\(error)")
                #expect(error.message.contains("k.bin"), "\(error.message)")
            }
            #expect(client.counts.totalAttempts == 2)
            #expect(client.counts.retries == 0)
        }
    }

    @Test("a missing bucket is named in a clear, unretried error")
    func missingBucket() throws {
        let client = try makeClient { $0.bucket = "wb-no-such-bucket-\(UInt32.random(in: 0...UInt32.max))" }
        defer { client.close() }
        do {
            _ = try client.list(prefix: "")
            Issue.record("a missing bucket was listed")
        } catch let error as StreamError {
            #expect(error.code == .invalidConfiguration, "\(error)")
            #expect(error.message.contains("NoSuchBucket") && error.message.contains(client.config.bucket), "\(error.message)")
        }
        #expect(client.counts.retries == 0)
    }
}
