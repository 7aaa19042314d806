"""The technician screens: their own PIN, the device self-test with live results (and a hung device
leaving the screen and the loop responsive), identity, trust lists with a real import from a USB
bundle, network and sync state, logs, thermometer calibration written to the device configuration,
and the layout at every size. Plus the non-Qt readers and writers behind them (kiosk/ui/sources.py)."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QEvent, QObject, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from drivers.config import CameraConfig, DevicesConfig, GpioConfig, ThermometerConfig, parse  # noqa: E402
from kiosk.app.loop import Checkpoint  # noqa: E402
from kiosk.codes import KeyRing  # noqa: E402
from kiosk.policy.policy import Policy  # noqa: E402
from kiosk.ui import sources  # noqa: E402
from kiosk.ui.app import KioskWindow, LoopThread  # noqa: E402
from kiosk.ui.guard import GuardActions, GuardConsole, hash_pin  # noqa: E402
from kiosk.ui.technician import TechnicianDeps, TechnicianScreen  # noqa: E402
from kiosk.ui.traveller import StatusInfo  # noqa: E402

TECH_PIN, GUARD_PIN = "975310", "2468"
TECH_HASH = hash_pin(TECH_PIN, salt=b"kiosk-tech-salt!", iterations=1000)
GUARD_HASH = hash_pin(GUARD_PIN, salt=b"kiosk-test-salt!", iterations=1000)
NOW = 1_795_600_000.0
SIZES = [(800, 480), (1280, 800), (480, 800), (800, 1280)]


@dataclass
class H:
    state: str
    reason: str = ""
    since: float = 0.0


@dataclass
class Reading:
    status: str
    skin: float | None = None
    body: float | None = None


class Thermometer:
    def __init__(self, skins=(35.9, 36.0, 35.95, 36.05, 35.98), fail_first: int = 0, live: bool = False):
        self.skins = list(skins)
        self.calls = 0
        self.fail_first = fail_first
        if live:
            self.offsets: list[float] = []
            self.set_offset = self.offsets.append  # the hook the screen uses when the driver has it

    def measure(self) -> Reading:
        self.calls += 1
        if self.calls <= self.fail_first:
            return Reading("no_person", 28.0)
        return Reading("ok", self.skins[(self.calls - 1) % len(self.skins)])


class Hardware:
    def __init__(self, thermometer=None, states=None):
        self.thermometer = thermometer
        self.states = states or {}

    def health(self):
        return dict(self.states)


def devices() -> DevicesConfig:
    return DevicesConfig(
        camera=CameraConfig(), thermometer=ThermometerConfig(), id_reader=None, gpio=GpioConfig()
    )


def make(qtbot, tmp_path, *, language="en", size=(800, 480), pin=TECH_HASH, **overrides) -> TechnicianScreen:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    options = {
        "data_dir": data,
        "policy": Policy(site="North gate"),
        "devices": devices(),
        "hardware": Hardware(
            Thermometer(), {"camera": H("ok", "1280x720 at 15 fps"), "gpio": H("degraded", "door")}
        ),
        "selftest": lambda name, config, live=None: {"name": name, "status": "ok", "detail": f"{name} fine"},
        "journal": lambda: None,
        "usb_lister": lambda: [],
    }
    options.update(overrides)
    screen = TechnicianScreen(TechnicianDeps(**options), pin, language=language)
    qtbot.addWidget(screen)
    screen.resize(*size)
    screen.show()
    return screen


def enter(qtbot, screen, pin: str) -> None:
    for digit in pin:
        qtbot.mouseClick(screen.keys[digit], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(screen.keys["enter"], Qt.MouseButton.LeftButton)


# --- PIN ---


def test_technician_pin_is_not_the_guard_pin(qtbot, tmp_path) -> None:
    screen = make(qtbot, tmp_path)
    enter(qtbot, screen, GUARD_PIN)
    assert not screen.unlocked and "4 tries left" in screen.pin_status.text()
    enter(qtbot, screen, TECH_PIN)
    assert screen.unlocked and screen.pages.currentWidget() is screen.menu_page
    assert {"Device self-test", "Trust lists", "Thermometer calibration", "Logs (last hour)"} <= set(
        screen.visible_texts()
    )
    qtbot.mouseClick(screen.menu_lock, Qt.MouseButton.LeftButton)
    assert not screen.unlocked
    unset = make(qtbot, tmp_path, pin=None, language="zh")
    enter(qtbot, unset, TECH_PIN)
    assert not unset.unlocked and unset.pin_status.text() == "本机未设置技术人员密码"


def test_window_opens_the_technician_screens(qtbot, tmp_path) -> None:
    from kiosk.store.registrations import RegistrationStore

    store = RegistrationStore(tmp_path / "regs", "kiosk-test")
    try:
        cp = Checkpoint(policy=Policy(), keyring=KeyRing, record=lambda o, v: 1, actuators=None)
        guard = GuardConsole(store, GuardActions(store, None), GUARD_HASH, language="en")
        tech = TechnicianScreen(TechnicianDeps(tmp_path, Policy(), devices()), TECH_HASH, language="en")
        window = KioskWindow(cp, lambda: StatusInfo(), guard=guard, technician=tech, tick_ms=20)
        qtbot.addWidget(window)
        window.resize(800, 480)
        window.show()
        qtbot.keyClick(window, Qt.Key.Key_F12, Qt.KeyboardModifier.ShiftModifier)
        assert window.stack.currentWidget() is tech and not tech.unlocked
        qtbot.mouseClick(tech.back_button, Qt.MouseButton.LeftButton)
        assert window.stack.currentWidget() is window.traveller
        qtbot.keyClick(window, Qt.Key.Key_F12)
        assert window.stack.currentWidget() is guard
        qtbot.mouseClick(guard.technician_button, Qt.MouseButton.LeftButton)  # from the guard's PIN page
        assert window.stack.currentWidget() is tech
        enter(qtbot, tech, GUARD_PIN)
        assert not tech.unlocked  # the guard's PIN does not open the technician screens
    finally:
        store.close()


# --- self-test ---


def test_selftest_shows_live_results_in_words_colour_and_symbol(qtbot, tmp_path) -> None:
    gates = {name: threading.Event() for name in ("camera", "thermometer", "gpio")}
    answers = {
        "camera": ("ok", "sim camera: 1280x720, test card decoded"),
        "thermometer": ("degraded", "ambient 55.0 °C is outside 0-50 °C"),
        "gpio": ("failed", "gate relay (GPIO17) could not be claimed"),
    }

    def selftest(name, config, live=None):
        gates[name].wait(5)
        status, detail = answers[name]
        return {"name": name, "status": status, "detail": detail}

    screen = make(qtbot, tmp_path, selftest=selftest)
    enter(qtbot, screen, TECH_PIN)
    qtbot.mouseClick(screen.menu_buttons["selftest"], Qt.MouseButton.LeftButton)
    rows = screen.selftest_rows
    assert list(rows) == ["camera", "thermometer", "gpio"]  # the fitted devices, in order
    assert rows["camera"].badge.text() == "Not tested"
    assert "Now: Working (1280x720 at 15 fps)" in rows["camera"].detail.text()  # live health beside it
    qtbot.mouseClick(screen.selftest_run, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: rows["camera"].badge.text() == "Testing…", timeout=2000)
    assert rows["camera"].badge.level == "busy" and rows["gpio"].badge.text() == "Waiting"
    assert not screen.selftest_run.isEnabled() and screen.selftest_progress.value() == 0
    gates["camera"].set()
    qtbot.waitUntil(lambda: rows["thermometer"].badge.text() == "Testing…", timeout=2000)
    assert (rows["camera"].badge.level, rows["camera"].badge.text(), rows["camera"].badge.symbol.kind) == (
        "ok",
        "Working",
        "check",
    )
    assert screen.selftest_progress.value() == 1 and screen.selftest_progress.text() == "1 / 3"
    gates["thermometer"].set()
    gates["gpio"].set()
    qtbot.waitUntil(lambda: not screen.selftest_worker.running, timeout=2000)
    assert (rows["thermometer"].badge.level, rows["thermometer"].badge.text()) == ("warning", "Degraded")
    assert rows["thermometer"].badge.symbol.kind == "bang"
    assert (rows["gpio"].badge.level, rows["gpio"].badge.text(), rows["gpio"].badge.symbol.kind) == (
        "bad",
        "Failed",
        "cross",
    )
    assert "could not be claimed" in rows["gpio"].detail.text()
    assert screen.selftest_status.text() == "Not OK: Thermometer, Gate"
    screen.set_language("zh")
    assert rows["gpio"].badge.text() == "故障" and screen.selftest_status.text() == "异常设备：测温仪、闸机"


def test_selftest_of_the_simulated_thermometer(qtbot, tmp_path) -> None:
    """The default runner: kiosk.selftest running the thermometer driver's own self-test (sim)."""
    from kiosk.ui.technician import _default_selftest

    config = DevicesConfig(
        camera=None, thermometer=ThermometerConfig(backend="sim"), id_reader=None, gpio=None
    )
    screen = make(qtbot, tmp_path, devices=config, selftest=_default_selftest)
    enter(qtbot, screen, TECH_PIN)
    screen.show_section("selftest")
    screen.run_selftest()
    qtbot.waitUntil(lambda: not screen.selftest_worker.running, timeout=10000)
    row = screen.selftest_rows["thermometer"]
    assert row.badge.text() == "Working" and "ambient" in row.detail.text()
    assert screen.selftest_status.text() == "All 1 devices OK"


class Paints(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def test_a_hung_device_or_usb_stick_leaves_the_screen_and_the_loop_responsive(qtbot, tmp_path) -> None:
    hang = threading.Event()

    def hung_selftest(name, config, live=None):
        hang.wait(20)  # a device that never answers (kiosk.selftest would give up after 20 s)
        return {"name": name, "status": "failed", "detail": "no answer"}

    def hung_import(directory, data_dir):
        hang.wait(20)  # a USB stick that stopped answering mid-read
        return []

    cp = Checkpoint(policy=Policy(), keyring=KeyRing, record=lambda o, v: 1, actuators=None)
    loop = LoopThread(cp).start()
    tech = TechnicianScreen(
        TechnicianDeps(
            tmp_path,
            Policy(),
            devices(),
            selftest=hung_selftest,
            import_trust=hung_import,
            usb_lister=lambda: [],
        ),
        TECH_HASH,
        language="en",
    )
    window = KioskWindow(cp, lambda: StatusInfo(site="x"), technician=tech, tick_ms=20)
    qtbot.addWidget(window)
    window.resize(800, 480)
    window.show()
    paints = Paints()
    tech.installEventFilter(paints)
    try:
        window.show_technician()
        enter(qtbot, tech, TECH_PIN)
        tech.show_section("selftest")
        started = time.monotonic()
        tech.run_selftest()
        tech.show_section("import")
        tech.import_picker.set_path(tmp_path)
        tech.run_import()
        assert time.monotonic() - started < 0.5  # both handed to workers at once
        assert tech.selftest_worker.running and tech.import_worker.running
        ticks, painted, heartbeat = window.ticks, paints.count, loop.heartbeat
        tech.update()
        qtbot.waitUntil(lambda: window.ticks >= ticks + 10 and paints.count > painted, timeout=2000)
        qtbot.waitUntil(lambda: loop.heartbeat > heartbeat, timeout=1000)  # the loop steps on
        assert tech.import_result.text() == "Please wait…" and tech.import_progress.isVisible()
        qtbot.mouseClick(tech.back_button, Qt.MouseButton.LeftButton)  # navigation still answers
        assert tech.section() == "trust"
        qtbot.mouseClick(tech.menu_button, Qt.MouseButton.LeftButton)
        assert tech.pages.currentWidget() is tech.menu_page
        tech.run_selftest()  # a second start while one runs is refused, not queued
        assert tech.selftest_worker.running
    finally:
        hang.set()
        loop.stop()
    qtbot.waitUntil(lambda: not tech.selftest_worker.running and not tech.import_worker.running, timeout=3000)


# --- identity, trust, network, logs ---


def test_identity_from_the_provisioned_files(qtbot, tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "device-id").write_text("northgate-01\n")
    (data / "site-name").write_text("北门 North gate\n", encoding="utf-8")
    (data / "hub.json").write_text(
        json.dumps({"url": "https://hub.example:8443", "device_id": "northgate-01"})
    )
    screen = make(qtbot, tmp_path)
    enter(qtbot, screen, TECH_PIN)
    screen.show_section("identity")
    shown = screen.visible_texts()
    from kiosk import __version__

    for text in (
        "Device ID",
        "northgate-01",
        "北门 North gate",
        "North gate",
        __version__,
        "Software version",
    ):
        assert text in shown, text
    assert "https://hub.example:8443 (northgate-01)" in shown
    (data / "hub.json").unlink()
    (data / "site-name").unlink()
    screen.set_language("zh")
    assert {"未注册", "未设置", "设备编号"} <= set(screen.visible_texts())


@pytest.fixture
def usb(tmp_path: Path) -> dict:
    """A provisioning bundle on a USB stick (as tests/test_appliance.py makes it)."""
    from kiosk.crypto.keys import spki_pem
    from kiosk.issuer import keys
    from kiosk.issuer.bundle import make_bundle
    from kiosk.issuer.status_list import make_status_list

    now = int(time.time())
    root = keys.generate("es256", "", root=True)
    issuer = keys.generate("es256", "440000")
    stick = tmp_path / "media" / "tech" / "BUNDLE"
    stick.mkdir(parents=True)
    (stick / "root.pem").write_bytes(spki_pem(root.key.public_key().spki_der()))
    token = make_bundle(
        root, [("440000", issuer.key.public_key(), {})], seq=1, issued_at=now, valid_hours=720
    )
    (stick / "bundle.jws").write_text(token)
    blob = make_status_list(
        root, seq=1, entries=[("11010119800101001X", "red")], issued_at=now - 30 * 3600, valid_hours=72
    )
    (stick / "status-list.ksl").write_bytes(blob)
    return {"dir": stick, "now": now}


def test_trust_import_from_usb_then_freshness_in_words(qtbot, tmp_path, usb) -> None:
    reloads = []
    mounts = tmp_path / "mounts"
    mounts.write_text(f"/dev/sdb1 {usb['dir']} vfat rw 0 0\n")
    from kiosk.store.registrations import RegistrationStore

    store = RegistrationStore(tmp_path / "regs", "kiosk-test")
    screen = make(
        qtbot,
        tmp_path,
        usb_lister=lambda: sources.usb_directories([tmp_path / "media"], mounts),
        trust_reload=lambda: reloads.append(1),
        store=store,
    )
    enter(qtbot, screen, TECH_PIN)
    screen.show_section("trust")
    qtbot.waitUntil(lambda: screen.trust is not None, timeout=2000)
    assert screen.trust == [] and "No trust lists" in screen.trust_status.text()
    qtbot.mouseClick(screen.trust_import, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: screen.import_picker.list.count() == 1, timeout=2000)
    assert screen.import_picker.path() == usb["dir"]
    qtbot.mouseClick(screen.import_go, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not screen.import_worker.running, timeout=10000)
    assert screen.said("import") == "Imported and in use now" and reloads == [1]
    assert screen.import_result.level == "ok" and screen.import_result.text() == "Done"
    assert "root key and issuer bundle" in screen.import_status.text()
    screen.show_section("trust")
    qtbot.waitUntil(lambda: bool(screen.trust) and not screen.trust_worker.running, timeout=3000)
    rows = {r.name.text(): r for r in screen.trust_rows if r.isVisible()}
    assert set(rows) == {"phic-bundle", "status-list"}
    assert (rows["phic-bundle"].badge.text(), rows["phic-bundle"].badge.level) == ("Fresh", "ok")
    assert (rows["status-list"].badge.text(), rows["status-list"].badge.level) == ("Ageing", "warning")
    assert "1 entries" in rows["status-list"].detail.text() and "seq 1" in rows["status-list"].detail.text()
    screen.set_language("zh")
    assert rows["status-list"].badge.text() == "将过期"
    (usb["dir"] / "root.pem").write_bytes(b"not a key")  # a damaged stick: refused, trust unchanged
    screen.show_section("import")
    screen.run_import()
    qtbot.waitUntil(lambda: not screen.import_worker.running, timeout=10000)
    assert screen.said("import").startswith("未导入") and screen.import_result.level == "bad"
    # both attempts are in the audit log with the technician as actor, the refusal with its reason
    entries = store.audit_entries()
    store.close()
    assert [(e.actor, e.action) for e in entries] == [
        ("technician", "trust.import"),
        ("technician", "trust.import"),
        ("technician", "trust.import_failed"),
    ]
    assert (
        entries[0].detail == {"path": str(usb["dir"])} and "not a usable public key PEM" in entries[2].reason
    )


def test_trust_rows_stale_when_expired(tmp_path) -> None:
    assert sources.freshness_word(1.0, NOW + 10, NOW, 24, 72) == "fresh"
    assert sources.freshness_word(30.0, NOW + 10, NOW, 24, 72) == "warning"
    assert sources.freshness_word(80.0, NOW + 10, NOW, 24, 72) == "stale"
    assert sources.freshness_word(1.0, NOW - 1, NOW, 24, 72) == "stale"  # past its own valid_until
    assert sources.trust_rows(tmp_path, NOW, 24, 72) == []
    assert not (tmp_path / "trust.sqlite").exists()  # reading never creates a store


def test_network_and_sync_state(qtbot, tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    screen = make(qtbot, tmp_path, store=type("S", (), {"pending": lambda self: 7})())
    enter(qtbot, screen, TECH_PIN)
    screen.show_section("network")
    assert screen.network_online.badge.text() == "Offline" and screen.network_online.badge.level == "warning"
    assert "No sync has run yet (no sync-state.json)" in screen.visible_texts()
    assert "7" in screen.visible_texts()  # waiting registrations from the store when no state file
    state = {
        "last_attempt": NOW - 30,
        "last_success": NOW - 60,
        "last_error": "",
        "clock_offset": 12.4,
        "pending": 3,
        "synced_seq": 40,
        "bundle_seq": 2,
        "status_list_seq": 9,
        "policy_seq": None,
        "online": True,
    }
    (data / "sync-state.json").write_text(json.dumps(state))
    qtbot.mouseClick(screen.network_refresh, Qt.MouseButton.LeftButton)
    shown = screen.visible_texts()
    assert screen.network_online.badge.text() == "Online" and screen.network_online.badge.level == "ok"
    assert "kiosk 12 s behind the hub" in shown and "3" in shown and "bundle 2 · status list 9" in shown
    (data / "sync-state.json").write_text("{not json")
    screen.load_network()
    assert screen.network_online.badge.level == "bad"


def test_read_sync_state_and_the_strip_cache(tmp_path) -> None:
    assert sources.read_sync_state(tmp_path) == sources.SyncState()
    (tmp_path / "sync-state.json").write_text(
        json.dumps({"online": True, "last_success": NOW, "errors": [{"step": "push", "message": "timeout"}]})
    )
    state = sources.read_sync_state(tmp_path)
    assert state.present and state.online and state.last_success == NOW and state.pending is None
    assert state.last_error == "timeout" and not state.error
    (tmp_path / "sync-state.json").write_text("[1, 2")
    assert sources.read_sync_state(tmp_path).error.startswith(str(tmp_path / "sync-state.json"))
    (tmp_path / "sync-state.json").write_text(json.dumps({"online": True, "last_success": NOW}))
    clock = [0.0]
    cache = sources.SyncStateCache(tmp_path, every=5.0, clock=lambda: clock[0])
    assert cache.get().online
    (tmp_path / "sync-state.json").write_text(json.dumps({"online": False}))
    clock[0] = 4.0
    assert cache.get().online  # cached: the strip asks on every tick
    clock[0] = 5.0
    assert not cache.get().online
    from kiosk.ui.app import sync_status

    assert sync_status(cache, "Asia/Shanghai") == (False, None, False)
    (tmp_path / "sync-state.json").write_text(
        json.dumps({"errors": [{"step": "pull", "code": "device.revoked"}]})
    )
    clock[0] = 10.0
    assert sync_status(cache, "Asia/Shanghai") == (False, None, True)  # a revoked kiosk needs a person


def test_logs_from_the_journal_or_the_event_log(qtbot, tmp_path) -> None:
    events = sources.EventLog(clock=lambda: NOW)
    events.add("too old", NOW - 3700)
    events.add_event({"type": "decision", "decision": "deny", "reasons": ["format.unknown"]})
    journal: list = [None]
    screen = make(qtbot, tmp_path, events=events, journal=lambda: journal[0])
    enter(qtbot, screen, TECH_PIN)
    screen.show_section("logs")
    qtbot.waitUntil(lambda: screen.log_source == "memory", timeout=2000)
    text = screen.logs_text.toPlainText()
    assert '"decision": "deny"' in text and "too old" not in text
    assert screen.logs_source.text() == "Kiosk event log (no system journal here), last hour: 1 lines"
    assert screen.logs_text.font().pixelSize() >= 17  # large type
    journal[0] = [f"2026-11-25T08:{i:02d}:00+0800 kiosk healthcode-kiosk[1]: line {i}" for i in range(200)]
    qtbot.mouseClick(screen.logs_refresh, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: screen.log_source == "journal", timeout=2000)
    assert "line 199" in screen.logs_text.toPlainText()
    bar = screen.logs_text.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == bar.maximum()  # scrollable, newest in view


def test_event_log_is_bounded_by_lines_text_and_age() -> None:
    """A kiosk simulated for days keeps a bounded log: the newest lines within the limits."""
    now = [NOW]
    events = sources.EventLog(max_lines=100, clock=lambda: now[0], max_chars=5_000, max_age=60)
    for i in range(300):
        events.add(f"line {i:04d} " + "x" * 30)  # 40 characters each: the text bound (125 lines) is not hit
    assert (
        len(events) == 100 and events.since(60)[-1].endswith("x" * 30) and "line 0299" in events.since(60)[-1]
    )
    for i in range(300):
        events.add(f"big {i:04d} " + "y" * 191)  # 200 characters: 25 lines fit in 5,000
    assert len(events) == 25 and events.chars == 5_000 and "big 0275" in events.since(60)[0]
    events.add("z" * 10_000)  # one huge line is cut, and still bounded
    assert events.chars <= 5_000 and len(events.since(60)[-1]) < 2_100
    now[0] += 61
    events.add("after a minute")
    assert len(events) == 1 and events.since(60)[0].endswith("after a minute")


def test_event_log_keeps_warnings_from_the_drivers() -> None:
    import logging

    events = sources.EventLog()
    events.attach_logging()
    try:
        logging.getLogger("drivers.scanner.camera").warning("camera: read failed: %s", "timeout")
        logging.getLogger("drivers.scanner.camera").info("not kept")
    finally:
        events.detach_logging()
    lines = events.since(60)
    assert len(lines) == 1 and "WARNING drivers.scanner.camera: camera: read failed: timeout" in lines[0]


def test_journal_absent_without_systemd(monkeypatch) -> None:
    monkeypatch.setattr(sources.shutil, "which", lambda name: None)
    assert sources.journal_lines() is None


# --- calibration ---

CONFIG = """# North gate kiosk
[camera]
backend = "sim"

[thermometer]   # MLX90614 on I2C-1
backend = "sim"
offset = 0.9    # body = skin + offset
samples = 5

[gpio]
backend = "sim"
"""


def type_reference(qtbot, screen, text: str) -> None:
    screen.cal_reference.clear()
    for key in text:
        qtbot.mouseClick(screen.cal_keypad.keys[key], Qt.MouseButton.LeftButton)


def test_calibration_measures_then_saves_only_on_confirmation(qtbot, tmp_path) -> None:
    path = tmp_path / "devices.toml"
    path.write_text(CONFIG)
    path.chmod(0o640)
    config = parse(CONFIG)
    thermometer = Thermometer(fail_first=2, live=True)
    from kiosk.store.registrations import RegistrationStore

    store = RegistrationStore(tmp_path / "regs", "kiosk-test")
    screen = make(
        qtbot,
        tmp_path,
        devices=config,
        devices_path=path,
        hardware=Hardware(thermometer),
        readings=5,
        store=store,
        clock=lambda: NOW,
    )
    enter(qtbot, screen, TECH_PIN)
    qtbot.mouseClick(screen.menu_buttons["calibration"], Qt.MouseButton.LeftButton)
    assert "Offset now +0.90 °C" in screen.cal_current.text() and str(path) in screen.cal_current.text()
    qtbot.mouseClick(screen.cal_measure, Qt.MouseButton.LeftButton)
    assert screen.said("cal") == "Enter the reference reading, 34–42 °C" and thermometer.calls == 0
    type_reference(qtbot, screen, "36.9.1")  # a second point is ignored
    assert screen.cal_reference.text() == "36.91"
    qtbot.mouseClick(screen.cal_keypad.keys["back"], Qt.MouseButton.LeftButton)
    assert screen.cal_reference.text() == "36.9"
    qtbot.mouseClick(screen.cal_measure, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: screen.calibration is not None, timeout=3000)
    c = screen.calibration
    assert thermometer.calls == 7  # two "no person" readings did not count
    assert c.skin == 35.98 and c.new_offset == 0.92 and c.old_offset == 0.9 and c.steady
    assert screen.cal_result.text() == "New offset +0.92 °C (was +0.90 °C)"
    assert screen.cal_badge.level == "ok" and screen.cal_badge.text() == "Steady"
    assert path.read_text() == CONFIG  # nothing written yet
    qtbot.mouseClick(screen.cal_save, Qt.MouseButton.LeftButton)
    assert screen.cal_confirm.isVisible() and path.read_text() == CONFIG
    assert screen.cal_confirm.text() == f"Save offset +0.92 °C to {path}?"
    qtbot.mouseClick(screen.cal_no, Qt.MouseButton.LeftButton)
    assert path.read_text() == CONFIG and screen.said("cal") == "Not saved"
    qtbot.mouseClick(screen.cal_save, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(screen.cal_yes, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: screen.saved_path is not None, timeout=3000)
    text = path.read_text()
    assert "offset = 0.92    # body = skin + offset" in text and "[thermometer]   # MLX90614 on I2C-1" in text
    assert text.replace("offset = 0.92", "offset = 0.9") == CONFIG  # only that value changed
    assert parse(text).thermometer.offset == 0.92 and oct(path.stat().st_mode & 0o777) == "0o640"
    assert not list(tmp_path.glob(".devices.toml*"))  # no temporary file left behind
    assert thermometer.offsets == [0.92]  # the running thermometer uses it at once
    assert screen.said("cal") == f"Saved to {path} and in use now"
    assert screen.cal_status.text().startswith("✓ ")
    assert "Offset now +0.92 °C" in screen.cal_current.text()
    (entry,) = store.audit_entries(store.day_of(NOW))  # the declined save left no entry
    store.close()
    assert (entry.actor, entry.action) == ("technician", "calibration.save")
    assert entry.detail == {
        "path": str(path),
        "new_offset": 0.92,
        "old_offset": 0.9,
        "reference": 36.9,
        "skin": 35.98,
    }


def test_calibration_read_only_config_and_refusals(qtbot, tmp_path) -> None:
    path = tmp_path / "devices.toml"
    path.write_text(CONFIG)
    refused = []

    def read_only(p, text):
        refused.append(text)
        raise PermissionError(13, "Permission denied", str(p))

    screen = make(
        qtbot,
        tmp_path,
        devices=parse(CONFIG),
        devices_path=path,
        hardware=Hardware(Thermometer()),
        write_config=read_only,
        language="zh",
    )
    enter(qtbot, screen, TECH_PIN)
    screen.show_section("calibration")
    type_reference(qtbot, screen, "37.2")
    screen.measure()
    qtbot.waitUntil(lambda: screen.calibration is not None, timeout=3000)
    screen.ask_save()
    screen.save()
    qtbot.waitUntil(lambda: not screen.save_worker.running and bool(refused), timeout=3000)
    qtbot.waitUntil(lambda: "无法写入" in screen.said("cal"), timeout=3000)
    assert (
        screen.said("cal") == f"无法写入 {path}（只读或无权限）。请手动在 [thermometer] 下写入：offset = 1.22"
    )
    assert screen.cal_status.text().startswith("✕ ") and path.read_text() == CONFIG
    if os.geteuid() != 0:  # a real read-only file (root may write it anyway)
        screen.deps.write_config = sources.write_atomic
        path.chmod(0o444)
        screen.ask_save()
        screen.save()
        qtbot.waitUntil(
            lambda: not screen.save_worker.running and "无法写入" in screen.said("cal"), timeout=3000
        )
        assert path.read_text() == CONFIG
    # no configuration file in use: the line to write by hand
    screen.deps.devices_path = None
    screen.ask_save()
    assert "offset = 1.22" in screen.said("cal") and "devices.toml" in screen.said("cal")
    # another model than "offset": calibration here would silently change the model, so it refuses
    screen.deps.devices.thermometer.model = "linear"
    screen.measure()
    assert screen.said("cal") == "测温仪使用 linear 模型：请在 devices.toml 中校准"
    screen.deps.hardware = Hardware(None)
    screen.retranslate()
    assert screen.cal_current.text() == "未安装测温仪"


def test_with_thermometer_offset_edits_toml_text() -> None:
    assert sources.with_thermometer_offset("", 1.1) == "[thermometer]\noffset = 1.10\n"
    text = '[camera]\nbackend = "sim"\n'
    assert sources.with_thermometer_offset(text, 0.75) == text + "\n[thermometer]\noffset = 0.75\n"
    text = '[thermometer]\nbackend = "sim"\n\n[gpio]\nbackend = "sim"\n'
    assert (
        sources.with_thermometer_offset(text, -0.5)
        == '[thermometer]\noffset = -0.50\nbackend = "sim"\n\n[gpio]\nbackend = "sim"\n'
    )
    with pytest.raises(ValueError, match="no thermometer"):
        sources.with_thermometer_offset("thermometer = false\n", 1.0)
    with pytest.raises(ValueError):
        sources.with_thermometer_offset('[thermometer]\nmodel = "nonsense"\n', 1.0)


def test_calibrate_offset_math() -> None:
    c = sources.calibrate_offset(36.8, [35.6, 35.7, 35.65, 36.6], 0.9)
    assert c.skin == 35.675 and c.new_offset == 1.12 and not c.steady  # one reading 1 °C off: unsteady
    with pytest.raises(sources.CalibrationError):
        sources.calibrate_offset(36.8, [35.6, 35.7], 0.9)
    for bad in ("", "abc", "33.9", "42.5", "nan"):
        with pytest.raises(sources.CalibrationError):
            sources.parse_reference(bad)
    assert sources.parse_reference("36,9") == 36.9


def test_usb_directories_from_the_mount_table(tmp_path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "proc /proc proc rw 0 0\n"
        "/dev/sda1 /media/pi/KIOSK\\040USB vfat rw 0 0\n"
        "/dev/sdb1 /run/media/guard/STICK exfat rw 0 0\n"
        "tmpfs /media tmpfs rw 0 0\n"
    )
    assert sources.usb_directories(mounts=mounts) == [
        Path("/media/pi/KIOSK USB"),
        Path("/run/media/guard/STICK"),
    ]
    assert sources.usb_directories(mounts=tmp_path / "missing") == []


# --- layout ---


def settle(widget: QWidget) -> None:
    for _ in range(3):
        for child in [widget, *widget.findChildren(QWidget)]:
            if child.layout() is not None:
                child.layout().activate()
        QApplication.processEvents()


@pytest.mark.parametrize("language", ["zh", "en"])
def test_technician_screens_fit_every_screen(qtbot, tmp_path, language) -> None:
    from kiosk.ui.console import layout_problems as _problems

    path = tmp_path / "devices.toml"
    path.write_text(CONFIG)
    events = sources.EventLog()
    events.add("WARNING drivers.thermometer: a long line " + "x" * 300)
    screen = make(
        qtbot,
        tmp_path,
        language=language,
        devices=parse(CONFIG),
        devices_path=path,
        hardware=Hardware(
            Thermometer(), {"camera": H("ok"), "thermometer": H("failed", "no answer at 0x5a")}
        ),
        events=events,
        usb_lister=lambda: [tmp_path],
        trust=lambda d, now, w, m: [sources.TrustRow("phic-bundle", 3, 1, now, now + 9e5, 0.0, "fresh")],
    )
    enter(qtbot, screen, TECH_PIN)
    screen.show_section("calibration")
    type_reference(qtbot, screen, "36.9")
    screen.measure()
    qtbot.waitUntil(lambda: screen.calibration is not None, timeout=3000)
    screen.ask_save()
    problems = []
    for width, height in SIZES:
        screen.resize(width, height)
        for section in (None, "selftest", "identity", "trust", "import", "network", "logs", "calibration"):
            if section is None:
                screen.show_menu()
            else:
                screen.show_section(section)
            qtbot.waitUntil(
                lambda: not screen.trust_worker.running and not screen.log_worker.running, timeout=2000
            )
            settle(screen)
            assert (screen.width(), screen.height()) == (width, height)
            found = _problems(screen, f"{section or 'menu'} {width}x{height}")
            problems += [p for p in found if "QPlainTextEdit" not in p]
    assert not problems, "\n".join(problems)
