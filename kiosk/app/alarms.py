"""Alarms: the door held open or forced, and devices that failed.

`AlarmBoard` has no widget: the door contact's events reach it from the driver's thread (`kiosk run`,
with or without the window, tees the devices' sink: every event still goes to the checkpoint, which
ignores door events), device health reaches it once a second, and the guard console renders
`alarms()`; each new alarm is also a JSON line in the log. A new alarm sounds the
buzzer's latched "alarm" pattern (drivers/gpio); the guard silences it with a reason (audited by
`GuardActions.silence`), which acknowledges every alarm shown. An alarm stays listed while its condition
holds (the door still open, the device still failed) and until it is silenced.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from drivers.events import DoorEvent

DOOR_KINDS = ("held_open", "forced")
FAULT_SECONDS = 5.0  # a device failed at least this long raises an alarm (not a port reopening)


@dataclass(frozen=True, slots=True)
class Alarm:
    kind: str  # "door.held_open", "door.forced" or "device.failed"
    device: str  # "door", or the device name as in Hardware.health(): camera, thermometer, ...
    since: float  # wall-clock time it was raised
    detail: str = ""
    active: bool = True  # the condition still holds
    silenced: bool = False


class AlarmBoard:
    """Thread-safe list of alarms. `actuators` (the gate I/O, optional) gets `beep("alarm")` on a new one."""

    def __init__(
        self,
        actuators: Any = None,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        fault_seconds: float = FAULT_SECONDS,
        on_alarm: Callable[[Alarm], None] | None = None,
    ):
        self.actuators = actuators
        self.on_alarm = on_alarm  # e.g. a JSON line for the log
        self.clock = clock
        self.monotonic = monotonic
        self.fault_seconds = fault_seconds
        self._lock = threading.Lock()
        self._alarms: tuple[Alarm, ...] = ()
        self.raised = 0  # how many alarms were raised (for tests and the log)

    # --- inputs ---

    def on_event(self, event: Any) -> None:
        """A device event (any kind; only the door contact's matter here). Called on a driver thread."""
        if not isinstance(event, DoorEvent):
            return
        kind = event.kind
        if kind in DOOR_KINDS:
            self._raise(Alarm(f"door.{kind}", "door", self.clock()))
        elif kind == "closed":
            self._clear(lambda a: a.device == "door")

    def update_health(self, health: dict[str, Any]) -> None:
        """Device health as `Hardware.health()` gives it; a device failed for `fault_seconds` raises."""
        now = self.monotonic()
        for name, h in health.items():
            state = str(getattr(h, "state", h))
            if state == "failed":
                since = getattr(h, "since", None)
                if since is None or now - since >= self.fault_seconds:
                    self._raise(Alarm("device.failed", name, self.clock(), str(getattr(h, "reason", ""))))
            else:
                self._clear(lambda a, name=name: a.kind == "device.failed" and a.device == name)

    # --- outputs ---

    def alarms(self) -> tuple[Alarm, ...]:
        return self._alarms

    @property
    def sounding(self) -> bool:
        return any(not a.silenced for a in self._alarms)

    def silence(self) -> None:
        """The guard silenced the alarm: every alarm shown is acknowledged; cleared ones disappear."""
        with self._lock:
            self._alarms = tuple(replace(a, silenced=True) for a in self._alarms if a.active)

    # --- inside ---

    def _raise(self, alarm: Alarm) -> None:
        with self._lock:
            current = next(
                (a for a in self._alarms if (a.kind, a.device) == (alarm.kind, alarm.device)), None
            )
            if current is not None and current.active:
                if alarm.detail and alarm.detail != current.detail:
                    self._alarms = tuple(
                        replace(a, detail=alarm.detail) if a is current else a for a in self._alarms
                    )
                return
            others = tuple(a for a in self._alarms if a is not current)
            self._alarms = (*others, alarm)
            self.raised += 1
        if self.on_alarm is not None:
            with contextlib.suppress(Exception):
                self.on_alarm(alarm)
        beep = getattr(self.actuators, "beep", None)
        if beep is not None:
            with contextlib.suppress(Exception):  # a failing buzzer must not stop the alarm from showing
                beep("alarm")

    def _clear(self, match: Callable[[Alarm], bool]) -> None:
        with self._lock:
            if not any(match(a) and a.active for a in self._alarms):
                return
            kept = []
            for a in self._alarms:
                if match(a) and a.active:
                    if a.silenced:
                        continue  # acknowledged and over: gone
                    a = replace(a, active=False)  # over, but nobody has seen it yet
                kept.append(a)
            self._alarms = tuple(kept)
