"""End to end: a REAL hub process on loopback and a real kiosk data directory, driven by the commands a
technician and the kiosk service run (`kiosk sync enroll`, `kiosk sync --once`, `kiosk run --scenario`).

One story: the kiosk enrols and receives the bundle, status list and policy; a code from an issuer the
hub adds later goes from DENY (key.unknown) to PASS once synced; a status-list delta turns an ID card
from PASS (no abnormality) to DENY (red); every registration reaches the hub exactly once."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hubtools import make_hub, run_hub

from drivers.idcard import id_check_digit
from kiosk.issuer import keys
from kiosk.issuer.phic import mint

ROOT = Path(__file__).resolve().parents[1]
GAP = 2.2
POLICY = "result_seconds = 0.6\ncompanion_window_seconds = 0.3\ntimezone = 'Asia/Shanghai'\n"
ZHOU = "11010120000101002" + id_check_digit("11010120000101002")
LI = "44030119900101123" + id_check_digit("44030119900101123")


def kiosk(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "kiosk.sync.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def sync_once(data: Path) -> dict:
    done = kiosk("sync", "--once", "--json", "--data-dir", str(data))
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def play(data: Path, events: list[dict]) -> list[dict]:
    """`kiosk run --sim --headless --scenario` with the policy the hub delivered; the decisions."""
    scenario = data.parent / f"scenario-{time.monotonic_ns()}.jsonl"
    scenario.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kiosk.cli",
            "run",
            "--sim",
            "--headless",
            "--scenario",
            str(scenario),
            "--data-dir",
            str(data),
            "--policy",
            str(data / "hub-policy.toml"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=240,
    )
    assert "Traceback" not in done.stderr, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return [line for line in lines if line["type"] == "decision"]


def travellers(code_text: str) -> list[dict]:
    """A traveller with a code, then one with only an ID card."""
    t = 0.3
    return [
        {"t": t, "event": "temperature", "celsius": 36.6},
        {"t": t + 0.1, "event": "scan", "text": code_text},
        {"t": t + GAP, "event": "temperature", "celsius": 36.6},
        {"t": t + GAP + 0.1, "event": "card", "id_number": ZHOU},
        {"t": t + GAP + 1.2, "event": "card_removed"},
    ]


def test_enrol_sync_decide_and_report(tmp_path):
    hub = make_hub(tmp_path / "hub")
    first = keys.generate("es256", "440000")
    later = keys.generate("es256", "440300")  # an issuer the hub adds after the kiosk enrolled
    hub.publish_bundle([first])
    hub.publish_status_list(1, None, [(LI, "yellow")])
    policy_seq = hub.publish_policy(POLICY)
    data = tmp_path / "kiosk"
    with run_hub(hub.dir) as server:
        # enrolment, with the fingerprint the operator read out
        from kiosk.hub import admin

        done = kiosk(
            "sync",
            "enroll",
            "--hub",
            server.url,
            "--code",
            hub.code(site="Gate 3"),
            "--root-fingerprint",
            admin.fingerprint(hub.root),
            "--data-dir",
            str(data),
        )
        assert done.returncode == 0, done.stderr
        assert admin.fingerprint(hub.root) in done.stdout
        device = json.loads((data / "hub.json").read_text())["device_id"]

        result = sync_once(data)
        assert result["ok"] and result["changed"] == ["bundle", "status_list", "policy"]
        assert result["status_list_seq"] == 1 and result["policy_seq"] == policy_seq

        code_text = mint(later, colour="green", name="张小三", id_number=ZHOU, now=int(time.time()) - 60).text
        before = play(data, travellers(code_text))
        assert [(d["decision"], d["reasons"]) for d in before] == [
            ("deny", ["key.unknown"]),
            ("pass", ["card.no_abnormality"]),
        ]

        # the operator adds the issuer and marks the card holder red (a delta on seq 1)
        hub.publish_bundle([later])
        hub.publish_status_list(2, 1, [(ZHOU, "red")])
        result = sync_once(data)
        assert result["ok"] and result["changed"] == ["bundle", "status_list"], json.dumps(result)
        # `kiosk run` pushes its registrations itself when enrolled (kiosk.app.hubsync); either way:
        assert result["status_list_seq"] == 2 and result["synced_seq"] == 2 and result["pending"] == 0

        after = play(data, travellers(code_text))
        assert [(d["decision"], d["reasons"]) for d in after] == [
            ("pass", ["code.green"]),
            ("deny", ["card.status_red"]),
        ]
        result = sync_once(data)
        assert (
            result["ok"] and result["changed"] == [] and result["synced_seq"] == 4 and result["pending"] == 0
        )
        again = sync_once(data)
        assert again["ok"] and again["pushed"] == 0 and again["sent"] == 0

    # exactly once, in order, the same decisions as the kiosk's own database
    with hub.db() as db:
        stored = db.registrations(device)
    assert [r["seq"] for r in stored] == [1, 2, 3, 4]
    local = sqlite3.connect(data / "registrations.sqlite")
    mine = local.execute(
        "SELECT seq, decision, reasons, masked_id FROM registrations ORDER BY seq"
    ).fetchall()
    local.close()
    assert [(r["seq"], r["decision"], " ".join(r["reasons"]), r["masked_id"]) for r in stored] == mine
    assert [r["decision"] for r in stored] == ["deny", "pass", "pass", "deny"]
    state = json.loads((data / "sync-state.json").read_text())
    assert state["online"] and state["pending"] == 0 and state["synced_seq"] == 4
    assert abs(state["clock_offset"]) < 2


def test_kiosk_sync_service_follows_the_hub(tmp_path):
    """`kiosk sync` as the service runs it: rounds at its interval until SIGTERM, one JSON line each."""
    hub = make_hub(tmp_path / "hub")
    data = tmp_path / "kiosk"
    with run_hub(hub.dir) as server:
        assert (
            kiosk(
                "sync", "enroll", "--hub", server.url, "--code", hub.code(), "--data-dir", str(data)
            ).returncode
            == 0
        )
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kiosk.sync.cli",
                "sync",
                "--json",
                "--interval",
                "0.3",
                "--data-dir",
                str(data),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            first = json.loads(proc.stdout.readline())
            assert first["ok"] and first["bundle_seq"] is None
            seq = hub.publish_bundle()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                line = json.loads(proc.stdout.readline())
                if line["bundle_seq"] == seq:
                    assert line["changed"] == ["bundle"]
                    break
            else:
                pytest.fail("the running sync did not pick up the new bundle")
        finally:
            proc.terminate()
            proc.wait(15)
        assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
