"""The checkpoint: an explicit state machine that turns device events into decisions and actions.

    IDLE --credential--> READING --window closed, temperature known--> DECIDED --recorded--> ACTUATING
      ^                                                                                          |
      +------------------------------- result shown for result_seconds --------------------------+

One thread runs it (`step`), fed through a queue by the drivers' threads and by the thermometer
worker, and it owns time through one injectable clock. It never waits on a device: a measurement runs
in a worker and arrives as an event; a dead device yields a decision with a reason, not a frozen kiosk.
Every decision is appended durably to the store before the gate opens or the result is shown.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from drivers.events import CardFault, CardRemoved, CodeScanned, DoorEvent, Event, IdCardRead
from kiosk.codes import KeyRing, Verification, phic, verify_code
from kiosk.codes.masking import mask_id, mask_name
from kiosk.codes.shc import ChunkAssembler
from kiosk.policy.policy import DENY, PASS, REFER, CardInfo, Decision, Policy, R, Visit, decide

NO_PERSON_PATIENCE = 4.0  # seconds to wait for someone to step in front of the thermometer
BUZZER = {PASS: "pass", DENY: "stop", "refer": "refer"}
LAMP = {PASS: "green", DENY: "red", "refer": None}


class State(StrEnum):
    IDLE = "idle"
    READING = "reading"
    DECIDED = "decided"
    ACTUATING = "actuating"


@dataclass(frozen=True, slots=True)
class TemperatureDone:
    """The thermometer worker's answer: a body estimate, or why there is none."""

    body: float | None
    status: str  # ok / no_person / implausible / sensor_error / unavailable
    reason: str = ""


class Thermometer(Protocol):
    def measure(self) -> Any: ...


class Actuators(Protocol):
    def pulse_gate(self) -> Any: ...

    def show(self, colour: str | None) -> Any: ...

    def beep(self, pattern: str) -> Any: ...


@dataclass(slots=True)
class Outcome:
    """A decided visit as the screen, the log and the scenario output see it (masked data only)."""

    decision: Decision
    verification: Verification | None
    temperature: float | None
    masked_name: str | None
    masked_id: str | None
    seq: int | None = None
    at: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        v = self.verification
        return {
            "type": "decision",
            **self.decision.as_dict(),
            "format": str(v.format) if v else None,
            "issuer": v.issuer if v else None,
            "colour": v.colour if v else None,
            "name": self.masked_name,
            "id_number": self.masked_id,
            "temperature": round(self.temperature, 1) if self.temperature is not None else None,
            "seq": self.seq,
        }


@dataclass(frozen=True, slots=True)
class Override:
    """A guard's decision on a referred visit, from the console (audited there before it is posted)."""

    seq: int
    decision: str  # PASS or DENY
    reason: str


@dataclass(slots=True)
class LoopState:
    """What the screen renders. Replaced, never mutated, so readers on other threads see a whole state."""

    state: State = State.IDLE
    code_read: bool = False
    card_read: bool = False
    measuring: bool = False
    remeasuring: bool = False
    temperature: float | None = None
    outcome: Outcome | None = None


@dataclass(slots=True)
class _Visit:
    started: float
    deadline: float
    verification: Verification | None = None
    code_raw: bytes | None = None
    card: IdCardRead | None = None
    card_fault: CardFault | None = None
    temperature: TemperatureDone | None = None
    measuring: bool = False
    measured_times: int = 0
    no_person_since: float | None = None
    remeasured: bool = False


@dataclass
class Checkpoint:
    policy: Policy
    keyring: Callable[[], KeyRing]  # the key ring in force (kiosk run loads it at start)
    record: Callable[[Outcome, _Visit], int]  # durable append; returns the sequence number
    actuators: Actuators
    thermometer: Thermometer | None = None
    status_lookup: Callable[[str], str | None] | None = None  # ID number -> "yellow"/"red"/None
    status_fresh: Callable[[float], bool] = lambda now: False
    trust_age_hours: Callable[[float, str | None], float | None] = lambda now, fmt: None
    newest_signed_time: Callable[[], float] = lambda: 0.0
    clock_offset: Callable[[], float | None] = lambda: None  # hub clock minus ours, when a hub told us
    rules: Callable[[Verification], bool] | None = None
    clock: Callable[[], float] = time.time
    on_outcome: Callable[[Outcome], None] = lambda outcome: None
    on_action: Callable[[dict], None] = lambda action: None
    events: queue.Queue = field(default_factory=queue.Queue)
    services: list = field(default_factory=list)  # threads around the loop, closed with it

    def __post_init__(self) -> None:
        self.view = LoopState()
        self._visit: _Visit | None = None
        self._result_until = 0.0
        self._last_outcome_keys: set[bytes] = set()
        self._assembler = ChunkAssembler()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="thermometer")

    # --- input, from any thread ---

    def post(self, event: Event | TemperatureDone) -> None:
        self.events.put(event)

    # --- the state machine, on the loop's thread ---

    def step(self, timeout: float = 0.05) -> None:
        """Handle every queued event, then the timers. Blocks at most `timeout` waiting for an event."""
        try:
            event = self.events.get(timeout=timeout)
        except queue.Empty:
            event = None
        while event is not None:
            self._handle(event)
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                event = None
        self._tick()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.step()
        self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        for service in self.services:  # hub sync, retention, sound player (kiosk.app.run.build)
            with contextlib.suppress(Exception):  # closing must reach every one
                service.close()

    def clock_trusted(self, now: float) -> bool:
        """Our clock is not before the newest signed trust data, nor further from the hub's than the
        allowed skew (when the hub told us its time)."""
        skew = self.policy.clock_skew_seconds
        offset = self.clock_offset()
        return now + skew >= self.newest_signed_time() and (offset is None or abs(offset) <= skew)

    def idle(self) -> bool:
        return self.view.state is State.IDLE and self.events.empty()

    def _handle(self, event: Event | TemperatureDone) -> None:
        now = self.clock()
        if isinstance(event, TemperatureDone):
            self._temperature_done(event, now)
        elif isinstance(event, CodeScanned):
            self._code(event, now)
        elif isinstance(event, IdCardRead | CardFault):
            self._card(event, now)
        elif isinstance(event, Override):
            self._override(event, now)
        elif isinstance(event, CardRemoved | DoorEvent):
            pass  # removal needs no action; door alarms belong to the guard console

    def _begin(self, now: float) -> _Visit:
        if self._visit is None:
            self._visit = _Visit(started=now, deadline=now + self.policy.companion_window_seconds)
            self.view = LoopState(State.READING)
            self._measure()
        return self._visit

    def _code(self, event: CodeScanned, now: float) -> None:
        if self.view.state is State.ACTUATING:
            if event.raw in self._last_outcome_keys:
                return  # the same person holding the same code while the result shows: the same visit
            self._end_result()  # the next person is already scanning
        visit = self._visit
        if visit is not None and visit.code_raw == event.raw:
            return
        result = verify_code(
            event.raw, self.keyring(), now, skew=self.policy.clock_skew_seconds, assembler=self._assembler
        )
        if "code.incomplete" in result.reasons:
            self._begin(now).deadline = now + max(self.policy.companion_window_seconds, 5.0)
            return  # wait for the other parts of a multi-part code
        visit = self._begin(now)
        if visit.verification is not None:
            return  # a second, different code in one visit: the first one stands
        visit.verification, visit.code_raw = result, event.raw
        self.view = _reading_view(self.view, code_read=True)
        if visit.card is not None or visit.card_fault is not None:
            visit.deadline = now  # code and card both here: no need to wait longer

    def _card(self, event: IdCardRead | CardFault, now: float) -> None:
        if self.view.state is State.ACTUATING:
            self._end_result()  # a card is read once per placement: this is the next person
        visit = self._begin(now)
        if visit.card is not None or visit.card_fault is not None:
            return
        if isinstance(event, IdCardRead):
            visit.card = event
        else:
            visit.card_fault = event
        self.view = _reading_view(self.view, card_read=True)
        if visit.verification is not None:
            visit.deadline = now

    def _measure(self) -> None:
        visit = self._visit
        if visit is None or visit.measuring:
            return
        if self.thermometer is None:
            visit.temperature = TemperatureDone(None, "unavailable", "no thermometer fitted")
            return
        visit.measuring = True
        self.view = _reading_view(self.view, measuring=True)
        self._pool.submit(self._measure_worker)

    def _measure_worker(self) -> None:
        try:
            reading = self.thermometer.measure()
            self.post(
                TemperatureDone(
                    getattr(reading, "body", None), str(reading.status), getattr(reading, "reason", "")
                )
            )
        except Exception as exc:  # a failing sensor must still give the loop an answer
            self.post(TemperatureDone(None, "sensor_error", f"{type(exc).__name__}: {exc}"))

    def _temperature_done(self, done: TemperatureDone, now: float) -> None:
        visit = self._visit
        if visit is None:
            return
        visit.measuring = False
        visit.measured_times += 1
        if done.status == "no_person":
            visit.no_person_since = visit.no_person_since or now
            if now - visit.no_person_since < NO_PERSON_PATIENCE:
                self._measure()  # "please stand closer": measure again
                return
            done = TemperatureDone(None, "unavailable", "nobody stood in front of the thermometer")
        if (
            done.body is not None
            and done.body >= self.policy.fever_threshold
            and self.policy.remeasure
            and not visit.remeasured
        ):
            visit.remeasured = True  # one re-measure before refusing
            self.view = _reading_view(self.view, remeasuring=True, temperature=done.body)
            self._measure()
            return
        visit.temperature = done
        self.view = _reading_view(self.view, measuring=False, temperature=done.body)

    def _tick(self) -> None:
        now = self.clock()
        if self.view.state is State.ACTUATING and now >= self._result_until:
            self._end_result()
            return
        visit = self._visit
        if visit is None or self.view.state is not State.READING:
            return
        if now < visit.deadline:
            return
        if visit.verification is None and visit.card is None and visit.card_fault is None:
            self._visit = None  # only parts of a multi-part code arrived, and no more came
            self.view = LoopState(State.IDLE)
            return
        if visit.temperature is None and visit.measuring and now - visit.started < 10.0:
            return  # the measurement is on its way (bounded by the thermometer's own timeout)
        self._decide(visit, now)

    def _decide(self, visit: _Visit, now: float) -> None:
        v = visit.verification
        card_info = None
        if visit.card_fault is not None:
            card_info = CardInfo(None, None, "forged" if visit.card_fault.forgery_suspected else "unreadable")
        elif visit.card is not None:
            number = visit.card.id_number
            binds = None
            if v is not None and v.binding is not None and v.code_id is not None:
                binds = phic.binding(number, v.code_id) == v.binding
            status = self.status_lookup(number) if self.status_lookup else None
            card_info = CardInfo(status, binds)
        temperature = visit.temperature or TemperatureDone(None, "unavailable", "no reading in time")
        fmt = str(v.format) if v is not None else "status-list"
        visit_in = Visit(
            verification=v,
            card=card_info,
            temperature=temperature.body,
            temperature_error=None
            if temperature.body is not None
            else temperature.reason or temperature.status,
            trust_age_hours=self.trust_age_hours(now, fmt),
            status_list_fresh=self.status_fresh(now),
            clock_ok=self.clock_trusted(now),
        )
        decision = decide(visit_in, self.policy, now, rules=self.rules)
        if visit.card is not None:
            name, masked = mask_name(visit.card.name), mask_id(visit.card.id_number)
        else:
            name = v.holder.name if v is not None else None
            masked = v.holder.id_number if v is not None else None
        outcome = Outcome(decision, v, temperature.body, name, masked, at=now)
        self.view = LoopState(State.DECIDED, outcome=outcome)
        outcome.seq = self.record(outcome, visit)  # durable before anything is shown or opened
        self.on_outcome(outcome)
        self._actuate(outcome, now)
        self._last_outcome_keys = {visit.code_raw} if visit.code_raw else set()
        self._visit = None

    def _actuate(self, outcome: Outcome, now: float) -> None:
        decision = outcome.decision.decision
        if decision == PASS:
            self.actuators.pulse_gate()
            self._action({"device": "gate", "action": "pulse"})
        lamp = LAMP[decision]  # refer: no lamp (there is no amber one); the buzzer and the screen say it
        self.actuators.show(lamp)
        self._action({"device": "lamp", "action": lamp or "off"})
        self.actuators.beep(BUZZER[decision])
        self._action({"device": "buzzer", "action": BUZZER[decision]})
        self._result_until = now + self.policy.result_seconds
        self.view = LoopState(State.ACTUATING, outcome=outcome)

    def override(self, seq: int, decision: str, reason: str) -> None:
        """The guard decided referred visit `seq` by hand (any thread; audited by the console)."""
        if decision not in (PASS, DENY):
            raise ValueError(f"override decision must be pass or deny, not {decision!r}")
        self.post(Override(seq, decision, reason))

    def _override(self, event: Override, now: float) -> None:
        shown = self.view.outcome
        if (
            self.view.state is State.ACTUATING
            and shown is not None
            and shown.seq == event.seq
            and shown.decision.decision == REFER
        ):  # still on screen: show the guard's decision and act on it like any other
            decided = Outcome(
                Decision(event.decision, [R.MANUAL, *shown.decision.reasons], shown.decision.method),
                shown.verification,
                shown.temperature,
                shown.masked_name,
                shown.masked_id,
                seq=shown.seq,
                at=now,
            )
            self.on_outcome(decided)
            self._actuate(decided, now)
        elif event.decision == PASS:  # the screen has moved on: only the gate
            self.actuators.pulse_gate()
            self._action({"device": "gate", "action": "pulse", "why": "override"})

    def _end_result(self) -> None:
        self.actuators.show(None)
        self._action({"device": "lamp", "action": "off"})
        self.view = LoopState(State.IDLE)
        self._last_outcome_keys = set()

    def _action(self, action: dict) -> None:
        self.on_action({"type": "actuator", **action})


def _reading_view(view: LoopState, **changes: Any) -> LoopState:
    fields = {
        "code_read": view.code_read,
        "card_read": view.card_read,
        "measuring": view.measuring,
        "remeasuring": view.remeasuring,
        "temperature": view.temperature,
    }
    fields.update(changes)
    return LoopState(State.READING, **fields)
