// An in-memory model of a database: nested buckets of sorted keys. Random tests apply the
// same operations to it and to Witchbolt and compare every answer.

import Witchbolt

final class ModelBucket {
    enum Entry {
        case value([UInt8])
        case bucket(ModelBucket)
    }

    var entries: [[UInt8]: Entry] = [:]
    var sequence: UInt64 = 0

    func copy() -> ModelBucket {
        let m = ModelBucket()
        m.sequence = sequence
        for (k, e) in entries {
            switch e {
            case .value(let v): m.entries[k] = .value(v)
            case .bucket(let b): m.entries[k] = .bucket(b.copy())
            }
        }
        return m
    }

    var sortedKeys: [[UInt8]] { entries.keys.sorted { $0.lexicographicallyPrecedes($1) } }

    /// The export lines of this bucket, as `Tx.export` prints them.
    func export(path: [String], into lines: inout [String]) {
        let pathJSON = "[" + path.map { "\"\($0)\"" }.joined(separator: ",") + "]"
        for k in sortedKeys {
            switch entries[k]! {
            case .value(let v):
                lines.append("{\"path\":\(pathJSON),\"key\":\"\(hexString(k))\",\"value\":\"\(hexString(v))\"}")
            case .bucket(let b):
                lines.append("{\"path\":\(pathJSON),\"bucket\":\"\(hexString(k))\",\"sequence\":\(b.sequence)}")
                b.export(path: path + [hexString(k)], into: &lines)
            }
        }
    }

    func exportString() -> String {
        var lines: [String] = []
        export(path: [], into: &lines)
        return lines.map { $0 + "\n" }.joined()
    }
}

func hexString(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    var s = ""
    for b in bytes {
        s.append(digits[Int(b >> 4)])
        s.append(digits[Int(b & 15)])
    }
    return s
}
