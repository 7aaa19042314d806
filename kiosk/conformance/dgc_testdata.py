"""The EU DCC conformance suite (eu-digital-green-certificates/dgc-testdata) run against the kiosk.

Each test file carries the inputs of every step of the HC1 chain (2D code picture, prefixed text,
Base45, zlib, COSE, CBOR, JSON, signer certificate, validation clock) and `EXPECTEDRESULTS`: for each
step, whether it should succeed. This runner performs every step it can with the kiosk's own code
(`kiosk.codes.dcc` and friends, and the scanner's QR decoder) and reports the kiosk's outcome per step;
the outcomes are never taken from the file. Agreement with the file's expectations is then counted,
with a short, reasoned list of known failures (`dgc_known_failures.csv`).

Which files run, which flags apply to a file and which inputs a flag needs follow the suite's own
harness (`tests/test_ehealth_certs.py`), so the counts here are comparable with it:

- files are `<CC>/<any>/<any>/<name>.json` exactly (`common` counts as a country);
- a flag absent from `EXPECTEDRESULTS`, or whose inputs are absent, is skipped;
- strings are compared after the harness's `_ordered` normalisation (sorted maps and lists, date
  strings in one form; see `normalise`).

Where this differs from the harness, on purpose:

- The kiosk's outcome is compared with the expectation both ways. The harness makes
  SCHEMAVALIDATION=false and (for COSE+JSON) DECODE=false no-ops; here a payload expected to break
  the schema that the kiosk accepts is a disagreement.
- VALIDJSON is compared with EXPECTEDVALIDJSON; the harness compares that step with
  EXPECTEDDECODE's value. The two are equal in every file of the suite.
- VERIFY, EXPIRATIONCHECK and KEYUSAGE come from one `dcc.verify_message` run with the file's
  certificate as the only trusted key (kid = SHA-256(DER)[:8]), at VALIDATIONCLOCK with no skew.
  KEYUSAGE also needs exactly one of v/t/r, as the harness does. Unlike the harness, an EKU that
  holds no DCC type OID counts as unrestricted (see the known failures).
"""

from __future__ import annotations

import base64
import binascii
import csv
import datetime as dt
import hashlib
import json
import re
import struct
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.codes import cose, dcc
from kiosk.codes.base45 import b45decode
from kiosk.codes.keyring import KeyRing
from kiosk.codes.model import Reason, Verification

KNOWN_FAILURES = Path(__file__).with_name("dgc_known_failures.csv")

PICTUREDECODE = "EXPECTEDPICTUREDECODE"
UNPREFIX = "EXPECTEDUNPREFIX"
B45DECODE = "EXPECTEDB45DECODE"
COMPRESSION = "EXPECTEDCOMPRESSION"
DECODE = "EXPECTEDDECODE"
VALIDJSON = "EXPECTEDVALIDJSON"
SCHEMAVALIDATION = "EXPECTEDSCHEMAVALIDATION"
VERIFY = "EXPECTEDVERIFY"
EXPIRATIONCHECK = "EXPECTEDEXPIRATIONCHECK"
KEYUSAGE = "EXPECTEDKEYUSAGE"
# In the order of the decoding chain. Flags the harness never evaluates (EXPECTEDVALIDOBJECT,
# EXPECTEDENCODE, the misspelt EXPTECTEDEXPIRED) are not evaluated here either.
FLAGS = (
    PICTUREDECODE,
    UNPREFIX,
    B45DECODE,
    COMPRESSION,
    DECODE,
    VALIDJSON,
    SCHEMAVALIDATION,
    VERIFY,
    EXPIRATIONCHECK,
    KEYUSAGE,
)

PROGRESS_AFTER = 2.0  # seconds before progress is shown on stderr
_CTX_FIELDS = frozenset({"CERTIFICATE", "VALIDATIONCLOCK"})


# --- reading a test file ----------------------------------------------------------------------------


def discover(root: Path) -> list[Path]:
    """The files the harness runs: `<CC>/<any>/<any>/<name>.json`, nothing deeper or shallower."""
    return sorted(p for p in root.glob("*/*/*/*.json") if p.is_file())


class _Case:
    """One test file's inputs, each decoded once on first use. An input that is present but cannot be
    decoded raises when used, every time (each step that needs it then fails)."""

    def __init__(self, data: dict, country: str) -> None:
        self.data = data
        self.country = country
        ctx = data.get("TESTCTX")
        self.ctx = ctx if isinstance(ctx, dict) else {}
        self._memo: dict[str, Any] = {}

    def has(self, *names: str) -> bool:
        """Whether every named input is present (TESTCTX fields looked up in TESTCTX), as the harness
        tests presence: a present but null or malformed input makes the step fail, not skip."""
        return all(n in (self.ctx if n in _CTX_FIELDS else self.data) for n in names)

    def _once(self, name: str, make: Callable[[], Any]) -> Any:
        if name not in self._memo:
            try:
                self._memo[name] = (True, make())
            except Exception as exc:  # remembered so every step that needs it fails the same way
                self._memo[name] = (False, exc)
        ok, value = self._memo[name]
        if not ok:
            raise value
        return value

    def hex(self, name: str) -> bytes:
        return self._once(f"hex:{name}", lambda: binascii.unhexlify(self.data[name]))

    def text(self, name: str) -> bytes:
        value = self.data[name]
        if not isinstance(value, str):
            raise TypeError(f"{name} is not a string")
        return value.encode("utf-8")

    def message(self) -> cose.Sign1:
        return self._once("msg", lambda: cose.parse_sign1(self.hex("COSE")))

    def payload(self) -> Any:
        return self._once("payload", lambda: cose.loads(self.message().payload))

    def cbor(self) -> Any:
        return self._once("cbor", lambda: cose.loads(self.hex("CBOR")))

    def certificate(self) -> bytes:
        # Bare base64 DER; the harness wraps it in PEM armour, which tolerates line breaks.
        return self._once(
            "cert", lambda: base64.b64decode("".join(self.ctx["CERTIFICATE"].split()), validate=True)
        )

    def verification(self) -> Verification:
        return self._once("verification", self._verify)

    def _verify(self) -> Verification:
        der = self.certificate()
        ring = KeyRing()
        # kid = the first 8 bytes of SHA-256 over the certificate DER, as the harness (and the DCC
        # gateway) derive it.
        ring.add(dcc.trusted_key_from_certificate(der, hashlib.sha256(der).digest()[:8], self.country))
        clock = self.ctx.get("VALIDATIONCLOCK")
        now = time.time() if clock is None else parse_clock(clock)  # no clock: now, as the harness
        return dcc.verify_message(self.message(), ring, now, skew=0)


# --- the harness's normalised comparison --------------------------------------------------------------

_DATE = re.compile(
    r"(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})"
    r"(?:[T ](?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,]\d+)?)?"
    r"(?P<tz>Z|[+-]\d{2}(?::?\d{2})?)?)?"
)


def normalise_string(s: str) -> str:
    """The harness replaces every string that `dateutil.parser.parse` accepts by its
    `%Y-%m-%dT%H:%M:%SZ` form, dropping fractions of a second and the zone (the wall clock is kept,
    not converted). This recognises the date strings that occur in DCC payloads: a full calendar date,
    optionally with a time (`T` or space, minutes, seconds, any fraction) and a zone (`Z`, `+hh`,
    `+hhmm`, `+hh:mm`).

    Deviation, on purpose: dateutil also accepts partial or odd dates ("1963", "1964-01", "12",
    "May") and fills the missing parts from the day it runs, so its verdict on them changes with the
    calendar. Those strings are left as they are here, which only makes the comparison stricter
    (they still equal themselves). On this corpus the verdicts are the same as dateutil's."""
    m = _DATE.fullmatch(s)
    if m is None:
        return s
    try:
        when = dt.datetime(
            int(m["y"]), int(m["m"]), int(m["d"]), int(m["H"] or 0), int(m["M"] or 0), int(m["S"] or 0)
        )
    except ValueError:  # e.g. month 00 or 13: dateutil refuses these too
        return s
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def normalise(obj: Any) -> Any:
    """The harness's `_ordered`: maps become sorted (key, value) lists, lists are sorted, date strings
    take one form. Raises TypeError when items cannot be ordered (the harness failed the same way)."""
    if isinstance(obj, dict):
        return sorted((k, normalise(v)) for k, v in obj.items())
    if isinstance(obj, list):
        return sorted(normalise(x) for x in obj)
    if isinstance(obj, str):
        return normalise_string(obj)
    return obj


def same_content(a: Any, b: Any) -> bool:
    return normalise(a) == normalise(b)


_CLOCK = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?",
    re.IGNORECASE,
)


def parse_clock(text: str) -> float:
    """TESTCTX.VALIDATIONCLOCK as POSIX seconds: ISO 8601 with any number of fraction digits (only
    microseconds count), `Z`, `+hh`, `+hhmm` or `+hh:mm`; no zone means UTC (as the harness takes it)."""
    m = _CLOCK.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"validation clock {text!r} is not an ISO 8601 date-time")
    y, mo, d, h, mi, s, frac, tz = m.groups()
    offset = dt.timedelta(0)
    if tz and tz.upper() != "Z":
        digits = tz[1:].replace(":", "")
        offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        if tz[0] == "-":
            offset = -offset
    micro = int((frac or "")[:6].ljust(6, "0"))
    when = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0), micro, dt.timezone(offset))
    return when.timestamp()


# --- the steps: each returns the kiosk's outcome (True = the step succeeded) ----------------------------


def step_picture(case: _Case) -> bool:
    """The QR code in the PNG, read by the kiosk's scanner, carries exactly the PREFIX text."""
    import cv2
    import numpy as np

    from drivers.scanner.decode import MAX_PIXELS, decode_frame

    png = base64.b64decode(case.data["2DCODE"])
    if png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) >= 24:
        width, height = struct.unpack(">II", png[16:24])
        if width * height > MAX_PIXELS:  # refused before decoding, as the scanner refuses files
            return False
    gray = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    if gray is None:
        return False
    payloads = decode_frame(gray)
    return bool(payloads) and payloads[0].bytes == case.text("PREFIX")


def step_unprefix(case: _Case) -> bool:
    return dcc.unprefix(case.text("PREFIX")) == case.text("BASE45")


def step_b45decode(case: _Case) -> bool:
    return b45decode(case.data["BASE45"]) == case.hex("COMPRESSED")


def step_compression(case: _Case) -> bool:
    compressed = case.hex("COMPRESSED")
    if compressed[:1] != b"\x78":  # the kiosk would take it as uncompressed COSE: not a decompression
        return False
    return dcc.decompress(compressed) == case.hex("COSE")


def _hcert_json(case: _Case) -> Any:
    """The DCC JSON the kiosk decodes from the COSE payload, as the harness asks: the -260 claim holds
    exactly one entry, key 1."""
    claims, hc1 = dcc.hcert(case.message())
    hc = claims[dcc.CLAIM_HCERT]
    if len(hc) != 1:
        raise dcc.DccError("hcert claim holds more than one entry")
    return dcc.to_json(hc1)


def step_decode(case: _Case) -> bool:
    """The COSE payload decodes to the file's JSON, and to the same content as the file's CBOR."""
    ok = True
    if case.has("JSON"):
        ok = ok and same_content(_hcert_json(case), case.data["JSON"])
    if case.has("CBOR"):
        cbor = case.cbor()
        if isinstance(cbor, dict) and dcc.CLAIM_HCERT in cbor:
            ok = ok and same_content(dcc.to_json(cbor), dcc.to_json(case.payload()))
        else:
            ok = ok and same_content(dcc.to_json(cbor), _hcert_json(case))
    return ok


def step_validjson(case: _Case) -> bool:
    """The file's CBOR (a whole CWT payload or the bare hcert) decodes to the file's JSON."""
    cbor = case.cbor()
    if isinstance(cbor, dict) and dcc.CLAIM_HCERT in cbor:
        cbor = cbor[dcc.CLAIM_HCERT][1]
    return same_content(dcc.to_json(cbor), case.data["JSON"])


def step_schema(case: _Case) -> bool:
    """The DCC in the COSE payload passes the schema of its `ver` and holds one certificate type."""
    hcert = _hcert_json(case)
    _, raw = dcc.hcert(case.message())
    return not dcc.schema_errors(hcert) and dcc.cert_type(raw) is not None


def step_verify(case: _Case) -> bool:
    checks = case.verification().checks
    return bool(checks.key_known and checks.signature)


def step_expiration(case: _Case) -> bool:
    return case.verification().checks.validity_window is True


def step_key_usage(case: _Case) -> bool:
    result = case.verification()
    return result.code_type is not None and Reason.KEY_USAGE not in result.reasons


@dataclass(frozen=True)
class Step:
    flag: str
    inputs: tuple[str, ...]
    run: Callable[[_Case], bool]
    any_of: tuple[str, ...] = ()  # at least one of these as well


STEPS = (
    Step(PICTUREDECODE, ("2DCODE", "PREFIX"), step_picture),
    Step(UNPREFIX, ("BASE45", "PREFIX"), step_unprefix),
    Step(B45DECODE, ("BASE45", "COMPRESSED"), step_b45decode),
    Step(COMPRESSION, ("COSE", "COMPRESSED"), step_compression),
    Step(DECODE, ("COSE",), step_decode, any_of=("JSON", "CBOR")),
    Step(VALIDJSON, ("CBOR", "JSON"), step_validjson),
    Step(SCHEMAVALIDATION, ("COSE",), step_schema),
    Step(VERIFY, ("COSE", "CERTIFICATE"), step_verify),
    Step(EXPIRATIONCHECK, ("COSE", "CERTIFICATE"), step_expiration),
    Step(KEYUSAGE, ("COSE", "CERTIFICATE"), step_key_usage),
)


# --- running ----------------------------------------------------------------------------------------------


@dataclass
class FileResult:
    file: str  # relative to the suite's root, "/"-separated
    results: dict[str, bool] = field(default_factory=dict)
    expected: dict[str, bool] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # flag -> why the step failed
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file": self.file, "results": self.results}
        if self.error is not None:
            out["error"] = self.error
        return out


def run_file(path: Path, root: Path) -> FileResult:
    rel = path.relative_to(root).as_posix()
    result = FileResult(rel)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        result.error = f"cannot read the test file: {type(exc).__name__}: {exc}"
        return result
    if not isinstance(data, dict) or not isinstance(data.get("EXPECTEDRESULTS"), dict):
        result.error = "not a test file: no EXPECTEDRESULTS object"
        return result
    expected = data["EXPECTEDRESULTS"]
    case = _Case(data, rel.split("/", 1)[0])
    for step in STEPS:
        if step.flag not in expected or not case.has(*step.inputs):
            continue
        if step.any_of and not any(case.has(name) for name in step.any_of):
            continue
        result.expected[step.flag] = bool(expected[step.flag])
        try:
            outcome = step.run(case)
        except Exception as exc:  # the step failed on this input: the kiosk's outcome is "no"
            outcome = False
            result.failures[step.flag] = f"{type(exc).__name__}: {exc}"
        result.results[step.flag] = bool(outcome)
    return result


def run(root: Path, progress: Callable[[int, int], None] | None = None) -> list[FileResult]:
    files = discover(root)
    out = []
    for i, path in enumerate(files, start=1):
        out.append(run_file(path, root))
        if progress is not None:
            progress(i, len(files))
    return out


# --- known failures -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KnownFailure:
    file: str  # "CC/2DCode/raw/1.json", or "CC/*" for every file of a country
    flag: str
    reason: str

    def covers(self, file: str, flag: str) -> bool:
        if flag != self.flag:
            return False
        if self.file.endswith("/*"):
            return file.startswith(self.file[:-1])
        return file == self.file


def load_known_failures(path: Path = KNOWN_FAILURES) -> list[KnownFailure]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return [
            KnownFailure(row["file"].strip(), row["flag"].strip(), (row.get("reason") or "").strip())
            for row in csv.DictReader(f)
            if row.get("file") and not row["file"].lstrip().startswith("#")
        ]


def known_failure(known: Iterable[KnownFailure], file: str, flag: str) -> KnownFailure | None:
    return next((k for k in known if k.covers(file, flag)), None)


# --- the command ----------------------------------------------------------------------------------------------


@dataclass
class Tally:
    evaluated: int = 0
    agree: int = 0
    disagree: int = 0
    known: int = 0  # disagreements that are listed known failures
    known_passing: int = 0  # known-failure entries under which the kiosk now agrees everywhere


@dataclass
class Summary:
    tallies: dict[str, Tally]
    unexpected: list[tuple[str, str, bool, bool, str]]  # (file, flag, expected, kiosk, why)
    now_passing: list[KnownFailure]  # listed, but every file they cover agrees (or none was run)
    errors: list[FileResult]

    @property
    def ok(self) -> bool:
        return not self.unexpected and not self.errors


def summarise(results: list[FileResult], known: list[KnownFailure]) -> Summary:
    tallies = {flag: Tally() for flag in FLAGS}
    unexpected = []
    needed: set[KnownFailure] = set()
    for r in results:
        for flag, got in r.results.items():
            t = tallies[flag]
            t.evaluated += 1
            want = r.expected[flag]
            if got == want:
                t.agree += 1
                continue
            t.disagree += 1
            listed = known_failure(known, r.file, flag)
            if listed is None:
                unexpected.append((r.file, flag, want, got, r.failures.get(flag, "")))
            else:
                t.known += 1
                needed.add(listed)
    now_passing = [k for k in known if k not in needed]
    for k in now_passing:
        if k.flag in tallies:
            tallies[k.flag].known_passing += 1
    errors = [r for r in results if r.error is not None]
    return Summary(tallies, unexpected, now_passing, errors)


class _Progress:
    """Progress on stderr, only once the run has taken more than PROGRESS_AFTER seconds."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.last = 0.0
        self.shown = False
        self.tty = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.start < PROGRESS_AFTER or (
            now - self.last < (0.2 if self.tty else 5.0) and done < total
        ):
            return
        if done == total and not self.shown:
            return
        self.last, self.shown = now, True
        end = "\n" if done == total or not self.tty else ""
        print(
            ("\r" if self.tty else "") + f"dgc-testdata: {done}/{total} files",
            end=end,
            file=sys.stderr,
            flush=True,
        )


def run_cli(root: Path, *, as_json: bool = False) -> int:
    """`kiosk conformance dgc-testdata DIR [--json]`: 0 when every disagreement with the suite's
    expectations is a listed known failure, 1 otherwise (or when a test file could not be read)."""
    if not root.is_dir():
        print(f"kiosk: {root} is not a directory", file=sys.stderr)
        return 2
    start = time.monotonic()
    results = run(root, _Progress())
    if not results:
        print(f"kiosk: no test files (<CC>/<dir>/<dir>/<name>.json) under {root}", file=sys.stderr)
        return 2
    summary = summarise(results, load_known_failures())
    if as_json:
        for r in results:
            print(json.dumps(r.as_json()))
    else:
        _print_table(results, summary, time.monotonic() - start)
    return 0 if summary.ok else 1


def _print_table(results: list[FileResult], summary: Summary, seconds: float) -> None:
    head = ("flag", "evaluated", "agree", "disagree", "known failures", "known now passing")
    rows = [head]
    total = Tally()
    for flag, t in summary.tallies.items():
        values = (t.evaluated, t.agree, t.disagree, t.known, t.known_passing)
        rows.append((flag.removeprefix("EXPECTED"), *map(str, values)))
        for name, value in zip(
            ("evaluated", "agree", "disagree", "known", "known_passing"), values, strict=True
        ):
            setattr(total, name, getattr(total, name) + value)
    rows.append(
        ("total", *map(str, (total.evaluated, total.agree, total.disagree, total.known, total.known_passing)))
    )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    for n, row in enumerate(rows):
        if n == len(rows) - 1:
            print("  ".join("-" * w for w in widths))
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    print(
        f"\n{len(results)} files in {seconds:.1f} s; {total.disagree - total.known} unexpected disagreements"
    )
    for r in summary.errors:
        print(f"error: {r.file}: {r.error}")
    for file, flag, want, got, why in summary.unexpected:
        detail = f" ({why})" if why else ""
        print(f"disagree: {file} {flag}: expected {str(want).lower()}, kiosk {str(got).lower()}{detail}")
    for k in summary.now_passing:
        print(f"known failure now passing: {k.file} {k.flag} ({k.reason})")
