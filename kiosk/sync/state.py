"""The kiosk's sync files in the data directory: `hub.json`, `sync-state.json` and atomic writes.

`hub.json` is written once at enrolment and names the hub this kiosk talks to. `sync-state.json` is
rewritten (atomically: temp file, fsync, rename) after every sync round for the screens and `kiosk
status`; it is advisory (the registration database is the truth for the outbox), so a missing or damaged
file reads as an empty state, never as an error.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kiosk.fileio import write_atomic

HUB_FILE = "hub.json"
STATE_FILE = "sync-state.json"
KEY_FILE = "device-key.pem"
POLICY_FILE = "hub-policy.toml"
MAX_STATE = 1 << 20  # a state file is a few hundred bytes; anything much larger is not ours


class NotEnrolled(Exception):
    """The data directory has no (usable) `hub.json`: run `kiosk sync enroll` first."""


# --- hub.json -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HubConfig:
    """What enrolment recorded: the hub's URL, this device's id there, when and for which site."""

    url: str
    device_id: str
    enrolled_at: Any = None
    site: str | None = None
    root_fingerprint: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def blocked(self) -> bool:
        """The last round failed in a way that needs a person (`NEEDS_A_PERSON`): the status strip says
        so, since registrations may not reach the hub however long the kiosk waits."""
        return any(e.get("code") in NEEDS_A_PERSON for e in self.errors)


def write_hub(data_dir: str | os.PathLike, hub: HubConfig) -> None:
    data = json.dumps(hub.as_dict(), ensure_ascii=False, indent=1).encode() + b"\n"
    write_atomic(Path(data_dir) / HUB_FILE, data, 0o644)


def read_hub(data_dir: str | os.PathLike) -> HubConfig:
    """The enrolment record; NotEnrolled with what to do when it is missing or damaged."""
    path = Path(data_dir) / HUB_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise NotEnrolled(
            f"{path} does not exist: this kiosk is not enrolled with a hub "
            "(kiosk sync enroll --hub URL --code CODE)"
        ) from None
    except OSError as exc:
        raise NotEnrolled(f"cannot read {path}: {exc.strerror}") from None
    try:
        doc = json.loads(raw[:MAX_STATE])
    except (ValueError, RecursionError):
        doc = None
    if not isinstance(doc, dict):
        raise NotEnrolled(f"{path} is damaged (not a JSON object): enrol again")
    url, device = doc.get("url"), doc.get("device_id")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise NotEnrolled(f"{path}: url must be an http(s) URL, got {url!r}")
    if not isinstance(device, str) or not device:
        raise NotEnrolled(f"{path}: device_id is missing")
    site = doc.get("site")
    fingerprint = doc.get("root_fingerprint")
    return HubConfig(
        url=url,
        device_id=device,
        enrolled_at=doc.get("enrolled_at"),
        site=site if isinstance(site, str) else None,
        root_fingerprint=fingerprint if isinstance(fingerprint, str) else None,
    )


# --- sync-state.json ------------------------------------------------------------------------------------


# Errors that retrying does not mend: a person has to act (the hub refuses this kiosk or its rows, the
# kiosk is not set up). Network trouble, timeouts and hub errors are only "offline" and mend themselves.
NEEDS_A_PERSON = frozenset(
    {
        "auth",
        "device.revoked",
        "not_enrolled",
        "trust.no_root",
        "config",
        "policy.wrong_site",
        "push.refused",
        "push.gap",
        "push.ack_invalid",
        "push.ack_unsigned",
    }
)


@dataclass(slots=True)
class SyncState:
    """One row of facts about the last sync rounds (docs/hub-protocol.md, "Kiosk side")."""

    last_attempt: float | None = None
    last_success: float | None = None
    last_error: str | None = None
    clock_offset: float | None = None  # hub Date minus kiosk clock, seconds
    pending: int | None = None
    synced_seq: int | None = None
    bundle_seq: int | None = None
    status_list_seq: int | None = None
    policy_seq: int | None = None
    online: bool = False
    failures: int = 0  # consecutive rounds with an error
    errors: list[dict[str, str]] = field(default_factory=list)  # of the last round: step, code, message
    etags: dict[str, dict[str, Any]] = field(default_factory=dict)  # what -> {"etag", "seq"}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def blocked(self) -> bool:
        """The last round failed in a way that needs a person (`NEEDS_A_PERSON`): the status strip says
        so, since registrations may not reach the hub however long the kiosk waits."""
        return any(e.get("code") in NEEDS_A_PERSON for e in self.errors)


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


def _from_dict(doc: dict[str, Any]) -> SyncState:
    """Every field checked: a hand-edited or half-written file yields defaults, never a crash."""
    error = doc.get("last_error")
    errors = doc.get("errors")
    etags = doc.get("etags")
    clean_errors = (
        [
            {k: str(v)[:500] for k, v in e.items() if k in ("step", "code", "message")}
            for e in errors
            if isinstance(e, dict)
        ][:20]
        if isinstance(errors, list)
        else []
    )
    clean_etags: dict[str, dict[str, Any]] = {}
    if isinstance(etags, dict):
        for what, tag in etags.items():
            if (
                isinstance(what, str)
                and isinstance(tag, dict)
                and isinstance(tag.get("etag"), str)
                and len(tag["etag"]) <= 512
            ):
                clean_etags[what] = {"etag": tag["etag"], "seq": _int(tag.get("seq"))}
    return SyncState(
        last_attempt=_num(doc.get("last_attempt")),
        last_success=_num(doc.get("last_success")),
        last_error=error[:2000] if isinstance(error, str) else None,
        clock_offset=_num(doc.get("clock_offset")),
        pending=_int(doc.get("pending")),
        synced_seq=_int(doc.get("synced_seq")),
        bundle_seq=_int(doc.get("bundle_seq")),
        status_list_seq=_int(doc.get("status_list_seq")),
        policy_seq=_int(doc.get("policy_seq")),
        online=doc.get("online") is True,
        failures=max(0, _int(doc.get("failures")) or 0),
        errors=clean_errors,
        etags=clean_etags,
    )


def read_state(data_dir: str | os.PathLike) -> SyncState:
    """The last written state; an empty one when the file is missing, unreadable or damaged."""
    try:
        with open(Path(data_dir) / STATE_FILE, "rb") as f:
            raw = f.read(MAX_STATE + 1)
    except OSError:
        return SyncState()
    if len(raw) > MAX_STATE:
        return SyncState()
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return SyncState()
    return _from_dict(doc) if isinstance(doc, dict) else SyncState()


def write_state(data_dir: str | os.PathLike, state: SyncState) -> None:
    data = json.dumps(state.as_dict(), ensure_ascii=False, indent=1, allow_nan=False).encode() + b"\n"
    write_atomic(Path(data_dir) / STATE_FILE, data, 0o644)
