"""What the store keeps: masked registrations and guard audit entries, validated on construction.

The dataclasses have no field for a raw code payload or a full ID number, and every text field is
checked on construction: a run of 15 or more digits (a mainland ID number is 15 or 18 digits; spaces
and hyphens between digits do not hide it) or a code payload prefix (`HC1:`, `PHC1:`, `shc:/`) is a
`ValueError`. Masked names and IDs must carry the mask character `*` or be too short to identify
anyone. Keyed hashes are 64 lower-case hex digits (see `kiosk.store.hashing`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

METHODS = frozenset({"code", "card", "code+card", "manual"})
FORMATS = frozenset({"phic", "dcc", "shc", "unknown"})
DECISIONS = frozenset({"pass", "deny", "refer"})
FEVER = "temperature.fever"
MASK = "*"

# Audit actions of the guard console (stable codes; other modules may add their own tokens).
AUDIT_MANUAL_OPEN = "gate.manual_open"
AUDIT_OVERRIDE_PASS = "override.pass"
AUDIT_OVERRIDE_DENY = "override.deny"
AUDIT_SILENCE = "alarm.silence"
AUDIT_EXPORT = "export"

_ID_LIKE = re.compile(r"\d(?:[ \-]?\d){14}")  # 15+ digits, single spaces/hyphens between them allowed
_PAYLOAD = re.compile(r"HC1:|shc:/", re.IGNORECASE)  # HC1: also covers PHC1:
_HASH = re.compile(r"[0-9a-f]{64}")
_TOKEN = re.compile(r"[a-z0-9][a-z0-9_.:+\-]{0,63}")  # reason codes, colours, actions

MAX_TEXT = {"issuer": 256, "masked_name": 64, "masked_id": 32, "actor": 64, "reason": 500, "detail": 2000}


def check_text(name: str, value: str, limit: int | None = None) -> str:
    """Refuse text that holds an unmasked ID number or a code payload, or is too long."""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text, not {type(value).__name__}")
    if _ID_LIKE.search(value):
        raise ValueError(
            f"{name} contains an unmasked ID number (15 or more digits): store mask_id(number) "
            "and hash_id_number(number) instead"
        )
    if _PAYLOAD.search(value):
        raise ValueError(f"{name} contains a health-code payload: store only its keyed hash (hash_code_id)")
    if limit is not None and len(value) > limit:
        raise ValueError(f"{name} is longer than {limit} characters")
    return value


def _check_token(name: str, value: str) -> str:
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise ValueError(f"{name} must be a short lower-case code such as 'temperature.fever', got {value!r}")
    return check_text(name, value)


def _check_hash(name: str, value: str | None) -> None:
    if value is not None and (not isinstance(value, str) or not _HASH.fullmatch(value)):
        raise ValueError(f"{name} must be a keyed hash (64 lower-case hex digits from hash_*), not raw data")


def check_masked_name(value: str) -> str:
    """Every word longer than one character must contain `*` (mask_name() output passes)."""
    check_text("masked_name", value, MAX_TEXT["masked_name"])
    for word in value.split():
        if len(word) > 1 and MASK not in word:
            raise ValueError(f"masked_name {value!r} is not masked: use kiosk.codes.masking.mask_name")
    return value


def check_masked_id(value: str) -> str:
    """A masked ID contains `*` or has at most four characters (mask_id() output passes)."""
    check_text("masked_id", value, MAX_TEXT["masked_id"])
    if len(value) > 4 and MASK not in value:
        raise ValueError(f"masked_id {value!r} is not masked: use kiosk.codes.masking.mask_id")
    return value


@dataclass(frozen=True, slots=True)
class Registration:
    """One checkpoint event as stored: masked, hashed, no payload.

    `ts` is UTC POSIX seconds. `seq`, `device_id` and `day` (local date, YYYY-MM-DD) are filled in
    by the store; leave them None when appending.
    """

    ts: float
    method: str
    decision: str
    reasons: tuple[str, ...] = ()
    format: str | None = None
    issuer: str | None = None
    code_id_hash: str | None = None
    id_number_hash: str | None = None
    masked_name: str | None = None
    masked_id: str | None = None
    colour: str | None = None
    temperature: float | None = None
    device_id: str | None = None
    seq: int | None = None
    day: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.ts, bool) or not isinstance(self.ts, int | float) or not math.isfinite(self.ts):
            raise ValueError(f"ts must be POSIX seconds, got {self.ts!r}")
        if self.ts < 0:
            raise ValueError("ts must not be negative")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {sorted(METHODS)}, got {self.method!r}")
        if self.decision not in DECISIONS:
            raise ValueError(f"decision must be one of {sorted(DECISIONS)}, got {self.decision!r}")
        if self.format is not None:
            if self.format not in FORMATS:
                raise ValueError(f"format must be one of {sorted(FORMATS)} or None, got {self.format!r}")
            object.__setattr__(self, "format", str(self.format))
        if isinstance(self.reasons, str):
            raise ValueError("reasons must be a list of codes, not one string")
        reasons = tuple(_check_token("reason", str(r)) for r in self.reasons)
        if len(reasons) > 32:
            raise ValueError("at most 32 reasons")
        object.__setattr__(self, "reasons", reasons)
        if self.issuer is not None:
            check_text("issuer", self.issuer, MAX_TEXT["issuer"])
        _check_hash("code_id_hash", self.code_id_hash)
        _check_hash("id_number_hash", self.id_number_hash)
        if self.masked_name is not None:
            check_masked_name(self.masked_name)
        if self.masked_id is not None:
            check_masked_id(self.masked_id)
        if self.colour is not None:
            _check_token("colour", self.colour)
        if self.temperature is not None:
            t = self.temperature
            if (
                isinstance(t, bool)
                or not isinstance(t, int | float)
                or not math.isfinite(t)
                or not -70 <= t <= 380
            ):
                raise ValueError(
                    f"temperature must be degrees Celsius in -70..380 (the sensor range) or None, got {t!r}"
                )
        if self.device_id is not None:
            check_text("device_id", self.device_id, 64)
        if self.seq is not None and (not isinstance(self.seq, int) or self.seq < 1):
            raise ValueError("seq must be a positive integer")

    @property
    def fever(self) -> bool:
        return FEVER in self.reasons


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """A guard action: who (`actor`), what (`action`, a stable code), why (`reason`)."""

    seq: int
    ts: float
    day: str
    device_id: str
    actor: str
    action: str
    reason: str
    detail: dict[str, Any] | str | None = None


@dataclass(frozen=True, slots=True)
class Counts:
    """A local day's decisions; `fever` counts registrations with the `temperature.fever` reason."""

    day: str
    total: int = 0
    passed: int = 0
    denied: int = 0
    referred: int = 0
    fever: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "total": self.total,
            "passed": self.passed,
            "denied": self.denied,
            "referred": self.referred,
            "fever": self.fever,
        }


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """Registrations deleted, old registrations kept because unsynced, audit entries deleted."""

    purged: int
    kept_unsynced: int
    audit_purged: int = 0


@dataclass(slots=True)
class _Tally:
    passed: int = 0
    denied: int = 0
    referred: int = 0
    fever: int = 0

    def add(self, decision: str, reasons: Iterable[str]) -> None:
        if decision == "pass":
            self.passed += 1
        elif decision == "deny":
            self.denied += 1
        else:
            self.referred += 1
        if FEVER in reasons:
            self.fever += 1

    def counts(self, day: str) -> Counts:
        total = self.passed + self.denied + self.referred
        return Counts(day, total, self.passed, self.denied, self.referred, self.fever)
