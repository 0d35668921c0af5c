// Licensed under the Apache License, Version 2.0.
//
// Parsing the target time of a point-in-time restore: RFC 3339 with an optional fraction
// of a second and an optional zone (`Z`, `+02:00`, `-0530`; none means UTC), e.g.
// `2026-11-27T03:00:00Z` or `2026-11-27 03:00:00.250+01:00`. Written out by hand so the
// library needs no Foundation date formatter (and its locale rules).

/// Milliseconds since the Unix epoch of an RFC 3339 time, or nil if `text` is not one.
public func parseRFC3339Millis(_ text: String) -> Int64? {
    let chars = Array(text.utf8)
    var i = 0
    func number(_ digits: Int) -> Int? {
        guard i + digits <= chars.count else { return nil }
        var v = 0
        for c in chars[i..<(i + digits)] {
            guard c >= 0x30, c <= 0x39 else { return nil }
            v = v * 10 + Int(c - 0x30)
        }
        i += digits
        return v
    }
    func expect(_ c: UInt8) -> Bool {
        guard i < chars.count, chars[i] == c else { return false }
        i += 1
        return true
    }
    guard let year = number(4), expect(UInt8(ascii: "-")), let month = number(2), expect(UInt8(ascii: "-")),
          let day = number(2) else { return nil }
    guard i < chars.count, [UInt8(ascii: "T"), UInt8(ascii: "t"), UInt8(ascii: " ")].contains(chars[i]) else { return nil }
    i += 1
    guard let hour = number(2), expect(UInt8(ascii: ":")), let minute = number(2), expect(UInt8(ascii: ":")),
          let second = number(2) else { return nil }
    guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
    // An optional fraction: milliseconds, further digits dropped.
    var millis = 0
    if expect(UInt8(ascii: ".")) {
        var digits = 0
        while i < chars.count, chars[i] >= 0x30, chars[i] <= 0x39 {
            if digits < 3 { millis = millis * 10 + Int(chars[i] - 0x30) }
            digits += 1
            i += 1
        }
        guard digits > 0 else { return nil }
        for _ in digits..<max(digits, 3) { millis *= 10 }
    }
    // An optional zone; none means UTC.
    var offsetMinutes = 0
    if i < chars.count {
        if chars[i] == UInt8(ascii: "Z") || chars[i] == UInt8(ascii: "z") {
            i += 1
        } else if chars[i] == UInt8(ascii: "+") || chars[i] == UInt8(ascii: "-") {
            let sign = chars[i] == UInt8(ascii: "-") ? -1 : 1
            i += 1
            guard let h = number(2) else { return nil }
            _ = expect(UInt8(ascii: ":"))
            guard let m = number(2), h < 24, m < 60 else { return nil }
            offsetMinutes = sign * (h * 60 + m)
        } else {
            return nil
        }
    }
    guard i == chars.count else { return nil }
    // Days from civil (Howard Hinnant's algorithm).
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let mp = (month + 9) % 12
    let doy = (153 * mp + 2) / 5 + day - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    let days = Int64(era * 146_097 + doe - 719_468)
    let seconds = days * 86400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetMinutes * 60)
    return seconds * 1000 + Int64(millis)
}
