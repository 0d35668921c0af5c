// Licensed under the Apache License, Version 2.0. Constants of bbolt's file format version 2
// (bbolt: internal/common/page.go, types.go, bolt_amd64.go), in one place.

/// A page number in the file.
typealias PageID = UInt64
/// A transaction id.
typealias TxID = UInt64

enum PageLayout {
    /// The size of a page header: id (8), flags (2), count (2), overflow (4).
    static let headerSize = 16
    /// The size of a branch element: pos (4), ksize (4), pgid (8).
    static let branchElementSize = 16
    /// The size of a leaf element: flags (4), pos (4), ksize (4), vsize (4).
    static let leafElementSize = 16
    /// The size of the meta structure after the page header.
    static let metaSize = 64
    /// The size of a bucket header: root (8), sequence (8).
    static let bucketHeaderSize = 16

    static let branchFlag: UInt16 = 0x01
    static let leafFlag: UInt16 = 0x02
    static let metaFlag: UInt16 = 0x04
    static let freelistFlag: UInt16 = 0x10

    /// Leaf element flag: the value is a bucket header (and maybe an inline page).
    static let bucketLeafFlag: UInt32 = 0x01

    static let magic: UInt32 = 0xED0C_DAED
    static let version: UInt32 = 2
    /// The meta page's freelist id when the freelist is not stored (NoFreelistSync).
    static let noFreelist: PageID = 0xFFFF_FFFF_FFFF_FFFF

    static let minKeysPerPage = 2
    static let maxKeySize = 32768
    static let maxValueSize = (1 << 31) - 2
    static let minFillPercent = 0.1
    static let maxFillPercent = 1.0
    static let defaultFillPercent = 0.5
    static let maxMapSize = 0xFFFF_FFFF_FFFF
    static let maxAllocSize = 0x7FFF_FFFF
    static let minPageSize = 1024
    static let maxPageSize = 65536
    static let defaultPageSize = 4096
}
