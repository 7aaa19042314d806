"""`kiosk provision`: make a freshly installed kiosk ready, from an offline USB bundle and/or a hub.

A provisioning bundle is a directory (a USB stick's folder) holding:

| file | required | what |
|---|---|---|
| `root.pem` | yes | the deployment root key (public PEM), pinned on first import |
| `bundle.jws` | yes | the PHIC issuer bundle signed by that root (`kiosk issuer bundle`) |
| `status-list.ksl` | no | a full status list signed by the root (`kiosk issuer status-list`) |
| `list-key` | no | the status-list key, when the list does not carry it (`--list-key`) |
| `policy.toml` | no | the site policy, copied to the config directory |
| `devices.toml` | no | the device configuration, copied to the config directory |

Steps, in order, each reported: names (device id, site), root key and bundle, status list, configuration
files (validated before copying), self-test. Nothing is half-applied within a step: the trust imports
are the same all-or-nothing imports as `kiosk trust import`, config files are validated, then written
by rename.

Online (`--hub URL --enroll-code CODE`): the kiosk makes its device key, enrols with the hub
(`kiosk.sync.enroll`), pins the hub's root key (checked against `--root-fingerprint` or a root already
pinned from a bundle; trusted on first use otherwise, and its fingerprint is reported), then runs one
sync round that pulls the issuer bundle, the status list and the site policy. Both can be combined: a
bundle for the device configuration and the root, the hub for the rest.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.fileio import write_atomic

DEFAULT_CONFIG_DIR = Path("/etc/healthcode-kiosk")
DEVICE_ID_FILE = "device-id"
SITE_FILE = "site-name"
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
STATUS_LIST_NAMES = ("status-list.ksl", "status-list.bin", "status-list")


class ProvisionError(Exception):
    """A bundle or a name that cannot be used: printed as `refused: ...`, exit status 1."""


@dataclass
class Report:
    steps: list[tuple[str, str, str]] = field(default_factory=list)  # (step, "ok"|"skipped"|"failed", detail)
    selftest: list[dict] = field(default_factory=list)

    def add(self, step: str, state: str, detail: str) -> None:
        self.steps.append((step, state, detail))

    @property
    def ok(self) -> bool:
        return all(state != "failed" for _, state, _ in self.steps) and all(
            d["status"] == "ok" for d in self.selftest
        )

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "steps": [{"step": s, "state": st, "detail": d} for s, st, d in self.steps],
            "devices": self.selftest,
        }


def read_name(data_dir: Path, file: str) -> str | None:
    try:
        return (data_dir / file).read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def restore_ownership(directory: Path) -> int:
    """Running as root (a technician with sudo), give every file under `directory` the owner and group
    of `directory` itself, so the service user can still open what root just created or touched
    (SQLite -wal/-shm files included). Returns how many paths were changed; 0 when not root."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not directory.is_dir():
        return 0
    top = directory.stat()
    changed = 0
    for base, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = os.path.join(base, name)
            st = os.lstat(path)
            if (st.st_uid, st.st_gid) != (top.st_uid, top.st_gid):
                os.lchown(path, top.st_uid, top.st_gid)
                changed += 1
    return changed


def _check_name(what: str, value: str) -> str:
    value = value.strip()
    if not NAME_RE.fullmatch(value):
        raise ProvisionError(
            f"{what} {value!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return value


def set_names(data_dir: Path, device_name: str | None, site: str | None, report: Report) -> None:
    current = read_name(data_dir, DEVICE_ID_FILE)
    if device_name is not None:
        name = _check_name("device name", device_name)
        if current not in (None, name) and (data_dir / "registrations.sqlite").exists():
            raise ProvisionError(
                f"this kiosk already has registrations as {current!r}; renaming it to {name!r} would split "
                "its sequence numbers. Keep the name, or re-install with an empty data directory"
            )
        write_atomic(data_dir / DEVICE_ID_FILE, (name + "\n").encode(), 0o644)
        report.add("device name", "ok", name if current in (None, name) else f"{name} (was {current})")
    else:
        report.add("device name", "skipped", f"kept {current}" if current else "none yet (made on first run)")
    if site is not None:
        site = " ".join(site.split())
        if not site or len(site) > 100:
            raise ProvisionError("site name: 1-100 characters")
        write_atomic(data_dir / SITE_FILE, (site + "\n").encode("utf-8"), 0o644)
        report.add("site name", "ok", site)
    else:
        report.add("site name", "skipped", read_name(data_dir, SITE_FILE) or "not set")


def import_trust(bundle_dir: Path, data_dir: Path, now: float, report: Report) -> None:
    from kiosk.crypto.keys import BadKey, public_key_from_pem, spki_pem
    from kiosk.trust import sources, status_list
    from kiosk.trust.store import TrustStore

    root_path, bundle_path = bundle_dir / "root.pem", bundle_dir / "bundle.jws"
    for path in (root_path, bundle_path):
        if not path.is_file():
            raise ProvisionError(f"{path}: missing from the provisioning bundle")
    try:
        pem = root_path.read_bytes()
        root = public_key_from_pem(pem)
        with TrustStore(data_dir) as store:
            source = sources.phic_bundle(bundle_path.read_bytes(), root)
            store.pin("phic-root", spki_pem(root.spki_der()))
            store.import_source(source, now)
    except (sources.TrustError, BadKey) as exc:
        raise ProvisionError(f"issuer bundle: {exc}. The trust in force is unchanged") from None
    report.add(
        "root key and issuer bundle",
        "ok",
        f"{source.name}: {len(source.keys)} keys, seq {source.seq}, valid until {_utc(source.valid_until)}",
    )
    listed = next((bundle_dir / n for n in STATUS_LIST_NAMES if (bundle_dir / n).is_file()), None)
    if listed is None:
        report.add("status list", "skipped", "none in the bundle (ID cards alone will be referred)")
        return
    try:
        key_path = bundle_dir / "list-key"
        list_key = status_list.read_list_key(key_path) if key_path.is_file() else None
        result = status_list.import_list(listed, root, data_dir, now, list_key=list_key)
    except sources.TrustError as exc:
        raise ProvisionError(f"status list: {exc}. The list in force is unchanged") from None
    report.add("status list", "ok", result.describe())


def copy_configs(bundle_dir: Path, config_dir: Path | None, report: Report) -> None:
    from drivers.config import parse
    from kiosk.policy.policy import parse_policy

    texts: dict[str, str | None] = {}
    for name, check in (("policy.toml", parse_policy), ("devices.toml", parse)):
        src = bundle_dir / name  # both validated before either is copied
        texts[name] = src.read_text(encoding="utf-8") if src.is_file() else None
        try:
            if texts[name] is not None:
                check(texts[name], str(src))
        except ValueError as exc:
            raise ProvisionError(str(exc)) from None
    for name, text in texts.items():
        if text is None:
            report.add(name, "skipped", "not in the bundle; the installed file is kept")
            continue
        if config_dir is None:
            report.add(name, "skipped", "valid; no --config-dir to copy it to")
            continue
        dest = config_dir / name
        try:
            write_atomic(dest, text.encode("utf-8"), 0o640)
            if hasattr(os, "geteuid") and os.geteuid() == 0:
                os.chown(dest, 0, config_dir.stat().st_gid)
        except OSError as exc:
            raise ProvisionError(f"cannot write {dest}: {exc.strerror} (run with sudo)") from None
        report.add(name, "ok", f"copied to {dest}")


def enrol_online(
    data_dir: Path,
    hub: str,
    code: str,
    root_fingerprint: str | None,
    device_name: str | None,
    site: str | None,
    report: Report,
) -> None:
    """Enrol with the hub, then one sync round so the kiosk leaves with the hub's trust and policy."""
    from kiosk.sync.client import open_client
    from kiosk.sync.enroll import EnrollError, enroll
    from kiosk.sync.transport import SyncError

    try:
        done = enroll(data_dir, hub, code, root_fingerprint=root_fingerprint, name=device_name, site=site)
    except EnrollError as exc:
        raise ProvisionError(f"hub enrolment: {exc}") from None
    fp = done.get("root_fingerprint")
    report.add(
        "hub enrolment",
        "ok",
        f"{hub} as {done.get('device_id')}; root key sha256 {fp} ({done.get('root_trust')})",
    )
    try:
        with open_client(data_dir) as client:
            result = client.sync_once()
    except SyncError as exc:
        raise ProvisionError(f"first sync: {exc}") from None
    for step, what, seq in (
        ("bundle", "issuer bundle from the hub", result.bundle_seq),
        ("status_list", "status list from the hub", result.status_list_seq),
        ("policy", "site policy from the hub", result.policy_seq),
    ):
        errors = [e["message"] for e in result.errors if e["step"] == step]
        if errors:
            report.add(what, "failed", "; ".join(errors))
        elif seq is None:
            report.add(what, "skipped" if step != "bundle" else "failed", "none published on the hub")
        else:
            report.add(what, "ok", f"seq {seq}")


def _selftest(
    bundle_dir: Path | None, config_dir: Path | None, sim: bool, selftest: Callable | None, report: Report
) -> None:
    from drivers.config import load

    devices_path = config_dir / "devices.toml" if config_dir is not None else None
    if devices_path is None or not devices_path.is_file():
        in_bundle = bundle_dir / "devices.toml" if bundle_dir is not None else None
        devices_path = in_bundle if in_bundle is not None and in_bundle.is_file() else None
    run = selftest
    if run is None:
        from kiosk.selftest import run
    report.selftest = run(load(devices_path), sim=sim)
    failed = [d["name"] for d in report.selftest if d["status"] != "ok"]
    report.add(
        "self-test",
        "failed" if failed else "ok",
        f"not ok: {', '.join(failed)}" if failed else f"{len(report.selftest)} devices ok",
    )


def provision(
    bundle_dir: str | Path | None,
    data_dir: str | Path,
    *,
    config_dir: str | Path | None = DEFAULT_CONFIG_DIR,
    device_name: str | None = None,
    site: str | None = None,
    sim: bool = False,
    run_selftest: bool = True,
    now: float | None = None,
    selftest: Callable | None = None,
    hub: str | None = None,
    enroll_code: str | None = None,
    root_fingerprint: str | None = None,
) -> Report:
    """Provision `data_dir` from the bundle directory and/or the hub; raises ProvisionError at the first
    refused step (the steps before it stay applied and are listed in the exception's report)."""
    bundle_dir = Path(bundle_dir) if bundle_dir is not None else None
    data_dir = Path(data_dir)
    config_dir = Path(config_dir) if config_dir is not None else None
    now = time.time() if now is None else now
    report = Report()
    if bundle_dir is None and hub is None:
        raise ProvisionError("give a USB bundle (--bundle DIR) or a hub (--hub URL --enroll-code CODE)")
    if hub is not None and not enroll_code:
        raise ProvisionError("online enrolment needs the one-time code from the hub (--enroll-code)")
    if bundle_dir is not None and not bundle_dir.is_dir():
        raise ProvisionError(f"{bundle_dir}: not a directory (mount the USB stick and give its folder)")
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        set_names(data_dir, device_name, site, report)
        if bundle_dir is not None:
            import_trust(bundle_dir, data_dir, now, report)
            copy_configs(bundle_dir, config_dir, report)
        if hub is not None:
            enrol_online(data_dir, hub, enroll_code, root_fingerprint, device_name, site, report)
        if run_selftest:
            _selftest(bundle_dir, config_dir, sim, selftest, report)
        else:
            report.add("self-test", "skipped", "--no-selftest")
    except ProvisionError as exc:
        exc.report = report  # type: ignore[attr-defined]
        raise
    finally:
        restore_ownership(data_dir)
    return report


def _utc(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def print_report(report: Report, out: Callable[[str], None] = print, *, final: bool = True) -> None:
    width = max((len(s) for s, _, _ in report.steps), default=10) + 2
    for step, state, detail in report.steps:
        out(f"{step:<{width}} {state.upper():<8} {detail}")
    if report.selftest:
        out("devices:")
        for d in report.selftest:
            out(f"  {d['name']:<16} {d['status'].upper():<9} {d['detail']}")
    if final:
        out(
            "provisioned: ready to start (systemctl start healthcode-kiosk)"
            if report.ok
            else "provisioned with problems (see above)"
        )


def run_cli(
    bundle: str | None,
    data_dir: Path,
    *,
    config_dir: str | None,
    device_name: str | None,
    site: str | None,
    hub: str | None,
    sim: bool,
    run_selftest: bool,
    as_json: bool,
    enroll_code: str | None = None,
    root_fingerprint: str | None = None,
) -> int:
    """Exit status: 0 provisioned and every device ok, 1 a refused step or a failed device, 2 usage."""
    import json
    import sys

    if bundle is None and hub is None:
        print(
            "kiosk: provision needs --bundle DIR (a USB provisioning bundle) and/or "
            "--hub URL --enroll-code CODE",
            file=sys.stderr,
        )
        return 2
    if hub is not None and not enroll_code:
        print(
            "kiosk: --hub needs --enroll-code CODE (made on the hub: kiosk hub enroll-code)", file=sys.stderr
        )
        return 2
    try:
        report = provision(
            bundle,
            data_dir,
            config_dir=config_dir,
            device_name=device_name,
            site=site,
            sim=sim,
            run_selftest=run_selftest,
            hub=hub,
            enroll_code=enroll_code,
            root_fingerprint=root_fingerprint,
        )
    except ProvisionError as exc:
        partial = getattr(exc, "report", Report())
        if as_json:
            print(json.dumps({**partial.as_dict(), "ok": False, "error": str(exc)}, ensure_ascii=False))
        else:
            with contextlib.suppress(Exception):
                print_report(partial, final=False)
            print(f"refused: {exc}.", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        print_report(report)
    return 0 if report.ok else 1
