"""The request-signature profile (kiosk/hub/httpsig.py): what verifies, and everything that must not."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.crypto.keys import EcP256SigningKey
from kiosk.hub.httpsig import (
    SignatureError,
    content_digest,
    sign_request,
    signature_base,
    verify_request,
)

KEY = EcP256SigningKey.generate()
OTHER = EcP256SigningKey.generate()
NOW = 1_790_000_000


def _keys(device_id: str):
    return KEY.public_key() if device_id == "kiosk-1" else None


def _signed(body: bytes = b'{"a":1}', method: str = "POST", path: str = "/v1/registrations", query: str = ""):
    return sign_request(KEY, "kiosk-1", method, path, query, body, NOW)


def _reason(
    headers, body=b'{"a":1}', method="POST", path="/v1/registrations", query="", now=NOW, key_for=_keys
):
    with pytest.raises(SignatureError) as err:
        verify_request(method, path, query, headers, body, key_for, now)
    return err.value.reason


def test_signed_request_verifies_and_names_the_device():
    headers = _signed()
    signed = verify_request("POST", "/v1/registrations", "", headers, b'{"a":1}', _keys, NOW + 10)
    assert signed.device_id == "kiosk-1" and signed.created == NOW and len(signed.nonce) >= 16
    # header names are case-insensitive in HTTP; servers hand them over lower-cased
    lower = {k.lower(): v for k, v in headers.items()}
    assert (
        verify_request("POST", "/v1/registrations", "", lower, b'{"a":1}', _keys, NOW).device_id == "kiosk-1"
    )


def test_signature_base_follows_rfc9421_layout():
    base = signature_base("post", "/v1/x", "have=3", content_digest(b""), '("@method");created=1')
    lines = base.decode().split("\n")
    assert lines[0] == '"@method": POST'
    assert lines[2] == '"@query": ?have=3'
    assert lines[3] == '"content-digest": sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:'
    assert lines[-1].startswith('"@signature-params": (') and not base.endswith(b"\n")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda h: {**h, "Content-Digest": content_digest(b"other")}, "digest.mismatch"),
        (lambda h: {k: v for k, v in h.items() if k != "Signature"}, "signature.missing"),
        (lambda h: {k: v for k, v in h.items() if k != "Content-Digest"}, "signature.missing"),
        (lambda h: {**h, "Signature": "kiosk=:AAAA:"}, "signature.malformed"),
        (
            lambda h: {**h, "Signature-Input": h["Signature-Input"].replace('"@query" ', "")},
            "signature.components",
        ),
        (
            lambda h: {
                **h,
                "Signature-Input": h["Signature-Input"].replace("ecdsa-p256-sha256", "hmac-sha256"),
            },
            "signature.alg",
        ),
        (
            lambda h: {
                **h,
                "Signature-Input": h["Signature-Input"].replace('keyid="kiosk-1"', 'keyid="kiosk-2"'),
            },
            "device.unknown",
        ),
        (lambda h: {**h, "Signature-Input": h["Signature-Input"] + ";tag=x"}, "signature.malformed"),
        (lambda h: {**h, "Signature-Input": "x" * 5000}, "signature.malformed"),
    ],
)
def test_tampered_headers_are_refused(change, reason):
    assert _reason(change(_signed())) == reason


def test_any_change_to_method_path_query_or_body_breaks_the_signature():
    headers = _signed(query="have=1", method="GET", path="/v1/status-list", body=b"")
    ok = dict(method="GET", path="/v1/status-list", query="have=1", body=b"")
    assert verify_request(ok["method"], ok["path"], ok["query"], headers, ok["body"], _keys, NOW)
    assert _reason(headers, **{**ok, "method": "POST"}) == "signature.invalid"
    assert _reason(headers, **{**ok, "path": "/v1/policy"}) == "signature.invalid"
    assert _reason(headers, **{**ok, "query": "have=0"}) == "signature.invalid"
    assert _reason(headers, **{**ok, "body": b"x"}) == "digest.mismatch"


def test_other_key_and_clock_window():
    headers = sign_request(OTHER, "kiosk-1", "POST", "/v1/registrations", "", b'{"a":1}', NOW)
    assert _reason(headers) == "signature.invalid"
    assert _reason(_signed(), now=NOW + 301) == "signature.expired"
    assert _reason(_signed(), now=NOW - 301) == "signature.expired"
    assert verify_request("POST", "/v1/registrations", "", _signed(), b'{"a":1}', _keys, NOW + 300)


def test_keyid_must_be_a_plain_token():
    with pytest.raises(ValueError):
        sign_request(KEY, 'bad"id', "GET", "/", "", b"", NOW)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["Signature", "Signature-Input", "Content-Digest", "signature", "x"]),
        st.text(max_size=300),
    ),
    st.binary(max_size=200),
)
def test_garbage_headers_never_verify_and_never_crash(headers, body):
    with pytest.raises(SignatureError):
        verify_request("POST", "/v1/registrations", "", headers, body, _keys, NOW)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 3), st.integers(0, 200), st.binary(min_size=1, max_size=3))
def test_mutated_signed_headers_never_verify(which, pos, junk):
    headers = _signed()
    name = ["Signature", "Signature-Input", "Content-Digest", "Signature"][which]
    value = headers[name]
    pos %= len(value)
    mutated = value[:pos] + junk.decode("latin-1") + value[pos + 1 :]
    if mutated == value:
        return
    with pytest.raises(SignatureError):
        verify_request("POST", "/v1/registrations", "", {**headers, name: mutated}, b'{"a":1}', _keys, NOW)
