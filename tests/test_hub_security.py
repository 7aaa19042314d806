"""What the hub refuses: bad signatures, replays, stale or future timestamps, unknown and revoked
devices, oversized and malformed bodies, personal data in clear. A refused request stores nothing and
never makes a 500; fuzzed bodies and signature headers included."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hubtools import Device, DeviceClient, Hub, make_hub, row
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.hub import admin
from kiosk.hub.app import MAX_BODY, create_app


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """One hub for the module (Hypothesis runs many examples against it): (hub, client, clock)."""
    hub = make_hub(tmp_path_factory.mktemp("hub") / "hub")
    clock = Clock()
    with TestClient(create_app(hub.dir, clock=clock), raise_server_exceptions=True) as client:
        yield hub, client, clock


_counter = iter(range(10**9))


@pytest.fixture
def dc(env) -> DeviceClient:
    """A freshly enrolled device (its own id, so counts per device start at zero)."""
    hub, client, clock = env
    device_id = f"kiosk-{next(_counter)}"
    dc = DeviceClient(client, Device.new(device_id), clock)
    assert dc.enroll(hub.code(device_id=device_id)).status_code == 200
    return dc


def stored(env, device_id: str) -> int:
    with env[0].db() as db:
        return db.registration_count(device_id)


def body_of(dc: DeviceClient, rows: list[dict]) -> bytes:
    return json.dumps({"device_id": dc.device.device_id, "registrations": rows}).encode()


def post_signed(dc: DeviceClient, body: bytes, headers: dict[str, str], path: str = "/v1/registrations"):
    return dc.http.post(path, content=body, headers={"Content-Type": "application/json", **headers})


def assert_refused(r, status: int, error: str | None = None) -> None:
    assert r.status_code == status, r.text
    doc = r.json()
    assert set(doc) == {"error", "detail"}
    if error is not None:
        assert doc["error"] == error, doc


# --- signatures -------------------------------------------------------------------------------------


def test_missing_signature(env, dc):
    r = dc.request(
        "POST",
        "/v1/registrations",
        json_body={"device_id": dc.device.device_id, "registrations": [row(1)]},
        sign=False,
    )
    assert_refused(r, 401, "signature.missing")
    assert_refused(dc.request("GET", "/v1/bundle", sign=False), 401, "signature.missing")
    assert stored(env, dc.device.device_id) == 0


def test_wrong_signature(env, dc):
    body = body_of(dc, [row(1)])
    headers = dc.device.sign("POST", "/v1/registrations", "", body, env[2]())
    raw = bytearray(base64.b64decode(headers["Signature"][len("kiosk=:") : -1]))
    raw[10] ^= 0xFF
    headers["Signature"] = "kiosk=:" + base64.b64encode(bytes(raw)).decode() + ":"
    assert_refused(post_signed(dc, body, headers), 401, "signature.invalid")
    assert stored(env, dc.device.device_id) == 0


def test_other_devices_key(env, dc):
    """A device cannot speak for another: its key does not verify under the other's keyid."""
    mallory = Device(dc.device.device_id, Device.new().key)
    body = body_of(dc, [row(1)])
    assert_refused(
        post_signed(dc, body, mallory.sign("POST", "/v1/registrations", "", body, env[2]())),
        401,
        "signature.invalid",
    )
    assert stored(env, dc.device.device_id) == 0


def test_body_changed_after_signing(env, dc):
    body = body_of(dc, [row(1)])
    headers = dc.device.sign("POST", "/v1/registrations", "", body, env[2]())
    assert_refused(post_signed(dc, body_of(dc, [row(2)]), headers), 401, "digest.mismatch")


def test_signature_bound_to_path_and_query(env, dc):
    headers = dc.device.sign("GET", "/v1/bundle", "", b"", env[2]())
    assert_refused(dc.http.get("/v1/policy", headers=headers), 401, "signature.invalid")
    headers = dc.device.sign("GET", "/v1/status-list", "have=1", b"", env[2]())
    assert_refused(dc.http.get("/v1/status-list?have=2", headers=headers), 401, "signature.invalid")
    headers = dc.device.sign("GET", "/v1/bundle", "", b"", env[2]())
    assert_refused(dc.http.request("POST", "/v1/bundle", headers=headers), 405, "method.not_allowed")


@pytest.mark.parametrize("offset", [-301, 301, -(10**6)])
def test_old_or_future_timestamp(env, dc, offset):
    body = body_of(dc, [row(1)])
    headers = dc.device.sign("POST", "/v1/registrations", "", body, env[2]() + offset)
    assert_refused(post_signed(dc, body, headers), 401, "signature.expired")
    assert stored(env, dc.device.device_id) == 0


def test_timestamp_within_window(env, dc):
    body = body_of(dc, [row(1)])
    headers = dc.device.sign("POST", "/v1/registrations", "", body, env[2]() - 290)
    assert post_signed(dc, body, headers).status_code == 200


def test_replay_is_refused_and_stores_nothing(env, dc):
    body = body_of(dc, [row(1)])
    headers = dc.device.sign("POST", "/v1/registrations", "", body, env[2]())
    assert post_signed(dc, body, headers).json() == {"stored_through": 1, "inserted": 1}
    assert_refused(post_signed(dc, body, headers), 401, "replay")
    # a different (validly signed) request reusing the nonce has no effect either
    nonce = headers["Signature-Input"].split('nonce="')[1].rstrip('"')
    body2 = body_of(dc, [row(2), row(3)])
    headers2 = dc.device.sign("POST", "/v1/registrations", "", body2, env[2](), nonce=nonce)
    assert_refused(post_signed(dc, body2, headers2), 401, "replay")
    assert stored(env, dc.device.device_id) == 1
    # replays of downloads and of enrolment are refused too
    h = dc.device.sign("GET", "/v1/bundle", "", b"", env[2]())
    assert dc.http.get("/v1/bundle", headers=h).status_code == 404
    assert_refused(dc.http.get("/v1/bundle", headers=h), 401, "replay")


def test_enroll_replay_refused(env):
    hub, client, clock = env
    dev = Device.new("kiosk-enroll-replay")
    body = json.dumps({"device_id": dev.device_id, "code": hub.code(), "public_key": dev.public_pem}).encode()
    headers = dev.sign("POST", "/v1/enroll", "", body, clock())
    assert client.post("/v1/enroll", content=body, headers=headers).status_code == 200
    assert_refused(client.post("/v1/enroll", content=body, headers=headers), 401, "replay")


def test_unknown_device(env):
    dc = DeviceClient(env[1], Device.new("kiosk-never-enrolled"), env[2])
    assert_refused(dc.push([row(1)]), 401, "device.unknown")
    assert_refused(dc.get("/v1/bundle"), 401, "device.unknown")
    assert stored(env, "kiosk-never-enrolled") == 0


def test_revoked_device(env, dc):
    with env[0].db() as db:
        admin.revoke_device(db, dc.device.device_id)
    assert_refused(dc.push([row(1)]), 403, "device.revoked")
    assert_refused(dc.get("/v1/policy"), 403, "device.revoked")
    assert stored(env, dc.device.device_id) == 0


# --- bodies -----------------------------------------------------------------------------------------


def test_oversized_body_with_content_length(env, dc):
    body = b"x" * (MAX_BODY + 1)
    headers = dc.device.sign("POST", "/v1/registrations", "", body, env[2]())
    assert_refused(post_signed(dc, body, headers), 413, "body.too_large")


def test_oversized_body_streamed_without_content_length(env, dc):
    body = b"y" * (MAX_BODY + 10)
    headers = dc.device.sign("POST", "/v1/registrations", "", body, env[2]())

    def chunks():
        for i in range(0, len(body), 65536):
            yield body[i : i + 65536]

    r = dc.http.post("/v1/registrations", content=chunks(), headers=headers)
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert_refused(r, 413, "body.too_large")
    big_enroll = b"{" + b" " * (70 * 1024) + b"}"
    h = dc.device.sign("POST", "/v1/enroll", "", big_enroll, env[2]())
    assert_refused(dc.http.post("/v1/enroll", content=big_enroll, headers=h), 413, "body.too_large")


def test_body_just_under_the_limit_is_read(env, dc):
    rows = [row(i, issuer="x" * 200) for i in range(1, 1001)]
    body = body_of(dc, rows)
    assert len(body) < MAX_BODY
    headers = dc.device.sign("POST", "/v1/registrations", "", body, env[2]())
    assert post_signed(dc, body, headers).json()["stored_through"] == 1000


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"null", b"[]", b'"x"', b"\xff\xfe", b'{"device_id": "k", "registrations": NaN}', b"1e999"],
)
def test_malformed_json(env, dc, body):
    headers = dc.device.sign("POST", "/v1/registrations", "", body, env[2]())
    assert_refused(post_signed(dc, body, headers), 422, "body.invalid")


@pytest.mark.parametrize(
    "change",
    [
        {"seq": "1"},
        {"seq": 0},
        {"seq": True},
        {"seq": 1.0},
        {"seq": 2**63},
        {"ts": "yesterday"},
        {"ts": -1},
        {"day": "2025-13-45"},
        {"day": "20251124"},
        {"day": "２０２５-11-24"},
        {"method": "telepathy"},
        {"decision": "maybe"},
        {"reasons": "code.green"},
        {"reasons": [1, 2]},
        {"reasons": ["UPPER CASE"]},
        {"temperature": 1000},
        {"temperature": "36.6"},
        {"colour": ["green"]},
        {"format": ["phic"]},
        {"code_id_hash": "abc"},
        {"unknown_field": 1},
        {"masked_name": "Zhang San"},
        {"masked_id": "A1234567"},
        {"masked_name": "Z*\x00"},
    ],
    ids=lambda c: json.dumps(c, ensure_ascii=True)[:40],
)
def test_wrong_types_and_values(env, dc, change):
    assert_refused(dc.push([row(1), {**row(2), **change}]), 422, "body.invalid")
    assert stored(env, dc.device.device_id) == 0


@pytest.mark.parametrize(
    "change",
    [
        {"masked_id": "110101199003077777"},
        {"masked_id": "1101 0119 9003 0777 77"},
        {"issuer": "440000 110101199003077777"},
        {"masked_name": "Z* 110101-19900307-7777"},
        {"issuer": "HC1:6BFOXN%TS3DH0YOJ58S S-W5HDC *M0II"},
        {"issuer": "PHC1:AAAA"},
        {"reasons": ["shc:/5676290952432060"]},
    ],
)
def test_personal_data_in_clear_is_refused(env, dc, change):
    r = dc.push([row(1, **change)])
    assert_refused(r, 422, "body.invalid")
    assert "110101199003077777" not in r.text  # the refusal does not echo the value
    assert stored(env, dc.device.device_id) == 0


def test_device_id_mismatch(env, dc):
    other = DeviceClient(env[1], Device.new("kiosk-other"), env[2])
    assert other.enroll(env[0].code(device_id="kiosk-other")).status_code == 200
    r = dc.request(
        "POST", "/v1/registrations", json_body={"device_id": "kiosk-other", "registrations": [row(1)]}
    )
    assert_refused(r, 422, "body.invalid")
    assert_refused(dc.push([row(1, device_id="kiosk-other")]), 422, "body.invalid")
    assert stored(env, "kiosk-other") == 0 and stored(env, dc.device.device_id) == 0


def test_sql_looking_strings_are_stored_verbatim(env, dc):
    evil = "x'); DROP TABLE registrations;--"
    rows = [row(1, issuer=evil), row(2, issuer='"; DELETE FROM devices; --', masked_name="O'B*")]
    assert dc.push(rows).json() == {"stored_through": 2, "inserted": 2}
    with env[0].db() as db:
        got = db.registrations(dc.device.device_id)
        assert [r["issuer"] for r in got] == [evil, '"; DELETE FROM devices; --']
        assert got[1]["masked_name"] == "O'B*"
        assert db.device(dc.device.device_id) is not None and db.registration_count() >= 2


def test_unknown_path_and_method(env):
    client = env[1]
    assert_refused(client.get("/v1/nothing"), 404, "not_found")
    assert_refused(client.delete("/v1/health"), 405, "method.not_allowed")


# --- fuzzing ----------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
row_fields = st.fixed_dictionaries(
    {},
    optional={
        "seq": st.one_of(st.integers(-2, 2**64), st.text(max_size=3), st.floats()),
        "ts": st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=3)),
        "day": st.one_of(st.text(max_size=12), st.just("2025-02-30"), st.just("2025-02-28")),
        "method": st.sampled_from(["code", "card", "x", ""]),
        "decision": st.sampled_from(["pass", "deny", "nope"]),
        "masked_name": st.one_of(st.none(), st.text(max_size=70)),
        "masked_id": st.one_of(st.none(), st.text(alphabet="0123456789* -", max_size=40)),
        "issuer": st.one_of(st.none(), st.text(max_size=300)),
        "reasons": st.one_of(st.lists(st.text(max_size=10), max_size=3), json_values),
        "temperature": st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
        "extra": json_values,
    },
)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.slow
@FUZZ
@given(body=st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode())))
def test_fuzz_body_signed(env, dc, body):
    """Signed garbage: 413 or 422, nothing stored (`dc` is one device for all examples)."""
    headers = dc.device.sign("POST", "/v1/registrations", "", body, env[2]())
    r = post_signed(dc, body, headers)
    assert r.status_code in (413, 422), r.text
    assert stored(env, dc.device.device_id) == 0


@pytest.mark.slow
@FUZZ
@given(fields=row_fields)
def test_fuzz_rows(env, dc, fields):
    """Rows of mixed valid and invalid fields: accepted (200) or refused whole (422), never stored
    in part, never a 500."""
    before = stored(env, dc.device.device_id)
    candidate = {k: v for k, v in row(1).items() if k not in fields or k == "seq"} | fields
    r = dc.push([row(10**6 + before + 1), candidate])
    assert r.status_code in (200, 422), r.text
    after = stored(env, dc.device.device_id)
    if r.status_code == 422:
        assert after == before
    else:
        assert after in (before + 1, before + 2)


header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=200)


@pytest.mark.slow
@FUZZ
@given(
    sig_input=st.one_of(header_text, st.none()),
    signature=st.one_of(header_text, st.none()),
    digest=st.one_of(header_text, st.none()),
    mutate=st.sampled_from(["input", "signature", "digest", "all"]),
)
def test_fuzz_signature_headers(env, dc, sig_input, signature, digest, mutate):
    body = body_of(dc, [row(1)])
    headers = dc.device.sign("POST", "/v1/registrations", "", body, env[2]())
    replace = {
        "input": {"Signature-Input": sig_input},
        "signature": {"Signature": signature},
        "digest": {"Content-Digest": digest},
        "all": {"Signature-Input": sig_input, "Signature": signature, "Content-Digest": digest},
    }[mutate]
    for name, value in replace.items():
        if value is None:
            headers.pop(name)
        else:
            headers[name] = value
    r = post_signed(dc, body, headers)
    assert r.status_code == 401, r.text
    assert stored(env, dc.device.device_id) == 0


def test_hub_dir_must_be_initialised(tmp_path: Path):
    with pytest.raises(admin.HubAdminError, match="hub init"):
        create_app(tmp_path)


def test_client_fixture_is_independent(env):
    assert isinstance(env[0], Hub)


def test_refusal_does_not_echo_an_unmasked_name(env, dc):
    r = dc.push([row(1, masked_name="Zhang San")])
    assert_refused(r, 422, "body.invalid")
    assert "masked_name" in r.json()["detail"] and "Zhang" not in r.text
