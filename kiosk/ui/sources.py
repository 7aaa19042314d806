"""What the screens read and write outside Qt: the sync state file, the kiosk's identity files, trust
freshness, the journal, USB mount points, the in-memory event log, thermometer calibration and the device
configuration edit.

No widget lives here and nothing here decides a visit. Every function may run on a worker thread (the
screens run the slow ones there: the journal, the trust store, writing a file); the cheap ones
(`SyncStateCache`, `EventLog`) are called from the UI thread.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import json
import logging
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.fileio import atomic_text

SYNC_STATE_FILE = "sync-state.json"
HUB_FILE = "hub.json"
SERVICE_UNIT = "healthcode-kiosk"
USB_ROOTS = ("/media", "/run/media", "/mnt")

# --- sync state (docs/hub-protocol.md "Kiosk side") ---


@dataclass(frozen=True, slots=True)
class SyncState:
    """DATA_DIR/sync-state.json as the screens show it; `present` is False before the first sync round."""

    present: bool = False
    online: bool = False
    last_attempt: float | None = None
    last_success: float | None = None
    last_error: str = ""
    clock_offset: float | None = None  # hub Date minus kiosk clock, seconds
    pending: int | None = None
    synced_seq: int | None = None
    bundle_seq: int | None = None
    status_list_seq: int | None = None
    policy_seq: int | None = None
    blocked: bool = False  # the last round needs a person (kiosk.sync.state.NEEDS_A_PERSON)
    error: str = ""  # the file exists but could not be read


def read_sync_state(data_dir: str | Path) -> SyncState:
    """The sync state through the sync client's own reader (`kiosk.sync.state.read_state`), never
    raising: no file is `present=False`; a file that does not parse says so in `error` (read_state
    alone gives an empty state for it, which would read as "never synced")."""
    from kiosk.sync.state import read_state

    path = Path(data_dir) / SYNC_STATE_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return SyncState()
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return SyncState(present=True, error=f"{path} is damaged or unreadable: {exc}")
    if not isinstance(raw, dict):
        return SyncState(present=True, error=f"{path} is damaged: not a JSON object")
    state = read_state(data_dir)
    error = state.last_error or next((e.get("message") or e.get("code") or "" for e in state.errors), "")
    return SyncState(
        present=True,
        online=state.online,
        last_attempt=state.last_attempt,
        last_success=state.last_success,
        last_error=str(error),
        clock_offset=state.clock_offset,
        pending=state.pending,
        synced_seq=state.synced_seq,
        bundle_seq=state.bundle_seq,
        status_list_seq=state.status_list_seq,
        policy_seq=state.policy_seq,
        blocked=state.blocked,
    )


class SyncStateCache:
    """`read_sync_state` at most every `every` seconds, for the status strip that asks on every tick."""

    def __init__(self, data_dir: str | Path, every: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self.data_dir = Path(data_dir)
        self.every = every
        self.clock = clock
        self._at = -math.inf
        self._state = SyncState()

    def get(self) -> SyncState:
        now = self.clock()
        if now - self._at >= self.every:
            self._at = now
            self._state = read_sync_state(self.data_dir)
        return self._state


# --- identity ---


@dataclass(frozen=True, slots=True)
class Identity:
    device_id: str | None
    site: str | None  # the site name `kiosk provision --site` wrote
    policy_site: str
    version: str
    host: str
    hub_url: str | None
    hub_device_id: str | None
    data_dir: str


def read_identity(data_dir: str | Path, policy_site: str = "") -> Identity:
    from kiosk import __version__
    from kiosk.provision import DEVICE_ID_FILE, SITE_FILE, read_name

    data_dir = Path(data_dir)
    hub: Any = {}
    try:
        hub = json.loads((data_dir / HUB_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        hub = {}
    if not isinstance(hub, dict):
        hub = {}
    return Identity(
        device_id=read_name(data_dir, DEVICE_ID_FILE),
        site=read_name(data_dir, SITE_FILE),
        policy_site=policy_site,
        version=__version__,
        host=platform.node(),
        hub_url=str(hub["url"]) if hub.get("url") else None,
        hub_device_id=str(hub["device_id"]) if hub.get("device_id") else None,
        data_dir=str(data_dir),
    )


# --- trust ---


@dataclass(frozen=True, slots=True)
class TrustRow:
    name: str
    entries: int | None
    seq: int | None
    signed_at: float | None
    valid_until: float | None
    age_hours: float | None
    freshness: str  # fresh / warning / stale
    error: str = ""


def freshness_word(
    age_hours: float | None, valid_until: float | None, now: float, warn_hours: float, max_hours: float
) -> str:
    """fresh / warning / stale, as the policy's trust_warn_age_hours and trust_max_age_hours say."""
    if age_hours is None or (valid_until is not None and now > valid_until) or age_hours > max_hours:
        return "stale"
    return "warning" if age_hours > warn_hours else "fresh"


def trust_rows(data_dir: str | Path, now: float, warn_hours: float, max_hours: float) -> list[TrustRow]:
    """Each trust list in force (TrustStore.status()) and the status list (status_list.info), with
    their freshness. Reading never creates a trust store."""
    from kiosk.trust import status_list
    from kiosk.trust.sources import TrustError
    from kiosk.trust.store import TrustStore

    data_dir = Path(data_dir)
    rows: list[TrustRow] = []
    if (data_dir / "trust.sqlite").exists():
        with TrustStore(data_dir) as store:
            for s in store.status():
                age = s.age_hours(now)
                rows.append(
                    TrustRow(
                        s.name,
                        s.entries,
                        s.seq,
                        float(s.signed_at),
                        float(s.valid_until),
                        age,
                        freshness_word(age, s.valid_until, now, warn_hours, max_hours),
                    )
                )
    try:
        info = status_list.info(data_dir)
    except (TrustError, OSError, ValueError) as exc:
        rows.append(TrustRow("status-list", None, None, None, None, None, "stale", str(exc)))
    else:
        if info is not None:
            age = (now - info.issued_at) / 3600
            rows.append(
                TrustRow(
                    "status-list",
                    info.entries + info.ctis,
                    info.seq,
                    float(info.issued_at),
                    float(info.valid_until),
                    age,
                    freshness_word(age, info.valid_until, now, warn_hours, max_hours),
                )
            )
    return rows


def import_bundle(bundle_dir: str | Path, data_dir: str | Path, now: float | None = None) -> list[tuple]:
    """`kiosk.provision.import_trust` on a USB directory (root.pem, bundle.jws, optional status list):
    the steps it reported, as (step, state, detail). Raises ProvisionError when refused."""
    from kiosk.provision import ProvisionError, Report, import_trust

    bundle_dir = Path(bundle_dir)
    if not bundle_dir.is_dir():
        raise ProvisionError(f"{bundle_dir}: not a directory")
    report = Report()
    import_trust(bundle_dir, Path(data_dir), time.time() if now is None else now, report)
    return list(report.steps)


# --- logs ---


def journal_lines(
    since: str = "1 hour ago", unit: str = SERVICE_UNIT, timeout: float = 5.0
) -> list[str] | None:
    """The unit's journal since `since`, or None when journald is not available here (no journalctl,
    not booted with systemd, no permission, or nothing logged for the unit)."""
    exe = shutil.which("journalctl")
    if exe is None or not Path("/run/systemd/system").is_dir():
        return None
    try:
        proc = subprocess.run(
            [exe, "--since", since, "-u", unit, "--no-pager", "-q", "-o", "short-iso"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        return None
    return lines


class EventLog:
    """The kiosk's own recent events (decision and actuator lines, guard actions, warnings from the
    drivers' loggers), in memory, for the technician's log screen when the journal is not there.

    Bounded three ways, whichever comes first: `max_lines`, `max_chars` of text in all (a busy kiosk's
    hour of JSON lines would otherwise hold megabytes) and `max_age` seconds (the screen shows the last
    hour). Lines longer than `LINE_CHARS` are cut."""

    LINE_CHARS = 2000

    def __init__(
        self,
        max_lines: int = 5000,
        clock: Callable[[], float] = time.time,
        tz: Any = None,
        *,
        max_chars: int = 200_000,
        max_age: float = 3600.0,
    ):
        self._lines: collections.deque[tuple[float, str]] = collections.deque()
        self._chars = 0
        self.max_lines, self.max_chars, self.max_age = max_lines, max_chars, max_age
        self._lock = threading.Lock()
        self.clock = clock
        self.tz = tz
        self._handler: logging.Handler | None = None

    def add(self, text: str, at: float | None = None) -> None:
        text = text if len(text) <= self.LINE_CHARS else text[: self.LINE_CHARS - 1] + "…"
        now = self.clock()
        with self._lock:
            lines = self._lines
            lines.append((now if at is None else at, text))
            self._chars += len(text)
            while lines and (
                len(lines) > self.max_lines
                or self._chars > self.max_chars
                or lines[0][0] < now - self.max_age
            ):
                self._chars -= len(lines.popleft()[1])

    def __len__(self) -> int:
        return len(self._lines)

    @property
    def chars(self) -> int:
        """Characters of text held now."""
        return self._chars

    def add_event(self, obj: dict) -> None:
        """A JSON line as the kiosk prints it (masked data only)."""
        self.add(json.dumps(obj, ensure_ascii=False))

    def since(self, seconds: float, now: float | None = None) -> list[str]:
        now = self.clock() if now is None else now
        with self._lock:
            items = [(at, text) for at, text in self._lines if at >= now - seconds]
        return [
            f"{dt.datetime.fromtimestamp(at, self.tz).strftime('%H:%M:%S')}  {text}" for at, text in items
        ]

    def attach_logging(self, level: int = logging.WARNING) -> None:
        """Copy log records at `level` and above (from every logger) into this log."""
        if self._handler is not None:
            return
        log = self

        class _Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                with contextlib.suppress(Exception):  # a log line must never break the caller
                    log.add(f"{record.levelname} {record.name}: {record.getMessage()}", record.created)

        self._handler = _Handler(level)
        logging.getLogger().addHandler(self._handler)

    def detach_logging(self) -> None:
        if self._handler is not None:
            logging.getLogger().removeHandler(self._handler)
            self._handler = None


# --- USB sticks ---


def _unescape_mount(path: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def usb_directories(
    roots: Iterable[str | Path] = USB_ROOTS, mounts: str | Path = "/proc/mounts"
) -> list[Path]:
    """Mounted file systems under /media, /run/media and /mnt (where USB sticks are mounted), newest
    listed last as the kernel lists them."""
    roots = [str(Path(r)) for r in roots]
    try:
        text = Path(mounts).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found: list[Path] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        point = _unescape_mount(fields[1])
        if any(point == r or point.startswith(r.rstrip("/") + "/") for r in roots) and point not in roots:
            path = Path(point)
            if path not in found:
                found.append(path)
    return found


def export_file_name(device_id: str, day: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", device_id) or "kiosk"
    return f"registrations-{safe}-{day}.csv"


# --- thermometer calibration ---

REFERENCE_RANGE = (34.0, 42.0)  # a clinical thermometer's reading of a person
MAX_SPREAD = 0.6  # °C between the lowest and highest skin reading: more, and the person moved


class CalibrationError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Calibration:
    reference: float
    skins: tuple[float, ...]
    skin: float  # the median
    spread: float
    old_offset: float
    new_offset: float

    @property
    def steady(self) -> bool:
        return self.spread <= MAX_SPREAD


def parse_reference(text: str) -> float:
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        raise CalibrationError(f"not a temperature: {text!r}") from None
    lo, hi = REFERENCE_RANGE
    if not (math.isfinite(value) and lo <= value <= hi):
        raise CalibrationError(f"{value:g} °C is outside {lo:g}-{hi:g} °C")
    return value


def calibrate_offset(reference: float, skins: Sequence[float], old_offset: float) -> Calibration:
    """The `offset` model's new offset: the reference body temperature minus the median skin reading."""
    if len(skins) < 3:
        raise CalibrationError(f"only {len(skins)} good readings (3 or more are needed)")
    skin = statistics.median(skins)
    return Calibration(
        reference=reference,
        skins=tuple(skins),
        skin=skin,
        spread=max(skins) - min(skins),
        old_offset=old_offset,
        new_offset=round(reference - skin, 2),
    )


_SECTION = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-]+)\s*\]\s*(#.*)?$")
_OFFSET = re.compile(r"^(\s*offset\s*=\s*)([^#\n]*?)(\s*#.*)?$")
_DISABLED = re.compile(r"^\s*thermometer\s*=\s*false\s*(#.*)?$")


def with_thermometer_offset(text: str, offset: float) -> str:
    """The device configuration text with `[thermometer] offset` set, everything else (comments,
    order, other keys) kept. ValueError when the result would not be a valid configuration."""
    from drivers.config import parse

    value = f"{offset:.2f}"
    lines = text.splitlines()
    if any(_DISABLED.match(line) for line in lines):
        raise ValueError("the configuration says no thermometer is fitted (thermometer = false)")
    start = next(
        (i for i, line in enumerate(lines) if (m := _SECTION.match(line)) and m[1] == "thermometer"), None
    )
    if start is None:
        body = text if text.endswith("\n") or not text else text + "\n"
        new = body + ("\n" if body.strip() else "") + f"[thermometer]\noffset = {value}\n"
    else:
        end = next((i for i in range(start + 1, len(lines)) if _SECTION.match(lines[i])), len(lines))
        for i in range(start + 1, end):
            m = _OFFSET.match(lines[i])
            if m:
                lines[i] = f"{m[1]}{value}{m[3] or ''}"
                break
        else:
            lines.insert(start + 1, f"offset = {value}")
        new = "\n".join(lines) + "\n"
    config = parse(new, "new device configuration")
    if config.thermometer is None or abs(config.thermometer.offset - float(value)) > 1e-9:
        raise ValueError("the offset could not be set in this configuration")
    from drivers.thermometer import validate

    validate(config.thermometer)
    return new


def write_atomic(path: str | Path, text: str) -> None:
    """Replace `path` by `text` in one rename (a reader sees the old or the new file, never half),
    keeping the old file's mode. OSError (e.g. PermissionError, read-only file system) when it cannot."""
    path = Path(path)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    if path.exists() and not os.access(path, os.W_OK):
        raise PermissionError(13, "Permission denied", str(path))
    with atomic_text(path, mode) as stream:
        stream.write(text)
