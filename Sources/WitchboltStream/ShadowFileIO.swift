// Licensed under the Apache License, Version 2.0.
//
// The few POSIX calls the shadow log needs to make a file durable: write a whole file to a
// temporary name, fsync it, rename it into place, fsync the directory. The only file of the
// controller that calls the C library for I/O; everything else goes through these helpers.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Durable file operations for the shadow directory.
enum ShadowFileIO {
    /// The suffix of files being written; a crash can leave them behind, and start-up removes them.
    static let temporaryMarker = ".tmp-"

    /// Writes `bytes` to `path` atomically and durably: temp file, fsync, rename, fsync of the directory.
    static func writeAtomically(_ bytes: [UInt8], to path: String, sync: Bool = true) throws {
        let temp = temporaryPath(for: path)
        do {
            try write(bytes, to: temp, sync: sync)
            try rename(temp, to: path, sync: sync)
        } catch {
            unlink(temp)
            throw error
        }
    }

    /// A unique temporary name beside `path`.
    static func temporaryPath(for path: String) -> String {
        path + temporaryMarker + String(UInt32.random(in: 0...UInt32.max), radix: 16)
    }

    /// Creates (or truncates) `path`, writes `bytes`, and fsyncs it when `sync` is set.
    static func write(_ bytes: [UInt8], to path: String, sync: Bool = true) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("cannot create", path) }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("cannot write", path)
            }
            offset += n
        }
        if sync, fsync(fd) != 0 { throw failure("cannot fsync", path) }
    }

    /// Fsyncs an existing file.
    static func syncFile(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("cannot open", path) }
        defer { close(fd) }
        if fsync(fd) != 0 { throw failure("cannot fsync", path) }
    }

    /// Renames `from` onto `to`, then fsyncs the destination's directory when `sync` is set.
    static func rename(_ from: String, to: String, sync: Bool = true) throws {
        guard Glibc.rename(from, to) == 0 else { throw failure("cannot rename \(from) to", to) }
        if sync { try syncDirectory(directory(of: to)) }
    }

    /// Fsyncs a directory, so the names it holds survive a crash.
    static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("cannot open directory", path) }
        defer { close(fd) }
        if fsync(fd) != 0 && errno != EINVAL { throw failure("cannot fsync directory", path) }
    }

    /// Reads a whole file.
    static func read(_ path: String) throws -> [UInt8] {
        var bytes: [UInt8] = []
        try read(path, into: &bytes)
        return bytes
    }

    /// Reads a whole file into `buffer` (replacing its contents, reusing its capacity).
    static func read(_ path: String, into buffer: inout [UInt8]) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("cannot read", path) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw failure("cannot read", path) }
        let size = Int(info.st_size)
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: repeatElement(0, count: size))
        var done = 0
        while done < size {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, size - done, off_t(done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("cannot read", path)
            }
            if n == 0 { throw StreamError(.io, "cannot read \(path): it ends at \(done) bytes, \(size) expected") }
            done += n
        }
    }

    /// Creates a directory and its parents.
    static func makeDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw StreamError(.io, "cannot create directory \(path): \(error.localizedDescription)")
        }
    }

    /// Removes a file; a missing file is not an error.
    static func remove(_ path: String) {
        unlink(path)
    }

    /// The size of a file, or nil when it does not exist.
    static func size(of path: String) -> Int64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Int64(st.st_size)
    }

    static func fileExists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    private static func failure(_ what: String, _ path: String) -> StreamError {
        let code = errno
        return StreamError(.io, "\(what) \(path): \(String(cString: strerror(code)))")
    }
}

/// A file open for appending (the open segment's log).
final class AppendFile {
    let path: String
    private var fd: Int32

    /// Opens `path` for appending, creating it; with `truncate`, empties it first.
    init(path: String, truncate: Bool) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0o644)
        guard fd >= 0 else { throw StreamError(.io, "cannot open \(path): \(String(cString: strerror(errno)))") }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Appends `prefix` then `bytes`, both whole, with as few `writev` calls as the kernel allows.
    func append(prefix: [UInt8], _ bytes: ArraySlice<UInt8>) throws {
        var done = 0
        let total = prefix.count + bytes.count
        try prefix.withUnsafeBytes { head in
            try bytes.withUnsafeBytes { body in
                while done < total {
                    // The part of each buffer not yet written.
                    let headDone = min(done, head.count)
                    let bodyDone = done - headDone
                    var vectors = [
                        iovec(iov_base: UnsafeMutableRawPointer(mutating: head.baseAddress.map { $0 + headDone }), iov_len: head.count - headDone),
                        iovec(iov_base: UnsafeMutableRawPointer(mutating: body.baseAddress.map { $0 + bodyDone }), iov_len: body.count - bodyDone),
                    ]
                    let n = vectors.withUnsafeMutableBufferPointer { writev(fd, $0.baseAddress, 2) }
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw StreamError(.io, "cannot append to \(path): \(String(cString: strerror(errno)))")
                    }
                    done += n
                }
            }
        }
    }

    /// Makes what was appended durable.
    func sync() throws {
        if fdatasync(fd) != 0 { throw StreamError(.io, "cannot fsync \(path): \(String(cString: strerror(errno)))") }
    }

    /// Empties the file.
    func truncate() throws {
        if ftruncate(fd, 0) != 0 { throw StreamError(.io, "cannot truncate \(path): \(String(cString: strerror(errno)))") }
    }
}
