"""Trust lists: `kiosk trust import` and `kiosk trust status`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from kiosk.commands.common import UsageError, data_dir, fmt_time, parse_time, read_input_file


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


def add_parsers(sub: argparse._SubParsersAction) -> None:
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
