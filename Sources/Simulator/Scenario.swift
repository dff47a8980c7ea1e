import Foundation
import TSAPI

/// The call scenarios of the reference (§4 (a)–(i)) and three more a contact center sees every day, each a
/// generator of the switch events of one call.
package enum Scenario: String, CaseIterable, Sendable {
    case inboundAnswered = "a-inbound-answered"
    case abandonInQueue = "b-abandon-in-queue"
    case abandonWhileRinging = "b-abandon-while-ringing"
    case consultativeTransfer = "c-consultative-transfer"
    case blindTransfer = "d1-blind-transfer"
    case singleStepTransfer = "d2-single-step-transfer"
    case conferenceThenDrop = "e-conference-controller-drops"
    case rona = "f-rona"
    case outbound = "g-outbound"
    case transferToVDN = "h-transfer-to-vdn"
    case transferToSite = "i-transfer-to-site"
    case holdRetrieve = "hold-retrieve"
    case threeAgentConference = "three-agent-conference"
    case callerHangsUpDuringConsult = "caller-hangs-up-during-consultation"
}

/// Everything one call needs from the simulation around it.
package struct ScenarioContext {
    package var sites: [SwitchSite]
    package var states: [SwitchState]
    package var random: SeededRandom
    /// Agent stations on site 1 in the roles A, B, C; and the agent on site 2.
    package var agents: (a: String, b: String, c: String)
    package var farAgent = "6001"
    package var caller = "6135550100"
    package var dnis = "8005551234"
    package var uui = "ACCT=998877;LANG=FR"
    package var digits = "4321"

    package init(
        sites: [SwitchSite], states: [SwitchState], random: SeededRandom, agents: (a: String, b: String, c: String)
    ) {
        self.sites = sites
        self.states = states
        self.random = random
        self.agents = agents
    }

    /// The logical agent id of a station (login 4001 at 5001, as in the reference).
    func agentID(_ station: String) -> String { Int(station).map { String($0 - 1000) } ?? station }
}

extension Scenario {
    /// The switch events of one call of this scenario starting at `start`, in time order.
    package func run(_ context: inout ScenarioContext, start: Date) -> [SwitchEvent] {
        var script = CallScript(sites: context.sites, start: start)
        switch self {
        case .inboundAnswered: Self.inboundAnswered(&script, &context)
        case .abandonInQueue: Self.abandon(&script, &context, whileRinging: false)
        case .abandonWhileRinging: Self.abandon(&script, &context, whileRinging: true)
        case .consultativeTransfer: Self.consultation(&script, &context, then: .transfer)
        case .blindTransfer: Self.consultation(&script, &context, then: .blindTransfer)
        case .singleStepTransfer: Self.singleStepTransfer(&script, &context)
        case .conferenceThenDrop: Self.consultation(&script, &context, then: .conference)
        case .rona: Self.rona(&script, &context)
        case .outbound: Self.outbound(&script, &context)
        case .transferToVDN: Self.transferToVDN(&script, &context)
        case .transferToSite: Self.transferToSite(&script, &context)
        case .holdRetrieve: Self.holdRetrieve(&script, &context)
        case .threeAgentConference: Self.consultation(&script, &context, then: .threeWayConference)
        case .callerHangsUpDuringConsult: Self.consultation(&script, &context, then: .callerHangsUp)
        }
        return script.events.sorted { $0.time < $1.time }
    }
}
