// Licensed under the Apache License, Version 2.0.
//
// A generation: one snapshot plus the unbroken chain of segments after it. Its id is 24
// lowercase hex digits, the creation time in milliseconds (16 digits) followed by 32 random
// bits (8 digits), so ids sort by creation time as strings and two nodes starting a
// generation in the same millisecond still get different ids.

/// The id of a generation: `16 hex digits of creation ms` + `8 random hex digits`.
public struct Generation: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The 24 lowercase hex digits.
    public var rawValue: String

    /// Accepts exactly 24 lowercase hex digits; anything else is not a generation id.
    public init?(rawValue: String) {
        let utf8 = rawValue.utf8
        guard utf8.count == 24, utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
            return nil
        }
        self.rawValue = rawValue
    }

    /// A new generation created at `nowMillis` (milliseconds since the Unix epoch).
    public static func new(nowMillis: Int64) -> Generation {
        var random = SystemRandomNumberGenerator()
        return new(nowMillis: nowMillis, random: UInt32.random(in: 0...UInt32.max, using: &random))
    }

    /// A generation with a given creation time and random part (tests, reproducible ids).
    public static func new(nowMillis: Int64, random: UInt32) -> Generation {
        let time = hex(UInt64(bitPattern: max(0, nowMillis)), digits: 16)
        return Generation(rawValue: time + hex(UInt64(random), digits: 8))!
    }

    /// The creation time in milliseconds, from the id.
    public var createdMillis: Int64 {
        Int64(bitPattern: UInt64(rawValue.prefix(16), radix: 16) ?? 0)
    }

    public static func < (lhs: Generation, rhs: Generation) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { rawValue }
}

/// `value` as exactly `digits` lowercase hex digits (zero-padded).
func hex(_ value: UInt64, digits: Int) -> String {
    let s = String(value, radix: 16)
    return s.count >= digits ? s : String(repeating: "0", count: digits - s.count) + s
}
