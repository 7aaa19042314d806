"""PHIC v1: the project's offline profile of the GB/T 38962 health-code data elements.

`PHC1:` + Base45(zlib(COSE_Sign1(CWT))), signed with ES256 or SM2-SM3 (see docs/formats.md).
"""

from __future__ import annotations

import hashlib
from typing import Any

from kiosk.codes import cose
from kiosk.codes.base45 import Base45Error, b45decode
from kiosk.codes.keyring import KeyRing
from kiosk.codes.masking import mask_id, mask_name
from kiosk.codes.model import Format, Holder, Reason, Verification
from kiosk.codes.signed import DEFAULT_SKEW, check_key_period, check_signature, check_window, cose_alg

PREFIX = b"PHC1:"
CLAIM_ISS, CLAIM_EXP, CLAIM_IAT, CLAIM_CTI, CLAIM_PHIC = 1, 4, 6, 7, -70001
COLOURS = {0: "green", 1: "yellow", 2: "red"}
CODE_TYPES = {"d": "dynamic", "p": "paper", "a": "assisted"}
ID_TYPES = {"01", "02", "03", "04", "05", "99"}
REQUIRED = ("v", "t", "c", "n", "it", "im", "ih")
MAX_TEXT = 64  # longest name or masked number a PHIC may carry


def binding(id_number: str, cti: bytes) -> bytes:
    """The `ih` value: SHA-256(upper-case ID number ‖ cti)[0:16]."""
    return hashlib.sha256(id_number.strip().upper().encode("utf-8") + cti).digest()[:16]


def _check_phic_map(phic: Any) -> bool:
    if not isinstance(phic, dict) or any(k not in phic for k in REQUIRED):
        return False
    ok = (
        phic["v"] == "1.0"
        and isinstance(phic["t"], str)  # `in` on a dict/set raises TypeError for a list or map
        and phic["t"] in CODE_TYPES
        and type(phic["c"]) is int
        and phic["c"] in COLOURS
        and isinstance(phic["n"], str)
        and 0 < len(phic["n"]) <= MAX_TEXT
        and isinstance(phic["it"], str)
        and phic["it"] in ID_TYPES
        and isinstance(phic["im"], str)
        and 0 < len(phic["im"]) <= MAX_TEXT
        and isinstance(phic["ih"], bytes)
        and len(phic["ih"]) == 16
    )
    if "vx" in phic:
        ok = ok and type(phic["vx"]) is int and 0 <= phic["vx"] <= 20
    if "nt" in phic:
        nt = phic["nt"]
        ok = ok and isinstance(nt, dict) and nt.get("r") in (0, 1) and type(nt.get("r")) is int
        ok = ok and type(nt.get("at")) is int
    if "ra" in phic:
        ok = ok and isinstance(phic["ra"], bool)
    return ok


def verify(data: bytes, ring: KeyRing, now: float, *, skew: int = DEFAULT_SKEW) -> Verification:
    """Verify a PHIC's bytes as read from the QR symbol (prefix included). Pure: no I/O."""
    result = Verification(Format.PHIC)
    try:
        msg = cose.parse_sign1(cose.inflate(b45decode(data[len(PREFIX) :])))
    except (Base45Error, cose.CoseError):
        result.checks.decode = False
        result.fail(Reason.DECODE_FAILED)
        return result
    kid = msg.kid
    result.kid = kid.hex() if kid else None
    key = check_signature(
        result, ring, Format.PHIC, kid, cose_alg(msg.alg), msg.signature, msg.to_be_signed()
    )

    # The payload is judged on its own, whatever the signature said.
    try:
        claims = cose.loads(msg.payload)
    except cose.CoseError:
        claims = None
    phic = claims.get(CLAIM_PHIC) if isinstance(claims, dict) else None
    iss = claims.get(CLAIM_ISS) if isinstance(claims, dict) else None
    cti = claims.get(CLAIM_CTI) if isinstance(claims, dict) else None
    if not (
        _check_phic_map(phic) and isinstance(iss, str) and isinstance(cti, bytes) and 8 <= len(cti) <= 32
    ):
        result.checks.decode = False
        result.fail(Reason.PAYLOAD_INVALID)
        return result
    result.checks.decode = True
    result.issuer = iss
    result.code_id = cti
    result.binding = phic["ih"]
    result.colour = COLOURS[phic["c"]]
    result.code_type = phic["t"]
    result.holder = Holder(name=mask_name(phic["n"]), id_type=phic["it"], id_number=mask_id(phic["im"]))
    result.claims = {k: phic[k] for k in ("vx", "nt", "ra") if k in phic}
    check_window(result, claims.get(CLAIM_IAT), claims.get(CLAIM_EXP), now, skew)

    if key is not None:
        region = key.issuer
        if not (iss == region or iss.startswith(region + "/")):
            result.fail(Reason.KEY_NOT_AUTHORIZED)
        if key.usages is not None and phic["t"] not in key.usages:
            result.fail(Reason.KEY_USAGE)
        check_key_period(result, key, result.issued_at, now)
        result.issuer = iss

    revoked = ring.phic_is_revoked(cti)
    result.checks.revocation = None if revoked is None else not revoked
    if revoked:
        result.fail(Reason.CODE_REVOKED)
    return result
