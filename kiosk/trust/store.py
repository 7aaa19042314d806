"""The trust store: verified trust lists in SQLite (`trust.sqlite` in the data directory).

One list of each name is in force. An import replaces it in a single transaction, and only after the
list passed every check in `kiosk.trust.sources` and is not older than the one in force, so a failed
or rolled-back import leaves the old list working.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from kiosk.codes.keyring import KeyRing, TrustedKey
from kiosk.codes.model import Format
from kiosk.crypto.keys import BadKey, public_key_from_pem, public_key_from_spki
from kiosk.trust.sources import Source, TrustError

SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    name TEXT PRIMARY KEY,
    format TEXT NOT NULL,
    seq INTEGER,
    signed_at INTEGER NOT NULL,
    valid_until INTEGER NOT NULL,
    imported_at INTEGER NOT NULL,
    entries INTEGER NOT NULL,
    digest TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS keys (
    source TEXT NOT NULL REFERENCES sources(name) ON DELETE CASCADE,
    format TEXT NOT NULL,
    kid BLOB NOT NULL,
    issuer TEXT NOT NULL,
    name TEXT,
    alg TEXT NOT NULL,
    spki BLOB NOT NULL,
    cert BLOB,
    usages TEXT,
    not_before INTEGER,
    not_after INTEGER
);
CREATE INDEX IF NOT EXISTS keys_by_kid ON keys(format, kid);
CREATE TABLE IF NOT EXISTS shc_revocations (
    source TEXT NOT NULL REFERENCES sources(name) ON DELETE CASCADE,
    kid TEXT NOT NULL,
    rid TEXT NOT NULL,
    cutoff INTEGER
);
CREATE TABLE IF NOT EXISTS pins (
    name TEXT PRIMARY KEY,
    pem BLOB NOT NULL,
    pinned_at INTEGER NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class SourceStatus:
    name: str
    format: str
    entries: int
    seq: int | None
    signed_at: int
    valid_until: int
    imported_at: int

    def age_hours(self, now: float) -> float:
        return (now - self.signed_at) / 3600

    def state(self, now: float) -> str:
        return "OK" if now <= self.valid_until else "STALE"


class TrustStore:
    def __init__(self, data_dir: str | Path):
        self.path = Path(data_dir) / "trust.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> TrustStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- pinned anchors ---

    def pinned(self, name: str) -> bytes | None:
        row = self.db.execute("SELECT pem FROM pins WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def pin(self, name: str, pem: bytes) -> None:
        """Pin a trust anchor; refuse to replace a different one (re-provisioning does that)."""
        current = self.pinned(name)
        if current is not None:
            if public_key_from_pem(current).spki_der() != public_key_from_pem(pem).spki_der():
                raise TrustError(
                    f"a different {name} is already pinned on this kiosk; re-provision to change it"
                )
            return
        self.db.execute("INSERT INTO pins VALUES (?, ?, ?)", (name, pem, int(time.time())))

    # --- import ---

    def import_source(self, source: Source, now: float | None = None) -> None:
        """Replace the list of this name, atomically, unless it is older than the one in force."""
        now = time.time() if now is None else now
        self.db.execute("BEGIN IMMEDIATE")
        try:
            old = self.db.execute(
                "SELECT seq, signed_at, digest FROM sources WHERE name = ?", (source.name,)
            ).fetchone()
            if old is not None:
                old_seq, old_signed, old_digest = old
                if source.seq is not None and old_seq is not None and source.seq < old_seq:
                    raise TrustError(
                        f"{source.name}: seq {source.seq} is older than seq {old_seq} in force (rollback refused)"
                    )
                if (
                    source.seq is not None
                    and old_seq is not None
                    and source.seq == old_seq
                    and source.digest != old_digest
                ):
                    raise TrustError(
                        f"{source.name}: a different list with the same seq {old_seq} is already in force"
                    )
                if source.signed_at < old_signed:
                    raise TrustError(
                        f"{source.name}: signed earlier than the list in force (rollback refused)"
                    )
            self.db.execute("DELETE FROM sources WHERE name = ?", (source.name,))
            self.db.execute(
                "INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    source.name,
                    source.format,
                    source.seq,
                    source.signed_at,
                    source.valid_until,
                    int(now),
                    len(source.keys),
                    source.digest,
                ),
            )
            self.db.executemany(
                "INSERT INTO keys VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        source.name,
                        str(k.format),
                        k.kid,
                        k.issuer,
                        k.name,
                        k.alg,
                        k.spki,
                        k.cert,
                        ",".join(sorted(k.usages)) if k.usages is not None else None,
                        k.not_before,
                        k.not_after,
                    )
                    for k in source.keys
                ],
            )
            self.db.executemany(
                "INSERT INTO shc_revocations VALUES (?, ?, ?, ?)",
                [(source.name, kid, rid, cutoff) for kid, rid, cutoff in source.shc_revocations],
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    # --- reading ---

    def status(self) -> list[SourceStatus]:
        rows = self.db.execute(
            "SELECT name, format, entries, seq, signed_at, valid_until, imported_at FROM sources ORDER BY name"
        ).fetchall()
        return [SourceStatus(*row) for row in rows]

    def keyring(self) -> KeyRing:
        """Everything in force as the verifier's in-memory key ring (keys parsed once, here)."""
        ring = KeyRing()
        valid_until = dict(self.db.execute("SELECT name, valid_until FROM sources"))
        for source, fmt, kid, issuer, name, _alg, spki, usages, nb, na in self.db.execute(
            "SELECT source, format, kid, issuer, name, alg, spki, usages, not_before, not_after FROM keys"
        ):
            try:
                key = public_key_from_spki(spki)
            except BadKey:
                continue
            ring.add(
                TrustedKey(
                    Format(fmt),
                    kid,
                    key,
                    issuer,
                    source,
                    nb,
                    na,
                    frozenset(usages.split(",")) if usages else (frozenset() if usages == "" else None),
                    valid_until.get(source),
                    name,
                )
            )
        for kid, rid, cutoff in self.db.execute("SELECT kid, rid, cutoff FROM shc_revocations"):
            ring.shc_rids.setdefault(kid, {})[rid] = cutoff
        return ring
