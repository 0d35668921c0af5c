// Licensed under the Apache License, Version 2.0. bbolt: bolt_unix.go, bolt_linux.go, db.go file ops.
//
// The database file: the one seam every pwrite, fdatasync and truncate of the engine goes
// through. Calls return typed errors built from CPageIO's `-errno`. In debug builds (the
// `WITCHBOLT_TEST_HOOKS` condition) a test can install a fault injector here to fail, drop or
// tear writes and syncs; release builds carry neither the check nor its cost.

import CPageIO
#if canImport(Glibc)
import Glibc
#endif

/// An open database file.
final class DataFile: @unchecked Sendable {
    // @unchecked Sendable because `fd` and `path` never change after init, and the file
    // offsets are explicit in every call (pwrite/pread), so concurrent use is safe.
    let fd: Int32
    let path: String
    #if WITCHBOLT_TEST_HOOKS
    let faults: (any FileFaultInjector)?
    #endif

    #if WITCHBOLT_TEST_HOOKS
    init(path: String, readOnly: Bool, create: Bool, faults: (any FileFaultInjector)? = nil) throws {
        self.path = path
        self.faults = faults
        self.fd = try Self.openDescriptor(path: path, readOnly: readOnly, create: create)
    }
    #else
    init(path: String, readOnly: Bool, create: Bool) throws {
        self.path = path
        self.fd = try Self.openDescriptor(path: path, readOnly: readOnly, create: create)
    }
    #endif

    private static func openDescriptor(path: String, readOnly: Bool, create: Bool) throws -> Int32 {
        let flags = readOnly ? O_RDONLY : (O_RDWR | (create ? O_CREAT : 0))
        let rc = cpageio_open(path, flags, 0o600)
        if rc < 0 { throw SystemCall.error("open", path: path, rc: rc) }
        return rc
    }

    deinit { _ = cpageio_close(fd) }

    /// The file's size in bytes. The corresponding system call is `fstat(2)`.
    func size() throws -> Int64 {
        let rc = cpageio_file_size(fd)
        if rc < 0 { throw SystemCall.error("fstat", path: path, rc: Int32(rc)) }
        return rc
    }

    /// Writes all of `bytes` at `offset`. The corresponding system call is `pwrite(2)`.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws {
        #if WITCHBOLT_TEST_HOOKS
        if let faults { try faults.willWrite(offset: offset, bytes: bytes, file: self) }
        #endif
        let rc = cpageio_pwrite_all(fd, bytes.baseAddress, bytes.count, offset)
        if rc < 0 { throw SystemCall.error("pwrite", path: path, rc: Int32(rc)) }
    }

    /// Writes `buffers` one after another from `offset`, in one system call where the kernel
    /// allows. The corresponding system call is `pwritev(2)`.
    func write(_ buffers: [UnsafeRawBufferPointer], at offset: Int64) throws {
        #if WITCHBOLT_TEST_HOOKS
        // Under a fault injector every buffer is its own write, as the injector counts writes.
        if faults != nil {
            var position = offset
            for buffer in buffers {
                try write(buffer, at: position)
                position += Int64(buffer.count)
            }
            return
        }
        #endif
        // The vectors live on the stack: a commit writes a few runs of at most eight pages.
        let rc = withUnsafeTemporaryAllocation(of: iovec.self, capacity: buffers.count) { vectors in
            for (i, buffer) in buffers.enumerated() {
                vectors.initializeElement(at: i, to: iovec(iov_base: UnsafeMutableRawPointer(mutating: buffer.baseAddress), iov_len: buffer.count))
            }
            return cpageio_pwritev_all(fd, vectors.baseAddress, Int32(buffers.count), offset)
        }
        if rc < 0 { throw SystemCall.error("pwritev", path: path, rc: Int32(rc)) }
    }

    /// Reads up to `count` bytes at `offset`. The corresponding system call is `pread(2)`.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        let rc = cpageio_pread_all(fd, buffer.baseAddress, buffer.count, offset)
        if rc < 0 { throw SystemCall.error("pread", path: path, rc: Int32(rc)) }
        return Int(rc)
    }

    /// Flushes written data to stable storage. The corresponding system call is `fdatasync(2)`.
    func sync() throws {
        #if WITCHBOLT_TEST_HOOKS
        if let faults { try faults.willSync(file: self) }
        #endif
        let rc = cpageio_fdatasync(fd)
        if rc < 0 { throw SystemCall.error("fdatasync", path: path, rc: rc) }
    }

    /// Sets the file's size. The corresponding system call is `ftruncate(2)`.
    func truncate(to size: Int64) throws {
        #if WITCHBOLT_TEST_HOOKS
        if let faults { try faults.willTruncate(size: size, file: self) }
        #endif
        let rc = cpageio_ftruncate(fd, size)
        if rc < 0 { throw SystemCall.error("ftruncate", path: path, rc: rc) }
    }

    /// Grows the file to `size` bytes with its blocks allocated, so that the commits writing
    /// into the new pages do not allocate blocks one write at a time. The corresponding
    /// system call is `fallocate(2)`, or `ftruncate(2)` where the file system lacks it.
    func grow(to size: Int64) throws {
        #if WITCHBOLT_TEST_HOOKS
        if let faults { try faults.willTruncate(size: size, file: self) }
        #endif
        let rc = cpageio_grow(fd, size)
        if rc < 0 { throw SystemCall.error("fallocate", path: path, rc: rc) }
    }

    /// Takes the file lock, retrying every 50 ms until `timeout` (nil: forever), as bbolt's flock.
    func lock(exclusive: Bool, timeout: Duration?) throws {
        let start = ContinuousClock.now
        while true {
            let rc = cpageio_flock(fd, exclusive ? 1 : 0)
            if rc == 0 { return }
            if rc != -EWOULDBLOCK { throw SystemCall.error("flock", path: path, rc: rc) }
            if let timeout, ContinuousClock.now - start >= timeout {
                throw WitchboltError(.timeout, "timeout: \(path) is locked by another process (waited \(timeout))")
            }
            usleep(50_000)
        }
    }

    /// Releases the file lock.
    func unlock() { _ = cpageio_funlock(fd) }
}

/// Turns CPageIO's `-errno` results into typed errors.
enum SystemCall {
    static func error(_ call: String, path: String, rc: Int32) -> WitchboltError {
        let errno = -rc
        let text = String(cString: strerror(errno))
        return WitchboltError(.io, "\(call) failed on \(path): \(text) (errno \(errno))", errno: errno)
    }
}
