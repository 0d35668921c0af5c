// `witchbolt stats PATH [PREFIX]`: page and bucket statistics summed over the top-level buckets
// whose names start with PREFIX (bbolt: cmd/bbolt stats, same wording).

import ArgumentParser
import Witchbolt

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Print page and bucket statistics of a database.",
        discussion: "Sums bbolt's BucketStats over the top-level buckets whose names start with PREFIX (all by default)."
    )

    @Argument(help: "The database file.")
    var path: String

    @Argument(help: "Only top-level buckets whose names start with this prefix.")
    var prefix: String = ""

    func run() throws {
        let (s, count) = try withReadTransaction(path) { tx -> (BucketStats, Int) in
            var s = BucketStats()
            var count = 0
            let prefixBytes = Array(prefix.utf8)
            try tx.forEach { name, bucket in
                guard name.starts(with: prefixBytes) else { return }
                s.add(try bucket.statistics())
                count += 1
            }
            return (s, count)
        }
        func percent(_ part: Int, _ whole: Int) -> Int { whole == 0 ? 0 : part * 100 / whole }
        print("Aggregate statistics for \(count) buckets")
        print("")
        print("Page count statistics")
        print("\tNumber of logical branch pages: \(s.branchPageCount)")
        print("\tNumber of physical branch overflow pages: \(s.branchOverflowCount)")
        print("\tNumber of logical leaf pages: \(s.leafPageCount)")
        print("\tNumber of physical leaf overflow pages: \(s.leafOverflowCount)")
        print("Tree statistics")
        print("\tNumber of keys/value pairs: \(s.keyCount)")
        print("\tNumber of levels in B+tree: \(s.depth)")
        print("Page size utilization")
        print("\tBytes allocated for physical branch pages: \(s.branchAllocated)")
        print("\tBytes actually used for branch data: \(s.branchInUse) (\(percent(s.branchInUse, s.branchAllocated))%)")
        print("\tBytes allocated for physical leaf pages: \(s.leafAllocated)")
        print("\tBytes actually used for leaf data: \(s.leafInUse) (\(percent(s.leafInUse, s.leafAllocated))%)")
        print("Bucket statistics")
        print("\tTotal number of buckets: \(s.bucketCount)")
        print("\tTotal number on inlined buckets: \(s.inlineBucketCount) (\(percent(s.inlineBucketCount, s.bucketCount))%)")
        print("\tBytes used for inlined buckets: \(s.inlineBucketInUse) (\(percent(s.inlineBucketInUse, s.leafInUse))%)")
    }
}
