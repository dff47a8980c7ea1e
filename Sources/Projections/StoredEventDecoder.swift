import CallModel
import EventStore
import Foundation
import Logging
import Metrics
import TSAPI

/// Turns stored event bodies into the reducers' input.
enum StoredEventDecoder {
    /// Decodes each body; an event without one (a type the projections do not read) is passed over. A body that does
    /// not decode (ingest validated it, so this means a bug or a manual insert) is logged, counted and skipped rather
    /// than stopping the projection.
    static func decode(_ events: [(position: Int64, body: String?)], logger: Logger) -> [CallEvent] {
        var decoded: [CallEvent] = []
        decoded.reserveCapacity(events.count)
        for (position, body) in events {
            guard let body else { continue }
            do {
                var body = body
                let event = try body.withUTF8 { bytes throws(TSAPIError) in
                    try TSAPIEvent(json: UnsafeRawBufferPointer(bytes))
                }
                decoded.append(CallEvent(position: position, event: event))
            } catch {
                logger.error(
                    "stored event does not decode; skipped",
                    metadata: ["position": "\(position)", "error": "\(LoggedError(error))"])
                Counter(label: "calltrail_projection_undecodable_events_total").increment()
            }
        }
        return decoded
    }
}
