"""Buzzer patterns and the thread that plays them without blocking the kiosk loop.

The same patterns drive an active buzzer (its own oscillator: on/off) and a passive piezo (a PWM
tone per step); the tone is ignored by an active buzzer.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Pattern:
    name: str
    steps: tuple[tuple[float, float, float], ...]  # (on seconds, off seconds, tone in Hz)
    repeat: bool = False  # repeat until silenced

    @property
    def seconds(self) -> float:
        return sum(on + off for on, off, _ in self.steps)


# Distinct by rhythm first (an active buzzer has one pitch), by pitch second.
PATTERNS: dict[str, Pattern] = {
    "pass": Pattern("pass", ((0.15, 0.0, 2093.0),)),  # one short high beep
    "stop": Pattern("stop", ((0.15, 0.15, 1047.0),) * 3),  # three short low beeps
    "refer": Pattern("refer", ((0.6, 0.3, 1568.0),) * 2),  # two long beeps
    "alarm": Pattern("alarm", ((0.25, 0.25, 2637.0), (0.25, 0.25, 1760.0)), repeat=True),  # until silenced
}
ALARM = "alarm"


class PatternPlayer:
    """Plays one pattern at a time on a daemon thread. A new pattern replaces the one playing, except
    that a sounding alarm is latched: only `stop()` (or another alarm request) ends it."""

    def __init__(self, on: Callable[[float], None], off: Callable[[], None], name: str = "gpio-buzzer"):
        self._on = on
        self._off = off
        self._cond = threading.Condition()
        self._pending: Pattern | None = None
        self._current: str | None = None  # what the caller last asked for and is not finished
        self._gen = 0
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def current(self) -> str | None:
        with self._cond:
            return self._current

    def play(self, name: str) -> bool:
        """Start pattern `name`; False when an alarm is sounding (it is latched) or the player closed."""
        pattern = PATTERNS.get(name)
        if pattern is None:
            raise ValueError(f"unknown buzzer pattern {name!r}; known: {', '.join(PATTERNS)}")
        with self._cond:
            if self._closing:
                return False
            if self._current == ALARM:
                return name == ALARM
            self._pending = pattern
            self._current = name
            self._gen += 1
            self._cond.notify_all()
            return True

    def stop(self) -> None:
        """Silence now (the buzzer is off when this returns)."""
        with self._cond:
            self._pending = None
            self._current = None
            self._gen += 1
            self._safe_off()
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._current is None, timeout)

    def close(self, timeout: float = 2.0) -> None:
        with self._cond:
            self._closing = True
            self._pending = None
            self._current = None
            self._gen += 1
            self._cond.notify_all()
        self._thread.join(timeout)

    def _safe_off(self) -> None:
        with contextlib.suppress(Exception):  # a closed or lost device: nothing to switch off
            self._off()

    def _run(self) -> None:
        with self._cond:
            while True:
                self._cond.wait_for(lambda: self._pending is not None or self._closing)
                if self._closing:
                    return
                pattern, gen = self._pending, self._gen
                self._pending = None
                assert pattern is not None
                self._play(pattern, gen)
                self._safe_off()
                if self._gen == gen:  # finished, not replaced or silenced
                    self._current = None
                    self._cond.notify_all()

    def _play(self, pattern: Pattern, gen: int) -> None:
        """Called with the lock held; the waits release it."""

        def interrupted(seconds: float) -> bool:
            return seconds > 0 and self._cond.wait_for(lambda: self._gen != gen or self._closing, seconds)

        while True:
            for on_s, off_s, tone in pattern.steps:
                try:
                    self._on(tone)
                except Exception:
                    return
                if interrupted(on_s):
                    return
                self._safe_off()
                if interrupted(off_s):
                    return
            if not pattern.repeat:
                return
