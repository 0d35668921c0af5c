// Fuzz target: segment decoding. Half the inputs (first byte even) are decoded as they are;
// the other half get their header and file checksums fixed up first, so that mutations get
// past the checksums into decompression, record parsing and the chain checks. Any input may
// be refused with an error; none may crash, trap or allocate without bound.

import WitchboltStream

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSegment(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    var bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    if data[0] & 1 == 1, bytes.count >= 160 + 32 {
        let header = XXH64.hash(bytes[0..<152])
        withUnsafeBytes(of: header.littleEndian) { bytes.replaceSubrange(152..<160, with: $0) }
        let file = XXH64.hash(bytes[0..<(bytes.count - 8)])
        withUnsafeBytes(of: file.littleEndian) { bytes.replaceSubrange((bytes.count - 8)..<bytes.count, with: $0) }
    }
    _ = try? SegmentFile.decode(bytes, name: "fuzz.segment")
    return 0
}
