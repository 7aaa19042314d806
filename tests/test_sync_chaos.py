"""Crash safety of the outbox: 100,000 queued registrations drain from a kiosk to a REAL hub process
while both the sync client (`kiosk sync`, a subprocess) and the hub are killed with SIGKILL at random
moments, several times each, and restarted. Afterwards the hub holds exactly seqs 1..100000 of the
device, once each and byte for byte the kiosk's rows, and the kiosk's outbox is empty. On SQLite and on
PostgreSQL (a throwaway server from kiosk.hub.pgtemp)."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hubtools import fresh_database, make_hub, pg_url, run_hub  # noqa: F401 (pg_url is a fixture)

from kiosk.bench_sync import make_outbox
from kiosk.store import RegistrationStore
from kiosk.sync.enroll import enroll

ROOT = Path(__file__).resolve().parents[1]
N = 100_000
KILLS = 6  # of each process
DEVICE = "kiosk-chaos"


def synced(data: Path) -> int:
    db = sqlite3.connect(f"file:{data / 'registrations.sqlite'}?mode=ro", uri=True, timeout=10)
    try:
        return db.execute("SELECT synced_seq FROM meta WHERE id = 1").fetchone()[0]
    finally:
        db.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Hub:
    """The hub process on a fixed port (the kiosk's hub.json keeps its URL across restarts)."""

    def __init__(self, hub_dir: Path, database: str | None, port: int):
        self.args = (hub_dir, database)
        self.extra = ("--port", str(port), "--no-access-log", "--log-level", "warning")
        self.cm: contextlib.AbstractContextManager | None = None
        self.proc = None

    def start(self) -> str:
        self.cm = run_hub(*self.args, extra_args=self.extra)
        self.proc = self.cm.__enter__()
        return self.proc.url

    def kill(self) -> None:
        assert self.proc is not None and self.cm is not None
        self.proc.kill()
        self.cm.__exit__(None, None, None)
        self.cm = self.proc = None

    def stop(self) -> None:
        if self.cm is not None:
            self.cm.__exit__(None, None, None)
            self.cm = self.proc = None


def start_client(data: Path, log: Path) -> subprocess.Popen:
    out = open(log, "a")  # noqa: SIM115 (the child holds it)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kiosk.sync.cli",
            "sync",
            "--data-dir",
            str(data),
            "--interval",
            "0.2",
            "--max-backoff",
            "0.5",
            "--batch",
            "500",
        ],
        cwd=ROOT,
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_100k_drain_survives_kill_9_of_both_sides(tmp_path, engine, request):
    database = fresh_database(request.getfixturevalue("pg_url")) if engine == "postgresql" else None
    hub_dir = make_hub(tmp_path / "hub", database)
    data = tmp_path / "kiosk"
    data.mkdir()
    make_outbox(data, N, DEVICE)
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    seed_note = f"engine {engine}"
    hub = Hub(hub_dir.dir, database, free_port())
    url = hub.start()
    enroll(data, url, hub_dir.code())
    log = tmp_path / "sync.log"
    client = start_client(data, log)
    kills = {"client": 0, "hub": 0}
    started = time.monotonic()
    progress = [(started, 0)]
    try:
        while min(kills.values()) < KILLS:
            done = synced(data)
            now = time.monotonic()
            progress.append((now, done))
            assert done < N, f"drained before {KILLS} kills of each side ({kills}); {seed_note}"
            assert now - started < 150, (
                f"no drain in 150 s: {kills}, synced {done}; {log.read_text()[-3000:]}"
            )
            # the next kill at a random moment, early enough that the rest fits before the drain ends
            past = [p for p in progress if p[0] >= now - 5] or progress[-2:]
            rate = max((past[-1][1] - past[0][1]) / max(past[-1][0] - past[0][0], 0.1), 500.0)
            left = 2 * KILLS - sum(kills.values())
            time.sleep(rng.uniform(0.2, 1.0) * min(2.0, (N - done) / rate / (left + 1)))
            victim = rng.choice([v for v in kills if kills[v] < KILLS])
            if victim == "client":
                client.send_signal(signal.SIGKILL)
                client.wait(10)
                client = start_client(data, log)
            else:
                hub.kill()
                hub.start()
            kills[victim] += 1
        deadline = time.monotonic() + 150
        while synced(data) < N:
            assert time.monotonic() < deadline, f"stuck at {synced(data)}: {log.read_text()[-3000:]}"
            time.sleep(0.2)
        drained = time.monotonic() - started
    finally:
        client.send_signal(signal.SIGTERM)
        try:
            client.wait(15)
        except subprocess.TimeoutExpired:
            client.kill()
        hub.stop()
    text = log.read_text()
    failed = text.count("sync: FAILED")
    print(f"\n{engine}: drained {N} in {drained:.1f} s through kills {kills}; {failed} failed rounds retried")
    assert "Traceback" not in text, text[-3000:]

    with RegistrationStore(data, DEVICE) as store:
        assert store.synced_seq() == N and store.pending() == 0
    with hub_dir.db() as db:
        with db.reader() as r:
            count, distinct, low, high = r.one(
                "SELECT COUNT(*), COUNT(DISTINCT seq), MIN(seq), MAX(seq) FROM registrations WHERE device_id = ?",
                (DEVICE,),
            )
            assert (count, distinct, low, high) == (N, N, 1, N)
            assert r.one("SELECT COUNT(*) FROM registrations")[0] == N
            hub_rows = r.all(
                "SELECT seq, code_id_hash, decision, temperature FROM registrations WHERE device_id = ? ORDER BY seq",
                (DEVICE,),
            )
        assert db.device(DEVICE).acked_seq == N
    local = sqlite3.connect(data / "registrations.sqlite")
    mine = local.execute(
        "SELECT seq, code_id_hash, decision, temperature FROM registrations ORDER BY seq"
    ).fetchall()
    local.close()
    assert [tuple(r) for r in hub_rows] == mine
    if engine == "sqlite":
        check = sqlite3.connect(hub_dir.dir / "hub.sqlite")
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        check.close()
    assert not list(data.glob(".sync-*"))
