"""Retention inside `kiosk run`: registrations are kept only as long as the site policy says.

At start and then hourly, on its own thread, `RegistrationStore.purge` deletes synced registrations
older than `retention_days` and audit entries older than `audit_retention_days`. Registrations the hub
has not acknowledged are never deleted; when old ones pile up (the hub has been unreachable for longer
than the retention period) every round says so in a JSON line, so the log and the technician see it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from kiosk.store.model import PurgeResult

log = logging.getLogger(__name__)


class Retention:
    def __init__(
        self,
        store,
        policy: Callable[[], object],
        emit: Callable[[dict], None],
        clock: Callable[[], float] = time.time,
        every: float = 3600.0,
    ):
        self.store, self.policy, self.emit, self.clock, self.every = store, policy, emit, clock, every
        self.last: PurgeResult | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)

    def start(self) -> Retention:
        self._thread.start()
        return self

    def run_once(self) -> PurgeResult:
        policy = self.policy()
        result = self.store.purge(self.clock(), policy.retention_days, audit_days=policy.audit_retention_days)
        self.last = result
        if result.purged or result.audit_purged or result.kept_unsynced:
            self.emit(
                {
                    "type": "retention",
                    "purged": result.purged,
                    "audit_purged": result.audit_purged,
                    "kept_unsynced": result.kept_unsynced,
                    "days": policy.retention_days,
                }
            )
        return result

    def _run(self) -> None:
        while True:
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - a failed purge is retried next round, never fatal
                log.exception("retention round failed")
            if self._stop.wait(self.every):
                return

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
