"""Online provisioning against a real hub process, then the kiosk deciding and syncing by itself.

`kiosk provision --hub URL --enroll-code CODE` on a fresh data directory: enrolment with the root key's
fingerprint checked, the hub's bundle, status list and site policy pulled; `kiosk run` then decides
with them and its sync thread delivers the registration to the hub without `kiosk sync`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from hubtools import make_hub, run_hub

from drivers.idcard.fields import id_check_digit
from kiosk.issuer import keys
from kiosk.issuer.phic import mint
from kiosk.status import collect
from kiosk.store.registrations import RegistrationStore
from kiosk.sync.enroll import fingerprint

ROOT = Path(__file__).resolve().parents[1]
HOLDER = "11010519491231002" + id_check_digit("11010519491231002")
RED = "11010119800101001" + id_check_digit("11010119800101001")
DEVICES = (
    'id_reader = false\n[camera]\nbackend = "sim"\n[thermometer]\nbackend = "sim"\n[gpio]\nbackend = "sim"\n'
)


def kiosk(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kiosk.cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=timeout
    )


def test_provision_online_then_decide_and_sync(tmp_path: Path) -> None:
    hub = make_hub(tmp_path / "hub")
    issuer = keys.generate("es256", "440000")
    hub.publish_bundle([issuer])
    hub.publish_status_list(1, entries=[(RED, "red")])
    hub.publish_policy('site = "东门 East gate"\nresult_seconds = 0.6\ncompanion_window_seconds = 0.3\n')
    data, etc = tmp_path / "data", tmp_path / "etc"
    etc.mkdir()
    (etc / "devices.toml").write_text(DEVICES)
    root_fp = fingerprint(hub.root_pem.encode())
    with run_hub(hub.dir) as server:
        wrong = kiosk(
            "provision", "--hub", server.url, "--enroll-code", hub.code(), "--root-fingerprint", "ab" * 32,
            "--device-name", "gate-02", "--no-selftest", "--config-dir", str(etc), "--data-dir", str(tmp_path / "d2"),
        )  # fmt: skip
        assert wrong.returncode == 1 and "refused" in wrong.stderr, wrong.stderr
        assert not (tmp_path / "d2" / "hub.json").exists()

        done = kiosk(
            "provision", "--hub", server.url, "--enroll-code", hub.code(), "--root-fingerprint", root_fp,
            "--device-name", "gate-01", "--site", "东门 East gate", "--sim", "--config-dir", str(etc),
            "--data-dir", str(data), "--json",
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        steps = {s["step"]: s for s in json.loads(done.stdout)["steps"]}
        assert steps["hub enrolment"]["state"] == "ok" and root_fp in steps["hub enrolment"]["detail"]
        for step in ("issuer bundle from the hub", "status list from the hub", "site policy from the hub"):
            assert steps[step]["state"] == "ok", steps[step]
        assert steps["self-test"]["state"] == "ok"
        assert json.loads((data / "hub.json").read_text())["device_id"] == "gate-01"

        # the same code again is refused by the hub (one-time), the kiosk stays as it is
        again = kiosk("provision", "--hub", server.url, "--enroll-code", "x" * 20, "--no-selftest",
                      "--data-dir", str(tmp_path / "d3"))  # fmt: skip
        assert again.returncode == 1

        now = int(time.time())
        green = mint(issuer, colour="green", name="张小三", id_number=HOLDER, now=now).text
        scenario = tmp_path / "scenario.jsonl"
        scenario.write_text(
            "\n".join(
                json.dumps(e)
                for e in (
                    {"t": 0.3, "event": "temperature", "celsius": 36.6},
                    {"t": 0.4, "event": "scan", "text": green},
                )
            )
            + "\n"
        )
        run = kiosk(
            "run", "--sim", "--headless", "--scenario", str(scenario), "--data-dir", str(data),
            "--config", str(etc / "devices.toml"),
        )  # fmt: skip
        assert "Traceback" not in run.stderr, run.stderr
        decisions = [json.loads(x) for x in run.stdout.splitlines() if '"decision"' in x]
        assert [(d["decision"], d["reasons"]) for d in decisions] == [("pass", ["code.green"])], run.stdout

        # the kiosk's own sync thread delivered it (no `kiosk sync` was run)
        with hub.db() as db:
            rows = db.registrations("gate-01")
            assert db.registration_count() == 1
        assert [(r["seq"], r["decision"]) for r in rows] == [(1, "pass")]
    with RegistrationStore(data, "gate-01") as store:
        assert store.pending() == 0 and store.synced_seq() == 1
    state = json.loads((data / "sync-state.json").read_text())
    assert state["online"] is True and abs(state["clock_offset"]) < 5
    status = collect(data, policy_path=None)
    assert server.url in status["last_sync"] and "min ago" in status["last_sync"], status["last_sync"]
    assert "hub reachable" in status["last_sync"] and status["registrations"]["pending"] == 0
    assert "BLOCKED" not in status["last_sync"]
    # a round the hub refused (a software mismatch): `kiosk status` says a person must act
    state["errors"] = [{"step": "push", "code": "push.refused", "message": "the hub refused 2..2: 422"}]
    (data / "sync-state.json").write_text(json.dumps(state))
    blocked = collect(data, policy_path=None)["last_sync"]
    assert "BLOCKED (push.refused): retrying will not mend it" in blocked, blocked
