"""The one result every code format decodes into.

A `Verification` says what the kiosk learned from a scanned code: which format it is, each check on
its own (so a guard can tell "genuine but unacceptable" from "forged"), stable reason codes, and only
masked holder data. The decoded claims stay in memory for the policy and are never serialised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Format(StrEnum):
    PHIC = "phic"
    DCC = "dcc"
    SHC = "shc"
    UNKNOWN = "unknown"


class Reason(StrEnum):
    """Stable reason codes: outside checks, logs and the screens key on these strings."""

    FORMAT_UNKNOWN = "format.unknown"  # not a health code at all
    DECODE_FAILED = "decode.failed"  # looks like a health code but its encoding is broken
    PAYLOAD_INVALID = "payload.invalid"  # signed content misses required fields or fails the schema
    CODE_INCOMPLETE = "code.incomplete"  # a multi-part code with parts still missing
    SIGNATURE_INVALID = "signature.invalid"
    KEY_UNKNOWN = "key.unknown"  # no trusted key has this kid
    KEY_NOT_AUTHORIZED = "key.not_authorized"  # key trusted, but not for this issuer or period
    KEY_USAGE = "key.usage"  # key trusted, but not for this type of code (DCC EKU, PHIC code types)
    CODE_EXPIRED = "code.expired"
    CODE_NOT_YET_VALID = "code.not_yet_valid"
    CODE_REVOKED = "code.revoked"
    TRUST_STALE = "trust.stale"  # the trust list that vouches for the key is past its valid-until


@dataclass(slots=True)
class Checks:
    """Each check: True passed, False failed, None not reached (its inputs were missing)."""

    decode: bool | None = None
    signature: bool | None = None
    key_known: bool | None = None
    validity_window: bool | None = None
    revocation: bool | None = None
    rules: bool | None = None

    def as_dict(self) -> dict[str, bool | None]:
        return {
            "decode": self.decode,
            "signature": self.signature,
            "key_known": self.key_known,
            "validity_window": self.validity_window,
            "revocation": self.revocation,
            "rules": self.rules,
        }


@dataclass(slots=True)
class Holder:
    """Holder fields as they may be shown and stored: masked by construction."""

    name: str | None = None
    id_type: str | None = None
    id_number: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"name": self.name, "id_type": self.id_type, "id_number": self.id_number}


@dataclass(slots=True)
class Verification:
    format: Format
    checks: Checks = field(default_factory=Checks)
    reasons: list[str] = field(default_factory=list)
    issuer: str | None = None
    kid: str | None = None
    holder: Holder = field(default_factory=Holder)
    colour: str | None = None  # PHIC: green / yellow / red
    code_type: str | None = None  # PHIC d/p/a; DCC v/t/r; SHC immunization/laboratory/...
    issued_at: int | None = None
    expires_at: int | None = None
    # In memory only, never serialised: the policy and the store need them, the screen does not.
    code_id: bytes | None = None  # PHIC cti, SHC rid: the revocation and anti-passback key
    binding: bytes | None = None  # PHIC ih: binds the code to an ID card number
    claims: dict[str, Any] | None = None

    def fail(self, reason: Reason | str) -> None:
        if reason not in self.reasons:
            self.reasons.append(str(reason))

    @property
    def valid(self) -> bool:
        """Valid only when nothing failed and every check that applies to the format passed."""
        c = self.checks
        return (
            not self.reasons
            and c.decode is True
            and c.signature is True
            and c.key_known is True
            and c.validity_window is not False
            and c.revocation is not False
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": str(self.format),
            "valid": self.valid,
            "reasons": list(self.reasons),
            "checks": self.checks.as_dict(),
            "issuer": self.issuer,
            "kid": self.kid,
            "holder": self.holder.as_dict(),
            "colour": self.colour,
            "code_type": self.code_type,
            "issued_at": self.issued_at,
            "expires_at": self.expires_at,
        }
