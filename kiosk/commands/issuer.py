"""`kiosk issuer`: PHIC keys, codes, bundles, status lists and paper codes (pilots, demos, tests)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from kiosk.commands.common import UsageError, parse_time


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


def add_parsers(sub: argparse._SubParsersAction) -> None:
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
