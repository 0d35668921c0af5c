// Licensed under the Apache License, Version 2.0. Port of bbolt's internal/common/meta.go.
//
// The meta page: 64 bytes after a page header, at pages 0 and 1. Commits alternate between
// them (`txid % 2`), and the one with the higher txid that validates is the active one. The
// checksum is FNV-1a 64 over the 56 bytes from magic to txid.

/// The on-disk bucket header: the root page of a bucket's tree and its sequence.
struct BucketHeader: Equatable {
    var root: PageID
    var sequence: UInt64

    init(root: PageID, sequence: UInt64) {
        self.root = root
        self.sequence = sequence
    }

    init(reading p: UnsafeRawPointer) {
        root = p.loadUnaligned(as: UInt64.self)
        sequence = p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
    }

    func write(to p: UnsafeMutableRawPointer) {
        p.storeBytes(of: root, as: UInt64.self)
        p.storeBytes(of: sequence, toByteOffset: 8, as: UInt64.self)
    }
}

/// The meta structure of a meta page.
struct Meta: Equatable {
    var magic: UInt32 = PageLayout.magic
    var version: UInt32 = PageLayout.version
    var pageSize: UInt32
    var flags: UInt32 = 0
    var root: BucketHeader
    var freelist: PageID
    /// The high-water mark: the number of pages in use, and the next new page id.
    var pgid: PageID
    var txid: TxID
    var checksum: UInt64 = 0

    init(pageSize: UInt32, root: BucketHeader, freelist: PageID, pgid: PageID, txid: TxID) {
        self.pageSize = pageSize
        self.root = root
        self.freelist = freelist
        self.pgid = pgid
        self.txid = txid
    }

    /// Reads the meta structure of the meta page at `page` (the page header's start).
    init(page: UnsafeRawPointer) {
        let m = page + PageLayout.headerSize
        magic = m.loadUnaligned(as: UInt32.self)
        version = m.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
        pageSize = m.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
        flags = m.loadUnaligned(fromByteOffset: 12, as: UInt32.self)
        root = BucketHeader(reading: m + 16)
        freelist = m.loadUnaligned(fromByteOffset: 32, as: UInt64.self)
        pgid = m.loadUnaligned(fromByteOffset: 40, as: UInt64.self)
        txid = m.loadUnaligned(fromByteOffset: 48, as: UInt64.self)
        checksum = m.loadUnaligned(fromByteOffset: 56, as: UInt64.self)
    }

    /// bbolt's `Validate`: magic, then version, then checksum.
    func validate() -> WitchboltError? {
        if magic != PageLayout.magic { return WitchboltError(.invalid, "invalid database: bad magic 0x\(String(magic, radix: 16))") }
        if version != PageLayout.version { return WitchboltError(.versionMismatch, "version mismatch: file has version \(version), expected \(PageLayout.version)") }
        if checksum != computedChecksum() { return WitchboltError(.checksum, "checksum error: meta page checksum does not match its contents") }
        return nil
    }

    /// FNV-1a 64 over the 56 bytes magic...txid, laid out as on disk.
    func computedChecksum() -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        @inline(__always) func mix<T: FixedWidthInteger>(_ v: T) {
            var x = v.littleEndian
            withUnsafeBytes(of: &x) { bytes in
                for b in bytes {
                    hash ^= UInt64(b)
                    hash = hash &* 0x0000_0100_0000_01B3
                }
            }
        }
        mix(magic); mix(version); mix(pageSize); mix(flags)
        mix(root.root); mix(root.sequence); mix(freelist); mix(pgid); mix(txid)
        return hash
    }

    /// Writes a meta page's header and meta (checksum computed) into the first
    /// `headerSize + metaSize` bytes of `page`, whose other bytes must be zero; the page id
    /// is `txid % 2`.
    func write(toPage page: UnsafeMutableRawPointer) {
        precondition(root.root < pgid, "meta root page \(root.root) is at or past the high-water mark \(pgid)")
        precondition(freelist < pgid || freelist == PageLayout.noFreelist, "meta freelist page \(freelist) is past the high-water mark \(pgid)")
        page.storeBytes(of: txid % 2, as: UInt64.self)
        page.storeBytes(of: PageLayout.metaFlag, toByteOffset: 8, as: UInt16.self)
        page.storeBytes(of: 0, toByteOffset: 10, as: UInt16.self)
        page.storeBytes(of: 0, toByteOffset: 12, as: UInt32.self)
        let m = page + PageLayout.headerSize
        m.storeBytes(of: magic, as: UInt32.self)
        m.storeBytes(of: version, toByteOffset: 4, as: UInt32.self)
        m.storeBytes(of: pageSize, toByteOffset: 8, as: UInt32.self)
        m.storeBytes(of: flags, toByteOffset: 12, as: UInt32.self)
        root.write(to: m + 16)
        m.storeBytes(of: freelist, toByteOffset: 32, as: UInt64.self)
        m.storeBytes(of: pgid, toByteOffset: 40, as: UInt64.self)
        m.storeBytes(of: txid, toByteOffset: 48, as: UInt64.self)
        m.storeBytes(of: computedChecksum(), toByteOffset: 56, as: UInt64.self)
    }
}
