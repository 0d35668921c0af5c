// swift-tools-version:6.2
//
// Witchbolt for Swift: an embedded bbolt-compatible B+tree with page-level replication.
//
// Targets, from the bottom up:
// - `CPageIO`: the only C the engine needs (pwrite/pread loops, fdatasync, mmap, flock...),
//   each call returning a count or `-errno`.
// - `Witchbolt`: the engine. It imports only the standard library, Synchronization,
//   swift-log and `CPageIO`; it never knows that replication exists.
// - `WitchboltStream`: replication (shadow log, segments, snapshots, generations, retention,
//   lag, restore) and the replica clients, each C library wrapped in one small file of its
//   backend (`CZstd`, `CCurl`, `CSSH2`, `CNats`).
// - `WitchboltCLI` (product `witchbolt`): inspection, compaction, restore and the demo.
// - `WitchboltBench` (product `witchbolt-bench`): the side-by-side benchmark; with the tests,
//   the only code that links LMDB (`CLMDB`).
//
// Compilation conditions:
// - `WITCHBOLT_TEST_HOOKS` (debug builds only) compiles the fault-injection seam and the
//   named failpoints; release builds carry neither the code nor its cost.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("MemberImportVisibility"),
]
let engineSettings: [SwiftSetting] = swiftSettings + [
    .define("WITCHBOLT_TEST_HOOKS", .when(configuration: .debug)),
]

let package = Package(
    name: "Witchbolt",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Witchbolt", targets: ["Witchbolt"]),
        .library(name: "WitchboltStream", targets: ["WitchboltStream"]),
        .executable(name: "witchbolt", targets: ["WitchboltCLI"]),
        .executable(name: "witchbolt-bench", targets: ["WitchboltBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/pointfreeco/swift-clocks", from: "1.1.1"),
    ],
    targets: [
        .target(name: "CPageIO"),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd"),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl"),
        .systemLibrary(name: "CSSH2", pkgConfig: "libssh2"),
        .systemLibrary(name: "CNats", pkgConfig: "libnats"),
        .systemLibrary(name: "CLMDB", pkgConfig: "lmdb"),

        .target(
            name: "Witchbolt",
            dependencies: [
                "CPageIO",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: engineSettings
        ),
        .target(
            name: "WitchboltStream",
            dependencies: [
                "Witchbolt", "CZstd", "CCurl", "CSSH2", "CNats",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Clocks", package: "swift-clocks"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WitchboltBenchKit",
            dependencies: ["Witchbolt", "WitchboltStream"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "WitchboltCLI",
            dependencies: [
                "Witchbolt", "WitchboltStream", "WitchboltBenchKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "WitchboltBench",
            dependencies: [
                "Witchbolt", "WitchboltStream", "WitchboltBenchKit", "CLMDB",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/WitchboltBench",
            swiftSettings: swiftSettings
        ),

        .target(
            name: "WitchboltTestSupport",
            dependencies: ["Witchbolt"],
            path: "Tests/WitchboltTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "WitchboltTests",
            dependencies: ["Witchbolt", "WitchboltTestSupport"],
            swiftSettings: engineSettings
        ),
        .testTarget(
            name: "WitchboltProofTests",
            dependencies: ["Witchbolt", "WitchboltTestSupport", "CLMDB"],
            exclude: ["KillChild"],
            swiftSettings: engineSettings
        ),
        // The child process the kill tests SIGKILL (and run crash repros in).
        .executableTarget(
            name: "WitchboltProofChild",
            dependencies: ["Witchbolt"],
            path: "Tests/WitchboltProofTests/KillChild",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "WitchboltStreamTests",
            dependencies: [
                "Witchbolt", "WitchboltStream", "WitchboltTestSupport",
                .product(name: "Clocks", package: "swift-clocks"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "WitchboltCLITests",
            dependencies: ["Witchbolt", "WitchboltTestSupport", "WitchboltBenchKit"],
            swiftSettings: swiftSettings
        ),
    ]
)
