"""The checkpoint state machine with a fake clock: every reason code, the companion window, the
re-measure, the same visit while the result shows, and recording before actuating."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from drivers.events import CardFault, CodeScanned, IdCardRead
from kiosk.app.loop import Checkpoint, Outcome, State
from kiosk.codes import Format, KeyRing, TrustedKey
from kiosk.issuer import keys
from kiosk.issuer.phic import mint
from kiosk.policy.policy import Policy

NOW = 1_795_600_000.0
ID = "11010519491231002X"
OTHER_ID = "440301199001011234"


class Clock:
    def __init__(self) -> None:
        self.t = NOW

    def __call__(self) -> float:
        return self.t


@dataclass
class Reading:
    body: float | None
    status: str = "ok"
    reason: str = ""


@dataclass
class FakeThermometer:
    readings: list = field(default_factory=list)

    def measure(self) -> Reading:
        value = self.readings.pop(0) if len(self.readings) > 1 else self.readings[0]
        if isinstance(value, Exception):
            raise value
        return value if isinstance(value, Reading) else Reading(value)


@dataclass
class Recorder:
    log: list = field(default_factory=list)

    def pulse_gate(self) -> None:
        self.log.append(("gate", "pulse"))

    def show(self, colour) -> None:
        self.log.append(("lamp", colour))

    def beep(self, pattern) -> None:
        self.log.append(("buzzer", pattern))


@pytest.fixture(scope="module")
def issuer():
    return keys.generate("es256", "440000")


def card(number: str = ID) -> IdCardRead:
    return IdCardRead(
        "id_reader",
        "张小三",
        "男",
        "汉",
        "19491231",
        "北京市",
        number,
        "公安局",
        "20200101",
        "长期",
        "resident",
    )


def make(issuer, *, temps=(36.5,), status=None, policy=None, fresh=True, trust_age=1.0, newest=0.0):
    clock = Clock()
    ring = KeyRing()
    ring.add(TrustedKey(Format.PHIC, issuer.kid, issuer.key.public_key(), "440000"))
    recorded, order = [], []
    actuators = Recorder(order)

    def record(outcome: Outcome, visit) -> int:
        order.append(("record", outcome.decision.decision))
        recorded.append(outcome)
        return len(recorded)

    cp = Checkpoint(
        policy=policy or Policy(),
        keyring=lambda: ring,
        record=record,
        actuators=actuators,
        thermometer=FakeThermometer(list(temps)) if temps is not None else None,
        status_lookup=(status or {}).get,
        status_fresh=lambda now: fresh,
        trust_age_hours=lambda now, fmt: trust_age,
        newest_signed_time=lambda: newest,
        clock=clock,
    )
    return cp, clock, recorded, order


def settle(cp: Checkpoint, clock: Clock, seconds: float = 1.0) -> None:
    """Advance the fake clock in small steps, letting the thermometer worker answer."""
    for _ in range(int(seconds / 0.1) + 1):
        cp.step(timeout=0.02)
        clock.t += 0.1


def code(issuer, colour="green", **kw) -> CodeScanned:
    text = mint(
        issuer, colour=colour, name="张小三", id_number=kw.pop("id_number", ID), now=int(NOW), **kw
    ).text
    return CodeScanned("camera", text, text.encode())


def decide_one(cp, clock, *events, seconds=1.5) -> Outcome:
    for e in events:
        cp.post(e)
    settle(cp, clock, seconds)
    return cp.view.outcome


def test_green_code_passes_and_records_before_the_gate_opens(issuer) -> None:
    cp, clock, recorded, order = make(issuer)
    outcome = decide_one(cp, clock, code(issuer))
    assert outcome.decision.as_dict() == {"decision": "pass", "reasons": ["code.green"], "method": "code"}
    assert order[:4] == [("record", "pass"), ("gate", "pulse"), ("lamp", "green"), ("buzzer", "pass")]
    assert outcome.masked_name == "张*三" and outcome.temperature == 36.5 and outcome.seq == 1
    assert cp.view.state is State.ACTUATING
    settle(cp, clock, 4)
    assert cp.view.state is State.IDLE and order[-1] == ("lamp", None)


@pytest.mark.parametrize(
    ("colour", "decision", "lamp", "buzzer"),
    [("yellow", "refer", None, "refer"), ("red", "deny", "red", "stop")],
)
def test_yellow_refers_red_denies(issuer, colour, decision, lamp, buzzer) -> None:
    cp, clock, recorded, order = make(issuer)
    outcome = decide_one(cp, clock, code(issuer, colour))
    assert outcome.decision.decision == decision and outcome.decision.reasons == [f"code.{colour}"]
    assert ("gate", "pulse") not in order and ("lamp", lamp) in order and ("buzzer", buzzer) in order


def test_fever_after_one_remeasure(issuer) -> None:
    cp, clock, recorded, _ = make(issuer, temps=(37.9, 37.8))
    outcome = decide_one(cp, clock, code(issuer), seconds=2)
    assert outcome.decision.decision == "deny" and outcome.decision.reasons == [
        "code.green",
        "temperature.fever",
    ]
    assert outcome.temperature == 37.8


def test_a_high_first_reading_cleared_by_the_remeasure_passes(issuer) -> None:
    cp, clock, _, _ = make(issuer, temps=(37.5, 36.6))
    outcome = decide_one(cp, clock, code(issuer), seconds=2)
    assert outcome.decision.decision == "pass" and outcome.temperature == 36.6


def test_thermometer_failure_refers_without_freezing(issuer) -> None:
    cp, clock, _, _ = make(issuer, temps=(OSError("EREMOTEIO"),))
    outcome = decide_one(cp, clock, code(issuer))
    assert outcome.decision.decision == "refer" and "temperature.unavailable" in outcome.decision.reasons
    cp2, clock2, _, _ = make(issuer, temps=None)  # no thermometer fitted
    assert "temperature.unavailable" in decide_one(cp2, clock2, code(issuer)).decision.reasons
    cp3, clock3, _, _ = make(issuer, temps=None, policy=Policy(temperature_required=False))
    assert decide_one(cp3, clock3, code(issuer)).decision.decision == "pass"


def test_nobody_in_front_of_the_thermometer(issuer) -> None:
    cp, clock, _, _ = make(issuer, temps=(Reading(None, "no_person", "move closer"),))
    outcome = decide_one(cp, clock, code(issuer), seconds=6)
    assert "temperature.unavailable" in outcome.decision.reasons


def test_code_and_matching_card_within_the_window(issuer) -> None:
    cp, clock, _, _ = make(issuer)
    cp.post(code(issuer))
    settle(cp, clock, 0.3)
    cp.post(card(ID))
    outcome = decide_one(cp, clock)
    assert outcome.decision.method == "code+card" and outcome.decision.decision == "pass"
    assert outcome.masked_id == "110105********002X"


def test_code_and_wrong_card_is_a_mismatch(issuer) -> None:
    cp, clock, _, _ = make(issuer)
    outcome = decide_one(cp, clock, code(issuer), card(OTHER_ID))
    assert outcome.decision.decision == "deny" and "card.mismatch" in outcome.decision.reasons


def test_card_alone_by_the_status_list(issuer) -> None:
    cp, clock, _, _ = make(issuer, status={OTHER_ID: "red", ID: None})
    outcome = decide_one(cp, clock, card(ID))
    assert outcome.decision.as_dict() == {
        "decision": "pass",
        "reasons": ["card.no_abnormality"],
        "method": "card",
    }
    settle(cp, clock, 4)
    assert decide_one(cp, clock, card(OTHER_ID)).decision.reasons == ["card.status_red"]
    cp2, clock2, _, _ = make(issuer, status={ID: "yellow"})
    assert decide_one(cp2, clock2, card(ID)).decision.as_dict()["reasons"] == ["card.status_yellow"]
    cp3, clock3, _, _ = make(issuer, fresh=False)
    assert decide_one(cp3, clock3, card(ID)).decision.as_dict() == {
        "decision": "refer",
        "reasons": ["trust.stale"],
        "method": "card",
    }


def test_forged_and_unreadable_cards(issuer) -> None:
    cp, clock, _, _ = make(issuer)
    forged = decide_one(cp, clock, CardFault("id_reader", "card-SAM authentication failed", True))
    assert forged.decision.decision == "deny" and forged.decision.reasons == ["card.forged"]
    settle(cp, clock, 4)
    unreadable = decide_one(cp, clock, CardFault("id_reader", "read failed"))
    assert unreadable.decision.decision == "refer" and unreadable.decision.reasons == ["card.unreadable"]


def test_stale_trust_and_untrusted_clock(issuer) -> None:
    cp, clock, _, _ = make(issuer, trust_age=80.0)
    assert decide_one(cp, clock, code(issuer)).decision.reasons == ["trust.stale", "code.green"]
    cp2, clock2, _, _ = make(issuer, newest=NOW + 86400)
    outcome = decide_one(cp2, clock2, code(issuer))
    assert outcome.decision.decision == "refer" and outcome.decision.reasons[0] == "clock.untrusted"


def test_hub_clock_offset_beyond_the_skew_makes_the_clock_untrusted(issuer) -> None:
    cp, clock, _, _ = make(issuer)
    offset = [None]
    cp.clock_offset = lambda: offset[0]
    assert cp.clock_trusted(clock()), "no word from a hub: only the trust-data rule applies"
    offset[0] = -299.0
    assert decide_one(cp, clock, code(issuer)).decision.reasons == ["code.green"]
    settle(cp, clock, 4)
    offset[0] = 301.0  # the hub says our clock is 5 minutes behind
    outcome = decide_one(cp, clock, code(issuer))
    assert outcome.decision.decision == "refer" and outcome.decision.reasons[0] == "clock.untrusted"


def test_verifier_reasons_pass_through(issuer) -> None:
    cp, clock, _, _ = make(issuer)
    expired = code(issuer, valid_hours=1, not_before=int(NOW) - 7200)
    assert decide_one(cp, clock, expired).decision.reasons == ["code.expired"]
    settle(cp, clock, 4)
    assert decide_one(cp, clock, CodeScanned("camera", "hello", b"hello")).decision.reasons == [
        "format.unknown"
    ]
    settle(cp, clock, 4)
    stranger = keys.generate("es256", "440000")
    outcome = decide_one(cp, clock, code(stranger))
    assert outcome.decision.decision == "deny" and outcome.decision.reasons == ["key.unknown"]


def test_the_same_code_again_while_the_result_shows_is_the_same_visit(issuer) -> None:
    cp, clock, recorded, _ = make(issuer)
    event = code(issuer)
    decide_one(cp, clock, event)
    cp.post(CodeScanned("camera", event.text, event.raw))
    settle(cp, clock, 1)
    assert len(recorded) == 1
    settle(cp, clock, 3)
    decide_one(cp, clock, CodeScanned("camera", event.text, event.raw))  # after the result: a new visit
    assert len(recorded) == 2 and [o.seq for o in recorded] == [1, 2]


def test_site_policy_refuses_formats_and_issuers(issuer) -> None:
    cp, clock, _, _ = make(issuer, policy=Policy(formats=["dcc"]))
    assert decide_one(cp, clock, code(issuer)).decision.reasons == ["format.not_accepted"]
    cp2, clock2, _, _ = make(issuer, policy=Policy(issuers=["11"]))
    assert decide_one(cp2, clock2, code(issuer)).decision.reasons == ["issuer.not_accepted"]


def test_guard_override_of_a_referral(issuer) -> None:
    cp, clock, recorded, order = make(issuer)
    referred = decide_one(cp, clock, code(issuer, colour="yellow"))
    assert referred.decision.decision == "refer" and ("gate", "pulse") not in cp.actuators.log
    with pytest.raises(ValueError):
        cp.override(referred.seq, "refer", "no")
    cp.override(referred.seq + 1, "deny", "not this visit")  # another seq: nothing happens
    settle(cp, clock, 0.2)
    assert cp.view.outcome.decision.decision == "refer"
    cp.override(referred.seq, "pass", "checked by phone")
    settle(cp, clock, 0.2)
    shown = cp.view.outcome
    assert shown.decision.decision == "pass" and shown.decision.reasons == ["guard.manual", "code.yellow"]
    assert shown.seq == referred.seq and len(recorded) == 1  # audited by the console, not a new visit
    assert ("gate", "pulse") in cp.actuators.log
    settle(cp, clock, 6)  # the result is over: a late override only opens the gate
    pulses = cp.actuators.log.count(("gate", "pulse"))
    cp.override(referred.seq, "pass", "late")
    settle(cp, clock, 0.2)
    assert cp.actuators.log.count(("gate", "pulse")) == pulses + 1 and cp.view.outcome is None
