"""`kiosk status`: one screen for a technician over SSH.

Versions, names, the service state, the clock against the newest signed time seen, trust freshness
(each list's age against the policy's `trust_max_age_hours`), the registrations waiting for the hub,
the last decision and the last sync with the hub (and whether it is blocked until a person acts). Devices: the running service
holds the serial ports and GPIO lines, so a self-test beside it would fight it for them; `--selftest`
runs the devices' self-tests and is meant for a stopped service (`systemctl stop healthcode-kiosk`).

Reading never creates a store: a data directory without registrations stays without them. Run as root,
files SQLite touches are given back to the data directory's owner (see provision.restore_ownership).
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from kiosk import __version__
from kiosk.provision import DEVICE_ID_FILE, SITE_FILE, read_name, restore_ownership

SERVICE = "healthcode-kiosk.service"
PACKAGES = ("cryptography", "numpy", "opencv-python-headless", "zxing-cpp", "gpiozero", "pyscard", "smbus2")


def _utc(ts: float | None) -> str:
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def versions() -> dict:
    out = {"kiosk": __version__, "python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                out["os"] = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    out["kernel"] = platform.release()
    try:
        out["board"] = Path("/proc/device-tree/model").read_bytes().rstrip(b"\0").decode()
    except OSError:
        out["board"] = None
    return out


def service_state() -> str:
    if shutil.which("systemctl") is None:
        return "unknown (no systemctl)"
    try:
        proc = subprocess.run(
            ["systemctl", "is-active", SERVICE], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    if not Path("/run/systemd/system").is_dir():
        return "unknown (not booted with systemd)"
    answer = (proc.stdout.strip() or proc.stderr.strip() or "unknown").splitlines()
    return answer[0]


def trust(data_dir: Path, now: float, max_age_hours: float) -> list[dict]:
    from kiosk.trust import status_list
    from kiosk.trust.store import TrustStore

    rows = []
    if (data_dir / "trust.sqlite").exists():
        with TrustStore(data_dir) as store:
            rows = store.status()
    try:
        listed = status_list.source_status(data_dir)
    except ValueError as exc:  # a damaged list file: say so, do not crash the status screen
        return [
            *(_trust_row(r, now, max_age_hours) for r in rows),
            {"name": "status-list", "state": str(exc)},
        ]
    if listed is not None:
        rows.append(listed)
    return [_trust_row(r, now, max_age_hours) for r in rows]


def _trust_row(r, now: float, max_age_hours: float) -> dict:
    age = r.age_hours(now)
    state = r.state(now)
    if state == "OK" and age > max_age_hours:
        state = "TOO OLD"  # in force, but decisions resting on it are referred (trust.stale)
    return {
        "name": r.name,
        "entries": r.entries,
        "seq": r.seq,
        "signed_at": r.signed_at,
        "valid_until": r.valid_until,
        "age_hours": round(age, 1),
        "state": state,
    }


def last_sync(data_dir: Path, now: float) -> str:
    """The hub sync in one line, from `hub.json` and `sync-state.json` (kiosk/sync/state.py)."""
    from kiosk.sync.state import NEEDS_A_PERSON, NotEnrolled, read_hub, read_state

    try:
        hub = read_hub(data_dir)
    except NotEnrolled:
        return "never: not enrolled with a hub (offline kiosk; kiosk provision --hub URL --enroll-code CODE)"
    state = read_state(data_dir)
    if state.last_success is None:
        text = f"never with {hub.url}"
    else:
        text = f"{_utc(state.last_success)} ({(now - state.last_success) / 60:.0f} min ago) with {hub.url}"
    if state.last_attempt is not None:
        text += "; hub reachable" if state.online else "; hub NOT reachable at the last attempt"
    if state.clock_offset is not None:
        text += f"; clock offset {state.clock_offset:+.1f} s"
    if state.last_error:
        text += f"; last error: {state.last_error[:200]}"
    if state.blocked:
        codes = ", ".join(sorted({e["code"] for e in state.errors if e.get("code") in NEEDS_A_PERSON}))
        text += f"; BLOCKED ({codes}): retrying will not mend it, see docs/sync.md"
    return text


def registrations(data_dir: Path, tz: str) -> dict:
    if not (data_dir / "registrations.sqlite").exists():
        return {"pending": 0, "total": 0, "last_decision": None}
    from kiosk.store.registrations import RegistrationStore

    name = read_name(data_dir, DEVICE_ID_FILE) or "unknown"
    with RegistrationStore(data_dir, name, tz=tz) as store:
        recent = store.recent(1)
        return {
            "pending": store.pending(),
            "total": store.last_seq(),
            "last_decision": {"at": recent[0].ts, "decision": recent[0].decision} if recent else None,
        }


def collect(
    data_dir: Path,
    *,
    policy_path: str | None = None,
    config_path: str | None = None,
    now: float | None = None,
    run_selftest: bool = False,
    sim: bool = False,
) -> dict:
    from kiosk.policy.policy import load_policy

    now = time.time() if now is None else now
    policy = load_policy(policy_path if policy_path and Path(policy_path).is_file() else None)
    try:
        sources = trust(data_dir, now, policy.trust_max_age_hours)
        queue = registrations(data_dir, policy.timezone)
    finally:
        restore_ownership(data_dir)
    newest = max((s.get("signed_at") or 0 for s in sources), default=0)
    report = {
        "versions": versions(),
        "device": read_name(data_dir, DEVICE_ID_FILE),
        "site": read_name(data_dir, SITE_FILE) or (policy.site or None),
        "data_dir": str(data_dir),
        "service": service_state(),
        "clock": {
            "now": now,
            "newest_signed": newest or None,
            "state": "BEHIND (clock.untrusted: check the RTC)" if newest and now < newest else "OK",
        },
        "trust": sources,
        "registrations": queue,
        "last_sync": last_sync(data_dir, now),
        "devices": None,
    }
    if run_selftest:
        from drivers.config import load
        from kiosk.selftest import run

        path = config_path if config_path and Path(config_path).is_file() else None
        report["devices"] = run(load(path), sim=sim)
    return report


def render(report: dict) -> str:
    v = report["versions"]
    lines = [
        f"kiosk {v['kiosk']}  python {v['python']}  {v.get('os', '')}  kernel {v['kernel']}",
        f"board       {v.get('board') or '-'}",
        "packages    " + ", ".join(f"{k} {v[k] or 'MISSING'}" for k in PACKAGES),
        f"device      {report['device'] or '(not provisioned)'}",
        f"site        {report['site'] or '(not set)'}",
        f"data dir    {report['data_dir']}",
        f"service     {report['service']}",
        f"clock       {_utc(report['clock']['now'])}  {report['clock']['state']}",
        "trust:",
    ]
    if not report["trust"]:
        lines.append("  none imported: every code is refused with key.unknown (run kiosk provision)")
    for t in report["trust"]:
        if "entries" not in t:
            lines.append(f"  {t['name']:<22} {t['state']}")
            continue
        lines.append(
            f"  {t['name']:<22} {t['entries']:>7} entries  age {t['age_hours']:>6.1f} h  "
            f"valid until {_utc(t['valid_until'])}  {t['state']}"
        )
    r = report["registrations"]
    last = r["last_decision"]
    lines += [
        f"queue       {r['pending']} registrations waiting for the hub ({r['total']} recorded)",
        f"last        {_utc(last['at']) + '  ' + last['decision'] if last else 'no decision yet'}",
        f"last sync   {report['last_sync']}",
    ]
    if report["devices"] is None:
        lines.append("devices     not checked (stop the service, then: kiosk status --selftest)")
    else:
        lines.append("devices:")
        for d in report["devices"]:
            lines.append(f"  {d['name']:<16} {d['status'].upper():<9} {d['detail']}")
    return "\n".join(lines)


def run_cli(
    data_dir: Path,
    *,
    policy_path: str | None,
    config_path: str | None,
    run_selftest: bool,
    sim: bool,
    as_json: bool,
) -> int:
    """Exit status 0 when trust is in force and fresh and (if checked) every device is ok, else 1."""
    report = collect(
        data_dir, policy_path=policy_path, config_path=config_path, run_selftest=run_selftest, sim=sim
    )
    if as_json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(render(report))
    healthy = (
        bool(report["trust"])
        and all(t["state"] == "OK" for t in report["trust"])
        and report["clock"]["state"] == "OK"
        and (report["devices"] is None or all(d["status"] == "ok" for d in report["devices"]))
    )
    sys.stdout.flush()
    return 0 if healthy else 1
