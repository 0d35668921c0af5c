// libFuzzer entry point: the input is a database file (see FuzzSupport/HostileFile.swift).
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHostileFileEntry(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    fuzzHostileFile(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
