import AESLink
import CallTrailServer
import Logging

/// What the tests build the application with: every suite's app, one shape. Port 0 takes a free port; the
/// database is each test's own (`TestDatabase`).
struct TestArguments: AppArguments {
    var hostname = "127.0.0.1"
    var port = 0
    var databaseURL: String?
    var dataDirectory = "unused"
    var maxBodyBytes = 1 << 20
    var logLevel = Logger.Level.warning
    var migrationsDirectory: String?
    var feed = FeedPolicy()
    var readWaitSeconds: Double = 5
    var links: [LinkConfiguration] = []
    var insecureNoAuth = false
    var metricsOpen = false
    var ctisvrAllow: [String] = []
    var tls: ServerTLS.Files?
}
