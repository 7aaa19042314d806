"""Hardware self-test of the gate outputs and door contact: one gate pulse, the door following it.

With the simulator a simulated person pushes the door while the gate is released. On a real site
the door only follows if someone walks through (or the gate opens by itself), and not every site
wires a door contact: a door that did not follow is "degraded", never "failed".
"""

from __future__ import annotations

import math
import queue
import time
from collections.abc import Collection
from typing import Any

from drivers.config import GpioConfig
from drivers.events import DoorEvent
from drivers.health import State

SIM_FAULTS = ("door_stuck", "door_wire_cut")


def selftest(
    config: GpioConfig | None = None, *, pin_factory: Any = None, faults: Collection[str] = ()
) -> tuple[str, str]:
    """("ok" | "degraded" | "failed", detail). `faults` (simulator only): any of `SIM_FAULTS`."""
    from . import open_gpio

    config = config or GpioConfig()
    unknown = set(faults) - set(SIM_FAULTS)
    if unknown:
        raise ValueError(f"unknown fault(s) {sorted(unknown)}; known: {', '.join(SIM_FAULTS)}")
    gate = open_gpio(config, pin_factory=pin_factory)
    try:
        health = gate.health
        if health.state == State.FAILED:
            return "failed", health.reason
        events: queue.Queue[DoorEvent] = queue.Queue()
        if gate.sim is not None:
            gate.sim.follow_relay(True)
            if "door_stuck" in faults:
                gate.sim.stick_door()
            if "door_wire_cut" in faults:
                gate.sim.cut_door_wire()
        gate.start(events.put)
        gate.wait_door_idle(2.0)
        notes = []
        door_before = gate.door_open

        for colour in ("green", "red", None):
            gate.show(colour)
            time.sleep(0.2)
        gate.beep("pass")

        t0 = time.monotonic()
        if not gate.pulse_gate():
            return "failed", "gate relay did not take the pulse: " + (gate.health.reason or "unknown")
        energised = gate.relay_active
        released = gate.wait_relay_idle(config.pulse_seconds + 5.0)
        pulse_s = time.monotonic() - t0
        if not (energised and released):
            return "failed", f"gate relay (GPIO{config.relay_pin}) did not complete its pulse"
        polarity = "active-high" if config.relay_active_high else "active-low"
        notes.append(f"gate relay GPIO{config.relay_pin} ({polarity}) pulsed {pulse_s:.2f} s")

        state = "ok"
        if config.door_pin is None:
            notes.append("no door contact configured")
        else:
            kinds, opened_after = [], math.nan
            if not door_before:
                kinds, opened_after = _collect(events, t0, deadline=time.monotonic() + 2.0)
            if door_before:
                state = "degraded"
                notes.append(
                    f"door contact GPIO{config.door_pin} read open before the pulse (propped open or wire cut)"
                )
            elif "opened" not in kinds:
                state = "degraded"
                notes.append(
                    f"door did not follow the gate pulse (door contact GPIO{config.door_pin} not wired, "
                    "or nobody pushed the door)"
                )
            elif "forced" in kinds:
                state = "degraded"
                notes.append("door opened outside the pulse window (check the contact and the lock)")
            else:
                closed = "and closed" if "closed" in kinds else "and has not closed yet"
                notes.append(f"door opened {opened_after:.2f} s into the pulse {closed}")
        gate.wait_quiet(2.0)
        state = _with_health(state, notes, gate.health)
        notes.append(
            f"lamps GPIO{config.green_pin}/GPIO{config.red_pin} and buzzer GPIO{config.buzzer_pin} driven "
            "(check by eye and ear)"
        )
        return state, "; ".join(notes)
    finally:
        gate.show(None)
        gate.silence()
        gate.close()


def _with_health(state: str, notes: list[str], health: Any) -> str:
    """The verdict so far, lowered by the driver's own health (its reason joins the notes)."""
    if health.state == State.OK:
        return state
    notes.append(health.reason)
    return "failed" if State.FAILED in (health.state, state) else "degraded"


def live_selftest(gate: Any) -> tuple[str, str]:
    """("ok" | "degraded" | "failed", detail) of the `GateIO` the running kiosk holds, without
    disturbing it: the relay is read, never pulsed (a self-test must not open the gate), the lamps and
    the buzzer are left as the checkpoint set them, and the door contact's last settled reading is
    reported. `gate.selftest()` calls this."""
    config = gate.config
    health = gate.health
    if health.state == State.FAILED:
        return "failed", health.reason
    notes: list[str] = []
    state = "ok"
    polarity = "active-high" if config.relay_active_high else "active-low"
    if gate._halted:
        return "failed", "gate outputs halted by an emergency stop: restart the kiosk"
    with gate._relay_cond:  # the pulse thread switches the relay and its flag under this lock
        energised = gate._relay_on
        relay = _output(gate, "relay")
    if relay is None:
        return "failed", f"gate relay (GPIO{config.relay_pin}) is not claimed or cannot be read"
    if relay != energised:
        state = "failed"
        notes.append(
            f"gate relay GPIO{config.relay_pin} ({polarity}) reads {_relay_word(relay)} "
            f"but the driver holds it {_relay_word(energised)}"
        )
    else:
        pulse = " (a gate pulse is running)" if energised else ""
        notes.append(
            f"gate relay GPIO{config.relay_pin} ({polarity}) {_relay_word(relay)}{pulse}, not pulsed"
        )
    notes.append(f"{gate.pulses} gate pulse(s) since the kiosk started")
    if config.door_pin is None:
        notes.append("no door contact configured")
    else:
        door = gate.door_open
        if door is None:
            state = "degraded" if state == "ok" else state
            notes.append(f"door contact GPIO{config.door_pin} has no reading yet (not being watched)")
        elif door:
            notes.append(
                f"door contact GPIO{config.door_pin} reads open (someone passing, propped open or wire cut)"
            )
        else:
            notes.append(f"door contact GPIO{config.door_pin} reads closed")
    lamps = [c for c in ("green", "red") if _output(gate, c)]
    sounding = gate.sounding
    notes.append(
        f"lamps GPIO{config.green_pin}/GPIO{config.red_pin} ({' and '.join(lamps) + ' lit' if lamps else 'off'}) "
        f"and buzzer GPIO{config.buzzer_pin} ({'playing ' + sounding if sounding else 'quiet'}) left as they are"
    )
    state = _with_health(state, notes, gate.health)
    return state, "; ".join(notes)


def _output(gate: Any, name: str) -> bool | None:
    """What an output of the live gate reads now (reading a pin never changes it); None when the
    driver does not hold it or it cannot be read."""
    device = gate._devices.get(name)
    if device is None:
        return None
    try:
        return bool(device.value)
    except Exception:
        return None


def _relay_word(energised: bool) -> str:
    return "energised" if energised else "de-energised"


def _collect(events: queue.Queue[DoorEvent], t0: float, deadline: float) -> tuple[list[str], float]:
    """Door event kinds until "closed" or `deadline`, and when the door opened after `t0`."""
    kinds: list[str] = []
    opened_after = math.nan
    while "closed" not in kinds:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            event = events.get(timeout=remaining)
        except queue.Empty:
            break
        kinds.append(event.kind)
        if event.kind == "opened":
            opened_after = event.at - t0
    return kinds, opened_after
