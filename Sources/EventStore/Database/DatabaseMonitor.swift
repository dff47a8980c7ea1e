import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// Probes the database so that `DatabaseAvailability` says the truth even when nothing else is querying.
///
/// While the database answers it asks every `interval` (an idle process notices an outage and `/ready` says so);
/// during an outage it asks every `retryInterval`, through the same pool the service uses, so the outage ends
/// when the service itself can work again, not merely when the server accepts a connection. PostgresNIO's pool
/// reconnects by itself, backing off from 100 ms towards a minute while connecting fails.
package struct DatabaseMonitor: Service {
    let client: PostgresClient
    let availability: DatabaseAvailability
    let logger: Logger
    let interval: Duration
    let retryInterval: Duration
    /// How long one probe may wait for an answer. A database that answers slowly is busy, not away: it counts as
    /// away after two probes in a row got no answer (an error that says it is away counts at once).
    let probeTimeout: Duration

    package init(
        client: PostgresClient, availability: DatabaseAvailability, logger: Logger, interval: Duration = .seconds(2),
        retryInterval: Duration = .milliseconds(250), probeTimeout: Duration = .seconds(5)
    ) {
        self.client = client
        self.availability = availability
        self.logger = logger
        self.interval = interval
        self.retryInterval = retryInterval
        self.probeTimeout = probeTimeout
    }

    package func run() async throws {
        // Returns rather than throws when stopped: a service that throws during graceful shutdown makes the service
        // group cancel the others instead of letting them finish.
        await cancelWhenGracefulShutdown {
            var silentProbes = 0
            while !Task.isCancelled {
                await probe(&silentProbes)
                try? await Task.sleep(for: availability.isAvailable ? interval : retryInterval)
            }
        }
    }

    /// One probe: a query that succeeds ends an outage; one that fails starts one, as does the second in a row to get no
    /// answer (`silentProbes` counts them).
    func probe(_ silentProbes: inout Int) async {
        let client = self.client
        do {
            try await withDatabaseTimeout(probeTimeout) {
                try await client.query("SELECT 1").consume()
            }
            silentProbes = 0
            availability.restored()
        } catch  where Task.isCancelled {
            return
        } catch let error as EventStoreError where error.code == .timeout {
            silentProbes += 1
            logger.warning("the database did not answer a probe", metadata: ["in_a_row": "\(silentProbes)"])
            if silentProbes >= 2 {
                availability.markUnavailable(
                    reason: "no answer to \(silentProbes) probes in a row, \(probeTimeout) each")
            }
        } catch {
            logger.debug("database probe failed", metadata: ["error": "\(LoggedError(error))"])
            if !availability.record(error) { availability.markUnavailable(reason: "\(LoggedError(error))") }
        }
    }
}

extension PostgresRowSequence {
    /// Reads and drops every row, so the statement runs to completion.
    func consume() async throws {
        for try await _ in self {}
    }
}
