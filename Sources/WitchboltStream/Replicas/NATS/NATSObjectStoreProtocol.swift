// Licensed under the Apache License, Version 2.0.
//
// The JetStream object store protocol, as nats.go (object.go), nats.py (js/object_store.py)
// and the `nats` CLI speak it, so each side reads the other's objects:
//
// - bucket `B` is the stream `OBJ_B` with subjects `$O.B.C.>` (chunks) and `$O.B.M.>` (meta),
//   created with allow_rollup and allow_direct;
// - an object's bytes are published in chunks of at most `max_chunk_size` (128 KiB by default)
//   on `$O.B.C.<nuid>`, a fresh NUID per put, so an overwrite never mixes old and new chunks;
// - then its meta JSON `{name, bucket, nuid, size, mtime, chunks, digest, options}` is published
//   on `$O.B.M.<base64url(name), padded>` with the header `Nats-Rollup: sub`, which replaces
//   the previous meta of that name: the meta is the commit point of a put;
// - `digest` is `SHA-256=` + base64url (padded) of the SHA-256 of the whole content;
// - a delete publishes a tombstone meta (`deleted: true`, size and chunks 0) the same way and
//   purges the chunk subject; an overwrite purges the previous chunk subject after the new
//   meta is in.

import Crypto
import Foundation

/// The subjects and names of one object store bucket.
struct NATSObjectStoreLayout: Sendable {
    /// The bucket name, e.g. `witchbolt`.
    var bucket: String

    /// The backing stream, `OBJ_<bucket>`.
    var stream: String { "OBJ_\(bucket)" }
    /// Every meta subject of the bucket.
    var allMetaSubjects: String { "$O.\(bucket).M.>" }
    /// Every chunk subject of the bucket.
    var allChunkSubjects: String { "$O.\(bucket).C.>" }

    /// The meta subject of an object name.
    func metaSubject(name: String) -> String { "$O.\(bucket).M.\(Self.encodeName(name))" }
    /// The chunk subject of an object instance.
    func chunkSubject(nuid: String) -> String { "$O.\(bucket).C.\(nuid)" }

    /// base64url with `=` padding of the UTF-8 name (Go's `base64.URLEncoding`).
    static func encodeName(_ name: String) -> String {
        base64URL(Data(name.utf8))
    }

    /// Whether a bucket name is valid for the object store (`[a-zA-Z0-9_-]+`).
    static func isValidBucketName(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-"
        }
    }

    static func base64URL(_ data: Data) -> String {
        String(data.base64EncodedString().map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
    }
}

/// An object's meta message, the JSON every object store client reads and writes.
struct NATSObjectInfo: Codable, Sendable, Equatable {
    struct Options: Codable, Sendable, Equatable {
        struct Link: Codable, Sendable, Equatable {
            var bucket: String?
            var name: String?
        }
        var link: Link?
        var maxChunkSize: Int?

        enum CodingKeys: String, CodingKey {
            case link
            case maxChunkSize = "max_chunk_size"
        }
    }

    var name: String
    var description: String?
    var bucket: String?
    var nuid: String?
    var size: UInt64?
    var mtime: String?
    var chunks: UInt32?
    var digest: String?
    var deleted: Bool?
    var options: Options?

    /// Whether this meta is a delete marker.
    var isDeleted: Bool { deleted ?? false }
    /// Whether this object is a link to another object or bucket (not supported here).
    var isLink: Bool { options?.link != nil }

    /// Parses a meta message's payload.
    static func decode(_ bytes: [UInt8]) throws -> NATSObjectInfo {
        try JSONDecoder().decode(NATSObjectInfo.self, from: Data(bytes))
    }

    /// The meta message's payload.
    func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(self))
    }
}

/// The `digest` field: `SHA-256=` + base64url of the SHA-256 of the content.
enum NATSObjectDigest {
    static let prefix = "SHA-256="

    /// The digest field of a finished hash.
    static func field(_ hash: SHA256.Digest) -> String {
        prefix + NATSObjectStoreLayout.base64URL(Data(hash))
    }

    /// The raw SHA-256 bytes named by a digest field, accepting either padding and any case of
    /// the prefix (as nats.go and nats.py do); nil when the field is not a SHA-256 digest.
    static func bytes(ofField field: String) -> [UInt8]? {
        guard field.uppercased().hasPrefix(prefix) else { return nil }
        var base64 = String(field.dropFirst(prefix.count).map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 })
        base64 = base64.trimmingCharacters(in: CharacterSet(charactersIn: "="))
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64), data.count == SHA256.byteCount else { return nil }
        return Array(data)
    }
}

/// NUIDs: 22 characters of base62, unique per put (the chunk subject's last token).
enum NATSNUID {
    private static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")

    static func next() -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<22).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }
}

/// Modification times as the other clients write them (RFC 3339, UTC, nanoseconds optional).
enum NATSObjectTime {
    static func now() -> String {
        Date.now.ISO8601Format(.iso8601(timeZone: .gmt, includingFractionalSeconds: true))
    }
}
