"""Device health: every driver reports ok / degraded / failed with a reason, and when it changed.

A driver owns one `HealthTracker` and sets it from its own thread; anyone may read it at any time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"  # working, but something is off (retries, bad frames, stale value)
    FAILED = "failed"  # not working now; the driver keeps trying to recover


@dataclass(frozen=True, slots=True)
class Health:
    state: State
    reason: str = ""
    since: float = 0.0  # time.monotonic() when the state or reason last changed

    def as_dict(self) -> dict:
        return {"status": str(self.state), "detail": self.reason}


class HealthTracker:
    def __init__(self, state: State = State.FAILED, reason: str = "not started", clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._health = Health(state, reason, clock())

    def set(self, state: State, reason: str = "") -> None:
        with self._lock:
            if (state, reason) != (self._health.state, self._health.reason):
                self._health = Health(state, reason, self._clock())

    def ok(self, reason: str = "") -> None:
        self.set(State.OK, reason)

    def degraded(self, reason: str) -> None:
        self.set(State.DEGRADED, reason)

    def failed(self, reason: str) -> None:
        self.set(State.FAILED, reason)

    def get(self) -> Health:
        with self._lock:
            return self._health
