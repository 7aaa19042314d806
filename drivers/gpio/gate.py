"""`GateIO`: the gate relay, green and red lamps, buzzer and door contact behind one small class.

Nothing here blocks the caller: a gate pulse is timed by the driver's relay thread (a second pulse
while one is running extends it, it never stacks), buzzer patterns play on their own thread, and the
door contact is debounced and judged on a door thread that hands `DoorEvent`s to the sink.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from gpiozero import LED, Buzzer, DigitalInputDevice, OutputDevice, TonalBuzzer
from gpiozero.tones import Tone

from drivers.config import GpioConfig
from drivers.events import DoorEvent, Sink
from drivers.health import Health, HealthTracker, State

from . import failsafe
from .buzzer import PATTERNS, PatternPlayer
from .door import DoorLogic
from .sim import SimBoard

log = logging.getLogger(__name__)

MAX_PULSE_SECONDS = 60.0
CHATTER_SECONDS = 1.0  # an input still bouncing after this long is a wiring fault, not a door
SOURCE = "door"
COLOURS = ("green", "red")


class GateIO:
    """The gate's outputs and door input on one gpiozero pin factory. Build it with `open_gpio`.

    Construction never raises for hardware trouble: a pin that cannot be claimed (in use by another
    program, or no pin factory at all) shows in `.health`, and missing devices are claimed again in
    the background with backoff. Health is failed without the relay, degraded without a lamp, the
    buzzer or the door contact, or while the door contact chatters or reads open for very long.
    """

    def __init__(
        self,
        config: GpioConfig,
        pin_factory: Any,
        *,
        sim: SimBoard | None = None,
        own_factory: bool = False,
        factory_error: str = "",
        clock: Callable[[], float] = time.monotonic,
        door_grace_seconds: float = 1.0,
        door_stuck_seconds: float | None = None,
        reopen_backoff: tuple[float, float] = (0.5, 30.0),
    ):
        self.config = config
        self.pin_factory = pin_factory
        self.sim = sim
        self._own_factory = own_factory
        self._clock = clock
        self._health = HealthTracker(State.FAILED, "opening")
        self._backoff = reopen_backoff
        self._closed = False
        self._halted = False  # set by emergency_off: no more pulses
        self._stop = threading.Event()

        self._pins: dict[str, int] = {
            "relay": config.relay_pin,
            "green": config.green_pin,
            "red": config.red_pin,
            "buzzer": config.buzzer_pin,
        }
        if config.door_pin is not None:
            self._pins["door"] = config.door_pin
        self._devices: dict[str, Any] = {}
        self._errors: dict[str, str] = {}
        self._dev_lock = threading.Lock()
        self._fatal = factory_error or self._pin_conflicts()

        # relay
        self._relay_cond = threading.Condition()
        self._relay_on = False
        self._relay_deadline: float | None = None
        self._pulses = 0
        self.last_pulse: tuple[float, float] | None = None  # (on, off) in time.monotonic()

        # door
        self._door_cond = threading.Condition()
        self._door = DoorLogic(config.door_held_seconds, door_grace_seconds, door_stuck_seconds)
        self._bounce = float(config.door_bounce_seconds)
        self._burst_start: float | None = None  # time.monotonic() of the first unsettled edge
        self._burst_at = 0.0  # the same moment on self._clock
        self._last_edge = 0.0
        self._door_reread = False  # a (re)claimed contact: take a fresh reading
        self._chatter = False
        self._delivering = False
        self._sink: Sink | None = None
        self._door_thread: threading.Thread | None = None
        self._door_stopping = False

        self._lamp_lock = threading.Lock()
        self._player = PatternPlayer(self._buzzer_on, self._buzzer_off)

        if not self._fatal:
            for name in self._pins:
                self._open_device(name)
        self._refresh_health()
        failsafe.register(self)
        self._relay_thread = threading.Thread(target=self._relay_loop, name="gpio-relay", daemon=True)
        self._relay_thread.start()
        self._reopen_thread: threading.Thread | None = None
        self._ensure_reopen()

    # -- public API ------------------------------------------------------------------------------
    @property
    def health(self) -> Health:
        return self._health.get()

    @property
    def relay_active(self) -> bool:
        with self._relay_cond:
            return self._relay_on

    @property
    def pulses(self) -> int:
        """Pulses that energised the relay (extensions of a running pulse are not counted)."""
        with self._relay_cond:
            return self._pulses

    @property
    def door_open(self) -> bool | None:
        """The last settled door reading; None before `start`, without a contact, or before a reading."""
        with self._door_cond:
            return self._door.is_open

    def pulse_gate(self, seconds: float | None = None) -> bool:
        """Release the gate for `seconds` (default `pulse_seconds`) and return at once. A pulse while
        one is running extends it to end `seconds` from now. False when the relay is unavailable or
        the driver is shutting down."""
        secs = self.config.pulse_seconds if seconds is None else float(seconds)
        if not 0 < secs <= MAX_PULSE_SECONDS:
            raise ValueError(f"pulse must be 0-{MAX_PULSE_SECONDS:g} s, not {secs!r}")
        at = self._clock()
        with self._relay_cond:
            relay = self._devices.get("relay")
            if relay is None or self._halted or self._closed:
                return False
            end = time.monotonic() + secs
            if self._relay_deadline is None or end > self._relay_deadline:
                self._relay_deadline = end
            if not self._relay_on:
                try:
                    relay.on()
                except Exception as exc:
                    self._relay_deadline = None
                    self._device_lost("relay", exc)
                    return False
                self._relay_on = True
                self._pulses += 1
                self.last_pulse = (time.monotonic(), math.nan)
            self._relay_cond.notify_all()
        if self._halted:  # a signal handler ran in between: never leave it energised
            self.emergency_off()
            return False
        with self._door_cond:
            self._door.pulse(at, secs)
        return True

    def wait_relay_idle(self, timeout: float) -> bool:
        with self._relay_cond:
            return self._relay_cond.wait_for(lambda: not self._relay_on, timeout)

    def show(self, colour: str | None) -> bool:
        """Light the green or red lamp (the other goes off first), or neither with None."""
        if colour is not None and colour not in COLOURS:
            raise ValueError(f"colour must be one of {COLOURS} or None, not {colour!r}")
        with self._lamp_lock:
            ok = True
            order = sorted(COLOURS, key=lambda c: c == colour)  # switch off before switching on
            for name in order:
                lamp = self._devices.get(name)
                if lamp is None:
                    ok = ok and name != colour
                    continue
                try:
                    lamp.value = name == colour
                except Exception as exc:
                    self._device_lost(name, exc)
                    ok = False
            return ok

    def beep(self, pattern: str) -> bool:
        """Play "pass", "stop", "refer" or "alarm" (repeats until `silence()`). A sounding alarm
        is latched: other patterns return False until it is silenced."""
        if self._devices.get("buzzer") is None:
            if pattern not in PATTERNS:
                raise ValueError(f"unknown buzzer pattern {pattern!r}; known: {', '.join(PATTERNS)}")
            return False
        return self._player.play(pattern)

    def silence(self) -> None:
        self._player.stop()

    @property
    def sounding(self) -> str | None:
        """The pattern playing (or latched alarm), if any."""
        return self._player.current

    def wait_quiet(self, timeout: float) -> bool:
        return self._player.wait_idle(timeout)

    def start(self, sink: Sink) -> None:
        """Watch the door contact and hand `DoorEvent`s to `sink` (from the door thread)."""
        if self._door_thread is not None:
            raise RuntimeError("already started")
        if "door" not in self._pins:
            return
        self._sink = sink
        with self._door_cond:
            self._door_stopping = False
            self._door_reread = True
        self._door_thread = threading.Thread(target=self._door_loop, name="gpio-door", daemon=True)
        self._door_thread.start()

    def wait_door_idle(self, timeout: float) -> bool:
        """Wait until the door input has settled and its events have been handed over."""
        with self._door_cond:
            return self._door_cond.wait_for(
                lambda: self._burst_start is None and not self._door_reread and not self._delivering, timeout
            )

    def stop(self, timeout: float = 2.0) -> None:
        """Stop watching the door (the outputs keep working)."""
        thread = self._door_thread
        if thread is None:
            return
        with self._door_cond:
            self._door_stopping = True
            self._door_cond.notify_all()
        if thread is not threading.current_thread():
            thread.join(timeout)
        self._door_thread = None

    def selftest(self) -> tuple[str, str]:
        """Self-test of this live gate as the kiosk holds it ("ok" | "degraded" | "failed", detail):
        relay, lamps and door contact read, nothing driven; the gate is never pulsed. See
        `drivers.gpio.selftest.live_selftest`."""
        from .selftest import live_selftest

        return live_selftest(self)

    def emergency_off(self) -> None:
        """Relay off now without taking locks (callable from a signal handler); no further pulses."""
        self._halted = True
        relay = self._devices.get("relay")
        if relay is not None:
            with contextlib.suppress(Exception):
                relay.off()

    def close(self) -> None:
        """Relay off first, then everything else off; stop the threads and release the pins."""
        if self._closed:
            return
        self.emergency_off()
        self._closed = True
        self._stop.set()
        with self._relay_cond:
            self._relay_deadline = None
            self._relay_cond.notify_all()
        self.stop()
        self._player.close()
        with self._dev_lock:
            reopen = self._reopen_thread
        for thread in (self._relay_thread, reopen):
            if thread is not None and thread is not threading.current_thread():
                thread.join(2.0)
        if self.sim is not None:
            self.sim.close()
        with self._dev_lock:
            devices, self._devices = self._devices, {}
        for name in ("relay", "buzzer", "green", "red", "door"):
            device = devices.get(name)
            if device is None:
                continue
            with contextlib.suppress(Exception):
                if isinstance(device, TonalBuzzer):
                    device.stop()
                elif name != "door":
                    device.off()
            with contextlib.suppress(Exception):
                device.close()
        with self._relay_cond:
            self._relay_on = False
            self._relay_cond.notify_all()
        if self._own_factory:
            with contextlib.suppress(Exception):
                self.pin_factory.close()
        failsafe.unregister(self)
        self._health.failed("closed")

    def __enter__(self) -> GateIO:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"GateIO(backend={self.config.backend!r}, health={self.health.state.value!r})"

    # -- devices ---------------------------------------------------------------------------------
    def _pin_conflicts(self) -> str:
        seen: dict[int, str] = {}
        for name, pin in self._pins.items():
            if pin in seen:
                return f"configuration uses GPIO{pin} for both the {_label(seen[pin])} and the {_label(name)}"
            seen[pin] = name
        return ""

    def _make(self, name: str) -> Any:
        cfg, f = self.config, self.pin_factory
        if name == "relay":
            return OutputDevice(
                cfg.relay_pin, active_high=cfg.relay_active_high, initial_value=False, pin_factory=f
            )
        if name in COLOURS:
            pin = cfg.green_pin if name == "green" else cfg.red_pin
            return LED(pin, active_high=bool(cfg.lamps_active_high), initial_value=False, pin_factory=f)
        if name == "buzzer":
            if cfg.buzzer == "passive":
                if self.sim is not None:
                    self.sim.buzzer_pwm_pin()
                # A piezo is loudest at 2-4 kHz: A6 +-1 octave spans 880-3520 Hz.
                return TonalBuzzer(cfg.buzzer_pin, mid_tone=Tone("A6"), octaves=1, pin_factory=f)
            return Buzzer(
                cfg.buzzer_pin,
                active_high=bool(cfg.buzzer_active_high),
                initial_value=False,
                pin_factory=f,
            )
        if name == "door":
            device = DigitalInputDevice(cfg.door_pin, pull_up=True, bounce_time=None, pin_factory=f)
            device.when_activated = self._on_door_edge
            device.when_deactivated = self._on_door_edge
            return device
        raise KeyError(name)

    def _open_device(self, name: str) -> bool:
        try:
            device = self._make(name)
        except Exception as exc:
            with self._dev_lock:
                self._errors[name] = _describe(exc)
            return False
        with self._dev_lock:
            if self._closed:
                device.close()
                return False
            self._devices[name] = device
            self._errors.pop(name, None)
        if name == "door":
            if self.sim is not None:
                self.sim.door_claimed()
            with self._door_cond:
                self._door_reread = True
                self._door_cond.notify_all()
        return True

    def _device_lost(self, name: str, exc: Exception) -> None:
        """A device stopped working: release it (an output released is no longer driven active) and
        claim it again in the background."""
        log.warning("gpio %s failed: %s", name, exc)
        with self._dev_lock:
            device = self._devices.pop(name, None)
            self._errors[name] = _describe(exc)
        if device is not None:
            with contextlib.suppress(Exception):
                device.close()
        self._refresh_health()
        self._ensure_reopen()

    def _ensure_reopen(self) -> None:
        with self._dev_lock:
            if self._closed or self._fatal or not self._errors or self._reopen_thread is not None:
                return
            self._reopen_thread = threading.Thread(target=self._reopen_loop, name="gpio-reopen", daemon=True)
            self._reopen_thread.start()

    def _refresh_health(self) -> None:
        if self._closed:
            return
        if self._fatal:
            self._health.failed(self._fatal)
            return
        with self._dev_lock:
            errors = dict(self._errors)
        failed = [
            f"{_label(n)} (GPIO{self._pins[n]}) unavailable: {e}" for n, e in errors.items() if n == "relay"
        ]
        degraded = [
            f"{_label(n)} (GPIO{self._pins[n]}) unavailable: {e}" for n, e in errors.items() if n != "relay"
        ]
        if self._chatter:
            degraded.append(
                f"door contact (GPIO{self.config.door_pin}) keeps bouncing: loose wire or missing pull-up"
            )
        if self._door.stuck:
            degraded.append(
                f"door contact (GPIO{self.config.door_pin}) has read open for over "
                f"{self._door.stuck_seconds:g} s: door propped open or sensor wire cut"
            )
        if failed:
            self._health.failed("; ".join(failed + degraded))
        elif degraded:
            self._health.degraded("; ".join(degraded))
        else:
            self._health.ok()

    def _reopen_loop(self) -> None:
        delay, cap = self._backoff
        while not self._stop.wait(delay):
            with self._dev_lock:
                missing = list(self._errors)
            for name in missing:
                if self._open_device(name):
                    log.info("gpio %s claimed again", name)
            self._refresh_health()
            with self._dev_lock:
                if not self._errors:
                    self._reopen_thread = None
                    return
            delay = min(delay * 2, cap)

    # -- relay thread ----------------------------------------------------------------------------
    def _relay_loop(self) -> None:
        with self._relay_cond:
            while not self._closed:
                if self._relay_deadline is None:
                    self._relay_cond.wait()
                    continue
                remaining = self._relay_deadline - time.monotonic()
                if remaining > 0:
                    self._relay_cond.wait(remaining)
                    continue
                relay = self._devices.get("relay")
                try:
                    if relay is not None:
                        relay.off()
                except Exception as exc:  # released instead: a released output is not driven active
                    self._device_lost("relay", exc)
                self._relay_deadline = None
                self._relay_on = False
                if self.last_pulse is not None:
                    self.last_pulse = (self.last_pulse[0], time.monotonic())
                self._relay_cond.notify_all()

    # -- buzzer ----------------------------------------------------------------------------------
    def _buzzer_on(self, tone: float) -> None:
        buzzer = self._devices.get("buzzer")
        try:
            if isinstance(buzzer, TonalBuzzer):
                buzzer.play(Tone.from_frequency(tone))
            elif buzzer is not None:
                buzzer.on()
        except Exception as exc:
            self._device_lost("buzzer", exc)
            raise

    def _buzzer_off(self) -> None:
        buzzer = self._devices.get("buzzer")
        if isinstance(buzzer, TonalBuzzer):
            buzzer.stop()
        elif buzzer is not None:
            buzzer.off()

    # -- door thread -----------------------------------------------------------------------------
    def _on_door_edge(self) -> None:
        """gpiozero's edge callback (lgpio's thread on a Pi; the driving thread with mock pins)."""
        now = time.monotonic()
        with self._door_cond:
            if self._burst_start is None:
                self._burst_start = now
                self._burst_at = self._clock()
            self._last_edge = now
            self._door_cond.notify_all()

    def _read_door(self) -> bool | None:
        device = self._devices.get("door")
        if device is None:
            return None
        try:
            low = bool(device.is_active)  # pull-up: active = low
        except Exception as exc:
            self._device_lost("door", exc)
            return None
        return (not low) if self.config.door_open_high else low

    def _door_loop(self) -> None:
        while True:
            with self._door_cond:
                while True:
                    if self._door_stopping:
                        return
                    timeout, events, health_changed = self._door_step()
                    if events or health_changed:
                        break
                    self._door_cond.notify_all()  # for wait_door_idle
                    self._door_cond.wait(timeout)
                self._delivering = bool(events)
            if health_changed:
                self._refresh_health()
            for kind, at in events:
                self._deliver(DoorEvent(SOURCE, kind, at))
            with self._door_cond:
                self._delivering = False
                self._door_cond.notify_all()

    def _door_step(self) -> tuple[float | None, list[tuple[str, float]], bool]:
        """One look at the door, with the lock held: (how long to wait, events with their times,
        whether health changed)."""
        timeout: float | None = None
        events: list[tuple[str, float]] = []
        health_changed = False
        stuck_before = self._door.stuck
        if self._door_reread:
            self._door_reread = False
            reading = self._read_door()
            if reading is not None and self._burst_start is None:
                now = self._clock()
                events += [(kind, now) for kind in self._door.level(reading, now)]
        if self._burst_start is not None:
            now = time.monotonic()
            quiet_at = self._last_edge + self._bounce
            if now < quiet_at:
                timeout = quiet_at - now
                chatter_at = self._burst_start + CHATTER_SECONDS
                if now >= chatter_at and not self._chatter:
                    self._chatter = health_changed = True
                elif not self._chatter:
                    timeout = min(timeout, chatter_at - now)
            else:
                self._burst_start = None
                if self._chatter:
                    self._chatter, health_changed = False, True
                reading = self._read_door()
                if reading is not None:
                    at = self._burst_at
                    events += [(kind, at) for kind in self._door.level(reading, at)]
        due = self._door.next_deadline()
        if due is not None:
            now = self._clock()
            if now >= due:
                events += [(kind, now) for kind in self._door.tick(now)]
            else:
                timeout = due - now if timeout is None else min(timeout, due - now)
        if self._door.stuck != stuck_before:
            health_changed = True
        return timeout, events, health_changed

    def _deliver(self, event: DoorEvent) -> None:
        sink = self._sink
        if sink is None:
            return
        try:
            sink(event)
        except Exception:  # a broken sink must not end door monitoring
            log.exception("door event sink failed")


def _label(name: str) -> str:
    return {
        "relay": "gate relay",
        "green": "green lamp",
        "red": "red lamp",
        "buzzer": "buzzer",
        "door": "door contact",
    }[name]


def _describe(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    if "in use" in text or "busy" in text.lower():
        text += " (another program, or the kiosk service, holds it)"
    return text
