// Licensed under the Apache License, Version 2.0.
//
// The text forms S3 requests need, written once: AWS's URI encoding of object keys and query
// values, the canonical query string, XML escaping, hex and base64 digests of a payload.
//
// libcurl 7.88 signs the path and the query exactly as we write them in the URL, so the URL
// we build must already be in SigV4's canonical form: parameters sorted by name (then value),
// names and values encoded with everything but `A-Za-z0-9-._~` percent-encoded (`/` too, as
// `%2F`), an empty value written as `name=`. Object keys in the path keep their `/`.

import Crypto
import Foundation

/// AWS's URI encoding (SigV4, "UriEncode").
enum S3Encoding {
    /// The SHA-256 of an empty payload, sent as `x-amz-content-sha256` on GET, HEAD and DELETE.
    static let emptyPayloadSHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// Percent-encodes every byte of the UTF-8 form of `text` except the unreserved characters
    /// `A-Za-z0-9-._~`, and except `/` when `keepSlash` is set (object keys in a path).
    /// Hex digits are uppercase, as SigV4 requires.
    static func uriEncode(_ text: String, keepSlash: Bool = false) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "/") where keepSlash:
                out.append("/")
            default:
                out.append("%")
                out.append(hexDigitsUpper[Int(byte >> 4)])
                out.append(hexDigitsUpper[Int(byte & 0x0F)])
            }
        }
        return out
    }

    /// The canonical query string of SigV4: each name and value URI-encoded (`/` as `%2F`),
    /// sorted by encoded name and then value, `name=value` joined by `&`; an empty value is
    /// written as `name=`.
    static func canonicalQuery(_ parameters: [(name: String, value: String)]) -> String {
        parameters
            .map { (uriEncode($0.name), uriEncode($0.value)) }
            .sorted { $0.0 != $1.0 ? $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) : $0.1.utf8.lexicographicallyPrecedes($1.1.utf8) }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// The canonical URI of an object: `/` followed by the key, URI-encoded with its `/` kept.
    /// S3 does not normalise paths, so `a//b` and `./x` stay as they are.
    static func canonicalPath(key: String) -> String {
        "/" + uriEncode(key, keepSlash: true)
    }

    /// Escapes text for an XML element's content.
    static func xmlEscape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(character)
            }
        }
        return out
    }

    /// Lowercase hex of bytes.
    static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var out = ""
        for byte in bytes {
            out.append(hexDigitsLower[Int(byte >> 4)])
            out.append(hexDigitsLower[Int(byte & 0x0F)])
        }
        return out
    }

    private static let hexDigitsUpper = Array("0123456789ABCDEF")
    private static let hexDigitsLower = Array("0123456789abcdef")
}

/// The two digests S3 checks a body against: SHA-256 (`x-amz-content-sha256`, verified by AWS
/// and by servers that check signed payloads) and MD5 (`Content-MD5`, verified by nearly all).
struct S3PayloadDigest: Sendable, Equatable {
    /// Lowercase hex SHA-256.
    var sha256Hex: String
    /// Base64 MD5.
    var md5Base64: String

    /// The digests of bytes in memory.
    init<Bytes: DataProtocol>(of bytes: Bytes) {
        sha256Hex = S3Encoding.hex(SHA256.hash(data: bytes))
        md5Base64 = Data(Insecure.MD5.hash(data: bytes)).base64EncodedString()
    }

    init(sha256Hex: String, md5Base64: String) {
        self.sha256Hex = sha256Hex
        self.md5Base64 = md5Base64
    }

    /// The digests of `length` bytes of a file from `offset`, read in chunks (the file is
    /// never held in memory).
    static func ofFile(path: String, offset: Int64, length: Int64) throws -> S3PayloadDigest {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw StreamError(.io, "s3 replica: cannot open \(path) to upload it")
        }
        defer { try? handle.close() }
        var sha = SHA256()
        var md5 = Insecure.MD5()
        do {
            try handle.seek(toOffset: UInt64(offset))
            var remaining = length
            while remaining > 0 {
                let chunk = try handle.read(upToCount: Int(min(remaining, 1 << 20))) ?? Data()
                guard !chunk.isEmpty else {
                    throw StreamError(.io, "s3 replica: \(path) is shorter than expected (\(remaining) bytes missing)")
                }
                sha.update(data: chunk)
                md5.update(data: chunk)
                remaining -= Int64(chunk.count)
            }
        } catch let error as StreamError {
            throw error
        } catch {
            throw StreamError(.io, "s3 replica: cannot read \(path): \(error)")
        }
        return S3PayloadDigest(
            sha256Hex: S3Encoding.hex(sha.finalize()),
            md5Base64: Data(md5.finalize()).base64EncodedString())
    }
}
