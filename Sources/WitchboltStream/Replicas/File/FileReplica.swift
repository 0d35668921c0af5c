// Licensed under the Apache License, Version 2.0.
//
// The file replica: a directory (a local disk, a mounted NFS or SMB share) holding the same
// layout as every other backend. Writes are atomic and durable: a temporary file in the
// target's own directory, fsync, rename over the key, fsync of the directory. Temporary files
// start with a dot and never show up in listings, so a crash mid-write leaves nothing a
// reader would mistake for an artefact.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A replica in a local directory.
public struct FileReplicaConfig: ReplicaConfig, Equatable {
    /// The replica's root directory (created on first write).
    public var path: String

    /// A file replica rooted at `path`.
    public init(path: String) {
        self.path = path
    }

    public var description: String { "file://" + path }

    public func makeClient() throws -> any ReplicaClient {
        try FileReplicaClient(root: path)
    }
}

/// The client of a file replica. Stateless apart from its root, so it is safe to share.
public final class FileReplicaClient: ReplicaClient {
    /// The root directory, without a trailing slash.
    public let root: String
    private static let chunkSize = 1 << 20

    /// A client for the directory `root`; it must be an absolute or relative path, not empty.
    public init(root: String) throws {
        guard !root.isEmpty else {
            throw StreamError(.invalidConfiguration, "file replica: the path is empty")
        }
        var trimmed = root
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.root = trimmed
    }

    public var description: String { "file://" + root }
    public var kind: String { "file" }

    public func write(key: String, from source: ObjectSource) throws {
        let path = try self.path(of: key)
        let directory = LocalFS.directoryName(path)
        try LocalFS.makeDirectories(directory)
        // Write the whole object beside its final name, and make it durable.
        let temporary = LocalFS.temporaryPath(beside: path, tag: "write")
        do {
            let file = try LocalFile.create(temporary, exclusive: true)
            switch source {
            case .bytes(let bytes):
                try file.write(bytes, at: 0)
            case .file(let sourcePath):
                let input = try LocalFile.openForReading(sourcePath)
                var offset: Int64 = 0
                while true {
                    let chunk = try input.read(count: Self.chunkSize, at: offset)
                    if chunk.isEmpty { break }
                    try file.write(chunk, at: offset)
                    offset += Int64(chunk.count)
                }
                try input.close()
            }
            try file.sync()
            try file.close()
            // Then publish it under its key in one step, and make the rename durable.
            try LocalFS.rename(temporary, path)
            try LocalFS.syncDirectory(directory)
        } catch {
            LocalFS.remove(temporary)
            throw error
        }
    }

    public func read(key: String) throws -> [UInt8] {
        let file = try open(key)
        let size = try file.size()
        return try file.read(count: Int(size), at: 0)
    }

    public func read(key: String, range: Range<Int64>) throws -> [UInt8] {
        let file = try open(key)
        let size = try file.size()
        let lower = min(max(0, range.lowerBound), size)
        let upper = min(max(lower, range.upperBound), size)
        return try file.read(count: Int(upper - lower), at: lower)
    }

    public func read(key: String, into sink: ([UInt8]) throws -> Void) throws {
        let file = try open(key)
        var offset: Int64 = 0
        while true {
            let chunk = try file.read(count: Self.chunkSize, at: offset)
            if chunk.isEmpty { return }
            try sink(chunk)
            offset += Int64(chunk.count)
        }
    }

    public func list(prefix: String) throws -> [ObjectInfo] {
        // Walk only the directory the prefix pins down, not the whole tree.
        let base = prefix.contains("/") ? String(prefix[..<prefix.lastIndex(of: "/")!]) : ""
        if !base.isEmpty { _ = try path(of: base) }
        var found: [ObjectInfo] = []
        try walk(directory: base.isEmpty ? root : root + "/" + base, keyPrefix: base.isEmpty ? "" : base + "/", into: &found)
        return found.filter { $0.key.hasPrefix(prefix) }
            .sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
    }

    public func delete(keys: [String]) throws {
        var directories = Set<String>()
        for key in keys {
            let path = try self.path(of: key)
            if unlink(path) != 0 && errno != ENOENT {
                throw StreamError(.io, "\(description): delete \(key): \(errorText(errno))")
            }
            directories.insert(LocalFS.directoryName(path))
        }
        // Prune directories left empty, deepest first, never the root itself.
        for directory in directories.sorted(by: { $0.count > $1.count }) {
            var current = directory
            while current.count > root.count, current.hasPrefix(root + "/"), rmdir(current) == 0 {
                current = LocalFS.directoryName(current)
            }
        }
    }

    /// The local path of `key`, refusing keys that could escape the root.
    private func path(of key: String) throws -> String {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard !key.isEmpty, parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." && !$0.hasPrefix(".") }),
              !key.utf8.contains(0) else {
            throw StreamError(.invalidConfiguration, "\(description): invalid object key \"\(key)\"")
        }
        return root + "/" + key
    }

    private func open(_ key: String) throws -> LocalFile {
        let path = try self.path(of: key)
        do {
            let file = try LocalFile.openForReading(path)
            guard !LocalFS.isDirectory(path) else {
                throw StreamError(.notFound, "\(description): \(key) not found (it is a directory)")
            }
            return file
        } catch let error as StreamError where error.code == .notFound {
            throw StreamError(.notFound, "\(description): \(key) not found")
        }
    }

    /// Collects the regular files under `directory`, skipping dot files (temporary writes).
    private func walk(directory: String, keyPrefix: String, into found: inout [ObjectInfo]) throws {
        guard let dir = opendir(directory) else {
            if errno == ENOENT || errno == ENOTDIR { return }
            throw StreamError(.io, "\(description): cannot list \(directory): \(errorText(errno))")
        }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name.hasPrefix(".") { continue }
            let path = directory + "/" + name
            var st = stat()
            guard lstat(path, &st) == 0 else { continue }
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                try walk(directory: path, keyPrefix: keyPrefix + name + "/", into: &found)
            case S_IFREG:
                found.append(ObjectInfo(key: keyPrefix + name, size: Int64(st.st_size)))
            default:
                continue
            }
        }
    }
}
