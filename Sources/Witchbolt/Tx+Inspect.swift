// Licensed under the Apache License, Version 2.0. Port of bbolt's Tx.Page, Bucket.Stats and
// the page reading of its CLI (cmd/bbolt: pages, page, stats).
//
// A read-only window on the file's pages for inspection tools (`witchbolt pages`, `page`,
// `stats`, `info`): what kind each page is, its overflow and element count, whether it is
// free, its bytes, its decoded elements, both meta pages, and bbolt's per-bucket page
// statistics. Nothing here changes the database. Every read is bounded by the transaction's
// high-water mark, and a hostile page gives an error or an empty element list, never a read
// outside the file. Everything is handed out as copies.

/// The kind of a page, as bbolt's `pages` command names it.
public enum PageKind: String, Sendable, Equatable {
    /// An interior page of a bucket's tree.
    case branch
    /// A leaf page of a bucket's tree.
    case leaf
    /// One of the two meta pages.
    case meta
    /// A page of the stored free list.
    case freelist
    /// A free (or pending) page: listed in the free list.
    case free
    /// A page whose flags are none of the above.
    case unknown
}

/// What one page holds, as bbolt's `Tx.Page` describes it.
public struct PageInfo: Sendable, Equatable {
    /// The page id.
    public var id: UInt64
    /// The page's kind; `.free` when the free list holds it (whatever its stale bytes say).
    public var kind: PageKind
    /// The raw flags of the page header.
    public var flags: UInt16
    /// The element count of the page header (for a free list page in the overflow form, 0xFFFF).
    public var count: Int
    /// The number of additional pages this page spans.
    public var overflow: UInt32
    /// True when the page is free but a transaction that may still be read freed it
    /// (known only in a read-write open, whose free list tracks pending pages).
    public var isPending: Bool
}

/// The fields of a meta page.
public struct MetaInfo: Sendable, Equatable {
    /// The page the meta was read from (0 or 1).
    public var pageID: UInt64
    /// The magic number (0xED0CDAED in a valid file).
    public var magic: UInt32
    /// The format version (2).
    public var version: UInt32
    /// The page size in bytes.
    public var pageSize: UInt32
    /// The flags field (always 0).
    public var flags: UInt32
    /// The root page of the root bucket.
    public var rootPageID: UInt64
    /// The root bucket's sequence.
    public var rootSequence: UInt64
    /// The free list page, or `UInt64.max` when the free list is not stored.
    public var freelistPageID: UInt64
    /// The high-water mark: the number of pages in use.
    public var highWaterMark: UInt64
    /// The transaction id that wrote this meta page.
    public var txid: UInt64
    /// The stored checksum.
    public var checksum: UInt64
    /// Nil when the meta page validates, else the reason it does not.
    public var problem: String?
}

/// One element of a branch or leaf page (or of an inline bucket's page).
public struct PageElement: Sendable, Equatable {
    /// The key.
    public var key: [UInt8]
    /// A leaf's value (for a bucket element, the bucket header and any inline page); empty in a branch.
    public var value: [UInt8]
    /// A leaf element's flags (0x01: the value is a nested bucket); 0 in a branch.
    public var flags: UInt32
    /// A branch element's child page; 0 in a leaf.
    public var childPageID: UInt64

    /// Whether this leaf element holds a nested bucket.
    public var isBucket: Bool { flags & 0x01 != 0 }
}

/// The decoded content of one page.
public enum PageContent: Sendable, Equatable {
    /// A meta page.
    case meta(MetaInfo)
    /// A free list page and the ids it stores.
    case freelist([UInt64])
    /// A branch page's elements.
    case branch([PageElement])
    /// A leaf page's elements.
    case leaf([PageElement])
    /// A free page or a page of unknown kind: only its header means anything.
    case other
}

/// Page statistics of a bucket and everything nested in it (bbolt: BucketStats).
public struct BucketStats: Sendable, Equatable {
    /// Logical branch pages (an overflowing page counts once).
    public var branchPageCount = 0
    /// Physical overflow pages of branch pages.
    public var branchOverflowCount = 0
    /// Logical leaf pages.
    public var leafPageCount = 0
    /// Physical overflow pages of leaf pages.
    public var leafOverflowCount = 0
    /// Elements of leaf pages: keys and nested buckets.
    public var keyCount = 0
    /// The depth of the tree, nested buckets' trees included.
    public var depth = 0
    /// Bytes of the branch pages (with overflow).
    public var branchAllocated = 0
    /// Bytes of the branch pages in use (headers, elements, keys).
    public var branchInUse = 0
    /// Bytes of the leaf pages (with overflow).
    public var leafAllocated = 0
    /// Bytes of the leaf pages in use.
    public var leafInUse = 0
    /// Buckets, this one included.
    public var bucketCount = 0
    /// Inline buckets (stored in their parent's value).
    public var inlineBucketCount = 0
    /// Bytes the inline buckets' pages use.
    public var inlineBucketInUse = 0

    /// An empty set of statistics.
    public init() {}

    /// Adds `other` to these statistics; depth takes the larger of the two (bbolt: BucketStats.Add).
    public mutating func add(_ other: BucketStats) {
        branchPageCount += other.branchPageCount
        branchOverflowCount += other.branchOverflowCount
        leafPageCount += other.leafPageCount
        leafOverflowCount += other.leafOverflowCount
        keyCount += other.keyCount
        depth = max(depth, other.depth)
        branchAllocated += other.branchAllocated
        branchInUse += other.branchInUse
        leafAllocated += other.leafAllocated
        leafInUse += other.leafInUse
        bucketCount += other.bucketCount
        inlineBucketCount += other.inlineBucketCount
        inlineBucketInUse += other.inlineBucketInUse
    }
}

extension Tx {
    // MARK: Meta pages

    /// Both meta pages as the file holds them now (pages 0 and 1), each with its validity.
    public func metaPages() -> [MetaInfo] {
        (PageID(0)...1).map { id in
            let m = Meta(page: UnsafeRawPointer(map.base + Int(id) * pageSize))
            return MetaInfo(pageID: id, magic: m.magic, version: m.version, pageSize: m.pageSize, flags: m.flags,
                            rootPageID: m.root.root, rootSequence: m.root.sequence, freelistPageID: m.freelist,
                            highWaterMark: m.pgid, txid: m.txid, checksum: m.checksum, problem: m.validate()?.description)
        }
    }

    /// The meta this transaction sees (for a writer, with its own txid).
    public var activeMeta: MetaInfo {
        MetaInfo(pageID: meta.txid % 2, magic: meta.magic, version: meta.version, pageSize: meta.pageSize, flags: meta.flags,
                 rootPageID: meta.root.root, rootSequence: meta.root.sequence, freelistPageID: meta.freelist,
                 highWaterMark: meta.pgid, txid: meta.txid, checksum: meta.checksum, problem: nil)
    }

    // MARK: Free pages

    /// The free pages as this transaction's meta page has them, sorted: the stored free list,
    /// or, without one, every page no bucket reaches. In a read-write open this includes the
    /// pending pages (as the stored free list does).
    /// - Throws: `.corrupted` when the free list page or the tree is invalid.
    public func freePageIDs() throws -> [UInt64] {
        if isWritable, let freelist = database.freelist { return freelist.copyAll() }
        if meta.freelist == PageLayout.noFreelist { return try database.reachableFreePages(meta: meta) }
        return try database.freelistIDs(at: meta.freelist, meta: meta).sorted()
    }

    /// The pages a transaction that may still be read freed (empty in a read-only open).
    func pendingPageIDs() -> Set<PageID> {
        guard let freelist = database.freelist else { return [] }
        var ids = Set<PageID>()
        for entry in freelist.pending.values { ids.formUnion(entry.ids) }
        return ids
    }

    // MARK: Pages

    /// The header of page `id`, bounded by the high-water mark.
    private func pageHeader(_ id: UInt64) throws -> PageRef {
        guard id < meta.pgid else {
            throw WitchboltError(.invalid, "page \(id) is past the high-water mark \(meta.pgid)")
        }
        return PageRef(map.base + Int(id) * pageSize, extent: pageSize)
    }

    /// The number of pages page `id` spans as far as the file goes (1 + overflow, clamped at the high-water mark).
    private func span(of header: PageRef, id: UInt64) -> Int {
        Int(min(PageID(header.overflow), meta.pgid - id - 1)) + 1
    }

    /// Describes page `id` (bbolt: Tx.Page); nil at or past the high-water mark.
    ///
    /// - Parameter freePages: the result of ``freePageIDs()`` as a set, when describing many
    ///   pages (it is computed once per call otherwise).
    public func pageInfo(_ id: UInt64, freePages: Set<UInt64>? = nil) throws -> PageInfo? {
        guard id < meta.pgid else { return nil }
        let header = try pageHeader(id)
        let free = try freePages ?? Set(freePageIDs())
        let kind: PageKind
        if free.contains(id) {
            kind = .free
        } else {
            switch header.flags {
            case PageLayout.branchFlag: kind = .branch
            case PageLayout.leafFlag: kind = .leaf
            case PageLayout.metaFlag: kind = .meta
            case PageLayout.freelistFlag: kind = .freelist
            default: kind = .unknown
            }
        }
        return PageInfo(id: id, kind: kind, flags: header.flags, count: header.storedCount, overflow: header.overflow,
                        isPending: kind == .free && pendingPageIDs().contains(id))
    }

    /// The bytes of page `id` and its overflow pages (clamped at the high-water mark), as a copy.
    /// - Throws: `.invalid` when `id` is at or past the high-water mark.
    public func pageBytes(_ id: UInt64) throws -> [UInt8] {
        let header = try pageHeader(id)
        return Array(UnsafeRawBufferPointer(start: header.base, count: span(of: header, id: id) * pageSize))
    }

    /// The decoded content of page `id`: meta fields, free list ids, or branch and leaf elements.
    /// Elements whose bytes would lie outside the page read as empty.
    /// - Throws: `.invalid` when `id` is at or past the high-water mark, `.corrupted` when a
    ///   free list page's count runs past the page.
    public func pageContent(_ id: UInt64) throws -> PageContent {
        let header = try pageHeader(id)
        let page = PageRef(header.base, extent: span(of: header, id: id) * pageSize)
        switch header.flags {
        case PageLayout.metaFlag:
            let m = Meta(page: page.base)
            return .meta(MetaInfo(pageID: id, magic: m.magic, version: m.version, pageSize: m.pageSize, flags: m.flags,
                                  rootPageID: m.root.root, rootSequence: m.root.sequence, freelistPageID: m.freelist,
                                  highWaterMark: m.pgid, txid: m.txid, checksum: m.checksum, problem: m.validate()?.description))
        case PageLayout.freelistFlag:
            guard let ids = page.freelistIDs() else {
                throw WitchboltError(.corrupted, "free list page \(id): its count runs past the page")
            }
            return .freelist(ids)
        case PageLayout.branchFlag:
            return .branch(Self.elements(of: page))
        case PageLayout.leafFlag:
            return .leaf(Self.elements(of: page))
        default:
            return .other
        }
    }

    /// The elements of a branch or leaf page, as copies (only those whose headers fit in the page).
    private static func elements(of page: PageRef) -> [PageElement] {
        (0..<page.count).map { i in
            if page.isLeaf {
                return PageElement(key: Array(page.leafKey(i)), value: Array(page.leafValue(i)), flags: page.leafFlags(i), childPageID: 0)
            }
            return PageElement(key: Array(page.branchKey(i)), value: [], flags: 0, childPageID: page.branchPageID(i))
        }
    }
}

extension Bucket {
    /// Page statistics of this bucket and every bucket nested in it, from the pages this
    /// transaction reads (bbolt: Bucket.Stats). In a write transaction, changes not yet
    /// committed are not counted.
    /// - Throws: `.corrupted` when a page of the tree is invalid.
    public func statistics() throws -> BucketStats {
        var s = BucketStats()
        var nested = BucketStats()
        let pageSize = tx.pageSize
        s.bucketCount = 1
        if header.root == 0 { s.inlineBucketCount = 1 }

        // Visit every page of this bucket's tree (or its inline page), depth first.
        func visit(_ page: PageRef, depth: Int) throws {
            guard depth < Cursor.maxDepth else {
                throw WitchboltError(.corrupted, "bucket tree deeper than \(Cursor.maxDepth) levels")
            }
            let n = page.count
            if page.isLeaf {
                s.keyCount += n
                // Used bytes: the header, the element headers, and the last element's data end,
                // which (elements being packed in order) is where all the data ends.
                var used = PageLayout.headerSize
                if n > 0 {
                    let last = PageLayout.headerSize + (n - 1) * PageLayout.leafElementSize
                    let pos = Int(page.base.loadUnaligned(fromByteOffset: last + 4, as: UInt32.self))
                    let ksize = Int(page.base.loadUnaligned(fromByteOffset: last + 8, as: UInt32.self))
                    let vsize = Int(page.base.loadUnaligned(fromByteOffset: last + 12, as: UInt32.self))
                    used += PageLayout.leafElementSize * (n - 1) + pos + ksize + vsize
                }
                if header.root == 0 {
                    s.inlineBucketInUse += used
                } else {
                    s.leafPageCount += 1
                    s.leafInUse += used
                    s.leafOverflowCount += Int(page.overflow)
                    // Nested buckets add their own statistics.
                    for i in 0..<n where page.leafFlags(i) & PageLayout.bucketLeafFlag != 0 {
                        let child = try openBucket(value: page.leafValue(i), name: Array(page.leafKey(i)))
                        nested.add(try child.statistics())
                    }
                }
            } else if page.isBranch {
                s.branchPageCount += 1
                if n > 0 {
                    let last = PageLayout.headerSize + (n - 1) * PageLayout.branchElementSize
                    let pos = Int(page.base.loadUnaligned(fromByteOffset: last, as: UInt32.self))
                    let ksize = Int(page.base.loadUnaligned(fromByteOffset: last + 4, as: UInt32.self))
                    s.branchInUse += PageLayout.headerSize + PageLayout.branchElementSize * (n - 1) + pos + ksize
                } else {
                    s.branchInUse += PageLayout.headerSize
                }
                s.branchOverflowCount += Int(page.overflow)
                for i in 0..<n { try visit(try tx.page(page.branchPageID(i)), depth: depth + 1) }
            }
            s.depth = max(s.depth, depth + 1)
        }

        if header.root == 0 {
            if let inline = inlinePage { try visit(inline, depth: 0) }
        } else {
            try visit(try tx.page(header.root), depth: 0)
        }
        s.branchAllocated = (s.branchPageCount + s.branchOverflowCount) * pageSize
        s.leafAllocated = (s.leafPageCount + s.leafOverflowCount) * pageSize
        s.depth += nested.depth
        s.add(nested)
        return s
    }
}
