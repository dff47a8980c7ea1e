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
    "CallTrailServer", "CommandSupport", "EventStore", "TSAPI", "Simulator", "Projections", "CallModel", "AESLink",
    "AESSimulator", "DMCC",
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
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        // Only for GeneratedClientTests: a client generated from openapi.yaml, as an integrator would make one.
        .package(url: "https://github.com/apple/swift-openapi-generator.git", from: "1.14.3"),
        .package(url: "https://github.com/apple/swift-openapi-runtime.git", from: "1.13.4"),
        .package(url: "https://github.com/swift-server/swift-openapi-async-http-client.git", from: "1.5.0"),
    ],
    targets: [
        // Event model: envelope, CSTA + ATT types, UCID. No I/O.
        .target(name: "TSAPI", swiftSettings: swiftSettings),
        // DMCC, AES's XML protocol: frames, the XML reader, requests, answers, and the mapping of its events to
        // TSAPI's. No I/O beyond the frame codec.
        .target(
            name: "DMCC",
            dependencies: ["TSAPI", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        // A Communication Manager and its AES links, emitting the TSAPI events of each call scenario, and writing
        // them as DMCC XML. No I/O.
        .target(name: "Simulator", dependencies: ["TSAPI", "DMCC"], swiftSettings: swiftSettings),
        // The simulator playing AES over DMCC, TCP or TLS.
        .target(
            name: "AESSimulator",
            dependencies: [
                "DMCC", "Simulator", "TSAPI",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
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
                .product(name: "NIOPosix", package: "swift-nio"),
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
        // The AES links: a DMCC session per configured link, its events appended like HTTP ingest.
        .target(
            name: "AESLink",
            dependencies: [
                "DMCC", "EventStore", "TSAPI",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // Hummingbird app: routes and buildApplication.
        .target(
            name: "CallTrailServer",
            dependencies: [
                "TSAPI", "EventStore", "CallModel", "Projections", "AESLink",
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
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
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
            name: "DMCCTests", dependencies: ["DMCC", "AESLink", "CallModel", "Simulator", "TSAPI", "TestSupport"],
            swiftSettings: swiftSettings),
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
        // A client generated from openapi.yaml by swift-openapi-generator at build time calls a live server: the
        // document is good enough for a client generator, and the answers decode as the document says.
        .testTarget(
            name: "GeneratedClientTests",
            dependencies: [
                "CallTrailServer", "EventStore", "TestSupport",
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "OpenAPIAsyncHTTPClient", package: "swift-openapi-async-http-client"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "OpenAPIGenerator", package: "swift-openapi-generator")]),
        .testTarget(
            name: "CallTrailServerTests",
            dependencies: [
                "CallTrailServer", "EventStore", "TSAPI", "TestSupport", "Simulator", "Projections", "CallModel",
                "AESLink", "AESSimulator", "DMCC",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "WSClient", package: "swift-websocket"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Yams", package: "Yams"),
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
