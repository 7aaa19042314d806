"""Helpers for tests that talk to a hub (the hub's own tests and the sync client's).

Stable API (the sync-client tests import it):

- ``make_hub(path, database_url=None) -> Hub``: an initialised hub directory (root key made);
  ``hub.code(device_id=None, site=None, hours=24)`` makes an enrolment code, ``hub.db()`` opens its
  database, ``hub.root`` is the root ``IssuerKey``, ``hub.root_pem`` its public PEM.
- ``Device.new(device_id)``: a device key pair; ``device.sign(method, path, query, body, now)`` the
  three signature headers; ``device.public_pem``; ``device.save(data_dir)`` writes
  ``device-key.pem`` (0600) and ``device-id`` as a kiosk keeps them.
- ``DeviceClient(http, device, clock=time.time)``: signed requests over any ``httpx.Client`` (a
  ``fastapi.testclient.TestClient`` too): ``request()``, ``enroll()``, ``push()``, ``get()``.
- ``row(seq, **fields)``: a valid registration row (masked, hashed) for ``POST /v1/registrations``.
- ``run_hub(hub_dir, database_url=None, env=None) -> HubProcess``: a REAL hub (``python -m
  kiosk.hub.cli hub serve --port 0``) as a context manager: waits for ``GET /v1/health``, yields
  ``HubProcess`` (``.url``, ``.proc``, ``.kill()`` for SIGKILL, ``.log()``), and always stops it.
- fixtures (import them into a test module or a conftest: ``from hubtools import hub, hub_server``):
  ``hub`` (a fresh hub directory in tmp_path) and ``hub_server`` (a real hub process over it).
  ``hub.publish_bundle()``, ``hub.publish_status_list(seq, base_seq, entries)``,
  ``hub.publish_policy(text, site)`` publish as the operator would (returning the seq).
- ``pg_url`` fixture: a session-scoped throwaway PostgreSQL URL (``kiosk.hub.pgtemp``), skipping only
  when no PostgreSQL server binaries are installed; ``fresh_database(pg_url)`` a new empty database
  on it (pass it to ``make_hub``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from kiosk.crypto.keys import EcP256SigningKey, spki_pem
from kiosk.hub import admin, httpsig
from kiosk.hub.db import HubDB
from kiosk.issuer.keys import IssuerKey

ROOT = Path(__file__).resolve().parents[1]
READY = re.compile(r"kiosk hub: listening on (\S+)")


# --- hub directory ----------------------------------------------------------------------------------


@dataclass
class Hub:
    dir: Path
    database_url: str | None
    root: IssuerKey

    @property
    def root_pem(self) -> str:
        return admin.root_public_pem(self.root)

    def db(self) -> HubDB:
        return HubDB(self.dir, self.database_url)

    def code(self, device_id: str | None = None, site: str | None = None, hours: float = 24) -> str:
        with self.db() as db:
            return admin.make_enroll_code(db, device_id=device_id, site=site, hours=hours)

    def _incoming(self) -> Path:
        path = self.dir / "incoming"
        path.mkdir(exist_ok=True)
        return path

    def publish_bundle(self, issuers: list[IssuerKey] | None = None, valid_hours: float = 168) -> int:
        """Add `issuers` (default: one new ES256 key for 440000) and publish a bundle; returns its seq."""
        from kiosk.issuer import keys as issuer_keys

        issuers = issuers if issuers is not None else [issuer_keys.generate("es256", "440000")]
        with self.db() as db:
            for key in issuers:
                path = self._incoming() / f"issuer-{key.kid.hex()}.pem"
                issuer_keys.save(key, path)
                admin.add_issuer(db, key.iss, path)
            return admin.publish_bundle(db, self.root, valid_hours=valid_hours).seq

    def publish_status_list(
        self, seq: int, base_seq: int | None = None, entries: Any = (), valid_hours: float = 48
    ) -> int:
        """Sign a status list with the root (entries: (ID number, "yellow"|"red"|"clear") pairs) and
        publish it; returns its seq."""
        from kiosk.issuer.status_list import write_status_list

        path = self._incoming() / f"list-{seq}.ksl"
        write_status_list(path, self.root, seq, base_seq, list(entries), valid_hours=valid_hours)
        with self.db() as db:
            return admin.publish_status_list(db, self.dir, self.root, path).seq

    def publish_policy(self, text: str = "fever_threshold = 37.3\n", site: str | None = None) -> int:
        path = self._incoming() / "policy.toml"
        path.write_text(text)
        with self.db() as db:
            return admin.publish_policy(db, self.root, path, site=site).seq

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `kiosk hub ARGS --dir this-hub [--database URL]` in a subprocess."""
        extra = ["--dir", str(self.dir)] + (["--database", self.database_url] if self.database_url else [])
        done = subprocess.run(
            [sys.executable, "-m", "kiosk.hub.cli", "hub", *args, *extra],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"kiosk hub {' '.join(args)} failed ({done.returncode}): {done.stderr}")
        return done


def make_hub(path: str | os.PathLike, database_url: str | None = None) -> Hub:
    result = admin.init_hub(path, None, database_url)
    return Hub(Path(path), database_url, result.root)


# --- a device ---------------------------------------------------------------------------------------


@dataclass
class Device:
    device_id: str
    key: EcP256SigningKey

    @classmethod
    def new(cls, device_id: str = "kiosk-test") -> Device:
        return cls(device_id, EcP256SigningKey.generate())

    @property
    def public_pem(self) -> str:
        return spki_pem(self.key.public_key().spki_der()).decode("ascii")

    def sign(
        self, method: str, path: str, query: str, body: bytes, now: float, nonce: str | None = None
    ) -> dict:
        return httpsig.sign_request(self.key, self.device_id, method, path, query, body, now, nonce)

    def save(self, data_dir: str | os.PathLike) -> None:
        d = Path(data_dir)
        d.mkdir(parents=True, exist_ok=True)
        fd = os.open(d / "device-key.pem", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(self.key.private_pem())
        (d / "device-id").write_text(self.device_id + "\n")


def row(seq: int, **fields: Any) -> dict[str, Any]:
    """A valid registration row as the kiosk stores it (no personal data in clear)."""
    base: dict[str, Any] = {
        "seq": seq,
        "ts": 1_764_000_000.0 + seq,
        "day": "2025-11-24",
        "method": "code",
        "format": "phic",
        "issuer": "440000",
        "code_id_hash": f"{seq:064x}",
        "id_number_hash": None,
        "masked_name": "Z* S*",
        "masked_id": "4403**********1234",
        "colour": "green",
        "temperature": 36.5,
        "decision": "pass",
        "reasons": ["code.green"],
    }
    base.update(fields)
    return base


@dataclass
class DeviceClient:
    """Signed requests as a kiosk makes them (over any httpx.Client, e.g. a TestClient)."""

    http: httpx.Client
    device: Device
    clock: Callable[[], float] = time.time
    base_url: str = ""

    def request(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        body: bytes = b"",
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        now: float | None = None,
        nonce: str | None = None,
        sign: bool = True,
    ) -> httpx.Response:
        if json_body is not None:
            body = json.dumps(json_body).encode()
        hdrs = {"Content-Type": "application/json"} if body else {}
        if sign:
            hdrs.update(
                self.device.sign(method, path, query, body, self.clock() if now is None else now, nonce)
            )
        hdrs.update(headers or {})
        url = self.base_url + path + (f"?{query}" if query else "")
        return self.http.request(method, url, content=body, headers=hdrs)

    def get(self, path: str, query: str = "", headers: dict[str, str] | None = None) -> httpx.Response:
        return self.request("GET", path, query=query, headers=headers)

    def enroll(self, code: str, *, name: str | None = None, site: str | None = None) -> httpx.Response:
        doc: dict[str, Any] = {
            "device_id": self.device.device_id,
            "code": code,
            "public_key": self.device.public_pem,
        }
        if name is not None:
            doc["name"] = name
        if site is not None:
            doc["site"] = site
        return self.request("POST", "/v1/enroll", json_body=doc)

    def push(self, rows: list[dict[str, Any]]) -> httpx.Response:
        return self.request(
            "POST", "/v1/registrations", json_body={"device_id": self.device.device_id, "registrations": rows}
        )


# --- a real hub process -----------------------------------------------------------------------------


@dataclass
class HubProcess:
    url: str
    proc: subprocess.Popen
    _lines: list[str] = field(default_factory=list)

    def log(self) -> str:
        return "".join(self._lines)

    def kill(self) -> None:
        """SIGKILL, as a power cut would (for crash tests)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@contextlib.contextmanager
def run_hub(
    hub_dir: str | os.PathLike,
    database_url: str | None = None,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 30.0,
    extra_args: tuple[str, ...] = (),
) -> Iterator[HubProcess]:
    """Start `python -m kiosk.hub.cli hub serve` on 127.0.0.1 (a free port), wait until /v1/health
    answers, yield it, and stop it (SIGTERM, then SIGKILL) whatever happens."""
    cmd = [sys.executable, "-m", "kiosk.hub.cli", "hub", "serve", "--dir", str(hub_dir), "--port", "0"]
    if database_url:
        cmd += ["--database", database_url]
    cmd += list(extra_args)
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    found: dict[str, str] = {}
    ready = threading.Event()

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            m = READY.search(line)
            if m and not ready.is_set():
                found["url"] = m.group(1)
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    hub = None
    try:
        if not ready.wait(timeout) or "url" not in found:
            raise RuntimeError(f"the hub did not start: {''.join(lines)[-3000:]}")
        hub = HubProcess(found["url"], proc, lines)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(hub.url + "/v1/health", timeout=2, verify=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the hub is not answering: {''.join(lines)[-3000:]}")
            time.sleep(0.05)
        yield hub
    finally:
        if hub is not None:
            hub.stop()
        elif proc.poll() is None:
            proc.kill()
            proc.wait(10)


# --- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    """A fresh SQLite hub directory."""
    return make_hub(tmp_path / "hub")


@pytest.fixture
def hub_server(hub: Hub) -> Iterator[HubProcess]:
    """A real hub process over the `hub` fixture's directory."""
    with run_hub(hub.dir) as proc:
        yield proc


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A throwaway PostgreSQL server for the session (skips only without PostgreSQL binaries)."""
    from kiosk.hub import pgtemp

    if pgtemp.find_bindir() is None:
        pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")
    with pgtemp.temp_postgres() as url:
        yield url


def fresh_database(url: str) -> str:
    """A new empty database on the server of `url` (so tests sharing a server do not share tables)."""
    import secrets

    import psycopg

    name = "hub_" + secrets.token_hex(6)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + "/" + name
