// Fuzz target: snapshot reading, streamed. Half the inputs (first byte even) are read as they
// are; the other half get their header and file checksums fixed up first, so that mutations
// reach the trailer checks and the decompressor. Any input may be refused; none may crash.

import WitchboltStream

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSnapshot(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    var bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    if data[0] & 1 == 1, bytes.count >= 160 + 40 {
        let header = XXH64.hash(bytes[0..<152])
        withUnsafeBytes(of: header.littleEndian) { bytes.replaceSubrange(152..<160, with: $0) }
        let file = XXH64.hash(bytes[0..<(bytes.count - 8)])
        withUnsafeBytes(of: file.littleEndian) { bytes.replaceSubrange((bytes.count - 8)..<bytes.count, with: $0) }
    }
    guard let reader = try? SnapshotReader(bytes: bytes, name: "fuzz.snapshot") else { return 0 }
    var total = 0
    _ = try? reader.read { total += $0.count }
    return 0
}
