// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "vstream",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "HLSEngine", targets: ["HLSEngine"]),
        .library(name: "BenchKit", targets: ["BenchKit"]),
        .executable(name: "vstream", targets: ["vstream"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // libavcodec, libavformat, libswscale, libswresample, libavutil (Debian: lib*-dev).
        .systemLibrary(name: "CAV", path: "Sources/CAV"),
        .target(
            name: "HLSEngine",
            dependencies: ["CAV"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // `vstream bench`: the engine against the ffmpeg CLI, as whole processes.
        .target(
            name: "BenchKit",
            dependencies: ["HLSEngine"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "vstream",
            dependencies: [
                "HLSEngine",
                "BenchKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .testTarget(
            name: "BenchKitTests",
            dependencies: ["BenchKit", "HLSEngine"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .testTarget(
            name: "HLSEngineTests",
            dependencies: ["HLSEngine", "CAV"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
