"""`kiosk screenshots --out DIR`: every screen state, both languages, landscape and portrait sizes.

Traveller screen: states are built directly as `LoopState`/`Outcome` objects (no devices, no keys),
rendered offscreen and saved with `widget.grab()`; file names `<state>-<lang>-<width>x<height>.png`,
at 1280x800, 800x480 and 800x1280.

Guard console and technician screens: each is driven through its states by the same calls a person's
taps make (PIN keys, buttons, the workers running on their threads), over a demo data directory made
in a temporary folder (a registration store with a morning's visits, a USB folder, a device
configuration, a sync state file) and stand-in devices (no hardware is opened). File names
`guard-<state>-<lang>-<w>x<h>.png` and `tech-<state>-<lang>-<w>x<h>.png`, at 800x480, 1280x800,
480x800 and 800x1280.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from kiosk.app.loop import LoopState, Outcome, State
from kiosk.codes.model import Format, Holder, Verification
from kiosk.policy.policy import Decision, Policy
from kiosk.ui.traveller import StatusInfo, TravellerScreen

SIZES: tuple[tuple[int, int], ...] = ((1280, 800), (800, 480), (800, 1280))
CONSOLE_SIZES: tuple[tuple[int, int], ...] = ((800, 480), (1280, 800), (480, 800), (800, 1280))
LANGUAGES = ("zh", "en")
NOW = datetime(2025, 3, 14, 8, 42)
TZ = "Asia/Shanghai"
NOW_TS = NOW.replace(tzinfo=ZoneInfo(TZ)).timestamp()
DEMO_PIN = "2468"


def _outcome(
    decision: str,
    reasons: list[str],
    *,
    temperature: float | None = 36.5,
    colour: str | None = "green",
    name: str | None = "张*三",
    method: str = "code",
) -> Outcome:
    verification = Verification(
        Format.PHIC,
        reasons=[],
        issuer="440300",
        colour=colour,
        holder=Holder(name, "resident", "440301********1234"),
    )
    return Outcome(Decision(decision, reasons, method), verification, temperature, name, "440301********1234")


def states() -> dict[str, tuple[LoopState, StatusInfo]]:
    """Every traveller-screen state worth a screenshot, by name, with the status strip it shows."""
    ok = StatusInfo(
        site="北门 North gate", now=NOW, online=False, last_sync=None, keys="ok", status_list="ok"
    )
    online = StatusInfo(
        site="北门 North gate",
        now=NOW,
        online=True,
        last_sync=datetime(2025, 3, 14, 8, 30),
        keys="ok",
        status_list="ok",
    )
    degraded = StatusInfo(
        site="北门 North gate",
        now=NOW,
        sync_blocked=True,
        keys="stale",
        status_list="warning",
        clock_ok=False,
        faults=("thermometer",),
    )
    result = State.ACTUATING
    return {
        "idle": (LoopState(State.IDLE), ok),
        "idle-online": (LoopState(State.IDLE), online),
        "reading-code-measuring": (LoopState(State.READING, code_read=True, measuring=True), ok),
        "reading-card-temperature": (LoopState(State.READING, card_read=True, temperature=36.4), ok),
        "reading-remeasure": (
            LoopState(
                State.READING,
                code_read=True,
                card_read=True,
                measuring=True,
                remeasuring=True,
                temperature=37.8,
            ),
            ok,
        ),
        "pass": (LoopState(result, outcome=_outcome("pass", ["code.green"])), ok),
        "pass-card": (
            LoopState(result, outcome=_outcome("pass", ["card.no_abnormality"], method="card", colour=None)),
            ok,
        ),
        "pass-staff": (LoopState(result, outcome=_outcome("pass", ["guard.manual"], method="manual")), ok),
        "stop-red": (LoopState(result, outcome=_outcome("deny", ["code.red"], colour="red")), ok),
        "stop-fever": (
            LoopState(
                result, outcome=_outcome("deny", ["code.green", "temperature.fever"], temperature=37.8)
            ),
            ok,
        ),
        "stop-mismatch": (
            LoopState(result, outcome=_outcome("deny", ["code.green", "card.mismatch"], method="code+card")),
            ok,
        ),
        "stop-expired": (LoopState(result, outcome=_outcome("deny", ["code.expired"])), ok),
        "stop-not-health-code": (
            LoopState(result, outcome=_outcome("deny", ["format.unknown"], name=None, colour=None)),
            ok,
        ),
        "stop-many": (
            LoopState(
                result,
                outcome=_outcome(
                    "deny",
                    ["clock.untrusted", "signature.invalid", "card.mismatch", "temperature.fever"],
                    temperature=38.2,
                ),
            ),
            ok,
        ),
        "refer-yellow": (LoopState(result, outcome=_outcome("refer", ["code.yellow"], colour="yellow")), ok),
        "refer-stale": (
            LoopState(
                result,
                outcome=_outcome("refer", ["trust.stale", "temperature.unavailable"], temperature=None),
            ),
            degraded,
        ),
        "idle-degraded": (LoopState(State.IDLE), degraded),
    }


def demo_frame(width: int = 640, height: int = 360) -> Any:
    """A simulated camera frame with a code held up (the preview's screenshot)."""
    from drivers.scanner.sim import SimCamera

    camera = SimCamera(width, height)
    camera.open()
    try:
        camera.show("PHC1:SCREENSHOT-DEMO-CODE")
        return camera.read()
    finally:
        camera.close()


# --- stand-ins and demo data for the guard and technician screens ---


@dataclass
class DemoHealth:
    state: str = "ok"
    reason: str = ""
    since: float = 0.0


class DemoGpio:
    """The gate I/O as the console sees it, without hardware."""

    def __init__(self) -> None:
        self.sounding: str | None = None
        self.health = DemoHealth()
        self.log: list[tuple[str, Any]] = []

    def pulse_gate(self, seconds: float | None = None) -> bool:
        self.log.append(("gate", "pulse"))
        return True

    def show(self, colour: str | None) -> bool:
        self.log.append(("lamp", colour))
        return True

    def beep(self, pattern: str) -> bool:
        self.log.append(("buzzer", pattern))
        self.sounding = pattern if pattern == "alarm" else self.sounding
        return True

    def silence(self) -> None:
        self.log.append(("buzzer", "silence"))
        self.sounding = None


@dataclass
class DemoReading:
    status: str
    skin: float | None = None
    body: float | None = None


class DemoThermometer:
    """Skin readings from a list, in turn (a calibration's person standing still)."""

    def __init__(self, skins: list[float] | None = None, seconds: float = 0.0):
        self.skins = skins or [35.92, 35.98, 35.95, 36.01, 35.97]
        self.seconds = seconds
        self.calls = 0
        self.offset_set: float | None = None

    def measure(self) -> DemoReading:
        skin = self.skins[self.calls % len(self.skins)]
        self.calls += 1
        if self.seconds:
            time.sleep(self.seconds)
        return DemoReading("ok", skin, skin + 0.9)


@dataclass
class DemoHardware:
    thermometer: Any = None
    gpio: Any = None
    states: dict[str, DemoHealth] = field(default_factory=dict)

    def health(self) -> dict[str, DemoHealth]:
        return dict(self.states)


SHOWN_USB = Path("/media/kiosk/USB-STICK")  # the paths the screens show (the files are in a demo folder)
SHOWN_BUNDLE = Path("/media/kiosk/KIOSK-BUNDLE")
SHOWN_DEVICES = Path("/etc/healthcode-kiosk/devices.toml")


def _demo_actions_class() -> type:
    from kiosk.ui.guard import GuardActions

    class DemoActions(GuardActions):
        """Exports to the demo folder what the screen shows as a stick under /media."""

        def __init__(self, *args: Any, stick: Path, **options: Any) -> None:
            super().__init__(*args, **options)
            self.stick = stick

        def export_today(
            self, directory: str | Path, reason: str, now: float | None = None
        ) -> tuple[Path, Any]:
            real = self.stick if Path(directory) == SHOWN_USB else Path(directory)
            path, counts = super().export_today(real, reason, now)
            return Path(directory) / path.name, counts

    return DemoActions


def _DemoActions(*args: Any, **options: Any) -> Any:  # noqa: N802 (a class, made on first use)
    return _demo_actions_class()(*args, **options)


VISITS = (
    # minutes before NOW, decision, reasons, masked name, masked id, temperature
    (41, "pass", ("code.green",), "张*三", "440301********1234", 36.5),
    (33, "deny", ("code.green", "temperature.fever"), "李*", "110105********002X", 38.1),
    (27, "pass", ("card.no_abnormality",), "陈*华", "440106********7788", 36.3),
    (19, "deny", ("signature.invalid",), None, None, 36.4),
    (12, "deny", ("card.mismatch",), "赵*", "310101********3333", 36.6),
    (4, "refer", ("code.yellow",), "王*明", "440106********5678", 36.7),
)

DEVICES_TOML = """# device configuration (docs/devices.md)
[camera]
backend = "sim"

[thermometer]
backend = "sim"
offset = 0.9   # model "offset": body = skin + offset

[gpio]
backend = "sim"
"""


def demo_data(base: Path, *, now: float = NOW_TS) -> dict[str, Path]:
    """A data directory with a morning's visits, a USB folder, a device configuration and sync state."""
    from kiosk.store.model import Registration
    from kiosk.store.registrations import RegistrationStore

    data = base / "data"
    usb = base / "media" / "kiosk" / "USB-STICK"
    usb.mkdir(parents=True, exist_ok=True)
    data.mkdir(parents=True, exist_ok=True)
    (data / "device-id").write_text("northgate-01\n")
    (data / "site-name").write_text("北门 North gate\n", encoding="utf-8")
    with RegistrationStore(data, "northgate-01", tz=TZ) as store:
        if store.last_seq() == 0:
            for minutes, decision, reasons, name, masked, temp in VISITS:
                store.append(
                    Registration(
                        ts=now - minutes * 60,
                        method="code",
                        decision=decision,
                        reasons=reasons,
                        format="phic",
                        masked_name=name,
                        masked_id=masked,
                        temperature=temp,
                    )
                )
    devices = base / "devices.toml"
    devices.write_text(DEVICES_TOML)
    (base / "mounts").write_text(f"/dev/sda1 {usb} vfat rw,nosuid,nodev 0 0\n")
    return {"data": data, "usb": usb, "devices": devices, "mounts": base / "mounts"}


def write_sync_state(data: Path, now: float = NOW_TS, *, online: bool = True) -> None:
    state = {
        "last_attempt": now - 40,
        "last_success": now - 40 if online else now - 5400,
        "last_error": "" if online else "hub not reachable: connection refused",
        "clock_offset": 3.2,
        "pending": 2,
        "synced_seq": 4,
        "bundle_seq": 12,
        "status_list_seq": 311,
        "policy_seq": 3,
        "online": online,
    }
    (data / "sync-state.json").write_text(json.dumps(state))


def demo_trust(data_dir: Path, now: float, warn: float, maximum: float) -> list:
    from kiosk.ui.sources import TrustRow

    hour = 3600.0
    return [
        TrustRow("phic-bundle", 14, 12, now - 5 * hour, now + 30 * 24 * hour, 5.0, "fresh"),
        TrustRow("dsc-list", 236, None, now - 30 * hour, now + 5 * 24 * hour, 30.0, "warning"),
        TrustRow("status-list", 120_431, 311, now - 80 * hour, now - 8 * hour, 80.0, "stale"),
    ]


def demo_import(directory: Path, data_dir: Path) -> list:
    return [
        (
            "root key and issuer bundle",
            "ok",
            "phic-bundle: 14 keys, seq 13, valid until 2025-04-13 00:00 UTC",
        ),
        ("status list", "ok", "full list seq 312: 120,455 holders, 18 withdrawn codes"),
    ]


SELFTEST_RESULTS = {
    "camera": ("ok", "sim camera: 1280x720, test card decoded"),
    "thermometer": ("ok", "ambient 22.0 °C, emissivity 0.980, PEC checked by the kernel"),
    "id_reader": ("degraded", "SAM status 90, 2 retries before the SAM answered"),
    "gpio": ("failed", "gate relay (GPIO17) could not be claimed: GPIO busy (another program holds it)"),
}


class GatedSelftest:
    """A self-test runner that waits for `release` per device (to show one running) and answers
    from SELFTEST_RESULTS."""

    def __init__(self, hold: str | None = None):
        self.hold = hold
        self.release = threading.Event()
        self.started: list[str] = []

    def __call__(self, name: str, config: Any, live: Any = None) -> dict:
        self.started.append(name)
        if name == self.hold:
            self.release.wait(30)
        status, detail = SELFTEST_RESULTS.get(name, ("ok", "fine"))
        return {"name": name, "status": status, "detail": detail}


def _pump(app: Any, until: Callable[[], bool] | None = None, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        app.processEvents()
        if until is None or until() or time.monotonic() > deadline:
            break
        time.sleep(0.005)
    app.processEvents()


def _guard_states(app: Any, base: Path, lang: str) -> Iterator[tuple[str, Any]]:
    """Drive a guard console through its states; yields (name, widget) at each."""
    from kiosk.app.alarms import AlarmBoard
    from kiosk.store.registrations import RegistrationStore
    from kiosk.ui.guard import GuardConsole, hash_pin

    paths = demo_data(base)
    store = RegistrationStore(paths["data"], "northgate-01", tz=TZ)
    gpio = DemoGpio()
    alarms = AlarmBoard(gpio, clock=lambda: NOW_TS)
    actions = _DemoActions(store, gpio, alarms=alarms, clock=lambda: NOW_TS, stick=paths["usb"])
    console = GuardConsole(
        store,
        actions,
        hash_pin(DEMO_PIN, salt=b"screenshot-salt!", iterations=1000),
        language=lang,
        clock=lambda: NOW_TS,
        refresh_ms=3_600_000,
        usb_lister=lambda: [SHOWN_USB],
    )
    try:
        console.resize(*CONSOLE_SIZES[0])
        console.show()
        _pump(app)
        yield "pin", console
        for key in "1111":
            console.keys[key].click()
        console.keys["enter"].click()
        yield "pin-wrong", console
        for key in DEMO_PIN:
            console.keys[key].click()
        console.keys["enter"].click()
        yield "console", console
        refer = next(r for r in console.rows if r.decision == "refer")
        console.select_seq(refer.seq)
        console.reason_edit.setText(
            "黄码，已电话核实行程" if lang == "zh" else "yellow code, travel checked by phone"
        )
        yield "refer-selected", console
        console.pass_button.click()
        yield "refer-let-pass", console
        from drivers.events import DoorEvent

        alarms.on_event(DoorEvent("door", "held_open"))
        alarms.update_health({"thermometer": DemoHealth("failed", "no answer at 0x5a", -60.0)})
        console.show_alarms(alarms.alarms())
        yield "alarm", console
        console.reason_edit.setText("保洁推车通过" if lang == "zh" else "cleaning trolley going through")
        console.silence_button.click()
        yield "alarm-silenced", console
        console.export_button.click()
        _pump(app, lambda: console.picker.list.count() > 0)
        yield "export", console
        console.export_today()
        _pump(app, lambda: not console.export_worker.running and bool(console.said("export")))
        _pump(app, lambda: not console.export_worker.running)
        yield "exported", console
    finally:
        console.close()
        console.deleteLater()
        store.close()


def _technician_states(app: Any, base: Path, lang: str) -> Iterator[tuple[str, Any]]:
    """Drive the technician screens through their states; yields (name, widget) at each."""
    from drivers.config import load
    from kiosk.store.registrations import RegistrationStore
    from kiosk.ui.guard import hash_pin
    from kiosk.ui.sources import EventLog, write_atomic
    from kiosk.ui.technician import TechnicianDeps, TechnicianScreen

    def read_only(path: Path, text: str) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    def write_demo(path: Path, text: str) -> None:  # what the screen shows as /etc/... is a demo file
        write_atomic(paths["devices"], text)

    paths = demo_data(base)
    write_sync_state(paths["data"])
    store = RegistrationStore(paths["data"], "northgate-01", tz=TZ)
    devices = load(paths["devices"])
    from drivers.config import IdReaderConfig

    devices.id_reader = IdReaderConfig(backend="sim")
    thermometer = DemoThermometer()
    hardware = DemoHardware(
        thermometer=thermometer,
        gpio=DemoGpio(),
        states={
            "camera": DemoHealth("ok", "1280x720 at 15 fps"),
            "thermometer": DemoHealth("ok"),
            "id_reader": DemoHealth("ok"),
            "gpio": DemoHealth("degraded", "door contact reads open for long"),
        },
    )
    events = EventLog(clock=lambda: NOW_TS, tz=ZoneInfo(TZ))
    for i, (minutes, decision, reasons, name, masked, _temp) in enumerate(VISITS):
        at = NOW_TS - minutes * 60
        line = {
            "type": "decision",
            "decision": decision,
            "reasons": list(reasons),
            "name": name,
            "id_number": masked,
        }
        events.add(json.dumps(line, ensure_ascii=False), at)
        if decision == "pass":
            events.add(json.dumps({"type": "actuator", "device": "gate", "action": "pulse"}), at + 0.1)
        if i == 3:
            events.add("WARNING drivers.scanner.camera: camera: read failed: error", at + 2)
    selftest = GatedSelftest(hold="id_reader")
    deps = TechnicianDeps(
        data_dir=paths["data"],
        policy=Policy(site="北门 North gate", timezone=TZ),
        devices=devices,
        devices_path=SHOWN_DEVICES,
        hardware=hardware,
        store=store,
        events=events,
        selftest=selftest,
        journal=lambda: None,
        usb_lister=lambda: [SHOWN_BUNDLE],
        import_trust=demo_import,
        trust=demo_trust,
        clock=lambda: NOW_TS,
    )
    screen = TechnicianScreen(
        deps, hash_pin(DEMO_PIN, salt=b"screenshot-salt!", iterations=1000), language=lang
    )
    try:
        screen.resize(*CONSOLE_SIZES[0])
        screen.show()
        _pump(app)
        yield "pin", screen
        for key in DEMO_PIN:
            screen.keys[key].click()
        screen.keys["enter"].click()
        yield "menu", screen
        screen.show_section("selftest")
        yield "selftest", screen
        screen.run_selftest()
        _pump(app, lambda: screen.selftest_current == "id_reader")
        yield "selftest-running", screen
        selftest.release.set()
        _pump(app, lambda: not screen.selftest_worker.running and len(screen.selftest_results) == 4)
        yield "selftest-done", screen
        screen.show_section("identity")
        yield "identity", screen
        screen.show_section("trust")
        _pump(app, lambda: screen.trust is not None and not screen.trust_worker.running)
        yield "trust", screen
        screen.show_section("import")
        _pump(app, lambda: screen.import_picker.list.count() > 0)
        yield "import", screen
        screen.run_import()
        _pump(app, lambda: not screen.import_worker.running)
        yield "import-done", screen
        screen.show_section("network")
        yield "network", screen
        (paths["data"] / "sync-state.json").unlink()
        screen.load_network()
        yield "network-never", screen
        screen.show_section("logs")
        _pump(app, lambda: not screen.log_worker.running and screen.log_source != "")
        yield "logs", screen
        screen.show_section("calibration")
        for key in "36.9":
            screen.cal_keypad.keys[key].click()
        yield "calibration", screen
        screen.cal_measure.click()
        _pump(app, lambda: not screen.measure_worker.running and screen.calibration is not None)
        yield "calibration-measured", screen
        screen.cal_save.click()
        yield "calibration-confirm", screen
        deps.write_config = read_only  # the file system refuses (as /etc is for the service user)
        screen.cal_yes.click()
        _pump(
            app, lambda: not screen.save_worker.running and screen.said("cal") != screen.t("tech.cal.saving")
        )
        yield "calibration-read-only", screen
        deps.write_config = write_demo
        screen.cal_save.click()
        screen.cal_yes.click()
        _pump(app, lambda: not screen.save_worker.running and screen.saved_path is not None)
        yield "calibration-saved", screen
    finally:
        selftest.release.set()
        screen.close()
        screen.deleteLater()
        store.close()


GUARD_STATES = (
    "pin",
    "pin-wrong",
    "console",
    "refer-selected",
    "refer-let-pass",
    "alarm",
    "alarm-silenced",
    "export",
    "exported",
)
TECHNICIAN_STATES = (
    "pin",
    "menu",
    "selftest",
    "selftest-running",
    "selftest-done",
    "identity",
    "trust",
    "import",
    "import-done",
    "network",
    "network-never",
    "logs",
    "calibration",
    "calibration-measured",
    "calibration-confirm",
    "calibration-read-only",
    "calibration-saved",
)


class _Writer:
    """PNG files written on a few threads (compression is most of the time a screenshot takes)."""

    def __init__(self, quality: int) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.quality = quality
        self.pool = ThreadPoolExecutor(max_workers=max(2, min(8, os.cpu_count() or 2)))
        self.futures: list = []

    def grab(self, app: Any, widget: Any, path: Path) -> Path:
        app.processEvents()
        image = widget.grab().toImage()
        self.futures.append(self.pool.submit(self._save, image, path))
        return path

    def _save(self, image: Any, path: Path) -> None:
        if not image.save(str(path), "PNG", self.quality):
            raise OSError(f"could not write {path}")

    def close(self) -> None:
        try:
            for future in self.futures:
                future.result()
        finally:
            self.pool.shutdown()


def write_screenshots(
    out_dir: Path | str,
    *,
    sizes: tuple[tuple[int, int], ...] = SIZES,
    console_sizes: tuple[tuple[int, int], ...] = CONSOLE_SIZES,
    screens: tuple[str, ...] = ("traveller", "guard", "technician"),
    quality: int = -1,
) -> list[Path]:
    """Render every state in both languages at every size into out_dir; returns the files written.
    `quality` is the PNG compression trade-off (0: smallest files, 100: fastest; -1: Qt's default)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])

    def quiet(kind: Any, context: Any, message: str) -> None:  # the offscreen platform's chatter
        if "propagateSizeHints" not in message:
            print(message, file=sys.stderr)

    previous = qInstallMessageHandler(quiet)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    writer = _Writer(quality)
    try:
        _render_all(app, out, writer, written, sizes, console_sizes, screens)
    finally:
        writer.close()
        qInstallMessageHandler(previous)
    return written


def _render_all(
    app: Any,
    out: Path,
    writer: _Writer,
    written: list[Path],
    sizes: tuple[tuple[int, int], ...],
    console_sizes: tuple[tuple[int, int], ...],
    screens: tuple[str, ...],
) -> None:
    _grab = writer.grab
    if "traveller" in screens:
        screen = TravellerScreen()
        frame = demo_frame()
        for width, height in sizes:
            screen.resize(width, height)
            for lang in LANGUAGES:
                screen.set_language(lang)
                for name, (state, status) in states().items():
                    screen.render(state, status)
                    screen.show()
                    written.append(_grab(app, screen, out / f"{name}-{lang}-{width}x{height}.png"))
                screen.render(*states()["idle"])
                screen.set_frame(frame)
                written.append(_grab(app, screen, out / f"idle-preview-{lang}-{width}x{height}.png"))
                screen.set_frame(None)
        screen.close()
    for prefix, driver in (("guard", _guard_states), ("tech", _technician_states)):
        if ("technician" if prefix == "tech" else prefix) not in screens:
            continue
        for lang in LANGUAGES:
            with tempfile.TemporaryDirectory(prefix="kiosk-screens-") as tmp:
                for name, widget in driver(app, Path(tmp), lang):
                    for width, height in console_sizes:
                        widget.resize(width, height)
                        _pump(app)
                        path = out / f"{prefix}-{name}-{lang}-{width}x{height}.png"
                        written.append(_grab(app, widget, path))


# --- the selection in docs/img (docs/screens.md) ---

DOC_LANGUAGE = {  # each state once, in one language (both appear across the pages)
    "idle": "zh",
    "idle-online": "en",
    "idle-preview": "zh",
    "idle-degraded": "en",
    "reading-code-measuring": "zh",
    "reading-card-temperature": "en",
    "reading-remeasure": "zh",
    "pass": "zh",
    "pass-card": "en",
    "pass-staff": "en",
    "stop-red": "zh",
    "stop-fever": "en",
    "stop-mismatch": "zh",
    "stop-expired": "en",
    "stop-not-health-code": "zh",
    "stop-many": "en",
    "refer-yellow": "en",
    "refer-stale": "zh",
}
DOC_PORTRAIT = (
    "idle-en-800x1280",
    "refer-yellow-zh-800x1280",
    "guard-console-zh-480x800",
    "guard-alarm-en-480x800",
    "guard-export-zh-800x1280",
    "tech-menu-en-480x800",
    "tech-selftest-done-zh-480x800",
    "tech-calibration-measured-en-800x1280",
)
DOC_KEEP = ("pass-zh-800x480", "refer-yellow-en-800x480", "stop-fever-en-800x480", "idle-zh-800x480")


def doc_image_names() -> list[str]:
    """The file stems docs/screens.md shows: every state at 800x480 once, and a few in portrait."""
    names = [f"{state}-{lang}-800x480" for state, lang in DOC_LANGUAGE.items()]
    for prefix, states in (("guard", GUARD_STATES), ("tech", TECHNICIAN_STATES)):
        names += [
            f"{prefix}-{state}-{'en' if i % 2 == 0 else 'zh'}-800x480" for i, state in enumerate(states)
        ]
    names += [n for n in (*DOC_PORTRAIT, *DOC_KEEP) if n not in names]
    return names


def write_doc_images(out_dir: Path | str, colours: int = 192) -> list[Path]:
    """Render everything, keep the docs' selection, reduced to `colours` colours (Pillow) to keep the
    repository small."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wanted = set(doc_image_names())
    kept: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="kiosk-doc-shots-") as tmp:
        for path in write_screenshots(tmp):
            if path.stem not in wanted:
                continue
            target = out / path.name
            try:
                from PIL import Image

                image = Image.open(path).convert("RGB")
                image.quantize(
                    colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
                ).save(target, optimize=True)
            except ImportError:
                target.write_bytes(path.read_bytes())
            kept.append(target)
    return kept


if __name__ == "__main__":  # python -m kiosk.ui.screenshots docs/img
    import argparse

    parser = argparse.ArgumentParser(description="the screenshots docs/screens.md shows")
    parser.add_argument("out", help="directory, e.g. docs/img")
    args = parser.parse_args()
    print(len(write_doc_images(args.out)), "images in", args.out)
