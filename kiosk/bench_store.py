"""Benchmark `store.append_durable`: `RegistrationStore.append` against a bare sqlite3 INSERT.

Both write one durable transaction per row (WAL, synchronous=FULL) into files in the same temporary
directory: inside the kiosk's data directory when it exists, so both sit on the file system the
kiosk really writes to (`/tmp` may be a tmpfs where fsync is free; `KIOSK_BENCH_DIR` overrides).
The baseline table has the same columns but no index and lets SQLite pick the rowid: the ratio is
the whole cost of the store (checks of the call, local day, seq computation, the day index).
"""

from __future__ import annotations

import atexit
import os
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from kiosk.bench import Case
from kiosk.codes.masking import mask_id, mask_name
from kiosk.store import Registration, RegistrationStore

_BASELINE_SCHEMA = """CREATE TABLE registrations (
    seq INTEGER PRIMARY KEY, device_id TEXT NOT NULL, ts REAL NOT NULL, day TEXT NOT NULL,
    method TEXT NOT NULL, format TEXT, issuer TEXT, code_id_hash TEXT, id_number_hash TEXT,
    masked_name TEXT, masked_id TEXT, colour TEXT, temperature REAL, decision TEXT NOT NULL,
    reasons TEXT NOT NULL
)"""
_BASELINE_INSERT = (
    "INSERT INTO registrations (device_id, ts, day, method, format, issuer, code_id_hash, id_number_hash, "
    "masked_name, masked_id, colour, temperature, decision, reasons) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _bench_dir() -> Path:
    """A fresh directory on the data directory's file system, if that exists (else the temp dir).

    `KIOSK_BENCH_DIR` picks another place; nothing is created outside the chosen directory.
    """
    candidates = []
    if os.environ.get("KIOSK_BENCH_DIR"):
        candidates.append(Path(os.environ["KIOSK_BENCH_DIR"]))
    try:
        from kiosk.cli import data_dir

        candidates.append(data_dir(None))
    except Exception:  # noqa: BLE001 - any problem finding it: use the temp dir
        pass
    for base in candidates:
        if base.is_dir():
            try:
                return Path(tempfile.mkdtemp(prefix="bench-store-", dir=base))
            except OSError:
                continue
    return Path(tempfile.mkdtemp(prefix="bench-store-"))


def typical_registration(store: RegistrationStore, now: float) -> Registration:
    """A PHIC pass at the gate: hashes, masked holder, green, a normal temperature."""
    return Registration(
        ts=now,
        method="code+card",
        decision="pass",
        reasons=(),
        format="phic",
        issuer="440000",
        code_id_hash=store.hash_code_id(b"\x8a\x1f\x03\x99\x10\x22\x7e\x41\x05\x6c\xd2\x00\x13\x37\x42\x99"),
        id_number_hash=store.hash_id_number("11010519491231002X"),
        masked_name=mask_name("张小三"),
        masked_id=mask_id("11010519491231002X"),
        colour="green",
        temperature=36.6,
    )


def append_case(directory: Path | None = None) -> Case:
    work = directory or _bench_dir()
    store = RegistrationStore(work / "store", "bench-device")
    reg = typical_registration(store, time.time())
    raw = sqlite3.connect(work / "baseline.sqlite", isolation_level=None)  # autocommit: one txn per INSERT
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=FULL")
    raw.execute(_BASELINE_SCHEMA)
    row = (
        "bench-device",
        reg.ts,
        store.day_of(reg.ts),
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
        "",
    )

    def cleanup() -> None:
        store.close()
        raw.close()
        if directory is None:
            shutil.rmtree(work, ignore_errors=True)

    atexit.register(cleanup)
    return Case(
        "store.append_durable",
        lambda: store.append(reg),
        "sqlite3 INSERT, WAL + synchronous=FULL",
        lambda: raw.execute(_BASELINE_INSERT, row),
    )


def bench_cases() -> list[Case]:
    return [append_case()]
