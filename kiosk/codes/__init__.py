"""Health codes: bytes as read from a QR symbol -> one `Verification`. Pure: no I/O, clock passed in."""

from __future__ import annotations

from kiosk.codes import dcc, phic, shc
from kiosk.codes.keyring import KeyRing, TrustedKey
from kiosk.codes.model import Checks, Format, Holder, Reason, Verification
from kiosk.codes.signed import DEFAULT_SKEW

__all__ = [
    "Checks",
    "Format",
    "Holder",
    "KeyRing",
    "Reason",
    "TrustedKey",
    "Verification",
    "detect_format",
    "verify_code",
    "MAX_INPUT",
]

MAX_INPUT = 16 * 1024  # a QR symbol holds at most 2953 bytes; a joined multi-part SHC a few times that


def _clean(data: bytes | str) -> bytes:
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    return data.strip(b" \t\r\n\x00")


def detect_format(data: bytes | str) -> Format:
    if isinstance(data, str):
        data = _clean(data)
    data = data.lstrip()
    if data.startswith(phic.PREFIX):
        return Format.PHIC
    if data.startswith(dcc.PREFIX):
        return Format.DCC
    if data.startswith(shc.PREFIX):
        return Format.SHC
    return Format.UNKNOWN


def verify_code(
    data: bytes | str,
    ring: KeyRing,
    now: float,
    *,
    skew: int = DEFAULT_SKEW,
    assembler: shc.ChunkAssembler | None = None,
) -> Verification:
    """Verify one scanned code. `now` is POSIX seconds. With an `assembler`, the parts of a
    multi-part SMART Health Card are collected across calls and the last one verifies the card."""
    data = _clean(data)
    fmt = detect_format(data)
    if fmt is Format.UNKNOWN:
        result = Verification(Format.UNKNOWN)
        result.fail(Reason.FORMAT_UNKNOWN)
        return result
    if len(data) > MAX_INPUT:
        result = Verification(fmt)
        result.checks.decode = False
        result.fail(Reason.DECODE_FAILED)
        return result
    if fmt is Format.PHIC:
        return phic.verify(data, ring, now, skew=skew)
    if fmt is Format.DCC:
        return dcc.verify(data, ring, now, skew=skew)
    if assembler is not None:
        try:
            chunk = shc.parse_chunk(data)
        except shc.ShcError:
            chunk = None
        if chunk is not None and chunk.total > 1:
            try:
                jws = assembler.add(chunk)
            except shc.ShcError:
                result = Verification(Format.SHC)
                result.checks.decode = False
                result.fail(Reason.DECODE_FAILED)
                return result
            if jws is None:
                result = Verification(Format.SHC)
                result.fail(Reason.CODE_INCOMPLETE)
                return result
            return shc.verify_jws(jws, ring, now, skew=skew)
    return shc.verify(data, ring, now, skew=skew)
