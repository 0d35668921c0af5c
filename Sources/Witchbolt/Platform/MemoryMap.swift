// Licensed under the Apache License, Version 2.0. bbolt: bolt_unix.go mmap, db.go mmap/mmapSize.
//
// The read-only shared mapping of the database file. bbolt maps exactly what it needs and
// remaps to grow, and a remap waits for every reader: a long read transaction blocks the
// writer (bbolt#850). We map a large window up front instead: Linux lets a mapping extend past
// the end of the file, and pages the file later grows into become readable through the same
// mapping, at the same addresses. Growth therefore never remaps while the file fits in the
// window (64 GiB by default, or `initialMmapSize`, or twice the file's size), and readers
// never block writers. Only a file that outgrows the window is remapped, into a larger
// window; the old window stays mapped until every transaction that used it has ended.

import CPageIO
#if canImport(Glibc)
import Glibc
#endif

/// One mapping of the database file.
final class MemoryMap: @unchecked Sendable {
    // @unchecked Sendable because the mapping is read-only and immutable: `base` and `length`
    // never change, and the memory is unmapped only in deinit, when no transaction holds it.
    let base: UnsafeRawPointer
    let length: Int

    /// Maps `length` bytes, or, where the address space is limited (ENOMEM: `ulimit -v`,
    /// valgrind), the largest halving of it that still covers `minimum` bytes.
    init(file: DataFile, length: Int, minimum: Int = 0) throws {
        var out: UnsafeMutableRawPointer?
        var size = length
        while true {
            let rc = cpageio_mmap_readonly(file.fd, size, &out)
            if rc == 0 { break }
            if rc == -ENOMEM && size / 2 >= max(minimum, 1 << 20) {
                size /= 2
                continue
            }
            throw SystemCall.error("mmap", path: file.path, rc: rc)
        }
        base = UnsafeRawPointer(out!)
        self.length = size
        _ = cpageio_madvise_random(out, size)
    }

    deinit { _ = cpageio_munmap(UnsafeMutableRawPointer(mutating: base), length) }

    /// The window to map for a file of `fileSize` bytes.
    static func windowSize(fileSize: Int64, initial: Int, pageSize: Int) -> Int {
        // An explicit initial size is honoured (growth past it remaps); the default is 64 GiB.
        let floor = initial > 0 ? initial : 64 << 30
        var size = max(floor, Int(fileSize) * 2)
        size = min(size, PageLayout.maxMapSize)
        return (size + pageSize - 1) / pageSize * pageSize
    }
}
