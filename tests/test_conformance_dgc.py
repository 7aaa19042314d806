"""The EU DCC conformance suite (dgc-testdata) through the real `kiosk conformance dgc-testdata` command:
the kiosk's own outcome of every step must agree with each file's EXPECTED* value, except for a short,
reasoned list of known failures; the outcomes must be computed (a tampered file flips them)."""

from __future__ import annotations

import base64
import csv
import dataclasses
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.codes import KeyRing, Reason, cose, dcc
from kiosk.conformance import dgc_testdata as dgc

PROJECT = Path(__file__).resolve().parents[1]
SUITE = PROJECT.parent / "shared/corpora/dgc-testdata"

needs_suite = pytest.mark.skipif(
    not SUITE.is_dir(),
    reason=f"EU dgc-testdata corpus not present at {SUITE} (../shared/corpora/dgc-testdata)",
)

# At least this many files must have each flag evaluated (the suite has 413-453 per flag).
MIN_EVALUATED = {
    dgc.PICTUREDECODE: 400,
    dgc.UNPREFIX: 430,
    dgc.B45DECODE: 400,
    dgc.COMPRESSION: 400,
    dgc.DECODE: 440,
    dgc.VALIDJSON: 420,
    dgc.SCHEMAVALIDATION: 400,
    dgc.VERIFY: 400,
    dgc.EXPIRATIONCHECK: 370,
    dgc.KEYUSAGE: 340,
}
MAX_KNOWN_FAILURES = 15
# The suite's own test names -> the flag each one judges.
SUITE_TESTS = {
    "test_picture_decode": dgc.PICTUREDECODE,
    "test_un_prefix": dgc.UNPREFIX,
    "test_b45decode": dgc.B45DECODE,
    "test_compression": dgc.COMPRESSION,
    "test_cose_json": dgc.DECODE,
    "test_cose_cbor": dgc.DECODE,
    "test_cbor_json": dgc.VALIDJSON,
    "test_cose_schema": dgc.SCHEMAVALIDATION,
    "test_verification_check": dgc.VERIFY,
    "test_expiration_check": dgc.EXPIRATIONCHECK,
    "test_expected_key_usage": dgc.KEYUSAGE,
}


def run_command(root: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "conformance", "dgc-testdata", str(root), *extra],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def json_lines(proc: subprocess.CompletedProcess) -> dict[str, dict]:
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return {line["file"]: line for line in lines}


def expectations(root: Path, rel: str) -> dict:
    return json.loads((root / rel).read_text(encoding="utf-8"))["EXPECTEDRESULTS"]


@pytest.fixture(scope="module")
def suite_run():
    if not SUITE.is_dir():
        pytest.skip(f"EU dgc-testdata corpus not present at {SUITE}")
    proc = run_command(SUITE, "--json")
    assert proc.returncode in (0, 1), proc.stderr
    return proc, json_lines(proc)


@needs_suite
def test_every_evaluated_flag_agrees_with_the_suite(suite_run):
    proc, lines = suite_run
    known = dgc.load_known_failures()
    rows = []
    for rel, line in sorted(lines.items()):
        assert "error" not in line, f"{rel}: {line['error']}"
        expected = expectations(SUITE, rel)
        for flag, got in line["results"].items():
            want = bool(expected[flag])
            if got != want and dgc.known_failure(known, rel, flag) is None:
                rows.append((rel, flag, want, got))
    if rows:
        print("disagreements (file, flag, expected, kiosk):")
        for row in rows:
            print("  ", *row)
    assert not rows, f"{len(rows)} unexpected disagreements with the suite (printed above)"
    assert proc.returncode == 0, proc.stderr


@needs_suite
def test_the_harness_files_are_run_and_the_flags_really_evaluated(suite_run):
    _, lines = suite_run
    # <CC>/<any>/<any>/<name>.json only: PT's files one level deeper and the root 6.json never run.
    assert len(lines) == len(list(SUITE.glob("*/*/*/*.json"))) >= 470
    assert not any(rel.startswith("PT/") or "/" not in rel for rel in lines)
    assert any(rel.startswith("common/") for rel in lines)
    counts = {flag: 0 for flag in dgc.FLAGS}
    false_outcomes = {flag: 0 for flag in dgc.FLAGS}
    for line in lines.values():
        for flag, got in line["results"].items():
            assert isinstance(got, bool)
            counts[flag] += 1
            false_outcomes[flag] += not got
    for flag, minimum in MIN_EVALUATED.items():
        assert counts[flag] >= minimum, f"{flag} evaluated for only {counts[flag]} files"
    # The negative cases are evaluated too, and the kiosk refuses them.
    assert false_outcomes[dgc.VERIFY] >= 4
    assert false_outcomes[dgc.KEYUSAGE] >= 70
    assert false_outcomes[dgc.SCHEMAVALIDATION] >= 50
    # Flags the harness never evaluates are not reported.
    reported = {flag for line in lines.values() for flag in line["results"]}
    assert reported <= set(dgc.FLAGS)


@needs_suite
def test_summary_table_and_exit_status():
    proc = run_command(SUITE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for flag in dgc.FLAGS:
        assert flag.removeprefix("EXPECTED") in proc.stdout
    assert "total" in proc.stdout
    assert "0 unexpected disagreements" in proc.stdout


def test_known_failure_list_is_short_and_reasoned():
    known = dgc.load_known_failures()
    assert dgc.KNOWN_FAILURES.is_file()
    assert 0 < len(known) <= MAX_KNOWN_FAILURES
    assert len(set(known)) == len(known), "duplicate entries"
    for k in known:
        assert k.flag in dgc.FLAGS, k
        assert len(k.reason) >= 30, f"{k.file} {k.flag}: no real reason given"
        parts = k.file.split("/")
        assert len(parts) == 2 and parts[1] == "*" or len(parts) == 4 and parts[3].endswith(".json"), k.file


@needs_suite
def test_known_failures_name_real_files_and_wildcards_only_where_the_suite_has_them():
    with (SUITE / "tests/known_issues.csv").open(newline="") as f:
        country_wide = {
            (row["country"], SUITE_TESTS[row["test_name"]])
            for row in csv.DictReader(f)
            if not row["test_set"] and row["test_name"] in SUITE_TESTS
        }
    for k in dgc.load_known_failures():
        if k.file.endswith("/*"):
            assert (k.file[:-2], k.flag) in country_wide, f"{k.file} {k.flag}: the suite lists no such issue"
        else:
            assert (SUITE / k.file).is_file(), k.file
            assert k.flag in expectations(SUITE, k.file), f"{k.file} does not ask for {k.flag}"


def copy_case(tmp_path: Path, rel: str) -> tuple[Path, dict]:
    target = tmp_path / rel
    target.parent.mkdir(parents=True)
    shutil.copyfile(SUITE / rel, target)
    return target, json.loads(target.read_text(encoding="utf-8"))


@needs_suite
def test_a_tampered_signature_flips_verify(tmp_path):
    rel = "AT/2DCode/raw/1.json"
    target, data = copy_case(tmp_path, rel)
    assert data["EXPECTEDRESULTS"]["EXPECTEDVERIFY"] is True
    untouched = run_command(tmp_path, "--json")
    assert json_lines(untouched)[rel]["results"][dgc.VERIFY] is True
    assert untouched.returncode == 0

    raw = bytearray(bytes.fromhex(data["COSE"]))
    raw[-1] ^= 0x01  # the last byte of the signature
    data["COSE"] = raw.hex()
    target.write_text(json.dumps(data), encoding="utf-8")
    proc = run_command(tmp_path, "--json")
    results = json_lines(proc)[rel]["results"]
    assert results[dgc.VERIFY] is False
    assert results[dgc.COMPRESSION] is False  # COMPRESSED no longer inflates to this COSE
    assert results[dgc.DECODE] is True  # the payload itself is untouched
    assert proc.returncode == 1  # an unlisted disagreement


@needs_suite
def test_outcomes_do_not_follow_the_expectations(tmp_path):
    rel = "common/2DCode/raw/CO5.json"  # a bad signature the suite expects to fail
    target, data = copy_case(tmp_path, rel)
    assert data["EXPECTEDRESULTS"]["EXPECTEDVERIFY"] is False
    data["EXPECTEDRESULTS"] = {flag: True for flag in dgc.FLAGS}
    target.write_text(json.dumps(data), encoding="utf-8")
    results = json_lines(run_command(tmp_path, "--json"))[rel]["results"]
    assert results[dgc.VERIFY] is False


@needs_suite
def test_broken_and_misplaced_files_do_not_crash_the_run(tmp_path):
    copy_case(tmp_path, "AT/2DCode/raw/1.json")
    bad = tmp_path / "XX/2DCode/raw/broken.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"EXPECTEDRESULTS": {"EXPECTEDVERIFY": tru', encoding="utf-8")
    (bad.parent / "list.json").write_text("[1, 2]", encoding="utf-8")
    junk = dict(
        EXPECTEDRESULTS={f: True for f in dgc.FLAGS}, TESTCTX={"CERTIFICATE": "%%%", "VALIDATIONCLOCK": "x"}
    )
    junk.update(
        COSE="zz", CBOR="a1", JSON={}, COMPRESSED="78", BASE45="::", PREFIX="HC1:", **{"2DCODE": "AAAA"}
    )
    (bad.parent / "junk.json").write_text(json.dumps(junk), encoding="utf-8")
    deep = tmp_path / "PT/1.0.0/2DCode/raw/1.json"
    deep.parent.mkdir(parents=True)
    shutil.copyfile(SUITE / "AT/2DCode/raw/1.json", deep)
    shutil.copyfile(SUITE / "AT/2DCode/raw/1.json", tmp_path / "6.json")

    proc = run_command(tmp_path, "--json")
    lines = json_lines(proc)
    assert set(lines) == {
        "AT/2DCode/raw/1.json",
        "XX/2DCode/raw/broken.json",
        "XX/2DCode/raw/list.json",
        "XX/2DCode/raw/junk.json",
    }
    assert "error" in lines["XX/2DCode/raw/broken.json"]
    assert "error" in lines["XX/2DCode/raw/list.json"]
    junk_results = lines["XX/2DCode/raw/junk.json"]["results"]
    assert set(junk_results) == set(dgc.FLAGS)
    assert not any(junk_results.values())
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr


def test_date_normalisation_matches_the_harness():
    n = dgc.normalise_string
    assert n("1964-08-12") == n("1964-08-12T00:00:00Z") == "1964-08-12T00:00:00Z"
    assert n("2021-06-15T09:24:02.000Z") == n("2021-06-15T09:24:02Z")
    assert n("2021-05-30T10:30:15+02:00") == "2021-05-30T10:30:15Z"  # offset dropped, wall clock kept
    assert n("2021-05-30 10:30:15") == "2021-05-30T10:30:15Z"
    assert n("1963-00-01") == "1963-00-01"  # not a date
    assert (
        n("URN:UVCI:01:AT:10807843F94AEE0EE5093FBC254BD813#B")
        == "URN:UVCI:01:AT:10807843F94AEE0EE5093FBC254BD813#B"
    )
    assert dgc.normalise({"b": ["2", "1"], "a": "2021-01-01"}) == [
        ("a", "2021-01-01T00:00:00Z"),
        ("b", ["1", "2"]),
    ]


def test_validation_clock_forms():
    base = 1622505600.0  # 2021-06-01T00:00:00Z
    assert dgc.parse_clock("2021-06-01T00:00:00Z") == base
    assert dgc.parse_clock("2021-06-01T00:00:00") == base  # no zone: UTC
    assert dgc.parse_clock("2021-06-01T02:00:00+0200") == base
    assert dgc.parse_clock("2021-06-01T02:00:00.123456789+02:00") == pytest.approx(base + 0.123456)
    with pytest.raises(ValueError):
        dgc.parse_clock("yesterday")


def suite_key_and_message(rel: str):
    data = json.loads((SUITE / rel).read_text(encoding="utf-8"))
    der = base64.b64decode(data["TESTCTX"]["CERTIFICATE"])
    key = dcc.trusted_key_from_certificate(der, hashlib.sha256(der).digest()[:8], rel[:2])
    return key, cose.parse_sign1(bytes.fromhex(data["COSE"])), data


@needs_suite
def test_signer_period_and_usage_are_judged_even_when_the_signature_fails():
    """The harness judges EXPIRATIONCHECK and KEYUSAGE without the signature: so does verify_message."""
    key, msg, _ = suite_key_and_message("common/2DCode/raw/CO5.json")  # bad signature, iat 1620064800
    ring = KeyRing()
    ring.add(dataclasses.replace(key, usages=frozenset("r"), not_before=1620064801))
    result = dcc.verify_message(msg, ring, 1620100000, skew=0)
    assert result.checks.signature is False
    assert result.checks.validity_window is False
    assert Reason.KEY_USAGE in result.reasons and Reason.KEY_NOT_AUTHORIZED in result.reasons


@needs_suite
def test_a_fractional_exp_past_the_signer_certificate_is_outside_it():
    key, msg, data = suite_key_and_message("ES/2DCode/raw/701.json")  # exp 1649412697.601
    now = dgc.parse_clock(data["TESTCTX"]["VALIDATIONCLOCK"])
    for not_after, inside in ((1649412698, True), (1649412697, False)):
        ring = KeyRing()
        ring.add(dataclasses.replace(key, not_after=not_after))
        assert dcc.verify_message(msg, ring, now, skew=0).checks.validity_window is inside
