"""The registration store: `registrations.sqlite` in the data directory.

Durability: WAL with `synchronous=FULL`; every `append()` and `audit()` is one INSERT in autocommit
mode, i.e. its own transaction, and SQLite commits (and fsyncs the WAL) before the call returns. So
when `append()` returns a seq the row survives a crash or a power cut; when it raises, nothing was
stored and the caller must not open the gate as if it had been.

Sequence: each row gets the next per-device `seq` inside the same INSERT statement
(`MAX(seq) + 1`, never below the synced watermark, so purging old rows never lets a seq be reused).
Writers from several processes are serialised by SQLite's write lock, so there are no gaps and no
duplicates even with a sync process or a CLI writing at the same time. A data directory belongs to
one device: opening it with another device id is refused.

Outbox: the unsynced rows are the ones above the watermark `synced_seq` that `mark_synced()` moves
forward (the hub answers with the highest contiguous seq it stored).

Retention (`purge`): registrations older than `days` are deleted only if synced; old unsynced rows
are kept and counted. Audit entries are never sent to the hub; they hold no traveller data (the same
text checks apply) and have their own, longer retention (`audit_days`, default 365).

Reads (counts, exports, the outbox) use a second connection, so a long export never delays an append.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from kiosk.fileio import atomic_text, fsync_dir
from kiosk.store.hashing import KeyedHasher
from kiosk.store.model import (
    AUDIT_EXPORT,
    MAX_TEXT,
    AuditEntry,
    Counts,
    PurgeResult,
    Registration,
    _check_token,
    _Tally,
    check_text,
)

DB_FILE = "registrations.sqlite"
DEFAULT_TZ = "Asia/Shanghai"
DEFAULT_RETENTION_DAYS = 28
DEFAULT_AUDIT_DAYS = 365
SCHEMA_VERSION = 1
_PURGE_BATCH = 2000

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS meta (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        device_id TEXT NOT NULL,
        synced_seq INTEGER NOT NULL DEFAULT 0,
        version INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS registrations (
        seq INTEGER PRIMARY KEY,
        device_id TEXT NOT NULL,
        ts REAL NOT NULL,
        day TEXT NOT NULL,
        method TEXT NOT NULL,
        format TEXT,
        issuer TEXT,
        code_id_hash TEXT,
        id_number_hash TEXT,
        masked_name TEXT,
        masked_id TEXT,
        colour TEXT,
        temperature REAL,
        decision TEXT NOT NULL,
        reasons TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS registrations_by_day ON registrations(day)",
    """CREATE TABLE IF NOT EXISTS audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        device_id TEXT NOT NULL,
        ts REAL NOT NULL,
        day TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        reason TEXT NOT NULL,
        detail TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS audit_by_day ON audit(day)",
)

_COLUMNS = (
    "seq, device_id, ts, day, method, format, issuer, code_id_hash, id_number_hash, masked_name, "
    "masked_id, colour, temperature, decision, reasons"
)
# The seq is computed inside the INSERT: one statement, one transaction, no extra query. (VALUES with
# scalar subqueries, not INSERT ... SELECT, which would stage the row in an ephemeral table.)
_INSERT = (
    f"INSERT INTO registrations ({_COLUMNS}) VALUES ("
    "(SELECT MAX(COALESCE((SELECT MAX(seq) FROM registrations), 0), synced_seq) + 1 FROM meta WHERE id = 1), "
    "(SELECT device_id FROM meta WHERE id = 1), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_AUDIT = (
    "INSERT INTO audit (device_id, ts, day, actor, action, reason, detail) "
    "SELECT device_id, ?, ?, ?, ?, ?, ? FROM meta WHERE id = 1"
)
_SELECT = f"SELECT {_COLUMNS} FROM registrations"

AUDIT_FIELDS = ("seq", "device_id", "time_utc", "time_local", "actor", "action", "reason", "detail")
EXPORT_FIELDS = (
    "seq",
    "device_id",
    "time_utc",
    "time_local",
    "method",
    "format",
    "issuer",
    "masked_name",
    "masked_id",
    "colour",
    "temperature_c",
    "decision",
    "reasons",
)


def open_connection(path: Path, busy_timeout: float = 5.0) -> sqlite3.Connection:
    """A connection in autocommit mode with WAL and synchronous=FULL (also used by the benchmark)."""
    db = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout, check_same_thread=False)
    mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if mode.lower() != "wal":
        db.close()
        raise OSError(f"{path}: cannot use WAL journal mode (got {mode}); is the file system local?")
    db.execute("PRAGMA synchronous=FULL")
    return db


def _private_files(path: Path) -> None:
    """Create the database 0600 (SQLite gives its -wal and -shm files the same mode); tighten old files."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if p.stat().st_mode & 0o077:
                os.chmod(p, 0o600)
        except FileNotFoundError:
            pass


def _day_text(day: str | dt.date) -> str:
    if isinstance(day, dt.date):
        return day.isoformat()
    try:
        parsed = dt.date.fromisoformat(day)
    except (TypeError, ValueError):
        raise ValueError(f"day must be a date or YYYY-MM-DD, got {day!r}") from None
    return parsed.isoformat()


def _row_to_registration(row: tuple) -> Registration:
    seq, device_id, ts, day, method, fmt, issuer, ch, ih, name, mid, colour, temp, decision, reasons = row
    return Registration(
        ts=ts,
        method=method,
        decision=decision,
        reasons=tuple(reasons.split()),
        format=fmt,
        issuer=issuer,
        code_id_hash=ch,
        id_number_hash=ih,
        masked_name=name,
        masked_id=mid,
        colour=colour,
        temperature=temp,
        device_id=device_id,
        seq=seq,
        day=day,
    )


def _write_to(out: str | Path | IO[str], write: Callable[[IO[str]], Any]) -> Any:
    """`write(stream)` into `out`: a path (written atomically, mode 0600) or an open text stream."""
    if not isinstance(out, str | Path):
        return write(out)
    with atomic_text(out, 0o600, newline="") as stream:
        return write(stream)


def _csv_cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas in text cells (a name could start with '=')."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


class RegistrationStore:
    """Durable registrations, the sync outbox, the guard audit log, retention and daily exports."""

    def __init__(
        self,
        data_dir: str | Path,
        device_id: str,
        *,
        tz: str | dt.tzinfo = DEFAULT_TZ,
        busy_timeout: float = 5.0,
    ):
        if not isinstance(device_id, str) or not device_id.strip():
            raise ValueError("device_id is required")
        check_text("device_id", device_id, 64)
        self.device_id = device_id
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.data_dir / DB_FILE
        self.tz: dt.tzinfo = ZoneInfo(tz) if isinstance(tz, str) else tz
        self._hasher = KeyedHasher.for_data_dir(self.data_dir)
        self._busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._rlock = threading.Lock()
        self._ro: sqlite3.Connection | None = None
        self._day_cache: tuple[float, float, str] = (0.0, 0.0, "")  # [lo, hi) -> day, swapped atomically
        _private_files(self.path)
        self._db = open_connection(self.path, busy_timeout)
        try:
            self._init_schema()
        except BaseException:
            self._db.close()
            raise
        fsync_dir(self.data_dir)
        self._cur = self._db.cursor()

    def _init_schema(self) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA:
                db.execute(statement)
            row = db.execute("SELECT device_id, version FROM meta WHERE id = 1").fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO meta (id, device_id, synced_seq, version) VALUES (1, ?, 0, ?)",
                    (self.device_id, SCHEMA_VERSION),
                )
            elif row[0] != self.device_id:
                raise ValueError(
                    f"{self.path} belongs to device {row[0]!r}, not {self.device_id!r}: sync and archive "
                    "that data directory before re-provisioning the kiosk with a new device id"
                )
            elif row[1] > SCHEMA_VERSION:
                raise ValueError(f"{self.path}: schema version {row[1]} is newer than this program")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # --- lifecycle ----------------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock, self._rlock:
            if self._ro is not None:
                self._ro.close()
                self._ro = None
            self._db.close()

    def __enter__(self) -> RegistrationStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _reader(self) -> sqlite3.Connection:
        if self._ro is None:
            self._ro = sqlite3.connect(
                self.path, isolation_level=None, timeout=self._busy_timeout, check_same_thread=False
            )
            self._ro.execute("PRAGMA query_only=ON")
        return self._ro

    def checkpoint(self) -> None:
        """Copy the WAL into the database file now (e.g. while the kiosk is idle)."""
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def integrity_check(self) -> str:
        """'ok', or SQLite's description of the damage."""
        with self._rlock:
            rows = self._reader().execute("PRAGMA integrity_check").fetchall()
        return "\n".join(r[0] for r in rows)

    # --- hashing and days ---------------------------------------------------------------------------

    def hash_code_id(self, code_id: bytes) -> str:
        """Keyed hash (HMAC-SHA256, per-device key) of a code identifier."""
        return self._hasher.hash_code_id(code_id)

    def hash_id_number(self, number: str) -> str:
        """Keyed hash of an ID number (upper-cased first)."""
        return self._hasher.hash_id_number(number)

    def day_of(self, ts: float) -> str:
        """The kiosk's local date (YYYY-MM-DD) at POSIX time `ts`."""
        lo, hi, cached = self._day_cache
        if lo <= ts < hi:
            return cached
        local = dt.datetime.fromtimestamp(ts, self.tz)
        day = local.date()
        lo = dt.datetime.combine(day, dt.time(0), tzinfo=self.tz).timestamp()
        hi = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=self.tz).timestamp()
        if hi - lo == 86400 and lo <= ts < hi:  # cache plain days only; DST days are computed each time
            self._day_cache = (lo, hi, day.isoformat())
        return day.isoformat()

    def today(self, now: float | None = None) -> str:
        return self.day_of(time.time() if now is None else now)

    # --- writes -------------------------------------------------------------------------------------

    def append(self, reg: Registration) -> int:
        """Store one registration durably (committed and fsynced on return); returns its seq."""
        if not isinstance(reg, Registration):  # only validated dataclasses reach the database
            raise TypeError("append() takes a Registration")
        if reg.seq is not None:
            raise ValueError(f"registration already stored (seq {reg.seq}); append a new one")
        if reg.device_id is not None and reg.device_id != self.device_id:
            raise ValueError(f"registration of device {reg.device_id!r} appended to {self.device_id!r}")
        day = self.day_of(reg.ts)
        if reg.day is not None and reg.day != day:
            raise ValueError(f"day {reg.day!r} does not match ts (local day {day})")
        params = (
            reg.ts,
            day,
            reg.method,
            reg.format,
            reg.issuer,
            reg.code_id_hash,
            reg.id_number_hash,
            reg.masked_name,
            reg.masked_id,
            reg.colour,
            reg.temperature,
            reg.decision,
            " ".join(reg.reasons),
        )
        with self._lock:
            cur = self._cur
            cur.execute(_INSERT, params)
            return cur.lastrowid  # type: ignore[return-value]

    def audit(
        self,
        actor: str,
        action: str,
        reason: str,
        detail: dict[str, Any] | str | None = None,
        *,
        now: float | None = None,
    ) -> int:
        """Record a guard's or technician's action durably; returns the audit entry's seq.

        `actor` (who) and `reason` (why) are required; `action` is a stable code such as
        `gate.manual_open`, `override.pass`, `override.deny`, `alarm.silence`, `export`, and the
        technician's `trust.import`, `trust.import_failed`, `calibration.save`.
        """
        if not isinstance(actor, str) or not actor.strip():
            raise ValueError("audit: actor is required")
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError("audit: reason is required")
        check_text("actor", actor, MAX_TEXT["actor"])
        check_text("reason", reason, MAX_TEXT["reason"])
        _check_token("action", action)
        detail_text = None
        if detail is not None:
            if not isinstance(detail, dict | str):
                raise ValueError("audit: detail must be a dict, a string or None")
            detail_text = json.dumps(detail, ensure_ascii=False, sort_keys=True)
            check_text("detail", detail_text, MAX_TEXT["detail"])
        ts = time.time() if now is None else float(now)
        params = (ts, self.day_of(ts), actor.strip(), action, reason.strip(), detail_text)
        with self._lock:
            cur = self._cur
            cur.execute(_INSERT_AUDIT, params)
            return cur.lastrowid  # type: ignore[return-value]

    def mark_synced(self, up_to_seq: int) -> int:
        """The hub stored every seq up to `up_to_seq`: move the watermark (never back). Returns it."""
        if isinstance(up_to_seq, bool) or not isinstance(up_to_seq, int) or up_to_seq < 0:
            raise ValueError("up_to_seq must be a non-negative integer")
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                synced = db.execute("SELECT synced_seq FROM meta WHERE id = 1").fetchone()[0]
                last = max(
                    db.execute("SELECT COALESCE(MAX(seq), 0) FROM registrations").fetchone()[0], synced
                )
                if up_to_seq > last:
                    raise ValueError(
                        f"hub acknowledged seq {up_to_seq} but device {self.device_id!r} appended only "
                        f"up to {last}: is the hub mixing up two devices?"
                    )
                if up_to_seq > synced:
                    db.execute("UPDATE meta SET synced_seq = ? WHERE id = 1", (up_to_seq,))
                    synced = up_to_seq
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return synced

    def purge(
        self,
        now: float,
        days: int = DEFAULT_RETENTION_DAYS,
        *,
        audit_days: int = DEFAULT_AUDIT_DAYS,
    ) -> PurgeResult:
        """Delete synced registrations older than `days` and audit entries older than `audit_days`.

        Unsynced registrations are never deleted; `kept_unsynced` counts the old ones still waiting
        for the hub, so the caller can raise an alarm. Works in batches so appends are not held up.
        """
        if days < 1 or audit_days < 1:
            raise ValueError("retention must be at least one day")
        cutoff = now - days * 86400
        audit_cutoff = now - audit_days * 86400
        purged = audit_purged = 0
        while True:
            with self._lock:
                n = self._db.execute(
                    "DELETE FROM registrations WHERE seq IN (SELECT seq FROM registrations "
                    "WHERE seq <= (SELECT synced_seq FROM meta WHERE id = 1) AND ts < ? ORDER BY seq LIMIT ?)",
                    (cutoff, _PURGE_BATCH),
                ).rowcount
            purged += n
            if n < _PURGE_BATCH:
                break
        while True:
            with self._lock:
                n = self._db.execute(
                    "DELETE FROM audit WHERE seq IN (SELECT seq FROM audit WHERE ts < ? ORDER BY seq LIMIT ?)",
                    (audit_cutoff, _PURGE_BATCH),
                ).rowcount
            audit_purged += n
            if n < _PURGE_BATCH:
                break
        with self._rlock:
            kept = (
                self._reader()
                .execute(
                    "SELECT COUNT(*) FROM registrations "
                    "WHERE seq > (SELECT synced_seq FROM meta WHERE id = 1) AND ts < ?",
                    (cutoff,),
                )
                .fetchone()[0]
            )
        return PurgeResult(purged, kept, audit_purged)

    # --- reads --------------------------------------------------------------------------------------

    def _query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._rlock:
            return self._reader().execute(sql, params).fetchall()

    def last_seq(self) -> int:
        """The highest seq ever assigned (0 before the first append)."""
        return self._query(
            "SELECT MAX(COALESCE((SELECT MAX(seq) FROM registrations), 0), synced_seq) FROM meta WHERE id = 1"
        )[0][0]

    def synced_seq(self) -> int:
        return self._query("SELECT synced_seq FROM meta WHERE id = 1")[0][0]

    def pending(self) -> int:
        """How many registrations wait for the hub."""
        return self._query(
            "SELECT COUNT(*) FROM registrations WHERE seq > (SELECT synced_seq FROM meta WHERE id = 1)"
        )[0][0]

    def get(self, seq: int) -> Registration | None:
        rows = self._query(f"{_SELECT} WHERE seq = ?", (seq,))
        return _row_to_registration(rows[0]) if rows else None

    def recent(self, limit: int = 20) -> list[Registration]:
        """The newest registrations first (guard console)."""
        return [
            _row_to_registration(r) for r in self._query(f"{_SELECT} ORDER BY seq DESC LIMIT ?", (limit,))
        ]

    def unsynced(self, limit: int = 500, after_seq: int | None = None) -> list[Registration]:
        """The outbox: up to `limit` unsynced registrations in seq order, after `after_seq` if given."""
        rows = self._query(
            f"{_SELECT} WHERE seq > MAX((SELECT synced_seq FROM meta WHERE id = 1), ?) ORDER BY seq LIMIT ?",
            (after_seq or 0, limit),
        )
        return [_row_to_registration(r) for r in rows]

    def registrations(self, day: str | dt.date) -> list[Registration]:
        """A local day's registrations in seq order."""
        rows = self._query(f"{_SELECT} WHERE day = ? ORDER BY seq", (_day_text(day),))
        return [_row_to_registration(r) for r in rows]

    def audit_entries(self, day: str | dt.date | None = None, limit: int = 1000) -> list[AuditEntry]:
        """Audit entries in seq order (of one local day if given)."""
        sql = "SELECT seq, ts, day, device_id, actor, action, reason, detail FROM audit"
        params: tuple = ()
        if day is not None:
            sql += " WHERE day = ?"
            params = (_day_text(day),)
        rows = self._query(sql + " ORDER BY seq LIMIT ?", (*params, limit))
        return [AuditEntry(*r[:7], json.loads(r[7]) if r[7] is not None else None) for r in rows]

    def counts(self, day: str | dt.date) -> Counts:
        """passed / denied / referred / fever for a local day."""
        day = _day_text(day)
        total, passed, denied, referred, fever = self._query(
            "SELECT COUNT(*), COALESCE(SUM(decision = 'pass'), 0), COALESCE(SUM(decision = 'deny'), 0), "
            "COALESCE(SUM(decision = 'refer'), 0), "
            "COALESCE(SUM(instr(' ' || reasons || ' ', ' temperature.fever ') > 0), 0) "
            "FROM registrations WHERE day = ?",
            (day,),
        )[0]
        return Counts(day, total, passed, denied, referred, fever)

    # --- export -------------------------------------------------------------------------------------

    def _export_rows(self, day: str) -> Iterator[tuple]:
        with self._rlock:
            cur = self._reader().execute(f"{_SELECT} WHERE day = ? ORDER BY seq", (day,))
            while batch := cur.fetchmany(500):
                yield from batch

    def export_day(
        self,
        day: str | dt.date,
        fmt: str = "csv",
        out: str | Path | IO[str] | None = None,
        *,
        actor: str | None = None,
        reason: str | None = None,
    ) -> Counts:
        """Write a local day's registrations (masked fields only, no hashes) and a summary.

        CSV: a header, one row per registration, then a row `summary, DAY, total=N, passed=N,
        denied=N, referred=N, fever=N`. JSONL: one object per registration (`"type": "registration"`)
        then `{"type": "summary", "day", "total", "passed", "denied", "referred", "fever"}`.
        `out` is a path (written atomically, mode 0600) or an open text stream (CSV wants
        newline=""). With `actor` (and `reason`) the export is recorded in the audit log.
        """
        day = _day_text(day)
        if fmt not in ("csv", "jsonl"):
            raise ValueError("fmt must be 'csv' or 'jsonl'")
        if out is None:
            raise ValueError("out is required: a path or a text stream")
        if actor is not None and not reason:
            raise ValueError("an audited export needs a reason")
        counts = _write_to(out, lambda stream: self._write_export(day, fmt, stream))
        if actor is not None:
            self.audit(actor, AUDIT_EXPORT, reason or "", {"day": day, "format": fmt, "rows": counts.total})
        return counts

    def export_audit(
        self, day: str | dt.date, fmt: str = "csv", out: str | Path | IO[str] | None = None
    ) -> int:
        """Write a local day's audit log (guard and technician actions: who, what, why) as CSV (a header
        and one row per entry, `detail` as JSON) or JSONL; returns the number of entries. `out` as for
        `export_day`."""
        day = _day_text(day)
        if fmt not in ("csv", "jsonl"):
            raise ValueError("fmt must be 'csv' or 'jsonl'")
        if out is None:
            raise ValueError("out is required: a path or a text stream")
        entries = self.audit_entries(day, limit=1_000_000)

        def write(stream: IO[str]) -> int:
            writer = csv.writer(stream) if fmt == "csv" else None
            if writer is not None:
                writer.writerow(AUDIT_FIELDS)
            for e in entries:
                utc = dt.datetime.fromtimestamp(e.ts, dt.UTC)
                record = {
                    "seq": e.seq,
                    "device_id": e.device_id,
                    "time_utc": utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "time_local": utc.astimezone(self.tz).isoformat(timespec="seconds"),
                    "actor": e.actor,
                    "action": e.action,
                    "reason": e.reason,
                    "detail": e.detail,
                }
                if writer is not None:
                    if isinstance(e.detail, dict):
                        record["detail"] = json.dumps(e.detail, ensure_ascii=False, sort_keys=True)
                    writer.writerow(["" if v is None else _csv_cell(v) for v in record.values()])
                else:
                    stream.write(json.dumps({"type": "audit", **record}, ensure_ascii=False) + "\n")
            return len(entries)

        return _write_to(out, write)

    def _write_export(self, day: str, fmt: str, stream: IO[str]) -> Counts:
        tally = _Tally()
        tz = self.tz
        writer = csv.writer(stream) if fmt == "csv" else None
        if writer is not None:
            writer.writerow(EXPORT_FIELDS)
        for row in self._export_rows(day):
            reg = _row_to_registration(row)
            tally.add(reg.decision, reg.reasons)
            utc = dt.datetime.fromtimestamp(reg.ts, dt.UTC)
            record = {
                "seq": reg.seq,
                "device_id": reg.device_id,
                "time_utc": utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "time_local": utc.astimezone(tz).isoformat(timespec="seconds"),
                "method": reg.method,
                "format": reg.format,
                "issuer": reg.issuer,
                "masked_name": reg.masked_name,
                "masked_id": reg.masked_id,
                "colour": reg.colour,
                "temperature_c": reg.temperature,
                "decision": reg.decision,
                "reasons": list(reg.reasons),
            }
            if writer is not None:
                record["reasons"] = " ".join(reg.reasons)
                writer.writerow(["" if v is None else _csv_cell(v) for v in record.values()])
            else:
                stream.write(json.dumps({"type": "registration", **record}, ensure_ascii=False) + "\n")
        counts = tally.counts(day)
        if writer is not None:
            writer.writerow(
                [
                    "summary",
                    day,
                    *(
                        f"{k}={getattr(counts, k)}"
                        for k in ("total", "passed", "denied", "referred", "fever")
                    ),
                ]
            )
        else:
            stream.write(json.dumps({"type": "summary", **counts.as_dict()}, ensure_ascii=False) + "\n")
        return counts


def export_to_string(store: RegistrationStore, day: str | dt.date, fmt: str = "csv") -> str:
    """Convenience for screens and tests: the export as one string."""
    buf = io.StringIO(newline="")
    store.export_day(day, fmt, buf)
    return buf.getvalue()
