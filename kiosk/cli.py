"""The `kiosk` command. Sub-command names and options are a contract (docs/cli.md)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from kiosk import __version__
from kiosk.commands.common import UsageError, data_dir, fmt_time, parse_time, read_input_file

__all__ = ["UsageError", "build_parser", "data_dir", "fmt_time", "main", "parse_time", "read_input_file"]


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


# --- conformance and bench ------------------------------------------------------------------------------


def cmd_conformance(args: argparse.Namespace) -> int:
    from kiosk.conformance.dgc_testdata import run_cli

    return run_cli(Path(args.dir), as_json=args.json)


def cmd_bench(args: argparse.Namespace) -> int:
    from kiosk.bench import run_cli

    return run_cli(args.prefixes, as_json=args.json, seconds=args.seconds)


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

    from kiosk.commands import checkpoint, issuer, technician, trust

    trust.add_parsers(sub)
    issuer.add_parsers(sub)
    checkpoint.add_parsers(sub)
    technician.add_parsers(sub)
    from kiosk.hub.cli import add_parser as add_hub_parser

    add_hub_parser(sub)
    from kiosk.sync.cli import add_parser as add_sync_parser

    add_sync_parser(sub)

    c = sub.add_parser("conformance", help="run outside conformance suites")
    csub = c.add_subparsers(dest="suite", required=True, metavar="SUITE")
    cd = csub.add_parser("dgc-testdata", help="the EU DCC test-data suite")
    cd.add_argument("dir", metavar="DIR")
    cd.add_argument("--json", action="store_true")
    cd.set_defaults(func=cmd_conformance)

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
