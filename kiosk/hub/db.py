"""The hub's storage: one schema and one code path for SQLite (default) and PostgreSQL (a fleet).

SQL is written once with `?` placeholders and portable types (TEXT, BIGINT, DOUBLE PRECISION) and
translated to psycopg's `%s` for PostgreSQL; conflicts are `INSERT ... ON CONFLICT DO NOTHING`, which
both engines support, so the replay check (a nonce insert that affects no row) and idempotent intake
read the same way on both.

Threads: the app runs handlers in uvicorn's thread pool. SQLite gets one connection per thread (WAL,
`synchronous=FULL`, a busy timeout; writers take the lock up front with `BEGIN IMMEDIATE`);
PostgreSQL a small pool of autocommit connections, each write an explicit transaction. Per-device
writes are serialised by updating the device row first (a row lock in PostgreSQL, the database lock
in SQLite), so two batches of one kiosk never race on its `acked_seq`.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
DB_FILE = "hub.sqlite"
POOL_SIZE = 8
BUSY_TIMEOUT_MS = 10_000

# Portable DDL: BIGINT/DOUBLE PRECISION/TEXT mean the same to both engines (SQLite by affinity).
SCHEMA = [
    """CREATE TABLE IF NOT EXISTS meta (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS devices (
        device_id TEXT PRIMARY KEY,
        public_key TEXT NOT NULL,
        name TEXT,
        site TEXT,
        enrolled_at DOUBLE PRECISION NOT NULL,
        revoked_at DOUBLE PRECISION,
        last_seen DOUBLE PRECISION,
        acked_seq BIGINT NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE IF NOT EXISTS enroll_codes (
        code_sha256 TEXT PRIMARY KEY,
        device_id TEXT,
        site TEXT,
        created_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL,
        used_at DOUBLE PRECISION,
        used_by TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS nonces (
        device_id TEXT NOT NULL,
        nonce TEXT NOT NULL,
        created DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (device_id, nonce)
    )""",
    "CREATE INDEX IF NOT EXISTS nonces_created ON nonces (created)",
    """CREATE TABLE IF NOT EXISTS registrations (
        device_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        ts DOUBLE PRECISION NOT NULL,
        day TEXT NOT NULL,
        method TEXT NOT NULL,
        format TEXT,
        issuer TEXT,
        code_id_hash TEXT,
        id_number_hash TEXT,
        masked_name TEXT,
        masked_id TEXT,
        colour TEXT,
        temperature DOUBLE PRECISION,
        decision TEXT NOT NULL,
        reasons TEXT NOT NULL,
        received_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (device_id, seq)
    )""",
    "CREATE INDEX IF NOT EXISTS registrations_day ON registrations (day)",
    """CREATE TABLE IF NOT EXISTS issuers (
        iss TEXT PRIMARY KEY,
        name TEXT,
        added_at DOUBLE PRECISION NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS issuer_keys (
        kid TEXT PRIMARY KEY,
        iss TEXT NOT NULL,
        alg TEXT NOT NULL,
        spki TEXT NOT NULL,
        code_types TEXT,
        not_before BIGINT,
        not_after BIGINT,
        added_at DOUBLE PRECISION NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS bundles (
        seq BIGINT PRIMARY KEY,
        issued_at BIGINT NOT NULL,
        valid_until BIGINT NOT NULL,
        keys BIGINT NOT NULL,
        sha256 TEXT NOT NULL,
        jws TEXT NOT NULL,
        published_at DOUBLE PRECISION NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS status_lists (
        seq BIGINT PRIMARY KEY,
        base_seq BIGINT,
        kind TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size BIGINT NOT NULL,
        file_name TEXT NOT NULL,
        issued_at BIGINT NOT NULL,
        valid_until BIGINT NOT NULL,
        published_at DOUBLE PRECISION NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS status_lists_base ON status_lists (base_seq)",
    """CREATE TABLE IF NOT EXISTS policies (
        seq BIGINT PRIMARY KEY,
        site TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        jws TEXT NOT NULL,
        published_at DOUBLE PRECISION NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS policies_site ON policies (site, seq)",
]

ROW_COLUMNS = (
    "seq",
    "ts",
    "day",
    "method",
    "format",
    "issuer",
    "code_id_hash",
    "id_number_hash",
    "masked_name",
    "masked_id",
    "colour",
    "temperature",
    "decision",
    "reasons",
)
_INSERT_ROW = (
    "INSERT INTO registrations (device_id, "
    + ", ".join(ROW_COLUMNS)
    + ", received_at) VALUES ("
    + ", ".join("?" * (len(ROW_COLUMNS) + 2))
    + ") ON CONFLICT DO NOTHING"
)
DEVICE_COLUMNS = "device_id, public_key, name, site, enrolled_at, revoked_at, last_seen, acked_seq"


class DatabaseError(Exception):
    """The database cannot be reached or is busy; the request may be retried (HTTP 503)."""


class Replay(Exception):
    """The (device, nonce) pair was seen before: the request is a replay."""


class Revoked(Exception):
    """The device was revoked (checked inside the transaction that would have had an effect)."""


@dataclass(frozen=True, slots=True)
class Device:
    device_id: str
    public_key: str  # SPKI PEM
    name: str | None
    site: str | None
    enrolled_at: float
    revoked_at: float | None
    last_seen: float | None
    acked_seq: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "device_id": self.device_id,
            "name": self.name,
            "site": self.site,
            "enrolled_at": self.enrolled_at,
            "last_seen": self.last_seen,
            "acked_seq": self.acked_seq,
            "revoked_at": self.revoked_at,
        }


def _pg_sql(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class Tx:
    """One open transaction (or one autocommit connection): `?` SQL on either engine."""

    def __init__(self, cursor: Any, postgres: bool):
        self._cur = cursor
        self._pg = postgres

    def _sql(self, sql: str) -> str:
        return _pg_sql(sql) if self._pg else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the number of rows it changed."""
        self._cur.execute(self._sql(sql), tuple(params))
        return self._cur.rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        """Run one statement per row; returns the rows changed in all (both drivers sum them)."""
        rows = [tuple(r) for r in rows]
        if not rows:
            return 0
        self._cur.executemany(self._sql(sql), rows)
        return self._cur.rowcount

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple | None:
        self._cur.execute(self._sql(sql), tuple(params))
        return self._cur.fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        self._cur.execute(self._sql(sql), tuple(params))
        return list(self._cur.fetchall())


class _SqliteEngine:
    postgres = False

    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise DatabaseError(f"SQLite: {exc}") from exc
        cur = conn.cursor()
        try:
            yield Tx(cur, False)
        except sqlite3.OperationalError as exc:
            conn.rollback()
            raise DatabaseError(f"SQLite: {exc}") from exc
        except BaseException:
            conn.rollback()
            raise
        else:
            try:
                conn.commit()
            except sqlite3.OperationalError as exc:
                conn.rollback()
                raise DatabaseError(f"SQLite: {exc}") from exc
        finally:
            cur.close()

    @contextlib.contextmanager
    def reader(self) -> Iterator[Tx]:
        cur = self._conn().cursor()
        try:
            yield Tx(cur, False)
        except sqlite3.OperationalError as exc:
            raise DatabaseError(f"SQLite: {exc}") from exc
        finally:
            cur.close()

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._all.clear()
        self._local = threading.local()


class _PostgresEngine:
    """A small pool of autocommit psycopg connections (no psycopg_pool dependency)."""

    postgres = True

    def __init__(self, url: str, size: int = POOL_SIZE):
        import psycopg

        self._psycopg = psycopg
        self.url = url
        self.size = size
        self._idle: list[Any] = []
        self._count = 0
        self._cond = threading.Condition()
        self._generation = 0  # close() drops the connections of older generations

    def _connect(self) -> Any:
        try:
            return self._psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except self._psycopg.Error as exc:
            raise DatabaseError(f"PostgreSQL: cannot connect: {exc}") from exc

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Any]:
        with self._cond:
            generation = self._generation
            while not self._idle and self._count >= self.size:
                if not self._cond.wait(timeout=30):
                    raise DatabaseError("PostgreSQL: no free connection in the pool")
            conn = self._idle.pop() if self._idle else None
            if conn is None:
                self._count += 1
        if conn is None:
            try:
                conn = self._connect()
            except BaseException:
                with self._cond:
                    self._count -= 1
                    self._cond.notify()
                raise
        healthy = False
        try:
            yield conn
            healthy = True
        except self._psycopg.OperationalError as exc:
            raise DatabaseError(f"PostgreSQL: {exc}") from exc
        finally:
            ok = healthy or not conn.broken
            if (
                ok
                and not conn.closed
                and conn.info.transaction_status == self._psycopg.pq.TransactionStatus.IDLE
            ):
                with self._cond:
                    if generation == self._generation:
                        self._idle.append(conn)
                        self._cond.notify()
                        conn = None
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()
                with self._cond:
                    self._count -= 1
                    self._cond.notify()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        with self._connection() as conn, conn.transaction(), conn.cursor() as cur:
            yield Tx(cur, True)

    @contextlib.contextmanager
    def reader(self) -> Iterator[Tx]:
        with self._connection() as conn, conn.cursor() as cur:
            yield Tx(cur, True)

    def close(self) -> None:
        """Close the idle connections (those in use close when returned). The engine stays usable:
        a later request opens new connections (an app may be started and stopped more than once)."""
        with self._cond:
            self._generation += 1
            idle, self._idle = self._idle, []
            self._count -= len(idle)
            self._cond.notify_all()
        for conn in idle:
            with contextlib.suppress(Exception):
                conn.close()


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and url.split(":", 1)[0] in ("postgresql", "postgres")


def describe_url(url: str | None, hub_dir: Path) -> str:
    """The database for messages: the SQLite path, or a PostgreSQL URL without its password."""
    if not is_postgres_url(url):
        return str(Path(url) if url else hub_dir / DB_FILE)
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, host = netloc.rsplit("@", 1)
        netloc = user.split(":", 1)[0] + ":***@" + host if ":" in user else netloc
    return urlunsplit(parts._replace(netloc=netloc, query=""))


class HubDB:
    """The hub's tables and the operations the app and the admin commands need."""

    def __init__(self, hub_dir: str | os.PathLike, database_url: str | None = None):
        self.hub_dir = Path(hub_dir)
        if is_postgres_url(database_url):
            self.engine: _SqliteEngine | _PostgresEngine = _PostgresEngine(str(database_url))
        elif database_url and database_url.startswith("sqlite:"):
            self.engine = _SqliteEngine(Path(database_url.split(":", 1)[1].removeprefix("//")))
        elif database_url:
            raise ValueError(f"--database {database_url!r}: expected postgresql://... or sqlite:PATH")
        else:
            self.engine = _SqliteEngine(self.hub_dir / DB_FILE)
        self.description = describe_url(database_url, self.hub_dir)
        self._last_purge = 0.0
        self._create()

    @property
    def postgres(self) -> bool:
        return self.engine.postgres

    def _create(self) -> None:
        if not self.postgres:
            path = self.engine.path  # type: ignore[union-attr]
            if not path.parent.is_dir():
                raise ValueError(f"{path.parent} is not a directory (run `kiosk hub init --dir DIR` first)")
            new = not path.exists()
            if new:  # create the file private before SQLite does (it holds masked personal data)
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        with self.engine.transaction() as tx:
            for statement in SCHEMA:
                tx.execute(statement)
            tx.execute(
                "INSERT INTO meta (name, value) VALUES ('schema_version', ?) ON CONFLICT DO NOTHING",
                (str(SCHEMA_VERSION),),
            )
            row = tx.one("SELECT value FROM meta WHERE name = 'schema_version'")
        if row is None or int(row[0]) > SCHEMA_VERSION:
            raise ValueError(f"the hub database has schema version {row and row[0]}, newer than this hub")

    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> HubDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transaction(self) -> contextlib.AbstractContextManager[Tx]:
        return self.engine.transaction()

    def reader(self) -> contextlib.AbstractContextManager[Tx]:
        return self.engine.reader()

    # --- devices ---------------------------------------------------------------------------------------

    def device(self, device_id: str) -> Device | None:
        with self.reader() as r:
            row = r.one(f"SELECT {DEVICE_COLUMNS} FROM devices WHERE device_id = ?", (device_id,))
        return Device(*row) if row else None

    def devices(self) -> list[Device]:
        with self.reader() as r:
            return [Device(*row) for row in r.all(f"SELECT {DEVICE_COLUMNS} FROM devices ORDER BY device_id")]

    def revoke_device(self, device_id: str, now: float) -> bool:
        """Revoke a device (its requests get 403 from now on); False if there is no such device."""
        with self.transaction() as tx:
            if tx.one("SELECT device_id FROM devices WHERE device_id = ?", (device_id,)) is None:
                return False
            tx.execute(
                "UPDATE devices SET revoked_at = ? WHERE device_id = ? AND revoked_at IS NULL",
                (now, device_id),
            )
        return True

    @staticmethod
    def accept(tx: Tx, device_id: str, nonce: str, now: float) -> Device:
        """Inside the transaction of a request's effect: refuse a revoked device or a replayed nonce,
        record the nonce and the contact. Raises Revoked or Replay (the caller rolls back)."""
        if (
            tx.execute(
                "UPDATE devices SET last_seen = ? WHERE device_id = ? AND revoked_at IS NULL",
                (now, device_id),
            )
            != 1
        ):
            raise Revoked(device_id)
        if (
            tx.execute(
                "INSERT INTO nonces (device_id, nonce, created) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (device_id, nonce, now),
            )
            != 1
        ):
            raise Replay(device_id)
        row = tx.one(f"SELECT {DEVICE_COLUMNS} FROM devices WHERE device_id = ?", (device_id,))
        assert row is not None
        return Device(*row)

    def purge_nonces(self, before: float, now: float, every: float = 60.0) -> int:
        """Forget nonces created before `before` (at most once per `every` seconds of `now`)."""
        if now - self._last_purge < every:
            return 0
        self._last_purge = now
        with self.transaction() as tx:
            return tx.execute("DELETE FROM nonces WHERE created < ?", (before,))

    # --- registrations ---------------------------------------------------------------------------------

    @staticmethod
    def store_rows(tx: Tx, device_id: str, rows: list[dict[str, Any]], now: float) -> tuple[int, int]:
        """Insert validated rows idempotently, advance the device's contiguous watermark.
        Returns (stored_through, inserted). Rows at or below the watermark are already stored (or purged
        by retention): they are not inserted again."""
        acked = tx.one("SELECT acked_seq FROM devices WHERE device_id = ?", (device_id,))
        floor = int(acked[0]) if acked else 0
        params = []
        for row in rows:
            if row["seq"] <= floor:
                continue
            values = [row.get(c) for c in ROW_COLUMNS]
            values[ROW_COLUMNS.index("reasons")] = json.dumps(list(row.get("reasons") or []))
            params.append((device_id, *values, now))
        inserted = tx.executemany(_INSERT_ROW, params) if params else 0
        return HubDB._advance(tx, device_id), inserted

    @staticmethod
    def _advance(tx: Tx, device_id: str, floor: int = 0) -> int:
        """Move the device's `acked_seq` (at least to `floor`) over the contiguous stored seqs above it,
        reading 1000 seqs at a time; returns it."""
        row = tx.one("SELECT acked_seq FROM devices WHERE device_id = ?", (device_id,))
        start = int(row[0]) if row else 0
        acked = max(start, floor)
        while True:
            seqs = tx.all(
                "SELECT seq FROM registrations WHERE device_id = ? AND seq > ? ORDER BY seq LIMIT 1000",
                (device_id, acked),
            )
            advanced = 0
            for (seq,) in seqs:
                if seq != acked + 1:
                    break
                acked = seq
                advanced += 1
            if advanced < 1000:
                break
        if acked != start:
            tx.execute("UPDATE devices SET acked_seq = ? WHERE device_id = ?", (acked, device_id))
        return acked

    def purge_registrations(self, before: float) -> int:
        """Delete registrations received before `before` that are at or below their device's watermark
        (rows above a gap stay: the watermark still has to pass them). Returns how many."""
        with self.transaction() as tx:
            return tx.execute(
                "DELETE FROM registrations WHERE received_at < ? AND seq <= "
                "(SELECT acked_seq FROM devices WHERE devices.device_id = registrations.device_id)",
                (before,),
            )

    def superseded_status_lists(self) -> list[tuple[int, str]]:
        """(seq, file name) of the lists no kiosk needs: older than the newest full list."""
        with self.reader() as r:
            newest = r.one("SELECT MAX(seq) FROM status_lists WHERE kind = 'full'")
            if newest is None or newest[0] is None:
                return []
            return [
                (int(seq), name)
                for seq, name in r.all(
                    "SELECT seq, file_name FROM status_lists WHERE seq < ? ORDER BY seq", (newest[0],)
                )
            ]

    def forget_status_list(self, seq: int) -> None:
        with self.transaction() as tx:
            tx.execute("DELETE FROM status_lists WHERE seq = ?", (seq,))

    def accept_gap(self, device_id: str, through: int) -> int | None:
        """The operator gives up on the rows of a device up to `through` (e.g. after restoring an older
        backup, which the kiosk will not resend): `stored_through` continues from there. Returns the new
        watermark, None for an unknown device."""
        with self.transaction() as tx:
            if tx.one("SELECT device_id FROM devices WHERE device_id = ?", (device_id,)) is None:
                return None
            return self._advance(tx, device_id, through)

    def registration_count(self, device_id: str | None = None) -> int:
        with self.reader() as r:
            if device_id is None:
                return r.one("SELECT COUNT(*) FROM registrations")[0]  # type: ignore[index]
            return r.one("SELECT COUNT(*) FROM registrations WHERE device_id = ?", (device_id,))[0]  # type: ignore[index]

    def registrations(self, device_id: str) -> list[dict[str, Any]]:
        """A device's stored rows in seq order (for exports and tests)."""
        with self.reader() as r:
            rows = r.all(
                "SELECT " + ", ".join(ROW_COLUMNS) + " FROM registrations WHERE device_id = ? ORDER BY seq",
                (device_id,),
            )
        out = []
        for values in rows:
            d = dict(zip(ROW_COLUMNS, values, strict=True))
            d["reasons"] = json.loads(d["reasons"])
            out.append(d)
        return out

    # --- published documents ---------------------------------------------------------------------------

    def latest_bundle(self) -> tuple[int, str, str] | None:
        """(seq, sha256, jws) of the newest bundle."""
        with self.reader() as r:
            return r.one("SELECT seq, sha256, jws FROM bundles ORDER BY seq DESC LIMIT 1")

    def policy_for(self, site: str | None) -> tuple[int, str, str] | None:
        """(seq, sha256, jws) of the newest policy for `site`, else of the newest default ("*")."""
        with self.reader() as r:
            if site:
                row = r.one(
                    "SELECT seq, sha256, jws FROM policies WHERE site = ? ORDER BY seq DESC LIMIT 1", (site,)
                )
                if row:
                    return row
            return r.one("SELECT seq, sha256, jws FROM policies WHERE site = '*' ORDER BY seq DESC LIMIT 1")

    def status_list_for(self, have: int | None) -> tuple[str, Any] | None:
        """What `GET /v1/status-list?have=` answers: ("current", newest seq) when `have` is the newest
        seq or newer, ("file", (seq, base_seq, kind, sha256, size, file_name)) to send, or None."""
        cols = "seq, base_seq, kind, sha256, size, file_name"
        with self.reader() as r:
            newest = r.one("SELECT MAX(seq) FROM status_lists")
            if newest is None or newest[0] is None:
                return None
            if have is not None and have >= newest[0]:
                return ("current", newest[0])
            full = r.one(f"SELECT {cols} FROM status_lists WHERE kind = 'full' ORDER BY seq DESC LIMIT 1")
            if have is not None:
                delta = r.one(
                    f"SELECT {cols} FROM status_lists WHERE kind = 'delta' AND base_seq = ? "
                    "ORDER BY seq DESC LIMIT 1",
                    (have,),
                )
                if delta is not None and (full is None or delta[0] >= full[0]):
                    return ("file", delta)
            if full is None or (have is not None and full[0] <= have):
                return None
            return ("file", full)


def next_seq(tx: Tx, table: str, floor: int = 1) -> int:
    """The seq for a new row of `table` (bundles or policies): above every seq so far and >= `floor`."""
    if table not in ("bundles", "policies", "status_lists"):
        raise ValueError(table)
    row = tx.one(f"SELECT MAX(seq) FROM {table}")
    last = row[0] if row and row[0] is not None else 0
    return max(int(last) + 1, floor)
