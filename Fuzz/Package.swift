// swift-tools-version:6.2
//
// The fuzz targets, kept out of the main package so that `swift build` and `swift test` there
// never build them. Build and run one with `Fuzz/run TARGET SECONDS` (it uses
// `swift build --sanitize=address --sanitize=fuzzer`, in that order, which keeps coverage).
//
// - `FuzzHostileFile`: the input is a database file; it is opened read-only, every bucket and
//   key walked both ways, and checked; a file that checks clean is then written to.
// - `FuzzOperations`: the input drives random transactions (puts, deletes, nested buckets,
//   sequences, rollbacks) against the reference model, with crash points and simulated power
//   loss at commits.
// - `MakeSeeds`: writes the seed corpora (a normal executable, built without sanitizers).
//
// `FuzzSupport` shares the reference model and the power-loss harness with the proof tests
// through symlinks into Tests/WitchboltTestSupport.
import Foundation
import PackageDescription

// A path dependency's identity is its directory's name, which differs between checkouts.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let rootIdentity = root.lastPathComponent

let package = Package(
    name: "WitchboltFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: root.path),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .target(
            name: "FuzzSupport",
            dependencies: [
                .product(name: "Witchbolt", package: rootIdentity),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "FuzzHostileFile", dependencies: ["FuzzSupport"]),
        .executableTarget(name: "FuzzOperations", dependencies: ["FuzzSupport"]),
        .executableTarget(
            name: "MakeSeeds",
            dependencies: ["FuzzSupport", .product(name: "Witchbolt", package: rootIdentity)]
        ),
    ]
)
