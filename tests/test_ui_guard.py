"""The guard console beyond the PIN: overriding a referred visit (reached through a real checkpoint loop),
the export to a USB stick, door and device alarms with their sound and audited silence, and the layout
at 800x480, 1280x800 and in portrait (480x800, 800x1280), in both languages."""

from __future__ import annotations

import csv
import os
import threading
import time
from dataclasses import dataclass, field

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from drivers.events import CodeScanned, DoorEvent  # noqa: E402
from kiosk.app.alarms import AlarmBoard  # noqa: E402
from kiosk.app.loop import Checkpoint, State  # noqa: E402
from kiosk.app.run import make_record  # noqa: E402
from kiosk.codes import Format, KeyRing, TrustedKey  # noqa: E402
from kiosk.issuer import keys  # noqa: E402
from kiosk.issuer.phic import mint  # noqa: E402
from kiosk.policy.policy import Policy  # noqa: E402
from kiosk.store.model import Registration  # noqa: E402
from kiosk.store.registrations import RegistrationStore  # noqa: E402
from kiosk.ui.app import KioskWindow, LoopThread  # noqa: E402
from kiosk.ui.console import layout_problems as _problems  # noqa: E402
from kiosk.ui.guard import GuardActions, GuardConsole, hash_pin  # noqa: E402
from kiosk.ui.sources import usb_directories  # noqa: E402
from kiosk.ui.traveller import StatusInfo  # noqa: E402

NOW = 1_795_600_000.0
PIN = "2468"
PIN_HASH = hash_pin(PIN, salt=b"kiosk-test-salt!", iterations=1000)
ID = "11010519491231002X"
SIZES = [(800, 480), (1280, 800), (480, 800), (800, 1280)]


class Clock:
    def __init__(self, t: float = NOW) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@dataclass
class Reading:
    body: float | None
    status: str = "ok"
    reason: str = ""


@dataclass
class Thermometer:
    body: float = 36.5

    def measure(self) -> Reading:
        return Reading(self.body)


@dataclass
class Gpio:
    """The gate I/O; `order` interleaves its actions with the audit rows written before them."""

    store: RegistrationStore | None = None
    log: list = field(default_factory=list)
    order: list = field(default_factory=list)
    opens: bool = True
    sounding: str | None = None

    def _note(self, what: str) -> None:
        self.log.append(what)
        if self.store is not None:
            self.order.append((what, len(self.store.audit_entries())))

    def pulse_gate(self, seconds: float | None = None) -> bool:
        self._note("pulse")
        return self.opens

    def show(self, colour) -> bool:
        self.log.append(f"lamp {colour}")
        return True

    def beep(self, pattern: str) -> bool:
        self.log.append(f"beep {pattern}")
        if pattern == "alarm":
            self.sounding = "alarm"
        return True

    def silence(self) -> None:
        self._note("silence")
        self.sounding = None


@pytest.fixture(scope="module")
def issuer():
    return keys.generate("es256", "440000")


@pytest.fixture
def store(tmp_path):
    s = RegistrationStore(tmp_path / "data", "kiosk-test", tz="Asia/Shanghai")
    yield s
    s.close()


def add(store, decision, reasons, name="王*明", masked="440106********5678", ts=None) -> int:
    return store.append(
        Registration(
            ts=time.time() - 60 if ts is None else ts,
            method="code",
            decision=decision,
            reasons=tuple(reasons),
            format="phic",
            masked_name=name,
            masked_id=masked,
            temperature=36.6,
        )
    )


def unlock(qtbot, console) -> None:
    for digit in PIN:
        qtbot.mouseClick(console.keys[digit], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(console.keys["enter"], Qt.MouseButton.LeftButton)
    assert console.unlocked


def console_for(
    qtbot, store, gpio, *, language="en", checkpoint=None, alarms=None, usb=None, size=(800, 480)
):
    actions = GuardActions(store, gpio, checkpoint=checkpoint, alarms=alarms)
    console = GuardConsole(
        store, actions, PIN_HASH, language=language, usb_lister=usb or (lambda: []), refresh_ms=100
    )
    qtbot.addWidget(console)
    console.resize(*size)
    console.show()
    return console


# --- overriding a referred visit, reached through the loop ---


def yellow_code(issuer) -> CodeScanned:
    text = mint(issuer, colour="yellow", name="王小明", id_number=ID, now=int(NOW)).text
    return CodeScanned("camera", text, text.encode())


def test_override_a_referred_visit_from_the_loop(qtbot, issuer, store) -> None:
    """A yellow code is referred by the real checkpoint (recorded in the store); the guard lets it pass
    in the console: the override is audited with the visit's seq before the gate pulses."""
    clock = Clock()
    ring = KeyRing()
    ring.add(TrustedKey(Format.PHIC, issuer.kid, issuer.key.public_key(), "440000"))
    gpio = Gpio(store)
    checkpoint = Checkpoint(
        policy=Policy(site="North gate", result_seconds=60),
        keyring=lambda: ring,
        record=make_record(store),
        actuators=gpio,
        thermometer=Thermometer(),
        status_fresh=lambda now: True,
        trust_age_hours=lambda now, fmt: 1.0,
        clock=clock,
    )
    loop = LoopThread(checkpoint).start()
    console = GuardConsole(store, GuardActions(store, gpio, checkpoint=checkpoint), PIN_HASH, language="en")
    window = KioskWindow(
        checkpoint,
        lambda: StatusInfo(site="North gate", keys="ok", status_list="ok"),
        guard=console,
        tick_ms=20,
    )
    qtbot.addWidget(window)
    window.resize(800, 480)
    window.show()
    try:
        checkpoint.post(yellow_code(issuer))
        qtbot.waitUntil(lambda: window.traveller.state.temperature is not None, timeout=2000)
        clock.t += 2.0
        qtbot.waitUntil(lambda: window.traveller.state.state is State.ACTUATING, timeout=2000)
        assert window.traveller.result.decision == "refer"
        assert "pulse" not in gpio.log  # a referral never opens the gate by itself
        qtbot.keyClick(window, Qt.Key.Key_F12)
        unlock(qtbot, console)
        seq = window.traveller.state.outcome.seq
        assert [r.seq for r in console.rows] == [seq] and console.rows[0].decision == "refer"
        assert not console.pass_button.isEnabled()  # nothing selected yet
        console.table.selectRow(0)
        assert console.pass_button.isEnabled() and console.deny_button.isEnabled()
        assert "Selected:" in console.selection.text() and "Referred" in console.selection.text()
        qtbot.mouseClick(console.pass_button, Qt.MouseButton.LeftButton)
        assert "pulse" not in gpio.log and store.audit_entries() == []  # no reason: nothing happens
        assert console.said("action") == "Enter a reason first"
        qtbot.keyClicks(console.reason_edit, "yellow code, travel history checked by phone")
        qtbot.mouseClick(console.pass_button, Qt.MouseButton.LeftButton)
        (entry,) = store.audit_entries()
        assert (entry.actor, entry.action, entry.reason) == (
            "guard",
            "override.pass",
            "yellow code, travel history checked by phone",
        )
        assert entry.detail["seq"] == seq and entry.detail["was"] == "refer"
        # the loop acts on it: the gate moves after the audit row was durable, the screen shows staff's pass
        qtbot.waitUntil(lambda: gpio.order == [("pulse", 1)], timeout=2000)
        qtbot.waitUntil(lambda: window.traveller.state.outcome.decision.decision == "pass", timeout=2000)
        assert window.traveller.state.outcome.decision.reasons == ["guard.manual", "code.yellow"]
        assert window.traveller.state.outcome.seq == seq
        assert console.action_status.text() == "✓ Let pass by staff: recorded"
        cell = console.table.item(0, 1).text()
        assert cell == "✓ Passed (staff)", cell
        assert not console.pass_button.isEnabled()  # decided: cannot be overridden twice
    finally:
        loop.stop()


def test_refuse_and_the_checkpoint_hook(qtbot, store) -> None:
    gpio = Gpio(store)
    refer = add(store, "refer", ["code.yellow"])
    passed = add(store, "pass", ["code.green"], name="张*三", masked="440301********1234")
    calls = []

    class HookedCheckpoint:  # records what the console hands to Checkpoint.override
        def override(self, seq, decision, reason):
            calls.append((seq, decision, reason, len(store.audit_entries())))

    console = console_for(qtbot, store, gpio, checkpoint=HookedCheckpoint())
    unlock(qtbot, console)
    assert console.select_seq(passed) and not console.pass_button.isEnabled()  # only referrals
    with pytest.raises(ValueError):
        console.actions.override(passed, "deny", "no")
    assert console.select_seq(refer)
    console.reason_edit.insert("拒绝：证件过期")
    qtbot.mouseClick(console.deny_button, Qt.MouseButton.LeftButton)
    assert calls == [(refer, "deny", "拒绝：证件过期", 1)]  # audited first, then handed to the loop
    assert gpio.log == []  # the loop acts, not the console
    assert store.audit_entries()[0].action == "override.deny"
    assert store.audit_entries()[0].detail["via"] == "checkpoint"
    console.set_language("zh")
    row = next(i for i, r in enumerate(console.rows) if r.seq == refer)
    assert console.table.item(row, 1).text() == "✕ 禁止（人工）"


# --- export today ---


def test_export_today_to_a_usb_stick(qtbot, store, tmp_path) -> None:
    add(store, "pass", ["code.green"], name="张*三", masked="440301********1234")
    add(store, "deny", ["code.green", "temperature.fever"], name="=李*", masked="110105********002X")
    add(store, "refer", ["code.yellow"])
    stick = tmp_path / "media" / "guard" / "KIOSK USB"
    stick.mkdir(parents=True)
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "/dev/sda1 /boot vfat rw 0 0\n"
        + f"/dev/sdb1 {str(stick).replace(' ', chr(92) + '040')} vfat rw 0 0\n"
    )
    lister = lambda: usb_directories([tmp_path / "media"], mounts)  # noqa: E731
    assert lister() == [stick]
    console = console_for(qtbot, store, Gpio(), usb=lister)
    unlock(qtbot, console)
    qtbot.mouseClick(console.export_button, Qt.MouseButton.LeftButton)
    assert console.pages.currentWidget() is console.export_page
    qtbot.waitUntil(lambda: console.picker.list.count() == 1, timeout=2000)
    assert console.picker.path() == stick  # the stick is chosen
    assert console.export_reason.text() == "Daily export to USB"
    qtbot.mouseClick(console.export_go, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: console.said("export").startswith("Exported"), timeout=3000)
    day = store.today()
    (file,) = stick.iterdir()
    assert file.name == f"registrations-kiosk-test-{day}.csv"
    rows = list(csv.reader(file.open(encoding="utf-8", newline="")))
    assert rows[0][:3] == ["seq", "device_id", "time_utc"] and len(rows) == 5
    assert rows[2][7] == "'=李*"  # a formula-looking name is neutralised
    assert rows[-1][:3] == ["summary", day, "total=3"]
    assert "3 registrations" in console.said("export") and "1 fever" in console.said("export")
    assert console.export_status.text().startswith("✓ ")
    (entry,) = store.audit_entries()
    assert (entry.action, entry.reason, entry.detail) == (
        "export",
        "Daily export to USB",
        {"day": day, "format": "csv", "rows": 3},
    )
    # a folder that is not there: said plainly, nothing written, nothing audited
    console.picker.set_path(tmp_path / "no-such-stick")
    qtbot.mouseClick(console.export_go, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: console.said("export").startswith("Not exported"), timeout=3000)
    assert "no-such-stick" in console.said("export") and len(store.audit_entries()) == 1
    if os.geteuid() != 0:  # root writes anywhere
        stick.chmod(0o555)
        try:
            console.picker.set_path(stick)
            qtbot.mouseClick(console.export_go, Qt.MouseButton.LeftButton)
            qtbot.waitUntil(lambda: "ermission" in console.said("export"), timeout=3000)
        finally:
            stick.chmod(0o755)
    qtbot.mouseClick(console.back_button, Qt.MouseButton.LeftButton)  # Back: to the console, not out
    assert console.pages.currentWidget() is console.console_page


# --- alarms ---


def test_alarm_board_door_and_device_faults() -> None:
    gpio = Gpio()
    mono = [100.0]
    board = AlarmBoard(gpio, clock=lambda: NOW, monotonic=lambda: mono[0])
    board.on_event(DoorEvent("door", "opened"))
    assert board.alarms() == () and gpio.log == []
    board.on_event(DoorEvent("door", "held_open"))
    board.on_event(DoorEvent("door", "held_open"))  # the same alarm: one beep
    assert [a.kind for a in board.alarms()] == ["door.held_open"] and gpio.log == ["beep alarm"]
    board.on_event(DoorEvent("door", "closed"))
    (alarm,) = board.alarms()
    assert not alarm.active and not alarm.silenced  # over, but nobody acknowledged it yet
    board.silence()
    assert board.alarms() == ()
    board.update_health({"thermometer": _H("failed", "no answer", since=98.0)})
    assert board.alarms() == ()  # failed for 2 s only: a port reopening, not an alarm
    mono[0] = 104.0
    board.update_health({"thermometer": _H("failed", "no answer", since=98.0), "camera": _H("degraded")})
    assert [(a.kind, a.device) for a in board.alarms()] == [("device.failed", "thermometer")]
    assert gpio.log.count("beep alarm") == 2
    board.silence()
    assert board.alarms()[0].silenced and not board.sounding  # still failed: shown, silenced
    board.update_health({"thermometer": _H("ok")})
    assert board.alarms() == ()


@dataclass
class _H:
    state: str
    reason: str = ""
    since: float = 0.0


def test_alarms_in_the_console_and_the_strip_and_audited_silence(qtbot, issuer, store) -> None:
    gpio = Gpio(store)
    board = AlarmBoard(gpio, monotonic=lambda: 1000.0)
    cp = Checkpoint(policy=Policy(), keyring=KeyRing, record=lambda o, v: 1, actuators=gpio)
    health = {"camera": _H("ok"), "thermometer": _H("ok")}
    actions = GuardActions(store, gpio, alarms=board)
    console = GuardConsole(store, actions, PIN_HASH, language="en")

    def status() -> StatusInfo:
        faults = tuple(n for n, h in health.items() if h.state != "ok")
        return StatusInfo(site="North gate", keys="ok", status_list="ok", faults=faults)

    window = KioskWindow(
        cp, status, guard=console, alarms=board, health=lambda: dict(health), tick_ms=20, language="en"
    )
    qtbot.addWidget(window)
    window.resize(800, 480)
    window.show()
    board.on_event(DoorEvent("door", "forced"))  # as the door contact's thread delivers it
    health["thermometer"] = _H("failed", "no answer at 0x5a", since=0.0)
    qtbot.waitUntil(lambda: "Fault: thermometer" in window.traveller.visible_texts(), timeout=2000)
    assert window.traveller.strip.chips["faults"].level == "bad"  # the traveller strip: colour + words
    window.show_guard()
    unlock(qtbot, console)
    qtbot.waitUntil(lambda: console.alarm_banner.isVisible(), timeout=2000)
    banner = console.alarm_banner
    assert banner.level == "bad" and banner.symbol.kind == "bang"
    assert "Door forced open" in banner.text.text() and "Device failed: Thermometer" not in banner.text.text()
    assert "Device failed: thermometer" in banner.text.text()
    assert gpio.sounding == "alarm" and gpio.log.count("beep alarm") == 2
    console.set_language("zh")
    assert "门被强行打开" in banner.text.text() and "设备故障：测温仪" in banner.text.text()
    console.reason_edit.insert("保洁推车")
    qtbot.mouseClick(console.silence_button, Qt.MouseButton.LeftButton)
    entry = store.audit_entries()[-1]
    assert entry.action == "alarm.silence" and entry.reason == "保洁推车"
    assert sorted(entry.detail["alarms"]) == ["device.failed:thermometer", "door.forced:door"]
    assert entry.detail["sounding"] == "alarm"
    assert gpio.order[-1] == ("silence", 1)  # silenced after the audit row
    qtbot.waitUntil(lambda: banner.level == "warning", timeout=2000)  # amber: silenced, still there
    assert "已消音" in banner.text.text()
    health["thermometer"] = _H("ok")
    board.on_event(DoorEvent("door", "closed"))
    qtbot.waitUntil(lambda: not banner.isVisible(), timeout=2000)


# --- layout: every size, both languages ---


def settle(widget: QWidget) -> None:
    for _ in range(3):
        for child in [widget, *widget.findChildren(QWidget)]:
            if child.layout() is not None:
                child.layout().activate()
        QApplication.processEvents()


@pytest.mark.parametrize("language", ["zh", "en"])
def test_console_fits_every_screen(qtbot, store, tmp_path, language) -> None:
    for i in range(12):
        add(store, ("pass", "deny", "refer")[i % 3], [("code.green", "card.mismatch", "code.yellow")[i % 3]])
    board = AlarmBoard(Gpio(), monotonic=lambda: 1000.0)
    board.on_event(DoorEvent("door", "held_open"))
    board.update_health({"id_reader": _H("failed", "gone", since=0.0)})
    stick = tmp_path / "USB"
    stick.mkdir()
    console = console_for(qtbot, store, Gpio(), language=language, alarms=board, usb=lambda: [stick])
    console.show_alarms(board.alarms())
    problems = []
    for width, height in SIZES:
        console.resize(width, height)
        console.lock()
        settle(console)
        problems += _problems(console, f"pin {width}x{height}")
        unlock(qtbot, console)
        console.select_seq(console.rows[2].seq)
        console.say("action", "guard.overridden_pass")
        console.retranslate()
        settle(console)
        assert (console.width(), console.height()) == (width, height)
        problems += _problems(console, f"console {width}x{height}")
        buttons = [console.open_button, console.pass_button, console.silence_button, console.lock_button]
        rows = {b.mapTo(console, b.rect().topLeft()).y() for b in buttons}
        assert len(rows) == (2 if height > width else 1), f"buttons in {len(rows)} rows at {width}x{height}"
        console.show_export()
        qtbot.waitUntil(lambda: console.picker.list.count() == 1, timeout=2000)
        settle(console)
        problems += _problems(console, f"export {width}x{height}")
        console.show_console()
    assert not problems, "\n".join(problems)


def test_export_worker_leaves_the_console_responsive(qtbot, store, tmp_path) -> None:
    """A USB stick that hangs on write: the console keeps repainting, Back still works."""
    release = threading.Event()

    class SlowActions(GuardActions):
        def export_today(self, directory, reason, now=None):
            release.wait(10)
            return super().export_today(directory, reason, now)

    console = GuardConsole(
        store, SlowActions(store, Gpio()), PIN_HASH, language="en", usb_lister=lambda: [tmp_path]
    )
    qtbot.addWidget(console)
    console.resize(800, 480)
    console.show()
    unlock(qtbot, console)
    console.show_export()
    console.picker.set_path(tmp_path)
    started = time.monotonic()
    qtbot.mouseClick(console.export_go, Qt.MouseButton.LeftButton)
    assert time.monotonic() - started < 0.5 and console.export_worker.running
    assert console.said("export").startswith("Exporting to")
    assert not console.export_go.isEnabled()
    qtbot.mouseClick(console.back_button, Qt.MouseButton.LeftButton)  # the screen still answers
    assert console.pages.currentWidget() is console.console_page
    release.set()
    qtbot.waitUntil(lambda: not console.export_worker.running, timeout=3000)
    assert (tmp_path / f"registrations-kiosk-test-{store.today()}.csv").exists()
