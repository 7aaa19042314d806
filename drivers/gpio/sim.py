"""The simulated wiring around gpiozero's `MockFactory`: what is connected to the mock pins.

The driver talks to the mock pins through the real gpiozero devices, exactly as it talks to lgpio on
a Pi; this board only plays the outside world: a door contact (normally closed to ground, read with
the Pi's pull-up: closed door = low, open door or cut wire = high), a person who pushes the door when
the gate is released, and the faults real doors have (contact bounce, a chattering loose wire, a cut
wire, a door that never opens).
"""

from __future__ import annotations

import threading
import time
from collections import deque

from gpiozero.pins.mock import MockFactory, MockPin, MockPWMPin

from drivers.config import GpioConfig

STATE_HISTORY = 1_000  # each mock pin's recorded changes (MockPin.states): the latest, not all


class SimFactory(MockFactory):
    """A `MockFactory` where a device takes a pin with the class the board already gave it: gpiozero's
    `PWMOutputDevice` asks for the factory's default class, so without this a passive buzzer would
    need every pin to be a `MockPWMPin` (on a Pi, lgpio can PWM any pin).

    Each pin keeps its latest `STATE_HISTORY` changes: gpiozero's mock records every change in a list,
    which grows without end in a kiosk simulated for days (the buzzer's tones, the gate)."""

    def pin(self, name, pin_class=None, **kwargs):
        if pin_class is None:
            for _header, info in self.board_info.find_pin(name):
                if info in self.pins:
                    return self.pins[info]
        pin = super().pin(name, pin_class=pin_class, **kwargs)
        if not isinstance(pin.states, deque):
            pin.states = deque(pin.states, maxlen=STATE_HISTORY)
        return pin


class _RelayPin(MockPin):
    """A mock output pin that tells the board when it changes (the relay coil)."""

    def __init__(self, factory, info, board: SimBoard | None = None):
        self.board = board
        super().__init__(factory, info)

    def _change_state(self, value):
        changed = super()._change_state(value)
        if changed and self.board is not None and self._function == "output":
            self.board._relay_changed(bool(value))
        return changed


class SimBoard:
    def __init__(self, factory: MockFactory, config: GpioConfig, door_open_high: bool = True):
        self.factory = factory
        self.config = config
        self._door_open_high = door_open_high
        self._lock = threading.Lock()
        self._door_open = False  # what the door physically does
        self._follow = False
        self._stuck = False  # the door does not move (jammed, or nobody walks through)
        self._timers: set[threading.Timer] = set()
        self._chatter_stop = threading.Event()
        # Claim the pin objects before the driver's devices do, so they have the right classes.
        self.relay_pin = factory.pin(config.relay_pin, pin_class=_RelayPin, board=self)
        self.door_pin = None if config.door_pin is None else factory.pin(config.door_pin)

    def buzzer_pwm_pin(self) -> MockPWMPin:
        """The buzzer pin as a PWM-capable mock pin (for a passive piezo driven by `TonalBuzzer`)."""
        return self.factory.pin(self.config.buzzer_pin, pin_class=MockPWMPin)

    # -- the door --------------------------------------------------------------------------------
    @property
    def door_open(self) -> bool:
        return self._door_open

    def set_door(self, is_open: bool) -> None:
        """Open or close the door (drives the contact's level)."""
        with self._lock:
            self._door_open = is_open
            self._drive(is_open)

    def _drive(self, is_open: bool) -> None:
        pin = self.door_pin
        if pin is None or pin.function != "input":
            return
        if is_open == self._door_open_high:
            pin.drive_high()
        else:
            pin.drive_low()

    def door_claimed(self) -> None:
        """The driver has just configured the door input (its pull-up reads 'open'): re-apply the
        door's real position."""
        with self._lock:
            self._drive(self._door_open)

    def bounce(self, is_open: bool, edges: int = 7) -> None:
        """Move the door to `is_open` with contact bounce: `edges` extra flips, as fast as they come."""
        with self._lock:
            level = self._door_open
            for _ in range(edges):
                level = not level
                self._drive(level)
            self._door_open = is_open
            self._drive(is_open)

    def chatter(self, seconds: float, interval: float = 0.005) -> threading.Thread:
        """A loose wire: the input flips every `interval` for `seconds`, then rests at the door's
        real position. Runs on its own thread; returns it."""

        def run() -> None:
            end = time.monotonic() + seconds
            level = self._door_open
            while time.monotonic() < end and not self._chatter_stop.wait(interval):
                level = not level
                with self._lock:
                    self._drive(level)
            with self._lock:
                self._drive(self._door_open)

        thread = threading.Thread(target=run, name="sim-door-chatter", daemon=True)
        thread.start()
        return thread

    def cut_door_wire(self) -> None:
        """The contact's wire is cut: the pull-up reads 'open' whatever the door does."""
        with self._lock:
            self._stuck = True
            self._door_open = True
            self._drive(True)

    def stick_door(self, stuck: bool = True) -> None:
        """The door no longer moves when the gate is released (jammed, or the sensor is not wired)."""
        self._stuck = stuck

    # -- a person walking through when the gate is released ---------------------------------------
    def follow_relay(self, enabled: bool = True, open_after: float = 0.1, close_after: float = 0.2) -> bool:
        """When enabled, the door opens `open_after` s after the relay energises and closes
        `close_after` s after it de-energises. False when the relay pin cannot be watched (it was
        created before this board, e.g. by another device in a test)."""
        self._follow = enabled
        self._open_after = open_after
        self._close_after = close_after
        return isinstance(self.relay_pin, _RelayPin)

    def _relay_changed(self, state: bool) -> None:
        if not self._follow or self._stuck:
            return
        energised = state == self.config.relay_active_high
        delay = self._open_after if energised else self._close_after
        timer = threading.Timer(delay, self._follow_to, args=(energised,))
        timer.daemon = True
        with self._lock:
            self._timers.add(timer)
        timer.start()

    def _follow_to(self, is_open: bool) -> None:
        with self._lock:
            self._timers = {t for t in self._timers if t.is_alive() and t is not threading.current_thread()}
        if not self._stuck:
            self.set_door(is_open)

    def close(self) -> None:
        self._follow = False
        self._chatter_stop.set()
        with self._lock:
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()
