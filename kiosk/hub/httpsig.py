"""Signed kiosk requests in the manner of HTTP Message Signatures (RFC 9421) with Content-Digest (RFC 9530).

Every kiosk request to the hub carries three headers::

    Content-Digest: sha-256=:<base64 of SHA-256(body)>:
    Signature-Input: kiosk=("@method" "@path" "@query" "content-digest");created=<unix>;\
keyid="<device id>";alg="ecdsa-p256-sha256";nonce="<16-64 of [A-Za-z0-9_-]>"
    Signature: kiosk=:<base64 of the 64-byte r||s ECDSA P-256 SHA-256 signature>:

over the RFC 9421 signature base (one line per component, LF-separated, no trailing LF)::

    "@method": POST
    "@path": /v1/registrations
    "@query": ?
    "content-digest": sha-256=:...:
    "@signature-params": ("@method" "@path" "@query" "content-digest");created=...;keyid=...;alg=...;nonce=...

The component list, label and algorithm are fixed: a verifier accepts exactly this profile and nothing
looser, so a signature can never be stretched to cover less. `created` must be within `window` seconds
of the verifier's clock; the nonce makes each request unique so the hub can refuse replays within the
window (it remembers nonces for as long as `created` would be accepted). Pure functions, no I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from kiosk.crypto.keys import EcP256Key, EcP256SigningKey, VerifyKey

LABEL = "kiosk"
ALG = "ecdsa-p256-sha256"
COMPONENTS = ("@method", "@path", "@query", "content-digest")
WINDOW_SECONDS = 300
MAX_HEADER = 1024

_COMPONENT_LIST = "(" + " ".join(f'"{c}"' for c in COMPONENTS) + ")"
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_KEYID = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,64}")  # printable ASCII without '"' and '\'
_INPUT = re.compile(
    r"kiosk=\((?P<components>[^()]*)\)"
    r";created=(?P<created>[0-9]{1,12})"
    r';keyid="(?P<keyid>[^"\\]*)"'
    r';alg="(?P<alg>[^"\\]*)"'
    r';nonce="(?P<nonce>[^"\\]*)"'
)
_SIGNATURE = re.compile(r"kiosk=:(?P<sig>[A-Za-z0-9+/]{86}==):")
_DIGEST = re.compile(r"sha-256=:(?P<digest>[A-Za-z0-9+/]{43}=):")


class SignatureError(Exception):
    """A request whose signature does not hold; `reason` is a stable code for logs and the response."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Signed:
    """What a valid signature vouches for."""

    device_id: str
    created: int
    nonce: str


ACK_HEADER = "X-Ack-Signature"


def ack_message(device_id: str, nonce: str, stored_through: int) -> bytes:
    """What the hub's root key signs in an intake answer: bound to the request (its nonce) so an
    acknowledgement can be neither forged nor replayed by someone between kiosk and hub."""
    return f"kiosk-ack/1\n{device_id}\n{nonce}\n{stored_through}".encode()


def content_digest(body: bytes) -> str:
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def _params(created: int, keyid: str, nonce: str) -> str:
    return f'{_COMPONENT_LIST};created={created};keyid="{keyid}";alg="{ALG}";nonce="{nonce}"'


def signature_base(method: str, path: str, query: str, digest: str, params: str) -> bytes:
    """The RFC 9421 signature base. `query` is the raw query string without '?' ('' when there is none)."""
    return (
        f'"@method": {method.upper()}\n'
        f'"@path": {path}\n'
        f'"@query": ?{query}\n'
        f'"content-digest": {digest}\n'
        f'"@signature-params": {params}'
    ).encode()


def sign_request(
    key: EcP256SigningKey,
    device_id: str,
    method: str,
    path: str,
    query: str,
    body: bytes,
    now: float,
    nonce: str | None = None,
) -> dict[str, str]:
    """The three headers for one request (`path` without the query; `query` without '?')."""
    if not _KEYID.fullmatch(device_id):
        raise ValueError(f"device id {device_id!r} cannot be a keyid")
    nonce = nonce or secrets.token_urlsafe(18)
    digest = content_digest(body)
    params = _params(int(now), device_id, nonce)
    raw = key.sign(signature_base(method, path, query, digest, params))  # r||s, 64 bytes
    return {
        "Content-Digest": digest,
        "Signature-Input": f"{LABEL}={params}",
        "Signature": f"{LABEL}=:{base64.b64encode(raw).decode()}:",
    }


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    if value is None:
        raise SignatureError("signature.missing", f"the {name} header is missing")
    if len(value) > MAX_HEADER:
        raise SignatureError("signature.malformed", f"the {name} header is too long")
    return value.strip()


def parse_signature_input(value: str) -> tuple[int, str, str, str]:
    """(created, keyid, nonce, the params text) of a Signature-Input header in our profile."""
    m = _INPUT.fullmatch(value)
    if m is None:
        raise SignatureError("signature.malformed", "Signature-Input is not in the kiosk profile")
    if "(" + m["components"] + ")" != _COMPONENT_LIST:
        raise SignatureError("signature.components", f"the signature must cover exactly {_COMPONENT_LIST}")
    if m["alg"] != ALG:
        raise SignatureError("signature.alg", f"alg must be {ALG}")
    if not _KEYID.fullmatch(m["keyid"]):
        raise SignatureError("signature.malformed", "bad keyid")
    if not _NONCE.fullmatch(m["nonce"]):
        raise SignatureError("signature.malformed", "the nonce must be 16-64 characters of [A-Za-z0-9_-]")
    return int(m["created"]), m["keyid"], m["nonce"], value[len(LABEL) + 1 :]


def verify_request(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    key_for: Callable[[str], VerifyKey | None],
    now: float,
    window: int = WINDOW_SECONDS,
) -> Signed:
    """Check one request; raises SignatureError. `key_for(device_id)` returns the enrolled key or None.

    Replay protection is the caller's: remember (device_id, nonce) for `2 * window` seconds."""
    created, keyid, nonce, params = parse_signature_input(_header(headers, "Signature-Input"))
    if abs(now - created) > window:
        raise SignatureError(
            "signature.expired", f"created {created} is more than {window} s from the hub's clock {int(now)}"
        )
    digest = _header(headers, "Content-Digest")
    if _DIGEST.fullmatch(digest) is None:
        raise SignatureError("digest.malformed", "Content-Digest must be sha-256=:<base64>:")
    if digest != content_digest(body):
        raise SignatureError("digest.mismatch", "Content-Digest does not match the body")
    m = _SIGNATURE.fullmatch(_header(headers, "Signature"))
    if m is None:
        raise SignatureError("signature.malformed", "Signature must be kiosk=:<base64 of 64 bytes>:")
    try:
        raw = base64.b64decode(m["sig"], validate=True)
    except binascii.Error:
        raise SignatureError("signature.malformed", "Signature is not base64") from None
    key = key_for(keyid)
    if key is None:
        raise SignatureError("device.unknown", f"device {keyid!r} is not enrolled")
    if not isinstance(key, EcP256Key):
        raise SignatureError("signature.alg", "the device key is not P-256")
    if not key.verify(raw, signature_base(method, path, query, digest, params)):
        raise SignatureError("signature.invalid", "the signature does not verify")
    return Signed(keyid, created, nonce)
