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
        health = gate.health
        if health.state != State.OK:
            state = "failed" if health.state == State.FAILED else "degraded"
            notes.append(health.reason)
        notes.append(
            f"lamps GPIO{config.green_pin}/GPIO{config.red_pin} and buzzer GPIO{config.buzzer_pin} driven "
            "(check by eye and ear)"
        )
        return state, "; ".join(notes)
    finally:
        gate.show(None)
        gate.silence()
        gate.close()


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
