// Licensed under the Apache License, Version 2.0.
//
// Little-endian byte writing and bounds-checked reading for the artefact formats. A reader
// never traps on hostile input: every read checks the remaining length first and throws a
// `.corruptArtefact` error naming the artefact.

#if canImport(Glibc)
import Glibc
#endif

/// Whether two byte ranges hold the same bytes (one `memcmp`).
func sameBytes(_ a: ArraySlice<UInt8>, _ b: ArraySlice<UInt8>) -> Bool {
    guard a.count == b.count else { return false }
    return a.withUnsafeBytes { x in b.withUnsafeBytes { y in x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 } }
}

/// Appends little-endian integers and bytes to a buffer.
struct ByteWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func i32(_ v: Int32) { u32(UInt32(bitPattern: v)) }
    mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    mutating func raw(_ v: some Sequence<UInt8>) { bytes.append(contentsOf: v) }
    /// `s` as ASCII/UTF-8, zero-padded (or cut) to exactly `width` bytes.
    mutating func fixed(_ s: String, width: Int) {
        let utf8 = Array(s.utf8.prefix(width))
        bytes += utf8
        bytes += [UInt8](repeating: 0, count: width - utf8.count)
    }
}

/// Reads little-endian integers from a byte slice, throwing on a short input.
struct ByteReader {
    let bytes: ArraySlice<UInt8>
    let name: String
    private(set) var offset: Int

    init(_ bytes: ArraySlice<UInt8>, name: String) {
        self.bytes = bytes
        self.name = name
        self.offset = bytes.startIndex
    }

    var remaining: Int { bytes.endIndex - offset }
    /// The offset relative to the start of the slice (for messages).
    var position: Int { offset - bytes.startIndex }

    mutating func take(_ count: Int, _ what: String) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else {
            throw StreamError(.corruptArtefact, "\(name): truncated: \(what) needs \(count) bytes at offset \(position), \(remaining) left")
        }
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }

    mutating func u8(_ what: String) throws -> UInt8 { try take(1, what).first! }
    mutating func u16(_ what: String) throws -> UInt16 { UInt16(try le(take(2, what))) }
    mutating func u32(_ what: String) throws -> UInt32 { UInt32(try le(take(4, what))) }
    mutating func u64(_ what: String) throws -> UInt64 { try le(take(8, what)) }
    mutating func i32(_ what: String) throws -> Int32 { Int32(bitPattern: try u32(what)) }
    mutating func i64(_ what: String) throws -> Int64 { Int64(bitPattern: try u64(what)) }

    private func le(_ s: ArraySlice<UInt8>) -> UInt64 {
        var v: UInt64 = 0
        for (i, b) in s.enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        return v
    }
}

/// Reads a little-endian UInt64 at `offset` of `bytes` (caller checked the bounds).
func loadLE64(_ bytes: ArraySlice<UInt8>, at offset: Int) -> UInt64 {
    var v: UInt64 = 0
    for i in 0..<8 { v |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
    return v
}
