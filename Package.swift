// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "vstream",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "HLSEngine", targets: ["HLSEngine"]),
        .library(name: "BenchKit", targets: ["BenchKit"]),
        .library(name: "StreamServer", targets: ["StreamServer"]),
        .executable(name: "vstream", targets: ["vstream"]),
        // The engine's fuzz target (`make fuzz`), and the replay of its inputs otherwise.
        .executable(name: "vstream-fuzz", targets: ["VStreamFuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // libavcodec, libavformat, libswscale, libswresample, libavutil (Debian: lib*-dev).
        .systemLibrary(name: "CAV", path: "Sources/CAV"),
        // libcurl (Debian: libcurl4-openssl-dev): the server's calls to S3-compatible storage.
        .systemLibrary(name: "CCurl", path: "Sources/CCurl"),
        // hiredis (Debian: libhiredis-dev): progress and jobs on Redis.
        .systemLibrary(name: "CHiredis", path: "Sources/CHiredis"),
        // libpq (Debian: libpq-dev): the production metadata store.
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ"),
        // zlib (Debian: zlib1g-dev): gzip for playlists.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        // libebur128 (Debian: libebur128-dev): the loudness of each audio track (EBU R128).
        .systemLibrary(name: "CEBUR128", path: "Sources/CEBUR128"),
        // libsqlite3 (Debian: libsqlite3-dev): the embedded default's metadata store.
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
        // The Linux calls of a supervised transcoder: network namespace, parent-death
        // signal, closing inherited descriptors, the address-space limit.
        .target(name: "CSandbox"),
        // posix_spawn with a clean signal mask and no inherited descriptors.
        .target(
            name: "ChildProcess",
            dependencies: ["CSandbox"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .target(
            name: "HLSEngine",
            dependencies: ["CAV", "CEBUR128"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // The service: HTTP routes, storage, metadata, progress and jobs, metrics.
        .target(
            name: "StreamServer",
            dependencies: [
                "HLSEngine", "CSQLite", "CCurl", "CLibPQ", "CHiredis", "CZlib", "ChildProcess", "CSandbox",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // `vstream bench`: the engine against the ffmpeg CLI, as whole processes.
        .target(
            name: "BenchKit",
            dependencies: ["HLSEngine", "ChildProcess"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "VStreamFuzz",
            dependencies: ["HLSEngine"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "vstream",
            dependencies: [
                "HLSEngine",
                "BenchKit",
                "StreamServer",
                "ChildProcess",
                "CSandbox",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .testTarget(
            name: "StreamServerTests",
            dependencies: ["StreamServer", "ChildProcess", .product(name: "HummingbirdTesting", package: "hummingbird"),
                           .product(name: "JWTKit", package: "jwt-kit")],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .testTarget(
            name: "BenchKitTests",
            dependencies: ["BenchKit", "HLSEngine"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .testTarget(
            name: "HLSEngineTests",
            dependencies: ["HLSEngine", "CAV", "ChildProcess"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
