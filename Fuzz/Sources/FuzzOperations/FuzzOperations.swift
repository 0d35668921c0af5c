// libFuzzer entry point: the input drives a transaction sequence (see FuzzSupport/OperationSequence.swift).
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOperationsEntry(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    fuzzOperations(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
