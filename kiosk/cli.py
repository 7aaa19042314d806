"""The `kiosk` command. Sub-command names and options are a contract (docs/cli.md)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from kiosk import __version__


class UsageError(Exception):
    """A problem with what the user asked for: printed without a traceback, exit status 2."""


def parse_time(text: str) -> int:
    """ISO 8601 (a date alone means midnight UTC; no zone means UTC) -> POSIX seconds."""
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{text!r} is not an ISO 8601 date or time, e.g. 2026-11-25T09:30:00+08:00"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp())


def fmt_time(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def data_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    if os.environ.get("KIOSK_DATA_DIR"):
        return Path(os.environ["KIOSK_DATA_DIR"])
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "healthcode-kiosk"


def read_input_file(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from None


# --- verify -----------------------------------------------------------------------------------------


def _verify_inputs(args: argparse.Namespace) -> Iterator[tuple[str, bytes | None, str | None]]:
    """(input label, code bytes or None, error) for every code the user gave."""
    for i, text in enumerate(args.text or []):
        yield (
            f"text:{i + 1}" if len(args.text) > 1 else "text",
            text.encode("utf-8", "surrogateescape"),
            None,
        )
    for text_file in args.text_file or []:
        raw = sys.stdin.buffer.read() if text_file == "-" else read_input_file(text_file, "text file")
        for n, line in enumerate(raw.split(b"\n"), start=1):
            if line.strip():
                yield (f"{text_file}:{n}", line.rstrip(b"\r"), None)
    if args.images:
        from drivers.scanner.decode import ImageError, decode_image

        for path in args.images:
            try:
                payloads = decode_image(path)
            except ImageError as exc:
                yield (path, None, str(exc))
                continue
            if not payloads:
                yield (path, None, "no QR code found in the image")
            for p in payloads:
                yield (path, p.bytes, None)


def cmd_verify(args: argparse.Namespace) -> int:
    from kiosk.codes import Format, Reason, Verification, verify_code
    from kiosk.codes.shc import ChunkAssembler
    from kiosk.trust.store import TrustStore

    if not (args.text or args.text_file or args.images):
        raise UsageError("give IMAGE files, --text T or --text-file F")
    now = parse_time(args.at) if args.at else time.time()
    with TrustStore(data_dir(args.data_dir)) as store:
        ring = store.keyring()
    assembler = ChunkAssembler()
    all_valid = True
    for label, data, error in _verify_inputs(args):
        if data is None:
            result = Verification(Format.UNKNOWN)
            result.checks.decode = False
            result.fail(Reason.DECODE_FAILED)
        else:
            result = verify_code(data, ring, now, assembler=assembler)
        all_valid &= result.valid
        out = {"input": label, **result.as_dict()}
        if error:
            out["error"] = error
        if args.json:
            print(json.dumps(out, ensure_ascii=False), flush=True)
        else:
            print(_human(out))
    return 0 if all_valid else 1


def _human(out: dict) -> str:
    mark = "VALID  " if out["valid"] else "INVALID"
    holder = out["holder"]
    bits = [
        out["format"],
        out["issuer"] or "",
        out["colour"] or "",
        holder.get("name") or "",
        holder.get("id_number") or "",
    ]
    line = f"{mark} {out['input']}: " + " ".join(b for b in bits if b)
    if out["reasons"]:
        line += "  [" + ", ".join(out["reasons"]) + "]"
    if out.get("error"):
        line += f"  ({out['error']})"
    return line


# --- trust --------------------------------------------------------------------------------------------


def cmd_trust_import_status_list(args: argparse.Namespace) -> int:
    from kiosk.crypto.keys import BadKey, public_key_from_pem, spki_pem
    from kiosk.trust import status_list
    from kiosk.trust.sources import TrustError
    from kiosk.trust.store import TrustStore

    now = parse_time(args.at) if args.at else int(time.time())
    directory = data_dir(args.data_dir)
    with TrustStore(directory) as store:
        pinned = store.pinned("phic-root")
        pem = read_input_file(args.root_key, "root key") if args.root_key else pinned
        if pem is None:
            raise UsageError("--format status-list needs --root-key PEM the first time (it is then pinned)")
        try:
            root = public_key_from_pem(pem)
            if pinned is not None and public_key_from_pem(pinned).spki_der() != root.spki_der():
                raise TrustError(
                    "a different phic-root is already pinned on this kiosk; re-provision to change it"
                )
            list_key = status_list.read_list_key(args.list_key) if args.list_key else None
            result = status_list.import_list(args.file, root, directory, now, list_key=list_key)
            store.pin("phic-root", spki_pem(root.spki_der()))
        except (TrustError, BadKey) as exc:
            print(f"refused: {exc}. The list in force is unchanged.", file=sys.stderr)
            return 1
    print(result.describe())
    return 0


def cmd_trust_import(args: argparse.Namespace) -> int:
    if args.format == "status-list":  # streamed from the file: lists run to hundreds of megabytes
        return cmd_trust_import_status_list(args)
    from kiosk.crypto.keys import BadKey, public_key_from_pem, spki_pem
    from kiosk.trust import sources
    from kiosk.trust.store import TrustStore

    data = read_input_file(args.file, "trust list")
    now = parse_time(args.at) if args.at else int(time.time())
    with TrustStore(data_dir(args.data_dir)) as store:
        try:
            if args.format == "dsc-list":
                if not args.signing_key:
                    raise UsageError(
                        "--format dsc-list needs --signing-key PEM (the list signer's public key)"
                    )
                key = public_key_from_pem(read_input_file(args.signing_key, "signing key"))
                source = sources.dsc_list(data, key, args.valid_hours)
            elif args.format == "vci-snapshot":
                if not (args.signature and args.certificate):
                    raise UsageError("--format vci-snapshot needs --signature F and --certificate F")
                source = sources.vci_snapshot(
                    data,
                    read_input_file(args.signature, "signature"),
                    read_input_file(args.certificate, "certificate"),
                    args.valid_hours,
                )
            elif args.format == "jwks":
                if not args.issuer:
                    raise UsageError("--format jwks needs --issuer URL (the iss the cards carry)")
                crl_dir = Path(args.file).parent / "crl"
                crls = [p.read_bytes() for p in sorted(crl_dir.glob("*.json"))] if crl_dir.is_dir() else []
                source = sources.jwks(data, args.issuer, crls, now, args.valid_hours)
            elif args.format == "phic-bundle":
                pem = (
                    read_input_file(args.root_key, "root key") if args.root_key else store.pinned("phic-root")
                )
                if pem is None:
                    raise UsageError(
                        "--format phic-bundle needs --root-key PEM the first time (it is then pinned)"
                    )
                source = sources.phic_bundle(data, public_key_from_pem(pem))
                store.pin("phic-root", spki_pem(public_key_from_pem(pem).spki_der()))
            else:
                raise UsageError(f"format {args.format!r} is not importable yet")
            store.import_source(source, now)
        except (sources.TrustError, BadKey) as exc:
            print(f"refused: {exc}. The list in force is unchanged.", file=sys.stderr)
            return 1
    print(
        f"imported {source.name}: {len(source.keys)} keys"
        + (f", {len(source.shc_revocations)} revocations" if source.shc_revocations else "")
        + (f", {len(source.skipped)} entries skipped" if source.skipped else "")
        + (f", seq {source.seq}" if source.seq is not None else "")
        + f", signed {fmt_time(source.signed_at)}, valid until {fmt_time(source.valid_until)}"
    )
    for why in source.skipped[:10]:
        print(f"  skipped: {why}")
    return 0


def cmd_trust_status(args: argparse.Namespace) -> int:
    from kiosk.trust.store import TrustStore

    now = parse_time(args.at) if args.at else time.time()
    from kiosk.trust import status_list

    with TrustStore(data_dir(args.data_dir)) as store:
        rows = store.status()
    listed = status_list.source_status(data_dir(args.data_dir))
    if listed is not None:
        rows.append(listed)
    if args.json:
        print(
            json.dumps(
                {
                    "sources": [
                        {
                            "name": r.name,
                            "format": r.format,
                            "entries": r.entries,
                            "seq": r.seq,
                            "signed_at": r.signed_at,
                            "valid_until": r.valid_until,
                            "imported_at": r.imported_at,
                            "age_hours": round(r.age_hours(now), 1),
                            "state": r.state(now),
                        }
                        for r in rows
                    ]
                }
            )
        )
        return 0
    if not rows:
        print("no trust lists imported: every code will be refused with key.unknown")
        return 0
    width = max(len(r.name) for r in rows) + 2
    print(f"{'source':<{width}} {'entries':>7} {'age':>9}  {'valid until':<20} state")
    for r in rows:
        age = r.age_hours(now)
        age_text = f"{age:.0f} h" if age < 72 else f"{age / 24:.0f} d"
        print(f"{r.name:<{width}} {r.entries:>7} {age_text:>9}  {fmt_time(r.valid_until):<20} {r.state(now)}")
    return 0


# --- issuer -------------------------------------------------------------------------------------------


def cmd_issuer_keygen(args: argparse.Namespace) -> int:
    from kiosk.issuer import keys

    if not args.root and not args.iss:
        raise UsageError("--iss CODE is required for an issuer key (or --root for a deployment root key)")
    key = keys.generate(args.alg, args.iss or "", root=args.root)
    keys.save(key, args.out)
    print(key.kid.hex())
    return 0


def cmd_issuer_sign(args: argparse.Namespace) -> int:
    from kiosk.issuer import keys, phic

    key = keys.load(args.key)
    now = int(time.time())
    minted = phic.mint(
        key,
        colour=args.color,
        name=args.name,
        id_number=args.id_number,
        now=now,
        code_type=args.type,
        id_type=args.id_type,
        valid_hours=args.valid_hours,
        not_before=parse_time(args.not_before) if args.not_before else None,
        vaccinations=args.vaccinations,
        test_result=args.test,
        test_at=parse_time(args.test_at) if args.test_at else None,
        risk_area=True if args.risk_area else None,
    )
    if args.png:
        from kiosk.issuer.qr import write_png

        write_png(minted.text, args.png)
    if args.json:
        print(
            json.dumps(
                {
                    "text": minted.text,
                    "cti": minted.cti.hex(),
                    "kid": minted.kid.hex(),
                    "iss": key.iss,
                    "iat": minted.iat,
                    "exp": minted.exp,
                    "name": minted.masked_name,
                    "id_number": minted.masked_id,
                    "png": args.png,
                },
                ensure_ascii=False,
            )
        )
    else:
        print(minted.text)
    return 0


def cmd_issuer_bundle(args: argparse.Namespace) -> int:
    from kiosk.issuer import keys
    from kiosk.issuer.bundle import make_bundle

    root = keys.load(args.root_key)
    issuers = []
    for path in args.issuer_key:
        public, headers = keys.load_public(path)
        iss = headers.get("Kiosk-Issuer")
        if not iss or headers.get("Kiosk-Role") == "root":
            raise UsageError(f"{path}: not an issuer key made by `kiosk issuer keygen --iss CODE`")
        extra: dict = {}
        if args.code_types:
            extra["code_types"] = list(args.code_types)
        issuers.append((iss, public, extra))
    names = dict(n.split("=", 1) for n in args.name or [] if "=" in n)
    now = int(time.time())
    token = make_bundle(
        root,
        issuers,
        seq=args.seq if args.seq is not None else now,
        issued_at=now,
        valid_hours=args.valid_hours,
        names=names,
    )
    Path(args.out).write_text(token + "\n")
    print(f"wrote {args.out}: {len(issuers)} issuer keys, seq {args.seq if args.seq is not None else now}")
    return 0


def cmd_issuer_status_list(args: argparse.Namespace) -> int:
    from kiosk.issuer.status_list import cli_status_list

    print(
        cli_status_list(
            root_key=args.root_key,
            out=args.out,
            seq=args.seq,
            base_seq=args.base_seq,
            entry=args.entry or [],
            revoke_cti=args.revoke_cti or [],
            valid_hours=args.valid_hours,
            list_key=args.list_key,
            entries_file=args.entries_file,
        )
    )
    return 0


def cmd_issuer_paper(args: argparse.Namespace) -> int:
    from kiosk.issuer import keys, phic
    from kiosk.issuer.paper import write_paper

    key = keys.load(args.key)
    minted = phic.mint(
        key,
        colour=args.color,
        name=args.name,
        id_number=args.id_number,
        now=int(time.time()),
        code_type="p",
        id_type=args.id_type,
        valid_hours=args.valid_days * 24,
    )
    write_paper(minted, key.iss, args.out, issuer_name=args.issuer_name, colour=args.color)
    print(f"wrote {args.out}")
    return 0


# --- conformance and bench ------------------------------------------------------------------------------


def cmd_conformance(args: argparse.Namespace) -> int:
    from kiosk.conformance.dgc_testdata import run_cli

    return run_cli(Path(args.dir), as_json=args.json)


def cmd_bench(args: argparse.Namespace) -> int:
    from kiosk.bench import run_cli

    return run_cli(args.prefixes, as_json=args.json, seconds=args.seconds)


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


def cmd_export(args: argparse.Namespace) -> int:
    import datetime as _dt
    import getpass

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
    store = RegistrationStore(directory, device_id(directory), tz=policy.timezone)
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


def cmd_screenshots(args: argparse.Namespace) -> int:
    try:
        from kiosk.ui.screenshots import write_screenshots
    except ImportError as exc:
        print(f"kiosk screenshots needs PySide6-Essentials: {exc}", file=sys.stderr)
        return 2
    paths = write_screenshots(Path(args.out))
    print(json.dumps({"type": "screenshots", "out": str(args.out), "count": len(paths)}))
    return 0


def cmd_selftest(args: argparse.Namespace) -> int:
    from drivers.config import load
    from kiosk.selftest import run_cli

    return run_cli(load(args.config), sim=args.sim, as_json=args.json)


def cmd_decode(args: argparse.Namespace) -> int:
    import base64

    from drivers.scanner.decode import ImageError, decode_image

    status = 0
    for path in args.images:
        try:
            payloads = decode_image(path)
            out = {
                "image": path,
                "payloads": [
                    {"text": p.text, "bytes_b64": base64.b64encode(p.bytes).decode()} for p in payloads
                ],
            }
        except ImageError as exc:
            out, status = {"image": path, "payloads": [], "error": str(exc)}, 1
        if args.json:
            print(json.dumps(out, ensure_ascii=False))
        else:
            print(f"{path}: " + (out.get("error") or f"{len(out['payloads'])} code(s)"))
            for p in out["payloads"]:
                print(f"  {p['text']}")
    return status


def cmd_gpio_safe(args: argparse.Namespace) -> int:
    from drivers.config import GpioConfig, load
    from drivers.gpio import force_relay_off

    gpio = load(args.config).gpio
    ok, detail = force_relay_off(gpio if gpio is not None else GpioConfig(backend="sim"))
    print(f"kiosk gpio-safe: {detail}", file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


def cmd_provision(args: argparse.Namespace) -> int:
    from kiosk.provision import run_cli

    return run_cli(
        args.bundle,
        data_dir(args.data_dir),
        config_dir=args.config_dir,
        device_name=args.device_name,
        site=args.site,
        hub=args.hub,
        sim=args.sim,
        run_selftest=not args.no_selftest,
        as_json=args.json,
        enroll_code=args.enroll_code,
        root_fingerprint=args.root_fingerprint,
    )


def cmd_status(args: argparse.Namespace) -> int:
    from kiosk.status import run_cli

    return run_cli(
        data_dir(args.data_dir),
        policy_path=args.policy,
        config_path=args.config,
        run_selftest=args.selftest,
        sim=args.sim,
        as_json=args.json,
    )


# --- parser -------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kiosk", description="Offline health-code checkpoint kiosk")
    p.add_argument("--version", action="version", version=f"kiosk {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    v = sub.add_parser("verify", help="verify health codes from images or text")
    v.add_argument("images", nargs="*", metavar="IMAGE")
    v.add_argument("--text", action="append", help="code text (may be repeated)")
    v.add_argument(
        "--text-file", action="append", help="one code per line ('-' for standard input; may be repeated)"
    )
    v.add_argument("--json", action="store_true", help="one JSON object per input")
    v.add_argument("--at", help="verify as of this ISO 8601 time instead of now")
    v.add_argument("--data-dir")
    v.set_defaults(func=cmd_verify)

    d = sub.add_parser("decode", help="decode QR codes in images (scanner pipeline only)")
    d.add_argument("images", nargs="+", metavar="IMAGE")
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=cmd_decode)

    t = sub.add_parser("trust", help="trust lists: import and status")
    tsub = t.add_subparsers(dest="trust_command", required=True, metavar="ACTION")
    ti = tsub.add_parser("import", help="verify and import a trust list")
    ti.add_argument(
        "--format", required=True, choices=["dsc-list", "vci-snapshot", "jwks", "phic-bundle", "status-list"]
    )
    ti.add_argument("--signing-key", help="dsc-list: the list signer's public key PEM")
    ti.add_argument("--signature", help="vci-snapshot: detached signature file")
    ti.add_argument("--certificate", help="vci-snapshot: the signer's certificate")
    ti.add_argument("--issuer", help="jwks: the issuer URL the cards carry as iss")
    ti.add_argument("--root-key", help="phic-bundle: the deployment root key PEM (public or private), pinned")
    ti.add_argument(
        "--valid-hours", type=int, help="for lists without their own expiry: hours of use after signing"
    )
    ti.add_argument("--at", help=argparse.SUPPRESS)
    ti.add_argument("--data-dir")
    ti.add_argument("file", metavar="FILE")
    ti.set_defaults(func=cmd_trust_import)
    ts = tsub.add_parser("status", help="entries, age and freshness of each trust list")
    ts.add_argument("--json", action="store_true")
    ts.add_argument("--at", help="judge freshness as of this ISO 8601 time")
    ts.add_argument("--data-dir")
    ts.set_defaults(func=cmd_trust_status)

    i = sub.add_parser("issuer", help="mint PHIC codes and bundles (pilots, demos, tests)")
    isub = i.add_subparsers(dest="issuer_command", required=True, metavar="ACTION")
    kg = isub.add_parser("keygen", help="make an issuer (or root) key; prints the kid")
    kg.add_argument("--alg", choices=["es256", "sm2"], default="es256")
    kg.add_argument("--iss", help="6-digit region code (GB/T 2260), optionally /org")
    kg.add_argument("--root", action="store_true", help="a deployment root key that signs bundles")
    kg.add_argument("--out", required=True)
    kg.set_defaults(func=cmd_issuer_keygen)

    sg = isub.add_parser("sign", help="mint a PHIC code; prints its PHC1: text")
    sg.add_argument("--key", required=True)
    sg.add_argument("--color", "--colour", dest="color", required=True, choices=["green", "yellow", "red"])
    sg.add_argument("--type", default="d", choices=["d", "p", "a"], help="dynamic, paper or assisted code")
    sg.add_argument("--name", required=True, help="holder name (stored masked)")
    sg.add_argument(
        "--id-type", default="01", help="01 resident ID, 02 passport, 03/04 travel permits, 05, 99"
    )
    sg.add_argument("--id-number", required=True)
    sg.add_argument("--valid-hours", type=float)
    sg.add_argument("--not-before", help="ISO 8601 issue time (default now)")
    sg.add_argument("--vaccinations", type=int)
    sg.add_argument("--test", choices=["negative", "positive"])
    sg.add_argument("--test-at")
    sg.add_argument("--risk-area", action="store_true")
    sg.add_argument("--png", help="also write the QR code as a PNG")
    sg.add_argument("--json", action="store_true")
    sg.set_defaults(func=cmd_issuer_sign)

    bd = isub.add_parser("bundle", help="sign a PHIC issuer bundle with a root key")
    bd.add_argument("--root-key", required=True)
    bd.add_argument("--issuer-key", required=True, action="append", help="issuer key file (repeat)")
    bd.add_argument("--name", action="append", help="ISS=display name (repeat)")
    bd.add_argument("--code-types", help="restrict the keys to these code types, e.g. dp")
    bd.add_argument("--seq", type=int)
    bd.add_argument("--valid-hours", type=float, default=30 * 24)
    bd.add_argument("--out", required=True)
    bd.set_defaults(func=cmd_issuer_bundle)

    sl = isub.add_parser("status-list", help="sign a status list (full, or a delta with --base-seq)")
    sl.add_argument("--root-key", required=True)
    sl.add_argument("--seq", type=int, required=True)
    sl.add_argument("--base-seq", type=int, help="make a delta on this seq")
    sl.add_argument("--entry", action="append", help="IDNUMBER=yellow|red|clear (repeat)")
    sl.add_argument("--revoke-cti", action="append", help="revoked PHIC code id, hex (repeat)")
    sl.add_argument("--entries-file", help="one IDNUMBER=status per line")
    sl.add_argument("--valid-hours", type=float, default=24)
    sl.add_argument("--list-key", help="keep the list key out of the list (kiosks get it at provisioning)")
    sl.add_argument("--out", required=True)
    sl.set_defaults(func=cmd_issuer_status_list)

    pp = isub.add_parser("paper", help="a printable A6 PDF offline code")
    pp.add_argument("--key", required=True)
    pp.add_argument("--color", "--colour", dest="color", default="green", choices=["green", "yellow", "red"])
    pp.add_argument("--name", required=True)
    pp.add_argument("--id-type", default="01")
    pp.add_argument("--id-number", required=True)
    pp.add_argument("--valid-days", type=float, default=7)
    pp.add_argument("--issuer-name")
    pp.add_argument("--out", required=True)
    pp.set_defaults(func=cmd_issuer_paper)

    c = sub.add_parser("conformance", help="run outside conformance suites")
    csub = c.add_subparsers(dest="suite", required=True, metavar="SUITE")
    cd = csub.add_parser("dgc-testdata", help="the EU DCC test-data suite")
    cd.add_argument("dir", metavar="DIR")
    cd.add_argument("--json", action="store_true")
    cd.set_defaults(func=cmd_conformance)

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

    ex = sub.add_parser("export", help="one day's registrations (masked) with the day's counts")
    ex.add_argument("--day", required=True, help="YYYY-MM-DD, in the site's time zone")
    ex.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    ex.add_argument("--out", help="file to write (default: standard output)")
    ex.add_argument("--data-dir")
    ex.add_argument("--policy", help="site policy (for its time zone)")
    ex.set_defaults(func=cmd_export)

    sc = sub.add_parser("screenshots", help="render every traveller-screen state to PNG files (offscreen)")
    sc.add_argument("--out", required=True, metavar="DIR")
    sc.set_defaults(func=cmd_screenshots)

    st = sub.add_parser("selftest", help="check every configured device")
    st.add_argument("--sim", action="store_true", help="use the simulated backend of every device")
    st.add_argument("--json", action="store_true")
    st.add_argument("--config", help="device configuration (TOML); default: every device simulated")
    st.set_defaults(func=cmd_selftest)

    gs = sub.add_parser("gpio-safe", help="drive the gate relay de-energised (systemd ExecStopPost)")
    gs.add_argument("--config", help="device configuration (TOML); its [gpio] section names the relay")
    gs.set_defaults(func=cmd_gpio_safe)

    pv = sub.add_parser("provision", help="set up this kiosk from an offline USB bundle and/or a hub")
    pv.add_argument(
        "--bundle",
        metavar="DIR",
        help="root.pem, bundle.jws, [status-list.ksl, list-key, policy.toml, devices.toml]",
    )
    pv.add_argument("--device-name", help="this kiosk's id (letters, digits, . _ -)")
    pv.add_argument("--site", help="the site's name")
    pv.add_argument(
        "--config-dir", default="/etc/healthcode-kiosk", help="where policy.toml and devices.toml go"
    )
    pv.add_argument("--hub", metavar="URL", help="enrol online with this hub (needs --enroll-code)")
    pv.add_argument("--enroll-code", metavar="CODE", help="the one-time code from `kiosk hub enroll-code`")
    pv.add_argument(
        "--root-fingerprint",
        metavar="HEX",
        help="SHA-256 of the hub's root key (SPKI); without it the hub's root is trusted on first use",
    )
    pv.add_argument("--sim", action="store_true", help="self-test the simulated backends")
    pv.add_argument("--no-selftest", action="store_true")
    pv.add_argument("--json", action="store_true")
    pv.add_argument("--data-dir")
    pv.set_defaults(func=cmd_provision)

    ss = sub.add_parser("status", help="versions, trust freshness, queue and devices, for a technician")
    ss.add_argument("--policy", default="/etc/healthcode-kiosk/policy.toml", help="site policy (TOML)")
    ss.add_argument(
        "--config", default="/etc/healthcode-kiosk/devices.toml", help="device configuration (TOML)"
    )
    ss.add_argument(
        "--selftest", action="store_true", help="also self-test the devices (stop the service first)"
    )
    ss.add_argument("--sim", action="store_true", help="with --selftest: the simulated backends")
    ss.add_argument("--json", action="store_true")
    ss.add_argument("--data-dir")
    ss.set_defaults(func=cmd_status)

    b = sub.add_parser("bench", help="benchmarks as ratios against bare baselines")
    b.add_argument("prefixes", nargs="*", metavar="NAME-PREFIX")
    b.add_argument("--json", action="store_true")
    b.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    b.set_defaults(func=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except Exception as exc:  # known domain errors carry their own clear messages
        from kiosk.issuer.keys import IssuerKeyError
        from kiosk.issuer.phic import SignError

        if isinstance(exc, IssuerKeyError | SignError | ValueError):
            print(f"kiosk: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
