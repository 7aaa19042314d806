"""Benchmarks of the sync path, as ratios against bare baselines measured in the same process.

- `sync.drain_100k`: rows per second draining a 100,000-row outbox through `SyncClient.push` to a real
  hub process on loopback, against a bare httpx POST loop of the same pre-serialised, pre-signed
  batches to the same endpoint. Each run gets a fresh hub (directory and database) and a fresh copy of
  the outbox; runs alternate and the medians are reported. The ratio is the client's own cost (reading
  the outbox, serialising, signing, parsing the answer, moving the watermark); the hub's intake is in
  both sides.
- `hub.ingest.sqlite`, `hub.ingest.postgresql`: rows per second through the hub's intake path
  (signature check, JSON parse, row validation, one transaction with the nonce record, idempotent
  insert and the contiguous-watermark update) without HTTP, against a bare `executemany` INSERT of the
  same rows, batch for batch, into a table of the same columns in the same engine (SQLite WAL +
  synchronous=FULL; PostgreSQL from `kiosk.hub.pgtemp`, fsync on). Skipped when PostgreSQL is not there.

Files go where `kiosk.bench_store` puts its own (the data directory's file system when it exists, so
fsync costs what it costs there; `KIOSK_BENCH_DIR` overrides). `python -m kiosk.bench_sync [--quick]
[PREFIX ...]` runs them alone.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

DEVICE = "kiosk-bench"
BATCH = 500
COLUMNS = (
    "seq, device_id, ts, day, method, format, issuer, code_id_hash, id_number_hash, masked_name, "
    "masked_id, colour, temperature, decision, reasons"
)


def _rows(n: int, device: str = DEVICE) -> list[tuple]:
    """n typical stored registrations (masked, hashed), as the kiosk's registrations table holds them."""
    t = 1_795_000_000.0
    decisions = ("pass", "deny", "refer")
    return [
        (
            i,
            device,
            t + i * 0.5,
            "2026-11-24",
            "code+card",
            "phic",
            "440000",
            f"{i:064x}",
            f"{i * 7919:064x}",
            "张*三",
            "1101**********002X",
            "green",
            36.0 + (i % 15) / 10,
            decisions[i % 3],
            "code.green" if i % 3 == 0 else "temperature.fever code.green",
        )
        for i in range(1, n + 1)
    ]


def make_outbox(directory: Path, n: int, device: str = DEVICE) -> Path:
    """A kiosk data directory with n unsynced registrations (bulk insert with the store's schema: set-up
    speed for benches and the chaos test; appends themselves are measured and tested elsewhere)."""
    from kiosk.store import RegistrationStore

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "device-id").write_text(device + "\n")
    RegistrationStore(directory, device).close()
    db = sqlite3.connect(directory / "registrations.sqlite")
    with db:
        db.executemany(
            f"INSERT INTO registrations ({COLUMNS}) VALUES ({', '.join('?' * 15)})", _rows(n, device)
        )
    db.close()
    return directory


@contextlib.contextmanager
def hub_process(hub_dir: Path, database: str | None = None, timeout: float = 30.0) -> Iterator[str]:
    """`kiosk hub serve` on a free loopback port; yields its URL once /v1/health answers."""
    cmd = [sys.executable, "-m", "kiosk.hub.cli", "hub", "serve", "--dir", str(hub_dir), "--port", "0"]
    cmd += ["--no-access-log", "--log-level", "warning"] + (["--database", database] if database else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    found: list[str] = []
    lines: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if "listening on " in line and not found:
                found.append(line.split("listening on ", 1)[1].split()[0])
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        if not ready.wait(timeout) or not found:
            raise RuntimeError(f"the hub did not start: {''.join(lines)[-2000:]}")
        url = found[0]
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/v1/health", timeout=2).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the hub is not answering: {''.join(lines)[-2000:]}")
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _fresh_kiosk(
    work: Path, template: Path, name: str, url: str, hub_dir: Path, database: str | None
) -> Path:
    from kiosk.hub import admin
    from kiosk.hub.db import HubDB
    from kiosk.sync.enroll import enroll

    data = work / name
    data.mkdir()
    shutil.copyfile(template / "registrations.sqlite", data / "registrations.sqlite")
    for extra in template.iterdir():  # the store's hash key and device id
        if extra.is_file() and not extra.name.startswith("registrations.sqlite"):
            shutil.copyfile(extra, data / extra.name)
    with HubDB(hub_dir, database) as db:
        code = admin.make_enroll_code(db)
    enroll(data, url, code)
    return data


def _drain_client(data: Path) -> tuple[float, int]:
    from kiosk.sync.client import SyncClient

    with SyncClient(data, batch=BATCH) as client:
        start = time.perf_counter()
        n = client.push()
        took = time.perf_counter() - start
        assert client.store.pending() == 0
    return took, n


def _drain_bare(data: Path, url: str) -> tuple[float, int]:
    """The same batches, serialised and signed beforehand, POSTed in a plain keep-alive loop."""
    from kiosk.hub.httpsig import sign_request
    from kiosk.store import RegistrationStore
    from kiosk.sync.client import _dumps, registration_row
    from kiosk.sync.enroll import load_device_key

    key = load_device_key(data)
    bodies: list[bytes] = []
    with RegistrationStore(data, DEVICE) as store:
        after = 0
        while rows := store.unsynced(BATCH, after_seq=after):
            bodies.append(_dumps({"device_id": DEVICE, "registrations": [registration_row(r) for r in rows]}))
            after = rows[-1].seq
    now = time.time()
    requests = [
        (
            body,
            {
                **sign_request(key, DEVICE, "POST", "/v1/registrations", "", body, now),
                "Content-Type": "application/json",
            },
        )
        for body in bodies
    ]
    sent = 0
    with httpx.Client(timeout=60) as http:
        start = time.perf_counter()
        for body, headers in requests:
            response = http.post(url + "/v1/registrations", content=body, headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"baseline POST refused: {response.status_code} {response.text[:200]}")
            sent += body.count(b'"seq":')
        took = time.perf_counter() - start
    return took, sent


def drain_100k(work: Path, rows: int = 100_000, rounds: int = 2) -> dict:
    from kiosk.hub import admin

    template = make_outbox(work / "template", rows)
    client_rates, bare_rates = [], []
    for r in range(rounds):
        for which in ("client", "bare") if r % 2 == 0 else ("bare", "client"):
            hub_dir = work / f"hub-{r}-{which}"
            admin.init_hub(hub_dir)
            with hub_process(hub_dir) as url:
                data = _fresh_kiosk(work, template, f"kiosk-{r}-{which}", url, hub_dir, None)
                took, n = _drain_client(data) if which == "client" else _drain_bare(data, url)
            assert n == rows, (which, n)
            (client_rates if which == "client" else bare_rates).append(rows / took)
            shutil.rmtree(hub_dir, ignore_errors=True)
            shutil.rmtree(data, ignore_errors=True)
    ops, base = statistics.median(client_rates), statistics.median(bare_rates)
    return {
        "name": "sync.drain_100k",
        "ops_per_s": round(ops, 1),
        "baseline": "bare httpx POST loop of the same pre-serialised, pre-signed batches (rows/s)",
        "baseline_ops_per_s": round(base, 1),
        "ratio": round(ops / base, 3),
        "rows": rows,
        "batch": BATCH,
        "seconds": round(rows / ops, 2),
        "runs": {"client": [round(x) for x in client_rates], "bare": [round(x) for x in bare_rates]},
    }


# --- hub intake -----------------------------------------------------------------------------------------


def _intake_batches(rows: int) -> tuple[list[tuple[bytes, dict[str, str]]], Any]:
    """The signed request bodies of `rows` rows in batches, and the device key that signed them."""
    from kiosk.crypto.keys import EcP256SigningKey
    from kiosk.hub.httpsig import sign_request
    from kiosk.sync.client import _dumps

    key = EcP256SigningKey.generate()
    names = [c.strip() for c in COLUMNS.split(",")]
    out = []
    now = time.time()
    all_rows = _rows(rows)
    for i in range(0, rows, BATCH):
        docs = []
        for values in all_rows[i : i + BATCH]:
            d = dict(zip(names, values, strict=True))
            del d["device_id"]
            d["reasons"] = d["reasons"].split()
            docs.append(d)
        body = _dumps({"device_id": DEVICE, "registrations": docs})
        out.append((body, sign_request(key, DEVICE, "POST", "/v1/registrations", "", body, now)))
    return out, key


def _hub_intake(hub_dir: Path, database: str | None, batches: list, key: Any) -> float:
    """The registrations handler's work without HTTP: what `POST /v1/registrations` costs the hub."""
    from kiosk.crypto.keys import spki_pem
    from kiosk.hub import admin
    from kiosk.hub.app import parse_json, validate_batch
    from kiosk.hub.db import HubDB
    from kiosk.hub.httpsig import verify_request

    admin.init_hub(hub_dir, None, database)
    with HubDB(hub_dir, database) as db:
        with db.transaction() as tx:
            tx.execute(
                "INSERT INTO devices (device_id, public_key, name, site, enrolled_at, last_seen, acked_seq) "
                "VALUES (?, ?, NULL, NULL, ?, ?, 0)",
                (DEVICE, spki_pem(key.public_key().spki_der()).decode(), time.time(), time.time()),
            )
        public = key.public_key()
        start = time.perf_counter()
        for body, headers in batches:
            now = time.time()
            signed = verify_request("POST", "/v1/registrations", "", headers, body, lambda _k: public, now)
            rows = validate_batch(parse_json(body), signed.device_id)
            with db.transaction() as tx:
                db.accept(tx, signed.device_id, signed.nonce, now)
                db.store_rows(tx, signed.device_id, rows, now)
        took = time.perf_counter() - start
        device = db.device(DEVICE)
        assert device is not None and device.acked_seq == sum(b.count(b'"seq":') for b, _ in batches)
    return took


_BARE_SCHEMA = """CREATE TABLE bare_rows (
    device_id TEXT NOT NULL, seq BIGINT NOT NULL, ts DOUBLE PRECISION NOT NULL, day TEXT NOT NULL,
    method TEXT NOT NULL, format TEXT, issuer TEXT, code_id_hash TEXT, id_number_hash TEXT,
    masked_name TEXT, masked_id TEXT, colour TEXT, temperature DOUBLE PRECISION, decision TEXT NOT NULL,
    reasons TEXT NOT NULL, received_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (device_id, seq))"""


def _bare_insert(connect: Callable[[], object], postgres: bool, rows: int) -> float:
    """executemany of the same rows, one transaction per batch, into a same-shaped table."""
    values = [(DEVICE, *r[:1], *r[2:14], json.dumps(r[14].split()), 0.0) for r in _rows(rows)]
    mark = "%s" if postgres else "?"
    sql = (
        "INSERT INTO bare_rows (device_id, seq, ts, day, method, format, issuer, code_id_hash, id_number_hash, "
        "masked_name, masked_id, colour, temperature, decision, reasons, received_at) VALUES ("
        + ", ".join([mark] * 16)
        + ")"
    )
    conn = connect()
    try:
        cur = conn.cursor()  # type: ignore[attr-defined]
        cur.execute(_BARE_SCHEMA)
        if not postgres:
            conn.commit()  # type: ignore[attr-defined]
        start = time.perf_counter()
        for i in range(0, rows, BATCH):
            if postgres:
                with conn.transaction():  # type: ignore[attr-defined]
                    cur.executemany(sql, values[i : i + BATCH])
            else:
                cur.execute("BEGIN")
                cur.executemany(sql, values[i : i + BATCH])
                cur.execute("COMMIT")
        return time.perf_counter() - start
    finally:
        conn.close()  # type: ignore[attr-defined]


def _sqlite_connect(path: Path) -> Callable[[], object]:
    def connect() -> sqlite3.Connection:
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        return db

    return connect


def _pg_connect(url: str) -> Callable[[], object]:
    def connect() -> object:
        import psycopg

        return psycopg.connect(url, autocommit=True)

    return connect


def hub_ingest(work: Path, engine: str, rows: int = 100_000, rounds: int = 2) -> dict | None:
    batches, key = _intake_batches(rows)
    intake, bare = [], []
    with contextlib.ExitStack() as stack:
        server = None
        if engine == "postgresql":
            from kiosk.hub import pgtemp

            if pgtemp.find_bindir() is None:
                return None
            try:
                server = stack.enter_context(pgtemp.temp_postgres())
            except pgtemp.PostgresUnavailable as exc:
                print(f"hub.ingest.postgresql skipped: {exc}", file=sys.stderr)
                return None
        for r in range(rounds):
            database = _pg_database(server, f"intake_{r}") if server else None
            intake.append(rows / _hub_intake(work / f"ingest-{engine}-{r}", database, batches, key))
            if server:
                connect = _pg_connect(_pg_database(server, f"bare_{r}"))
            else:
                connect = _sqlite_connect(work / f"bare-{r}.sqlite")
            bare.append(rows / _bare_insert(connect, server is not None, rows))
    ops, base = statistics.median(intake), statistics.median(bare)
    return {
        "name": f"hub.ingest.{engine}",
        "ops_per_s": round(ops, 1),
        "baseline": f"bare executemany INSERT of the same rows, {BATCH} per transaction, same engine",
        "baseline_ops_per_s": round(base, 1),
        "ratio": round(ops / base, 3),
        "rows": rows,
        "batch": BATCH,
    }


def _pg_database(url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + "/" + name


# --- registration -------------------------------------------------------------------------------------------


def _work_dir() -> Path:
    from kiosk.bench_store import _bench_dir

    return _bench_dir()


BENCHMARKS: dict[str, Callable[[Path, bool], dict | None]] = {
    "sync.drain_100k": lambda work, quick: drain_100k(work, 20_000 if quick else 100_000, 1 if quick else 2),
    "hub.ingest.sqlite": lambda work, quick: hub_ingest(
        work, "sqlite", 20_000 if quick else 100_000, 1 if quick else 2
    ),
    "hub.ingest.postgresql": lambda work, quick: hub_ingest(
        work, "postgresql", 20_000 if quick else 100_000, 1 if quick else 2
    ),
}


def run(prefixes: list[str], seconds: float = 1.0, *, quick: bool | None = None) -> list[dict]:
    """The sync benchmarks selected by name prefix (all when `prefixes` is empty). `quick` (default:
    `seconds` < 0.5) uses 20,000 rows and one run of each side instead of 100,000 and two."""
    quick = seconds < 0.5 if quick is None else quick
    selected = [n for n in BENCHMARKS if not prefixes or any(n.startswith(p) for p in prefixes)]
    results: list[dict] = []
    for i, name in enumerate(selected, 1):
        print(f"[sync {i}/{len(selected)}] {name} ...", file=sys.stderr, flush=True)
        work = _work_dir()
        try:
            result = BENCHMARKS[name](work, quick)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if result is not None:
            results.append(result)
    return results


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    prefixes = [a for a in argv if not a.startswith("--")]
    print(json.dumps({"benchmarks": run(prefixes, quick=quick)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
