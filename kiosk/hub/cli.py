"""`kiosk hub ...`: run the hub and administer it (docs/hub.md).

`add_parser(subparsers)` adds the command group to the `kiosk` parser; handlers return exit codes and
raise ValueError subclasses for problems the operator can fix (`kiosk.cli.main` prints them).
`python -m kiosk.hub.cli hub ...` runs the same commands without the rest of the `kiosk` CLI (the
tests start the hub this way).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path

from kiosk.hub import admin

DEFAULT_PORT = 8470


def _hub_dir(args: argparse.Namespace) -> Path:
    value = args.dir or os.environ.get("KIOSK_HUB_DIR")
    if not value:
        raise admin.HubAdminError("give --dir HUB_DIR (or set KIOSK_HUB_DIR)")
    path = Path(value)
    _check_owner(path)
    return path


def _check_owner(path: Path) -> None:
    """Root must not write into a hub directory the service's user owns: it could not read the files."""
    if os.geteuid() != 0:
        return
    try:
        owner = path.stat().st_uid
    except OSError:
        return
    if owner != 0:
        import pwd

        try:
            name = pwd.getpwuid(owner).pw_name
        except KeyError:
            name = str(owner)
        raise admin.HubAdminError(
            f"{path} belongs to {name}: run this as that user (sudo -u {name} kiosk hub ...), "
            "or the hub could not read what it writes"
        )


def _database(args: argparse.Namespace) -> str | None:
    return args.database or os.environ.get("KIOSK_HUB_DATABASE") or None


def _open(args: argparse.Namespace):  # noqa: ANN202
    from kiosk.hub.db import HubDB

    hub = _hub_dir(args)
    admin.load_root(hub)  # a clear message when the directory was never initialised
    return HubDB(hub, _database(args))


def _time(text: str | None) -> int | None:
    if text is None:
        return None
    from kiosk.cli import parse_time

    return parse_time(text)


def _fmt(ts: float | None) -> str:
    from kiosk.cli import fmt_time

    return fmt_time(ts)


def _handler(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Database outages become a one-line message (exit 2) like the other operator errors."""
    from kiosk.hub.db import DatabaseError

    @wraps(func)
    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except DatabaseError as exc:
            raise admin.HubAdminError(str(exc)) from None

    return run


# --- handlers ---------------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    hub = _hub_dir(args)
    result = admin.init_hub(hub, args.root_key, _database(args))
    what = "created" if result.created_key else "kept"
    print(f"hub {hub}: root key {what} ({admin.ROOT_KEY_FILE})")
    print(f"root kid {result.root.kid.hex()}")
    print(f"root fingerprint (SHA-256 of the public key) {admin.fingerprint(result.root)}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from kiosk import sdnotify
    from kiosk.hub.app import create_app
    from kiosk.hub.db import describe_url

    hub = _hub_dir(args)
    if bool(args.tls_cert) != bool(args.tls_key):
        raise admin.HubAdminError("--tls-cert and --tls-key go together")
    if args.root_path and (not args.root_path.startswith("/") or args.root_path.endswith("/")):
        raise admin.HubAdminError("--root-path must start with '/' and not end with one, e.g. /hub")
    app = create_app(hub, _database(args))
    app.state.on_ready = lambda: sdnotify.ready("hub serving")
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        sock.close()
        raise admin.HubAdminError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        ssl_certfile=args.tls_cert,
        ssl_keyfile=args.tls_key,
        date_header=False,  # the app sets Date from its own clock
        server_header=False,
        log_level=args.log_level,
        access_log=not args.no_access_log,
        proxy_headers=False,
        root_path=args.root_path,
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    scheme = "https" if args.tls_cert else "http"
    host = f"[{args.host}]" if family == socket.AF_INET6 else args.host
    print(
        f"kiosk hub: listening on {scheme}://{host}:{port} "
        f"(hub {hub}, database {describe_url(_database(args), hub)})",
        file=sys.stderr,
        flush=True,
    )
    server.run(sockets=[sock])
    return 0


def cmd_enroll_code(args: argparse.Namespace) -> int:
    with _open(args) as db:
        code = admin.make_enroll_code(db, device_id=args.device_id, site=args.site, hours=args.hours)
    if args.json:
        print(json.dumps({"code": code, "device_id": args.device_id, "site": args.site, "hours": args.hours}))
    else:
        print(code)
        bound = f" for device {args.device_id}" if args.device_id else ""
        print(
            f"one-time enrolment code{bound}, valid {args.hours:g} h; it is shown only now", file=sys.stderr
        )
    return 0


def cmd_issuer_add(args: argparse.Namespace) -> int:
    with _open(args) as db:
        kid = admin.add_issuer(
            db,
            args.iss,
            args.key,
            name=args.name,
            code_types=args.code_types,
            not_before=_time(args.not_before),
            not_after=_time(args.not_after),
        )
    print(f"issuer {args.iss}: key {kid} added (publish it with `kiosk hub publish-bundle`)")
    return 0


def cmd_issuer_remove(args: argparse.Namespace) -> int:
    with _open(args) as db:
        n = admin.remove_issuer(db, args.iss, args.kid)
    print(f"issuer {args.iss}: {n} key(s) removed (kiosks drop them with the next bundle)")
    return 0


def cmd_issuer_list(args: argparse.Namespace) -> int:
    with _open(args) as db:
        rows = admin.list_issuers(db)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    if not rows:
        print("no issuer keys")
    for r in rows:
        types = ",".join(r["code_types"]) if r["code_types"] else "any"
        window = f"{_fmt(r['not_before'])} .. {_fmt(r['not_after'])}"
        print(f"{r['iss']}  {r['kid']}  {r['alg']}  types {types}  {window}  {r['name'] or ''}".rstrip())
    return 0


def cmd_publish_bundle(args: argparse.Namespace) -> int:
    hub = _hub_dir(args)
    root = admin.load_root(hub)
    with _open(args) as db:
        published = admin.publish_bundle(db, root, valid_hours=args.valid_hours)
    print(f"published {published.detail}")
    return 0


def cmd_status_list_publish(args: argparse.Namespace) -> int:
    hub = _hub_dir(args)
    root = admin.load_root(hub)
    with _open(args) as db:
        published = admin.publish_status_list(db, hub, root, args.file)
    print(f"published {published.detail}")
    return 0


def cmd_policy_publish(args: argparse.Namespace) -> int:
    hub = _hub_dir(args)
    root = admin.load_root(hub)
    with _open(args) as db:
        published = admin.publish_policy(db, root, args.file, site=args.site)
    print(f"published {published.detail}")
    return 0


def cmd_devices(args: argparse.Namespace) -> int:
    with _open(args) as db:
        devices = admin.list_devices(db)
    if args.json:
        print(json.dumps(devices, ensure_ascii=False))
        return 0
    if not devices:
        print("no devices enrolled")
        return 0
    print(f"{'DEVICE':24} {'SITE':20} {'ENROLLED':21} {'LAST CONTACT':21} {'ACKED':>8}  STATE")
    for d in devices:
        state = f"revoked {_fmt(d['revoked_at'])}" if d["revoked_at"] else "active"
        print(
            f"{d['device_id']:24} {(d['site'] or '-'):20} {_fmt(d['enrolled_at']):21} "
            f"{_fmt(d['last_seen']):21} {d['acked_seq']:>8}  {state}"
        )
    return 0


def cmd_revoke_device(args: argparse.Namespace) -> int:
    with _open(args) as db:
        admin.revoke_device(db, args.device_id)
    print(f"device {args.device_id} revoked: its requests are refused from now on")
    return 0


def cmd_accept_gap(args: argparse.Namespace) -> int:
    with _open(args) as db:
        acked = admin.accept_gap(db, args.device_id, args.through)
    print(f"device {args.device_id}: rows up to seq {args.through} given up; stored through {acked}")
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    with _open(args) as db:
        done = admin.purge(db, _hub_dir(args), args.days)
    if args.json:
        print(json.dumps(done.as_dict()))
    else:
        print(
            f"deleted {done.registrations} registrations received over {args.days:g} days ago "
            f"and {done.status_lists} superseded status lists"
        )
    return 0


# --- parser -----------------------------------------------------------------------------------------


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", metavar="HUB_DIR", help="the hub directory (default: $KIOSK_HUB_DIR)")
    p.add_argument(
        "--database",
        metavar="URL",
        help="postgresql://... (default: $KIOSK_HUB_DATABASE, else HUB_DIR/hub.sqlite)",
    )


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `hub` and its actions to the `kiosk` command's subparsers."""
    h = subparsers.add_parser("hub", help="the docking hub: serve kiosks, publish keys, lists and policy")
    hsub = h.add_subparsers(dest="hub_command", required=True, metavar="ACTION")

    p = hsub.add_parser("init", help="create a hub directory and its root key; prints the root fingerprint")
    _common(p)
    p.add_argument("--root-key", metavar="FILE", help="use this root key (kiosk issuer keygen --root)")
    p.set_defaults(func=_handler(cmd_init))

    p = hsub.add_parser("serve", help="run the hub's HTTP API")
    _common(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}; 0 picks a free one"
    )
    p.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate chain")
    p.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")
    p.add_argument(
        "--root-path",
        default="",
        metavar="PREFIX",
        help="behind a reverse proxy that strips PREFIX (e.g. /hub): kiosks sign PREFIX/v1/...",
    )
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--no-access-log", action="store_true", help="no line per request")
    p.set_defaults(func=_handler(cmd_serve))

    p = hsub.add_parser("enroll-code", help="make a one-time enrolment code (shown once)")
    _common(p)
    p.add_argument("--device-id", help="only this device id may use it")
    p.add_argument("--site", help="the site the device is enrolled for")
    p.add_argument("--hours", type=float, default=admin.DEFAULT_CODE_HOURS, help="validity (default 24)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_handler(cmd_enroll_code))

    p = hsub.add_parser("issuer", help="the PHIC issuer keys the next bundle carries")
    isub = p.add_subparsers(dest="hub_issuer_command", required=True, metavar="ACTION")
    a = isub.add_parser("add", help="add an issuer key (public or private PEM; only the public part is kept)")
    _common(a)
    a.add_argument("iss", metavar="ISS", help="6-digit region code, optionally /org")
    a.add_argument("--key", required=True, metavar="PUBLIC.pem")
    a.add_argument("--name", help="the issuer's display name")
    a.add_argument("--code-types", help="restrict the key to code types, e.g. d,p (default: any)")
    a.add_argument("--not-before", metavar="ISO8601")
    a.add_argument("--not-after", metavar="ISO8601")
    a.set_defaults(func=_handler(cmd_issuer_add))
    r = isub.add_parser("remove", help="remove an issuer's keys (or one key with --kid)")
    _common(r)
    r.add_argument("iss", metavar="ISS")
    r.add_argument("--kid", help="the key id (hex) to remove")
    r.set_defaults(func=_handler(cmd_issuer_remove))
    lst = isub.add_parser("list", help="the issuer keys")
    _common(lst)
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=_handler(cmd_issuer_list))

    p = hsub.add_parser("publish-bundle", help="sign the issuer keys as the next bundle")
    _common(p)
    p.add_argument("--valid-hours", type=float, default=168, help="default 168 (a week)")
    p.set_defaults(func=_handler(cmd_publish_bundle))

    p = hsub.add_parser("status-list", help="publish status lists (kiosk issuer status-list files)")
    ssub = p.add_subparsers(dest="hub_status_command", required=True, metavar="ACTION")
    sp = ssub.add_parser("publish", help="check a status-list file against the root key and publish it")
    _common(sp)
    sp.add_argument("file", metavar="FILE")
    sp.set_defaults(func=_handler(cmd_status_list_publish))

    p = hsub.add_parser("policy", help="publish site policy")
    psub = p.add_subparsers(dest="hub_policy_command", required=True, metavar="ACTION")
    pp = psub.add_parser("publish", help="validate a policy TOML file and publish it signed by the root")
    _common(pp)
    pp.add_argument("file", metavar="FILE")
    pp.add_argument("--site", help="only for this site (default: every site without its own policy)")
    pp.set_defaults(func=_handler(cmd_policy_publish))

    p = hsub.add_parser("devices", help="enrolled kiosks: site, last contact, acknowledged seq")
    _common(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_handler(cmd_devices))

    p = hsub.add_parser("revoke-device", help="refuse a kiosk's requests from now on")
    _common(p)
    p.add_argument("device_id", metavar="ID")
    p.set_defaults(func=_handler(cmd_revoke_device))

    p = hsub.add_parser(
        "accept-gap", help="let a kiosk's acknowledged seq pass rows the hub lost (after a restore)"
    )
    _common(p)
    p.add_argument("device_id", metavar="ID")
    p.add_argument("--through", type=int, required=True, metavar="SEQ", help="give up rows up to SEQ")
    p.set_defaults(func=_handler(cmd_accept_gap))

    p = hsub.add_parser("purge", help="retention: delete old acknowledged registrations, superseded lists")
    _common(p)
    p.add_argument("--days", type=float, required=True, help="keep registrations received in the last DAYS")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_handler(cmd_purge))
    return h


def main(argv: list[str] | None = None) -> int:
    """`python -m kiosk.hub.cli hub ...`, with the error handling of `kiosk.cli.main`."""
    parser = argparse.ArgumentParser(prog="kiosk")
    add_parser(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
