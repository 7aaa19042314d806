"""The SD-card image (docs/image.md): the pi-gen stage in deploy/pi-gen, its preparation, the scripts it
runs, and the first-boot provisioning from a USB stick against a disposable root.

pi-gen itself cannot run here (it needs root, loop devices, binfmt/qemu and the network), so this checks
what pi-gen relies on: the stage layout and file modes its build.sh looks for, package lists that its own
comment filter reads, scripts that pass shellcheck, and each script run for real where it can be: the
host-side copy into a root filesystem, the chroot scripts with their commands stubbed, the installer on
the unpacked tarball, and provision-usb with a real provisioning bundle."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from drivers.idcard import id_check_digit
from kiosk.crypto.keys import spki_pem
from kiosk.issuer import keys
from kiosk.issuer.bundle import make_bundle
from kiosk.issuer.status_list import make_status_list

ROOT = Path(__file__).resolve().parents[1]
PIGEN = ROOT / "deploy/pi-gen"
STAGE = PIGEN / "stage-kiosk"
ANALYZE = shutil.which("systemd-analyze")
SHELLCHECK = shutil.which("shellcheck")
# pi-gen's scripts/remove-comments.sed: how build.sh reads NN-packages and NN-packages-nr files
REMOVE_COMMENTS_SED = ":loop\nN\n$ !b loop\ns/#[^\\n]*//g\ns/[[:space:]]\\{1,\\}/ /g\n"
SUBSTAGE_FILE = re.compile(r"\d\d-(run\.sh|run-chroot\.sh|packages|packages-nr|debconf)")


def executable(path: Path) -> bool:
    return bool(path.stat().st_mode & stat.S_IXUSR)


def bash_scripts() -> list[Path]:
    """Every shell file of the image and the appliance: the stage's scripts, EXPORT_IMAGE and the config
    (sourced by build.sh), prepare.sh and the helpers the units run."""
    files = [STAGE / "prerun.sh", STAGE / "EXPORT_IMAGE", PIGEN / "config.example", PIGEN / "prepare.sh"]
    files += sorted(STAGE.glob("*/*.sh"))
    files += sorted((ROOT / "deploy").glob("*.sh"))
    return files


# --- the stage as pi-gen reads it ------------------------------------------------------------------------


def test_stage_layout_and_modes() -> None:
    """build.sh runs prerun.sh and NN-run.sh only when executable (`[ -x ]`), exports a stage that holds
    EXPORT_IMAGE, and walks sub-stage directories in order, looking for NN-* files by name."""
    assert executable(STAGE / "prerun.sh")
    assert "copy_previous" in (STAGE / "prerun.sh").read_text()
    assert (STAGE / "EXPORT_IMAGE").is_file()
    substages = sorted(p.name for p in STAGE.iterdir() if p.is_dir())
    assert substages == ["00-packages", "01-kiosk", "02-appliance"]
    for sub in substages:
        assert re.fullmatch(r"\d\d-[a-z0-9-]+", sub)
        for f in (STAGE / sub).iterdir():
            if f.is_dir():
                assert f.name == "files", f
                continue
            assert SUBSTAGE_FILE.fullmatch(f.name), f"{sub}/{f.name}: pi-gen would ignore it"
            if f.suffix == ".sh":
                assert executable(f), f"{sub}/{f.name} must be executable for pi-gen"
                assert f.read_text().startswith("#!/bin/bash -e\n"), f
    # the copy step comes before the chroot step that needs the copied checkout
    assert (STAGE / "01-kiosk/00-run.sh").is_file() and (STAGE / "01-kiosk/01-run-chroot.sh").is_file()


def test_export_image_sets_the_suffix() -> None:
    for use_qemu, suffix in (("0", "-kiosk"), ("1", "-kiosk-qemu")):
        out = subprocess.run(
            [
                "bash",
                "-c",
                f'USE_QEMU={use_qemu}; source "$0"; echo "$IMG_SUFFIX"',
                str(STAGE / "EXPORT_IMAGE"),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert out == suffix


def pigen_packages(path: Path) -> list[str]:
    """A package list as pi-gen's build.sh passes it to apt-get: through remove-comments.sed."""
    if shutil.which("sed") is None:
        pytest.skip("sed not installed")
    out = subprocess.run(
        ["sed", REMOVE_COMMENTS_SED], input=path.read_text(), capture_output=True, text=True, check=True
    ).stdout
    return out.split()


def test_package_list_matches_the_installer() -> None:
    """00-packages-nr installs, with pi-gen's apt caching, exactly what install.sh would install itself;
    every name is a valid Debian package name."""
    listed = pigen_packages(STAGE / "00-packages/00-packages-nr")
    assert listed and len(listed) == len(set(listed))
    for name in listed:
        assert re.fullmatch(r"[a-z0-9][a-z0-9+.-]+", name), name
    wanted = subprocess.run(
        ["bash", str(ROOT / "deploy/install.sh"), "--list-packages", "--role", "kiosk"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert sorted(listed) == sorted(wanted)


def test_config_example() -> None:
    """pi-gen's build.sh sources `config`: the variables it reads, set as docs/image.md describes."""
    names = [
        "IMG_NAME",
        "RELEASE",
        "STAGE_LIST",
        "DEPLOY_COMPRESSION",
        "TARGET_HOSTNAME",
        "FIRST_USER_NAME",
        "FIRST_USER_PASS",
        "DISABLE_FIRST_BOOT_USER_RENAME",
        "ENABLE_SSH",
        "PUBKEY_ONLY_SSH",
        "TIMEZONE_DEFAULT",
        "KIOSK_INSTALL_OPTIONS",
    ]
    script = 'source "$0"; ' + "; ".join(f'echo "{n}=${{{n}-<unset>}}"' for n in names)
    out = subprocess.run(
        ["bash", "-c", script, str(PIGEN / "config.example")], capture_output=True, text=True, check=True
    ).stdout
    cfg = dict(line.split("=", 1) for line in out.splitlines())
    assert cfg["IMG_NAME"] == "healthcode-kiosk" and cfg["RELEASE"] == "bookworm"
    assert cfg["STAGE_LIST"] == "stage0 stage1 stage2 stage-kiosk"
    assert cfg["STAGE_LIST"].split()[-1] == STAGE.name
    assert cfg["ENABLE_SSH"] == "1" and cfg["PUBKEY_ONLY_SSH"] == "1"
    assert cfg["FIRST_USER_NAME"] == "technician"
    # no shared password in the example: the account is unlocked by Imager's customisation
    assert cfg["FIRST_USER_PASS"] == "<unset>" and cfg["DISABLE_FIRST_BOOT_USER_RENAME"] == "<unset>"
    assert cfg["KIOSK_INSTALL_OPTIONS"] == ""
    assert "export KIOSK_INSTALL_OPTIONS=" in (PIGEN / "config.example").read_text()  # reaches the chroot


@pytest.mark.parametrize("script", bash_scripts(), ids=lambda p: str(p.relative_to(ROOT)))
def test_shellcheck(script: Path) -> None:
    if SHELLCHECK is None:
        pytest.skip("shellcheck not installed (apt: shellcheck)")
    proc = subprocess.run([SHELLCHECK, "-s", "bash", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


# --- prepare.sh and the host-side copy ------------------------------------------------------------------


@pytest.fixture
def pigen(tmp_path: Path) -> Path:
    """A pi-gen checkout as far as prepare.sh and the stage care: build.sh, stage2 with EXPORT_IMAGE."""
    pg = tmp_path / "pi-gen"
    (pg / "stage2").mkdir(parents=True)
    (pg / "build.sh").write_text("#!/bin/bash -e\n")
    (pg / "stage2/EXPORT_IMAGE").write_text('IMG_SUFFIX="-lite"\n')
    return pg


def prepare(pg: Path, *args: str) -> str:
    proc = subprocess.run(
        ["bash", str(PIGEN / "prepare.sh"), str(pg), *args], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_prepare_copies_the_stage_and_the_checkout(pigen: Path, tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "healthcode_kiosk-0.1.0-cp311-cp311-linux_aarch64.whl").write_bytes(b"PK\x05\x06" + bytes(18))
    prepare(pigen, "--wheels", str(wheels))
    stage = pigen / "stage-kiosk"
    for script in [stage / "prerun.sh", *stage.glob("*/*.sh")]:
        assert executable(script), script
    assert (pigen / "stage2/SKIP_IMAGES").exists()  # only the kiosk image is exported
    assert (pigen / "config").read_text() == (PIGEN / "config.example").read_text()
    assert (stage / "01-kiosk/files/wheels").is_dir()
    with tarfile.open(stage / "01-kiosk/files/healthcode-kiosk.tar.gz") as tar:
        names = set(tar.getnames())
        assert all(m.uid == 0 and m.gid == 0 for m in tar.getmembers())
    for needed in (
        "pyproject.toml",
        "setup.py",
        "README.md",
        "kiosk/cli.py",
        "drivers/config.py",
        "deploy/install.sh",
    ):
        assert needed in names, needed
    for needed in (
        "systemd/healthcode-kiosk.service",
        "hardware/99-healthcode-kiosk.rules",
        "docs/technician.md",
    ):
        assert needed in names, needed
    assert not any(n.startswith((".venv", ".git", "tests")) or "__pycache__" in n for n in names)

    # a site's own config survives a second preparation
    (pigen / "config").write_text('IMG_NAME="site"\n')
    assert "config kept" in prepare(pigen)
    assert (pigen / "config").read_text() == 'IMG_NAME="site"\n'


def test_prepare_refuses_what_is_not_pi_gen(tmp_path: Path) -> None:
    proc = subprocess.run(["bash", str(PIGEN / "prepare.sh"), str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2 and "not a pi-gen checkout" in proc.stderr


def test_host_copy_then_installer_on_the_unpacked_tree(pigen: Path, tmp_path: Path) -> None:
    """01-kiosk/00-run.sh unpacks the checkout into ROOTFS_DIR as pi-gen runs it (cwd = the sub-stage);
    the unpacked tree is complete enough for install.sh to install the kiosk into that root."""
    prepare(pigen)
    rootfs = tmp_path / "rootfs"
    (rootfs / "boot/firmware").mkdir(parents=True)
    (rootfs / "boot/firmware/config.txt").write_text("dtoverlay=vc4-kms-v3d\n[all]\n")
    sub = pigen / "stage-kiosk/01-kiosk"
    subprocess.run(["./00-run.sh"], cwd=sub, env={**os.environ, "ROOTFS_DIR": str(rootfs)}, check=True)
    src = rootfs / "usr/src/healthcode-kiosk"
    assert executable(src / "deploy/install.sh") and (src / "kiosk/cli.py").is_file()
    assert not (src / "wheels").exists()  # none prepared
    proc = subprocess.run(
        ["bash", str(src / "deploy/install.sh"), "--root", str(rootfs)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (rootfs / "etc/systemd/system/healthcode-provision.service").is_file()
    assert "gpio=17=op,dh" in (rootfs / "boot/firmware/config.txt").read_text()


def test_host_copy_needs_prepare(tmp_path: Path) -> None:
    sub = tmp_path / "01-kiosk"
    shutil.copytree(STAGE / "01-kiosk", sub, ignore=shutil.ignore_patterns("*.tar.gz", "wheels"))
    proc = subprocess.run(
        ["./00-run.sh"],
        cwd=sub,
        env={**os.environ, "ROOTFS_DIR": str(tmp_path / "r")},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1 and "run deploy/pi-gen/prepare.sh" in proc.stderr


# --- the chroot scripts, fed on stdin as pi-gen's on_chroot does -----------------------------------------


def on_chroot(script: Path, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """pi-gen: `capsh --chroot=ROOTFS -- -e < NN-run-chroot.sh`, i.e. bash -e reading the script on stdin."""
    with script.open() as stdin:
        return subprocess.run(
            ["bash", "-e"],
            stdin=stdin,
            env={**os.environ, **env},
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=30,
        )


def test_chroot_script_runs_the_installer_in_image_mode(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "deploy").mkdir(parents=True)
    (src / "wheels").mkdir()
    log = tmp_path / "install.log"
    # the stand-in records its arguments and what it could read on stdin (must be nothing: apt or pip
    # reading bash's stdin would swallow the rest of the chroot script)
    (src / "deploy/install.sh").write_text(f'#!/bin/sh\necho "$*" > {log}\ncat > {tmp_path}/stdin\n')
    (src / "deploy/install.sh").chmod(0o755)
    proc = on_chroot(
        STAGE / "01-kiosk/01-run-chroot.sh",
        {"KIOSK_SRC": str(src), "KIOSK_INSTALL_OPTIONS": "--with-picamera2"},
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert log.read_text().split() == [
        "--role",
        "kiosk",
        "--image",
        "--wheels",
        f"{src}/wheels",
        "--with-picamera2",
    ]
    assert (tmp_path / "stdin").read_text() == ""
    assert not (src / "wheels").exists()  # the wheelhouse is not left in the image

    (src / "deploy/install.sh").write_text("#!/bin/sh\nexit 3\n")  # a failed install fails the build
    assert on_chroot(STAGE / "01-kiosk/01-run-chroot.sh", {"KIOSK_SRC": str(src)}, tmp_path).returncode == 3


def test_installer_image_mode_plan(tmp_path: Path) -> None:
    """What install.sh --image would do in the chroot (dry run on this machine, nothing changes): units
    enabled offline, no udevadm and no daemon-reload (no running systemd or udevd in a chroot), pip
    without a cache in the image, and only from the wheelhouse when one is given."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    proc = subprocess.run(
        ["bash", str(ROOT / "deploy/install.sh"), "--dry-run", "--image", "--wheels", str(wheels)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    plan = [line.split("would run: ", 1)[1] for line in proc.stdout.splitlines() if "would run: " in line]
    assert "systemctl enable healthcode-kiosk.service healthcode-provision.service" in plan
    assert not any(cmd.startswith(("udevadm", "systemctl daemon-reload")) for cmd in plan), plan
    pips = [cmd for cmd in plan if " -m pip install " in cmd]
    assert pips and all(f"--no-index --find-links {wheels} --no-cache-dir" in cmd for cmd in pips)
    assert not any("--upgrade pip" in cmd for cmd in pips)  # no index to upgrade pip from


def test_appliance_chroot_script(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text(f'#!/bin/sh\necho "$*" >> {tmp_path}/systemctl.log\n')
    (bin_dir / "systemctl").chmod(0o755)
    config = tmp_path / "config.txt"
    config.write_text("dtoverlay=vc4-kms-v3d\n[cm5]\ndtoverlay=dwc2,dr_mode=host\n")
    env = {"CONFIG_TXT": str(config), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    for _ in range(2):  # idempotent
        proc = on_chroot(STAGE / "02-appliance/01-run-chroot.sh", env, tmp_path)
        assert proc.returncode == 0, proc.stderr
    text = config.read_text()
    assert text.endswith("[cm5]\ndtoverlay=dwc2,dr_mode=host\n[all]\ndisplay_auto_detect=1\n"), text
    assert text.count("dtoverlay=vc4-kms-v3d") == 1
    assert (tmp_path / "systemctl.log").read_text().splitlines() == ["disable getty@tty1.service"] * 2

    rootfs = tmp_path / "rootfs"
    subprocess.run(
        ["./00-run.sh"], cwd=STAGE / "02-appliance", env={**os.environ, "ROOTFS_DIR": str(rootfs)}, check=True
    )
    journald = (rootfs / "etc/systemd/journald.conf.d/healthcode-kiosk.conf").read_text()
    assert "Storage=persistent" in journald and "SystemMaxUse=" in journald


# --- first boot: the provisioning unit and provision-usb -------------------------------------------------


@pytest.fixture
def installed_root(tmp_path: Path) -> Path:
    """A disposable root with the kiosk installed by install.sh --root, as an image has it."""
    root = tmp_path / "root"
    proc = subprocess.run(
        ["bash", str(ROOT / "deploy/install.sh"), "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


def test_first_boot_unit_verifies_as_installed(installed_root: Path) -> None:
    """systemd-analyze verify on the units where install.sh put them, with their helper scripts at the
    Exec paths (the real scripts, not stubs; only the venv's kiosk is a stand-in)."""
    if ANALYZE is None:
        pytest.skip("systemd-analyze not installed (apt: systemd)")
    stock = Path("/usr/lib/systemd/system")
    if not stock.is_dir():
        stock = Path("/lib/systemd/system")
    shutil.copytree(stock, installed_root / "usr/lib/systemd/system", symlinks=True, dirs_exist_ok=True)
    kiosk = installed_root / "usr/lib/healthcode-kiosk/venv/bin/kiosk"
    kiosk.parent.mkdir(parents=True)
    kiosk.write_text("#!/bin/sh\nexit 0\n")
    kiosk.chmod(0o755)
    for unit in ("healthcode-provision.service", "healthcode-kiosk.service", "healthcode-rtc.service"):
        proc = subprocess.run(
            [ANALYZE, "verify", f"--root={installed_root}", f"/etc/systemd/system/{unit}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert proc.returncode == 0 and unit not in proc.stderr, proc.stderr
    text = (installed_root / "etc/systemd/system/healthcode-provision.service").read_text()
    assert "ConditionPathExists=!/var/lib/healthcode-kiosk/provisioned-from-usb" in text
    assert "Before=healthcode-kiosk.service" in text and "WantedBy=multi-user.target" in text


def idn(first17: str) -> str:
    return first17 + id_check_digit(first17)


DEVICES = (
    'id_reader = false\n[camera]\nbackend = "sim"\n[thermometer]\nbackend = "sim"\n[gpio]\nbackend = "sim"\n'
)


def make_stick(stick: Path, *, conf: str | None = None) -> None:
    """A provisioning stick: the bundle in kiosk/ (as docs/technician.md lays it out) and provision.conf."""
    now = int(time.time())
    root = keys.generate("es256", "", root=True)
    issuer = keys.generate("es256", "440000")
    bundle = stick / "kiosk"
    bundle.mkdir(parents=True)
    (bundle / "root.pem").write_bytes(spki_pem(root.key.public_key().spki_der()))
    (bundle / "bundle.jws").write_text(
        make_bundle(root, [("440000", issuer.key.public_key(), {})], seq=1, issued_at=now, valid_hours=720)
    )
    red = idn("11010119800101001")
    (bundle / "status-list.ksl").write_bytes(
        make_status_list(root, seq=1, entries=[(red, "red")], issued_at=now, valid_hours=72)
    )
    (bundle / "policy.toml").write_text('site = "North gate"\n')
    (bundle / "devices.toml").write_text(DEVICES)
    if conf is not None:
        (bundle / "provision.conf").write_text(conf)


def kiosk_stand_in(tmp_path: Path, sync_exit: int = 0) -> tuple[Path, Path]:
    """The venv's kiosk: `kiosk provision` is the real one (python -m kiosk.cli); `kiosk sync` (built
    elsewhere) is recorded and answers `sync_exit`."""
    log = tmp_path / "kiosk.log"
    exe = tmp_path / "kiosk"
    exe.write_text(
        "#!/bin/sh\n"
        f'echo "$* KIOSK_DATA_DIR=$KIOSK_DATA_DIR" >> {log}\n'
        f'if [ "$1" = sync ]; then exit {sync_exit}; fi\n'
        f'PYTHONPATH={ROOT} exec {sys.executable} -m kiosk.cli "$@"\n'
    )
    exe.chmod(0o755)
    return exe, log


def provision_usb(root: Path, stick: Path, kiosk: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(root / "usr/lib/healthcode-kiosk/provision-usb"), "--root", str(root), "--source", str(stick)]
        + ["--kiosk", str(kiosk), "--no-restart"],
        env={**os.environ, "PROVISION_ENROLL_WAIT": "0"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_provision_usb_first_boot(installed_root: Path, tmp_path: Path) -> None:
    stick = tmp_path / "stick"
    hub = "HUB_URL=https://hub.example.org\nENROLL_CODE=K7Q2-PX9M\nROOT_FINGERPRINT=ab12\n"
    make_stick(stick, conf=f'# site sheet\nDEVICE_NAME=northgate-01\nSITE="North gate"\n{hub}')
    kiosk, log = kiosk_stand_in(tmp_path)
    proc = provision_usb(installed_root, stick, kiosk)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data, etc = installed_root / "var/lib/healthcode-kiosk", installed_root / "etc/healthcode-kiosk"
    assert (data / "device-id").read_text() == "northgate-01\n"
    assert (data / "site-name").read_text() == "North gate\n"
    assert (data / "trust.sqlite").is_file()
    assert (etc / "devices.toml").read_text() == DEVICES  # the stick's configuration replaced the template
    report = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("{")))
    assert report["ok"] and {d["name"] for d in report["devices"]} == {"camera", "thermometer", "gpio"}
    calls = log.read_text().splitlines()
    assert calls[0].startswith(
        f"provision --bundle {stick}/kiosk --data-dir {data} --config-dir {etc} --json"
    )
    assert calls[1] == (
        f"sync enroll --hub https://hub.example.org --code K7Q2-PX9M --root-fingerprint ab12 KIOSK_DATA_DIR={data}"
    )
    marker = (data / "provisioned-from-usb").read_text()
    assert marker.startswith("provisioned ") and "ok, enrolled with https://hub.example.org" in marker

    # once done, a stick changes nothing: not even a valid one from another deployment
    other = tmp_path / "other"
    make_stick(other)
    again = provision_usb(installed_root, other, kiosk)
    assert again.returncode == 0 and "nothing to do" in again.stdout
    assert len(log.read_text().splitlines()) == 2


def test_provision_usb_refusals_leave_it_undone(installed_root: Path, tmp_path: Path) -> None:
    kiosk, log = kiosk_stand_in(tmp_path, sync_exit=1)
    data = installed_root / "var/lib/healthcode-kiosk"
    # a bundle whose root.pem does not match the bundle's signature: refused, not marked done
    stick = tmp_path / "stick"
    make_stick(stick)
    other = tmp_path / "other"
    make_stick(other)
    shutil.copy(other / "kiosk/root.pem", stick / "kiosk/root.pem")
    proc = provision_usb(installed_root, stick, kiosk)
    assert proc.returncode == 1 and "refused" in proc.stderr, proc.stdout + proc.stderr
    assert not (data / "provisioned-from-usb").exists()

    # unknown keys in provision.conf are refused before anything runs
    calls = len(log.read_text().splitlines())
    (other / "kiosk/provision.conf").write_text("DEVICE_NAME=a\nRM=-rf /\n")
    proc = provision_usb(installed_root, other, kiosk)
    assert proc.returncode == 1 and "unknown key RM" in proc.stderr
    assert len(log.read_text().splitlines()) == calls

    # a good stick whose enrolment fails: provisioned and marked, exit 1 for the journal
    (other / "kiosk/provision.conf").write_text("HUB_URL=https://hub.example.org\nENROLL_CODE=used\n")
    proc = provision_usb(installed_root, other, kiosk)
    assert proc.returncode == 1 and "enrol by hand" in proc.stderr
    assert (data / "provisioned-from-usb").read_text().startswith("provisioned ")
    assert (data / "trust.sqlite").is_file()


def test_provision_usb_skips_a_kiosk_that_already_trusts_a_root(installed_root: Path, tmp_path: Path) -> None:
    """A kiosk provisioned by hand (or enrolled with a hub) has a pinned root: a stick is not applied."""
    stick = tmp_path / "stick"
    make_stick(stick)
    kiosk, log = kiosk_stand_in(tmp_path)
    data = installed_root / "var/lib/healthcode-kiosk"
    subprocess.run(
        [
            str(kiosk),
            "provision",
            "--bundle",
            str(stick / "kiosk"),
            "--data-dir",
            str(data),
            "--config-dir",
            str(tmp_path / "etc-manual"),
            "--no-selftest",
        ],
        capture_output=True,
        check=False,
    )
    assert (data / "trust.sqlite").is_file()
    other = tmp_path / "other"
    make_stick(other)
    proc = provision_usb(installed_root, other, kiosk)
    assert proc.returncode == 0 and "already trusts a deployment root" in proc.stdout, (
        proc.stdout + proc.stderr
    )
    assert "pinned" in (data / "provisioned-from-usb").read_text()
    assert len(log.read_text().splitlines()) == 1  # only the manual provisioning
