"""The kiosk's sync client (kiosk/sync): state file, backoff, answer parsing (fuzzed), and the client
against the real hub app — in-process (FastAPI's TestClient, the real app and database) for the quick
error paths, with a hostile network between them where a test needs a broken answer; the real hub
process on loopback is in tests/test_sync_e2e.py and tests/test_sync_chaos.py."""

from __future__ import annotations

import base64
import json
import os
import stat
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.crypto.jws import sign_compact
from kiosk.crypto.keys import EcP256SigningKey
from kiosk.issuer import keys
from kiosk.sync import state as sync_state
from kiosk.sync.client import (
    POLICY_TYP,
    backoff_delay,
    parse_ack,
    parse_policy_token,
    policy_in_force,
    registration_row,
)
from kiosk.sync.transport import Reply, SyncError, hub_clock_offset

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- state file -------------------------------------------------------------------------------------------


def test_state_round_trip_and_mode(tmp_path):
    s = sync_state.SyncState(
        last_attempt=1.5,
        last_success=1.0,
        last_error=None,
        clock_offset=-0.25,
        pending=3,
        synced_seq=7,
        bundle_seq=9,
        status_list_seq=2,
        policy_seq=4,
        online=True,
        etags={"bundle": {"etag": '"abc"', "seq": 9}},
    )
    sync_state.write_state(tmp_path, s)
    assert sync_state.read_state(tmp_path) == s
    doc = json.loads((tmp_path / "sync-state.json").read_text())
    for name in (
        "last_attempt",
        "last_success",
        "last_error",
        "clock_offset",
        "pending",
        "synced_seq",
        "bundle_seq",
        "status_list_seq",
        "policy_seq",
        "online",
    ):
        assert name in doc  # the contract's fields (docs/hub-protocol.md)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    "content",
    [
        None,
        b"",
        b"{",
        b"[]",
        b"null",
        b'{"pending": "many", "online": "yes", "synced_seq": 1.5, "clock_offset": NaN}',
        b'{"etags": {"bundle": {"etag": 5}}, "errors": "x"}',
        b"\xff\xfe garbage",
        b"[" * 100_000,
        b" " * (2 << 20),
    ],
)
def test_read_state_tolerates_missing_and_corrupt_files(tmp_path, content):
    if content is not None:
        (tmp_path / "sync-state.json").write_bytes(content)
    s = sync_state.read_state(tmp_path)
    assert isinstance(s, sync_state.SyncState)
    assert s.online is False and s.pending is None and s.synced_seq is None


@FUZZ
@given(
    st.dictionaries(
        st.text(max_size=20),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
            lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
            max_leaves=20,
        ),
        max_size=15,
    )
)
def test_read_state_never_crashes_on_any_json(tmp_path_factory, doc):
    d = tmp_path_factory.mktemp("state")
    (d / "sync-state.json").write_text(json.dumps(doc))
    s = sync_state.read_state(d)
    sync_state.write_state(d, s)  # whatever was read can be written back
    assert sync_state.read_state(d) == s


def test_read_hub_errors(tmp_path):
    with pytest.raises(sync_state.NotEnrolled, match="not enrolled"):
        sync_state.read_hub(tmp_path)
    (tmp_path / "hub.json").write_text("[1]")
    with pytest.raises(sync_state.NotEnrolled, match="damaged"):
        sync_state.read_hub(tmp_path)
    (tmp_path / "hub.json").write_text('{"url": "ftp://x", "device_id": "k"}')
    with pytest.raises(sync_state.NotEnrolled, match="http"):
        sync_state.read_hub(tmp_path)
    sync_state.write_hub(tmp_path, sync_state.HubConfig("http://127.0.0.1:1", "kiosk-1", 5.0, "Gate 3"))
    assert sync_state.read_hub(tmp_path).site == "Gate 3"


def test_write_atomic_keeps_mode(tmp_path):
    path = tmp_path / "x"
    sync_state.write_atomic(path, b"one", 0o600)
    sync_state.write_atomic(path, b"two", 0o600)
    assert path.read_bytes() == b"two"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# --- backoff ------------------------------------------------------------------------------------------------


def test_backoff_full_jitter_bounds():
    assert backoff_delay(1, 5, 300, rand=lambda: 1.0) == 5
    assert backoff_delay(2, 5, 300, rand=lambda: 1.0) == 10
    assert backoff_delay(7, 5, 300, rand=lambda: 1.0) == 300  # capped
    assert backoff_delay(10_000, 5, 300, rand=lambda: 1.0) == 300  # no overflow
    assert backoff_delay(3, 5, 300, rand=lambda: 0.0) == 1.0  # never a hot loop
    import random

    rng = random.Random(1)
    samples = [backoff_delay(6, 5, 300, rand=rng.random) for _ in range(2000)]
    assert 1.0 <= min(samples) < 10 and 150 < max(samples) <= 160  # spread over [0, 160]
    assert 60 < sum(samples) / len(samples) < 100  # mean ~ 80: full jitter, not equal jitter


# --- answer parsing (fuzzed) --------------------------------------------------------------------------------


def test_parse_ack():
    assert parse_ack(b'{"stored_through": 12, "inserted": 3}') == (12, 3)
    for bad in (
        b"",
        b"[]",
        b'{"stored_through": "12"}',
        b'{"stored_through": -1}',
        b'{"stored_through": true}',
        b'{"stored_through": 1.0}',
        b'{"stored_through": 99999999999999999999999}',
        b'{"stored_through": 5, "inserted": 100000}',
        b"{" * 50_000,
    ):
        with pytest.raises(SyncError) as info:
            parse_ack(bad)
        assert info.value.code == "response.invalid"


@FUZZ
@given(st.binary(max_size=300) | st.text(max_size=200).map(str.encode))
def test_parse_ack_fuzz(body):
    try:
        through, inserted = parse_ack(body)
    except SyncError as exc:
        assert exc.code == "response.invalid"
    else:
        assert type(through) is int and through >= 0 and 0 <= inserted <= 1000


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["stored_through", "inserted", "x"]),
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats()
        | st.text(max_size=5)
        | st.lists(st.integers(), max_size=2),
    )
)
def test_parse_ack_fuzz_types(doc):
    try:
        through, _ = parse_ack(json.dumps(doc).encode())
    except SyncError:
        return
    assert through == doc["stored_through"] and type(through) is int


@FUZZ
@given(st.text(max_size=80), st.floats(-1e12, 1e12))
def test_clock_offset_never_crashes(date, t):
    offset = hub_clock_offset(date, t, t)
    assert offset is None or isinstance(offset, float)


def test_clock_offset_midpoint():
    from email.utils import formatdate

    hub = 1_800_000_000
    date = formatdate(hub, usegmt=True)
    # request sent at kiosk 1000.0, answered at 1002.0: midpoint 1001; hub time ~ hub + 0.5
    assert hub_clock_offset(date, 1000.0, 1002.0) == pytest.approx(hub + 0.5 - 1001.0)
    assert hub_clock_offset("not a date", 0, 0) is None
    assert hub_clock_offset(None, 0, 0) is None


@FUZZ
@given(st.binary(max_size=400))
def test_hub_error_body_never_crashes(body):
    import httpx

    code, detail = Reply(500, httpx.Headers(), body).hub_error()
    assert isinstance(code, str) and isinstance(detail, str) and len(code) <= 80


@pytest.fixture(scope="module")
def root():
    return keys.generate("es256", "", root=True)


def _policy_token(root, doc, **header) -> bytes:
    header = {"typ": POLICY_TYP, **header}
    return sign_compact(json.dumps(doc).encode(), root.key, **header).encode()


def test_policy_token_checks(root):
    other = keys.generate("es256", "", root=True)
    good = {"seq": 5, "issued_at": 1, "site": "*", "policy": "fever_threshold = 37.5\n"}
    pub = root.key.public_key()
    assert parse_policy_token(_policy_token(root, good), pub, None).seq == 5
    assert parse_policy_token(_policy_token(root, {**good, "site": "Gate 3"}), pub, "Gate 3").site == "Gate 3"
    cases = [
        (_policy_token(other, good), "policy.invalid"),  # not the pinned root
        (_policy_token(root, good, typ="phic-bundle+jws"), "policy.invalid"),  # another document's type
        (_policy_token(root, {**good, "site": "Gate 4"}), "policy.wrong_site"),
        (_policy_token(root, {**good, "seq": 0}), "policy.invalid"),
        (_policy_token(root, {**good, "seq": True}), "policy.invalid"),
        (_policy_token(root, {**good, "policy": "fever_threshold = 99\n"}), "policy.invalid"),  # parse_policy
        (_policy_token(root, {**good, "policy": "nonsense = 1\n"}), "policy.invalid"),
        (_policy_token(root, {**good, "policy": 5}), "policy.invalid"),
        (_policy_token(root, [1, 2]), "policy.invalid"),
        (b"a.b.c", "policy.invalid"),
        (b"\xff", "policy.invalid"),
    ]
    for token, code in cases:
        with pytest.raises(SyncError) as info:
            parse_policy_token(token, pub, "Gate 3")
        assert info.value.code == code, token


@FUZZ
@given(st.binary(max_size=300))
def test_policy_token_fuzz(root, data):
    with pytest.raises(SyncError):
        parse_policy_token(data, root.key.public_key(), None)


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["seq", "issued_at", "site", "policy", "x"]),
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats()
        | st.text(max_size=40)
        | st.lists(st.integers(), max_size=2),
    )
)
def test_policy_payload_fuzz(root, doc):
    token = _policy_token(root, doc)
    try:
        policy = parse_policy_token(token, root.key.public_key(), "Gate")
    except SyncError:
        return
    assert type(policy.seq) is int and policy.seq >= 1 and isinstance(policy.text, str)


def test_policy_in_force_reads_header(tmp_path):
    assert policy_in_force(tmp_path) is None
    (tmp_path / "hub-policy.toml").write_text(
        "# kiosk hub policy seq=42 issued_at=1 site='*' (x)\nsite = 'A'\n"
    )
    seq, digest = policy_in_force(tmp_path)
    assert seq == 42 and len(digest) == 64
    (tmp_path / "hub-policy.toml").write_text("site = 'A'\n")  # hand-written: no seq, nothing in force
    assert policy_in_force(tmp_path) is None


def test_registration_row_is_the_contract(tmp_path):
    from kiosk.store import Registration, RegistrationStore

    with RegistrationStore(tmp_path, "kiosk-t") as store:
        store.append(Registration(ts=time.time(), method="code", decision="pass", reasons=("code.green",)))
        row = registration_row(store.unsynced(1)[0])
    assert set(row) == {
        "seq", "ts", "day", "method", "format", "issuer", "code_id_hash", "id_number_hash",
        "masked_name", "masked_id", "colour", "temperature", "decision", "reasons",
    }  # fmt: skip
    assert row["seq"] == 1 and row["reasons"] == ["code.green"]


# --- device key -----------------------------------------------------------------------------------------------


def test_device_key_made_once_private(tmp_path):
    from kiosk.sync.enroll import device_key

    key, made = device_key(tmp_path)
    again, made_again = device_key(tmp_path)
    assert made and not made_again
    assert key.public_key().spki_der() == again.public_key().spki_der()
    assert stat.S_IMODE((tmp_path / "device-key.pem").stat().st_mode) == 0o600
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


# --- against the real hub app, in process -------------------------------------------------------------------

import socket  # noqa: E402
from pathlib import Path  # noqa: E402

import httpx  # noqa: E402

from kiosk.store import Registration, RegistrationStore  # noqa: E402
from kiosk.sync.client import SyncClient  # noqa: E402
from kiosk.sync.enroll import EnrollError, enroll  # noqa: E402
from kiosk.trust.store import TrustStore  # noqa: E402

HUB = "http://testserver"


class Hub:
    """A hub directory with the real app in process (FastAPI TestClient) and its admin functions."""

    def __init__(self, directory: Path, clock=time.time):
        from fastapi.testclient import TestClient

        from kiosk.hub import admin
        from kiosk.hub.app import create_app
        from kiosk.hub.db import HubDB

        self.admin = admin
        self.dir = directory
        admin.init_hub(directory)
        self.root = admin.load_root(directory)
        self.db = HubDB(directory)
        self.app = create_app(directory, clock=clock)
        self.http = TestClient(self.app, base_url=HUB)
        self.http.__enter__()

    def code(self, **kw) -> str:
        return self.admin.make_enroll_code(self.db, **kw)

    def close(self) -> None:
        self.http.__exit__(None, None, None)
        self.db.close()

    def rows(self, device: str) -> list[int]:
        with self.db.reader() as r:
            return [
                s
                for (s,) in r.all("SELECT seq FROM registrations WHERE device_id = ? ORDER BY seq", (device,))
            ]


class Mangle(httpx.BaseTransport):
    """A hostile network between the kiosk and the real hub: `rules[path](response) -> response`
    rewrites the hub's real answers (the request still reaches the hub and has its effects)."""

    def __init__(self, inner: httpx.BaseTransport, rules: dict):
        self.inner, self.rules, self.seen = inner, rules, []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        self.seen.append((request.method, request.url.path, response.status_code))
        rule = self.rules.get(request.url.path)
        if rule is None:
            return response
        response.read()
        return rule(response)


def hostile(hub: Hub, rules: dict) -> httpx.Client:
    return httpx.Client(transport=Mangle(hub.http._transport, rules), base_url=HUB)


@pytest.fixture
def hub(tmp_path):
    h = Hub(tmp_path / "hub")
    yield h
    h.close()


def _reg(i: int = 0) -> Registration:
    return Registration(
        ts=time.time(), method="code", decision="pass", reasons=("code.green",), colour="green"
    )


def enrolled(hub: Hub, directory: Path, name: str = "kiosk-a", **kw) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "device-id").write_text(name + "\n")
    enroll(directory, HUB, hub.code(), client=hub.http, **kw)
    return directory


def test_enroll_pins_root_writes_hub_json(hub, tmp_path):
    data = tmp_path / "k"
    (data).mkdir()
    (data / "device-id").write_text("kiosk-a\n")
    info = enroll(data, HUB, hub.code(site="Gate 3"), client=hub.http, name="Gate 3 left")
    assert info["tofu"] is True and info["device_key"] == "made"
    assert info["root_fingerprint"] == hub.admin.fingerprint(hub.root)
    doc = json.loads((data / "hub.json").read_text())
    assert doc["url"] == HUB and doc["device_id"] == "kiosk-a" and doc["site"] == "Gate 3"
    assert isinstance(doc["enrolled_at"], float)
    with TrustStore(data) as store:
        from kiosk.sync.enroll import fingerprint

        assert fingerprint(store.pinned("phic-root")) == info["root_fingerprint"]
    assert stat.S_IMODE((data / "device-key.pem").stat().st_mode) == 0o600
    assert hub.db.device("kiosk-a").site == "Gate 3"


def test_enroll_checks_the_expected_fingerprint(hub, tmp_path):
    data = tmp_path / "k"
    data.mkdir()
    (data / "device-id").write_text("kiosk-a\n")
    with pytest.raises(EnrollError, match="not the expected"):
        enroll(data, HUB, hub.code(), client=hub.http, root_fingerprint="ab" * 32)
    assert not (data / "hub.json").exists()
    with TrustStore(data) as store:
        assert store.pinned("phic-root") is None
    with pytest.raises(EnrollError, match="64 hex"):
        enroll(data, HUB, hub.code(), client=hub.http, root_fingerprint="xyz")
    good = hub.admin.fingerprint(hub.root)
    info = enroll(data, HUB, hub.code(), client=hub.http, root_fingerprint=good.upper())
    assert info["tofu"] is False and "fingerprint" in info["root_trust"]


def test_enroll_refuses_a_hub_with_another_root_than_the_pinned_one(hub, tmp_path):
    from kiosk.crypto.keys import spki_pem

    data = tmp_path / "k"
    data.mkdir()
    (data / "device-id").write_text("kiosk-a\n")
    other = keys.generate("es256", "", root=True)
    with TrustStore(data) as store:
        store.pin("phic-root", spki_pem(other.key.public_key().spki_der()))  # USB provisioning
    with pytest.raises(EnrollError, match="cannot replace a pinned root"):
        enroll(data, HUB, hub.code(), client=hub.http)
    assert not (data / "hub.json").exists()
    # the same root pinned: accepted without trust on first use
    data2 = tmp_path / "k2"
    data2.mkdir()
    (data2 / "device-id").write_text("kiosk-b\n")
    with TrustStore(data2) as store:
        store.pin("phic-root", spki_pem(hub.root.key.public_key().spki_der()))
    info = enroll(data2, HUB, hub.code(), client=hub.http)
    assert info["tofu"] is False and info["root_trust"] == "matched the pinned root"


def test_enroll_refusals_are_clear(hub, tmp_path):
    data = enrolled(hub, tmp_path / "a", "kiosk-a")
    used = hub.code()
    enroll(data, HUB, used, client=hub.http)  # a second code for the same device and key: fine
    other = tmp_path / "b"
    other.mkdir()
    (other / "device-id").write_text("kiosk-b\n")
    with pytest.raises(EnrollError, match="already used"):
        enroll(other, HUB, used, client=hub.http)
    with pytest.raises(EnrollError, match="expired"):
        enroll(other, HUB, hub.code(now=time.time() - 2 * 86400), client=hub.http)
    with pytest.raises(EnrollError, match="not known"):
        enroll(other, HUB, "AAAA-BBBB-CCCC-DDDD", client=hub.http)
    with pytest.raises(EnrollError, match="another device id"):
        enroll(other, HUB, hub.code(device_id="kiosk-z"), client=hub.http)
    clash = tmp_path / "c"  # same device id as kiosk-a, a different key
    clash.mkdir()
    (clash / "device-id").write_text("kiosk-a\n")
    with pytest.raises(EnrollError, match="already enrolled at the hub with another key"):
        enroll(clash, HUB, hub.code(), client=hub.http)
    hub.admin.revoke_device(hub.db, "kiosk-a")
    with pytest.raises(EnrollError, match="revoked"):
        enroll(data, HUB, hub.code(), client=hub.http)
    with pytest.raises(EnrollError, match="cannot reach the hub"):
        enroll(other, f"http://127.0.0.1:{_closed_port()}", hub.code())
    with pytest.raises(EnrollError, match="http"):
        enroll(other, "ftp://hub", hub.code())


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def kiosk(hub, tmp_path):
    return enrolled(hub, tmp_path / "kiosk", "kiosk-a")


def fill(directory: Path, n: int, device: str = "kiosk-a") -> None:
    with RegistrationStore(directory, device) as store:
        for i in range(n):
            store.append(_reg(i))


def test_push_drains_in_batches_exactly_once(hub, kiosk):
    fill(kiosk, 1234)
    net = hostile(hub, {})
    with SyncClient(kiosk, http=net, batch=500) as client:
        assert client.push() == 1234
        assert client.store.synced_seq() == 1234 and client.store.pending() == 0
        assert client.push() == 0  # nothing left: no request
    posts = [s for s in net._transport.seen if s[0] == "POST"]
    assert len(posts) == 3
    assert hub.rows("kiosk-a") == list(range(1, 1235))


def test_push_marks_nothing_without_the_hubs_acknowledgement(hub, kiosk):
    fill(kiosk, 30)
    answers = {
        "garbage": lambda r: httpx.Response(200, content=b"\x00garbage"),
        "wrong type": lambda r: httpx.Response(200, json={"stored_through": "30", "inserted": 30}),
        "bool": lambda r: httpx.Response(200, json={"stored_through": True, "inserted": 1}),
        "array": lambda r: httpx.Response(200, json=[30]),
        "lost": lambda r: httpx.Response(502, content=b"<html>bad gateway</html>"),
        "beyond": lambda r: httpx.Response(200, json={"stored_through": 31, "inserted": 30}),
        "huge": lambda r: httpx.Response(200, content=b"{" + b" " * (1 << 20) + b"}"),
        "truncated": lambda r: httpx.Response(200, content=r.content[:5]),
    }
    for what, rule in answers.items():
        with SyncClient(kiosk, http=hostile(hub, {"/v1/registrations": rule}), batch=10) as client:
            with pytest.raises(SyncError) as info:
                client.push()
            assert client.store.synced_seq() == 0, what
            assert info.value.code in (
                "response.invalid",
                "hub.error",
                "push.ack_invalid",
                "push.ack_unsigned",
                "response.too_large",
            )
    assert hub.rows("kiosk-a") == list(range(1, 11))  # the hub stored the first batch each time, once
    with SyncClient(kiosk, http=hub.http, batch=10) as client:
        assert client.push() == 30
    assert hub.rows("kiosk-a") == list(range(1, 31))


def test_push_refuses_forged_and_replayed_acknowledgements(hub, kiosk):
    """Someone between kiosk and hub (plain http) can neither forge an acknowledgement nor replay a
    genuine one: it is signed by the pinned root over the request's nonce and the acknowledged seq."""
    fill(kiosk, 30)
    other = EcP256SigningKey.generate()

    def forged(response: httpx.Response) -> httpx.Response:
        ack = base64.b64encode(other.sign(b"kiosk-ack/1")).decode()
        return httpx.Response(
            200, json={"stored_through": 30, "inserted": 30}, headers={"X-Ack-Signature": ack}
        )

    for rule in (forged, lambda r: httpx.Response(200, json={"stored_through": 30, "inserted": 30})):
        with SyncClient(kiosk, http=hostile(hub, {"/v1/registrations": rule}), batch=10) as client:
            with pytest.raises(SyncError) as info:
                client.push()
            assert info.value.code == "push.ack_unsigned" and client.store.synced_seq() == 0

    first: dict = {}

    def replay(response: httpx.Response) -> httpx.Response:  # the first genuine answer, again and again
        first.setdefault("answer", (response.status_code, dict(response.headers), response.content))
        status, headers, content = first["answer"]
        return httpx.Response(status, headers=headers, content=content)

    with SyncClient(kiosk, http=hostile(hub, {"/v1/registrations": replay}), batch=10) as client:
        with pytest.raises(SyncError) as info:
            client.push()
        assert info.value.code == "push.ack_unsigned" and client.store.synced_seq() == 10
    with SyncClient(kiosk, http=hub.http, batch=10) as client:
        assert client.push() == 20 and client.store.pending() == 0


def test_push_stops_at_a_gap_in_the_hub(hub, kiosk):
    fill(kiosk, 200)
    with SyncClient(kiosk, http=hub.http, batch=100) as client:
        client.push()
        with (
            hub.db.transaction() as tx
        ):  # the hub restored an old backup: rows 101..200 and the mark are gone
            tx.execute("DELETE FROM registrations WHERE seq > 100")
            tx.execute("UPDATE devices SET acked_seq = 100")
        fill(kiosk, 50)
        net = hostile(hub, {})
        client.conn.http = net
        with pytest.raises(SyncError) as info:
            client.push()
        assert info.value.code == "push.gap"
        assert client.store.synced_seq() == 200
        assert len([s for s in net._transport.seen if s[0] == "POST"]) == 1  # one try, no loop


def test_push_to_a_revoked_device_is_refused(hub, kiosk):
    fill(kiosk, 5)
    hub.admin.revoke_device(hub.db, "kiosk-a")
    with SyncClient(kiosk, http=hub.http) as client:
        result = client.sync_once()
        assert [e["code"] for e in result.errors] == ["device.revoked"]
        assert client.store.synced_seq() == 0
    assert hub.rows("kiosk-a") == []


def test_push_halves_batches_the_hub_finds_too_large(hub, kiosk):
    fill(kiosk, 40)
    calls = []

    def limit(response: httpx.Response) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:  # pretend a smaller limit once: the first batch must be re-sent smaller
            return httpx.Response(413, json={"error": "body.too_large", "detail": "x"})
        return response

    with SyncClient(kiosk, http=hostile(hub, {"/v1/registrations": limit}), batch=40) as client:
        assert client.push() == 40
        assert client.batch == 20
    assert hub.rows("kiosk-a") == list(range(1, 41))


# --- pulls: bundle, status list, policy ----------------------------------------------------------------------


def add_issuer(hub: Hub, iss: str = "440000"):
    issuer = keys.generate("es256", iss)
    path = hub.dir / f"issuer-{iss}-{time.monotonic_ns()}.pem"
    keys.save(issuer, path)
    hub.admin.add_issuer(hub.db, iss, path)
    return issuer


def publish_list(hub: Hub, seq: int, base: int | None = None, entries=(), **kw) -> None:
    from kiosk.issuer.status_list import make_status_list

    path = hub.dir / f"list-{seq}.ksl"
    path.write_bytes(make_status_list(hub.root, seq, base, entries, issued_at=int(time.time()), **kw))
    hub.admin.publish_status_list(hub.db, hub.dir, hub.root, path)


def publish_policy(hub: Hub, text: str, site: str | None = None) -> int:
    path = hub.dir / f"policy-{time.monotonic_ns()}.toml"
    path.write_text(text)
    return hub.admin.publish_policy(hub.db, hub.root, path, site=site).seq


def test_bundle_pull_verifies_imports_and_uses_etags(hub, kiosk):
    with SyncClient(kiosk, http=hub.http) as client:
        assert client.pull_bundle() is False  # none published: 404 is not an error
        add_issuer(hub)
        seq = hub.admin.publish_bundle(hub.db, hub.root).seq
        net = hostile(hub, {})
        client.conn.http = net
        assert client.pull_bundle() is True
        assert client.bundle_seq() == seq
        assert client.pull_bundle() is False
        statuses = [s[2] for s in net._transport.seen]
        assert statuses == [200, 304]  # the second asked with If-None-Match


def test_bundle_from_another_root_or_older_is_refused_and_old_stays(hub, kiosk):
    from kiosk.issuer.bundle import make_bundle

    issuer = add_issuer(hub)
    hub.admin.publish_bundle(hub.db, hub.root)
    with SyncClient(kiosk, http=hub.http) as client:
        assert client.pull_bundle()
        seq = client.bundle_seq()
        other = keys.generate("es256", "", root=True)
        forged = make_bundle(
            other,
            [("440000", issuer.key.public_key(), {})],
            seq=seq + 5,
            issued_at=int(time.time()),
            valid_hours=9,
        )
        client.conn.http = hostile(
            hub, {"/v1/bundle": lambda r: httpx.Response(200, content=forged.encode())}
        )
        with pytest.raises(SyncError) as info:
            client.pull_bundle()
        assert info.value.code == "bundle.invalid"
        assert client.bundle_seq() == seq
        # the hub's own root, but older than the bundle in force (a kiosk provisioned later from USB)
        newer = make_bundle(
            hub.root,
            [("440000", issuer.key.public_key(), {})],
            seq=seq + 100,
            issued_at=int(time.time()),
            valid_hours=9,
        )
        from kiosk.trust import sources

        with TrustStore(kiosk) as store:
            store.import_source(sources.phic_bundle(newer.encode(), hub.root.key.public_key()))
        client.conn.http = hub.http
        with pytest.raises(SyncError) as info:
            client.pull_bundle()
        assert info.value.code == "bundle.rollback"
        assert client.bundle_seq() == seq + 100


class _Endless(httpx.SyncByteStream):
    def __iter__(self):
        while True:
            yield b"A" * 65536


@pytest.mark.parametrize(
    "answer",
    [
        lambda r: httpx.Response(200, content=b"x" * (9 << 20)),  # announced by Content-Length
        lambda r: httpx.Response(200, stream=_Endless()),  # no length, never ends
        lambda r: httpx.Response(200, content=r.content[:-7]),  # truncated
        lambda r: httpx.Response(200, content=b"\xff" * 100),
        lambda r: httpx.Response(200, content=b""),
        lambda r: httpx.Response(200, content=r.content.replace(b".", b"!", 1)),
        lambda r: httpx.Response(500, content=b"x" * (3 << 20)),  # a huge error page: its start only
        lambda r: httpx.Response(302, headers={"location": "http://elsewhere/"}),
    ],
)
def test_bundle_bad_answers_are_errors_not_crashes(hub, kiosk, answer):
    add_issuer(hub)
    hub.admin.publish_bundle(hub.db, hub.root)
    with SyncClient(kiosk, http=hostile(hub, {"/v1/bundle": answer})) as client:
        result = client.sync_once()
        assert [e["step"] for e in result.errors] == ["bundle"]
        assert result.errors[0]["code"] in ("response.too_large", "bundle.invalid", "hub.error", "http.302")
        assert client.bundle_seq() is None


def test_status_list_full_then_deltas_step_by_step(hub, kiosk):
    from kiosk.trust.status_list import StatusList

    a, b = "11010519491231002X", "440301199001011234"
    publish_list(hub, 1, None, [(a, "red")])
    publish_list(hub, 2, 1, [(b, "yellow")])
    publish_list(hub, 3, 2, [(a, "clear")])
    net = hostile(hub, {})
    with SyncClient(kiosk, http=net) as client:
        assert client.pull_status_list() == 3
        assert client.status_list_seq() == 3
        assert client.pull_status_list() == 0
    queries = [s for s in net._transport.seen if s[1] == "/v1/status-list"]
    assert [q[2] for q in queries] == [200, 200, 200, 304, 304]
    with StatusList.open(kiosk) as lst:
        assert lst.lookup_id(a) is None and lst.lookup_id(b) == "yellow"
    assert not list(kiosk.glob(".sync-*"))  # spooled downloads removed


def test_status_list_refusals_keep_the_list_in_force(hub, kiosk):
    publish_list(hub, 1, None, [("11010519491231002X", "red")])
    with SyncClient(kiosk, http=hub.http) as client:
        client.pull_status_list()
        publish_list(hub, 2, 1, [("440301199001011234", "yellow")])
        for answer in (
            lambda r: httpx.Response(
                200, content=r.content[:-3], headers={"x-list-seq": "2"}
            ),  # truncated body
            lambda r: httpx.Response(200, content=r.content + b"\0"),  # trailing bytes
            lambda r: httpx.Response(200, content=b"garbage\n" + r.content),
            lambda r: httpx.Response(200, content=r.content[: len(r.content) // 2].replace(b"e", b"f")),
        ):
            client.conn.http = hostile(hub, {"/v1/status-list": answer})
            with pytest.raises(SyncError) as info:
                client.pull_status_list()
            assert info.value.code == "status_list.invalid"
            assert client.status_list_seq() == 1
            assert not list(kiosk.glob(".sync-*"))
        # an older list announced by header: refused before the body is read
        client.conn.http = hostile(
            hub,
            {
                "/v1/status-list": lambda r: httpx.Response(
                    200, content=b"x" * 100, headers={"x-list-seq": "1"}
                )
            },
        )
        with pytest.raises(SyncError) as info:
            client.pull_status_list()
        assert info.value.code == "status_list.rollback"
        client.conn.http = hub.http
        assert client.pull_status_list() == 1 and client.status_list_seq() == 2


def test_status_list_cap_streams_to_disk(hub, kiosk, monkeypatch):
    from kiosk.sync import client as client_mod

    publish_list(hub, 1, None, [(f"1101051949123{i:04d}X", "red") for i in range(2000)])
    monkeypatch.setattr(client_mod, "MAX_STATUS_LIST", 10_000)
    with SyncClient(kiosk, http=hub.http) as client:
        with pytest.raises(SyncError) as info:
            client.pull_status_list()
        assert info.value.code == "response.too_large"
        assert client.status_list_seq() is None
    assert not list(kiosk.glob(".sync-*"))


def test_policy_pull_checks_seq_and_writes_atomically(hub, kiosk):
    from kiosk.policy.policy import load_policy

    with SyncClient(kiosk, http=hub.http) as client:
        assert client.pull_policy() is False  # none published
        seq = publish_policy(hub, "fever_threshold = 37.5\n")
        assert client.pull_policy() is True
        assert load_policy(kiosk / "hub-policy.toml").fever_threshold == 37.5
        assert policy_in_force(kiosk)[0] == seq
        assert client.pull_policy() is False  # 304
        # a newer one for this kiosk's site wins over the default
        hub.db.engine  # noqa: B018
        with hub.db.transaction() as tx:
            tx.execute("UPDATE devices SET site = 'Gate 3'")
        seq2 = publish_policy(hub, "fever_threshold = 37.8\n", site="Gate 3")
        client.hub = client.hub.__class__(**{**client.hub.as_dict(), "site": "Gate 3"})
        assert client.pull_policy() is True and policy_in_force(kiosk)[0] == seq2
        # rollback: the hub serves an older policy (e.g. the site policy was deleted)
        with hub.db.transaction() as tx:
            tx.execute("DELETE FROM policies WHERE seq = ?", (seq2,))
        with pytest.raises(SyncError) as info:
            client.pull_policy()
        assert info.value.code == "policy.rollback"
        assert load_policy(kiosk / "hub-policy.toml").fever_threshold == 37.8


def test_policy_forged_or_invalid_is_refused(hub, kiosk):
    publish_policy(hub, "fever_threshold = 37.5\n")
    other = keys.generate("es256", "", root=True)
    forged = _policy_token(
        other, {"seq": 2**40, "issued_at": 1, "site": "*", "policy": "fever_threshold = 41.0\n"}
    )
    with SyncClient(
        kiosk, http=hostile(hub, {"/v1/policy": lambda r: httpx.Response(200, content=forged)})
    ) as client:
        with pytest.raises(SyncError) as info:
            client.pull_policy()
        assert info.value.code == "policy.invalid"
    assert not (kiosk / "hub-policy.toml").exists()


# --- slow, hanging and clock-skewed hubs ---------------------------------------------------------------------


class _Stall:
    """A TCP listener that accepts and then sends nothing (`drip`: a valid status line, headers, then
    one body byte every 0.2 s): the network between the kiosk and a hung hub."""

    def __init__(self, drip: bool = False):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.drip, self.stop, self.conns = drip, threading.Event(), []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            if self.drip:
                threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn):
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
            while not self.stop.is_set():
                conn.sendall(b"x")
                time.sleep(0.2)
        except OSError:
            pass

    def close(self):
        self.stop.set()
        self.sock.close()
        for c in self.conns:
            c.close()


import threading  # noqa: E402


@pytest.mark.parametrize("drip", [False, True])
def test_a_hub_that_hangs_is_a_timeout(hub, kiosk, drip):
    stall = _Stall(drip)
    try:
        hub_json = json.loads((kiosk / "hub.json").read_text())
        hub_json["url"] = f"http://127.0.0.1:{stall.port}"
        (kiosk / "hub.json").write_text(json.dumps(hub_json))
        fill(kiosk, 3)
        with SyncClient(kiosk, timeout=httpx.Timeout(1.0)) as client:
            client.deadline = 1.5
            t0 = time.monotonic()
            result = client.sync_once()
            took = time.monotonic() - t0
        assert [e["code"] for e in result.errors] == ["timeout"]  # the round ends at the first timeout
        assert took < 5
        assert result.synced_seq == 0 and result.pending == 3
        state = sync_state.read_state(kiosk)
        assert state.online is True or drip is False
        assert state.last_error and "did not answer" in state.last_error or "too long" in state.last_error
    finally:
        stall.close()


def test_unreachable_hub_round_is_quick_and_recorded(hub, kiosk):
    hub_json = json.loads((kiosk / "hub.json").read_text())
    hub_json["url"] = f"http://127.0.0.1:{_closed_port()}"
    (kiosk / "hub.json").write_text(json.dumps(hub_json))
    with SyncClient(kiosk) as client:
        result = client.sync_once()
    assert [e["code"] for e in result.errors] == ["network"] and not result.online
    state = sync_state.read_state(kiosk)
    assert state.online is False and state.failures == 1 and state.last_success is None


def test_kiosk_clock_far_off_is_corrected_from_the_hubs_date(tmp_path):
    skew = 3600.0
    h = Hub(tmp_path / "hub", clock=lambda: time.time() + skew)  # the hub is an hour ahead of the kiosk
    try:
        data = tmp_path / "k"
        data.mkdir()
        (data / "device-id").write_text("kiosk-a\n")
        enroll(data, HUB, h.code(now=time.time() + skew), client=h.http)  # retried with the hub's time
        fill(data, 3)
        with SyncClient(data, http=h.http) as client:
            result = client.sync_once()
        assert result.ok, result.errors
        assert result.pushed == 3
        assert result.clock_offset == pytest.approx(skew, abs=2)
        assert sync_state.read_state(data).clock_offset == pytest.approx(skew, abs=2)
    finally:
        h.close()


# --- rounds: state, on_change, lock, run_forever ----------------------------------------------------------------


def test_round_writes_state_and_calls_on_change(hub, kiosk):
    (kiosk / "sync-state.json").write_bytes(b"\x00 damaged")
    add_issuer(hub)
    bundle_seq = hub.admin.publish_bundle(hub.db, hub.root).seq
    publish_list(hub, 1, None, [("11010519491231002X", "red")])
    policy_seq = publish_policy(hub, "fever_threshold = 37.5\n")
    fill(kiosk, 7)
    changes = []
    with SyncClient(kiosk, http=hub.http, on_change=lambda r: changes.append(list(r.changed))) as client:
        result = client.sync_once()
        assert result.ok, result.errors
        assert result.changed == ["bundle", "status_list", "policy"] and changes == [result.changed]
        again = client.sync_once()
        assert again.ok and again.changed == [] and len(changes) == 1
    state = sync_state.read_state(kiosk)
    assert state.online and state.last_error is None and state.last_success == again.started
    assert (state.pending, state.synced_seq) == (0, 7)
    assert (state.bundle_seq, state.status_list_seq, state.policy_seq) == (bundle_seq, 1, policy_seq)
    assert set(state.etags) == {"bundle", "policy"}


def test_a_second_sync_of_the_same_directory_is_refused(hub, kiosk):
    with SyncClient(kiosk, http=hub.http) as one, SyncClient(kiosk, http=hub.http) as two, one._lock():
        result = two.sync_once()
    assert [e["code"] for e in result.errors] == ["busy"]


def test_run_forever_backs_off_and_stops(hub, kiosk):
    hub_json = json.loads((kiosk / "hub.json").read_text())
    hub_json["url"] = f"http://127.0.0.1:{_closed_port()}"
    (kiosk / "hub.json").write_text(json.dumps(hub_json))
    stop = threading.Event()
    rounds = []
    waits = []

    def on_result(result):
        rounds.append(result)
        if len(rounds) == 4:
            stop.set()

    with SyncClient(kiosk) as client:
        real_wait = stop.wait

        def wait(delay):
            waits.append(delay)
            return real_wait(0)

        stop.wait = wait  # type: ignore[method-assign]
        client.run_forever(
            stop, interval=60, backoff_base=2, backoff_cap=5, on_result=on_result, rand=lambda: 1.0
        )
    assert len(rounds) == 4 and not any(r.ok for r in rounds)
    assert waits == [2, 4, 5, 5]
    assert sync_state.read_state(kiosk).failures == 4


def test_no_root_pinned_is_an_error_for_pulls(hub, kiosk):
    with TrustStore(kiosk) as store:
        store.db.execute("DELETE FROM pins")
    fill(kiosk, 2)
    with SyncClient(kiosk, http=hub.http) as client:
        result = client.sync_once()
    assert {e["code"] for e in result.errors} == {"trust.no_root"}
    assert result.synced_seq == 0 and result.pending == 2  # the hub's acknowledgements need the root too


# --- fuzzing the answers over the wire -----------------------------------------------------------------------

_PATHS = ["/v1/bundle", "/v1/status-list", "/v1/policy", "/v1/registrations"]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    path=st.sampled_from(_PATHS),
    status=st.sampled_from([200, 200, 200, 304, 400, 401, 404, 413, 422, 500, 503]),
    body=st.binary(max_size=2000)
    | st.dictionaries(
        st.sampled_from(["stored_through", "inserted", "error", "detail"]),
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    ).map(lambda d: json.dumps(d).encode()),
    headers=st.dictionaries(
        st.sampled_from(["etag", "x-list-seq", "date", "content-type"]),
        st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
    ),
)
def test_fuzz_any_answer_is_an_error_never_a_crash(fuzz_site, path, status, body, headers):
    hub, kiosk = fuzz_site
    fill(kiosk, 3)
    rule = {path: lambda r: httpx.Response(status, content=body, headers=headers)}
    with SyncClient(kiosk, http=hostile(hub, rule)) as client:
        before = (
            client.store.synced_seq(),
            client.bundle_seq(),
            client.status_list_seq(),
            policy_in_force(kiosk),
        )
        result = client.sync_once()
        after = (
            client.store.synced_seq(),
            client.bundle_seq(),
            client.status_list_seq(),
            policy_in_force(kiosk),
        )
    assert all(e["code"] != "local" for e in result.errors), result.errors
    if path == "/v1/registrations":
        assert after[0] == before[0] or after[0] == json.loads(body).get("stored_through")
    else:  # nothing unsigned gets in (the other, unmangled paths may bring real updates)
        index = _PATHS.index(path) + 1
        assert after[index] == before[index]
    assert not list(kiosk.glob(".sync-*"))


@pytest.fixture(scope="module")
def fuzz_site(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz")
    h = Hub(d / "hub")
    add_issuer(h)
    h.admin.publish_bundle(h.db, h.root)
    publish_list(h, 1, None, [("11010519491231002X", "red")])
    publish_policy(h, "fever_threshold = 37.5\n")
    kiosk = enrolled(h, d / "kiosk")
    with SyncClient(kiosk, http=h.http) as client:
        assert client.sync_once().ok
        publish_list(h, 2, 1, [("440301199001011234", "yellow")])  # something new to fetch each time
        h.admin.publish_bundle(h.db, h.root, now=time.time() + 10)
        publish_policy(h, "fever_threshold = 37.6\n")
    fill(kiosk, 100)
    yield h, kiosk
    h.close()


# --- the command ----------------------------------------------------------------------------------------------


def test_cli_exit_codes(hub, tmp_path, capsys):
    from kiosk.sync.cli import main

    data = tmp_path / "fresh"
    assert main(["sync", "--once", "--data-dir", str(data)]) == 1
    assert "not enrolled" in capsys.readouterr().err
    assert main(["sync", "--once", "--batch", "0", "--data-dir", str(data)]) == 2
    url = f"http://127.0.0.1:{_closed_port()}"
    assert main(["sync", "enroll", "--hub", url, "--code", "X", "--data-dir", str(data), "--json"]) == 1
    out = capsys.readouterr()
    assert json.loads(out.out)["ok"] is False and "cannot reach" in out.err
    with pytest.raises(SystemExit):
        main(["sync", "enroll", "--code", "X"])  # --hub is required


def test_cli_once_reports_errors_with_status_1(hub, kiosk, capsys):
    from kiosk.sync.cli import main

    hub_json = json.loads((kiosk / "hub.json").read_text())
    hub_json["url"] = f"http://127.0.0.1:{_closed_port()}"
    (kiosk / "hub.json").write_text(json.dumps(hub_json))
    assert main(["sync", "--once", "--data-dir", str(kiosk)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("sync: FAILED") and "bundle: network: cannot reach the hub" in out


def test_enroll_refuses_a_device_id_the_hub_cannot_take(hub, tmp_path):
    data = tmp_path / "k"
    data.mkdir()
    (data / "device-id").write_text("gate 3/left\n")
    with pytest.raises(EnrollError, match="cannot be enrolled"):
        enroll(data, HUB, hub.code(), client=hub.http)
