// swift-tools-version: 6.1
import PackageDescription

/// Settings every target shares: Swift 6 strict concurrency plus the two upcoming features the style guide asks for.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// What the two executables, `calltrail` and `calltrail-bench`, both use. `WSClient` is the WebSocket client of
/// `calltrail feed`, a user tool that watches the feed; the HTTP client library (AsyncHTTPClient) is the benchmarks'
/// alone.
let commandDependencies: [Target.Dependency] = [
    "CallTrailServer", "CommandSupport", "EventStore", "TSAPI", "Simulator", "Projections", "CallModel",
    .product(name: "ArgumentParser", package: "swift-argument-parser"),
    .product(name: "Hummingbird", package: "hummingbird"),
    .product(name: "Logging", package: "swift-log"),
    .product(name: "Metrics", package: "swift-metrics"),
    .product(name: "Prometheus", package: "swift-prometheus"),
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOPosix", package: "swift-nio"),
    .product(name: "NIOHTTP1", package: "swift-nio"),
    .product(name: "PostgresNIO", package: "postgres-nio"),
    .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
    .product(name: "WSClient", package: "swift-websocket"),
]

let package = Package(
    name: "calltrail",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "calltrail", targets: ["calltrail"]),
        .executable(name: "calltrail-bench", targets: ["calltrail-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/swift-websocket.git", from: "1.6.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // Event model: envelope, CSTA + ATT types, UCID. No I/O.
        .target(name: "TSAPI", swiftSettings: swiftSettings),
        // A Communication Manager and its AES links, emitting the TSAPI events of each call scenario. No I/O.
        .target(name: "Simulator", dependencies: ["TSAPI"], swiftSettings: swiftSettings),
        // Projections as pure reducers: call context, journeys, device state. No I/O.
        .target(name: "CallModel", dependencies: ["TSAPI"], swiftSettings: swiftSettings),
        // PostgreSQL: migrations, appender, readers, embedded server.
        .target(
            name: "EventStore",
            dependencies: [
                "TSAPI",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "_ConnectionPoolModule", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // The journey read models in PostgreSQL: the live projector and the rebuild.
        .target(
            name: "Projections",
            dependencies: [
                "CallModel", "EventStore", "TSAPI",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // Hummingbird app: routes and buildApplication.
        .target(
            name: "CallTrailServer",
            dependencies: [
                "TSAPI", "EventStore", "CallModel", "Projections",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        // What the commands share: the database options.
        .target(
            name: "CommandSupport",
            dependencies: [
                "EventStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "calltrail",
            dependencies: commandDependencies + [.product(name: "UnixSignals", package: "swift-service-lifecycle")],
            swiftSettings: swiftSettings
        ),
        // The benchmarks: a separate executable, so the shipped `calltrail` links none of their code.
        .executableTarget(
            name: "calltrail-bench",
            dependencies: commandDependencies + [
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Benchmarks/CallTrailBench",
            swiftSettings: swiftSettings
        ),
        // Shared by the test targets: a fresh, migrated database per test on the suite's PostgreSQL.
        .target(
            name: "TestSupport",
            dependencies: [
                "CallModel", "EventStore", "TSAPI",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "TSAPITests", dependencies: ["TSAPI"], swiftSettings: swiftSettings),
        .testTarget(name: "SimulatorTests", dependencies: ["Simulator", "TSAPI"], swiftSettings: swiftSettings),
        .testTarget(
            name: "CallModelTests", dependencies: ["CallModel", "TSAPI", "TestSupport", "Simulator"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "EventStoreTests",
            dependencies: [
                "EventStore", "TSAPI", "TestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ProjectionsTests",
            dependencies: [
                "Projections", "CallModel", "EventStore", "TSAPI", "TestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CallTrailServerTests",
            dependencies: [
                "CallTrailServer", "EventStore", "TSAPI", "TestSupport", "Simulator", "Projections", "CallModel",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "WSClient", package: "swift-websocket"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
