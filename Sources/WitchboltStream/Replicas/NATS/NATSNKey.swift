// Licensed under the Apache License, Version 2.0.
//
// NKeys, as far as a client needs them: libnats signs the server's nonce with the seed file
// itself, but wants the user's public key next to it. A seed (`SU...`) is base32 (RFC 4648,
// no padding) of two prefix bytes, the 32-byte Ed25519 seed and a CRC-16/XMODEM, little
// endian; the public key (`U...`) is base32 of the role byte, the Ed25519 public key and its
// CRC. The role comes from the seed's prefix bytes.

import Crypto
import Foundation

/// Derives the public key of an NKey seed.
enum NATSNKey {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)
    private static let seedPrefix: UInt8 = 18 << 3

    /// The public key of the seed in `seedFile` (plain, or decorated as in a creds file).
    static func publicKey(seedFile: String) throws -> String {
        guard let text = try? String(contentsOfFile: seedFile, encoding: .utf8) else {
            throw StreamError(.invalidConfiguration, "cannot read the NKey seed file \(seedFile)")
        }
        let seed = text.split(whereSeparator: { $0.isWhitespace }).first { $0.hasPrefix("S") && $0.count >= 58 }
        guard let seed, let key = try? publicKey(seed: String(seed)) else {
            throw StreamError(.invalidConfiguration, "the NKey seed file \(seedFile) holds no valid seed (SU...)")
        }
        return key
    }

    /// The public key of a seed string.
    static func publicKey(seed: String) throws -> String {
        // Decode and check the seed: prefix bytes, 32 bytes of seed, CRC.
        guard let raw = decodeBase32(seed), raw.count == 36 else { throw StreamError(.invalidConfiguration, "malformed NKey seed") }
        let body = Array(raw[0..<34])
        guard crc16(body) == UInt16(raw[34]) | UInt16(raw[35]) << 8, raw[0] & 0xF8 == seedPrefix else {
            throw StreamError(.invalidConfiguration, "malformed NKey seed")
        }
        let role = (raw[0] & 0x07) << 5 | (raw[1] & 0xF8) >> 3

        // Derive the Ed25519 public key and encode it with the role byte and its CRC.
        let privateKey = try Curve25519.Signing.PrivateKey(rawRepresentation: body[2..<34])
        var encoded = [role] + Array(privateKey.publicKey.rawRepresentation)
        let crc = crc16(encoded)
        encoded += [UInt8(crc & 0xFF), UInt8(crc >> 8)]
        return encodeBase32(encoded)
    }

    /// Encodes a seed string from a role byte (e.g. `20 << 3` for a user) and 32 seed bytes.
    static func seed(role: UInt8, bytes: [UInt8]) -> String {
        var raw = [seedPrefix | role >> 5, (role & 0x1F) << 3] + bytes
        let crc = crc16(raw)
        raw += [UInt8(crc & 0xFF), UInt8(crc >> 8)]
        return encodeBase32(raw)
    }

    static func crc16(_ bytes: [UInt8]) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc ^= UInt16(byte) << 8
            for _ in 0..<8 { crc = crc & 0x8000 != 0 ? crc << 1 ^ 0x1021 : crc << 1 }
        }
        return crc
    }

    static func encodeBase32(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        var buffer = 0
        var bits = 0
        for byte in bytes {
            buffer = buffer << 8 | Int(byte)
            bits += 8
            while bits >= 5 {
                output.append(alphabet[(buffer >> (bits - 5)) & 31])
                bits -= 5
            }
        }
        if bits > 0 { output.append(alphabet[(buffer << (5 - bits)) & 31]) }
        return String(decoding: output, as: UTF8.self)
    }

    static func decodeBase32(_ text: String) -> [UInt8]? {
        var output: [UInt8] = []
        var buffer = 0
        var bits = 0
        for character in text.utf8 {
            guard let value = alphabet.firstIndex(of: character) else { return nil }
            buffer = (buffer << 5 | value) & 0xFFFF
            bits += 5
            if bits >= 8 {
                output.append(UInt8((buffer >> (bits - 8)) & 0xFF))
                bits -= 8
            }
        }
        return output
    }
}
