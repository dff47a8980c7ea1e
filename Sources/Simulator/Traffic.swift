import Foundation
import TSAPI

/// A contact center's traffic: calls arriving as a Poisson process, each a scenario drawn from a mix and played
/// by agents chosen from a pool, reported by the AES links as ingest envelopes in the order the links deliver
/// them. Everything random comes from one seeded generator, so a seed reproduces a run event for event.
package struct Traffic: Sequence, IteratorProtocol {
    package struct Options: Sendable {
        /// Calls per second of simulated time.
        package var rate: Double = 2
        /// Stop after this many calls, or once arrivals pass `duration` simulated seconds.
        package var calls: Int?
        package var duration: Double?
        package var agents: Int = 20
        package var mix: [(Scenario, Double)] = Traffic.defaultMix
        package var seed: UInt64 = 1
        package var start = Date(timeIntervalSince1970: 1_795_168_800)  // 2026-11-20T10:00:00Z

        package init() {}
    }

    /// Mostly answered calls, with every other scenario present.
    package static let defaultMix: [(Scenario, Double)] = [
        (.inboundAnswered, 50), (.abandonInQueue, 6), (.abandonWhileRinging, 2), (.consultativeTransfer, 8),
        (.blindTransfer, 5), (.singleStepTransfer, 2), (.conferenceThenDrop, 3), (.rona, 4), (.outbound, 8),
        (.transferToVDN, 4), (.transferToSite, 3), (.holdRetrieve, 8), (.threeAgentConference, 1),
        (.callerHangsUpDuringConsult, 1),
    ]

    let options: Options
    private var context: ScenarioContext
    private var reporter: LinkReporter
    private var arrivals: SeededRandom
    private var nextArrival: Date
    private var callsStarted = 0
    private var pending = EventHeap()
    private var ready: [String] = []
    private var readyIndex = 0
    /// When each agent station is free again.
    private var agentFreeAt: [String: Date]
    private let totalWeight: Double

    package private(set) var eventsEmitted = 0
    package var callsGenerated: Int { callsStarted }
    /// Simulated time of the last event handed out.
    package private(set) var clock: Date
    /// The switches the traffic happens on, with their monitors.
    package let sites: [SwitchSite]

    /// The traffic of one scenario as the scenario library's fixture has it: one call, three agents, seed 7.
    package static func fixture(_ scenario: Scenario) -> Traffic {
        var options = Options()
        options.calls = 1
        options.agents = 3
        options.seed = 7
        options.mix = [(scenario, 1)]
        return Traffic(options)
    }

    package init(_ options: Options) {
        self.options = options
        let sites = [SwitchSite.site1(stations: options.agents), SwitchSite.site2()]
        self.sites = sites
        var random = SeededRandom(seed: options.seed)
        arrivals = SeededRandom(seed: random.next())
        context = ScenarioContext(
            sites: sites, states: sites.map { SwitchState(node: $0.node) }, random: SeededRandom(seed: random.next()),
            agents: ("5001", "5002", "5003"))
        reporter = LinkReporter(sites: sites)
        nextArrival = options.start
        clock = options.start
        agentFreeAt = Dictionary(
            uniqueKeysWithValues: (1...Swift.max(3, options.agents)).map { (SwitchSite.station($0), options.start) })
        totalWeight = options.mix.reduce(0) { $0 + Swift.max(0, $1.1) }
    }

    private var moreCalls: Bool {
        if let calls = options.calls, callsStarted >= calls { return false }
        if let duration = options.duration, nextArrival.timeIntervalSince(options.start) >= duration { return false }
        return options.calls != nil || options.duration != nil
    }

    /// The next envelope, in delivery order.
    package mutating func next() -> String? {
        while readyIndex == ready.count {
            ready.removeAll(keepingCapacity: true)
            readyIndex = 0
            if moreCalls {
                // Everything that happens before the next call arrives can be reported now.
                flush(before: nextArrival)
                startCall()
            } else if pending.isEmpty {
                return nil
            } else {
                flush(before: .distantFuture)
            }
        }
        defer { readyIndex += 1 }
        eventsEmitted += 1
        return ready[readyIndex]
    }

    /// The next switch event itself, in time order, rather than its envelopes: for the simulator playing AES,
    /// which writes each as DMCC XML. `eventsEmitted` counts the monitor copies, as `next()` does.
    package mutating func nextSwitchEvent() -> SwitchEvent? {
        while true {
            if moreCalls {
                if let event = pending.popIfEarlier(than: nextArrival) {
                    clock = event.time
                    eventsEmitted += event.recipients.count
                    return event
                }
                startCall()
            } else {
                guard let event = pending.popIfEarlier(than: .distantFuture) else { return nil }
                clock = event.time
                eventsEmitted += event.recipients.count
                return event
            }
        }
    }

    private mutating func flush(before time: Date) {
        while let event = pending.popIfEarlier(than: time) {
            clock = event.time
            ready += reporter.report(event)
        }
    }

    private mutating func startCall() {
        let start = nextArrival
        callsStarted += 1
        nextArrival += arrivals.exponential(mean: 1 / Swift.max(options.rate, 0.000_001))
        let scenario = pickScenario()
        // The agents free the longest take the call (the same three stations in a 3-agent pool).
        let chosen = agentFreeAt.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.prefix(3).map(\.key)
        context.agents = (chosen[0], chosen[1], chosen[2])
        context.caller = "613555" + String(format: "%04d", Int.random(in: 0..<10_000, using: &arrivals))
        let events = scenario.run(&context, start: start)
        let end = events.last?.time ?? start
        for agent in chosen { agentFreeAt[agent] = Swift.max(agentFreeAt[agent]!, end) }
        for event in events { pending.push(event) }
    }

    private mutating func pickScenario() -> Scenario {
        var draw = Double.random(in: 0..<Swift.max(totalWeight, 1e-9), using: &arrivals)
        for (scenario, weight) in options.mix where weight > 0 {
            if draw < weight { return scenario }
            draw -= weight
        }
        return options.mix.last?.0 ?? .inboundAnswered
    }
}

/// Switch events ordered by time, first come first served among equal times (a binary min-heap).
struct EventHeap {
    private var items: [(event: SwitchEvent, order: Int)] = []
    private var counter = 0

    var isEmpty: Bool { items.isEmpty }

    private func less(_ i: Int, _ j: Int) -> Bool {
        (items[i].event.time, items[i].order) < (items[j].event.time, items[j].order)
    }

    mutating func push(_ event: SwitchEvent) {
        counter += 1
        items.append((event, counter))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(child, parent) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func popIfEarlier(than time: Date) -> SwitchEvent? {
        guard let first = items.first, first.event.time < time else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < items.count, less(left, smallest) { smallest = left }
                if right < items.count, less(right, smallest) { smallest = right }
                guard smallest != parent else { break }
                items.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return first.event
    }
}
