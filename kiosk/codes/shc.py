"""SMART Health Cards: `shc:/` numeric QR text -> compact JWS (ES256, raw DEFLATE payload).

Large cards are split over several QR codes `shc:/i/n/...`; `ChunkAssembler` joins them as they are
scanned, in any order. The kid is the RFC 7638 thumbprint of the issuer's JWK; revocation is by the
card's `rid` against the issuer's per-kid list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from kiosk.codes import cose
from kiosk.codes.keyring import KeyRing
from kiosk.codes.masking import mask_name
from kiosk.codes.model import Format, Holder, Reason, Verification
from kiosk.codes.signed import DEFAULT_SKEW, check_key_period, check_signature
from kiosk.crypto.keys import b64url_decode

PREFIX = b"shc:/"
HEALTH_CARD = "https://smarthealth.cards#health-card"
MAX_CHUNKS = 20
_CHUNK = re.compile(rb"shc:/(?:(\d{1,2})/(\d{1,2})/)?")


class ShcError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Chunk:
    index: int  # 1-based
    total: int
    digits: bytes


def parse_chunk(data: bytes) -> Chunk:
    m = _CHUNK.match(data)
    digits = data[m.end() :] if m else b""
    if not (digits.isdigit() and digits.isascii()):
        raise ShcError("not shc:/ numeric text")
    index, total = (int(m[1]), int(m[2])) if m[1] else (1, 1)
    if not (1 <= index <= total <= MAX_CHUNKS):
        raise ShcError(f"bad chunk numbering {index}/{total}")
    return Chunk(index, total, digits)


def _pair_table() -> np.ndarray:
    """Every two-byte digit pair, read as a little-endian uint16, -> its JWS character (255: invalid)."""
    table = np.full(65536, 255, dtype=np.uint8)
    for value in range(78):
        table[ord(str(value // 10)) | ord(str(value % 10)) << 8] = value + 45
    return table


_PAIRS = _pair_table()


def numeric_to_jws(digits: bytes) -> str:
    """Each pair of digits is one character: chr(int(pair) + 45); one table look-up per pair."""
    if len(digits) % 2:
        raise ShcError("odd number of digits")
    chars = _PAIRS.take(np.frombuffer(digits, dtype="<u2")).tobytes()
    if b"\xff" in chars:
        raise ShcError("digit pair out of range")
    return chars.decode("ascii")


def jws_to_numeric(jws: str) -> str:
    return "".join(f"{ord(ch) - 45:02d}" for ch in jws)


@dataclass(slots=True)
class ChunkAssembler:
    """Collects the chunks of one multi-part card; scanning them in any order, repeats ignored."""

    total: int = 0
    parts: dict[int, bytes] = field(default_factory=dict)

    def add(self, chunk: Chunk) -> str | None:
        """Add a chunk; return the whole JWS once every chunk is present. A chunk of a different
        total starts a new card."""
        if chunk.total != self.total:
            self.total, self.parts = chunk.total, {}
        self.parts[chunk.index] = chunk.digits
        if len(self.parts) < self.total:
            return None
        digits = b"".join(self.parts[i] for i in range(1, self.total + 1))
        self.total, self.parts = 0, {}
        return numeric_to_jws(digits)

    @property
    def missing(self) -> list[int]:
        return [i for i in range(1, self.total + 1) if i not in self.parts]


def _patient_name(bundle: Any) -> str | None:
    entries = bundle.get("entry") if isinstance(bundle, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        res = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(res, dict) and res.get("resourceType") == "Patient":
            names = res.get("name")
            if isinstance(names, list) and names and isinstance(names[0], dict):
                given = names[0].get("given") or []
                parts = [*(g for g in given if isinstance(g, str)), names[0].get("family")]
                return " ".join(p for p in parts if isinstance(p, str)) or None
    return None


def _card_type(types: list) -> str | None:
    for t in types:
        if isinstance(t, str) and t.startswith("https://smarthealth.cards#") and t != HEALTH_CARD:
            return t.split("#", 1)[1]
    return None


def verify_jws(jws: str, ring: KeyRing, now: float, *, skew: int = DEFAULT_SKEW) -> Verification:
    """Verify a compact JWS as carried by a SMART Health Card. Pure: no I/O."""
    result = Verification(Format.SHC)
    try:
        parts = jws.split(".")
        if len(parts) != 3:
            raise ShcError("not a compact JWS")
        head_b64, body_b64, sig_b64 = parts
        header = orjson.loads(b64url_decode(head_b64))
        if not isinstance(header, dict) or header.get("zip") != "DEF":
            raise ShcError("JWS header must say zip DEF")
        body = cose.inflate(b64url_decode(body_b64), raw=True)
        signature = b64url_decode(sig_b64)
    except (ShcError, cose.CoseError, ValueError, RecursionError):
        result.checks.decode = False
        result.fail(Reason.DECODE_FAILED)
        return result
    kid = header.get("kid") if isinstance(header.get("kid"), str) else None
    result.kid = kid
    alg = header.get("alg") if isinstance(header.get("alg"), str) else None
    tbs = f"{head_b64}.{body_b64}".encode("ascii")
    key = check_signature(result, ring, Format.SHC, kid.encode() if kid else None, alg, signature, tbs)

    try:
        claims = orjson.loads(body)
    except ValueError:  # orjson refuses invalid UTF-8 and nesting past 1024 levels
        claims = None
    vc = claims.get("vc") if isinstance(claims, dict) else None
    subject = vc.get("credentialSubject") if isinstance(vc, dict) else None
    types = vc.get("type") if isinstance(vc, dict) else None
    nbf = claims.get("nbf") if isinstance(claims, dict) else None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    iss = claims.get("iss") if isinstance(claims, dict) else None
    if not (
        isinstance(iss, str)
        and isinstance(nbf, int | float)
        and not isinstance(nbf, bool)
        and (exp is None or (isinstance(exp, int | float) and not isinstance(exp, bool)))
        and isinstance(types, list)
        and HEALTH_CARD in types
        and isinstance(subject, dict)
        and isinstance(subject.get("fhirBundle"), dict)
    ):
        result.checks.decode = False
        result.fail(Reason.PAYLOAD_INVALID)
        return result
    result.checks.decode = True
    result.issuer = iss
    result.code_type = _card_type(types)
    name = _patient_name(subject["fhirBundle"])
    result.holder = Holder(name=mask_name(name) if name else None)
    result.claims = {"fhirBundle": subject["fhirBundle"], "type": types}
    result.issued_at = int(nbf)
    result.expires_at = int(exp) if exp is not None else None
    if now < nbf - skew:
        result.checks.validity_window = False
        result.fail(Reason.CODE_NOT_YET_VALID)
    elif exp is not None and now > exp:
        result.checks.validity_window = False
        result.fail(Reason.CODE_EXPIRED)
    else:
        result.checks.validity_window = True

    if key is not None:
        if key.issuer != iss:
            result.fail(Reason.KEY_NOT_AUTHORIZED)
        check_key_period(result, key, int(nbf), now)
    rid = vc.get("rid")
    if isinstance(rid, str) and kid:
        result.code_id = rid.encode()
    if kid:
        revoked = (
            ring.shc_revoked(kid, rid, nbf)
            if isinstance(rid, str)
            else (False if kid in ring.shc_rids else None)
        )
        result.checks.revocation = None if revoked is None else not revoked
        if revoked:
            result.fail(Reason.CODE_REVOKED)
    return result


def verify(data: bytes, ring: KeyRing, now: float, *, skew: int = DEFAULT_SKEW) -> Verification:
    """Verify one single-chunk `shc:/` text; a part of a multi-chunk card says which parts are missing."""
    try:
        chunk = parse_chunk(data)
        if chunk.total > 1:
            result = Verification(Format.SHC)
            result.fail(Reason.CODE_INCOMPLETE)
            return result
        jws = numeric_to_jws(chunk.digits)
    except ShcError:
        result = Verification(Format.SHC)
        result.checks.decode = False
        result.fail(Reason.DECODE_FAILED)
        return result
    return verify_jws(jws, ring, now, skew=skew)
