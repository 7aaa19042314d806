"""Gate relay, lamps, buzzer and door contact: the real driver on gpiozero's MockFactory.

Pin histories are compared in full (`[s.state for s in pin.states]` after `clear_states()`):
gpiozero's `assert_states` only checks a prefix. Timing is measured and reported, never asserted
tightly (the machine may be loaded).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from gpiozero import Device, OutputDevice
from gpiozero.pins.mock import MockFactory, MockPin, MockPWMPin
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.config import GpioConfig
from drivers.gpio import PATTERNS, DoorLogic, SimFactory, failsafe, force_relay_off, open_gpio, selftest
from drivers.health import State

settings.register_profile("gpio-local", derandomize=True, deadline=None, max_examples=40)
PROFILE = settings.get_profile("gpio-local")
ROOT = Path(__file__).resolve().parents[1]
FIGURES: dict[str, float] = {}


def cfg(**kw):
    """A GpioConfig; keys GpioConfig does not have yet (lamps_active_high, buzzer, ...) give a
    duck-typed copy, which is all the driver needs."""
    fields = {f.name for f in dataclasses.fields(GpioConfig)}
    base = GpioConfig(**{k: v for k, v in kw.items() if k in fields})
    extra = {k: v for k, v in kw.items() if k not in fields}
    if not extra:
        return base
    return SimpleNamespace(**dataclasses.asdict(base), **extra)


def states(pin) -> list:
    return [s.state for s in pin.states]


def wait_until(predicate, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


@pytest.fixture
def gates():
    """Open gates through this; all are closed after the test."""
    opened = []

    def make(config=None, **options):
        gate = open_gpio(config or cfg(), **options)
        opened.append(gate)
        return gate

    yield make
    for gate in opened:
        gate.close()


def report(name: str, value: float) -> None:
    FIGURES[name] = value
    print(f"\n[gpio figure] {name} = {value:.4f}")


# -- relay -------------------------------------------------------------------------------------
@pytest.mark.parametrize("active_high", [False, True])
def test_relay_polarity_full_history(gates, active_high):
    gate = gates(cfg(relay_active_high=active_high, pulse_seconds=0.15))
    pin = gate.pin_factory.pin(17)
    idle, active = (not active_high), active_high
    # From power-on (a floating mock pin reads low): the claim drives the idle level in one step.
    assert states(pin) == ([False] if active_high else [False, True])
    pin.clear_states()
    assert pin.state == idle
    assert gate.health.state == State.OK
    assert gate.pulse_gate()
    assert gate.wait_relay_idle(5)
    assert states(pin) == [idle, active, idle]


def test_pulse_timing_measured_and_non_blocking(gates):
    gate = gates(cfg(pulse_seconds=0.3))
    pin = gate.pin_factory.pin(17)
    pin.clear_states()
    t0 = time.perf_counter()
    assert gate.pulse_gate()
    call = time.perf_counter() - t0
    assert gate.relay_active
    assert gate.wait_relay_idle(5)
    assert states(pin) == [True, False, True]
    on_time = pin.states[2].timestamp  # time spent in the previous (active) state
    report("pulse_gate call seconds", call)
    report("pulse 0.300 s measured", on_time)
    assert call < 0.15  # it returns at once: far below the pulse length
    assert 0.25 <= on_time <= 2.0


def test_repeated_pulses_extend_not_stack(gates):
    gate = gates(cfg(pulse_seconds=0.4))
    pin = gate.pin_factory.pin(17)
    pin.clear_states()
    t0 = time.monotonic()
    for _ in range(3):
        assert gate.pulse_gate()
        time.sleep(0.15)
    last = time.monotonic() - 0.15 - t0
    assert gate.wait_relay_idle(5)
    assert states(pin) == [True, False, True]  # one activation
    assert gate.pulses == 1
    on_time = pin.states[2].timestamp
    report("3 overlapping 0.4 s pulses, relay on", on_time)
    assert on_time >= last + 0.4 - 0.05  # ran to 0.4 s after the last pulse
    # A shorter pulse never cuts a longer one short.
    pin.clear_states()
    assert gate.pulse_gate(0.6)
    assert gate.pulse_gate(0.05)
    assert gate.wait_relay_idle(5)
    assert states(pin) == [True, False, True]
    assert pin.states[2].timestamp >= 0.55


@pytest.mark.parametrize("active_high", [False, True])
def test_close_mid_pulse_de_energises(gates, active_high):
    gate = gates(cfg(relay_active_high=active_high))
    pin = gate.pin_factory.pin(17)
    pin.clear_states()
    assert gate.pulse_gate(30)
    t0 = time.monotonic()
    gate.close()
    report("close() seconds", time.monotonic() - t0)
    assert states(pin) == [not active_high, active_high, not active_high]
    assert not gate.pulse_gate()
    assert gate.health.state == State.FAILED
    gate.close()  # idempotent


def test_context_manager_closes_on_exception():
    with pytest.raises(RuntimeError), open_gpio(cfg()) as gate:
        pin = gate.pin_factory.pin(17)
        pin.clear_states()
        gate.pulse_gate(30)
        raise RuntimeError("kiosk loop crashed")
    assert states(pin) == [True, False, True]


def test_signal_handler_function(gates, monkeypatch):
    gate = gates(cfg())
    pin = gate.pin_factory.pin(17)
    pin.clear_states()
    gate.pulse_gate(30)
    monkeypatch.setattr(failsafe, "_previous", {})
    with pytest.raises(SystemExit) as exc:
        failsafe.handle_signal(signal.SIGTERM, None)
    assert exc.value.code == 128 + signal.SIGTERM
    assert states(pin) == [True, False, True]
    assert not gate.pulse_gate()  # shutting down: no new pulses
    # With a previous Python handler, that handler decides (and the relay is still off first).
    gate2 = gates(cfg())
    pin2 = gate2.pin_factory.pin(17)
    pin2.clear_states()
    gate2.pulse_gate(30)
    seen = []
    monkeypatch.setattr(failsafe, "_previous", {signal.SIGTERM: lambda s, f: seen.append((s, pin2.state))})
    failsafe.handle_signal(signal.SIGTERM, None)
    assert seen == [(signal.SIGTERM, True)]
    assert states(pin2) == [True, False, True]


CRASH_SCRIPT = textwrap.dedent(
    """
    import atexit, json, sys, time
    held = {}
    # Registered first, so it runs last: after the driver's own exit hook.
    atexit.register(lambda: print("STATES " + json.dumps([s.state for s in held["pin"].states]), flush=True))
    from drivers.config import GpioConfig
    from drivers.gpio import install_signal_handlers, open_gpio
    gate = open_gpio(GpioConfig(pulse_seconds=30))
    held["pin"] = pin = gate.pin_factory.pin(17)
    pin.clear_states()
    gate.pulse_gate()
    assert pin.state is False  # energised (active-low)
    if sys.argv[1] == "raise":
        raise RuntimeError("simulated crash in the kiosk loop")
    install_signal_handlers()
    print("READY", flush=True)
    time.sleep(60)
    """
)


@pytest.mark.parametrize("mode", ["raise", "sigterm"])
def test_crash_and_sigterm_leave_relay_de_energised(mode):
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASH_SCRIPT, mode],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        if mode == "sigterm":
            assert proc.stdout.readline().strip() == "READY"
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    lines = [line for line in out.splitlines() if line.startswith("STATES ")]
    assert lines, err
    assert json.loads(lines[-1][7:]) == [True, False, True]
    if mode == "raise":
        assert proc.returncode == 1 and "simulated crash" in err
    else:
        assert proc.returncode == 128 + signal.SIGTERM


def test_force_relay_off_for_exec_stop_post():
    factory = MockFactory()
    pin = factory.pin(17)
    pin.function = "output"
    pin.state = False  # left energised (active-low) by a killed process
    pin.clear_states()
    ok, detail = force_relay_off(cfg(), pin_factory=factory)
    assert ok and "de-energised" in detail
    assert states(pin) == [False, True]


# -- lamps -------------------------------------------------------------------------------------
class LoggingPin(MockPin):
    """Logs every change on any pin of its factory, in order, to the factory's `log`."""

    def _change_state(self, value):
        changed = super()._change_state(value)
        if changed and self._function == "output":
            self.factory.log.append((self.info.name, value))
        return changed


def logging_factory() -> MockFactory:
    factory = MockFactory(pin_class=LoggingPin)
    factory.log = []
    return factory


@pytest.mark.parametrize("active_high", [True, False])
def test_lamps_exact_sequences(gates, active_high):
    factory = logging_factory()
    gate = gates(cfg(lamps_active_high=active_high), pin_factory=factory)
    green, red = factory.pin(27), factory.pin(22)
    off, on = (not active_high), active_high
    green.clear_states()
    red.clear_states()
    factory.log.clear()
    for colour in ("green", "red", None, "green", "green", "red"):
        assert gate.show(colour)
    assert states(green) == [off, on, off, on, off]
    assert states(red) == [off, on, off, on]
    # The lit lamp goes off before the other comes on: never both lit.
    assert factory.log == [
        ("GPIO27", on),
        ("GPIO27", off),
        ("GPIO22", on),
        ("GPIO22", off),
        ("GPIO27", on),
        ("GPIO27", off),
        ("GPIO22", on),
    ]
    with pytest.raises(ValueError):
        gate.show("blue")


# -- buzzer ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "pattern, expected",
    [
        ("pass", [False, True, False]),
        ("stop", [False, True, False, True, False, True, False]),
        ("refer", [False, True, False, True, False]),
    ],
)
def test_buzzer_patterns_exact(gates, pattern, expected):
    gate = gates(cfg())
    pin = gate.pin_factory.pin(23)
    pin.clear_states()
    t0 = time.monotonic()
    assert gate.beep(pattern)
    assert gate.wait_quiet(10)
    report(f"beep {pattern!r} seconds (nominal {PATTERNS[pattern].seconds:.2f})", time.monotonic() - t0)
    assert states(pin) == expected
    assert gate.sounding is None


def test_alarm_latched_until_silenced(gates):
    gate = gates(cfg())
    pin = gate.pin_factory.pin(23)
    pin.clear_states()
    assert gate.beep("alarm")
    time.sleep(0.8)
    assert gate.sounding == "alarm"
    assert not gate.beep("pass")  # the alarm is latched
    assert gate.beep("alarm")
    gate.silence()
    assert pin.state is False  # off when silence() returns
    assert gate.wait_quiet(2)
    seq = states(pin)
    assert len(seq) >= 5 and len(seq) % 2 == 1
    assert seq == [i % 2 == 1 for i in range(len(seq))]  # off, on, off, ... off
    time.sleep(0.3)
    assert states(pin) == seq  # and stays off
    assert gate.beep("pass")


def test_new_pattern_replaces_the_playing_one(gates):
    gate = gates(cfg())
    pin = gate.pin_factory.pin(23)
    pin.clear_states()
    assert gate.beep("refer")
    assert wait_until(lambda: pin.state is True)
    assert gate.beep("pass")
    assert gate.wait_quiet(5)
    assert states(pin) == [False, True, False, True, False]


class FreqPin(MockPWMPin):
    """Records every tone the PWM pin is set to."""

    def _set_frequency(self, value):
        super()._set_frequency(value)
        if value is not None:
            self.freqs.append(round(value))


def test_passive_buzzer_tones_on_pwm_pin(gates):
    factory = SimFactory()  # what the sim backend uses: a MockFactory that keeps the PWM buzzer pin
    pin = factory.pin(23, pin_class=FreqPin)
    pin.freqs = []
    gate = gates(cfg(buzzer="passive"), pin_factory=factory)
    assert gate.health.state == State.OK, gate.health.reason
    pin.clear_states()
    pin.freqs.clear()  # PWMOutputDevice set its default 100 Hz when it claimed the pin
    assert gate.beep("stop")
    assert gate.wait_quiet(5)
    assert states(pin) == [0.0, 0.5, 0.0, 0.5, 0.0, 0.5, 0.0]
    assert pin.freqs == [1047, 1047, 1047]
    pin.clear_states()
    pin.freqs.clear()
    gate.beep("alarm")
    time.sleep(1.3)
    gate.silence()
    assert states(pin)[-1] == 0.0
    assert pin.freqs[:3] == [2637, 1760, 2637]


def test_unknown_pattern(gates):
    with pytest.raises(ValueError):
        gates(cfg()).beep("fanfare")


# -- door: the logic with a made-up clock ------------------------------------------------------
def test_door_logic_sequences():
    door = DoorLogic(held_seconds=10, grace_seconds=1)
    assert door.level(False, 0.0) == []  # first reading: closed
    door.pulse(100.0, 1.0)
    assert door.level(True, 100.4) == ["opened"]
    assert door.next_deadline() == pytest.approx(110.4)
    assert door.tick(110.3) == []
    assert door.tick(110.4) == ["held_open"]
    assert door.tick(200.0) == []  # once per opening
    assert door.level(False, 201.0) == ["closed"]
    # No pulse: forced; no held_open for it.
    assert door.level(True, 300.0) == ["opened", "forced"]
    assert door.tick(400.0) == []
    assert door.level(False, 401.0) == ["closed"]
    # The grace after a pulse: a door pushed as the lock closes is not forced; later it is.
    door.pulse(500.0, 1.0)
    assert door.level(True, 501.9) == ["opened"]
    assert door.level(False, 502.0) == ["closed"]
    assert door.level(True, 502.1) == ["opened", "forced"]
    assert door.level(False, 503.0) == ["closed"]
    # Opened before the pulse: forced, even if a pulse follows.
    assert door.level(True, 599.9) == ["opened", "forced"]
    door.pulse(600.0, 1.0)
    assert door.level(False, 600.5) == ["closed"]
    # A second pulse during the window extends it.
    door.pulse(700.0, 1.0)
    door.pulse(701.5, 1.0)
    assert door.authorised(703.4) and not door.authorised(703.6) and not door.authorised(699.9)


def test_door_logic_initial_open_and_stuck():
    door = DoorLogic(held_seconds=10, grace_seconds=1, stuck_seconds=60)
    assert door.level(True, 5.0) == ["opened"]  # open when monitoring began: not judged
    assert door.tick(64.9) == [] and not door.stuck
    assert door.tick(65.0) == [] and door.stuck
    assert door.level(False, 70.0) == ["closed"] and not door.stuck


door_ops = st.lists(
    st.tuples(st.sampled_from(["open", "close", "pulse", "tick"]), st.floats(0.0, 5.0)), max_size=40
)


@PROFILE
@given(door_ops)
def test_door_logic_invariants(ops):
    door = DoorLogic(held_seconds=3, grace_seconds=1)
    now, is_open, held_seen, opened_at, out = 0.0, None, False, None, []
    for op, dt in ops:
        now += dt
        if op == "pulse":
            door.pulse(now, 1.0)
            continue
        events = door.tick(now) if op == "tick" else door.level(op == "open", now)
        out += events
        for kind in events:
            if kind == "opened":
                assert is_open is not True
                is_open, held_seen, opened_at = True, False, now
            elif kind == "closed":
                assert is_open is True
                is_open = False
            elif kind == "forced":
                assert events == ["opened", "forced"] and not door.authorised(now)
            elif kind == "held_open":
                assert is_open is True and not held_seen
                assert now - opened_at >= 3
                held_seen = True
        if op in ("open", "close") and is_open is not None:
            assert is_open == door.is_open


# -- door: through the mock pins ---------------------------------------------------------------
def kinds(events) -> list[str]:
    return [e.kind for e in events]


def test_door_events_through_pins(gates):
    gate = gates(cfg(door_held_seconds=0.3, pulse_seconds=0.2))
    events = []
    gate.start(events.append)
    assert gate.wait_door_idle(5)
    assert events == [] and gate.door_open is False
    gate.sim.set_door(True)  # nobody released the gate
    assert gate.wait_door_idle(5)
    gate.sim.set_door(False)
    assert gate.wait_door_idle(5)
    assert kinds(events) == ["opened", "forced", "closed"]
    events.clear()
    gate.pulse_gate()
    t0 = time.monotonic()
    gate.sim.set_door(True)
    assert wait_until(lambda: "held_open" in kinds(events))
    report("held_open after (s, nominal 0.3)", time.monotonic() - t0)
    gate.sim.set_door(False)
    assert wait_until(lambda: "closed" in kinds(events))
    assert kinds(events) == ["opened", "held_open", "closed"]
    assert all(e.source == "door" for e in events)


def test_door_event_times_use_the_given_clock(gates):
    fake = [1000.0]
    gate = gates(cfg(), clock=lambda: fake[0])
    events = []
    gate.start(events.append)
    assert gate.wait_door_idle(5)
    gate.pulse_gate(0.2)
    fake[0] = 1000.5
    gate.sim.set_door(True)
    fake[0] = 1002.0  # settles later, but the event is dated at the first edge
    assert gate.wait_door_idle(5)
    assert [(e.kind, e.at) for e in events] == [("opened", 1000.5)]


def test_door_bounce_is_filtered(gates):
    gate = gates(cfg())
    events = []
    gate.start(events.append)
    assert gate.wait_door_idle(5)
    pin = gate.pin_factory.pin(24)
    pin.clear_states()
    gate.sim.bounce(True, edges=7)
    assert gate.wait_door_idle(5)
    assert len(pin.states) == 1 + 7  # the contact really bounced
    assert kinds(events) == ["opened", "forced"]
    gate.sim.bounce(True, edges=4)  # a glitch that ends where it began
    gate.sim.bounce(False, edges=9)
    assert gate.wait_door_idle(5)
    assert kinds(events) == ["opened", "forced", "closed"]


@settings(PROFILE, max_examples=25)
@given(st.booleans(), st.lists(st.booleans(), max_size=30))
def test_door_debounce_property(start_open, flips):
    gate = open_gpio(cfg())
    try:
        gate.sim.set_door(start_open)
        events = []
        gate.start(events.append)
        assert gate.wait_door_idle(5)
        events.clear()
        pin = gate.pin_factory.pin(24)
        for high in flips:  # arbitrary garbage on the input, as fast as it comes
            if high:
                pin.drive_high()
            else:
                pin.drive_low()
        final_open = pin.state  # door_open_high: high = open
        assert gate.wait_door_idle(5)
        assert gate.door_open == final_open
        if final_open == start_open:
            assert events == []
        elif final_open:
            assert kinds(events) == ["opened", "forced"]
        else:
            assert kinds(events) == ["closed"]
    finally:
        gate.close()


def test_chattering_contact_degrades_then_recovers(gates):
    gate = gates(cfg())
    events = []
    gate.start(events.append)
    assert gate.wait_door_idle(5)
    gate.sim.chatter(1.8, interval=0.005)
    assert wait_until(lambda: gate.health.state == State.DEGRADED, 5)
    assert "keeps bouncing" in gate.health.reason
    assert wait_until(lambda: gate.health.state == State.OK, 5)
    assert gate.wait_door_idle(5)
    assert events == []  # the door never really moved


def test_door_open_too_long_degrades(gates):
    gate = gates(cfg(), door_stuck_seconds=0.4)
    gate.start(lambda e: None)
    assert gate.wait_door_idle(5)
    gate.sim.cut_door_wire()
    assert wait_until(lambda: gate.health.state == State.DEGRADED, 5)
    assert "propped open or sensor wire cut" in gate.health.reason
    gate.sim.set_door(False)
    assert wait_until(lambda: gate.health.state == State.OK, 5)


def test_broken_sink_does_not_stop_door_monitoring(gates):
    gate = gates(cfg())
    seen = []

    def sink(event):
        seen.append(event.kind)
        raise RuntimeError("sink bug")

    gate.start(sink)
    assert gate.wait_door_idle(5)
    gate.sim.set_door(True)
    assert gate.wait_door_idle(5)
    gate.sim.set_door(False)
    assert gate.wait_door_idle(5)
    assert seen == ["opened", "forced", "closed"]


def test_no_door_contact(gates):
    gate = gates(cfg(door_pin=None))
    gate.start(lambda e: None)
    assert gate.door_open is None and gate.health.state == State.OK
    assert gate.pulse_gate(0.05)


# -- idle CPU ----------------------------------------------------------------------------------
def test_no_busy_spin(gates):
    gate = gates(cfg())
    gate.start(lambda e: None)
    assert gate.wait_door_idle(5)
    time.sleep(0.2)
    c0, t0 = time.process_time(), time.monotonic()
    time.sleep(1.5)
    idle = (time.process_time() - c0) / (time.monotonic() - t0)
    report("idle CPU fraction (door watched)", idle)
    gate.pulse_gate(30)  # the relay and buzzer threads waiting on timers
    gate.beep("alarm")
    c0, t0 = time.process_time(), time.monotonic()
    time.sleep(1.5)
    waiting = (time.process_time() - c0) / (time.monotonic() - t0)
    report("CPU fraction during a 30 s pulse and the alarm", waiting)
    assert idle < 0.05 and waiting < 0.1


# -- health ------------------------------------------------------------------------------------
def test_relay_pin_in_use_fails_then_recovers(gates):
    factory = MockFactory()
    holder = OutputDevice(17, pin_factory=factory)
    gate = gates(cfg(pulse_seconds=0.05), pin_factory=factory, reopen_backoff=(0.05, 0.2))
    health = gate.health
    assert health.state == State.FAILED
    assert "gate relay (GPIO17) unavailable" in health.reason and "already in use" in health.reason
    assert not gate.pulse_gate()
    holder.close()
    assert wait_until(lambda: gate.health.state == State.OK, 5), gate.health.reason
    assert gate.pulse_gate()


def test_other_pins_in_use_degrade(gates):
    factory = MockFactory()
    holders = [OutputDevice(23, pin_factory=factory), OutputDevice(24, pin_factory=factory)]
    gate = gates(cfg(), pin_factory=factory, reopen_backoff=(0.05, 0.2), door_grace_seconds=0.0)
    health = gate.health
    assert health.state == State.DEGRADED
    assert "buzzer (GPIO23) unavailable" in health.reason and "door contact (GPIO24)" in health.reason
    assert not gate.beep("pass")
    assert gate.pulse_gate(0.05)  # the gate still works
    assert gate.wait_relay_idle(5)
    events = []
    gate.start(events.append)
    for holder in holders:
        holder.close()
    assert wait_until(lambda: gate.health.state == State.OK, 5), gate.health.reason
    assert gate.wait_door_idle(5)
    gate.sim.set_door(True)
    assert wait_until(lambda: kinds(events) == ["opened", "forced"], 5)


def test_lost_device_is_released_and_claimed_again(gates):
    gate = gates(cfg(), reopen_backoff=(0.05, 0.2))
    gate._devices["green"].close()  # the line is lost underneath the driver
    assert not gate.show("green")
    assert gate.health.state == State.DEGRADED and "green lamp (GPIO27)" in gate.health.reason
    assert wait_until(lambda: gate.health.state == State.OK, 5), gate.health.reason
    green = gate.pin_factory.pin(27)
    green.clear_states()
    assert gate.show("green")
    assert states(green) == [False, True]


def test_second_gate_on_same_pins_fails(gates):
    factory = MockFactory()
    first = gates(cfg(), pin_factory=factory)
    second = gates(cfg(), pin_factory=factory)
    assert first.health.state == State.OK
    assert second.health.state == State.FAILED and "already in use" in second.health.reason


def test_no_pin_factory_fails_with_reason(monkeypatch, gates):
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    monkeypatch.setattr(Device, "pin_factory", None)
    gate = gates(cfg(backend="real"))
    health = gate.health
    assert health.state == State.FAILED
    assert "no GPIO pin factory" in health.reason and "lgpio" in health.reason
    assert not gate.pulse_gate() and not gate.show("green") and not gate.beep("pass")


def test_pin_conflict_in_config(gates):
    gate = gates(cfg(green_pin=17))
    assert gate.health.state == State.FAILED
    assert gate.health.reason == "configuration uses GPIO17 for both the gate relay and the green lamp"


def test_bad_arguments(gates):
    gate = gates(cfg())
    for seconds in (0, -1, 61, math.nan):
        with pytest.raises(ValueError):
            gate.pulse_gate(seconds)


# -- selftest ----------------------------------------------------------------------------------
def test_selftest_sim_ok():
    state, detail = selftest(cfg(pulse_seconds=0.3))
    assert state == "ok", detail
    assert "door opened" in detail and "closed" in detail


@pytest.mark.parametrize("fault, words", [("door_stuck", "did not follow"), ("door_wire_cut", "read open")])
def test_selftest_door_faults_degrade(fault, words):
    state, detail = selftest(cfg(pulse_seconds=0.3), faults=[fault])
    assert state == "degraded" and words in detail, detail


def test_selftest_without_door_contact():
    assert selftest(cfg(pulse_seconds=0.1, door_pin=None))[0] == "ok"


def test_selftest_real_without_hardware_fails(monkeypatch):
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    monkeypatch.setattr(Device, "pin_factory", None)
    state, detail = selftest(cfg(backend="real"))
    assert state == "failed" and "no GPIO pin factory" in detail


def test_selftest_pins_in_use_fails():
    factory = MockFactory()
    holder = OutputDevice(17, pin_factory=factory)
    try:
        state, detail = selftest(cfg(), pin_factory=factory)
    finally:
        holder.close()
    assert state == "failed" and "GPIO17" in detail and "in use" in detail


def test_no_threads_left_behind():
    before = {t.name for t in threading.enumerate()}
    gate = open_gpio(cfg())
    gate.start(lambda e: None)
    gate.beep("alarm")
    gate.pulse_gate(30)
    gate.close()
    left = {t.name for t in threading.enumerate() if t.is_alive()} - before
    assert not {n for n in left if n.startswith("gpio-")}, left


def test_sim_pin_history_is_bounded(gates):
    """gpiozero's mock records every change; the simulated board keeps the latest STATE_HISTORY, so a
    kiosk simulated for days does not grow (the relay toggled past the bound keeps the newest states)."""
    from drivers.gpio import sim

    gate = gates(cfg())
    pin = gate.pin_factory.pin(17)
    assert pin.states.maxlen == sim.STATE_HISTORY
    for i in range(sim.STATE_HISTORY + 50):
        pin._change_state(i % 2 == 0)  # what the relay output does on each gate pulse
    assert len(pin.states) == sim.STATE_HISTORY
    assert pin.states[-1].state == ((sim.STATE_HISTORY + 49) % 2 == 0)
