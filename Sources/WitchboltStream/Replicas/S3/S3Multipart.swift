// Licensed under the Apache License, Version 2.0.
//
// Multipart uploads, for objects above the multipart threshold (large snapshots). The object
// appears only when CompleteMultipartUpload succeeds, so a reader never sees a part of it: the
// write stays atomic. Parts are streamed from the file (hashed first, then sent as the signed
// body); when the source is bytes already in memory, each part in flight is copied once.
// `partConcurrency` parts go up at once, on the client's pool of connections.
//
// Each request is retried on its own (a part, not the whole upload, is resent after a reset).
// If the upload fails for good it is aborted, so the server drops the parts; if the server
// forgot the upload (NoSuchUpload, e.g. after losing its state), the whole upload starts again.

import Dispatch
import Logging
import Synchronization

/// Where the bytes of a multipart upload come from.
enum S3MultipartSource: Sendable {
    case bytes([UInt8])
    case file(String)

    /// The body and digests of the part `offset..<offset+length`.
    func part(offset: Int64, length: Int64) throws -> (body: CurlBody, digest: S3PayloadDigest) {
        switch self {
        case .bytes(let bytes):
            let slice = Array(bytes[Int(offset)..<Int(offset + length)])
            return (.bytes(slice), S3PayloadDigest(of: slice))
        case .file(let path):
            let digest = try S3PayloadDigest.ofFile(path: path, offset: offset, length: length)
            return (.file(path: path, offset: offset, length: length), digest)
        }
    }
}

extension S3ReplicaClient {
    /// S3's limit on the number of parts of one upload.
    static let maxParts: Int64 = 10_000

    /// Uploads an object in parts; restarts once if the server lost the upload.
    func multipartUpload(fullKey: String, source: S3MultipartSource, length: Int64) throws {
        do {
            try multipartUploadOnce(fullKey: fullKey, source: source, length: length)
        } catch let error as StreamError where error.message.contains("(NoSuchUpload") {
            logger.warning("s3 multipart upload lost by the server, starting it again", metadata: ["key": "\(fullKey)"])
            try multipartUploadOnce(fullKey: fullKey, source: source, length: length)
        }
    }

    /// Create, upload every part, complete; abort on failure.
    private func multipartUploadOnce(fullKey: String, source: S3MultipartSource, length: Int64) throws {
        // The part size: the configured one, grown if the object would need more than 10,000 parts.
        var partSize = Int64(config.partSize)
        if (length + partSize - 1) / partSize > Self.maxParts {
            let needed = (length + Self.maxParts - 1) / Self.maxParts
            partSize = (needed + (1 << 20) - 1) / (1 << 20) * (1 << 20)
        }

        // Start the upload: the server hands back the id every later request names.
        let create = S3Target(operation: .createMultipartUpload, bucket: bucket, key: fullKey)
        let uploadID = try withRetries(create) {
            let response = try send(create, method: "POST", query: [("uploads", "")], body: .bytes([]), digest: S3PayloadDigest(of: [UInt8]()))
            guard let id = S3XMLBodies.uploadID(response.body) else {
                throw StreamError(.replicaError, "s3 replica: \(create.label): the answer holds no UploadId")
            }
            return id
        }

        do {
            // Upload the parts, several at once, keeping each part's ETag for the completion.
            let etags = try uploadParts(fullKey: fullKey, uploadID: uploadID, source: source, length: length, partSize: partSize)

            // Complete: the object appears, whole, at this moment. S3 may answer 200 and still
            // report an error in the body, so the body is checked too.
            let complete = S3Target(operation: .completeMultipartUpload, bucket: bucket, key: fullKey)
            let body = S3XMLBodies.completeMultipart(etags: etags)
            try withRetries(complete) {
                let response = try send(
                    complete, method: "POST", query: [("uploadId", uploadID)], headers: [("Content-Type", "application/xml")],
                    body: .bytes(body), digest: S3PayloadDigest(of: body))
                if S3ErrorDocument.parse(response.body) != nil {
                    throw S3Failures.error(for: complete, status: response.status, body: response.body)
                }
            }
        } catch {
            // Give up on this upload: abort it so the server frees the parts (best effort).
            abortMultipartUpload(fullKey: fullKey, uploadID: uploadID)
            throw error
        }
    }

    /// Uploads every part, `partConcurrency` at a time (each part retried on its own), and
    /// returns their ETags in part order. After the first part that fails for good, no new part
    /// starts; the error is thrown once the parts in flight are done.
    private func uploadParts(fullKey: String, uploadID: String, source: S3MultipartSource, length: Int64, partSize: Int64) throws -> [String] {
        let partCount = Int((length + partSize - 1) / partSize)
        let etags = Mutex([String?](repeating: nil, count: partCount))
        let failure = Mutex<StreamErrorBox?>(nil)
        let nextPart = Mutex(0)
        let workers = max(1, min(config.partConcurrency, config.maxConnections, partCount))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while failure.withLock({ $0 == nil }) {
                let index = nextPart.withLock { next in
                    defer { next += 1 }
                    return next
                }
                guard index < partCount else { return }
                do {
                    let etag = try uploadPart(fullKey: fullKey, uploadID: uploadID, source: source, number: index + 1,
                                              offset: Int64(index) * partSize, size: min(partSize, length - Int64(index) * partSize))
                    etags.withLock { $0[index] = etag }
                } catch {
                    failure.withLock { if $0 == nil { $0 = StreamErrorBox(error: error) } }
                    return
                }
            }
        }
        if let box = failure.withLock({ $0 }) { throw box.error }
        return etags.withLock { $0.map { $0 ?? "" } }
    }

    /// Uploads one part, retried; returns its ETag.
    private func uploadPart(fullKey: String, uploadID: String, source: S3MultipartSource, number: Int, offset: Int64, size: Int64) throws -> String {
        let (body, digest) = try source.part(offset: offset, length: size)
        let target = S3Target(operation: .uploadPart, bucket: bucket, key: fullKey)
        return try withRetries(target) {
            let response = try send(
                target, method: "PUT", query: [("partNumber", String(number)), ("uploadId", uploadID)],
                body: body, digest: digest)
            guard let etag = response.headers["etag"], !etag.isEmpty else {
                throw StreamError(.replicaError, "s3 replica: \(target.label) part \(number): the answer has no ETag")
            }
            return etag
        }
    }

    /// Aborts an upload; a failure is logged, not thrown (the original error matters more).
    private func abortMultipartUpload(fullKey: String, uploadID: String) {
        let target = S3Target(operation: .abortMultipartUpload, bucket: bucket, key: fullKey)
        do {
            try withRetries(target) { _ = try send(target, method: "DELETE", query: [("uploadId", uploadID)], accept: [404]) }
        } catch {
            logger.warning("s3 could not abort a multipart upload", metadata: ["request": "\(target.label)", "error": "\(error)"])
        }
    }
}

/// An error carried out of the part workers.
private struct StreamErrorBox: @unchecked Sendable {
    // @unchecked Sendable because the error is written once, under a lock, and read after
    // every worker has finished.
    var error: any Error
}
