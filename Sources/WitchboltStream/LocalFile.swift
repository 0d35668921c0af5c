// Licensed under the Apache License, Version 2.0.
//
// The local file operations the stream's artefact code needs (snapshot files, the file
// replica, restore's temporary database): open, positioned reads and writes that loop until
// done, fsync, truncate, atomic rename with a directory fsync. Every failure becomes a
// `StreamError(.io)` naming the path and the errno text.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An open local file; closed on `close()` or deinit.
final class LocalFile {
    let path: String
    private(set) var fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit { if fd >= 0 { _ = Glibc.close(fd) } }

    /// Opens an existing file for reading.
    static func openForReading(_ path: String) throws -> LocalFile {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            throw StreamError(code == ENOENT ? .notFound : .io, "\(path): cannot open: \(errorText(code))")
        }
        return LocalFile(path: path, fd: fd)
    }

    /// Creates (or truncates) a file for writing, mode 0644 (0600 when `private`).
    static func create(_ path: String, exclusive: Bool = false, private isPrivate: Bool = false) throws -> LocalFile {
        var flags = O_RDWR | O_CREAT | O_CLOEXEC
        flags |= exclusive ? O_EXCL : O_TRUNC
        let fd = Glibc.open(path, flags, isPrivate ? 0o600 : 0o644)
        guard fd >= 0 else { throw StreamError(.io, "\(path): cannot create: \(errorText(errno))") }
        return LocalFile(path: path, fd: fd)
    }

    /// The file's size in bytes.
    func size() throws -> Int64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw StreamError(.io, "\(path): stat: \(errorText(errno))") }
        return Int64(st.st_size)
    }

    /// Writes all of `bytes` at `offset`.
    func write(_ bytes: [UInt8], at offset: Int64) throws {
        try bytes.withUnsafeBytes { try write(raw: $0, at: offset) }
    }

    /// Writes all of `bytes` at `offset`.
    func write(_ bytes: ArraySlice<UInt8>, at offset: Int64) throws {
        try bytes.withUnsafeBytes { try write(raw: $0, at: offset) }
    }

    /// Writes all of `raw` at `offset`.
    func write(raw: UnsafeRawBufferPointer, at offset: Int64) throws {
        do {
            var done = 0
            while done < raw.count {
                let n = pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(offset + Int64(done)))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw StreamError(.io, "\(path): write: \(errorText(errno))")
                }
                done += n
            }
        }
    }

    /// Reads up to `count` bytes at `offset` (fewer only at the end of the file).
    func read(count: Int, at offset: Int64) throws -> [UInt8] {
        guard count > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        try out.withUnsafeMutableBytes { raw in
            while done < count {
                let n = pread(fd, raw.baseAddress! + done, count - done, off_t(offset + Int64(done)))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw StreamError(.io, "\(path): read: \(errorText(errno))")
                }
                if n == 0 { break }
                done += n
            }
        }
        if done < count { out.removeSubrange(done...) }
        return out
    }

    /// Sets the file's size (zero-filling growth).
    func truncate(to size: Int64) throws {
        guard ftruncate(fd, off_t(size)) == 0 else { throw StreamError(.io, "\(path): truncate: \(errorText(errno))") }
    }

    /// Flushes the file's data and metadata to stable storage.
    func sync() throws {
        guard fsync(fd) == 0 else { throw StreamError(.io, "\(path): fsync: \(errorText(errno))") }
    }

    /// Closes the file, reporting a close error.
    func close() throws {
        guard fd >= 0 else { return }
        let rc = Glibc.close(fd)
        fd = -1
        if rc != 0 { throw StreamError(.io, "\(path): close: \(errorText(errno))") }
    }
}

/// File-system helpers on paths.
enum LocalFS {
    /// Whether something exists at `path` (without following a final symlink's target).
    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// Whether `path` is a directory.
    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Renames `from` onto `to` atomically.
    static func rename(_ from: String, _ to: String) throws {
        guard Glibc.rename(from, to) == 0 else { throw StreamError(.io, "rename \(from) -> \(to): \(errorText(errno))") }
    }

    /// Removes a file; a missing file is not an error.
    static func remove(_ path: String) {
        _ = unlink(path)
    }

    /// Fsyncs a directory, making renames and creations in it durable.
    static func syncDirectory(_ path: String) throws {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw StreamError(.io, "\(path): cannot open directory: \(errorText(errno))") }
        defer { _ = Glibc.close(fd) }
        guard fsync(fd) == 0 else { throw StreamError(.io, "\(path): fsync directory: \(errorText(errno))") }
    }

    /// Creates `path` and its missing parents (mode 0755).
    static func makeDirectories(_ path: String) throws {
        if isDirectory(path) { return }
        let parent = directoryName(path)
        if parent != path, !parent.isEmpty { try makeDirectories(parent) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw StreamError(.io, "\(path): cannot create directory: \(errorText(errno))")
        }
    }

    /// The directory part of `path` ("." for a bare name, "/" for the root).
    static func directoryName(_ path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        if slash == trimmed.startIndex { return "/" }
        return String(trimmed[..<slash])
    }

    /// The last component of `path`.
    static func baseName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// A temporary file name beside `path`, unique to this process and call.
    static func temporaryPath(beside path: String, tag: String) -> String {
        let random = UInt64.random(in: 0...UInt64.max)
        return directoryName(path) + "/." + baseName(path) + ".\(tag)-\(getpid())-\(hex(random, digits: 16)).tmp"
    }
}

/// The text of an errno value.
func errorText(_ code: Int32) -> String {
    String(cString: strerror(code))
}

/// The value of an environment variable.
func getenvString(_ name: String) -> String? {
    getenv(name).map { String(cString: $0) }
}
