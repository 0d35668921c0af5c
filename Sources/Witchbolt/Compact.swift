// Licensed under the Apache License, Version 2.0. Port of bbolt's compact.go.
//
// Compaction copies every bucket, nested bucket, sequence, key and value of one database into
// another, committing every `txMaxSize` bytes so that a large database compacts in bounded
// memory. The target gets fresh, full pages and no free pages.

extension DB {
    /// Copies everything in `source` into `target` (normally a new, empty database).
    ///
    /// - Parameters:
    ///   - txMaxSize: the bytes of keys and values after which a write transaction commits;
    ///     0 copies everything in one transaction.
    public static func compact(from source: DB, to target: DB, txMaxSize: Int = 64 << 20) throws {
        var writer = try target.begin(writable: true)
        var written = 0
        do {
            try source.view { sourceTx in
                // Walk the source depth first; `path` names the bucket being copied.
                func copyBucket(_ bucket: Bucket, path: [[UInt8]]) throws {
                    let c = bucket.cursor()
                    var item = try c.first()
                    while let (key, value) = item {
                        // Commit when the transaction has grown past the limit.
                        if txMaxSize > 0 && written + key.count + (value?.count ?? 0) > txMaxSize {
                            try writer.commit()
                            writer = try target.begin(writable: true)
                            written = 0
                        }
                        written += key.count + (value?.count ?? 0)
                        if let value {
                            try targetBucket(writer, path).put(key, value)
                        } else {
                            let child = try bucket.requireBucket(key)
                            let created = try createTarget(writer, path, key)
                            if child.sequence != 0 { try created.setSequence(child.sequence) }
                            try copyBucket(child, path: path + [key])
                        }
                        item = try c.next()
                    }
                }
                try copyBucket(sourceTx.rootBucket, path: [])
                if sourceTx.rootBucket.sequence != 0 { try writer.rootBucket.setSequence(sourceTx.rootBucket.sequence) }
            }
            try writer.commit()
        } catch {
            writer.rollback()
            throw error
        }
    }

    private static func targetBucket(_ tx: Tx, _ path: [[UInt8]]) throws -> Bucket {
        var b = tx.rootBucket
        for name in path { b = try b.requireBucket(name) }
        return b
    }

    private static func createTarget(_ tx: Tx, _ path: [[UInt8]], _ name: [UInt8]) throws -> Bucket {
        try targetBucket(tx, path).createBucketIfNotExists(name)
    }
}
