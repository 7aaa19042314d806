"""The sync client inside `kiosk run`, on its own thread, when the kiosk is enrolled with a hub.

A round runs at start, every minute, and a second after each new registration (a jittered backoff
after failures, which new registrations do not cut short). It pushes registrations from the same store the checkpoint appends to (SQLite serialises the two), and
after a round that imported something it makes the running checkpoint use it: the key ring and status
list are reloaded, and a new site policy from the hub replaces the one in force for the next visit.
The hub's clock offset feeds the clock-sanity rule (`Checkpoint.clock_trusted`).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from kiosk.policy.dcc_rules import rules_check
from kiosk.policy.policy import Policy, PolicyError, load_policy, parse_policy

HUB_FILE = "hub.json"
HUB_POLICY_FILE = "hub-policy.toml"

log = logging.getLogger(__name__)


def site_policy(data_dir: Path, local: str | Path | None) -> Policy:
    """The policy in force: the hub's (`DATA_DIR/hub-policy.toml`, verified when it was pulled) when
    there is one, else the local file. A damaged hub policy falls back to the local one, loudly."""
    path = Path(data_dir) / HUB_POLICY_FILE
    if path.is_file():
        try:
            return parse_policy(path.read_text(encoding="utf-8"), str(path))
        except (OSError, UnicodeDecodeError, PolicyError) as exc:
            print(f"kiosk: ignoring {path}: {exc}; using the local policy", file=sys.stderr)
    return load_policy(local)


class HubSync:
    """`SyncClient.run_forever` on a daemon thread, wired to a running checkpoint."""

    interval = 60.0  # seconds between rounds when nothing happens
    settle = 1.0  # after a new registration, wait this long to push it with any that follow

    def __init__(self, data_dir: Path, store, checkpoint, trust, clock: Callable[[], float] = time.time):
        from kiosk.sync.client import open_client
        from kiosk.sync.state import read_state

        self.data_dir = Path(data_dir)
        self.checkpoint, self.trust, self.clock = checkpoint, trust, clock
        self.offset: float | None = read_state(self.data_dir).clock_offset
        self.last_result = None
        self.client = open_client(self.data_dir, store=store, clock=clock, on_change=self._changed)
        self.stop_event = threading.Event()
        self._wake = threading.Event()
        self.thread = threading.Thread(target=self._run, name="hub-sync", daemon=True)

    @classmethod
    def start_if_enrolled(cls, data_dir: Path, store, checkpoint, trust, clock=time.time) -> HubSync | None:
        if not (Path(data_dir) / HUB_FILE).is_file():
            return None
        from kiosk.sync.transport import SyncError

        try:
            sync = cls(data_dir, store, checkpoint, trust, clock)
        except SyncError as exc:
            print(f"kiosk: hub sync not started: {exc}", file=sys.stderr)
            return None
        sync.thread.start()
        return sync

    def _run(self) -> None:
        from kiosk.sync.client import backoff_delay

        failures = 0
        while not self.stop_event.is_set():
            try:
                result = self.client.sync_once()
            except Exception:  # noqa: BLE001 - the checkpoint goes on offline; the error is logged
                log.exception("hub sync round failed")
                result = None
            if result is not None:
                self._result(result)
            if result is not None and result.ok:
                failures = 0
                if self._wake.wait(self.interval) and not self.stop_event.is_set():
                    self.stop_event.wait(self.settle)  # let a visit's companions join the batch
            else:
                failures += 1  # a new registration does not cut a backoff short
                self.stop_event.wait(backoff_delay(failures))
            self._wake.clear()

    def nudge(self) -> None:
        """A registration was stored: push it soon rather than at the next interval."""
        self._wake.set()

    def _result(self, result) -> None:
        self.last_result = result
        if result.clock_offset is not None:
            self.offset = result.clock_offset

    def _changed(self, result) -> None:
        self.trust.reload()
        if "policy" in result.changed:
            policy = site_policy(self.data_dir, None)
            self.checkpoint.rules = rules_check(policy, self.clock)
            self.checkpoint.policy = policy  # read per visit by the loop

    def clock_offset(self) -> float | None:
        return self.offset

    def close(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        self._wake.set()
        self.thread.join(timeout)
        self.client.close()
