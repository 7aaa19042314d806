"""The appliance (issue 7): systemd units, the installer, provisioning from a USB bundle, `kiosk status`,
the sd_notify helper."""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from drivers.config import parse as parse_devices
from drivers.idcard import id_check_digit
from kiosk import sdnotify
from kiosk.crypto.keys import spki_pem
from kiosk.issuer import keys
from kiosk.issuer.bundle import make_bundle
from kiosk.issuer.phic import mint
from kiosk.issuer.status_list import make_status_list
from kiosk.policy.policy import parse_policy
from kiosk.provision import ProvisionError, provision, read_name
from kiosk.status import collect, render

ROOT = Path(__file__).resolve().parents[1]
SYSTEMD = ROOT / "systemd"
UNITS = sorted(p for p in SYSTEMD.iterdir() if p.suffix in (".service", ".socket", ".timer", ".path"))
ANALYZE = shutil.which("systemd-analyze")
EXEC = "/usr/lib/healthcode-kiosk/venv/bin/kiosk"


# --- systemd ------------------------------------------------------------------------------------------


def exec_paths(unit: Path) -> set[str]:
    """The programs a unit runs: the first word of every Exec*= line, without the -@:+! prefixes."""
    paths = set()
    for line in unit.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.startswith("Exec") and value.strip():
            paths.add(value.split()[0].lstrip("-@:+!"))
    return paths


@pytest.fixture(scope="module")
def unit_root(tmp_path_factory) -> Path:
    """A disposable root for `systemd-analyze --root`: the host's stock units (sysinit.target etc.,
    pulled in by default dependencies), ours, and a stub at every Exec path (systemd 252's verify
    refuses a unit whose command is not executable)."""
    if ANALYZE is None:
        pytest.skip("systemd-analyze not installed (apt: systemd)")
    root = tmp_path_factory.mktemp("unit-root")
    stock = Path("/usr/lib/systemd/system")
    if not stock.is_dir():
        stock = Path("/lib/systemd/system")
    shutil.copytree(stock, root / "usr/lib/systemd/system", symlinks=True)
    dest = root / "etc/systemd/system"
    dest.mkdir(parents=True)
    for unit in UNITS:
        shutil.copy(unit, dest / unit.name)
        for path in exec_paths(unit):
            stub = root / path.lstrip("/")
            if not stub.exists():
                stub.parent.mkdir(parents=True, exist_ok=True)
                stub.write_text("#!/bin/sh\nexit 0\n")
                stub.chmod(0o755)
    return root


@pytest.mark.parametrize("unit", [u.name for u in UNITS])
def test_units_verify(unit_root: Path, unit: str) -> None:
    proc = subprocess.run(
        [ANALYZE, "verify", f"--root={unit_root}", f"/etc/systemd/system/{unit}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    # unknown keys and bad values are only warnings (exit 0): any output about our unit is a failure
    assert proc.returncode == 0, proc.stderr
    assert unit not in proc.stderr, proc.stderr


SERVICES = [u.name for u in UNITS if u.suffix == ".service"]


def exposure(unit_root: Path, unit: str) -> float:
    proc = subprocess.run(
        [ANALYZE, "security", "--offline=true", f"--root={unit_root}", unit],
        capture_output=True,
        text=True,
        timeout=30,
    )
    overall = [line for line in proc.stdout.splitlines() if "Overall exposure level" in line]
    assert overall, proc.stdout + proc.stderr
    print(overall[0])  # pytest -s shows every unit's score
    return float(overall[0].split(":")[1].split()[0])


def test_unit_security_scores(unit_root: Path) -> None:
    """The score's weights change between systemd versions, so the bounds are loose and relative: no unit
    of ours is worse than MEDIUM (root-run oneshots included), and the hub, which touches no hardware, is
    locked down at least as tightly as the kiosk."""
    scores = {unit: exposure(unit_root, unit) for unit in SERVICES}
    assert all(score < 5.0 for score in scores.values()), scores
    assert scores["healthcode-hub.service"] <= scores["healthcode-kiosk.service"], scores


def unit_settings(name: str) -> dict[str, list[str]]:
    """KEY -> values of a unit file (continuation lines joined; comments dropped)."""
    settings: dict[str, list[str]] = {}
    text = (SYSTEMD / name).read_text().replace("\\\n", " ")
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(" ".join(value.split()))
    return settings


def test_unit_contract() -> None:
    text = (SYSTEMD / "healthcode-kiosk.service").read_text()
    for line in (
        "Type=notify",
        "User=healthcode-kiosk",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/healthcode-kiosk",
        "CapabilityBoundingSet=\n",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        "SystemCallFilter=@system-service",
        f"ExecStopPost=-{EXEC} gpio-safe --config /etc/healthcode-kiosk/devices.toml",
    ):
        assert line in text, line
    s = unit_settings("healthcode-kiosk.service")
    # the launcher execs `kiosk run` (screen or headless) with the same options the unit always passed
    assert s["ExecStart"] == [
        "/usr/lib/healthcode-kiosk/kiosk-launch --config /etc/healthcode-kiosk/devices.toml "
        "--policy /etc/healthcode-kiosk/policy.toml --data-dir /var/lib/healthcode-kiosk"
    ]
    assert "KIOSK_SCREEN=auto" in s["Environment"]
    assert {"char-drm rw", "char-input rw", "char-alsa rw", "char-gpiochip rw"} <= set(s["DeviceAllow"])
    assert "healthcode-provision.service" in s["After"][0] and "time-set.target" in s["After"][0]


def test_hub_unit_contract() -> None:
    s = unit_settings("healthcode-hub.service")
    assert s["Type"] == ["notify"] and s["NotifyAccess"] == ["main"] and s["User"] == ["healthcode-hub"]
    assert s["Restart"] == ["on-failure"]
    assert s["StartLimitBurst"] and s["StartLimitIntervalSec"]
    assert s["ExecStart"] == [
        f"{EXEC} hub serve --dir /var/lib/healthcode-hub --host ${{HUB_HOST}} --port ${{HUB_PORT}} $HUB_OPTIONS"
    ]
    assert s["ExecStartPost"][0].startswith("/usr/lib/healthcode-kiosk/hub-wait-ready ")
    assert s["EnvironmentFile"] == ["-/etc/healthcode-hub/hub.env"]
    assert s["PrivateDevices"] == ["yes"] and s["ReadWritePaths"] == ["/var/lib/healthcode-hub"]
    assert s["RestrictAddressFamilies"] == ["AF_INET AF_INET6 AF_UNIX"]
    assert "DeviceAllow" not in s and s["CapabilityBoundingSet"] == [""]
    # no database URL or password in the unit: those live in hub.env
    assert not any("postgresql://" in v or "PGPASSWORD" in v for vs in s.values() for v in vs)
    assert any(v.startswith("HUB_OPTIONS=") for v in s["Environment"])


def test_sysusers_and_tmpfiles(tmp_path: Path) -> None:
    for tool in ("systemd-sysusers", "systemd-tmpfiles"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed")
    (tmp_path / "etc").mkdir()
    (tmp_path / "usr/lib/sysusers.d").mkdir(parents=True)
    (tmp_path / "usr/lib/tmpfiles.d").mkdir(parents=True)
    for name in ("healthcode-kiosk", "healthcode-hub"):
        shutil.copy(SYSTEMD / f"{name}.sysusers", tmp_path / f"usr/lib/sysusers.d/{name}.conf")
        shutil.copy(SYSTEMD / f"{name}.tmpfiles", tmp_path / f"usr/lib/tmpfiles.d/{name}.conf")
    subprocess.run(["systemd-sysusers", f"--root={tmp_path}"], check=True, capture_output=True)
    passwd = (tmp_path / "etc/passwd").read_text()
    assert "healthcode-kiosk:x:" in passwd and "/usr/sbin/nologin" in passwd
    assert "healthcode-hub:x:" in passwd
    group = (tmp_path / "etc/group").read_text().splitlines()
    for g in ("video", "render", "input", "audio", "i2c", "gpio", "dialout"):
        assert any(line.startswith(f"{g}:") and "healthcode-kiosk" in line for line in group), g
    assert not any("healthcode-hub" in line for line in group if not line.startswith("healthcode-hub:"))
    subprocess.run(["systemd-tmpfiles", f"--root={tmp_path}", "--create"], check=True, capture_output=True)
    assert (tmp_path / "var/lib/healthcode-kiosk").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "var/lib/healthcode-hub").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "etc/healthcode-hub").stat().st_mode & 0o777 == 0o750


# --- sd_notify --------------------------------------------------------------------------------------------


def test_sdnotify_datagrams(tmp_path: Path, monkeypatch) -> None:
    assert not sdnotify.ready()  # outside systemd: a no-op
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        server.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        monkeypatch.setenv("WATCHDOG_USEC", "2000000")
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
        monkeypatch.setattr(sdnotify, "_last_ping", 0.0)
        assert sdnotify.ready()
        assert server.recv(256) == b"READY=1\nSTATUS=checkpoint running"
        clock = iter([100.0, 100.5, 101.1]).__next__
        assert sdnotify.watchdog(clock)
        assert not sdnotify.watchdog(clock)  # within half the interval: not sent
        assert sdnotify.watchdog(clock)
        assert server.recv(256) == b"WATCHDOG=1" and server.recv(256) == b"WATCHDOG=1"
        assert sdnotify.stopping()
        assert server.recv(256).startswith(b"STOPPING=1")
        monkeypatch.setenv("WATCHDOG_PID", "1")  # the watchdog is for another process
        assert sdnotify.watchdog_interval() is None


# --- installer -------------------------------------------------------------------------------------------

# shellcheck of install.sh and every other deploy script: tests/test_image.py::test_shellcheck


def run_install(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        ["bash", str(ROOT / "deploy/install.sh"), *args], capture_output=True, text=True, timeout=60
    )
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _install(root: Path, *args: str) -> str:
    return run_install("--root", str(root), *args).stdout


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_install_into_root_twice(tmp_path: Path) -> None:
    boot = tmp_path / "boot/firmware"
    boot.mkdir(parents=True)
    # a config.txt ending in a model-specific section: ours must go under [all]
    (boot / "config.txt").write_text("dtparam=audio=on\n[cm5]\ndtoverlay=dwc2,dr_mode=host\n")
    first = _install(tmp_path)
    assert "install: /etc/systemd/system/healthcode-kiosk.service" in first
    for path in (
        "etc/systemd/system/healthcode-kiosk.service",
        "etc/systemd/system/healthcode-provision.service",
        "etc/systemd/system/healthcode-rtc.service",
        "usr/lib/sysusers.d/healthcode-kiosk.conf",
        "usr/lib/tmpfiles.d/healthcode-kiosk.conf",
        "etc/udev/rules.d/99-healthcode-kiosk.rules",
        "etc/modules-load.d/healthcode-kiosk.conf",
        "usr/share/doc/healthcode-kiosk/technician.md",
        "usr/share/doc/healthcode-kiosk/guard.md",
    ):
        assert (tmp_path / path).is_file(), path
    for helper in ("kiosk-launch", "provision-usb", "rtc-set"):  # the units' Exec paths, executable
        assert mode(tmp_path / "usr/lib/healthcode-kiosk" / helper) == 0o755, helper
    assert not (tmp_path / "etc/systemd/system/healthcode-hub.service").exists()  # the hub is its own role
    devices = tmp_path / "etc/healthcode-kiosk/devices.toml"
    assert mode(devices) == 0o640
    parse_devices(devices.read_text(), str(devices))  # the templates are valid as shipped
    parse_policy((tmp_path / "etc/healthcode-kiosk/policy.toml").read_text())
    snapshot = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and ".pwd.lock" not in p.name}
    devices.write_text(devices.read_text() + "# site edit\n")  # a technician's edit survives a re-run
    (tmp_path / "usr/lib/healthcode-kiosk/kiosk-launch").chmod(0o644)  # a lost mode is put back

    second = _install(tmp_path)
    assert "install:" not in second and "appended" not in second, second
    assert "mode: /usr/lib/healthcode-kiosk/kiosk-launch" in second
    assert mode(tmp_path / "usr/lib/healthcode-kiosk/kiosk-launch") == 0o755
    config = (boot / "config.txt").read_text()
    for line in ("dtparam=i2c_arm=on,i2c_arm_baudrate=100000", "dtoverlay=i2c-rtc,ds3231", "gpio=17=op,dh"):
        assert config.count(line + "\n") == 1, line
    assert config.index("[all]\n") > config.index("[cm5]") and config.count("[all]") == 1
    assert config.index("[all]\n") < config.index("dtoverlay=i2c-rtc,ds3231")
    assert devices.read_text().endswith("# site edit\n")
    for path, data in snapshot.items():
        if path != devices:
            assert path.read_bytes() == data, path
    if shutil.which("systemd-sysusers"):
        assert "healthcode-kiosk:" in (tmp_path / "etc/passwd").read_text()


def test_install_hub_role_into_root_twice(tmp_path: Path) -> None:
    first = _install(tmp_path, "--role", "hub")
    for path in (
        "etc/systemd/system/healthcode-hub.service",
        "etc/systemd/system/healthcode-hub-purge.service",
        "etc/systemd/system/healthcode-hub-purge.timer",
        "usr/lib/sysusers.d/healthcode-hub.conf",
        "usr/lib/tmpfiles.d/healthcode-hub.conf",
        "usr/share/doc/healthcode-kiosk/hub-protocol.md",
    ):
        assert (tmp_path / path).is_file(), path
    assert mode(tmp_path / "usr/lib/healthcode-kiosk/hub-wait-ready") == 0o755
    # no kiosk pieces on a hub: no udev rules, no config.txt, no kiosk unit
    assert not (tmp_path / "etc/udev").exists()
    assert not (tmp_path / "etc/systemd/system/healthcode-kiosk.service").exists()
    env = tmp_path / "etc/healthcode-hub/hub.env"
    assert mode(env) == 0o640 and "HUB_OPTIONS=" in env.read_text()
    if shutil.which("systemd-sysusers") and shutil.which("systemd-tmpfiles"):
        assert "healthcode-hub:x:" in (tmp_path / "etc/passwd").read_text()
        hub_gid = next(
            int(line.split(":")[2])
            for line in (tmp_path / "etc/group").read_text().splitlines()
            if line.startswith("healthcode-hub:")
        )
        if os.geteuid() == 0:  # tmpfiles can only chown as root
            assert env.stat().st_gid == hub_gid and env.stat().st_uid == 0  # the password: root and the hub
            assert (tmp_path / "var/lib/healthcode-hub").stat().st_gid == hub_gid
        assert mode(tmp_path / "var/lib/healthcode-hub") == 0o700
        assert mode(tmp_path / "etc/healthcode-hub") == 0o750
    env.write_text(env.read_text() + "PGPASSWORD=site-secret\n")
    second = _install(tmp_path, "--role", "hub")
    assert "install:" not in second and "kept: /etc/healthcode-hub/hub.env" in second, second
    assert env.read_text().endswith("PGPASSWORD=site-secret\n")
    assert "install: /etc/systemd/system/healthcode-hub.service" in first


def test_install_enrolment_is_printed_with_root_and_dry_run(tmp_path: Path) -> None:
    enrol = [
        "--hub",
        "https://hub.example.org",
        "--enroll-code",
        "K7Q2-PX9M",
        "--root-fingerprint",
        "ab:cd:12",
    ]
    out = _install(tmp_path / "r", *enrol)
    line = next(x for x in out.splitlines() if "would run:" in x and "sync enroll" in x)
    assert line.split("would run: ", 1)[1].split() == [
        "setpriv",
        "--reuid=healthcode-kiosk",
        "--regid=healthcode-kiosk",
        "--init-groups",
        "env",
        "HOME=/var/lib/healthcode-kiosk",
        "KIOSK_DATA_DIR=/var/lib/healthcode-kiosk",
        EXEC,
        "sync",
        "enroll",
        "--hub",
        "https://hub.example.org",
        "--code",
        "K7Q2-PX9M",
        "--root-fingerprint",
        "ab:cd:12",
    ]
    dry = run_install(
        "--dry-run", "--root", str(tmp_path / "d"), "--hub", "http://10.0.0.2:8080", "--enroll-code", "X"
    )
    assert "sync enroll --hub http://10.0.0.2:8080 --code X" in dry.stdout
    assert "--root-fingerprint" not in dry.stdout and not (tmp_path / "d").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--role", "gateway"], "expected kiosk or hub"),
        (["--hub", "https://hub.example.org"], "go together"),
        (["--enroll-code", "X"], "go together"),
        (["--hub", "hub.example.org", "--enroll-code", "X"], "http:// or https://"),
        (["--hub", "https://h", "--enroll-code", "X", "--root-fingerprint", "zz"], "hexadecimal"),
        (["--root-fingerprint", "abcd"], "needs --hub"),
        (["--role", "hub", "--hub", "https://h", "--enroll-code", "X"], "for --role kiosk"),
        (["--image", "--hub", "https://h", "--enroll-code", "X"], "enrol each one"),
        (["--image", "--root", "/tmp/x"], "no --root"),
    ],
)
def test_install_refuses_bad_options(tmp_path: Path, args: list[str], message: str) -> None:
    proc = run_install("--dry-run", *args, check=False)
    assert proc.returncode == 2 and message in proc.stderr, proc.stdout + proc.stderr


def test_install_lists_packages_per_role() -> None:
    kiosk = run_install("--list-packages").stdout.split()
    hub = run_install("--list-packages", "--role", "hub").stdout.split()
    assert {"pcscd", "python3-lgpio", "espeak-ng", "alsa-utils", "util-linux-extra", "libgbm1"} <= set(kiosk)
    assert "pcscd" not in hub and "python3-lgpio" not in hub and "python3-venv" in hub
    assert "python3-picamera2" in run_install("--list-packages", "--with-picamera2").stdout.split()


def test_install_dry_run_changes_nothing(tmp_path: Path) -> None:
    for role in ("kiosk", "hub"):
        proc = run_install("--dry-run", "--role", role, "--root", str(tmp_path / "r"))
        assert "would run:" in proc.stdout
    assert not (tmp_path / "r").exists()


# --- launcher, clock, hub health check, udev rules ---------------------------------------------------------


def fake_kiosk(path: Path) -> Path:
    """A stand-in for the venv's `kiosk`: writes its arguments and the Qt/kiosk environment as JSON."""
    path.write_text(
        "#!/usr/bin/env python3\nimport json, os, sys\n"
        "env = {k: v for k, v in os.environ.items() if k.startswith(('QT_', 'KIOSK_'))}\n"
        "print(json.dumps({'argv': sys.argv[1:], 'env': env}))\n"
    )
    path.chmod(0o755)
    return path


def launch(tmp_path: Path, drm: dict[str, str], **env: str) -> dict:
    sysfs = tmp_path / "drm"
    shutil.rmtree(sysfs, ignore_errors=True)
    for connector, status in drm.items():
        (sysfs / connector).mkdir(parents=True)
        (sysfs / connector / "status").write_text(status + "\n")
    (tmp_path / "run").mkdir(exist_ok=True)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("QT_", "KIOSK_"))}
    proc = subprocess.run(
        [str(ROOT / "deploy/kiosk-launch.sh"), "--config", "/etc/d.toml", "--data-dir", "/var/lib/k"],
        env={
            **clean,
            "KIOSK_EXE": str(fake_kiosk(tmp_path / "kiosk")),
            "KIOSK_SYSFS_DRM": str(sysfs),
            "KIOSK_EGLFS_CONFIG": str(tmp_path / "no-eglfs.json"),
            "RUNTIME_DIRECTORY": str(tmp_path / "run"),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    result["stderr"] = proc.stderr
    return result


def test_launcher_picks_screen_or_headless(tmp_path: Path) -> None:
    # no display connected (HDMI unplugged, composite unknown, no panel): headless, same options
    got = launch(
        tmp_path, {"card1-HDMI-A-1": "disconnected", "card1-Composite-1": "unknown", "card0": "unknown"}
    )
    assert got["argv"] == ["run", "--headless", "--config", "/etc/d.toml", "--data-dir", "/var/lib/k"]
    assert "no connected display" in got["stderr"]

    # the official panel on DSI and a monitor on HDMI of another card: the panel's card is named
    got = launch(tmp_path, {"card1-HDMI-A-1": "connected", "card2-DSI-1": "connected"})
    assert got["argv"] == ["run", "--config", "/etc/d.toml", "--data-dir", "/var/lib/k"]
    assert got["env"]["QT_QPA_PLATFORM"] == "eglfs" and got["env"]["QT_QPA_EGLFS_INTEGRATION"] == "eglfs_kms"
    kms = json.loads(Path(got["env"]["QT_QPA_EGLFS_KMS_CONFIG"]).read_text())
    assert kms == {"device": "/dev/dri/card2", "hwcursor": False}
    assert Path(got["env"]["QT_QPA_EGLFS_KMS_CONFIG"]).parent == tmp_path / "run"

    # a panel driver that reports "unknown" is still the display (a DSI connector means a panel was found)
    got = launch(tmp_path, {"card1-HDMI-A-1": "disconnected", "card2-DSI-1": "unknown"})
    assert json.loads(Path(got["env"]["QT_QPA_EGLFS_KMS_CONFIG"]).read_text())["device"] == "/dev/dri/card2"

    # KIOSK_SCREEN=off wins over a connected display; =on without one lets Qt choose
    got = launch(tmp_path, {"card1-HDMI-A-1": "connected"}, KIOSK_SCREEN="off")
    assert got["argv"][:2] == ["run", "--headless"] and "QT_QPA_PLATFORM" not in got["env"]
    got = launch(tmp_path, {}, KIOSK_SCREEN="on")
    assert got["argv"][1] != "--headless" and "QT_QPA_EGLFS_KMS_CONFIG" not in got["env"]

    # the technician's eglfs.json, and a drop-in's own Qt settings, are kept
    own = tmp_path / "eglfs.json"
    own.write_text('{"device": "/dev/dri/card1"}\n')
    got = launch(tmp_path, {}, KIOSK_EGLFS_CONFIG=str(own), QT_QPA_EGLFS_HIDECURSOR="0")
    assert got["env"]["QT_QPA_EGLFS_KMS_CONFIG"] == str(own) and got["env"]["QT_QPA_EGLFS_HIDECURSOR"] == "0"


def fake_hwclock(tmp_path: Path, reading: str) -> Path:
    log = tmp_path / "hwclock.log"
    script = tmp_path / "hwclock"
    script.write_text(f'#!/bin/sh\necho "$*" >> {log}\ncase "$*" in *--get*) echo "{reading}" ;; esac\n')
    script.chmod(0o755)
    return script


def test_rtc_is_read_but_never_sets_the_clock_backwards(tmp_path: Path) -> None:
    rtc_set = str(ROOT / "deploy/rtc-set.sh")
    now = time.strftime("%Y-%m-%d %H:%M:%S.000000+00:00", time.gmtime(time.time() + 5))
    env = {**os.environ, "HWCLOCK": str(fake_hwclock(tmp_path, now))}
    proc = subprocess.run([rtc_set, "/dev/rtc0"], env=env, capture_output=True, text=True, timeout=10)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "hwclock.log").read_text().splitlines() == [
        "--rtc=/dev/rtc0 --get --utc",
        "--rtc=/dev/rtc0 --hctosys --utc",
    ]
    (tmp_path / "hwclock.log").unlink()
    env["HWCLOCK"] = str(fake_hwclock(tmp_path, "2000-01-01 00:00:07.123456+00:00"))  # a flat RTC cell
    proc = subprocess.run([rtc_set], env=env, capture_output=True, text=True, timeout=10)
    assert proc.returncode == 0 and "not used" in proc.stderr, proc.stderr
    assert "--hctosys" not in (tmp_path / "hwclock.log").read_text()


class _Health(http.server.BaseHTTPRequestHandler):
    answer = b'{"status": "ok", "time": 0}'

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        code = 200 if self.path == "/v1/health" else 404
        body = self.answer if code == 200 else b"{}"
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_hub_wait_ready(tmp_path: Path) -> None:
    script = [sys.executable, str(ROOT / "deploy/hub-wait-ready.py")]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _Health.answer = json.dumps({"status": "ok", "time": time.time()}).encode()
        # a hub on every address answers on loopback
        ok = subprocess.run(
            [*script, "--host", "0.0.0.0", "--port", str(port), "--timeout", "5"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert ok.returncode == 0 and "ok, clock offset" in ok.stdout, ok.stderr
        _Health.answer = b'{"status": "starting"}'
        bad = subprocess.run(
            [*script, "--port", str(port), "--timeout", "1"], capture_output=True, text=True, timeout=20
        )
        assert bad.returncode == 1 and "unexpected answer" in bad.stderr
    finally:
        server.shutdown()
        server.server_close()
    down = subprocess.run(
        [*script, "--port", str(port), "--timeout", "1"], capture_output=True, text=True, timeout=20
    )
    assert down.returncode == 1 and "not healthy after 1 s" in down.stderr


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hub.example.org")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "fullchain.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_hub_wait_ready_follows_the_hub_to_https(tmp_path: Path) -> None:
    """With --tls-cert in HUB_OPTIONS (hub.env) the hub serves TLS itself: the probe speaks HTTPS to it,
    whatever name its certificate carries."""
    import ssl

    cert, key = self_signed(tmp_path)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Health.answer = b'{"status": "ok"}'
    script = [sys.executable, str(ROOT / "deploy/hub-wait-ready.py"), "--port", str(port), "--timeout", "3"]
    try:
        env = {**os.environ, "HUB_OPTIONS": f"--tls-cert {cert} --tls-key {key}"}
        ok = subprocess.run(script, env=env, capture_output=True, text=True, timeout=20)
        assert ok.returncode == 0 and f"https://127.0.0.1:{port}/v1/health: ok" in ok.stdout, ok.stderr
        plain = subprocess.run(
            [*script, "--timeout", "0.5"],
            env={**os.environ, "HUB_OPTIONS": ""},
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert plain.returncode == 1  # plain HTTP to a TLS hub is not healthy
    finally:
        server.shutdown()
        server.server_close()


RULE_TOKEN = re.compile(r'\s*([A-Z_]+)(?:\{([A-Za-z0-9_.]+)\})?\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*(?:,|$)')
UDEV_KEYS = {
    "ACTION",
    "SUBSYSTEM",
    "KERNEL",
    "ATTR",
    "ATTRS",
    "ENV",
    "DRIVERS",
    "TAG",
    "SYMLINK",
    "GROUP",
    "MODE",
    "RUN",
}


def test_udev_rules_parse_and_name_real_units() -> None:
    """udevadm is not here to verify: check the rule grammar (KEY[{attr}] op "value", comma-separated),
    that matching keys use == or != and assignments =, += or :=, and that SYSTEMD_WANTS names our units."""
    wanted = set()
    for number, line in enumerate((ROOT / "hardware/99-healthcode-kiosk.rules").read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pos, tokens = 0, []
        while pos < len(line):
            m = RULE_TOKEN.match(line, pos)
            assert m, f"line {number}: cannot parse from {line[pos:]!r}"
            tokens.append(m.groups())
            pos = m.end()
        for key, attr, op, value in tokens:
            assert key in UDEV_KEYS, (number, key)
            if key in ("ACTION", "SUBSYSTEM", "KERNEL", "ATTRS", "DRIVERS"):
                assert op in ("==", "!="), (number, key, op)
            if key in ("SYMLINK", "GROUP", "MODE", "TAG", "RUN"):
                assert op in ("=", "+=", ":="), (number, key, op)
            if key == "ENV" and attr == "SYSTEMD_WANTS":
                assert op == "+=" and ("TAG", None, "+=", "systemd") in tokens, number
                wanted.add(value)
    assert wanted == {"healthcode-rtc.service", "healthcode-provision.service"}
    assert all((SYSTEMD / unit).is_file() for unit in wanted)


# --- provisioning and status -------------------------------------------------------------------------------


def idn(first17: str) -> str:
    return first17 + id_check_digit(first17)


HOLDER, RED = idn("11010519491231002"), idn("11010119800101001")
DEVICES = (
    'id_reader = false\n[camera]\nbackend = "sim"\n[thermometer]\nbackend = "sim"\n[gpio]\nbackend = "sim"\n'
)
POLICY = 'site = "North gate"\nresult_seconds = 0.6\ncompanion_window_seconds = 0.3\n'


@pytest.fixture
def usb(tmp_path: Path) -> dict:
    """A provisioning bundle as a technician's USB stick carries it."""
    now = int(time.time())
    root = keys.generate("es256", "", root=True)
    issuer = keys.generate("es256", "440000")
    stick = tmp_path / "usb"
    stick.mkdir()
    (stick / "root.pem").write_bytes(spki_pem(root.key.public_key().spki_der()))
    token = make_bundle(
        root, [("440000", issuer.key.public_key(), {})], seq=1, issued_at=now, valid_hours=720
    )
    (stick / "bundle.jws").write_text(token)
    blob = make_status_list(root, seq=1, entries=[(RED, "red")], issued_at=now, valid_hours=72)
    (stick / "status-list.ksl").write_bytes(blob)
    (stick / "policy.toml").write_text(POLICY)
    (stick / "devices.toml").write_text(DEVICES)
    return {"dir": stick, "issuer": issuer, "root": root, "now": now, "tmp": tmp_path}


def test_provision_then_a_passing_visit(usb: dict) -> None:
    data, etc = usb["tmp"] / "data", usb["tmp"] / "etc"
    etc.mkdir()
    report = provision(usb["dir"], data, config_dir=etc, device_name="gate-01", site="North gate", sim=True)
    assert report.ok, report.as_dict()
    assert read_name(data, "device-id") == "gate-01"
    assert (etc / "policy.toml").read_text() == POLICY and (etc / "devices.toml").read_text() == DEVICES
    assert {d["name"] for d in report.selftest} == {"camera", "thermometer", "gpio"}

    status = collect(data, policy_path=str(etc / "policy.toml"))
    assert status["device"] == "gate-01" and status["site"] == "North gate"
    assert {t["name"] for t in status["trust"]} >= {"status-list"} and all(
        t["state"] == "OK" for t in status["trust"]
    )
    assert status["registrations"]["pending"] == 0 and status["last_sync"].startswith("never")
    assert not (data / "registrations.sqlite").exists()  # status creates nothing

    text = mint(usb["issuer"], colour="green", name="张小三", id_number=HOLDER, now=usb["now"]).text
    scenario = usb["tmp"] / "scenario.jsonl"
    scenario.write_text(
        json.dumps({"t": 0.3, "event": "temperature", "celsius": 36.6})
        + "\n"
        + json.dumps({"t": 0.4, "event": "scan", "text": text})
        + "\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "run", "--sim", "--headless", "--scenario", str(scenario)]
        + [
            "--data-dir",
            str(data),
            "--policy",
            str(etc / "policy.toml"),
            "--config",
            str(etc / "devices.toml"),
        ],
        capture_output=True,
        timeout=120,
    )
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()
    decisions = [json.loads(x) for x in proc.stdout.decode().splitlines() if '"decision"' in x]
    assert [(d["decision"], d["reasons"]) for d in decisions] == [("pass", ["code.green"])], proc.stdout
    status = collect(data, policy_path=str(etc / "policy.toml"))
    assert status["registrations"]["pending"] == 1
    assert status["registrations"]["last_decision"]["decision"] == "pass"
    assert "1 registrations waiting for the hub" in render(status)


def test_provision_refuses_a_foreign_bundle(usb: dict) -> None:
    data = usb["tmp"] / "data"
    provision(usb["dir"], data, config_dir=None, run_selftest=False)
    other = keys.generate("es256", "", root=True)
    (usb["dir"] / "root.pem").write_bytes(spki_pem(other.key.public_key().spki_der()))
    token = make_bundle(
        other, [("440000", usb["issuer"].key.public_key(), {})], seq=2, issued_at=usb["now"], valid_hours=1
    )
    (usb["dir"] / "bundle.jws").write_text(token)
    with pytest.raises(ProvisionError, match="already pinned"):
        provision(usb["dir"], data, config_dir=None, run_selftest=False)


def test_provision_refuses_bad_config_and_names(usb: dict) -> None:
    data = usb["tmp"] / "data"
    with pytest.raises(ProvisionError, match="device name"):
        provision(usb["dir"], data, config_dir=None, device_name="../etc", run_selftest=False)
    (usb["dir"] / "devices.toml").write_text("[gpio]\nrelay_pin = 'x'\n")
    etc = usb["tmp"] / "etc"
    with pytest.raises(ProvisionError, match="relay_pin"):
        provision(usb["dir"], data, config_dir=etc, run_selftest=False)
    assert not (etc / "policy.toml").exists()  # neither file copied when one is invalid
