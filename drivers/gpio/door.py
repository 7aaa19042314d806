"""What a door contact's settled readings mean: opened, closed, held open after a pass, or forced.

Pure logic with the time passed in, so every sequence is testable with a made-up clock; `GateIO`
feeds it debounced readings from its door thread and calls `tick` at `next_deadline()`.
"""

from __future__ import annotations

import math

OPENED = "opened"
CLOSED = "closed"
HELD_OPEN = "held_open"
FORCED = "forced"


class DoorLogic:
    """Turns (is_open, at) readings and gate pulses into door event kinds.

    - "opened" on every opening, followed by "forced" when no gate pulse covered the moment it opened
      (the pulse plus `grace_seconds` for a door that is pushed just as the lock closes again);
    - "held_open" once, `held_seconds` after an authorised opening, if the door is still open;
    - "closed" on every closing.
    A door already open when monitoring begins reports "opened" without judging it.
    `stuck` becomes true when the door has read open for `stuck_seconds` (propped open or a cut wire:
    a normally-closed contact to ground reads open when its wire is cut).
    """

    def __init__(self, held_seconds: float, grace_seconds: float = 1.0, stuck_seconds: float | None = None):
        self.held_seconds = held_seconds
        self.grace_seconds = grace_seconds
        self.stuck_seconds = max(60.0, 6 * held_seconds) if stuck_seconds is None else stuck_seconds
        self.is_open: bool | None = None  # unknown until the first reading
        self.opened_at: float | None = None
        self.stuck = False
        self._window = (math.inf, -math.inf)  # the latest pulse window (start, end); empty at first
        self._held_due: float | None = None
        self._stuck_due: float | None = None

    def pulse(self, now: float, seconds: float) -> None:
        """The gate was released at `now` for `seconds`; a pulse during a window extends it."""
        start, end = self._window
        new_end = now + seconds + self.grace_seconds
        if start <= now <= end:
            self._window = (start, max(end, new_end))
        else:
            self._window = (now, new_end)

    def authorised(self, at: float) -> bool:
        start, end = self._window
        return start <= at <= end

    def level(self, is_open: bool, at: float) -> list[str]:
        """A settled reading; `at` is when the change began (the first edge of its bounce)."""
        if self.is_open is None:
            self.is_open = is_open
            if is_open:
                self._opened(at)
                return [OPENED]
            return []
        if is_open == self.is_open:
            return []
        self.is_open = is_open
        if not is_open:
            self.opened_at = self._held_due = self._stuck_due = None
            self.stuck = False
            return [CLOSED]
        self._opened(at)
        if self.authorised(at):
            self._held_due = at + self.held_seconds
            return [OPENED]
        return [OPENED, FORCED]

    def _opened(self, at: float) -> None:
        self.opened_at = at
        self._stuck_due = at + self.stuck_seconds

    def tick(self, now: float) -> list[str]:
        events = []
        if self._held_due is not None and now >= self._held_due:
            self._held_due = None
            events.append(HELD_OPEN)
        if self._stuck_due is not None and now >= self._stuck_due:
            self._stuck_due = None
            self.stuck = True
        return events

    def next_deadline(self) -> float | None:
        due = [t for t in (self._held_due, self._stuck_due) if t is not None]
        return min(due) if due else None
