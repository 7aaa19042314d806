"""The hub (kiosk/hub): enrolment, signed downloads with ETag/304 and delta selection, idempotent intake,
the admin commands, and one real `kiosk hub serve` process."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hubtools import Device, DeviceClient, Hub, hub_server, make_hub, row, run_hub  # noqa: F401

from kiosk.crypto.jws import verify_compact
from kiosk.hub import admin
from kiosk.hub.app import create_app
from kiosk.hub.cli import main as hub_main
from kiosk.issuer import keys as issuer_keys
from kiosk.issuer.status_list import write_status_list
from kiosk.trust.sources import phic_bundle
from kiosk.trust.status_list import StatusList, import_list

ID_A, ID_B = "110101199003077777", "440301198812120011"


class Clock:
    """A clock the test moves (the hub's clock and the signing clock)."""

    def __init__(self, now: float | None = None):
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    return make_hub(tmp_path / "hub")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(hub: Hub, clock: Clock):
    with TestClient(create_app(hub.dir, clock=clock)) as c:
        yield c


def enrolled(client: TestClient, hub: Hub, clock: Clock, device_id: str = "kiosk-1", site: str | None = None):
    dc = DeviceClient(client, Device.new(device_id), clock)
    r = dc.enroll(hub.code(device_id=device_id, site=site))
    assert r.status_code == 200, r.text
    return dc


# --- enrolment --------------------------------------------------------------------------------------


def test_health_has_time_and_date(client: TestClient, clock: Clock):
    r = client.get("/v1/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "time": clock.now}
    assert r.headers["date"].endswith("GMT")


def test_enroll_answers_root_key_and_site(client: TestClient, hub: Hub, clock: Clock):
    dc = DeviceClient(client, Device.new("kiosk-1"), clock)
    r = dc.enroll(hub.code(site="Port A"), name="Lane 3")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc == {
        "device_id": "kiosk-1",
        "site": "Port A",
        "enrolled_at": clock.now,
        "root_key": hub.root_pem,
    }
    with hub.db() as db:
        dev = db.device("kiosk-1")
    assert (
        dev is not None
        and dev.name == "Lane 3"
        and dev.site == "Port A"
        and dev.public_key == dc.device.public_pem
    )


def test_enroll_code_is_one_time(client: TestClient, hub: Hub, clock: Clock):
    code = hub.code()
    first = DeviceClient(client, Device.new("kiosk-1"), clock)
    assert first.enroll(code).status_code == 200
    other = DeviceClient(client, Device.new("kiosk-2"), clock)
    r = other.enroll(code)
    assert (r.status_code, r.json()["error"]) == (403, "enroll.code_used")
    # the device that used it may repeat its enrolment (an answer lost in flight), with a new nonce
    again = first.enroll(code)
    assert again.status_code == 200 and again.json()["device_id"] == "kiosk-1"
    with hub.db() as db:
        assert db.device("kiosk-2") is None


def test_enroll_code_expires(client: TestClient, hub: Hub, clock: Clock):
    code = hub.code(hours=1)
    clock.now += 3601
    r = DeviceClient(client, Device.new("kiosk-1"), clock).enroll(code)
    assert (r.status_code, r.json()["error"]) == (403, "enroll.code_expired")


def test_enroll_unknown_code(client: TestClient, clock: Clock):
    r = DeviceClient(client, Device.new("kiosk-1"), clock).enroll("AAAA-BBBB-CCCC-DDDD")
    assert (r.status_code, r.json()["error"]) == (403, "enroll.code_invalid")


def test_enroll_code_normalised(client: TestClient, hub: Hub, clock: Clock):
    code = hub.code()
    r = DeviceClient(client, Device.new("kiosk-1"), clock).enroll(code.replace("-", " ").lower())
    assert r.status_code == 200, r.text


def test_enroll_code_bound_to_device(client: TestClient, hub: Hub, clock: Clock):
    code = hub.code(device_id="kiosk-a")
    r = DeviceClient(client, Device.new("kiosk-b"), clock).enroll(code)
    assert (r.status_code, r.json()["error"]) == (403, "enroll.device_mismatch")
    assert DeviceClient(client, Device.new("kiosk-a"), clock).enroll(code).status_code == 200


def test_enroll_needs_proof_of_possession(client: TestClient, hub: Hub, clock: Clock):
    code = hub.code()
    claimed, signer = Device.new("kiosk-1"), Device.new("kiosk-1")
    doc = {"device_id": "kiosk-1", "code": code, "public_key": claimed.public_pem}
    r = DeviceClient(client, signer, clock).request("POST", "/v1/enroll", json_body=doc)
    assert (r.status_code, r.json()["error"]) == (401, "signature.invalid")
    # the code was not consumed by the refused request
    assert DeviceClient(client, claimed, clock).enroll(code).status_code == 200


def test_enroll_keyid_must_be_the_device_id(client: TestClient, hub: Hub, clock: Clock):
    dev = Device.new("kiosk-1")
    doc = {"device_id": "kiosk-2", "code": hub.code(), "public_key": dev.public_pem}
    r = DeviceClient(client, dev, clock).request("POST", "/v1/enroll", json_body=doc)
    assert (r.status_code, r.json()["error"]) == (422, "body.invalid")


def test_enroll_refuses_a_private_key(client: TestClient, hub: Hub, clock: Clock):
    dev = Device.new("kiosk-1")
    doc = {"device_id": "kiosk-1", "code": hub.code(), "public_key": dev.key.private_pem().decode()}
    r = DeviceClient(client, dev, clock).request("POST", "/v1/enroll", json_body=doc)
    assert r.status_code == 422 and "public key" in r.json()["detail"]


def test_enroll_same_id_other_key_is_409(client: TestClient, hub: Hub, clock: Clock):
    enrolled(client, hub, clock, "kiosk-1")
    code = hub.code()
    r = DeviceClient(client, Device.new("kiosk-1"), clock).enroll(code)
    assert (r.status_code, r.json()["error"]) == (409, "enroll.device_exists")
    with hub.db() as db, db.reader() as rd:
        assert rd.one("SELECT used_at FROM enroll_codes WHERE code_sha256 = ?", (admin.code_hash(code),)) == (
            None,
        )


# --- downloads --------------------------------------------------------------------------------------


def _add_issuer(hub: Hub, tmp_path: Path, iss: str = "440000") -> issuer_keys.IssuerKey:
    key = issuer_keys.generate("es256", iss)
    path = tmp_path / f"issuer-{iss}.pem"
    issuer_keys.save(key, path)
    with hub.db() as db:
        admin.add_issuer(db, iss, path, name="Guangdong", code_types="d,p")
    return key


def test_bundle_delivery_etag_and_304(client: TestClient, hub: Hub, clock: Clock, tmp_path: Path):
    dc = enrolled(client, hub, clock)
    r = dc.get("/v1/bundle")
    assert (r.status_code, r.json()["error"]) == (404, "not_found")
    issuer = _add_issuer(hub, tmp_path)
    with hub.db() as db:
        first = admin.publish_bundle(db, hub.root, valid_hours=24, now=clock.now)
    r = dc.get("/v1/bundle")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/jose")
    source = phic_bundle(r.content, hub.root.key.public_key())
    assert source.seq == first.seq >= int(clock.now)
    assert [k.kid for k in source.keys] == [issuer.kid] and source.keys[0].usages == frozenset("dp")
    etag = r.headers["etag"]
    r304 = dc.get("/v1/bundle", headers={"If-None-Match": etag})
    assert r304.status_code == 304 and r304.content == b"" and r304.headers["etag"] == etag
    with hub.db() as db:
        second = admin.publish_bundle(db, hub.root, now=clock.now)
    assert second.seq == first.seq + 1
    r = dc.get("/v1/bundle", headers={"If-None-Match": etag})
    assert r.status_code == 200 and r.headers["etag"] != etag


def test_bundle_refuses_no_issuers(hub: Hub):
    with hub.db() as db, pytest.raises(admin.HubAdminError, match="no issuer keys"):
        admin.publish_bundle(db, hub.root)


def test_policy_per_site_with_default(client: TestClient, hub: Hub, clock: Clock, tmp_path: Path):
    a = enrolled(client, hub, clock, "kiosk-a", site="Port A")
    b = enrolled(client, hub, clock, "kiosk-b", site="Port B")
    assert a.get("/v1/policy").status_code == 404
    default, special = tmp_path / "default.toml", tmp_path / "a.toml"
    default.write_text('site = "Anywhere"\nfever_threshold = 37.3\n')
    special.write_text('site = "Port A"\nfever_threshold = 37.5\n')
    with hub.db() as db:
        p1 = admin.publish_policy(db, hub.root, default, now=clock.now)
        p2 = admin.publish_policy(db, hub.root, special, site="Port A", now=clock.now)
    assert p2.seq > p1.seq
    root = hub.root.key.public_key()
    ra, rb = a.get("/v1/policy"), b.get("/v1/policy")
    head, payload = verify_compact(ra.content, root)
    doc = json.loads(payload)
    assert head["typ"] == admin.POLICY_TYP
    assert (doc["seq"], doc["site"], doc["policy"]) == (p2.seq, "Port A", special.read_text())
    doc = json.loads(verify_compact(rb.content, root)[1])
    assert (doc["seq"], doc["site"]) == (p1.seq, "*")
    assert a.get("/v1/policy", headers={"If-None-Match": ra.headers["etag"]}).status_code == 304


def test_policy_publish_validates(hub: Hub, tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text("fever_threshold = 45\n")
    with hub.db() as db, pytest.raises(ValueError, match="fever_threshold"):
        admin.publish_policy(db, hub.root, bad)


def _list(hub: Hub, tmp_path: Path, seq: int, base: int | None = None, entries=(), clock=None) -> Path:
    out = tmp_path / f"list-{seq}.ksl"
    now = int(clock.now) if clock else int(time.time())
    write_status_list(out, hub.root, seq, base, list(entries), issued_at=now, valid_hours=48)
    return out


def test_status_list_delta_selection(client: TestClient, hub: Hub, clock: Clock, tmp_path: Path):
    dc = enrolled(client, hub, clock)
    assert dc.get("/v1/status-list").status_code == 404
    with hub.db() as db:
        admin.publish_status_list(
            db, hub.dir, hub.root, _list(hub, tmp_path, 1, None, [(ID_A, "red")], clock)
        )
        admin.publish_status_list(
            db, hub.dir, hub.root, _list(hub, tmp_path, 2, 1, [(ID_B, "yellow")], clock)
        )
        admin.publish_status_list(db, hub.dir, hub.root, _list(hub, tmp_path, 3, 2, [(ID_A, "clear")], clock))

    def fetch(have: int | None, **headers: str):
        return dc.get("/v1/status-list", query="" if have is None else f"have={have}", headers=headers)

    kiosk = tmp_path / "kiosk"
    root = hub.root.key.public_key()
    got = []
    have = None
    for _ in range(5):
        r = fetch(have)
        if r.status_code == 304:
            break
        assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
        got.append((int(r.headers["x-list-seq"]), r.headers["x-list-kind"]))
        import_list(r.content, root, kiosk, now=clock.now)
        have = int(r.headers["x-list-seq"])
    assert got == [(1, "full"), (2, "delta"), (3, "delta")]
    with StatusList.open(kiosk) as sl:
        assert sl.lookup_id(ID_A) is None  # cleared by delta 3
        assert sl.lookup_id(ID_B) == "yellow"
    r = fetch(2)
    assert fetch(2, **{"If-None-Match": r.headers["etag"]}).status_code == 304
    assert fetch(7).status_code == 304  # newer than anything published: nothing to send
    # a newer full list beats an older delta on `have`
    with hub.db() as db:
        admin.publish_status_list(
            db, hub.dir, hub.root, _list(hub, tmp_path, 4, None, [(ID_B, "red")], clock)
        )
    assert (fetch(1).headers["x-list-seq"], fetch(1).headers["x-list-kind"]) == ("4", "full")
    assert fetch(3).headers["x-list-seq"] == "4"
    r = fetch(None)
    assert r.content == (hub.dir / "status-lists" / "4-full.ksl").read_bytes()
    assert fetch(None, Range="bytes=0-9").status_code in (200, 206)  # resumable downloads are allowed


def test_status_list_have_must_be_a_seq(client: TestClient, hub: Hub, clock: Clock):
    dc = enrolled(client, hub, clock)
    for query in ("have=-1", "have=x", "have=1&have=2", "have=99999999999999999999"):
        r = dc.get("/v1/status-list", query=query)
        assert (r.status_code, r.json()["error"]) == (422, "body.invalid"), query


def test_status_list_publish_checks(hub: Hub, tmp_path: Path):
    with hub.db() as db:
        admin.publish_status_list(db, hub.dir, hub.root, _list(hub, tmp_path, 5))
        with pytest.raises(admin.HubAdminError, match="not newer"):
            admin.publish_status_list(db, hub.dir, hub.root, _list(hub, tmp_path, 5))
        other_root = make_hub(tmp_path / "other").root
        foreign = tmp_path / "foreign.ksl"
        write_status_list(foreign, other_root, 9)
        with pytest.raises(admin.HubAdminError, match="root key"):
            admin.publish_status_list(db, hub.dir, hub.root, foreign)
        damaged = _list(hub, tmp_path, 6, None, [(ID_A, "red")])
        data = bytearray(damaged.read_bytes())
        data[-1] ^= 1
        damaged.write_bytes(bytes(data))
        with pytest.raises(admin.HubAdminError, match="digest"):
            admin.publish_status_list(db, hub.dir, hub.root, damaged)
        truncated = _list(hub, tmp_path, 7, None, [(ID_A, "red")])
        truncated.write_bytes(truncated.read_bytes()[:-3])
        with pytest.raises(admin.HubAdminError, match="bytes"):
            admin.publish_status_list(db, hub.dir, hub.root, truncated)
    assert sorted(p.name for p in (hub.dir / "status-lists").iterdir()) == ["5-full.ksl"]


# --- intake -----------------------------------------------------------------------------------------


def test_intake_idempotent(client: TestClient, hub: Hub, clock: Clock):
    dc = enrolled(client, hub, clock)
    rows = [row(i) for i in range(1, 11)]
    assert dc.push(rows).json() == {"stored_through": 10, "inserted": 10}
    assert dc.push(rows).json() == {"stored_through": 10, "inserted": 0}
    assert dc.push(rows[3:6]).json() == {"stored_through": 10, "inserted": 0}
    with hub.db() as db:
        stored = db.registrations("kiosk-1")
    assert stored == rows


def test_intake_stored_through_with_gaps(client: TestClient, hub: Hub, clock: Clock):
    dc = enrolled(client, hub, clock)
    assert dc.push([row(i) for i in range(1, 11)]).json() == {"stored_through": 10, "inserted": 10}
    assert dc.push([row(i) for i in range(21, 31)]).json() == {"stored_through": 10, "inserted": 10}
    assert dc.push([row(i) for i in range(11, 21)]).json() == {"stored_through": 30, "inserted": 10}
    # out of order inside one batch, and a batch that starts above the watermark
    assert dc.push([row(33), row(31), row(32)]).json() == {"stored_through": 33, "inserted": 3}
    with hub.db() as db:
        assert db.device("kiosk-1").acked_seq == 33


def test_intake_watermark_is_per_device(client: TestClient, hub: Hub, clock: Clock):
    a = enrolled(client, hub, clock, "kiosk-a")
    b = enrolled(client, hub, clock, "kiosk-b")
    assert a.push([row(i) for i in range(1, 6)]).json()["stored_through"] == 5
    assert b.push([row(i) for i in range(2, 6)]).json()["stored_through"] == 0
    assert b.push([row(1)]).json() == {"stored_through": 5, "inserted": 1}


def test_intake_batch_limits(client: TestClient, hub: Hub, clock: Clock):
    dc = enrolled(client, hub, clock)
    assert dc.push([row(i) for i in range(1, 1001)]).json() == {"stored_through": 1000, "inserted": 1000}
    r = dc.push([row(i) for i in range(1001, 2002)])
    assert r.status_code == 422
    r = dc.push([])
    assert r.status_code == 422
    with hub.db() as db:
        assert db.registration_count("kiosk-1") == 1000


def test_intake_row_device_id_may_be_given(client: TestClient, hub: Hub, clock: Clock):
    dc = enrolled(client, hub, clock)
    assert dc.push([row(1, device_id="kiosk-1")]).json() == {"stored_through": 1, "inserted": 1}


def test_last_contact_updates(client: TestClient, hub: Hub, clock: Clock):
    dc = enrolled(client, hub, clock)
    clock.now += 100
    dc.get("/v1/bundle")  # 404, but an accepted (authenticated) request
    with hub.db() as db:
        assert db.device("kiosk-1").last_seen == clock.now


def test_revoked_device_is_refused(client: TestClient, hub: Hub, clock: Clock):
    dc = enrolled(client, hub, clock)
    assert dc.push([row(1)]).status_code == 200
    with hub.db() as db:
        admin.revoke_device(db, "kiosk-1")
    for r in (dc.push([row(2)]), dc.get("/v1/bundle"), dc.get("/v1/status-list", "have=1")):
        assert (r.status_code, r.json()["error"]) == (403, "device.revoked")
    r = dc.enroll(hub.code())
    assert (r.status_code, r.json()["error"]) == (403, "device.revoked")
    with hub.db() as db:
        assert db.registration_count() == 1
        with pytest.raises(admin.HubAdminError):
            admin.revoke_device(db, "no-such-kiosk")


# --- admin commands through the CLI -----------------------------------------------------------------


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = hub_main(["hub", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_admin_commands(tmp_path: Path, capsys):
    hub_dir = tmp_path / "hub"
    d = ["--dir", str(hub_dir)]
    code, out, _ = run_cli(capsys, "init", *d)
    assert code == 0 and "root fingerprint" in out
    assert (hub_dir.stat().st_mode & 0o777) == 0o700
    assert ((hub_dir / "root-key.pem").stat().st_mode & 0o777) == 0o600
    fingerprint = out.split()[-1]
    code, out, _ = run_cli(capsys, "init", *d)  # idempotent, same key
    assert code == 0 and out.split()[-1] == fingerprint and "kept" in out

    code, out, _ = run_cli(
        capsys, "enroll-code", *d, "--device-id", "kiosk-7", "--site", "Gate 2", "--hours", "2"
    )
    enroll_code = out.strip()
    assert code == 0 and len(enroll_code) == 19

    key = issuer_keys.generate("es256", "440300")
    issuer_keys.save(key, tmp_path / "iss.pem")
    code, out, _ = run_cli(
        capsys,
        "issuer",
        "add",
        "440300",
        *d,
        "--key",
        str(tmp_path / "iss.pem"),
        "--name",
        "Shenzhen",
        "--code-types",
        "d,p",
        "--not-after",
        "2030-01-01",
    )
    assert code == 0 and key.kid.hex() in out
    code, out, _ = run_cli(capsys, "issuer", "list", *d, "--json")
    listed = json.loads(out)
    assert [(i["iss"], i["kid"], i["code_types"], i["name"]) for i in listed] == [
        ("440300", key.kid.hex(), ["d", "p"], "Shenzhen")
    ]
    code, out, _ = run_cli(capsys, "publish-bundle", *d, "--valid-hours", "12")
    assert code == 0 and "1 issuer keys" in out

    policy = tmp_path / "policy.toml"
    policy.write_text("fever_threshold = 37.5\n")
    assert run_cli(capsys, "policy", "publish", *d, str(policy), "--site", "Gate 2")[0] == 0
    policy.write_text("no_such_key = 1\n")
    code, _, err = run_cli(capsys, "policy", "publish", *d, str(policy))
    assert code == 2 and "unknown key" in err

    root = issuer_keys.load(hub_dir / "root-key.pem")
    write_status_list(tmp_path / "sl.ksl", root, 3, None, [(ID_A, "red")])
    code, out, _ = run_cli(capsys, "status-list", "publish", *d, str(tmp_path / "sl.ksl"))
    assert code == 0 and "seq 3" in out
    code, _, err = run_cli(capsys, "status-list", "publish", *d, str(tmp_path / "sl.ksl"))
    assert code == 2 and "not newer" in err

    # a kiosk enrols with the printed code; the devices list shows it
    with TestClient(create_app(hub_dir)) as client:
        dc = DeviceClient(client, Device.new("kiosk-7"))
        assert dc.enroll(enroll_code).json()["site"] == "Gate 2"
        assert dc.push([row(1), row(2)]).json()["stored_through"] == 2
    code, out, _ = run_cli(capsys, "devices", *d, "--json")
    (dev,) = json.loads(out)
    assert dev["device_id"] == "kiosk-7" and dev["acked_seq"] == 2 and dev["revoked_at"] is None
    assert dev["last_seen"] >= dev["enrolled_at"]
    code, out, _ = run_cli(capsys, "devices", *d)
    assert "kiosk-7" in out and "active" in out
    assert run_cli(capsys, "revoke-device", *d, "kiosk-7")[0] == 0
    code, out, _ = run_cli(capsys, "devices", *d)
    assert "revoked" in out

    assert run_cli(capsys, "issuer", "remove", "440300", *d)[0] == 0
    code, _, err = run_cli(capsys, "issuer", "remove", "440300", *d)
    assert code == 2 and "no issuer" in err
    code, _, err = run_cli(capsys, "devices", "--dir", str(tmp_path / "nothing-here"))
    assert code == 2 and "hub init" in err


def test_cli_init_with_given_root_key(tmp_path: Path, capsys):
    root = issuer_keys.generate("es256", "", root=True)
    issuer_keys.save(root, tmp_path / "root.pem")
    code, out, _ = run_cli(
        capsys, "init", "--dir", str(tmp_path / "hub"), "--root-key", str(tmp_path / "root.pem")
    )
    assert code == 0 and root.kid.hex() in out
    other = issuer_keys.generate("es256", "", root=True)
    issuer_keys.save(other, tmp_path / "other.pem")
    code, _, err = run_cli(
        capsys, "init", "--dir", str(tmp_path / "hub"), "--root-key", str(tmp_path / "other.pem")
    )
    assert code == 2 and "different root key" in err


# --- a real hub process -----------------------------------------------------------------------------


@pytest.mark.slow
def test_real_hub_process_survives_kill(tmp_path: Path):
    """`kiosk hub serve` over HTTP; after SIGKILL and a restart everything acknowledged is still there."""
    import httpx

    hub = make_hub(tmp_path / "hub")
    dev = Device.new("kiosk-real")
    with run_hub(hub.dir) as proc, httpx.Client(base_url=proc.url, timeout=10) as http:
        dc = DeviceClient(http, dev)
        r = dc.enroll(hub.code(device_id="kiosk-real"))
        assert r.status_code == 200 and "date" in r.headers and len(r.headers.get_list("date")) == 1
        assert dc.push([row(i) for i in range(1, 501)]).json() == {"stored_through": 500, "inserted": 500}
        proc.kill()
    with run_hub(hub.dir) as proc, httpx.Client(base_url=proc.url, timeout=10) as http:
        dc = DeviceClient(http, dev)
        assert dc.push([row(i) for i in range(1, 502)]).json() == {"stored_through": 501, "inserted": 1}
        assert "kiosk hub: listening on http://127.0.0.1:" in proc.log()
    log = proc.log()
    assert "masked_name" not in log and "Z* S*" not in log  # the hub never logs registration contents


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hub test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "hub.crt", tmp_path / "hub.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.mark.slow
def test_real_hub_process_with_tls(tmp_path: Path):
    import ssl

    import httpx

    hub = make_hub(tmp_path / "hub")
    cert, key = _self_signed(tmp_path)
    with run_hub(hub.dir, extra_args=("--tls-cert", str(cert), "--tls-key", str(key))) as proc:
        assert proc.url.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(cert))
        with httpx.Client(base_url=proc.url, verify=context, timeout=10) as http:
            dc = DeviceClient(http, Device.new("kiosk-tls"))
            assert dc.enroll(hub.code()).status_code == 200
            assert dc.push([row(1)]).json() == {"stored_through": 1, "inserted": 1}


@pytest.mark.slow
def test_real_hub_behind_a_prefix_stripping_proxy(tmp_path: Path):
    """Kiosks given https://proxy/hub sign /hub/v1/...; the proxy strips /hub; `--root-path /hub` makes
    the hub verify the path the kiosk signed."""
    import httpx

    hub = make_hub(tmp_path / "hub")
    dev = Device.new("kiosk-proxied")
    with (
        run_hub(hub.dir, extra_args=("--root-path", "/hub")) as proc,
        httpx.Client(base_url=proc.url) as http,
    ):
        body = json.dumps(
            {"device_id": dev.device_id, "code": hub.code(), "public_key": dev.public_pem}
        ).encode()
        r = http.post(
            "/v1/enroll", content=body, headers=dev.sign("POST", "/hub/v1/enroll", "", body, time.time())
        )
        assert r.status_code == 200, r.text
        r = http.get(
            "/v1/status-list?have=3",
            headers=dev.sign("GET", "/hub/v1/status-list", "have=3", b"", time.time()),
        )
        assert r.json()["error"] == "not_found"
        r = http.get("/v1/bundle", headers=dev.sign("GET", "/v1/bundle", "", b"", time.time()))
        assert r.json()["error"] == "signature.invalid"


def test_accept_gap_after_a_restore(client: TestClient, hub: Hub, clock: Clock, capsys):
    """Rows 3-5 were lost (an older backup restored) and the kiosk will not resend them: the operator
    gives them up and the watermark continues."""
    dc = enrolled(client, hub, clock)
    assert dc.push([row(1), row(2)] + [row(i) for i in range(6, 11)]).json()["stored_through"] == 2
    code, out, _ = run_cli(capsys, "accept-gap", "kiosk-1", "--through", "5", "--dir", str(hub.dir))
    assert code == 0 and "stored through 10" in out
    assert dc.push([row(11)]).json() == {"stored_through": 11, "inserted": 1}
    assert run_cli(capsys, "accept-gap", "nobody", "--through", "5", "--dir", str(hub.dir))[0] == 2


@pytest.mark.slow
def test_hubtools_publish_helpers_and_hub_server(hub: Hub, hub_server):  # noqa: F811
    """The helpers the sync-client tests use: a real hub process with everything published."""
    import httpx

    assert hub.publish_bundle() >= int(time.time()) - 5
    assert hub.publish_status_list(1, entries=[(ID_A, "red")]) == 1
    assert hub.publish_status_list(2, 1, [(ID_A, "clear")]) == 2
    policy_seq = hub.publish_policy()
    with httpx.Client(base_url=hub_server.url, timeout=10) as http:
        dc = DeviceClient(http, Device.new("kiosk-h"))
        assert dc.enroll(hub.code()).status_code == 200
        assert dc.get("/v1/bundle").status_code == 200
        assert dc.get("/v1/status-list", "have=1").headers["x-list-seq"] == "2"
        assert dc.get("/v1/policy").headers["x-seq"] == str(policy_seq)
    assert hub.cli("devices", "--json").stdout.count("kiosk-h") == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown")
def test_root_may_not_write_into_the_services_hub_dir(tmp_path: Path, capsys):
    hub = make_hub(tmp_path / "hub")
    os.chown(hub.dir, 65534, 65534)
    code, _, err = run_cli(capsys, "devices", "--dir", str(hub.dir))
    assert code == 2 and "run this as that user" in err
