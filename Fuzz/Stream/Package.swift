// swift-tools-version:6.2
//
// libFuzzer targets for the stream's artefact parsing (segment and snapshot files), kept in a
// package of their own so that they never affect `swift build` of the main package: each
// target is a lone `@_cdecl("LLVMFuzzerTestOneInput")` function, linked with libFuzzer's main.
//
//   cd Fuzz/Stream
//   swift build --sanitize=fuzzer --product FuzzSegment      # or FuzzSnapshot
//   SWIFT_BACKTRACE=enable=no .build/debug/FuzzSegment Corpus/segment -max_total_time=60
//
// (`--sanitize=address --sanitize=fuzzer`, in that order, adds ASan.)
import PackageDescription

let package = Package(
    name: "WitchboltStreamFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Witchbolt", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "FuzzSegment",
            dependencies: [.product(name: "WitchboltStream", package: "Witchbolt")]
        ),
        .executableTarget(
            name: "FuzzSnapshot",
            dependencies: [.product(name: "WitchboltStream", package: "Witchbolt")]
        ),
    ]
)
