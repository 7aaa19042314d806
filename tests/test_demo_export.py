"""`kiosk demo` end to end, and `kiosk export` of the day it produced."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import zoneinfo


def test_demo_then_export(tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "demo", "--dir", str(tmp_path)], capture_output=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout.decode()
    decisions = [
        json.loads(line) for line in out.splitlines() if line.startswith("{") and '"decision"' in line
    ]
    decisions = [d for d in decisions if d["type"] == "decision"]
    reasons = [d["reasons"] for d in decisions[:12]]
    assert reasons == [
        ["code.green"],
        ["code.yellow"],
        ["code.red"],
        ["code.green", "temperature.fever"],
        ["code.expired"],
        ["key.unknown"],
        ["decode.failed"],
        ["code.revoked"],
        ["card.no_abnormality"],
        ["card.status_red"],
        ["code.green", "card.mismatch"],
        ["format.unknown"],
    ]
    assert "traveller" in out and "PASS" in out and "REFER" in out  # the table
    today = dt.datetime.now(zoneinfo.ZoneInfo("Asia/Shanghai")).date().isoformat()
    csv_path = tmp_path / "today.csv"
    exp = subprocess.run(
        [
            sys.executable,
            "-m",
            "kiosk.cli",
            "export",
            "--day",
            today,
            "--data-dir",
            str(tmp_path / "data"),
            "--out",
            str(csv_path),
        ],
        capture_output=True,
        timeout=60,
    )
    assert exp.returncode == 0, exp.stderr.decode()
    text = csv_path.read_text()
    assert "110101********" in text and "summary" in text
    assert b"12 registrations, 2 passed, 9 denied, 1 referred, 1 fever" in exp.stderr, exp.stderr
    for number in ("11010519491231002X",):
        assert number not in text
    # the export itself is in the day's audit log, which `kiosk audit` prints
    audit = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "audit", "--day", today, "--format", "jsonl"]
        + ["--data-dir", str(tmp_path / "data")],
        capture_output=True,
        timeout=60,
        text=True,
    )
    assert audit.returncode == 0, audit.stderr
    entries = [json.loads(line) for line in audit.stdout.splitlines()]
    assert [(e["type"], e["action"], e["reason"]) for e in entries][-1] == ("audit", "export", "kiosk export")
    assert entries[-1]["detail"] == {"day": today, "format": "csv", "rows": 12}
    assert f"{today}: {len(entries)} audit entries" in audit.stderr
    for bad_args in (["--day", "25/11"], ["--day", today, "--format", "xml"]):
        refused = subprocess.run(
            [sys.executable, "-m", "kiosk.cli", "audit", *bad_args, "--data-dir", str(tmp_path / "data")],
            capture_output=True,
            timeout=60,
            text=True,
        )
        assert refused.returncode == 2 and refused.stdout == "", refused.stderr
    empty = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "audit", "--day", today, "--data-dir", str(tmp_path / "none")],
        capture_output=True,
        timeout=60,
        text=True,
    )
    assert empty.returncode == 2 and "no registrations in" in empty.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "export", "--day", "25/11", "--data-dir", str(tmp_path / "data")],
        capture_output=True,
        timeout=60,
    )
    assert bad.returncode == 2 and b"YYYY-MM-DD" in bad.stderr
