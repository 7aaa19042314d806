"""`kiosk run --sim --headless --scenario`: travellers played through the real drivers against their
simulators; every decision reason asserted on the printed decision and actuator lines, and on the
registrations in the database."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from drivers.idcard import id_check_digit
from kiosk.issuer import keys
from kiosk.issuer.bundle import make_bundle
from kiosk.issuer.phic import mint
from kiosk.trust import sources
from kiosk.trust.store import TrustStore

GAP = 2.2  # seconds between travellers: window 0.3 + measurement + result 0.6, with room for a slow CI


def idn(first17: str) -> str:
    return first17 + id_check_digit(first17)


ZHANG, LI, WANG, ZHOU = (
    idn("11010519491231002"),
    idn("44030119900101123"),
    idn("11010119800101001"),
    idn("11010120000101002"),
)
POLICY = "result_seconds = 0.6\ncompanion_window_seconds = 0.3\n"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    d = tmp_path_factory.mktemp("site")
    now = int(time.time())
    root = keys.generate("es256", "", root=True)
    gd = keys.generate("es256", "440000")
    data = d / "data"
    with TrustStore(data) as store:
        token = make_bundle(
            root, [("440000", gd.key.public_key(), {})], seq=1, issued_at=now, valid_hours=720
        )
        store.import_source(sources.phic_bundle(token.encode(), root.key.public_key()), now)
    revoked = mint(gd, colour="green", name="吴十", id_number=ZHANG, now=now)
    from kiosk.issuer.status_list import make_status_list
    from kiosk.trust.status_list import import_list

    blob = make_status_list(
        root,
        seq=1,
        base_seq=None,
        entries=[(WANG, "red"), (LI, "yellow")],
        revoked_ctis=[revoked.cti],
        issued_at=now,
        valid_hours=72,
    )
    import_list(blob, root.key.public_key(), data, now)
    (d / "policy.toml").write_text(POLICY)
    return {"dir": d, "data": data, "gd": gd, "now": now, "revoked": revoked.text}


def play(site, events: list[dict], *, policy: str | None = None, data: Path | None = None, timeout=240):
    d = site["dir"]
    scenario = d / f"scenario-{time.monotonic_ns()}.jsonl"
    scenario.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events))
    policy_path = d / "policy.toml"
    if policy is not None:
        policy_path = d / f"policy-{time.monotonic_ns()}.toml"
        policy_path.write_text(POLICY + policy)
    proc = subprocess.run(
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
            str(data or site["data"]),
            "--policy",
            str(policy_path),
        ],
        capture_output=True,
        timeout=timeout,
    )
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()
    lines = [json.loads(line) for line in proc.stdout.decode().splitlines() if line.strip()]
    return proc, lines


def visits(lines: list[dict]) -> list[tuple[dict, list[tuple[str, str]]]]:
    """Each decision with the actuator actions that followed it."""
    out: list = []
    for line in lines:
        if line["type"] == "decision":
            out.append((line, []))
        elif out and line["type"] == "actuator":
            out[-1][1].append((line["device"], line["action"]))
    return out


def code(site, colour="green", number=ZHANG, **kw) -> str:
    return mint(site["gd"], colour=colour, name="张小三", id_number=number, now=site["now"], **kw).text


def traveller(t: float, *events: dict, celsius: float = 36.6) -> list[dict]:
    return [{"t": t, "event": "temperature", "celsius": celsius}, *[{"t": t + 0.1, **e} for e in events]]


def test_a_day_at_the_door(site) -> None:
    stranger = keys.generate("es256", "440000")
    forged = mint(stranger, colour="green", name="孙八", id_number=ZHANG, now=site["now"]).text
    expired = code(site, not_before=site["now"] - 3 * 86400, valid_hours=24)
    future = code(site, not_before=site["now"] + 86400)
    damaged = code(site)
    damaged = damaged[:50] + ("A" if damaged[50] != "A" else "B") + damaged[51:]
    plan = [
        ("pass", ["code.green"], [{"event": "scan", "text": code(site)}]),
        ("refer", ["code.yellow"], [{"event": "scan", "text": code(site, "yellow")}]),
        ("deny", ["code.red"], [{"event": "scan", "text": code(site, "red")}]),
        ("deny", ["code.expired"], [{"event": "scan", "text": expired}]),
        ("deny", ["code.not_yet_valid"], [{"event": "scan", "text": future}]),
        ("deny", ["code.revoked"], [{"event": "scan", "text": site["revoked"]}]),
        ("deny", ["key.unknown"], [{"event": "scan", "text": forged}]),
        ("deny", ["decode.failed"], [{"event": "scan", "text": damaged}]),
        ("deny", ["format.unknown"], [{"event": "scan", "text": "https://example.com/menu"}]),
        (
            "pass",
            ["card.no_abnormality"],
            [{"event": "card", "id_number": ZHOU}, {"event": "card_removed", "t": 1.2}],
        ),
        (
            "refer",
            ["card.status_yellow"],
            [{"event": "card", "id_number": LI}, {"event": "card_removed", "t": 1.2}],
        ),
        (
            "deny",
            ["card.status_red"],
            [{"event": "card", "id_number": WANG}, {"event": "card_removed", "t": 1.2}],
        ),
        (
            "deny",
            ["code.green", "card.mismatch"],
            [
                {"event": "scan", "text": code(site)},
                {"event": "card", "id_number": ZHOU},
                {"event": "card_removed", "t": 1.2},
            ],
        ),
        (
            "pass",
            ["code.green"],
            [
                {"event": "scan", "text": code(site)},
                {"event": "card", "id_number": ZHANG},
                {"event": "card_removed", "t": 1.2},
            ],
        ),
    ]
    events, t = [], 0.3
    for _, _, steps in plan:
        for step in steps:
            step = dict(step)
            offset = step.pop("t", 0.0)
            events += traveller(t + offset, step) if offset == 0.0 else [{"t": t + offset, **step}]
        t += GAP
    events.sort(key=lambda e: e["t"])
    proc, lines = play(site, events)
    got = visits(lines)
    assert [(v["decision"], v["reasons"]) for v, _ in got] == [(d, r) for d, r, _ in plan], (
        proc.stderr.decode()
    )
    for decision, actions in got:
        if decision["decision"] == "pass":
            assert actions[:3] == [("gate", "pulse"), ("lamp", "green"), ("buzzer", "pass")]
        elif decision["decision"] == "deny":
            assert actions[:2] == [("lamp", "red"), ("buzzer", "stop")] and ("gate", "pulse") not in actions
        else:
            assert actions[:2] == [("lamp", "off"), ("buzzer", "refer")] and ("gate", "pulse") not in actions
    card_visit = got[9][0]
    assert card_visit["method"] == "card" and card_visit["id_number"] == ZHOU[:6] + "********" + ZHOU[-4:]
    assert got[12][0]["method"] == "code+card"
    # every printed decision is in the database, in order, with masked data only
    db = sqlite3.connect(site["data"] / "registrations.sqlite")
    rows = db.execute("SELECT seq, decision FROM registrations ORDER BY seq").fetchall()
    assert [r[1] for r in rows][-len(got) :] == [v["decision"] for v, _ in got]
    assert [v["seq"] for v, _ in got] == [r[0] for r in rows][-len(got) :]
    dump = "\n".join(db.iterdump())
    assert ZHANG not in dump and ZHOU not in dump and "PHC1:" not in dump


def test_fever_and_device_faults(site) -> None:
    events = [
        *traveller(0.3, {"event": "scan", "text": code(site)}, celsius=38.4),
        {"t": 0.3 + GAP, "event": "fault", "device": "thermometer", "kind": "missing"},
        *traveller(0.4 + GAP, {"event": "scan", "text": code(site)}),
        {"t": 0.3 + 2.5 * GAP, "event": "clear_fault", "device": "thermometer"},
        {"t": 0.3 + 3 * GAP, "event": "fault", "device": "id_reader", "kind": "auth_failed"},
        *traveller(0.4 + 3 * GAP, {"event": "card", "id_number": ZHOU}),
        {"t": 0.4 + 3 * GAP + 1.2, "event": "card_removed"},
        {"t": 0.2 + 4 * GAP, "event": "clear_fault", "device": "id_reader"},
        {"t": 0.3 + 4 * GAP, "event": "fault", "device": "id_reader", "kind": "read_failed"},
        *traveller(0.4 + 4 * GAP, {"event": "card", "id_number": ZHOU}),
        {"t": 0.4 + 4 * GAP + 1.2, "event": "card_removed"},
    ]
    proc, lines = play(site, events, timeout=300)
    got = [(v["decision"], v["reasons"]) for v, _ in visits(lines)]
    assert got[0] == ("deny", ["code.green", "temperature.fever"])
    assert got[1] == ("refer", ["code.green", "temperature.unavailable"])
    assert got[2] == ("deny", ["card.forged"])
    assert got[3] == ("refer", ["card.unreadable"])


def test_headless_door_alarm(site) -> None:
    """Without the window the door contact still raises the alarm: a JSON line and the buzzer."""
    events = [
        {"t": 0.3, "event": "door", "state": "open"},  # no gate pulse before it: forced
        {"t": 0.6, "event": "door", "state": "closed"},
        *traveller(1.0, {"event": "scan", "text": code(site)}),
    ]
    proc, lines = play(site, events)
    assert [(v["decision"], v["reasons"]) for v, _ in visits(lines)] == [("pass", ["code.green"])]
    alarms = [(x["kind"], x["device"]) for x in lines if x["type"] == "alarm"]
    assert alarms == [("door.forced", "door")], lines


def test_stale_trust_and_untrusted_clock(site, tmp_path) -> None:
    now = site["now"]
    root = keys.generate("es256", "", root=True)
    data = tmp_path / "data"
    with TrustStore(data) as store:  # a bundle signed four days ago: past the 72 h limit
        old = now - 4 * 86400
        token = make_bundle(
            root, [("440000", site["gd"].key.public_key(), {})], seq=1, issued_at=old, valid_hours=720
        )
        store.import_source(sources.phic_bundle(token.encode(), root.key.public_key()), old)
    proc, lines = play(site, traveller(0.3, {"event": "scan", "text": code(site)}), data=data)
    ((decision, _),) = visits(lines)
    assert (decision["decision"], decision["reasons"]) == ("refer", ["trust.stale", "code.green"])
    data2 = tmp_path / "data2"
    with TrustStore(data2) as store:  # a list signed "tomorrow": this kiosk's clock is behind
        future = now + 86400
        token = make_bundle(
            root, [("440000", site["gd"].key.public_key(), {})], seq=1, issued_at=future, valid_hours=720
        )
        store.import_source(sources.phic_bundle(token.encode(), root.key.public_key()), future)
    proc, lines = play(site, traveller(0.3, {"event": "scan", "text": code(site)}), data=data2)
    ((decision, _),) = visits(lines)
    assert decision["decision"] == "refer" and decision["reasons"][0] == "clock.untrusted"


def test_kill_9_loses_no_printed_decision(site, tmp_path) -> None:
    """SIGKILL `kiosk run` at random points of a long scenario: every printed decision is stored,
    the database opens cleanly and the sequence has no gaps or duplicates."""
    import random

    rng = random.Random(7)
    data = tmp_path / "data"
    import shutil

    shutil.copytree(site["data"], data)
    (data / "registrations.sqlite").unlink(missing_ok=True)
    for name in ("registrations.sqlite-wal", "registrations.sqlite-shm"):
        (data / name).unlink(missing_ok=True)
    text = code(site)
    events = []
    for i in range(40):
        events += traveller(0.3 + i * 1.2, {"event": "scan", "text": code(site) if i % 2 else text})
    scenario = tmp_path / "long.jsonl"
    scenario.write_text("".join(json.dumps(e) + "\n" for e in events))
    printed: list[int] = []
    rounds = int(os.environ.get("KIOSK_KILL_ROUNDS", "5"))
    for _ in range(rounds):
        proc = subprocess.Popen(
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
                str(site["dir"] / "policy.toml"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(3.0, 7.0))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        for line in out.decode().splitlines():
            if line.strip():
                obj = json.loads(line)
                if obj["type"] == "decision":
                    printed.append(obj["seq"])
    db = sqlite3.connect(data / "registrations.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    seqs = [r[0] for r in db.execute("SELECT seq FROM registrations ORDER BY seq")]
    assert seqs == list(range(1, len(seqs) + 1))  # no gaps, no duplicates
    assert set(printed) <= set(seqs) and printed, (printed, seqs)
