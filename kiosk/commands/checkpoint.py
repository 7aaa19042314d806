"""The checkpoint: `kiosk run`, `kiosk demo`, `kiosk export`, `kiosk audit`, `kiosk screenshots`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from kiosk.commands.common import UsageError, data_dir


def cmd_run(args: argparse.Namespace) -> int:
    import dataclasses

    from drivers.config import SECTIONS, SerialScannerConfig, load
    from kiosk.app.hubsync import site_policy
    from kiosk.app.run import run_scenario
    from kiosk.app.scenario import load_scenario

    devices = load(args.config)
    if args.sim:
        for name in SECTIONS:
            section = getattr(devices, name)
            if section is not None:
                setattr(devices, name, dataclasses.replace(section, backend="sim"))
        if devices.serial_scanner is None and args.scenario:
            devices.serial_scanner = SerialScannerConfig(backend="sim")  # scenario "scan" events arrive here
    steps = load_scenario(args.scenario) if args.scenario else None
    from drivers.gpio import install_signal_handlers

    install_signal_handlers()  # SIGTERM: relay off, then the normal shutdown
    policy = site_policy(data_dir(args.data_dir), args.policy)  # the hub's, when it published one
    if not args.headless:
        from kiosk.ui.app import qt_available, run_with_window

        if qt_available():
            return run_with_window(
                data_dir(args.data_dir),
                policy,
                devices,
                steps,
                guard_pin_hash=policy.guard_pin_hash or None,
                technician_pin_hash=policy.technician_pin_hash or None,
                devices_path=args.config,
                full_screen=not args.scenario,
            )
        print(
            "kiosk: no display (DISPLAY/WAYLAND_DISPLAY/QT_QPA_PLATFORM); running headless", file=sys.stderr
        )
    return run_scenario(data_dir(args.data_dir), policy, devices, steps)


def cmd_demo(args: argparse.Namespace) -> int:
    from kiosk.app.demo import run_demo
    from kiosk.app.run import run_scenario

    runner = run_scenario
    if not args.headless:
        from kiosk.ui.app import qt_available, run_with_window

        runner = run_with_window if qt_available() else run_scenario
    return run_demo(Path(args.dir) if args.dir else None, runner=runner)


def _day_and_store(args: argparse.Namespace) -> tuple[Any, Any]:
    """`--day` as a date and the data directory's RegistrationStore in the site's time zone."""
    import datetime as _dt

    from kiosk.app.hubsync import site_policy
    from kiosk.app.run import device_id
    from kiosk.store.registrations import RegistrationStore

    try:
        day = _dt.date.fromisoformat(args.day)
    except ValueError:
        raise UsageError(f"--day {args.day!r}: expected YYYY-MM-DD") from None
    directory = data_dir(args.data_dir)
    if not (directory / "registrations.sqlite").exists():
        raise UsageError(f"no registrations in {directory}")
    policy = site_policy(directory, args.policy)
    return day, RegistrationStore(directory, device_id(directory), tz=policy.timezone)


def cmd_export(args: argparse.Namespace) -> int:
    import getpass

    day, store = _day_and_store(args)
    try:
        counts = store.export_day(
            day, args.format, args.out or sys.stdout, actor=getpass.getuser(), reason="kiosk export"
        )
        print(
            f"{day}: {counts.total} registrations, {counts.passed} passed, {counts.denied} denied, "
            f"{counts.referred} referred, {counts.fever} fever",
            file=sys.stderr,
        )
    finally:
        store.close()
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    day, store = _day_and_store(args)
    try:
        n = store.export_audit(day, args.format, args.out or sys.stdout)
    finally:
        store.close()
    print(f"{day}: {n} audit entries", file=sys.stderr)
    return 0


def cmd_screenshots(args: argparse.Namespace) -> int:
    try:
        from kiosk.ui.screenshots import write_screenshots
    except ImportError as exc:
        print(f"kiosk screenshots needs PySide6-Essentials: {exc}", file=sys.stderr)
        return 2
    paths = write_screenshots(Path(args.out))
    print(json.dumps({"type": "screenshots", "out": str(args.out), "count": len(paths)}))
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("run", help="the checkpoint (headless: JSON lines of decisions and actions)")
    r.add_argument("--sim", action="store_true", help="simulated hardware")
    r.add_argument("--headless", action="store_true", help="no screen")
    r.add_argument("--scenario", help="play this JSON-lines file of timed events, then exit")
    r.add_argument("--data-dir")
    r.add_argument("--policy", help="site policy (TOML); default: docs/policy.md defaults")
    r.add_argument("--config", help="device configuration (TOML); default: every device simulated")
    r.set_defaults(func=cmd_run)

    dm = sub.add_parser("demo", help="the checkpoint on simulated hardware with demo keys and travellers")
    dm.add_argument("--dir", help="keep the demo's keys and data here (default: a new temporary directory)")
    dm.add_argument("--headless", action="store_true", help="no window even where there is a display")
    dm.set_defaults(func=cmd_demo)

    for name, what, func in (
        ("export", "one day's registrations (masked) with the day's counts", cmd_export),
        ("audit", "one day's audit log: guard and technician actions, who, what and why", cmd_audit),
    ):
        ex = sub.add_parser(name, help=what)
        ex.add_argument("--day", required=True, help="YYYY-MM-DD, in the site's time zone")
        ex.add_argument("--format", choices=["csv", "jsonl"], default="csv")
        ex.add_argument("--out", help="file to write (default: standard output)")
        ex.add_argument("--data-dir")
        ex.add_argument("--policy", help="site policy (for its time zone)")
        ex.set_defaults(func=func)

    sc = sub.add_parser("screenshots", help="render every traveller-screen state to PNG files (offscreen)")
    sc.add_argument("--out", required=True, metavar="DIR")
    sc.set_defaults(func=cmd_screenshots)
