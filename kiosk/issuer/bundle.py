"""Signing the PHIC issuer bundle that tells kiosks which issuer keys to trust."""

from __future__ import annotations

import base64
import json

from kiosk.crypto.jws import sign_compact
from kiosk.crypto.keys import VerifyKey, kid8
from kiosk.issuer.keys import IssuerKey


def make_bundle(
    root: IssuerKey,
    issuers: list[tuple[str, VerifyKey, dict]],
    *,
    seq: int,
    issued_at: int,
    valid_hours: float,
    names: dict[str, str] | None = None,
) -> str:
    """`issuers`: (iss, public key, extra key fields such as code_types/not_before/not_after)."""
    if root.role != "root":
        raise ValueError("the bundle must be signed by a root key (kiosk issuer keygen --root)")
    by_iss: dict[str, list[dict]] = {}
    for iss, key, extra in issuers:
        spki = key.spki_der()
        by_iss.setdefault(iss, []).append(
            {"kid": kid8(spki).hex(), "alg": key.alg, "spki": base64.b64encode(spki).decode(), **extra}
        )
    doc = {
        "seq": seq,
        "issued_at": issued_at,
        "valid_until": issued_at + int(valid_hours * 3600),
        "issuers": [
            {"iss": iss, "name": (names or {}).get(iss, f"Issuer {iss}"), "keys": keys}
            for iss, keys in by_iss.items()
        ],
    }
    return sign_compact(
        json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode(), root.key, typ="phic-bundle+jws"
    )
