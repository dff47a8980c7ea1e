#!/usr/bin/env python3
"""Writes Tests/Fixtures/scenarios/<scenario>.expected.json: what a correct journey of each fixture must contain.

The facts per scenario (outcome, which agents answer in which order, which UCIDs are linked) are written below
from the TSAPI call model (how CM reports each scenario, and the journey rules in docs/architecture.md), not
from CallTrail's projections. The
script only reads identifiers and times out of the fixture: the UCIDs and callIDs the simulator drew, and the
moments the durations are measured between (definitions in Tests/Fixtures/scenarios/README.md).

    python3 scripts/fixture-expectations.py     # after regenerating the fixtures with seed 7
"""
import json, pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "scenarios"
ANI, DNIS, UUI, DIGITS = None, "8005551234", "ACCT=998877;LANG=FR", "4321"

# scenario: reference, outcome, agents who answer (in order), stations offered the call (in order),
# how many consultation UCIDs the journey links, and any note.
SCENARIOS = {
    "a-inbound-answered": ("(a)", "answered", ["5001"], ["5001"], 0, None),
    "b-abandon-in-queue": ("(b)", "abandoned", [], [], 0, "abandoned in queue"),
    "b-abandon-while-ringing": ("(b)", "abandoned", [], ["5001"], 0, "abandoned while ringing at 5001"),
    "c-consultative-transfer": ("(c)", "transferred", ["5001", "5002"], ["5001", "5002"], 1, None),
    "d1-blind-transfer": ("(d) d1", "transferred", ["5001", "5002"], ["5001", "5002"], 1, "transferred while 5002 was ringing"),
    "d2-single-step-transfer": ("(d) d2", "transferred", ["5001", "5002"], ["5001", "5002"], 0,
                                "the call gets a new callID and keeps its UCID"),
    "e-conference-controller-drops": ("(e)", "conferenced", ["5001", "5002"], ["5001", "5002"], 1,
                                      "5001 drops after the conference; the call goes on"),
    "f-rona": ("(f)", "redirected", ["5002"], ["5001", "5002"], 0, "ring no answer at 5001, answered by 5002"),
    "g-outbound": ("(g)", "outbound", ["5001"], [], 0, "agent 5001 dials out; no inbound offer"),
    "h-transfer-to-vdn": ("(h)", "transferred", ["5001", "5003"], ["5001", "5003"], 1,
                          "5001 transfers to VDN 7002, skill 3002, answered by 5003"),
    "i-transfer-to-site": ("(i)", "transferred", ["5001", "6001"], ["5001", "6001"], 1,
                           "site 2 sees only the consultation's UCID; the journey is stitched through it"),
    "hold-retrieve": ("extra", "answered", ["5001"], ["5001"], 0, "5001 holds and retrieves the caller"),
    "three-agent-conference": ("extra", "conferenced", ["5001", "5002", "5003"], ["5001", "5002", "5003"], 2,
                               "5001 conferences 5002, then 5003, then drops"),
    "caller-hangs-up-during-consultation": ("extra", "answered", ["5001", "5002"], ["5001", "5002"], 1,
                                            "the held caller hangs up while 5001 consults 5002"),
}

def connection_call_id(csta):
    for key in ("connection", "establishedConnection", "droppedConnection", "clearedCall", "heldConnection",
                "retrievedConnection", "queuedConnection", "originatedConnection", "initiatedConnection", "primaryOldCall"):
        if isinstance(csta.get(key), dict):
            return csta[key].get("callID")

def seconds(a, b):
    from datetime import datetime
    parse = lambda t: datetime.fromisoformat(t.replace("Z", "+00:00"))
    return round((parse(b) - parse(a)).total_seconds(), 3)

def expectation(name, events):
    ref, outcome, agents, offered, links, note = SCENARIOS[name]
    # One entry per switch event: monitor copies share source, time, type and callID.
    switch_events, seen = [], set()
    for e in events:
        key = (e["source"], e["time"], e["type"], connection_call_id(e["csta"]))
        if key not in seen:
            seen.add(key)
            switch_events.append(e)
    first = switch_events[0]
    ani = first["csta"].get("callingDevice")
    ani = ani["deviceID"] if isinstance(ani, dict) else ani
    site1 = [e for e in switch_events if e["source"] == "aes1"]
    ucid = (first.get("att") or {}).get("ucid")
    consult_ucids = [e["att"]["ucid"] for e in site1 if e["type"] == "CSTA_SERVICE_INITIATED" and name != "g-outbound"]
    assert len(consult_ucids) == links, (name, consult_ucids)
    call_ids = []
    for e in site1:
        for key in ("connection", "establishedConnection", "droppedConnection", "clearedCall", "heldConnection",
                    "queuedConnection", "originatedConnection", "initiatedConnection", "secondaryOldCall"):
            value = e["csta"].get(key)
            if isinstance(value, dict) and value.get("callID") and value["callID"] not in call_ids:
                call_ids.append(value["callID"])

    inbound = outcome != "outbound"
    offers = []
    for station in offered:
        delivered = next(e for e in switch_events if e["type"] == "CSTA_DELIVERED"
                         and e["csta"].get("alertingDevice") == station)
        offers.append({
            "device": station, "ucid": delivered["att"]["ucid"],
            "originalAni": ani, "originalDnis": DNIS, "uui": UUI, "userEnteredCode": DIGITS,
        })

    # Moments and durations (Tests/Fixtures/scenarios/README.md).
    queue = ring = hold = 0.0
    queued_at = ringing = holding = None
    ringing = {}
    answered_at = None
    for e in switch_events:
        t, kind, csta = e["time"], e["type"], e["csta"]
        if kind == "CSTA_QUEUED" and queued_at is None:
            queued_at = t
        elif kind == "CSTA_DELIVERED" and (e.get("att") or {}).get("deliveredType") == "DELIVERED_TO_STATION":
            if queued_at is not None:
                queue += seconds(queued_at, t)
                queued_at = None
            ringing[csta["alertingDevice"]] = t
        elif kind == "CSTA_ESTABLISHED":
            device = csta.get("answeringDevice")
            device = device if isinstance(device, str) else None
            if device in ringing:
                ring += seconds(ringing.pop(device), t)
            if answered_at is None:
                answered_at = t
        elif kind == "CSTA_DIVERTED":
            ring += seconds(ringing.pop(csta["divertingDevice"]), t)
        elif kind == "CSTA_HELD" and holding is None and e["source"] == "aes1":
            holding = t
        elif kind in ("CSTA_RETRIEVED", "CSTA_TRANSFERRED", "CSTA_CONFERENCED") and holding is not None:
            hold += seconds(holding, t)
            holding = None
        elif kind == "CSTA_CONNECTION_CLEARED" and str(csta["droppedConnection"]["deviceID"]).startswith("T"):
            # The caller's trunk leaves: whatever waited for an agent stops waiting.
            if queued_at is not None:
                queue += seconds(queued_at, t)
                queued_at = None
            for device, since in list(ringing.items()):
                ring += seconds(since, t)
                ringing.pop(device)
            if holding is not None:
                hold += seconds(holding, t)
                holding = None
    cleared_at = switch_events[-1]["time"]
    total = seconds(first["time"], cleared_at)
    talk = round(seconds(answered_at, cleared_at) - hold, 3) if answered_at else 0.0

    journey = {
        "ucid": ucid or consult_ucids[0] if outcome != "outbound" else (site1[0].get("att") or {}).get("ucid"),
        "linkedUcids": consult_ucids,
        "callIds": call_ids,
        "outcome": outcome,
        "agents": agents,
        "originalAni": ani if inbound else "5001",
        "originalDnis": DNIS if inbound else first["csta"].get("calledDevice") or next(
            e["csta"]["calledDevice"] for e in site1 if e["type"] == "CSTA_ORIGINATED"),
        "offers": offers,
        "times": {"offered": first["time"], "answered": answered_at, "cleared": cleared_at},
        "durations": {"queue": round(queue, 3), "ring": round(ring, 3), "talk": talk, "hold": round(hold, 3),
                      "total": total},
    }
    if outcome == "outbound":
        journey["ucid"] = site1[0]["att"]["ucid"]
        journey["originalDnis"] = next(e["csta"]["calledDevice"] for e in site1 if e["type"] == "CSTA_ORIGINATED")
    if inbound:
        # The digits travel in the Delivered/Established private data of a station; a caller who leaves
        # before any station is offered the call never has them reported.
        reported = any(((e.get("att") or {}).get("userEnteredCode") or {}).get("data") == DIGITS for e in events)
        journey.update({"vdn": "7001", "split": "3001", "uui": UUI, "userEnteredCode": DIGITS if reported else None})
    if name == "i-transfer-to-site":
        journey["farSiteUcid"] = next(e["att"]["ucid"] for e in switch_events if e["source"] == "aes2")
    result = {"scenario": name, "reference": f"tsapi-call-model §4 {ref}", "journey": journey}
    if note:
        result["note"] = note
    return result

for name in SCENARIOS:
    events = [json.loads(line) for line in (ROOT / f"{name}.ndjson").read_text().splitlines() if line.strip()]
    (ROOT / f"{name}.expected.json").write_text(json.dumps(expectation(name, events), indent=2) + "\n")
    print("wrote", name)
