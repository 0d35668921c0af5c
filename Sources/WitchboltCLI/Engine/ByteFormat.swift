// How the CLI prints and parses binary bucket names, keys and values, with bbolt's format
// names: `ascii-encoded` (a double-quoted string with Go-style escapes), `hex`, `bytes` (raw),
// `auto` (the text when it is printable UTF-8, else hex) and `redacted` (length and SHA-256
// only, for values that must not be shown).

import ArgumentParser

/// How bytes are printed (bbolt: formatBytes).
enum ByteFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case asciiEncoded = "ascii-encoded"
    case hex
    case bytes
    case auto
    case redacted

    /// `bytes` formatted for printing.
    func format(_ bytes: [UInt8]) -> String {
        switch self {
        case .asciiEncoded: quoted(bytes)
        case .hex: hexString(bytes)
        case .bytes: String(decoding: bytes, as: UTF8.self)
        case .auto: isPrintable(bytes) ? String(decoding: bytes, as: UTF8.self) : hexString(bytes)
        case .redacted: "<redacted len:\(bytes.count) sha256:\(hexString(SHA256Digest.hash(bytes)))>"
        }
    }
}

/// How bucket names and keys given on the command line are read.
enum ParseFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// The argument's UTF-8 bytes as typed.
    case asciiEncoded = "ascii-encoded"
    /// The argument is hex digits.
    case hex

    /// The bytes `argument` stands for, or a validation error naming it.
    func parse(_ argument: String) throws -> [UInt8] {
        switch self {
        case .asciiEncoded:
            return Array(argument.utf8)
        case .hex:
            guard let bytes = decodeHex(argument) else {
                throw ValidationError("'\(argument)' is not an even number of hex digits")
            }
            return bytes
        }
    }
}

/// Lowercase hex, two digits a byte.
func hexString(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    out.reserveCapacity(bytes.count * 2)
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 0xF)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// The bytes of an even-length hex string, or nil.
func decodeHex(_ s: String) -> [UInt8]? {
    let chars = Array(s.utf8)
    guard chars.count % 2 == 0 else { return nil }
    func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
    var out = [UInt8]()
    out.reserveCapacity(chars.count / 2)
    var i = 0
    while i < chars.count {
        guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
        out.append(hi << 4 | lo)
        i += 2
    }
    return out
}

/// Whether `bytes` is valid UTF-8 made only of printable characters (Go: unicode.IsPrint).
func isPrintable(_ bytes: [UInt8]) -> Bool {
    var decoder = UTF8()
    var iterator = bytes.makeIterator()
    while true {
        switch decoder.decode(&iterator) {
        case .scalarValue(let scalar):
            if !isPrintable(scalar) { return false }
        case .emptyInput:
            return true
        case .error:
            return false
        }
    }
}

/// Go's unicode.IsPrint, near enough: letters, marks, numbers, punctuation, symbols and the
/// ASCII space; not controls, other spaces, format or unassigned characters.
private func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
    if scalar == " " { return true }
    switch scalar.properties.generalCategory {
    case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator, .spaceSeparator:
        return false
    default:
        return true
    }
}

/// A double-quoted string with Go's %q escapes: printable characters as they are, the
/// usual backslash escapes, `\xNN` for other bytes and invalid UTF-8.
func quoted(_ bytes: [UInt8]) -> String {
    var out = "\""
    var i = 0
    while i < bytes.count {
        let b = bytes[i]
        if b < 0x80 {
            switch b {
            case 0x07: out += "\\a"
            case 0x08: out += "\\b"
            case 0x0C: out += "\\f"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x0B: out += "\\v"
            case UInt8(ascii: "\\"): out += "\\\\"
            case UInt8(ascii: "\""): out += "\\\""
            case 0x20...0x7E: out.unicodeScalars.append(Unicode.Scalar(b))
            default: out += "\\x" + hexString([b])
            }
            i += 1
            continue
        }
        // A multi-byte sequence: keep it when it is one valid, printable character.
        let length = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1
        if length > 1, i + length <= bytes.count {
            let slice = Array(bytes[i..<(i + length)])
            var decoder = UTF8()
            var iterator = slice.makeIterator()
            if case .scalarValue(let scalar) = decoder.decode(&iterator), isPrintable(slice) {
                out.unicodeScalars.append(scalar)
                i += length
                continue
            }
        }
        out += "\\x" + hexString([b])
        i += 1
    }
    return out + "\""
}
