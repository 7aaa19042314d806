"""COSE_Sign1 (RFC 9052) parsing and its signed bytes, plus capped inflate, shared by PHIC and DCC.

Built on cbor2 directly (pycose breaks with cbor2 6); the Sig_structure is assembled by hand because
it is a fixed shape and this path runs for every scanned code.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2

MAX_INFLATED = 64 * 1024  # a QR code holds < 3 kB; anything inflating past this is a bomb or junk
TAG_COSE_SIGN1 = 18
TAG_CWT = 61


class CoseError(ValueError):
    pass


def inflate(data: bytes, *, raw: bool = False, limit: int = MAX_INFLATED) -> bytes:
    """zlib (or raw DEFLATE) decompression that refuses to produce more than `limit` bytes and
    refuses truncated streams."""
    d = zlib.decompressobj(-15 if raw else 15)
    try:
        out = d.decompress(data, limit)
    except zlib.error as exc:
        raise CoseError(f"decompression failed: {exc}") from None
    if d.unconsumed_tail:
        raise CoseError(f"decompressed size exceeds the {limit}-byte limit")
    if not d.eof:
        raise CoseError("compressed data is truncated")
    return out


def _refuse_shared(decoder: Any) -> Any:
    raise cbor2.CBORDecodeError("shared references (tags 28/29) are not allowed")


# Tags 28/29 let a few bytes build a cyclic structure (a list containing itself) that anything
# walking the claims (to_json, json.dumps, rules) would recurse on forever. No health code uses them.
_NO_SHARED_REFS = {28: _refuse_shared, 29: _refuse_shared}


def loads(data: bytes) -> Any:
    """CBOR decode of untrusted bytes: any failure (including deep nesting) becomes CoseError."""
    try:
        return cbor2.loads(data, semantic_decoders=_NO_SHARED_REFS)
    except RecursionError:
        raise CoseError("CBOR nested too deeply") from None
    except Exception as exc:  # cbor2 raises many types for malformed input
        raise CoseError(f"CBOR decoding failed: {type(exc).__name__}: {exc}") from None


def _bstr_head(n: int) -> bytes:
    if n < 24:
        return bytes((0x40 | n,))
    if n < 0x100:
        return bytes((0x58, n))
    if n < 0x10000:
        return b"\x59" + n.to_bytes(2, "big")
    return b"\x5a" + n.to_bytes(4, "big")


@dataclass(slots=True)
class Sign1:
    protected_raw: bytes
    protected: Mapping
    unprotected: Mapping
    payload: bytes
    signature: bytes

    def header(self, label: int) -> Any:
        """A header parameter, protected bucket first (as verifiers must prefer it)."""
        value = self.protected.get(label)
        return self.unprotected.get(label) if value is None else value

    @property
    def alg(self) -> Any:
        return self.header(1)

    @property
    def kid(self) -> bytes | None:
        kid = self.header(4)
        return kid if isinstance(kid, bytes) else None

    def to_be_signed(self) -> bytes:
        """Sig_structure ["Signature1", protected, external_aad = b"", payload] as CBOR."""
        p, m = self.protected_raw, self.payload
        return b"\x84\x6aSignature1" + _bstr_head(len(p)) + p + b"\x40" + _bstr_head(len(m)) + m


def parse_sign1(data: bytes) -> Sign1:
    """Parse COSE_Sign1, tagged 18, untagged, or wrapped in the CWT tag 61."""
    obj = loads(data)
    if isinstance(obj, cbor2.CBORTag) and obj.tag == TAG_CWT:
        obj = obj.value
    if isinstance(obj, cbor2.CBORTag):
        if obj.tag != TAG_COSE_SIGN1:
            raise CoseError(f"CBOR tag {obj.tag} is not COSE_Sign1")
        obj = obj.value
    if not isinstance(obj, list | tuple) or len(obj) != 4:
        raise CoseError("COSE_Sign1 must be an array of four items")
    protected_raw, unprotected, payload, signature = obj
    if (
        not isinstance(protected_raw, bytes)
        or not isinstance(payload, bytes)
        or not isinstance(signature, bytes)
    ):
        raise CoseError("COSE_Sign1 protected header, payload and signature must be byte strings")
    if unprotected is None:
        unprotected = {}
    # cbor2 6 returns maps inside tags as its immutable frozendict: accept any mapping.
    if not isinstance(unprotected, Mapping):
        raise CoseError("COSE_Sign1 unprotected header must be a map")
    protected = loads(protected_raw) if protected_raw else {}
    if not isinstance(protected, Mapping):
        raise CoseError("COSE_Sign1 protected header must encode a map")
    return Sign1(protected_raw, protected, unprotected, payload, signature)


def encode_sign1(
    protected: dict, payload: bytes, sign, *, tag: bool = True, unprotected: dict | None = None
) -> bytes:
    """Build a COSE_Sign1; `sign(to_be_signed) -> signature bytes`."""
    protected_raw = cbor2.dumps(protected) if protected else b""
    msg = Sign1(protected_raw, protected, unprotected or {}, payload, b"")
    msg.signature = sign(msg.to_be_signed())
    body = [protected_raw, unprotected or {}, payload, msg.signature]
    return cbor2.dumps(cbor2.CBORTag(TAG_COSE_SIGN1, body) if tag else body)
