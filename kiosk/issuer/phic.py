"""Minting PHIC v1 codes (for pilots, demos and tests)."""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass

import cbor2

from kiosk.codes import cose, phic
from kiosk.codes.base45 import b45encode
from kiosk.codes.masking import mask_id, mask_name
from kiosk.crypto.keys import ALG_TO_COSE
from kiosk.issuer.keys import IssuerKey

DEFAULT_VALID_HOURS = {"d": 24, "p": 7 * 24, "a": 72}
COLOUR_CODES = {v: k for k, v in phic.COLOURS.items()}


class SignError(ValueError):
    pass


@dataclass(slots=True)
class Minted:
    text: str
    cti: bytes
    kid: bytes
    iat: int
    exp: int
    masked_name: str
    masked_id: str


def check_id_number(id_type: str, number: str) -> str:
    """Upper-cased; a resident ID card number (type 01) must carry a correct GB 11643 check digit."""
    number = number.strip().upper()
    if not number or len(number) > 32:
        raise SignError("ID number must be 1-32 characters")
    if id_type == "01":
        if len(number) != 18 or not number[:17].isdigit():
            raise SignError("resident ID number must be 17 digits and a check character")
        weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
        check = "10X98765432"[sum(int(d) * w for d, w in zip(number[:17], weights, strict=True)) % 11]
        if number[17] != check:
            raise SignError(f"resident ID number check digit is wrong (expected {check})")
    return number


def mint(
    key: IssuerKey,
    *,
    colour: str,
    name: str,
    id_number: str,
    now: int,
    code_type: str = "d",
    id_type: str = "01",
    valid_hours: float | None = None,
    not_before: int | None = None,
    vaccinations: int | None = None,
    test_result: str | None = None,
    test_at: int | None = None,
    risk_area: bool | None = None,
    cti: bytes | None = None,
) -> Minted:
    if key.role != "issuer":
        raise SignError("a root key cannot sign health codes; use an issuer key")
    if colour not in COLOUR_CODES:
        raise SignError(f"colour must be one of {', '.join(COLOUR_CODES)}")
    if code_type not in phic.CODE_TYPES:
        raise SignError(f"type must be one of {', '.join(phic.CODE_TYPES)}")
    if id_type not in phic.ID_TYPES:
        raise SignError(f"id type must be one of {', '.join(sorted(phic.ID_TYPES))}")
    number = check_id_number(id_type, id_number)
    if not name.strip():
        raise SignError("name must not be empty")
    cti = cti or os.urandom(16)
    iat = not_before if not_before is not None else now
    hours = valid_hours if valid_hours is not None else DEFAULT_VALID_HOURS[code_type]
    if hours <= 0:
        raise SignError("validity must be positive")
    exp = iat + int(hours * 3600)
    body: dict = {
        "v": "1.0",
        "t": code_type,
        "c": COLOUR_CODES[colour],
        "n": mask_name(name),
        "it": id_type,
        "im": mask_id(number),
        "ih": phic.binding(number, cti),
    }
    if vaccinations is not None:
        if not 0 <= vaccinations <= 20:
            raise SignError("vaccinations must be 0-20")
        body["vx"] = vaccinations
    if test_result is not None:
        if test_result not in ("negative", "positive") or test_at is None:
            raise SignError("a test needs --test negative|positive and --test-at")
        body["nt"] = {"r": 0 if test_result == "negative" else 1, "at": int(test_at)}
    if risk_area is not None:
        body["ra"] = risk_area
    claims = {
        phic.CLAIM_ISS: key.iss,
        phic.CLAIM_IAT: iat,
        phic.CLAIM_EXP: exp,
        phic.CLAIM_CTI: cti,
        phic.CLAIM_PHIC: body,
    }
    protected = {1: ALG_TO_COSE[key.key.alg], 4: key.kid}
    message = cose.encode_sign1(protected, cbor2.dumps(claims), key.key.sign)
    text = phic.PREFIX.decode() + b45encode(zlib.compress(message, 9))
    return Minted(text, cti, key.kid, iat, exp, body["n"], body["im"])
