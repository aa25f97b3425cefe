// swift-tools-version:6.2
import PackageDescription

// Dependencies come only from the machine's offline package set (see README "Building").
let package = Package(
    name: "borgpull",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "borgpull-client", targets: ["borgpull-client"]),
        .executable(name: "borgpull-server", targets: ["borgpull-server"]),
        .executable(name: "borgpull-check", targets: ["borgpull-check"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1")
    ],
    targets: [
        // Pure decisions: no OS calls, no Foundation file I/O. Unit-tested on fakes.
        // BorgPullVersion.current comes from debian/changelog (VersionPlugin).
        // Prometheus: the text exposition format of the metrics textfile (a formatter, no I/O).
        .target(
            name: "BorgPullCore", dependencies: [.product(name: "Prometheus", package: "swift-prometheus")],
            plugins: ["VersionPlugin"]),
        .plugin(name: "VersionPlugin", capability: .buildTool()),
        // Declarations of Linux interfaces the Glibc module hides (signalfd, closefrom, SO_PEERCRED).
        .systemLibrary(name: "CLinux"),
        // libseccomp and libcap from Debian (libseccomp-dev, libcap-dev): module map + one header
        // of static inline wrappers for the variadic/macro APIs. No C code of our own.
        .systemLibrary(
            name: "CSeccomp",
            pkgConfig: "libseccomp",
            providers: [.apt(["libseccomp-dev"])]
        ),
        .systemLibrary(
            name: "CCap",
            pkgConfig: "libcap",
            providers: [.apt(["libcap-dev"])]
        ),
        // The only target that touches the OS.
        .target(
            name: "BorgPullSystem",
            dependencies: [
                "BorgPullCore", "CLinux", "CSeccomp", "CCap",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log")
            ]
        ),
        .executableTarget(
            name: "borgpull-client",
            dependencies: [
                "BorgPullCore", "BorgPullSystem",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log")
            ]
        ),
        .executableTarget(
            name: "borgpull-server",
            dependencies: [
                "BorgPullCore", "BorgPullSystem",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log")
            ]
        ),
        .executableTarget(
            name: "borgpull-check",
            dependencies: [
                "BorgPullCore", "BorgPullSystem",
                .product(name: "ArgumentParser", package: "swift-argument-parser")
            ]
        ),
        .testTarget(name: "BorgPullCoreTests", dependencies: ["BorgPullCore"]),
        .testTarget(name: "SystemTests", dependencies: ["BorgPullCore", "BorgPullSystem"])
    ]
)
