"""Retention inside `kiosk run` (kiosk/app/retention.py) with the site policy's periods."""

from __future__ import annotations

import pytest

from kiosk.app.retention import Retention
from kiosk.policy.policy import Policy, PolicyError, parse_policy
from kiosk.store.model import Registration
from kiosk.store.registrations import RegistrationStore

T0 = 1_795_600_000
DAY = 86400


def test_policy_periods_purge_synced_rows_and_report_unsynced(tmp_path):
    lines: list[dict] = []
    now = [T0 + 40 * DAY]
    policy = Policy(retention_days=30, audit_retention_days=35)
    with RegistrationStore(tmp_path, "gate-01") as store:
        for day in range(6):  # days 0..5: all older than 30 days at T0 + 40 days
            store.append(
                Registration(ts=T0 + day * DAY, method="code", decision="pass", reasons=("code.green",))
            )
        store.append(Registration(ts=T0 + 39 * DAY, method="code", decision="pass", reasons=("code.green",)))
        store.audit("guard", "gate.manual_open", "wheelchair", now=T0)
        store.mark_synced(4)
        retention = Retention(store, lambda: policy, lines.append, clock=lambda: now[0])
        result = retention.run_once()
        assert (result.purged, result.kept_unsynced, result.audit_purged) == (4, 2, 1)
        assert lines == [
            {"type": "retention", "purged": 4, "audit_purged": 1, "kept_unsynced": 2, "days": 30}
        ]
        assert [r.seq for r in store.recent(10)] == [7, 6, 5] and store.pending() == 3
        store.mark_synced(7)
        policy = Policy(retention_days=1)  # the hub published a shorter period: the next round uses it
        now[0] += 2 * DAY
        assert retention.run_once().purged == 3 and store.recent(10) == []
        lines.clear()
        assert retention.run_once().purged == 0 and lines == []  # nothing to say: no line


def test_the_thread_runs_a_round_at_start_and_stops(tmp_path):
    lines: list[dict] = []
    with RegistrationStore(tmp_path, "gate-01") as store:
        store.append(Registration(ts=T0, method="card", decision="refer", reasons=("card.unreadable",)))
        store.mark_synced(1)
        retention = Retention(store, Policy, lines.append, clock=lambda: T0 + 60 * DAY, every=3600).start()
        retention.close(timeout=5)
        assert retention.last is not None and retention.last.purged == 1 and store.recent(5) == []


@pytest.mark.parametrize(
    "text", ["retention_days = 0", "audit_retention_days = 99999", "retention_days = 1.5"]
)
def test_retention_periods_are_validated(text):
    with pytest.raises(PolicyError):
        parse_policy(text)
