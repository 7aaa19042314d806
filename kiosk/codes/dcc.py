"""EU Digital COVID Certificate: `HC1:` + Base45(zlib(COSE_Sign1(CWT with hcert))).

Each step is a function of its own so the conformance runner can judge them one by one, as the EU
test suite does; `verify` chains them for the kiosk.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import warnings
from collections.abc import Mapping
from importlib import resources
from typing import Any

import jsonschema_rs
from cryptography import x509

from kiosk.codes import cose
from kiosk.codes.base45 import Base45Error, b45decode
from kiosk.codes.keyring import KeyRing, TrustedKey
from kiosk.codes.masking import mask_name
from kiosk.codes.model import Format, Holder, Reason, Verification
from kiosk.codes.signed import DEFAULT_SKEW, check_signature, check_window, cose_alg
from kiosk.crypto.keys import BadKey, public_key_from_spki

PREFIX = b"HC1:"
CLAIM_ISS, CLAIM_EXP, CLAIM_IAT, CLAIM_HCERT = 1, 4, 6, -260
# Payload `ver` -> bundled combined schema, as the EU suite's harness chooses (1.0.1 and 1.2.0 are not
# published as separate files: the nearest earlier release stands in). Unknown versions: the newest.
SCHEMAS = {
    "1.0.0": "DGC.combined-schema-1.0.0.json",
    "1.0.1": "DGC.combined-schema-1.0.0.json",
    "1.1.0": "DGC.combined-schema-1.1.0.json",
    "1.2.0": "DGC.combined-schema-1.1.0.json",
    "1.2.1": "DCC.combined-schema-1.2.1.json",
    "1.3.0": "DCC.combined-schema-1.3.0.json",
    "1.3.1": "DCC.combined-schema-1.3.0.json",
    "1.3.2": "DCC.combined-schema-1.3.2.json",
}
NEWEST_SCHEMA = "DCC.combined-schema-1.3.2.json"
# Extended key usage OIDs that restrict a signer to certificate types. The spec also printed a variant
# with an extra ".0" arc and some countries issued it, so both count.
EKU_TYPES = {
    "1.3.6.1.4.1.1847.2021.1.1": "t",
    "1.3.6.1.4.1.1847.2021.1.2": "v",
    "1.3.6.1.4.1.1847.2021.1.3": "r",
    "1.3.6.1.4.1.0.1847.2021.1.1": "t",
    "1.3.6.1.4.1.0.1847.2021.1.2": "v",
    "1.3.6.1.4.1.0.1847.2021.1.3": "r",
}


class DccError(ValueError):
    pass


# --- the decoding chain, one step each -------------------------------------------------------


def unprefix(data: bytes) -> bytes:
    if not data.startswith(PREFIX):
        raise DccError("missing HC1: prefix")
    return data[len(PREFIX) :]


def decompress(data: bytes) -> bytes:
    """zlib with a size cap. Data that is not zlib at all (no 0x78 header) is taken as uncompressed
    COSE, as the specification allows and the reference verifiers do."""
    if data[:1] != b"\x78":
        return data
    return cose.inflate(data)


def decode_chain(data: bytes) -> cose.Sign1:
    try:
        return cose.parse_sign1(decompress(b45decode(unprefix(data))))
    except (DccError, Base45Error, cose.CoseError) as exc:
        raise DccError(str(exc)) from None


def hcert(msg: cose.Sign1) -> tuple[dict, dict]:
    """(CWT claims, the DCC JSON object) from the COSE payload; raise DccError if malformed."""
    claims = cose.loads(msg.payload)
    if not isinstance(claims, dict):
        raise DccError("CWT payload is not a map")
    hc = claims.get(CLAIM_HCERT)
    dcc = hc.get(1) if isinstance(hc, dict) else None
    if not isinstance(dcc, dict):
        raise DccError("no hcert/1 claim")
    return claims, dcc


def to_json(value: Any) -> Any:
    """CBOR-decoded values as JSON values (dates as ISO strings, byte strings as base64)."""
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


@functools.cache
def _validator(filename: str) -> Any:
    text = resources.files("kiosk").joinpath(f"data/dcc-schema/{filename}").read_text()
    # Formats are not asserted, as in the EU reference harness: the schemas' patterns carry the rules.
    return jsonschema_rs.validator_for(json.loads(text), validate_formats=False)


def schema_errors(dcc: Any) -> list[str]:
    """Schema violations of a DCC payload, judged by the schema of its own `ver`. Plain JSON values
    are validated as they are; CBOR-only values (dates, byte strings, integer keys) go through
    `to_json` first."""
    ver = dcc.get("ver") if isinstance(dcc, Mapping) else None
    if not isinstance(ver, str):
        return ["no ver"]
    validator = _validator(SCHEMAS.get(ver, NEWEST_SCHEMA))
    try:
        try:
            if validator.is_valid(dcc):  # the common case, without building error objects
                return []
        except ValueError:  # a value JSON has no type for
            dcc = to_json(dcc)
        return [e.message for e in validator.iter_errors(dcc)][:5]
    except (ValueError, TypeError, RecursionError) as exc:
        return [str(exc)]


def cert_type(dcc: dict) -> str | None:
    """'v', 't' or 'r' when exactly one non-empty group is present."""
    kinds = [k for k in ("v", "t", "r") if isinstance(dcc.get(k), list) and dcc[k]]
    return kinds[0] if len(kinds) == 1 else None


# --- signer certificates ----------------------------------------------------------------------


def _der_items(der: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(tag, item start, content start, content end) of each DER item in der[start:end]."""
    items = []
    pos = start
    while pos < end:
        item_start = pos
        tag = der[pos]
        length = der[pos + 1]
        pos += 2
        if length & 0x80:
            n = length & 0x7F
            if n == 0 or n > 4:
                raise DccError("bad DER length")
            length = int.from_bytes(der[pos : pos + n], "big")
            pos += n
        if pos + length > end:
            raise DccError("truncated DER")
        items.append((tag, item_start, pos, pos + length))
        pos += length
    return items


def spki_from_certificate(der: bytes) -> bytes:
    """The SubjectPublicKeyInfo of an X.509 certificate, found by walking the DER by hand: some
    real signer certificates (negative serials, odd extensions) are refused by strict parsers."""
    try:
        ((_, _, cs, ce),) = _der_items(der, 0, len(der))
        _, _, ts, te = _der_items(der, cs, ce)[0]
        fields = _der_items(der, ts, te)
        if fields[0][0] == 0xA0:  # explicit version
            fields = fields[1:]
        _, start, _, end = fields[5]  # serial, signature alg, issuer, validity, subject, spki
    except (IndexError, ValueError) as exc:
        raise DccError(f"not a certificate: {exc}") from None
    return der[start:end]


def _load_certificate(der: bytes) -> x509.Certificate:
    with warnings.catch_warnings():  # real signer certificates with negative serials still load
        warnings.simplefilter("ignore")
        return x509.load_der_x509_certificate(der)


def certificate_usages(der: bytes) -> frozenset[str] | None:
    """Certificate types the signer may sign per its EKU, or None when unrestricted or unreadable."""
    try:
        cert = _load_certificate(der)
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except Exception:  # unparsable certificate or no EKU: treated as "no EKU"
        return None
    usages = frozenset(EKU_TYPES[o.dotted_string] for o in eku if o.dotted_string in EKU_TYPES)
    return usages or None


def certificate_validity(der: bytes) -> tuple[int | None, int | None]:
    """(notBefore, notAfter) as POSIX seconds, or Nones when the certificate does not parse."""
    try:
        cert = _load_certificate(der)
        return int(cert.not_valid_before_utc.timestamp()), int(cert.not_valid_after_utc.timestamp())
    except Exception:
        return None, None


def trusted_key_from_certificate(
    der: bytes, kid: bytes, country: str, source: str = "", valid_until: int | None = None
) -> TrustedKey:
    try:
        key = public_key_from_spki(spki_from_certificate(der))
    except BadKey as exc:
        raise DccError(str(exc)) from None
    not_before, not_after = certificate_validity(der)
    return TrustedKey(
        Format.DCC, kid, key, country, source, not_before, not_after, certificate_usages(der), valid_until
    )


# --- the kiosk's verification -------------------------------------------------------------------


def holder_name(dcc: dict) -> str | None:
    nam = dcc.get("nam")
    if not isinstance(nam, dict):
        return None
    parts = [nam.get("gnt") or nam.get("gn"), nam.get("fnt") or nam.get("fn")]
    text = " ".join(p for p in parts if isinstance(p, str) and p)
    return mask_name(text.replace("<", " ")) if text else None


def verify(data: bytes, ring: KeyRing, now: float, *, skew: int = DEFAULT_SKEW) -> Verification:
    """Verify an HC1 text's bytes. Pure: no I/O."""
    try:
        msg = decode_chain(data)
    except DccError:
        result = Verification(Format.DCC)
        result.checks.decode = False
        result.fail(Reason.DECODE_FAILED)
        return result
    return verify_message(msg, ring, now, skew=skew)


def verify_message(msg: cose.Sign1, ring: KeyRing, now: float, *, skew: int = DEFAULT_SKEW) -> Verification:
    """Every check on a parsed COSE_Sign1, each on its own: a bad payload does not hide the signature
    result, and a bad schema does not hide the validity window."""
    result = Verification(Format.DCC)
    kid = msg.kid
    result.kid = base64.b64encode(kid).decode() if kid else None
    key = check_signature(result, ring, Format.DCC, kid, cose_alg(msg.alg), msg.signature, msg.to_be_signed())
    try:
        claims, dcc = hcert(msg)
    except (DccError, cose.CoseError):
        result.checks.decode = False
        result.fail(Reason.PAYLOAD_INVALID)
        return result
    kind = cert_type(dcc)
    result.checks.decode = kind is not None and not schema_errors(dcc)
    if not result.checks.decode:
        result.fail(Reason.PAYLOAD_INVALID)
    result.code_type = kind
    iss = claims.get(CLAIM_ISS)
    if isinstance(iss, str):
        result.issuer = iss
    elif CLAIM_ISS in claims:  # optional, but when present the issuing country as text
        result.checks.decode = False
        result.fail(Reason.PAYLOAD_INVALID)
    result.holder = Holder(name=holder_name(dcc))
    result.claims = dcc
    iat, exp = claims.get(CLAIM_IAT), claims.get(CLAIM_EXP)
    check_window(result, iat, exp, now, skew)
    # Key usage and the signer's period are judged against the verified key or, when the signature
    # failed, against the certificate(s) the kid names: a bad signature does not hide them either.
    signers = [key] if key is not None else ring.keys(Format.DCC, kid)
    if signers and all(k.usages is not None and kind not in k.usages for k in signers):
        result.fail(Reason.KEY_USAGE)
    # The signer certificate must cover the code's whole life (as the EU reference harness checks),
    # compared unrounded: a fractional exp just past notAfter is outside it.
    if (
        signers
        and result.checks.validity_window
        and not any(
            (k.not_before is None or k.not_before <= iat) and (k.not_after is None or exp <= k.not_after)
            for k in signers
        )
    ):
        result.checks.validity_window = False
        result.fail(Reason.KEY_NOT_AUTHORIZED)
    if key is not None and key.source_valid_until is not None and now > key.source_valid_until:
        result.fail(Reason.TRUST_STALE)
    return result
