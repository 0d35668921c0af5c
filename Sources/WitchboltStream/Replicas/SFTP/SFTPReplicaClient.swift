// Licensed under the Apache License, Version 2.0. After Litestream's SFTP replica client.
//
// A replica on an SFTP server: each object is a file under the replica's root directory, its
// key the path relative to the root. Objects are write-once. A write uploads to a temporary
// name in the same directory (`.NAME.witchbolt-tmp-RANDOM`, which listing ignores), fsyncs it
// where the server supports `fsync@openssh.com`, checks its size, and renames it into place.
// SFTPv3's rename (all libssh2 1.10 offers; it has no posix-rename) refuses an existing target,
// so a reader never sees a partial object and a retried write whose first attempt did land
// finds the object in place: same size and SHA-256 counts as written; a different content is
// removed and replaced (the one moment the key is briefly absent).
//
// Reads, ranged reads (seek + read) and streaming reads resume on a fresh connection after a
// dropped one; listing walks the directories, taking sizes from the directory entries without
// opening any file. Directories are created on demand (mkdir -p) and removed when a delete
// leaves them empty. All calls block; connection handling and retries are in the pool.

import Crypto
import Foundation
import Logging

/// A replica client for an SFTP server (libssh2).
public final class SFTPReplicaClient: ReplicaClient {
    /// The configuration this client was built from.
    public let config: SFTPReplicaConfig
    private let pool: SFTPConnectionPool
    private let logger: Logger
    private let root: String
    private let leftovers = SFTPLeftovers()

    /// Chunk size for streamed reads and writes.
    static let chunkSize = 256 * 1024

    /// Creates a client; it connects on first use. Throws `.invalidConfiguration` for a bad configuration.
    public init(config: SFTPReplicaConfig, logger: Logger = Logger(label: "witchbolt.stream.sftp")) throws {
        try config.validate()
        self.config = config
        self.logger = logger
        self.pool = SFTPConnectionPool(config: config, logger: logger)
        var root = config.path
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        self.root = root
    }

    /// `sftp://USER@HOST:PORT/PATH`, without credentials.
    public var description: String { config.description }
    /// Always `sftp`.
    public var kind: String { "sftp" }

    /// What the connection management has done so far (for tests and diagnostics).
    public var counters: SFTPConnectionCounters { pool.counters }

    // MARK: - Write

    /// Uploads to a temporary name, fsyncs, checks the size and renames into place (write-once).
    public func write(key: String, from source: ObjectSource) throws {
        let path = try remotePath(key)
        let (directory, name) = Self.split(path)
        try pool.run("write \(key)") { connection in
            // Temporaries of attempts that failed earlier are removed first, best effort.
            removeLeftovers(on: connection)

            // Upload under a fresh temporary name, so that no attempt ever shows a partial object.
            let temporary = Self.join(directory, ".\(name).\(SFTPLeftovers.marker)\(Self.randomSuffix())")
            let handle = try openForWrite(connection, temporary, directory: directory)
            do {
                let (size, digest) = try upload(connection, handle, temporary, source: source, key: key)
                // Rename into place; an existing target is either this very content or replaced.
                try publish(connection, temporary: temporary, final: path, key: key, size: size, digest: digest)
            } catch {
                // This attempt's temporary goes now, or on a later connection when this one is gone.
                if connection.isBroken {
                    leftovers.add(temporary)
                } else {
                    do { try connection.unlink(temporary) } catch SSH2Failure.status {} catch { leftovers.add(temporary) }
                }
                throw error
            }
        }
    }

    /// Streams the source into an open temporary file, fsyncs and closes it; returns its size and SHA-256.
    private func upload(_ connection: SSH2Connection, _ handle: OpaquePointer, _ temporary: String, source: ObjectSource, key: String) throws -> (Int64, [UInt8]) {
        var hasher = SHA256()
        var written: Int64 = 0
        do {
            try Self.forEachChunk(of: source, key: key) { chunk in
                hasher.update(bufferPointer: chunk)
                try connection.write(handle, chunk, temporary)
                written += Int64(chunk.count)
            }
            // Make it durable where the server can, and check that every byte arrived.
            if connection.supportsFsync, try !connection.fsync(handle, temporary) {
                connection.supportsFsync = false
                logger.debug("\(description): the server does not support fsync@openssh.com")
            }
            let size = try connection.fstat(handle, temporary).size
            if size != written {
                throw StreamError(.unavailable, "\(description): upload of \(key) is \(size) bytes on the server instead of \(written)")
            }
        } catch {
            if !connection.isBroken { try? connection.closeHandle(handle, temporary) }
            throw error
        }
        try connection.closeHandle(handle, temporary)
        return (written, Array(hasher.finalize()))
    }

    /// Opens a temporary file for writing, creating the directory when it is missing.
    private func openForWrite(_ connection: SSH2Connection, _ temporary: String, directory: String) throws -> OpaquePointer {
        // A concurrent delete may remove an empty directory between mkdir and open: try a few times.
        for _ in 0..<3 {
            do {
                return try connection.open(temporary, write: true)
            } catch SSH2Failure.status(let status, _) where SSH2Connection.isMissing(status) {
                try makeDirectories(connection, directory)
            }
        }
        return try connection.open(temporary, write: true)
    }

    /// Moves a complete temporary file to its final name, honouring write-once semantics.
    private func publish(_ connection: SSH2Connection, temporary: String, final: String, key: String, size: Int64, digest: [UInt8]) throws {
        do {
            try connection.rename(temporary, to: final)
            return
        } catch SSH2Failure.status(_, let message) {
            // The rename failed with an SFTP status: look at what holds the final name.
            guard let existing = try connection.stat(final), existing.isRegularFile else {
                try? connection.unlink(temporary)
                throw StreamError(.replicaError, "\(description): cannot rename the upload of \(key) into place: \(message)",
                                  isTransient: false)
            }
            if existing.size == size, try digestOf(connection, final) == digest {
                // An earlier attempt (or another writer) already put exactly these bytes there.
                try? connection.unlink(temporary)
                logger.debug("\(description): \(key) already holds the same \(size) bytes; the write counts as done")
                return
            }
            // A different content: replace it (remove, then rename; briefly absent, never partial).
            logger.info("\(description): replacing \(key), whose content differs")
            do {
                try connection.unlink(final)
            } catch SSH2Failure.status(let status, _) where SSH2Connection.isMissing(status) {}
            try connection.rename(temporary, to: final)
        }
    }

    /// The SHA-256 of a remote file, read in chunks.
    private func digestOf(_ connection: SSH2Connection, _ path: String) throws -> [UInt8] {
        let handle = try connection.open(path, write: false)
        defer { try? connection.closeHandle(handle, path) }
        var hasher = SHA256()
        while true {
            let chunk = try connection.read(handle, count: Self.chunkSize, path)
            if chunk.isEmpty { break }
            hasher.update(data: chunk)
            if chunk.count < Self.chunkSize { break }
        }
        return Array(hasher.finalize())
    }

    // MARK: - Read

    /// Reads a whole object; `.notFound` when it does not exist.
    public func read(key: String) throws -> [UInt8] {
        var bytes: [UInt8] = []
        try read(key: key) { bytes += $0 }
        return bytes
    }

    /// Reads the bytes of `range` (seek, then read), clamped to the object's end.
    public func read(key: String, range: Range<Int64>) throws -> [UInt8] {
        let path = try remotePath(key)
        guard range.lowerBound >= 0 else {
            throw StreamError(.invalidConfiguration, "\(description): negative range \(range) for \(key)")
        }
        do {
            return try readRange(path, key: key, range: range)
        } catch let error as StreamError where error.code == .notFound {
            throw StreamError(.notFound, "\(description): object \(key) not found", isTransient: false)
        }
    }

    private func readRange(_ path: String, key: String, range: Range<Int64>) throws -> [UInt8] {
        try pool.run("read \(key) \(range)") { connection in
            let handle = try connection.open(path, write: false)
            defer { try? connection.closeHandle(handle, path) }
            connection.seek(handle, to: range.lowerBound)
            var bytes: [UInt8] = []
            let wanted = Int(range.count)
            bytes.reserveCapacity(min(wanted, 64 << 20))
            while bytes.count < wanted {
                let chunk = try connection.read(handle, count: min(Self.chunkSize, wanted - bytes.count), path)
                if chunk.isEmpty { break }
                bytes += chunk
            }
            return bytes
        }
    }

    /// Streams an object in 256 KiB chunks, resuming at the delivered offset after a dropped connection.
    public func read(key: String, into sink: ([UInt8]) throws -> Void) throws {
        let path = try remotePath(key)
        // Resume where the last attempt stopped: the sink never sees a byte twice.
        var delivered: Int64 = 0
        do {
            try pool.run("read \(key)") { connection in
                let handle = try connection.open(path, write: false)
                defer { try? connection.closeHandle(handle, path) }
                connection.seek(handle, to: delivered)
                while true {
                    let chunk = try connection.read(handle, count: Self.chunkSize, path)
                    if chunk.isEmpty { break }
                    delivered += Int64(chunk.count)
                    do { try sink(chunk) } catch { throw SinkFailure(error: error) }
                }
            }
        } catch let failure as SinkFailure {
            throw failure.error
        } catch let error as StreamError where error.code == .notFound {
            throw StreamError(.notFound, "\(description): object \(key) not found", isTransient: false)
        }
    }

    // MARK: - List and delete

    /// Lists objects by walking directories (sizes from the directory entries), sorted by key.
    public func list(prefix: String) throws -> [ObjectInfo] {
        // Start the walk at the deepest directory the prefix names; filter the rest by prefix.
        let directoryPart = prefix.lastIndex(of: "/").map { String(prefix[..<$0]) } ?? ""
        if !directoryPart.isEmpty { _ = try remotePath(directoryPart) }
        let start = directoryPart.isEmpty ? root : Self.join(root, directoryPart)
        let objects = try pool.run("list \(prefix)") { connection in
            var found: [ObjectInfo] = []
            try walk(connection, directory: start, relative: directoryPart, into: &found)
            return found
        }
        return objects.filter { $0.key.hasPrefix(prefix) }.sorted { $0.key < $1.key }
    }

    /// Collects the regular files under `directory`, recursively; a directory that vanished is empty.
    private func walk(_ connection: SSH2Connection, directory: String, relative: String, into found: inout [ObjectInfo]) throws {
        let entries: [SFTPDirectoryEntry]
        do {
            entries = try connection.readDirectory(directory)
        } catch SSH2Failure.status(let status, _) where SSH2Connection.isMissing(status) {
            return
        }
        for entry in entries where !SFTPLeftovers.isTemporary(entry.name) {
            let key = relative.isEmpty ? entry.name : relative + "/" + entry.name
            let path = Self.join(directory, entry.name)
            var attributes = entry.attributes
            if attributes.isSymbolicLink {
                // A link to a file lists as the file; links to directories are not followed (no loops).
                guard let target = try connection.stat(path), !target.isDirectory else { continue }
                attributes = target
            }
            if attributes.isDirectory {
                try walk(connection, directory: path, relative: key, into: &found)
            } else if attributes.isRegularFile {
                found.append(ObjectInfo(key: key, size: attributes.size))
            }
        }
    }

    /// Deletes objects (missing ones are fine) and the directories they leave empty.
    public func delete(keys: [String]) throws {
        let paths = try keys.map { try remotePath($0) }
        try pool.run("delete \(keys.count) object(s)") { connection in
            for path in paths {
                do {
                    try connection.unlink(path)
                } catch SSH2Failure.status(let status, _) where SSH2Connection.isMissing(status) {}
            }
            // Directories left empty go too (deepest first); a non-empty one stays, which is fine.
            var directories = Set(paths.map { Self.split($0).directory })
            while let directory = directories.max(by: { $0.count < $1.count }) {
                directories.remove(directory)
                guard directory != root, directory.hasPrefix(root + "/") || (root.isEmpty && !directory.isEmpty) else { continue }
                do {
                    try connection.rmdir(directory)
                    directories.insert(Self.split(directory).directory)
                } catch SSH2Failure.status {}
            }
        }
    }

    /// Closes the idle connections; the client reconnects on next use.
    public func close() {
        pool.close()
    }

    // MARK: - Paths and helpers

    /// The remote path of a key; keys are relative, `/`-separated, without empty, `.` or `..` parts.
    private func remotePath(_ key: String) throws -> String {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        if key.isEmpty || parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) || key.utf8.contains(0) {
            throw StreamError(.invalidConfiguration, "\(description): invalid object key \"\(key)\"", isTransient: false)
        }
        return Self.join(root, key)
    }

    /// Creates `directory` and its missing parents.
    private func makeDirectories(_ connection: SSH2Connection, _ directory: String) throws {
        if directory.isEmpty || directory == "/" || directory == "." { return }
        do {
            try connection.mkdir(directory)
        } catch SSH2Failure.status(let status, _) where SSH2Connection.isMissing(status) {
            try makeDirectories(connection, Self.split(directory).directory)
            try makeDirectoryTolerantly(connection, directory)
        } catch SSH2Failure.status {
            try makeDirectoryTolerantly(connection, directory)
        }
    }

    /// mkdir that accepts an existing directory (SFTPv3 reports EEXIST as a plain failure).
    private func makeDirectoryTolerantly(_ connection: SSH2Connection, _ directory: String) throws {
        do {
            try connection.mkdir(directory)
        } catch SSH2Failure.status(let status, let message) {
            guard let existing = try connection.stat(directory), existing.isDirectory else {
                throw SSH2Failure.status(status, message)
            }
        }
    }

    /// Removes temporaries left by failed attempts, best effort.
    private func removeLeftovers(on connection: SSH2Connection) {
        for temporary in leftovers.pending() {
            do {
                try connection.unlink(temporary)
                leftovers.remove(temporary)
            } catch SSH2Failure.status(let status, _) where SSH2Connection.isMissing(status) {
                leftovers.remove(temporary)
            } catch {
                return
            }
        }
    }

    /// Hands the source's bytes over in chunks: from memory, or read from a local file.
    private static func forEachChunk(of source: ObjectSource, key: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        switch source {
        case .bytes(let bytes):
            if bytes.isEmpty { return }
            try bytes.withUnsafeBytes { all in
                var offset = 0
                while offset < all.count {
                    let end = min(offset + chunkSize, all.count)
                    try body(UnsafeRawBufferPointer(rebasing: all[offset..<end]))
                    offset = end
                }
            }
        case .file(let path):
            guard let file = FileHandle(forReadingAtPath: path) else {
                throw StreamError(.io, "cannot open \(path) to upload it as \(key)", isTransient: false)
            }
            defer { try? file.close() }
            while true {
                let data: Data
                do {
                    data = try file.read(upToCount: chunkSize) ?? Data()
                } catch {
                    throw StreamError(.io, "cannot read \(path) to upload it as \(key): \(error)", isTransient: false)
                }
                if data.isEmpty { return }
                try data.withUnsafeBytes { try body($0) }
            }
        }
    }

    static func join(_ directory: String, _ name: String) -> String {
        if directory.isEmpty { return name }
        return directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return ("", path) }
        let directory = slash == path.startIndex ? "/" : String(path[..<slash])
        return (directory, String(path[path.index(after: slash)...]))
    }

    private static func randomSuffix() -> String {
        let value = UInt64.random(in: 0...UInt64.max)
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// A caller's sink failed: passed through without retrying.
private struct SinkFailure: Error {
    var error: any Error
}

/// Temporary names of uploads whose attempt failed, to remove on the next connection.
final class SFTPLeftovers: @unchecked Sendable {
    // @unchecked Sendable because `names` is only touched under `lock`.
    private let lock = NSLock()
    private var names: Set<String> = []

    /// What every temporary name contains; listing skips such names.
    static let marker = "witchbolt-tmp-"

    /// Whether a directory entry is an upload in progress (or one left behind).
    static func isTemporary(_ name: String) -> Bool {
        name.hasPrefix(".") && name.contains("." + marker)
    }

    func add(_ name: String) { lock.lock(); names.insert(name); lock.unlock() }
    func remove(_ name: String) { lock.lock(); names.remove(name); lock.unlock() }
    func pending() -> [String] { lock.lock(); defer { lock.unlock() }; return Array(names) }
}
