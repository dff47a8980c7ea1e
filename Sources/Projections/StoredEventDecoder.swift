import CallModel
import Foundation
import Logging
import Metrics
import TSAPI

/// Turns stored event bodies into the reducers' input.
enum StoredEventDecoder {
    /// Decodes each body; a body that does not decode (ingest validated it, so this means a bug or a manual
    /// insert) is logged, counted and skipped rather than stopping the projection.
    static func decode(_ events: [(position: Int64, body: String)], logger: Logger) -> [CallEvent] {
        let decoder = JSONDecoder()
        var decoded: [CallEvent] = []
        decoded.reserveCapacity(events.count)
        for (position, body) in events {
            do {
                decoded.append(CallEvent(position: position, event: try decoder.decode(TSAPIEvent.self, from: Data(body.utf8))))
            } catch {
                logger.error("stored event does not decode; skipped", metadata: ["position": "\(position)", "error": "\(error)"])
                Counter(label: "calltrail_projection_undecodable_events_total").increment()
            }
        }
        return decoded
    }
}
