import EventStore
import PostgresNIO
import Testing

/// The pool's settings that `DatabaseURL` chooses (pure logic): keep-alive pings only where a firewall could
/// drop an idle connection, and no minimum of open connections, which PostgresNIO's pool cannot keep through a
/// database restart without trapping.
struct DatabaseURLPoolTests {
    @Test func aUnixSocketNeedsNoKeepAlive() throws {
        let configuration = try DatabaseURL("postgres://calltrail@/calltrail?host=/tmp/calltrail-pg&port=5432")
            .clientConfiguration()
        #expect(configuration.options.keepAliveBehavior == nil)
        #expect(configuration.options.maximumConnections == 20)
    }

    @Test func tcpKeepsItsConnectionsAlive() throws {
        let configuration = try DatabaseURL("postgres://calltrail:secret@db.example:5432/calltrail")
            .clientConfiguration()
        #expect(configuration.options.keepAliveBehavior?.frequency == .seconds(5))
    }

    @Test func noConnectionIsKeptOpenAsAMinimum() throws {
        let configuration = try DatabaseURL("postgres://calltrail@/calltrail?host=/tmp/calltrail-pg")
            .clientConfiguration()
        #expect(configuration.options.minimumConnections == 0)
    }
}
