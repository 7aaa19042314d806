"""Retention on the hub (`kiosk hub purge`): old acknowledged registrations and superseded status lists
go; rows above a gap stay; a purged seq sent again is not stored twice."""

from __future__ import annotations

import json
import time
from pathlib import Path

from fastapi.testclient import TestClient
from hubtools import Device, DeviceClient, make_hub, row

from kiosk.hub import admin
from kiosk.hub.app import create_app

DAY = 86400


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_purge_registrations_and_status_lists(tmp_path: Path) -> None:
    hub = make_hub(tmp_path / "hub")
    clock = Clock()
    with TestClient(create_app(hub.dir, clock=clock)) as client:
        kiosk = DeviceClient(client, Device.new("kiosk-1"), clock)
        assert kiosk.enroll(hub.code(device_id="kiosk-1")).status_code == 200
        assert kiosk.push([row(s) for s in range(1, 11)]).json()["stored_through"] == 10
        assert kiosk.push([row(s) for s in range(15, 21)]).json()["stored_through"] == 10  # a gap: 11-14
        clock.now += 40 * DAY
        assert kiosk.push([row(s) for s in range(21, 24)]).json()["stored_through"] == 10
        for seq in (1, 2, 3):
            hub.publish_status_list(seq, base_seq=None if seq != 2 else 1)
        lists = sorted(p.name for p in (hub.dir / "status-lists").iterdir())
        assert len(lists) == 3

        with hub.db() as db:
            done = admin.purge(db, hub.dir, days=30, now=clock.now)
            assert done.as_dict() == {"registrations": 10, "status_lists": 2}  # seqs 1-10; lists 1 and 2
            left = sorted(r["seq"] for r in db.registrations("kiosk-1"))
        assert left == [*range(15, 24)], "rows above the gap stay until the watermark passes them"
        assert [p.name for p in (hub.dir / "status-lists").iterdir()] == ["3-full.ksl"]
        assert kiosk.get("/v1/status-list", "have=1").headers["x-list-seq"] == "3"

        again = kiosk.push([row(s) for s in range(1, 15)])  # a kiosk restored from an old backup
        assert again.json() == {"stored_through": 23, "inserted": 4}  # 11-14 fill the gap; 1-10 not again
        with hub.db() as db:
            assert db.registration_count("kiosk-1") == 13


def test_purge_command(tmp_path: Path) -> None:
    hub = make_hub(tmp_path / "hub")
    done = hub.cli("purge", "--days", "90", "--json")
    assert json.loads(done.stdout) == {"registrations": 0, "status_lists": 0}
    bad = hub.cli("purge", "--days", "0", check=False)
    assert bad.returncode == 2 and "--days" in bad.stderr
