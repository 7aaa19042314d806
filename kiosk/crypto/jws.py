"""Compact JWS (RFC 7515) with the kiosk's key types: ES256 (raw r‖s) and SM2 (alg "SM2", raw r‖s)."""

from __future__ import annotations

import json

from kiosk.crypto.keys import SigningKey, VerifyKey, b64url_decode, b64url_encode

MAX_TOKEN = 64 * 1024 * 1024


class JwsError(ValueError):
    pass


def sign_compact(payload: bytes, key: SigningKey, **header: str) -> str:
    head = b64url_encode(json.dumps({"alg": key.alg, **header}, separators=(",", ":")).encode())
    body = b64url_encode(payload)
    signature = key.sign(f"{head}.{body}".encode("ascii"))
    return f"{head}.{body}.{b64url_encode(signature)}"


def verify_compact(token: bytes | str, key: VerifyKey) -> tuple[dict, bytes]:
    """(header, payload) of a compact JWS signed by `key`; JwsError with the reason otherwise."""
    if isinstance(token, bytes):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError:
            raise JwsError("not a compact JWS (non-ASCII bytes)") from None
    token = token.strip()
    if len(token) > MAX_TOKEN:
        raise JwsError("JWS too large")
    parts = token.split(".")
    if len(parts) != 3:
        raise JwsError("not a compact JWS (expected three dot-separated parts)")
    try:
        header = json.loads(b64url_decode(parts[0]))
        payload = b64url_decode(parts[1])
        signature = b64url_decode(parts[2])
    except (ValueError, RecursionError) as exc:  # RecursionError: a header nested thousands deep
        raise JwsError(f"malformed JWS: {exc}") from None
    if not isinstance(header, dict):
        raise JwsError("JWS header is not an object")
    if header.get("alg") != key.alg:
        raise JwsError(f"JWS alg {header.get('alg')!r} does not match the {key.alg} key")
    if not key.verify(signature, f"{parts[0]}.{parts[1]}".encode("ascii")):
        raise JwsError("JWS signature does not verify with the given key")
    return header, payload
