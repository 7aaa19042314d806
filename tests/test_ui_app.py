"""The kiosk window driven by a real Checkpoint on its own thread, the UI staying responsive while the
loop waits on a slow thermometer, the status strip's inputs, and the guard console (PIN lockout, hand
actions audited in a real RegistrationStore, screenshots in both languages)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QEvent, QObject, Qt  # noqa: E402

from drivers.events import CodeScanned  # noqa: E402
from kiosk.app.loop import Checkpoint, LoopState, Outcome, State  # noqa: E402
from kiosk.codes import Format, KeyRing, TrustedKey  # noqa: E402
from kiosk.issuer import keys  # noqa: E402
from kiosk.issuer.phic import mint  # noqa: E402
from kiosk.policy.policy import Policy  # noqa: E402
from kiosk.store.model import Registration  # noqa: E402
from kiosk.store.registrations import RegistrationStore  # noqa: E402
from kiosk.ui.app import KioskWindow, LoopThread, freshness, status_info  # noqa: E402
from kiosk.ui.guard import GuardActions, GuardConsole, PinGate, check_pin, hash_pin  # noqa: E402
from kiosk.ui.traveller import StatusInfo  # noqa: E402

NOW = 1_795_600_000.0
ID = "11010519491231002X"
PIN = "2468"
PIN_HASH = hash_pin(PIN, salt=b"kiosk-test-salt!", iterations=1000)  # few iterations: fast tests
NOTES = Path("/work/notes/ui")


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
class GatedThermometer:
    """Answers once `release` is set (or after `seconds`): a measurement that takes its time."""

    body: float = 36.5
    seconds: float = 0.0
    release: threading.Event = field(default_factory=threading.Event)
    calls: int = 0

    def measure(self) -> Reading:
        self.calls += 1
        if self.seconds:
            self.release.wait(self.seconds)
        return Reading(self.body)


@dataclass
class FakeGpio:
    log: list = field(default_factory=list)
    opens: bool = True

    def pulse_gate(self, seconds: float | None = None) -> bool:
        self.log.append(("gate", "pulse"))
        return self.opens

    def show(self, colour) -> bool:
        self.log.append(("lamp", colour))
        return True

    def beep(self, pattern) -> bool:
        self.log.append(("buzzer", pattern))
        return True

    def silence(self) -> None:
        self.log.append(("buzzer", "silence"))

    sounding = "alarm"


class PaintCounter(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.paints = 0

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.Paint:
            self.paints += 1
        return False


@pytest.fixture(scope="module")
def issuer():
    return keys.generate("es256", "440000")


def make_checkpoint(issuer, thermometer, clock, record_gate: threading.Event | None = None):
    ring = KeyRing()
    ring.add(TrustedKey(Format.PHIC, issuer.kid, issuer.key.public_key(), "440000"))
    recorded: list[Outcome] = []

    def record(outcome: Outcome, visit) -> int:
        if record_gate is not None:
            record_gate.wait(10)  # the loop thread is held here with the view at DECIDED
        recorded.append(outcome)
        return len(recorded)

    cp = Checkpoint(
        policy=Policy(site="North gate"),
        keyring=lambda: ring,
        record=record,
        actuators=FakeGpio(),
        thermometer=thermometer,
        status_fresh=lambda now: True,
        trust_age_hours=lambda now, fmt: 1.0,
        clock=clock,
    )
    return cp, recorded


def green_code(issuer) -> CodeScanned:
    text = mint(issuer, colour="green", name="张小三", id_number=ID, now=int(NOW)).text
    return CodeScanned("camera", text, text.encode())


def status_fn(counter: list[int] | None = None):
    def status() -> StatusInfo:
        if counter is not None:
            counter[0] += 1
        online = bool(counter and counter[0] % 2)  # changes every tick: the strip repaints every tick
        return StatusInfo(site="North gate", keys="ok", status_list="ok", online=online)

    return status


# --- the window renders every loop state of a real checkpoint ---


def test_window_renders_every_loop_state(qtbot, issuer) -> None:
    clock = Clock()
    thermometer = GatedThermometer(seconds=10)
    record_gate = threading.Event()
    cp, recorded = make_checkpoint(issuer, thermometer, clock, record_gate)
    loop = LoopThread(cp).start()
    window = KioskWindow(cp, status_fn(), tick_ms=20)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    screen = window.traveller
    try:
        qtbot.waitUntil(lambda: screen.pages.currentWidget() is screen.idle, timeout=2000)

        cp.post(green_code(issuer))  # READING, measuring
        qtbot.waitUntil(lambda: screen.state.code_read and screen.state.measuring, timeout=2000)
        assert screen.state.state is State.READING and screen.pages.currentWidget() is screen.reading
        assert any("Measuring" in t or "测温中" in t or "…" in t for t in screen.visible_texts())

        thermometer.release.set()  # the temperature arrives: READING with the value
        qtbot.waitUntil(lambda: screen.state.temperature == 36.5 and not screen.state.measuring, timeout=2000)
        assert "36.5 °C" in screen.visible_texts()

        clock.t += 2.0  # past the companion window: the loop decides, and is held in record()
        qtbot.waitUntil(lambda: screen.state.state is State.DECIDED, timeout=2000)
        assert screen.pages.currentWidget() is screen.result
        assert screen.result.decision == "pass", screen.state.outcome.decision

        record_gate.set()  # recorded: ACTUATING, the result shows
        qtbot.waitUntil(lambda: screen.state.state is State.ACTUATING, timeout=2000)
        assert screen.result.decision == "pass" and recorded[0].decision.decision == "pass"
        assert ("gate", "pulse") in cp.actuators.log

        clock.t += cp.policy.result_seconds + 0.1  # the result times out: IDLE again
        qtbot.waitUntil(lambda: screen.state.state is State.IDLE, timeout=2000)
        assert screen.pages.currentWidget() is screen.idle
    finally:
        thermometer.release.set()
        record_gate.set()
        loop.stop()
    assert not loop.thread.is_alive() and loop.error is None


def test_ui_stays_responsive_while_the_loop_waits_on_a_slow_thermometer(qtbot, issuer) -> None:
    clock = Clock()
    thermometer = GatedThermometer(seconds=3.0)  # sleeps 3 s unless released
    cp, _ = make_checkpoint(issuer, thermometer, clock)
    loop = LoopThread(cp).start()
    calls = [0]
    window = KioskWindow(cp, status_fn(calls), tick_ms=50)
    qtbot.addWidget(window)
    window.resize(800, 480)
    window.show()
    painter = PaintCounter()
    window.traveller.strip.installEventFilter(painter)
    try:
        cp.post(green_code(issuer))
        qtbot.waitUntil(lambda: thermometer.calls == 1 and window.traveller.state.measuring, timeout=2000)
        started = time.monotonic()
        ticks, paints = window.ticks, painter.paints
        # during the measurement the window keeps ticking and repainting, and the loop keeps stepping
        qtbot.waitUntil(lambda: window.ticks >= ticks + 10 and painter.paints >= paints + 5, timeout=2000)
        assert time.monotonic() - started < 2.0
        assert window.traveller.state.measuring  # still measuring: the UI did not wait for it
        assert loop.alive()
        heartbeat = loop.heartbeat
        qtbot.waitUntil(lambda: loop.heartbeat > heartbeat, timeout=1000)
    finally:
        thermometer.release.set()
        loop.stop()


def test_window_survives_a_failing_status_provider(qtbot, issuer) -> None:
    cp, _ = make_checkpoint(issuer, GatedThermometer(), Clock())

    def broken() -> StatusInfo:
        raise RuntimeError("trust store unreadable")

    window = KioskWindow(cp, broken, tick_ms=20)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.ticks > 3, timeout=1000)
    assert window.render_errors >= 3 and window.traveller.pages.currentWidget() is window.traveller.idle


def test_window_closes_when_finished(qtbot, issuer) -> None:
    cp, _ = make_checkpoint(issuer, GatedThermometer(), Clock())
    done = [False]
    window = KioskWindow(cp, status_fn(), finished=lambda: done[0], tick_ms=20)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.closing, timeout=1000):
        done[0] = True
    assert not window.isVisible()


# --- the status strip's inputs ---


class FakeTrust:
    def __init__(self, ages: dict, newest: float = 0.0, valid_until: float | None = None):
        self.ages = ages
        self.newest = newest
        self.status_list = None
        if valid_until is not None:
            self.status_list = type("SL", (), {"info": type("Info", (), {"valid_until": valid_until})()})()

    def age_hours(self, now, fmt):
        return self.ages.get(fmt)

    def newest_signed_time(self) -> float:
        return self.newest


@dataclass
class H:
    state: str


def test_status_info_freshness_clock_and_faults() -> None:
    policy = Policy(site="北门", trust_warn_age_hours=24, trust_max_age_hours=72)
    assert [freshness(a, policy) for a in (None, 1, 25, 80)] == ["missing", "ok", "warning", "stale"]
    info = status_info(
        FakeTrust({"phic": 2.0, "dcc": 30.0, "status-list": 5.0}, newest=NOW - 10, valid_until=NOW + 60),
        policy,
        NOW,
        {"camera": H("ok"), "thermometer": H("failed"), "gpio": H("degraded")},
    )
    assert (info.site, info.keys, info.status_list, info.clock_ok) == ("北门", "warning", "ok", True)
    assert info.faults == ("thermometer", "gpio")
    assert info.now is not None and info.now.tzinfo is not None and info.now.timestamp() == NOW
    info = status_info(FakeTrust({}, newest=NOW + 3600), policy, NOW)
    assert (info.keys, info.status_list, info.clock_ok) == ("missing", "missing", False)
    info = status_info(FakeTrust({"status-list": 1.0}, valid_until=NOW - 1), policy, NOW)
    assert info.status_list == "stale"  # past the list's own valid_until


# --- the guard console ---


def test_pin_hash_round_trip() -> None:
    assert check_pin(PIN, PIN_HASH) and not check_pin("1357", PIN_HASH)
    assert not check_pin(PIN, "garbage") and not check_pin(PIN, "md5$1$00$00")
    assert hash_pin(PIN).startswith("pbkdf2_sha256$200000$")


def test_pin_lockout_after_five_wrong_tries() -> None:
    clock = Clock(100.0)
    gate = PinGate(PIN_HASH, clock)
    for left in (4, 3, 2, 1):
        assert not gate.try_pin("0000") and gate.tries_left() == left
    assert not gate.try_pin("0000") and gate.locked_for() == 60.0
    assert not gate.try_pin(PIN)  # the right PIN is refused while locked
    clock.t += 59.0
    assert not gate.try_pin(PIN)
    clock.t += 1.5
    assert gate.try_pin(PIN) and gate.tries_left() == 5


@pytest.fixture
def store(tmp_path):
    s = RegistrationStore(tmp_path / "data", "kiosk-test", tz="Asia/Shanghai")
    rows = [
        ("pass", ("code.green",), "张*三", "440301********1234", 36.5),
        ("deny", ("code.green", "temperature.fever"), "李*", "110105********002X", 38.1),
        ("refer", ("code.yellow",), "王*明", "440106********5678", 36.7),
        ("deny", ("signature.invalid",), None, None, 36.4),
        ("deny", ("card.mismatch",), "赵*", "310101********3333", 36.6),
    ]
    for i, (decision, reasons, name, masked, temp) in enumerate(rows):
        s.append(
            Registration(
                ts=time.time() - 600 + i * 60,
                method="code",
                decision=decision,
                reasons=reasons,
                format="phic",
                masked_name=name,
                masked_id=masked,
                temperature=temp,
            )
        )
    yield s
    s.close()


def make_console(qtbot, store, gpio, language="en", pin_clock=time.monotonic):
    console = GuardConsole(
        store, GuardActions(store, gpio, actor="guard"), PIN_HASH, language=language, pin_clock=pin_clock
    )
    qtbot.addWidget(console)
    console.resize(1280, 800)
    console.show()
    return console


def enter_pin(qtbot, console, pin: str) -> None:
    for digit in pin:
        qtbot.mouseClick(console.keys[digit], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(console.keys["enter"], Qt.MouseButton.LeftButton)


def test_guard_console_pin_lockout(qtbot, store) -> None:
    clock = Clock(1000.0)
    console = make_console(qtbot, store, FakeGpio(), pin_clock=clock)
    assert not console.unlocked
    for _ in range(4):
        enter_pin(qtbot, console, "1111")
    assert "1 tries left" in console.pin_status.text()
    enter_pin(qtbot, console, "1111")
    assert "try again in 60 s" in console.pin_status.text()
    enter_pin(qtbot, console, PIN)
    assert not console.unlocked and "try again in" in console.pin_status.text()
    console.set_language("zh")
    assert "秒后再试" in console.pin_status.text()
    clock.t += 61
    enter_pin(qtbot, console, PIN)
    assert console.unlocked
    texts = console.visible_texts()
    assert "今日 " + store.today() in texts and "5" in texts  # today's count
    assert console.table.rowCount() == 5
    cells = [console.table.item(r, c).text() for r in range(5) for c in range(4)]
    assert "体温过高：38.1 °C" in " ".join(cells) or any("38.1" in c for c in cells)
    assert not any("1234" in c and "********" not in c for c in cells)  # masked only


def test_manual_open_is_audited_and_pulses_the_gate(qtbot, store) -> None:
    gpio = FakeGpio()
    console = make_console(qtbot, store, gpio)
    qtbot.mouseClick(console.open_button, Qt.MouseButton.LeftButton)
    assert gpio.log == []  # locked: nothing happens
    enter_pin(qtbot, console, PIN)
    assert console.unlocked
    qtbot.mouseClick(console.open_button, Qt.MouseButton.LeftButton)  # no reason: refused
    assert gpio.log == [] and store.audit_entries() == []
    assert console.action_status.text() == "! Enter a reason first"
    qtbot.keyClicks(console.reason_edit, "wheelchair user, code checked by hand")
    qtbot.mouseClick(console.open_button, Qt.MouseButton.LeftButton)
    assert gpio.log == [("gate", "pulse")]
    entries = store.audit_entries()
    assert [(e.actor, e.action, e.reason) for e in entries] == [
        ("guard", "gate.manual_open", "wheelchair user, code checked by hand")
    ]
    assert console.action_status.text() == "✓ Gate opened by hand" and console.reason_edit.text() == ""
    qtbot.keyClicks(console.reason_edit, "door held open by cleaner")
    qtbot.mouseClick(console.silence_button, Qt.MouseButton.LeftButton)
    assert gpio.log[-1] == ("buzzer", "silence")
    assert store.audit_entries()[-1].action == "alarm.silence"
    assert store.audit_entries()[-1].detail == {"sounding": "alarm"}


def test_manual_open_audits_before_the_gate_and_reports_a_dead_relay(store) -> None:
    order: list[str] = []

    class Gpio(FakeGpio):
        def pulse_gate(self, seconds=None) -> bool:
            order.append(f"pulse after {len(store.audit_entries())} audit entries")
            return False

    actions = GuardActions(store, Gpio())
    assert actions.manual_open("fire drill") is False
    assert order == ["pulse after 1 audit entries"]
    with pytest.raises(ValueError):
        actions.manual_open("   ")
    assert len(store.audit_entries()) == 1


def test_f12_and_long_press_open_the_guard_console(qtbot, issuer, store) -> None:
    cp, _ = make_checkpoint(issuer, GatedThermometer(), Clock())
    guard = GuardConsole(store, GuardActions(store, FakeGpio()), PIN_HASH, language="en")
    window = KioskWindow(cp, status_fn(), guard=guard, tick_ms=20)
    qtbot.addWidget(window)
    window.resize(800, 480)
    window.show()
    window.activateWindow()
    qtbot.waitExposed(window)
    assert window.stack.currentWidget() is window.traveller
    qtbot.keyClick(window, Qt.Key.Key_F12)
    assert window.stack.currentWidget() is guard and not guard.unlocked
    qtbot.mouseClick(guard.back_button, Qt.MouseButton.LeftButton)
    assert window.stack.currentWidget() is window.traveller
    window.long_press.timer.setInterval(100)
    qtbot.mousePress(window.traveller.strip, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.stack.currentWidget() is guard, timeout=1000)
    qtbot.mouseRelease(window.traveller.strip, Qt.MouseButton.LeftButton)
    window.show_traveller()
    qtbot.mousePress(window.traveller.strip, Qt.MouseButton.LeftButton)  # a short tap does nothing
    qtbot.mouseRelease(window.traveller.strip, Qt.MouseButton.LeftButton)
    qtbot.wait(200)
    assert window.stack.currentWidget() is window.traveller


@pytest.mark.parametrize("language", ["zh", "en"])
def test_guard_console_screenshots(qtbot, store, language) -> None:
    gpio = FakeGpio()
    console = make_console(qtbot, store, gpio, language=language)
    NOTES.mkdir(parents=True, exist_ok=True)
    assert console.grab().save(str(NOTES / f"guard-pin-{language}.png"))
    enter_pin(qtbot, console, PIN)
    console.reason_edit.insert(
        "轮椅通道" if language == "zh" else "wheelchair access"
    )  # keyClicks: ASCII only
    qtbot.mouseClick(console.open_button, Qt.MouseButton.LeftButton)
    assert console.grab().save(str(NOTES / f"guard-console-{language}.png"))
    assert console.table.rowCount() == 5


def test_window_screenshot_during_a_visit(qtbot, issuer) -> None:
    clock = Clock()
    thermometer = GatedThermometer()
    cp, _ = make_checkpoint(issuer, thermometer, clock)
    loop = LoopThread(cp).start()
    window = KioskWindow(
        cp, lambda: status_info(FakeTrust({"phic": 1.0, "status-list": 30.0}), cp.policy, clock()), tick_ms=20
    )
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    try:
        cp.post(green_code(issuer))
        qtbot.waitUntil(lambda: window.traveller.state.temperature is not None, timeout=2000)
        clock.t += 2.0
        qtbot.waitUntil(lambda: window.traveller.state.state is State.ACTUATING, timeout=2000)
        NOTES.mkdir(parents=True, exist_ok=True)
        assert window.grab().save(str(NOTES / "window-pass.png"))
    finally:
        loop.stop()
    assert isinstance(window.traveller.state, LoopState)


def test_run_with_window_plays_a_scenario_on_simulated_hardware(qtbot, tmp_path) -> None:
    from drivers.config import DevicesConfig, SerialScannerConfig
    from kiosk.app.scenario import Step
    from kiosk.ui.app import run_with_window

    devices = DevicesConfig()
    devices.serial_scanner = SerialScannerConfig(backend="sim")
    if devices.gpio is not None:
        devices.gpio.pulse_seconds = 0.5
    lines: list[dict] = []
    steps = [
        Step(0.3, "temperature", {"celsius": 36.6}, 1),
        Step(0.4, "scan", {"text": "hello"}, 2),
        Step(0.5, "door", {"state": "open"}, 3),  # no gate pulse: forced open, the guard's alarm
        Step(0.9, "door", {"state": "closed"}, 4),
    ]
    policy = Policy(site="Test gate", result_seconds=0.5, companion_window_seconds=0.3)
    started = time.monotonic()
    status = run_with_window(
        tmp_path / "data", policy, devices, steps, emit=lines.append, guard_pin_hash=PIN_HASH, max_seconds=20
    )
    assert status == 0 and time.monotonic() - started < 15
    decisions = [line for line in lines if line["type"] == "decision"]
    assert [(d["decision"], d["reasons"]) for d in decisions] == [("deny", ["format.unknown"])]
    alarms = [(line["kind"], line["device"]) for line in lines if line["type"] == "alarm"]
    assert alarms == [("door.forced", "door")]
    from kiosk.app.run import device_id

    with RegistrationStore(tmp_path / "data", device_id(tmp_path / "data")) as store:
        assert store.last_seq() == 1  # recorded, and the store was closed cleanly


# --- the traveller screen's camera preview, language switch and sync status ---


def test_camera_preview_shows_the_sim_cameras_frames(qtbot, issuer, monkeypatch) -> None:
    """The simulated camera scanner's latest frames reach the aiming frame, downscaled, at the preview's
    own low rate; a stalled camera clears the preview and never holds the screen up."""
    from drivers.config import CameraConfig
    from drivers.scanner.camera import open_camera
    from kiosk.ui import app as ui_app
    from kiosk.ui.app import PREVIEW_WIDTH, camera_frames

    monkeypatch.setattr(ui_app, "STALE_FRAME_SECONDS", 0.4)
    camera = open_camera(CameraConfig(backend="sim", width=1280, height=720, fps=15), gone_seconds=5.0)
    camera.start(lambda event: None)
    cp, _ = make_checkpoint(issuer, GatedThermometer(), Clock())
    window = KioskWindow(cp, status_fn(), frame_source=camera_frames(camera), frame_ms=60, tick_ms=20)
    qtbot.addWidget(window)
    window.resize(800, 480)
    window.show()
    preview = window.traveller.idle.preview
    try:
        camera.sim.show("PHC1:PREVIEW-TEST")
        qtbot.waitUntil(lambda: window.frames >= 3, timeout=3000)
        image = preview._image
        assert image is not None and image.width() == PREVIEW_WIDTH and image.height() == 180  # 1280x720 / 4
        assert len({image.pixelColor(x, 90).value() for x in range(0, 320, 4)}) > 2  # a real scene, not blank
        cp.view = LoopState(State.READING, code_read=True)  # a visit: no preview work meanwhile
        qtbot.waitUntil(
            lambda: window.traveller.pages.currentWidget() is window.traveller.reading, timeout=1000
        )
        frames = window.frames
        qtbot.wait(300)
        assert window.frames == frames
        cp.view = LoopState(State.IDLE)
        camera.sim.stall(True)  # reads now wait out their timeout and give nothing
        ticks = window.ticks
        qtbot.waitUntil(lambda: preview._image is None, timeout=3000)  # a stale frame is not shown
        assert window.ticks > ticks + 5  # the screen kept ticking meanwhile
    finally:
        camera.sim.stall(False)
        camera.stop()


def click_toggle(qtbot, screen) -> None:
    toggle = screen.idle.language_toggle
    qtbot.mousePress(toggle, Qt.MouseButton.LeftButton)
    assert toggle.styleSheet().count("#4fc3f7") == 2  # pressed: filled with the accent colour
    qtbot.mouseRelease(toggle, Qt.MouseButton.LeftButton)


def test_language_switch_lasts_one_visit(qtbot, issuer) -> None:
    clock = Clock()
    cp, _ = make_checkpoint(issuer, GatedThermometer(), clock)
    loop = LoopThread(cp).start()
    window = KioskWindow(cp, status_fn(), tick_ms=20, language="zh")
    qtbot.addWidget(window)
    window.resize(800, 480)
    window.show()
    screen = window.traveller
    try:
        toggle = screen.idle.language_toggle
        assert toggle.label.source_text() == "English" and toggle.isVisible()
        assert toggle.width() >= 80 and toggle.height() >= 60  # large enough to hit
        click_toggle(qtbot, screen)
        assert screen.language == "en" and toggle.label.source_text() == "中文"
        assert screen.idle.prompt.texts()[0] == "Show your health code or swipe your ID card"
        cp.post(green_code(issuer))
        qtbot.waitUntil(lambda: screen.state.temperature is not None, timeout=2000)
        assert "Health code" in screen.visible_texts()  # the visit is in English
        clock.t += 2.0
        qtbot.waitUntil(lambda: screen.state.state is State.ACTUATING, timeout=2000)
        assert screen.result.headline.texts()[0] == "PASS"
        clock.t += cp.policy.result_seconds + 0.1
        qtbot.waitUntil(lambda: screen.state.state is State.IDLE, timeout=2000)
        assert screen.language == "zh" and screen.idle.prompt.texts()[0] == "请出示健康码或刷身份证"
        click_toggle(qtbot, screen)  # chosen, then nobody comes: back to the default after a while
        assert screen.language == "en"
        screen._chosen_at -= 61
        qtbot.waitUntil(lambda: screen.language == "zh", timeout=1000)
    finally:
        loop.stop()


def test_status_strip_reads_the_sync_state_file(qtbot, issuer, tmp_path) -> None:
    import json

    from kiosk.ui.app import sync_status
    from kiosk.ui.sources import SyncStateCache

    cp, _ = make_checkpoint(issuer, GatedThermometer(), Clock())
    cache = SyncStateCache(tmp_path, every=0.0)
    policy = Policy(site="North gate")

    def status() -> StatusInfo:
        online, last, blocked = sync_status(cache, policy.timezone)
        return status_info(
            FakeTrust({"phic": 1.0, "status-list": 1.0}),
            policy,
            NOW,
            online=online,
            last_sync=last,
            sync_blocked=blocked,
        )

    window = KioskWindow(cp, status, tick_ms=20, language="en")
    qtbot.addWidget(window)
    window.resize(800, 480)
    window.show()
    qtbot.waitUntil(lambda: {"Offline", "Sync never"} <= set(window.traveller.visible_texts()), timeout=2000)
    (tmp_path / "sync-state.json").write_text(json.dumps({"online": True, "last_success": NOW - 120}))
    qtbot.waitUntil(lambda: "Online" in window.traveller.visible_texts(), timeout=2000)
    assert "Sync 11-25 17:44" in window.traveller.visible_texts()  # NOW - 2 min, in Asia/Shanghai
    assert window.traveller.strip.chips["network"].level == "ok"
    # a timeout mends itself; the hub refusing this kiosk's rows needs a technician: the strip says so
    state = {"online": True, "last_success": NOW - 120, "errors": [{"step": "push", "code": "timeout"}]}
    (tmp_path / "sync-state.json").write_text(json.dumps(state))
    qtbot.wait(60)
    assert "Sync 11-25 17:44" in window.traveller.visible_texts()
    state["errors"] = [{"step": "push", "code": "push.refused", "message": "the hub refused 5..9"}]
    (tmp_path / "sync-state.json").write_text(json.dumps(state))
    qtbot.waitUntil(lambda: "Sync blocked" in window.traveller.visible_texts(), timeout=2000)
    chip = window.traveller.strip.chips["sync"]
    assert chip.level == "warning" and "Sync 11-25 17:44" not in window.traveller.visible_texts()
    window.traveller.set_language("zh")
    qtbot.waitUntil(lambda: "同步受阻" in window.traveller.visible_texts(), timeout=2000)
