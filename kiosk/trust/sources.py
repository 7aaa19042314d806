"""Reading and verifying each kind of trust list. Pure functions: bytes in, a `Source` out, or a
`TrustError` that says what is wrong. Nothing here touches the store; a list is only stored once it
has passed every check here."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from kiosk.codes import dcc
from kiosk.codes.model import Format
from kiosk.crypto.jws import JwsError, verify_compact
from kiosk.crypto.keys import (
    BadKey,
    VerifyKey,
    jwk_thumbprint,
    public_key_from_jwk,
    public_key_from_spki,
)

MAX_LIST = 64 * 1024 * 1024  # bytes; the real DSC list is 4 MB
HOUR = 3600
INT64 = 2**63  # the store keeps times and sequence numbers in 64-bit SQLite integers
# How long a list without its own expiry may be used after it was signed (policy may be stricter).
DEFAULT_VALID_HOURS = {"dsc-list": 7 * 24, "vci-snapshot": 30 * 24, "jwks": 30 * 24}


class TrustError(ValueError):
    pass


@dataclass(slots=True)
class KeyEntry:
    format: Format
    kid: bytes
    issuer: str
    spki: bytes
    alg: str
    name: str | None = None
    cert: bytes | None = None
    usages: frozenset[str] | None = None
    not_before: int | None = None
    not_after: int | None = None


@dataclass(slots=True)
class Source:
    name: str  # store key: one list of each name is in force
    format: str
    signed_at: int
    valid_until: int
    seq: int | None
    digest: str
    keys: list[KeyEntry] = field(default_factory=list)
    shc_revocations: list[tuple[str, str, int | None]] = field(default_factory=list)  # kid, rid, cutoff
    skipped: list[str] = field(default_factory=list)  # entries refused, with why


def _parse_time(text: Any, what: str) -> int:
    if not isinstance(text, str):
        raise TrustError(f"{what}: expected an ISO 8601 time, got {type(text).__name__}")
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise TrustError(f"{what}: {text!r} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp())


def _json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise TrustError(f"{what} is not valid JSON: {exc}") from None


def _check_size(data: bytes, what: str) -> None:
    if len(data) > MAX_LIST:
        raise TrustError(f"{what} is {len(data)} bytes, over the {MAX_LIST}-byte limit")
    if not data.strip():
        raise TrustError(f"{what} is empty")


def _is_text(value: Any) -> bool:
    """A str the store can write. JSON allows lone surrogate escapes ("\\udc00"); UTF-8, and so
    SQLite, does not."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.hexdigest()


# --- DCC signer list ---------------------------------------------------------------------------


def dsc_list(data: bytes, signing_key: VerifyKey, valid_hours: int | None = None) -> Source:
    """The "DSC list": line 1 is base64 of a raw P-256 r‖s signature over the rest of the file."""
    _check_size(data, "DSC list")
    first, sep, rest = data.partition(b"\n")
    if not sep or not rest:
        raise TrustError("DSC list: expected a signature line followed by the JSON list")
    try:
        signature = base64.b64decode(first.strip(), validate=True)
    except ValueError:
        raise TrustError("DSC list: the first line is not base64") from None
    if not signing_key.verify(signature, rest):
        raise TrustError(
            "DSC list: signature does not verify with the list signing key (tampered or wrong key)"
        )
    doc = _json(rest, "DSC list")
    certs = doc.get("certificates") if isinstance(doc, dict) else None
    if not isinstance(certs, list):
        raise TrustError("DSC list: no certificates array")
    source = Source("dsc-list", "dsc-list", 0, 0, None, _digest(data))
    newest = 0
    for i, entry in enumerate(certs):
        try:
            if not isinstance(entry, dict):
                raise TrustError("not an object")
            kid = base64.b64decode(entry["kid"], validate=True)
            der = base64.b64decode(entry["rawData"], validate=True)
            country = entry["country"]
            if not _is_text(country) or not (2 <= len(country) <= 3):
                raise TrustError(f"bad country {country!r}")
            newest = max(newest, _parse_time(entry.get("timestamp"), "timestamp"))
            spki = dcc.spki_from_certificate(der)
            key = public_key_from_spki(spki)
        except (TrustError, dcc.DccError, BadKey, KeyError, TypeError, ValueError) as exc:
            source.skipped.append(f"certificate {i}: {exc}")
            continue
        not_before, not_after = dcc.certificate_validity(der)
        source.keys.append(
            KeyEntry(
                Format.DCC,
                kid,
                country,
                spki,
                key.alg,
                cert=der,
                usages=dcc.certificate_usages(der),
                not_before=not_before,
                not_after=not_after,
            )
        )
    if not source.keys:
        raise TrustError("DSC list: no usable certificate")
    source.signed_at = newest
    source.valid_until = newest + (valid_hours or DEFAULT_VALID_HOURS["dsc-list"]) * HOUR
    return source


# --- SMART Health Card issuers -----------------------------------------------------------------


def _jwks_keys(jwks: Any, iss: str, name: str | None, source: Source) -> None:
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list):
        raise TrustError(f"{iss}: no keys array")
    for jwk in keys:
        try:
            if not isinstance(jwk, dict):
                raise TrustError("key is not an object")
            if jwk.get("use") not in (None, "sig") or jwk.get("alg") not in (None, "ES256"):
                raise TrustError(f"kid {jwk.get('kid')!r}: not an ES256 signing key")
            key = public_key_from_jwk(jwk)
            kid = jwk_thumbprint(jwk)
            if jwk.get("kid") != kid:
                raise TrustError(f"kid {jwk.get('kid')!r} is not the key's JWK thumbprint")
        except (TrustError, BadKey, KeyError, TypeError) as exc:
            source.skipped.append(f"{iss}: {exc}")
            continue
        source.keys.append(KeyEntry(Format.SHC, kid.encode(), iss, key.spki_der(), "ES256", name=name))


def _crl_rows(crl: Any, iss: str, source: Source) -> None:
    """A revocation list {kid, method: "rid", ctr, rids: ["rid" | "rid.cutoff"]}."""
    if not isinstance(crl, dict) or crl.get("method") != "rid" or not isinstance(crl.get("rids"), list):
        source.skipped.append(f"{iss}: revocation list is not a rid list")
        return
    kid = crl.get("kid")
    if not _is_text(kid):
        source.skipped.append(f"{iss}: revocation list without kid")
        return
    for item in crl["rids"]:
        if not _is_text(item) or not item:
            continue
        rid, _, cutoff = item.partition(".")
        # str.isdigit() also accepts "²" (int() refuses it); the store keeps 64-bit integers. A cutoff
        # that cannot be read revokes the rid outright (None), as a non-numeric one always did.
        readable = cutoff.isascii() and cutoff.isdigit() and len(cutoff) <= 18
        source.shc_revocations.append((kid, rid, int(cutoff) if readable else None))


def vci_snapshot(data: bytes, signature: bytes, certificate: bytes, valid_hours: int | None = None) -> Source:
    """The VCI issuer directory snapshot with its detached DER ECDSA signature (SHA-512) made by the key
    of `certificate` (PEM or DER)."""
    _check_size(data, "VCI snapshot")
    try:
        cert = (
            x509.load_pem_x509_certificate(certificate)
            if b"-----BEGIN" in certificate
            else x509.load_der_x509_certificate(certificate)
        )
        pub = cert.public_key()
        if not isinstance(pub, ec.EllipticCurvePublicKey):
            raise TrustError("VCI snapshot certificate does not hold an EC key")
        pub.verify(signature, data, ec.ECDSA(hashes.SHA512()))
    except InvalidSignature:
        raise TrustError(
            "VCI snapshot: signature does not verify (tampered file or wrong certificate)"
        ) from None
    except (ValueError, x509.InvalidVersion, UnsupportedAlgorithm) as exc:
        raise TrustError(f"VCI snapshot: bad certificate or signature: {exc}") from None
    doc = _json(data, "VCI snapshot")
    infos = doc.get("issuerInfo") if isinstance(doc, dict) else None
    if not isinstance(infos, list):
        raise TrustError("VCI snapshot: no issuerInfo array")
    signed_at = _parse_time(doc.get("time"), "VCI snapshot time")
    source = Source(
        "vci-snapshot",
        "vci-snapshot",
        signed_at,
        signed_at + (valid_hours or DEFAULT_VALID_HOURS["vci-snapshot"]) * HOUR,
        None,
        _digest(data, signature),
    )
    for info in infos:
        issuer = info.get("issuer") if isinstance(info, dict) else None
        iss = issuer.get("iss") if isinstance(issuer, dict) else None
        if not _is_text(iss):
            source.skipped.append("issuer entry without iss")
            continue
        name = issuer.get("name")
        _jwks_keys({"keys": info.get("keys")}, iss, name if _is_text(name) else None, source)
        crls = info.get("crls") or []
        if not isinstance(crls, list):
            source.skipped.append(f"{iss}: crls is not an array")
            continue
        for crl in crls:
            _crl_rows(crl, iss, source)
    return source


def jwks(
    data: bytes, issuer: str, crls: list[bytes] = (), now: int = 0, valid_hours: int | None = None
) -> Source:
    """One issuer's `/.well-known/jwks.json`, trusted by the operator pinning it to `issuer`, and that
    issuer's revocation lists (`/.well-known/crl/<kid>.json`)."""
    _check_size(data, "JWKS")
    if not issuer.startswith("https://") or issuer.endswith("/"):
        raise TrustError(
            "--issuer must be the issuer's https:// URL, exactly as cards carry it, without a trailing /"
        )
    source = Source(
        f"jwks:{issuer}",
        "jwks",
        now,
        now + (valid_hours or DEFAULT_VALID_HOURS["jwks"]) * HOUR,
        None,
        _digest(data, *crls),
    )
    _jwks_keys(_json(data, "JWKS"), issuer, None, source)
    if not source.keys:
        raise TrustError(f"JWKS for {issuer}: no usable ES256 key ({'; '.join(source.skipped) or 'empty'})")
    for crl in crls:
        _crl_rows(_json(crl, "revocation list"), issuer, source)
    return source


# --- PHIC issuer bundle -------------------------------------------------------------------------


def phic_bundle(data: bytes, root_key: VerifyKey) -> Source:
    """The PHIC issuer bundle: a compact JWS by the deployment root key over
    {seq, issued_at, valid_until, issuers: [{iss, name, keys: [{kid, alg, spki, not_before, not_after,
    code_types}]}]} (times as NumericDate, kid hex, spki base64)."""
    _check_size(data, "PHIC bundle")
    try:
        _, payload = verify_compact(data, root_key)
    except JwsError as exc:
        raise TrustError(f"PHIC bundle: {exc}") from None
    doc = _json(payload, "PHIC bundle")
    if not isinstance(doc, dict):
        raise TrustError("PHIC bundle: payload is not an object")
    seq, issued_at, valid_until = doc.get("seq"), doc.get("issued_at"), doc.get("valid_until")
    if not all(type(v) is int and 0 <= v < INT64 for v in (seq, issued_at, valid_until)):
        raise TrustError("PHIC bundle: seq, issued_at and valid_until must be non-negative 64-bit integers")
    if valid_until <= issued_at:
        raise TrustError("PHIC bundle: valid_until is not after issued_at")
    issuers = doc.get("issuers")
    if not isinstance(issuers, list):
        raise TrustError("PHIC bundle: no issuers array")
    source = Source("phic-bundle", "phic-bundle", issued_at, valid_until, seq, _digest(data))
    for issuer in issuers:
        try:
            if not isinstance(issuer, dict):
                raise TrustError("issuer entry is not an object")
            iss = issuer.get("iss")
            if not _is_text(iss) or not iss[:6].isdigit():
                raise TrustError(f"iss {iss!r} is not a region code")
            keys = issuer.get("keys")
            if not isinstance(keys, list):
                raise TrustError(f"{iss}: keys is not an array")
            for k in keys:
                if not isinstance(k, dict):
                    raise TrustError(f"{iss}: key entry is not an object")
                if not (isinstance(k.get("kid"), str) and isinstance(k.get("spki"), str)):
                    raise TrustError(f"{iss}: key entry needs kid (hex) and spki (base64) strings")
                spki = base64.b64decode(k["spki"], validate=True)
                key = public_key_from_spki(spki)
                kid = bytes.fromhex(k["kid"])
                if kid != hashlib.sha256(spki).digest()[:8]:
                    raise TrustError(f"kid {k['kid']} does not match its key")
                if k.get("alg", key.alg) != key.alg:
                    raise TrustError(f"kid {k['kid']}: alg {k.get('alg')} does not match the {key.alg} key")
                types = k.get("code_types")
                if types is not None and not (
                    isinstance(types, list) and all(t in ("d", "p", "a") for t in types)
                ):
                    raise TrustError(f"kid {k['kid']}: bad code_types")
                nb, na = k.get("not_before"), k.get("not_after")
                if not all(v is None or (type(v) is int and -INT64 <= v < INT64) for v in (nb, na)):
                    raise TrustError(f"kid {k['kid']}: not_before/not_after must be 64-bit integers")
                source.keys.append(
                    KeyEntry(
                        Format.PHIC,
                        kid,
                        iss,
                        spki,
                        key.alg,
                        name=issuer.get("name") if isinstance(issuer.get("name"), str) else None,
                        usages=frozenset(types) if types is not None else None,
                        not_before=nb,
                        not_after=na,
                    )
                )
        except (TrustError, BadKey, KeyError, TypeError, ValueError) as exc:
            raise TrustError(f"PHIC bundle: bad issuer entry: {exc}") from None
    return source
