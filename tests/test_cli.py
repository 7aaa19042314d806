"""The `kiosk` command as outside checks call it: a real process, real files, JSON on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import corpus

CHECK_KEYS = {"decode", "signature", "key_known", "validity_window", "revocation", "rules"}


def kiosk(
    *args: str, data_dir: Path | None = None, stdin: bytes | None = None
) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if data_dir is not None:
        env["KIOSK_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "kiosk.cli", *args], capture_output=True, env=env, input=stdin, timeout=120
    )


def lines(proc: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(line) for line in proc.stdout.decode().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """A data dir with a root-signed bundle trusting one ES256 and one SM2 issuer, made by the CLI."""
    d = tmp_path_factory.mktemp("deploy")
    data = d / "data"
    for args in (
        ["--root", "--out", str(d / "root.pem")],
        ["--alg", "es256", "--iss", "440000", "--out", str(d / "gd.pem")],
        ["--alg", "sm2", "--iss", "110000", "--out", str(d / "bj.pem")],
    ):
        p = kiosk("issuer", "keygen", *args)
        assert p.returncode == 0, p.stderr
        assert len(p.stdout.strip()) == 16  # the kid, hex
    assert (d / "gd.pem").stat().st_mode & 0o777 == 0o600
    p = kiosk(
        "issuer",
        "bundle",
        "--root-key",
        str(d / "root.pem"),
        "--issuer-key",
        str(d / "gd.pem"),
        "--issuer-key",
        str(d / "bj.pem"),
        "--seq",
        "3",
        "--out",
        str(d / "bundle.jws"),
    )
    assert p.returncode == 0, p.stderr
    p = kiosk(
        "trust",
        "import",
        "--format",
        "phic-bundle",
        "--root-key",
        str(d / "root.pem"),
        str(d / "bundle.jws"),
        data_dir=data,
    )
    assert p.returncode == 0, p.stderr
    assert b"2 keys" in p.stdout and b"seq 3" in p.stdout
    return d, data


def sign(key: Path, *extra: str) -> dict:
    p = kiosk("issuer", "sign", "--key", str(key), "--json", *extra)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_verify_json_contract(deployment) -> None:
    d, data = deployment
    green = sign(
        d / "gd.pem",
        "--color",
        "green",
        "--name",
        "张小三",
        "--id-number",
        "11010519491231002X",
        "--vaccinations",
        "2",
        "--png",
        str(d / "green.png"),
    )
    assert green["text"].startswith("PHC1:") and len(bytes.fromhex(green["cti"])) == 16
    yellow = sign(
        d / "bj.pem",
        "--color",
        "yellow",
        "--type",
        "p",
        "--name",
        "李四",
        "--id-number",
        "11010519491231002X",
        "--test",
        "negative",
        "--test-at",
        "2026-11-20T08:00:00+08:00",
        "--risk-area",
    )
    codes = d / "codes.txt"
    codes.write_text(f"{green['text']}\r\n{yellow['text']}\nhello\n\nPHC1:garbage\n")
    p = kiosk(
        "verify", "--json", "--text-file", str(codes), str(d / "green.png"), "--text", "HC1:x", data_dir=data
    )
    assert p.returncode == 1  # some inputs are invalid
    out = lines(p)
    assert [o["input"] for o in out] == [
        "text",
        f"{codes}:1",
        f"{codes}:2",
        f"{codes}:3",
        f"{codes}:5",
        str(d / "green.png"),
    ]
    by_input = {o["input"]: o for o in out}
    for o in out:
        assert set(o["checks"]) == CHECK_KEYS
        assert isinstance(o["valid"], bool) and isinstance(o["reasons"], list)
        assert o["format"] in {"phic", "dcc", "shc", "unknown"}
        assert o["valid"] == (not o["reasons"])
    g = by_input[f"{codes}:1"]
    assert g["valid"] and g["format"] == "phic" and g["colour"] == "green" and g["issuer"] == "440000"
    assert g["holder"] == {"name": "张*三", "id_type": "01", "id_number": "110105********002X"}
    assert by_input[f"{codes}:2"]["valid"] and by_input[f"{codes}:2"]["colour"] == "yellow"
    assert by_input[f"{codes}:3"]["reasons"] == ["format.unknown"]
    assert by_input[f"{codes}:5"]["reasons"] == ["decode.failed"]
    assert by_input["text"]["format"] == "dcc" and by_input["text"]["reasons"] == ["decode.failed"]
    assert by_input[str(d / "green.png")]["valid"]  # through the image decoder
    assert "11010519491231002X" not in p.stdout.decode() and "张小三" not in p.stdout.decode()


def test_verify_at_a_fixed_clock(deployment) -> None:
    d, data = deployment
    code = sign(
        d / "gd.pem",
        "--color",
        "green",
        "--name",
        "张三",
        "--id-number",
        "11010519491231002X",
        "--not-before",
        "2026-01-01T00:00:00Z",
        "--valid-hours",
        "24",
    )
    ok = lines(
        kiosk("verify", "--json", "--at", "2026-01-01T12:00:00+00:00", "--text", code["text"], data_dir=data)
    )
    assert ok[0]["valid"]
    late = lines(kiosk("verify", "--json", "--at", "2026-01-03", "--text", code["text"], data_dir=data))
    assert late[0]["reasons"] == ["code.expired"] and late[0]["checks"]["signature"] is True
    early = lines(kiosk("verify", "--json", "--at", "2025-12-31", "--text", code["text"], data_dir=data))
    assert early[0]["reasons"] == ["code.not_yet_valid"]


def test_verify_with_empty_trust_store_says_key_unknown(deployment, tmp_path) -> None:
    d, _ = deployment
    code = sign(d / "gd.pem", "--color", "green", "--name", "张三", "--id-number", "11010519491231002X")
    out = lines(kiosk("verify", "--json", "--text", code["text"], data_dir=tmp_path / "empty"))
    assert out[0]["reasons"] == ["key.unknown"] and out[0]["checks"]["key_known"] is False


def test_verify_garbage_never_tracebacks(deployment, tmp_path) -> None:
    _, data = deployment
    junk = tmp_path / "junk.txt"
    junk.write_bytes(
        b"\xff\xfe\x00PHC1:\x00\nHC1:" + b"A" * 100_000 + b"\nshc:/1/2/" + b"9" * 5000 + b"\n\x00\x01\x02\n"
    )
    not_image = tmp_path / "x.png"
    not_image.write_bytes(b"not an image")
    p = kiosk(
        "verify",
        "--json",
        "--text-file",
        str(junk),
        str(not_image),
        str(tmp_path / "missing.png"),
        data_dir=data,
    )
    assert b"Traceback" not in p.stderr
    out = lines(p)
    assert len(out) == 6 and not any(o["valid"] for o in out)
    assert all(o["reasons"] for o in out)
    assert out[-1]["error"] and out[-2]["error"]


def test_verify_usage_errors(tmp_path) -> None:
    p = kiosk("verify", data_dir=tmp_path)
    assert p.returncode == 2 and b"give IMAGE" in p.stderr
    p = kiosk("verify", "--at", "yesterday", "--text", "x", data_dir=tmp_path)
    assert p.returncode == 2 and b"ISO 8601" in p.stderr and b"Traceback" not in p.stderr
    p = kiosk("verify", "--text-file", str(tmp_path / "nope.txt"), data_dir=tmp_path)
    assert p.returncode == 2 and b"cannot read" in p.stderr


def test_trust_import_refuses_tampered_lists_and_keeps_the_old(tmp_path) -> None:
    dsc = corpus("dsc-list")
    data = tmp_path / "data"
    p = kiosk(
        "trust",
        "import",
        "--format",
        "dsc-list",
        "--signing-key",
        str(dsc / "dsc-list-signing-key.pem"),
        str(dsc / "dsc-list.json"),
        data_dir=data,
    )
    assert p.returncode == 0, p.stderr
    raw = (dsc / "dsc-list.json").read_bytes()
    i = raw.index(b'"kid": "') + 9
    tampered = tmp_path / "dsc-tampered.json"
    tampered.write_bytes(raw[:i] + (b"A" if raw[i : i + 1] != b"A" else b"B") + raw[i + 1 :])
    p = kiosk(
        "trust",
        "import",
        "--format",
        "dsc-list",
        "--signing-key",
        str(dsc / "dsc-list-signing-key.pem"),
        str(tampered),
        data_dir=data,
    )
    assert p.returncode == 1
    assert b"refused" in p.stderr and b"signature" in p.stderr and b"unchanged" in p.stderr
    status = json.loads(kiosk("trust", "status", "--json", "--at", "2023-11-29", data_dir=data).stdout)
    (row,) = status["sources"]
    assert row["name"] == "dsc-list" and row["entries"] >= 820 and row["state"] == "OK"
    assert (
        json.loads(kiosk("trust", "status", "--json", data_dir=data).stdout)["sources"][0]["state"] == "STALE"
    )


def test_trust_import_vci_snapshot_and_status_table(tmp_path) -> None:
    vci = corpus("vci")
    p = kiosk(
        "trust",
        "import",
        "--format",
        "vci-snapshot",
        "--signature",
        str(vci / "vci_snapshot.sig"),
        "--certificate",
        str(vci / "vci_snapshot.crt"),
        str(vci / "vci_snapshot.json"),
        data_dir=tmp_path,
    )
    assert p.returncode == 0, p.stderr
    assert b"961 keys" in p.stdout
    table = kiosk("trust", "status", "--at", "2026-08-25", data_dir=tmp_path).stdout.decode()
    assert "vci-snapshot" in table and "961" in table and "OK" in table and "valid until" in table


def test_trust_import_phic_bundle_needs_a_root_key_once(deployment, tmp_path) -> None:
    d, _ = deployment
    data = tmp_path / "data"
    p = kiosk("trust", "import", "--format", "phic-bundle", str(d / "bundle.jws"), data_dir=data)
    assert p.returncode == 2 and b"--root-key" in p.stderr
    assert (
        kiosk(
            "trust",
            "import",
            "--format",
            "phic-bundle",
            "--root-key",
            str(d / "root.pem"),
            str(d / "bundle.jws"),
            data_dir=data,
        ).returncode
        == 0
    )
    # pinned: a re-import needs no --root-key; the same seq and content is accepted again
    p = kiosk("trust", "import", "--format", "phic-bundle", str(d / "bundle.jws"), data_dir=data)
    assert p.returncode == 0, p.stderr
    pinned = (data / "trust.sqlite").read_bytes()
    assert b"PRIVATE KEY" not in pinned  # only the public half of the root key is stored


def test_issuer_sign_rejects_bad_options(deployment) -> None:
    d, _ = deployment
    p = kiosk(
        "issuer",
        "sign",
        "--key",
        str(d / "gd.pem"),
        "--color",
        "green",
        "--name",
        "张三",
        "--id-number",
        "110105194912310021",
    )
    assert p.returncode == 2 and b"check digit" in p.stderr
    p = kiosk(
        "issuer",
        "sign",
        "--key",
        str(d / "root.pem"),
        "--color",
        "green",
        "--name",
        "张三",
        "--id-number",
        "11010519491231002X",
    )
    assert p.returncode == 2 and b"root key" in p.stderr
    p = kiosk("issuer", "keygen", "--out", str(d / "x.pem"))
    assert p.returncode == 2 and b"--iss" in p.stderr


def test_decode_json(deployment) -> None:
    d, _ = deployment
    code = sign(
        d / "gd.pem",
        "--color",
        "green",
        "--name",
        "张三",
        "--id-number",
        "11010519491231002X",
        "--png",
        str(d / "c.png"),
    )
    out = lines(kiosk("decode", "--json", str(d / "c.png")))
    assert out[0]["image"] == str(d / "c.png")
    import base64

    (payload,) = out[0]["payloads"]
    assert payload["text"] == code["text"] and base64.b64decode(payload["bytes_b64"]) == code["text"].encode()


def test_bench_json_shape() -> None:
    p = kiosk("bench", "--json", "--seconds", "0.1", "verify.phic")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    names = [b["name"] for b in doc["benchmarks"]]
    assert names and all(n.startswith("verify.phic") for n in names)
    for b in doc["benchmarks"]:
        assert set(b) == {"name", "ops_per_s", "baseline", "baseline_ops_per_s", "ratio"}
        assert b["ops_per_s"] > 0 and b["baseline_ops_per_s"] > 0
        assert b["ratio"] == pytest.approx(b["ops_per_s"] / b["baseline_ops_per_s"], rel=0.01)
    assert kiosk("bench", "no-such-benchmark").returncode == 2


def test_selftest_sim_json(tmp_path) -> None:
    """Every device fitted, all simulated: each checks itself and reports ok."""
    config = tmp_path / "devices.toml"
    config.write_text(
        "[camera]\n[serial_scanner]\n[thermometer]\n[id_reader]\n[pcsc]\n[gpio]\npulse_seconds = 0.3\n"
    )
    p = kiosk("selftest", "--sim", "--json", "--config", str(config))
    doc = json.loads(p.stdout)
    names = [d["name"] for d in doc["devices"]]
    assert names == ["camera", "serial_scanner", "thermometer", "id_reader", "pcsc", "gpio"]
    assert all(set(d) == {"name", "status", "detail"} for d in doc["devices"])
    assert [d["status"] for d in doc["devices"]] == ["ok"] * 6, doc
    assert p.returncode == 0


def test_selftest_reports_a_failed_device_and_exits_1(tmp_path) -> None:
    config = tmp_path / "devices.toml"
    config.write_text(
        "camera = false\nthermometer = false\nid_reader = false\ngpio = false\n"
        '[serial_scanner]\nbackend = "real"\nurl = "/dev/nonexistent-scanner"\n'
    )
    p = kiosk("selftest", "--json", "--config", str(config))
    (device,) = json.loads(p.stdout)["devices"]
    assert device["name"] == "serial_scanner" and device["status"] == "failed" and device["detail"]
    assert p.returncode == 1
    bad = tmp_path / "bad.toml"
    bad.write_text("[camera]\nfps = 'fast'\n")
    p = kiosk("selftest", "--config", str(bad))
    assert p.returncode == 2 and b"fps" in p.stderr and b"Traceback" not in p.stderr
