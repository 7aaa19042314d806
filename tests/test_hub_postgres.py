"""The hub on PostgreSQL (a throwaway server from kiosk.hub.pgtemp): the same enrolment, intake,
idempotency and replay paths as on SQLite, concurrent batches, and a real `hub serve` process.
Skipped only when no PostgreSQL server binaries are installed."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from hubtools import Device, DeviceClient, Hub, fresh_database, make_hub, pg_url, row, run_hub  # noqa: F401

from kiosk.hub import admin
from kiosk.hub.app import create_app
from kiosk.hub.cli import main as hub_main
from kiosk.hub.db import HubDB
from kiosk.issuer.status_list import write_status_list


@pytest.fixture
def pg_hub(tmp_path: Path, pg_url: str) -> Hub:  # noqa: F811
    """A hub directory (root key) whose database is a new PostgreSQL database."""
    return make_hub(tmp_path / "hub", fresh_database(pg_url))


@pytest.fixture
def client(pg_hub: Hub):
    with TestClient(create_app(pg_hub.dir, pg_hub.database_url)) as c:
        yield c


def enrol(client, hub: Hub, device_id: str = "kiosk-pg", **kw) -> DeviceClient:
    dc = DeviceClient(client, Device.new(device_id))
    r = dc.enroll(hub.code(device_id=device_id, **kw))
    assert r.status_code == 200, r.text
    return dc


def test_postgres_is_really_used(pg_hub: Hub):
    assert not (pg_hub.dir / "hub.sqlite").exists()
    with pg_hub.db() as db:
        assert db.postgres
        with db.reader() as r:
            assert r.one("SELECT current_setting('fsync')") == ("on",)


def test_enrolment_on_postgres(client, pg_hub: Hub):
    code = pg_hub.code(site="Port P")
    dev = DeviceClient(client, Device.new("kiosk-1"))
    r = dev.enroll(code)
    assert r.status_code == 200 and r.json()["site"] == "Port P" and r.json()["root_key"] == pg_hub.root_pem
    assert dev.enroll(code).status_code == 200  # the same device repeating its enrolment
    r = DeviceClient(client, Device.new("kiosk-2")).enroll(code)
    assert (r.status_code, r.json()["error"]) == (403, "enroll.code_used")
    r = DeviceClient(client, Device.new("kiosk-1")).enroll(pg_hub.code())
    assert (r.status_code, r.json()["error"]) == (409, "enroll.device_exists")
    r = DeviceClient(client, Device.new("kiosk-3")).enroll(pg_hub.code(device_id="kiosk-4"))
    assert (r.status_code, r.json()["error"]) == (403, "enroll.device_mismatch")


def test_intake_idempotent_with_gaps_on_postgres(client, pg_hub: Hub):
    dc = enrol(client, pg_hub)
    assert dc.push([row(i) for i in range(1, 11)]).json() == {"stored_through": 10, "inserted": 10}
    assert dc.push([row(i) for i in range(1, 11)]).json() == {"stored_through": 10, "inserted": 0}
    assert dc.push([row(i) for i in range(21, 31)]).json() == {"stored_through": 10, "inserted": 10}
    assert dc.push([row(i) for i in range(11, 21)]).json() == {"stored_through": 30, "inserted": 10}
    evil = "x'); DROP TABLE registrations;--"
    assert dc.push([row(31, issuer=evil)]).json() == {"stored_through": 31, "inserted": 1}
    with pg_hub.db() as db:
        rows = db.registrations("kiosk-pg")
        assert [r["seq"] for r in rows] == list(range(1, 32))
        assert rows[0] == row(1) and rows[-1]["issuer"] == evil
        assert db.device("kiosk-pg").acked_seq == 31


def test_replay_and_refusals_on_postgres(client, pg_hub: Hub):
    dc = enrol(client, pg_hub)
    body = (
        b'{"device_id": "kiosk-pg", "registrations": ['
        + httpx.Request("GET", "/", json=row(1)).content
        + b"]}"
    )
    headers = dc.device.sign("POST", "/v1/registrations", "", body, time.time())
    assert client.post("/v1/registrations", content=body, headers=headers).status_code == 200
    r = client.post("/v1/registrations", content=body, headers=headers)
    assert (r.status_code, r.json()["error"]) == (401, "replay")
    r = dc.push([row(2, masked_id="110101199003077777")])
    assert r.status_code == 422
    r = dc.push([row(2, masked_name="Z*\x00")])  # PostgreSQL text cannot hold NUL: refused before it
    assert r.status_code == 422
    with pg_hub.db() as db:
        admin.revoke_device(db, "kiosk-pg")
        assert db.registration_count() == 1
    assert dc.push([row(2)]).status_code == 403


def test_downloads_on_postgres(client, pg_hub: Hub, tmp_path: Path):
    from kiosk.issuer import keys as issuer_keys

    dc = enrol(client, pg_hub, site="Port P")
    key = issuer_keys.generate("es256", "440000")
    issuer_keys.save(key, tmp_path / "iss.pem")
    policy = tmp_path / "p.toml"
    policy.write_text("fever_threshold = 37.4\n")
    write_status_list(tmp_path / "1.ksl", pg_hub.root, 1, None, [("110101199003077777", "red")])
    write_status_list(tmp_path / "2.ksl", pg_hub.root, 2, 1, [("110101199003077777", "clear")])
    with pg_hub.db() as db:
        admin.add_issuer(db, "440000", tmp_path / "iss.pem")
        admin.publish_bundle(db, pg_hub.root)
        admin.publish_policy(db, pg_hub.root, policy, site="Port P")
        admin.publish_status_list(db, pg_hub.dir, pg_hub.root, tmp_path / "1.ksl")
        admin.publish_status_list(db, pg_hub.dir, pg_hub.root, tmp_path / "2.ksl")
    r = dc.get("/v1/bundle")
    assert r.status_code == 200
    assert dc.get("/v1/bundle", headers={"If-None-Match": r.headers["etag"]}).status_code == 304
    assert dc.get("/v1/policy").status_code == 200
    assert dc.get("/v1/status-list").headers["x-list-kind"] == "full"
    assert dc.get("/v1/status-list", "have=1").headers["x-list-kind"] == "delta"
    assert dc.get("/v1/status-list", "have=2").status_code == 304


def test_cli_with_database_url(pg_hub: Hub, capsys):
    d = ["--dir", str(pg_hub.dir), "--database", pg_hub.database_url]
    assert hub_main(["hub", "enroll-code", *d, "--device-id", "kiosk-cli"]) == 0
    assert hub_main(["hub", "devices", *d, "--json"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "[]"


def test_unreachable_database_is_a_clear_error(tmp_path: Path, capsys):
    hub = make_hub(tmp_path / "hub")
    code = hub_main(
        ["hub", "devices", "--dir", str(hub.dir), "--database", "postgresql://x:y@127.0.0.1:1/none"]
    )
    assert code == 2 and "cannot connect" in capsys.readouterr().err


@pytest.fixture(params=["sqlite", "postgresql"])
def any_hub(request, tmp_path: Path) -> Hub:
    if request.param == "sqlite":
        return make_hub(tmp_path / "hub")
    return make_hub(tmp_path / "hub", fresh_database(request.getfixturevalue("pg_url")))


@pytest.mark.slow
def test_concurrent_overlapping_batches(any_hub: Hub):
    """Threads send overlapping batches of one device at once (retries racing each other): no error,
    every row once, the watermark exact."""
    with TestClient(create_app(any_hub.dir, any_hub.database_url)) as client:
        dc = enrol(client, any_hub, "kiosk-race")
        errors: list[str] = []
        answers: list[int] = []

        def push(start: int) -> None:
            for s in range(start, 400, 40):
                r = dc.push([row(i) for i in range(s, min(s + 60, 401))])
                if r.status_code != 200:
                    errors.append(r.text)
                else:
                    answers.append(r.json()["stored_through"])

        threads = [threading.Thread(target=push, args=(start,)) for start in (1, 11, 21, 31)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert dc.push([row(1)]).json() == {"stored_through": 400, "inserted": 0}
    with HubDB(any_hub.dir, any_hub.database_url) as db:
        assert [r["seq"] for r in db.registrations("kiosk-race")] == list(range(1, 401))


@pytest.mark.slow
def test_real_hub_process_on_postgres(pg_hub: Hub):
    dev = Device.new("kiosk-proc")
    with (
        run_hub(pg_hub.dir, pg_hub.database_url) as proc,
        httpx.Client(base_url=proc.url, timeout=10) as http,
    ):
        dc = DeviceClient(http, dev)
        assert dc.enroll(pg_hub.code(device_id="kiosk-proc")).status_code == 200
        assert dc.push([row(i) for i in range(1, 1001)]).json() == {"stored_through": 1000, "inserted": 1000}
        proc.kill()
    with (
        run_hub(pg_hub.dir, pg_hub.database_url) as proc,
        httpx.Client(base_url=proc.url, timeout=10) as http,
    ):
        assert DeviceClient(http, dev).push([row(1000), row(1001)]).json() == {
            "stored_through": 1001,
            "inserted": 1,
        }
        assert "***@127.0.0.1" in proc.log()  # the password is not printed
