"""Checks shared by every signed format: key look-up, signature, validity window, trust freshness."""

from __future__ import annotations

import math

from kiosk.codes.keyring import KeyRing, TrustedKey
from kiosk.codes.model import Format, Reason, Verification
from kiosk.crypto.keys import COSE_ALGS

DEFAULT_SKEW = 300  # seconds of clock tolerance for "issued in the future"


def check_signature(
    result: Verification,
    ring: KeyRing,
    fmt: Format,
    kid: bytes | None,
    alg: str | None,
    signature: bytes,
    tbs: bytes,
) -> TrustedKey | None:
    """Try every trusted key with this kid (several certificates may share one); record the outcome."""
    candidates = ring.keys(fmt, kid)
    if not candidates:
        result.checks.key_known = False
        result.fail(Reason.KEY_UNKNOWN)
        return None
    result.checks.key_known = True
    for candidate in candidates:
        if candidate.key.alg == alg and candidate.key.verify(signature, tbs):
            result.checks.signature = True
            result.issuer = result.issuer or candidate.issuer
            return candidate
    result.checks.signature = False
    result.fail(Reason.SIGNATURE_INVALID)
    return None


def cose_alg(value: object) -> str | None:
    return COSE_ALGS.get(value) if isinstance(value, int) else None


def is_numeric_date(value: object) -> bool:
    """An int (not bool) or a finite float. NaN and ±inf (CBOR floats) are refused: int() of them
    raises, and NaN compares false both ways, so it would pass any window."""
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and math.isfinite(value)
    )


def check_window(
    result: Verification, iat: object, exp: object, now: float, skew: int = DEFAULT_SKEW
) -> None:
    """iat - skew <= now <= exp; a missing, non-numeric or non-finite date fails the window."""
    iat_ok, exp_ok = is_numeric_date(iat), is_numeric_date(exp)
    result.issued_at = int(iat) if iat_ok else None
    result.expires_at = int(exp) if exp_ok else None
    if not (iat_ok and exp_ok):
        result.checks.validity_window = False
        result.fail(Reason.PAYLOAD_INVALID)
        return
    if now > exp:
        result.checks.validity_window = False
        result.fail(Reason.CODE_EXPIRED)
    elif now < iat - skew:
        result.checks.validity_window = False
        result.fail(Reason.CODE_NOT_YET_VALID)
    else:
        result.checks.validity_window = True


def check_key_period(result: Verification, key: TrustedKey, signed_at: int | None, now: float) -> None:
    """The key must have been allowed to sign at `signed_at`, and its trust list must still be fresh."""
    when = signed_at if signed_at is not None else now
    if (key.not_before is not None and when < key.not_before) or (
        key.not_after is not None and when > key.not_after
    ):
        result.fail(Reason.KEY_NOT_AUTHORIZED)
    if key.source_valid_until is not None and now > key.source_valid_until:
        result.fail(Reason.TRUST_STALE)
