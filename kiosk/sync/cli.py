"""`kiosk sync` and `kiosk sync enroll`.

    kiosk sync [--once] [--data-dir DIR] [--json] [--interval S] [--max-backoff S] [--batch N]
    kiosk sync enroll --hub URL --code CODE [--root-fingerprint HEX] [--name NAME] [--site SITE]

`kiosk sync` runs rounds until SIGTERM/SIGINT (the systemd service) and prints one line (or with
`--json` one JSON object) per round; `--once` runs one round. Exit status: 0 done (a round without
errors with `--once`), 1 a round with errors, not enrolled, or enrolment refused, 2 usage.
`python -m kiosk.sync.cli sync ...` works without the main `kiosk` command.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `sync` (with its `enroll` action) to the `kiosk` command's sub-parsers."""
    s = subparsers.add_parser("sync", help="sync with the hub: pull trust and policy, push registrations")
    s.add_argument("--once", action="store_true", help="one round, then exit (status 1 if it had errors)")
    s.add_argument("--data-dir")
    s.add_argument("--json", action="store_true", help="one JSON object per round")
    s.add_argument("--interval", type=float, default=60.0, help="seconds between rounds (default 60)")
    s.add_argument(
        "--max-backoff", type=float, default=300.0, help="longest wait after failed rounds (default 300)"
    )
    s.add_argument("--batch", type=int, default=500, help="registrations per request, 1-1000 (default 500)")
    s.set_defaults(func=cmd_sync)
    actions = s.add_subparsers(dest="sync_command", metavar="ACTION")
    e = actions.add_parser("enroll", help="enrol this kiosk with a hub (one-time code from the operator)")
    e.add_argument(
        "--hub", required=True, metavar="URL", help="the hub's base URL, e.g. https://hub.example:8443"
    )
    e.add_argument("--code", required=True, help="the one-time enrolment code (kiosk hub enroll-code)")
    e.add_argument(
        "--root-fingerprint",
        metavar="HEX",
        help="SHA-256 of the root key (SPKI DER) to insist on; without it, and with no root pinned yet, "
        "the hub's root key is trusted on first use",
    )
    e.add_argument("--name", help="a display name for the hub's device list")
    e.add_argument("--site", help="the site this kiosk stands at")
    e.add_argument("--data-dir", default=argparse.SUPPRESS)
    e.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    e.set_defaults(func=cmd_enroll)
    return s


def _data_dir(args: argparse.Namespace) -> Path:
    from kiosk.cli import data_dir

    return data_dir(getattr(args, "data_dir", None))


def cmd_enroll(args: argparse.Namespace) -> int:
    from kiosk.sync.enroll import EnrollError, enroll

    directory = _data_dir(args)
    try:
        info = enroll(
            directory,
            args.hub,
            args.code,
            root_fingerprint=args.root_fingerprint,
            name=args.name,
            site=args.site,
        )
    except EnrollError as exc:
        if getattr(args, "json", False):
            print(json.dumps({"ok": False, "error": str(exc)}, ensure_ascii=False))
        print(f"kiosk: {exc}", file=sys.stderr)
        return 1
    if getattr(args, "json", False):
        print(json.dumps({"ok": True, **info}, ensure_ascii=False))
        return 0
    print(f"enrolled {info['device_id']} with {info['url']} (site {info['site'] or '-'})")
    print(f"device key: {info['device_key']}, fingerprint {info['device_key_fingerprint']}")
    print(f"root key fingerprint (SHA-256 of its SPKI): {info['root_fingerprint']}")
    if info["tofu"]:
        print(
            "  trusted on first use: nothing was pinned and no --root-fingerprint was given. Compare this\n"
            "  fingerprint with the one the hub operator has; if they differ, re-provision this kiosk."
        )
    else:
        print(f"  {info['root_trust']}")
    print(f"wrote {directory / 'hub.json'}; start syncing with: kiosk sync")
    return 0


def describe(result: Any) -> str:
    """One line for a round."""
    parts = [
        "ok" if result.ok else "FAILED",
        f"pushed {result.pushed}",
        f"pending {result.pending if result.pending is not None else '-'}",
        f"bundle seq {result.bundle_seq if result.bundle_seq is not None else '-'}",
        f"status list seq {result.status_list_seq if result.status_list_seq is not None else '-'}",
        f"policy seq {result.policy_seq if result.policy_seq is not None else '-'}",
    ]
    if result.clock_offset is not None:
        parts.append(f"clock offset {result.clock_offset:+.1f} s")
    if result.changed:
        parts.append("updated " + ", ".join(result.changed))
    line = "sync: " + ", ".join(parts) + f" [{result.seconds:.2f} s]"
    for e in result.errors:
        line += f"\n  {e['step']}: {e['code']}: {e['message']}"
    return line


def cmd_sync(args: argparse.Namespace) -> int:
    from kiosk import sdnotify
    from kiosk.sync.client import SyncResult, open_client
    from kiosk.sync.transport import SyncError

    directory = _data_dir(args)
    if not 1 <= args.batch <= 1000:
        print("kiosk: --batch must be 1-1000", file=sys.stderr)
        return 2
    if args.interval <= 0 or args.max_backoff <= 0:
        print("kiosk: --interval and --max-backoff must be positive", file=sys.stderr)
        return 2

    def emit(result: SyncResult) -> None:
        if args.json:
            print(json.dumps(result.as_dict(), ensure_ascii=False), flush=True)
        else:
            print(describe(result), flush=True)
        sdnotify.status(("sync ok" if result.ok else "sync failing") + f", {result.pending} pending")

    stop = threading.Event()
    if not args.once:
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        said = False
        while True:
            try:
                client = open_client(directory, batch=args.batch)
                break
            except SyncError as exc:
                if args.once:
                    print(f"kiosk: {exc}", file=sys.stderr)
                    return 1
                if not said:
                    print(f"kiosk: {exc}; waiting for enrolment", file=sys.stderr, flush=True)
                    said = True
                if stop.wait(min(args.interval, 30.0)):
                    return 0
        with client:
            if args.once:
                result = client.sync_once()
                emit(result)
                return 0 if result.ok else 1
            sdnotify.ready("syncing")
            client.run_forever(stop, interval=args.interval, backoff_cap=args.max_backoff, on_result=emit)
    except KeyboardInterrupt:
        pass
    finally:
        sdnotify.stopping()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kiosk")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
