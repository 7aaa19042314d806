"""The technician screens: behind their own PIN (`technician_pin_hash`, not the guard's), a menu of

- **Self-test**: each fitted device's own self-test (drivers' `selftest()`, through kiosk.selftest; in
  the running kiosk the open device's own `selftest()` from `hardware`, never a second open), one
  device after the other on a worker thread, with progress and each result as colour, symbol and word
  (OK / Degraded / Failed) and the driver's detail; the live health of each device beside it.
- **Identity**: device id and site name (the files `kiosk provision` writes), hub enrolment, software
  version, host name, data directory.
- **Trust**: each trust list and the status list with its age and freshness in words (fresh / ageing /
  stale), and an import from a USB directory laid out like a `kiosk provision --bundle` bundle
  (root.pem, bundle.jws, optional status-list.ksl and list-key), run on a worker thread.
- **Network and sync**: online or offline, last success and attempt, last error, registrations waiting,
  the clock's offset from the hub (DATA_DIR/sync-state.json, docs/hub-protocol.md).
- **Logs**: the last hour of `journalctl -u healthcode-kiosk`, or the kiosk's own event log where the
  journal is not available; scrollable, large type.
- **Calibration**: the thermometer's offset against a reference reading: the technician types the
  reference thermometer's reading, the screen takes N readings, shows the new offset and writes it to
  the device configuration only when confirmed (atomically; a read-only file is said plainly, with the
  line to put in by hand).

Everything slow runs on a `Worker`: a hung device or a dead USB stick leaves the screen (and the loop,
which runs on its own thread anyway) responsive. The screens only show state and send commands.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from kiosk.ui import sources
from kiosk.ui.console import (
    AMBER,
    MUTED,
    PANEL,
    TEXT,
    TEXT2,
    Badge,
    ConsoleScreen,
    DirectoryPicker,
    Keypad,
    Worker,
    button,
    label,
    line_edit,
)
from kiosk.ui.strings import Texts

SECTIONS = ("selftest", "identity", "trust", "network", "logs", "calibration")
STATUS_LEVEL = {"ok": "ok", "degraded": "warning", "failed": "bad"}
FRESH_LEVEL = {"fresh": "ok", "warning": "warning", "stale": "bad"}
LOG_SECONDS = 3600.0


def _default_selftest(name: str, config: Any, live: Any = None) -> dict:
    """kiosk.selftest for one device; `live` is the open device of the running kiosk, tested as it is
    held (never opened again, the gate never pulsed) when its driver offers `selftest()`."""
    from kiosk import selftest

    return selftest.run_one(name, config, selftest.TIME_LIMIT, live=live)


@dataclass
class TechnicianDeps:
    """What the technician screens read and drive; everything but `data_dir` and `policy` is optional."""

    data_dir: Path
    policy: Any
    devices: Any = None  # drivers.config.DevicesConfig as the kiosk runs it
    devices_path: Path | None = None  # the device configuration file (None: built-in defaults)
    hardware: Any = None  # kiosk.app.hardware.Hardware: live health, the thermometer
    store: Any = None  # RegistrationStore: registrations waiting for the hub
    events: sources.EventLog | None = None
    selftest: Callable[[str, Any, Any], dict] = _default_selftest  # (name, config, the open device or None)
    trust_reload: Callable[[], Any] | None = None  # makes the running checkpoint use new trust lists
    journal: Callable[[], list[str] | None] = sources.journal_lines
    usb_lister: Callable[[], list[Path]] = sources.usb_directories
    import_trust: Callable[[Path, Path], list] = sources.import_bundle
    clock: Callable[[], float] = time.time
    readings: int = 5  # thermometer readings per calibration
    sync_state: Callable[[Path], sources.SyncState] = sources.read_sync_state
    trust: Callable[[Path, float, float, float], list] = sources.trust_rows
    write_config: Callable[[Path, str], None] = sources.write_atomic
    extra: dict = field(default_factory=dict)


def _fmt_time(ts: float | None, tz: Any, never: str) -> str:
    if ts is None:
        return never
    return dt.datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M:%S")


class _Row(QFrame):
    """One result line: a badge (colour, symbol, word), a name and a detail under it."""

    def __init__(self, fonts: Any):
        super().__init__()
        self.setObjectName("row")
        self.setStyleSheet(f"#row {{ background: {PANEL}; border-radius: 8px; }}")
        self.badge = Badge()
        fonts.add(self.badge.word, 17, bold=True)
        self.name = fonts.add(label(TEXT, wrap=True), 18, bold=True)
        self.detail = fonts.add(label(TEXT2, wrap=True), 16)
        self.name.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        grid = QGridLayout(self)
        grid.setContentsMargins(8, 6, 8, 6)
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(2)
        grid.addWidget(self.name, 0, 0)
        grid.addWidget(self.badge, 0, 1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        grid.addWidget(self.detail, 1, 0, 1, 2)
        grid.setColumnStretch(0, 1)

    def set(self, name: str, level: str, word: str, detail: str = "") -> None:
        self.name.setText(name)
        self.badge.set(level, word)
        self.detail.setText(detail)
        self.detail.setVisible(bool(detail))


def _scrolled(inner: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setStyleSheet(
        "QScrollArea { background: transparent; } QScrollArea > QWidget > QWidget { background: transparent; }"
    )
    area.setWidget(inner)
    return area


class TechnicianScreen(ConsoleScreen):
    TITLE = "tech.title"
    PIN_PROMPT = "tech.pin_prompt"
    NO_PIN = "tech.no_pin"

    def __init__(
        self,
        deps: TechnicianDeps,
        pin_hash: str | None,
        *,
        language: str = "zh",
        texts_: Texts | None = None,
        pin_clock: Callable[[], float] = time.monotonic,
        parent: QWidget | None = None,
    ):
        self.deps = deps
        self.tz = _zone(getattr(deps.policy, "timezone", None))
        self.selftest_results: dict[str, dict] = {}
        self.selftest_current: str | None = None
        self.trust: list[sources.TrustRow] | None = None
        self.trust_error = ""
        self.import_steps: list[tuple] = []
        self.sync: sources.SyncState | None = None
        self.log_source = ""
        self.log_lines: list[str] = []
        self.calibration: sources.Calibration | None = None
        self.calibration_readings: list[str] = []
        self.saved_path: Path | None = None
        super().__init__(
            pin_hash,
            language=language,
            texts_=texts_,
            pin_clock=pin_clock,
            object_name="technician",
            parent=parent,
        )
        self.selftest_worker = self._worker(self._selftest_work, self._selftest_progress, self._selftest_done)
        self.trust_worker = self._worker(self._trust_work, None, self._trust_done)
        self.import_worker = self._worker(self._import_work, self._import_progress, self._import_done)
        self.log_worker = self._worker(self._log_work, None, self._log_done)
        self.measure_worker = self._worker(self._measure_work, self._measure_progress, self._measure_done)
        self.save_worker = self._worker(self._save_work, None, self._save_done)
        self.timer = QTimer(self)
        self.timer.setInterval(1000)
        self.timer.timeout.connect(self._tick)
        self.timer.start()
        self.lock()

    def _worker(self, fn: Callable, progress: Callable | None, done: Callable) -> Worker:
        worker = Worker(fn, self)
        if progress is not None:
            worker.progressed.connect(progress)
        worker.done.connect(done)
        worker.failed.connect(done)  # `done` tells a result from an exception
        return worker

    # --- pages ---

    def build_pages(self) -> None:
        self.menu_button = self.fonts.add(button(), 17, height=2.3)
        self.menu_button.clicked.connect(self.show_menu)
        self.top_extra.addWidget(self.menu_button)
        self.menu_page = self.add_page(self._build_menu())
        self.section_pages: dict[str, QWidget] = {
            "selftest": self.add_page(self._build_selftest()),
            "identity": self.add_page(self._build_identity()),
            "trust": self.add_page(self._build_trust()),
            "import": self.add_page(self._build_import()),
            "network": self.add_page(self._build_network()),
            "logs": self.add_page(self._build_logs()),
            "calibration": self.add_page(self._build_calibration()),
        }

    def _page(self) -> tuple[QWidget, QVBoxLayout, QLabel]:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        heading = self.fonts.add(label(TEXT, wrap=True), 21, bold=True)
        layout.addWidget(heading)
        return page, layout, heading

    def _build_menu(self) -> QWidget:
        page = QWidget()
        self.menu_grid = QGridLayout(page)
        self.menu_grid.setContentsMargins(0, 0, 0, 0)
        self.menu_grid.setSpacing(8)
        self.menu_buttons: dict[str, Any] = {}
        for name in SECTIONS:
            widget = self.fonts.add(button("normal"), 20, bold=True, height=2.6)
            widget.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
            widget.clicked.connect(lambda _=False, n=name: self.show_section(n))
            self.menu_buttons[name] = widget
        self.menu_lock = self.fonts.add(button(), 18, height=2.4)
        self.menu_lock.clicked.connect(self.lock)
        self._arrange_menu(portrait=False)
        return page

    def _arrange_menu(self, portrait: bool) -> None:
        columns = 2 if portrait else 3
        for widget in [*self.menu_buttons.values(), self.menu_lock]:
            self.menu_grid.removeWidget(widget)
        for i, name in enumerate(SECTIONS):
            self.menu_grid.addWidget(self.menu_buttons[name], i // columns, i % columns)
        rows = (len(SECTIONS) + columns - 1) // columns
        self.menu_grid.addWidget(self.menu_lock, rows, 0, 1, columns)
        for c in range(3):
            self.menu_grid.setColumnStretch(c, 1 if c < columns else 0)

    def relayout(self, portrait: bool) -> None:
        self._arrange_menu(portrait)
        self._arrange_pairs(self.identity_grid, self.identity_labels, portrait)
        self._arrange_pairs(self.network_grid, self.network_labels, portrait)

    @staticmethod
    def _arrange_pairs(grid: QGridLayout, pairs: dict[str, tuple[QLabel, QLabel]], portrait: bool) -> None:
        """Name and value side by side on a landscape screen, the value under its name on a portrait one."""
        for name, value in pairs.values():
            grid.removeWidget(name)
            grid.removeWidget(value)
        top = Qt.AlignmentFlag.AlignTop
        for i, (name, value) in enumerate(pairs.values()):
            if portrait:
                grid.addWidget(name, i * 2, 0, top)
                grid.addWidget(value, i * 2 + 1, 0, top)
            else:
                grid.addWidget(name, i, 0, top)
                grid.addWidget(value, i, 1, top)
        rows = grid.rowCount()
        for r in range(rows):
            grid.setRowStretch(r, 0)
        grid.setRowStretch(rows, 1)
        grid.setColumnStretch(0, 0 if not portrait else 1)
        grid.setColumnStretch(1, 0 if portrait else 1)
        grid.setVerticalSpacing(2 if portrait else 8)

    def _build_selftest(self) -> QWidget:
        page, layout, self.selftest_heading = self._page()
        row = QHBoxLayout()
        self.selftest_run = self.fonts.add(button("primary"), 18, height=2.4)
        self.selftest_run.clicked.connect(self.run_selftest)
        self.selftest_progress = QProgressBar()
        self.selftest_progress.setTextVisible(True)
        self.selftest_progress.setStyleSheet(_PROGRESS)
        self.fonts.add(self.selftest_progress, 16, height=1.8)
        row.addWidget(self.selftest_run)
        row.addWidget(self.selftest_progress, 1)
        layout.addLayout(row)
        self.selftest_status = self.fonts.add(label(AMBER), 16)
        layout.addWidget(self.selftest_status)
        inner = QWidget()
        self.selftest_list = QVBoxLayout(inner)
        self.selftest_list.setContentsMargins(0, 0, 0, 0)
        self.selftest_rows: dict[str, _Row] = {}
        for name in self._devices():
            r = _Row(self.fonts)
            self.selftest_rows[name] = r
            self.selftest_list.addWidget(r)
        self.selftest_none = self.fonts.add(label(MUTED), 17)
        self.selftest_list.addWidget(self.selftest_none)
        self.selftest_list.addStretch(1)
        layout.addWidget(_scrolled(inner), 1)
        return page

    def _build_identity(self) -> QWidget:
        page, layout, self.identity_heading = self._page()
        inner = QWidget()
        self.identity_grid = QGridLayout(inner)
        self.identity_grid.setContentsMargins(0, 0, 0, 0)
        self.identity_grid.setHorizontalSpacing(12)
        self.identity_labels: dict[str, tuple[QLabel, QLabel]] = {}
        for key in ("device", "site", "policy_site", "version", "host", "hub", "data_dir"):
            name = self.fonts.add(label(TEXT2, wrap=True), 17)
            value = self.fonts.add(label(TEXT, wrap=True), 19, bold=True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.identity_labels[key] = (name, value)
        layout.addWidget(_scrolled(inner), 1)
        return page

    def _build_trust(self) -> QWidget:
        page, layout, self.trust_heading = self._page()
        self.trust_status = self.fonts.add(label(AMBER), 16)
        layout.addWidget(self.trust_status)
        inner = QWidget()
        self.trust_list = QVBoxLayout(inner)
        self.trust_list.setContentsMargins(0, 0, 0, 0)
        self.trust_rows: list[_Row] = []
        self.trust_list.addStretch(1)
        layout.addWidget(_scrolled(inner), 1)
        row = QHBoxLayout()
        self.trust_import = self.fonts.add(button("primary"), 18, height=2.4)
        self.trust_import.clicked.connect(self.show_import)
        self.trust_refresh = self.fonts.add(button(), 18, height=2.4)
        self.trust_refresh.clicked.connect(self.load_trust)
        row.addWidget(self.trust_import, 1)
        row.addWidget(self.trust_refresh, 1)
        layout.addLayout(row)
        return page

    def _build_import(self) -> QWidget:
        page, layout, self.import_heading = self._page()
        self.import_hint = self.fonts.add(label(TEXT2), 16)
        layout.addWidget(self.import_hint)
        self.import_picker = DirectoryPicker(self.fonts, lambda: self.deps.usb_lister())
        layout.addWidget(self.import_picker, 1)
        self.import_progress = QProgressBar()
        self.import_progress.setStyleSheet(_PROGRESS)
        self.import_progress.setTextVisible(False)
        self.fonts.add(self.import_progress, 14, height=1.2)
        self.import_progress.hide()
        layout.addWidget(self.import_progress)
        self.import_result = Badge()
        self.fonts.add(self.import_result.word, 17, bold=True)
        self.import_status = self.fonts.add(label(TEXT2), 16)
        status_row = QHBoxLayout()
        status_row.addWidget(self.import_result, 0, Qt.AlignmentFlag.AlignTop)
        status_row.addWidget(self.import_status, 1)
        layout.addLayout(status_row)
        row = QHBoxLayout()
        self.import_go = self.fonts.add(button("primary"), 18, height=2.4)
        self.import_go.clicked.connect(self.run_import)
        self.import_back = self.fonts.add(button(), 18, height=2.4)
        self.import_back.clicked.connect(lambda: self.show_section("trust"))
        row.addWidget(self.import_go, 1)
        row.addWidget(self.import_back, 1)
        layout.addLayout(row)
        return page

    def _build_network(self) -> QWidget:
        page, layout, self.network_heading = self._page()
        self.network_online = _Row(self.fonts)
        layout.addWidget(self.network_online)
        inner = QWidget()
        self.network_grid = QGridLayout(inner)
        self.network_grid.setContentsMargins(0, 0, 0, 0)
        self.network_labels: dict[str, tuple[QLabel, QLabel]] = {}
        for key in ("last_success", "last_attempt", "last_error", "pending", "clock", "hub", "seqs"):
            name = self.fonts.add(label(TEXT2, wrap=True), 16)
            value = self.fonts.add(label(TEXT, wrap=True), 19, bold=True)
            self.network_labels[key] = (name, value)
        layout.addWidget(_scrolled(inner), 1)
        self.network_refresh = self.fonts.add(button(), 18, height=2.4)
        self.network_refresh.clicked.connect(self.load_network)
        layout.addWidget(self.network_refresh)
        return page

    def _build_logs(self) -> QWidget:
        page, layout, self.logs_heading = self._page()
        self.logs_source = self.fonts.add(label(TEXT2), 16)
        layout.addWidget(self.logs_source)
        self.logs_text = QPlainTextEdit()
        self.logs_text.setReadOnly(True)
        self.logs_text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.logs_text.setStyleSheet(
            f"QPlainTextEdit {{ color: {TEXT}; background: #0A1422; border: 1px solid {PANEL}; }}"
        )
        self.fonts.add(self.logs_text, 17, mono=True)
        layout.addWidget(self.logs_text, 1)
        self.logs_refresh = self.fonts.add(button(), 18, height=2.4)
        self.logs_refresh.clicked.connect(self.load_logs)
        layout.addWidget(self.logs_refresh)
        return page

    def _build_calibration(self) -> QWidget:
        page, layout, self.cal_heading = self._page()
        self.cal_current = self.fonts.add(label(TEXT2), 17)
        layout.addWidget(self.cal_current)
        self.cal_body = QGridLayout()
        self.cal_body.setSpacing(8)
        left = QVBoxLayout()
        self.cal_prompt = self.fonts.add(label(TEXT), 17, bold=True)
        self.cal_reference = line_edit(6)
        self.cal_reference.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.fonts.add(self.cal_reference, 24, bold=True, height=1.7)
        self.cal_keypad = Keypad(".", "back")
        for widget in self.cal_keypad.keys.values():
            self.fonts.add(widget, 20, height=1.8)
        self.cal_keypad.key_pressed.connect(self._cal_key)
        left.addWidget(self.cal_prompt)
        left.addWidget(self.cal_reference)
        left.addWidget(self.cal_keypad, 1)
        self.cal_left = QWidget()
        self.cal_left.setLayout(left)
        right = QVBoxLayout()
        self.cal_measure = self.fonts.add(button("primary"), 18, height=2.4)
        self.cal_measure.clicked.connect(self.measure)
        self.cal_progress = QProgressBar()
        self.cal_progress.setStyleSheet(_PROGRESS)
        self.fonts.add(self.cal_progress, 15, height=1.6)
        self.cal_badge = Badge()
        self.fonts.add(self.cal_badge.word, 17, bold=True)
        self.cal_result = self.fonts.add(label(TEXT), 18, bold=True)
        self.cal_detail = self.fonts.add(label(TEXT2), 15)
        self.cal_save = self.fonts.add(button("pass"), 18, height=2.4)
        self.cal_save.clicked.connect(self.ask_save)
        self.cal_confirm = self.fonts.add(label(AMBER), 17, bold=True)
        self.cal_yes = self.fonts.add(button("warning"), 18, height=2.4)
        self.cal_yes.clicked.connect(self.save)
        self.cal_no = self.fonts.add(button(), 18, height=2.4)
        self.cal_no.clicked.connect(self.cancel_save)
        confirm_row = QHBoxLayout()
        confirm_row.addWidget(self.cal_yes, 1)
        confirm_row.addWidget(self.cal_no, 1)
        self.cal_status = self.fonts.add(label(AMBER), 16)
        self.cal_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        right.addWidget(self.cal_measure)
        right.addWidget(self.cal_progress)
        badge_row = QHBoxLayout()
        badge_row.addWidget(self.cal_badge, 0, Qt.AlignmentFlag.AlignTop)
        badge_row.addWidget(self.cal_result, 1)
        right.addLayout(badge_row)
        right.addWidget(self.cal_detail)
        right.addWidget(self.cal_save)
        right.addWidget(self.cal_confirm)
        right.addLayout(confirm_row)
        right.addWidget(self.cal_status)
        right.addStretch(1)
        self.cal_right = QWidget()
        self.cal_right.setLayout(right)
        self.cal_body.addWidget(self.cal_left, 0, 0)
        self.cal_body.addWidget(self.cal_right, 0, 1)
        layout.addLayout(self.cal_body, 1)
        self._cal_confirming = False
        return page

    # --- navigation ---

    def on_unlocked(self) -> None:
        self.pages.setCurrentWidget(self.menu_page)

    def on_locked(self) -> None:
        self.cal_reference.clear()
        self._cal_confirming = False

    def show_menu(self) -> None:
        if self.unlocked:
            self.pages.setCurrentWidget(self.menu_page)
            self.retranslate()

    def show_section(self, name: str) -> None:
        if not self.unlocked:
            return
        self.pages.setCurrentWidget(self.section_pages[name])
        if name == "trust":
            self.load_trust()
        elif name == "network":
            self.load_network()
        elif name == "logs":
            self.load_logs()
        elif name == "import":
            self.import_picker.refresh()
        self.retranslate()

    def section(self) -> str | None:
        current = self.pages.currentWidget()
        return next((n for n, p in self.section_pages.items() if p is current), None)

    def show_import(self) -> None:
        self.show_section("import")

    def go_back(self) -> None:
        section = self.section()
        if section == "import":
            self.show_section("trust")
        elif section is not None:
            self.show_menu()
        else:
            self.leave()

    # --- self-test ---

    def _devices(self) -> list[str]:
        from kiosk.selftest import SELFTESTS

        devices = self.deps.devices
        if devices is None:
            return []
        return [name for name in SELFTESTS if getattr(devices, name, None) is not None]

    def run_selftest(self) -> None:
        if self.selftest_worker.running or not self.selftest_rows:
            return
        self.selftest_results = {}
        self.selftest_current = None
        self.selftest_progress.setRange(0, len(self.selftest_rows))
        self.selftest_progress.setValue(0)
        self.selftest_run.setEnabled(False)
        self.selftest_worker.start([(n, getattr(self.deps.devices, n)) for n in self.selftest_rows])
        self.retranslate()

    def _selftest_work(self, progress: Callable, devices: list[tuple[str, Any]]) -> dict:
        for name, config in devices:
            progress(("start", name, None))
            try:
                result = self.deps.selftest(name, config, getattr(self.deps.hardware, name, None))
            except Exception as exc:  # reported as a failed device, as kiosk.selftest does
                result = {"name": name, "status": "failed", "detail": f"{type(exc).__name__}: {exc}"}
            progress(("done", name, result))
        return {}

    def _selftest_progress(self, value: tuple) -> None:
        what, name, result = value
        if what == "start":
            self.selftest_current = name
        else:
            self.selftest_results[name] = result
            self.selftest_current = None
            self.selftest_progress.setValue(len(self.selftest_results))
        self._render_selftest()

    def _selftest_done(self, result: Any) -> None:
        self.selftest_run.setEnabled(True)
        self.selftest_current = None
        if isinstance(result, Exception):
            self.say("selftest", "tech.failed", why=str(result))
        self._render_selftest()

    def _render_selftest(self) -> None:
        t = self.t
        health = {}
        hw = self.deps.hardware
        if hw is not None:
            try:
                health = hw.health()
            except Exception:
                health = {}
        running = self.selftest_worker.running
        for name, row in self.selftest_rows.items():
            result = self.selftest_results.get(name)
            live = health.get(name)
            live_text = ""
            if live is not None:
                state = str(getattr(live, "state", live))
                live_text = t(
                    "tech.live",
                    state=t(f"tech.status.{state}") if self.texts.has(f"tech.status.{state}") else state,
                )
                reason = getattr(live, "reason", "")
                if reason:
                    live_text += f" ({reason})"
            device = self._device(name)
            if result is not None:
                status = str(result.get("status", "failed"))
                level = STATUS_LEVEL.get(status, "bad")
                word = t(f"tech.status.{status}") if status in STATUS_LEVEL else status
                detail = str(result.get("detail", ""))
                row.set(device, level, word, "\n".join(x for x in (detail, live_text) if x))
            elif name == self.selftest_current:
                row.set(device, "busy", t("tech.testing"), live_text)
            elif running:
                row.set(device, "idle", t("tech.waiting"), live_text)
            else:
                row.set(device, "idle", t("tech.not_run"), live_text)
        self.selftest_none.setVisible(not self.selftest_rows)
        done = len(self.selftest_results)
        total = len(self.selftest_rows)
        self.selftest_progress.setFormat(t("tech.progress", done=done, total=total))
        if running:
            name = self.selftest_current
            extra = t("tech.testing_device", device=self._device(name)) if name else ""
            self.selftest_status.setText(extra)
        elif self.said("selftest"):
            self.selftest_status.setText(self.said("selftest"))
        elif total and done == total:
            bad = [n for n, r in self.selftest_results.items() if r.get("status") != "ok"]
            self.selftest_status.setText(
                t("tech.all_ok", n=total)
                if not bad
                else t("tech.not_ok", devices=self._sep().join(self._device(n) for n in bad))
            )
        else:
            self.selftest_status.setText(t("tech.selftest_hint"))

    def _device(self, name: str) -> str:
        text = self.texts.device(name, self.language)
        return text[:1].upper() + text[1:]

    def _sep(self) -> str:
        return "、" if self.language == "zh" else ", "

    # --- identity ---

    def _render_identity(self) -> None:
        t = self.t
        try:
            ident = sources.read_identity(self.deps.data_dir, getattr(self.deps.policy, "site", ""))
        except Exception as exc:
            self.identity_labels["device"][1].setText(t("tech.failed", why=str(exc)))
            return
        hub = t("tech.not_enrolled")
        if ident.hub_url:
            hub = ident.hub_url + (f" ({ident.hub_device_id})" if ident.hub_device_id else "")
        values = {
            "device": ident.device_id or t("tech.not_provisioned"),
            "site": ident.site or t("tech.not_set"),
            "policy_site": ident.policy_site or t("tech.not_set"),
            "version": ident.version,
            "host": ident.host or "—",
            "hub": hub,
            "data_dir": ident.data_dir,
        }
        for key, (name, value) in self.identity_labels.items():
            name.setText(t(f"tech.id.{key}"))
            value.setText(values[key])

    # --- trust ---

    def load_trust(self) -> None:
        if self.trust_worker.start():
            self.trust_error = ""
            self.trust_refresh.setEnabled(False)

    def _trust_work(self, progress: Callable) -> list[sources.TrustRow]:
        p = self.deps.policy
        return self.deps.trust(
            self.deps.data_dir, self.deps.clock(), p.trust_warn_age_hours, p.trust_max_age_hours
        )

    def _trust_done(self, result: Any) -> None:
        self.trust_refresh.setEnabled(True)
        if isinstance(result, Exception):
            self.trust, self.trust_error = [], f"{type(result).__name__}: {result}"
        else:
            self.trust, self.trust_error = result, ""
        self._render_trust()

    def _render_trust(self) -> None:
        t = self.t
        rows = self.trust or []
        while len(self.trust_rows) < len(rows):
            r = _Row(self.fonts)
            self.trust_list.insertWidget(len(self.trust_rows), r)
            self.trust_rows.append(r)
        now = self.deps.clock()
        for i, r in enumerate(self.trust_rows):
            r.setVisible(i < len(rows))
            if i >= len(rows):
                continue
            row = rows[i]
            level = FRESH_LEVEL[row.freshness]
            word = t(f"tech.fresh.{row.freshness}")
            if row.error:
                r.set(row.name, level, word, row.error)
                continue
            detail = t(
                "tech.trust_detail",
                entries=row.entries if row.entries is not None else "—",
                seq=row.seq if row.seq is not None else "—",
                signed=_fmt_time(row.signed_at, self.tz, "—"),
                age=f"{row.age_hours:.1f}" if row.age_hours is not None else "—",
                until=_fmt_time(row.valid_until, self.tz, "—"),
            )
            if row.valid_until is not None and now > row.valid_until:
                detail += "\n" + t("tech.expired")
            r.set(row.name, level, word, detail)
        if self.trust_worker.running:
            self.trust_status.setText(t("tech.loading"))
        elif self.trust_error:
            self.trust_status.setText(t("tech.failed", why=self.trust_error))
        elif self.trust is not None and not rows:
            self.trust_status.setText(t("tech.trust_none"))
        else:
            self.trust_status.setText("")
        self.trust_status.setVisible(bool(self.trust_status.text()))

    # --- import from USB ---

    def run_import(self) -> None:
        if self.import_worker.running:
            return
        directory = self.import_picker.path()
        if directory is None:
            self.say("import", "usb.choose")
            self.retranslate()
            return
        self.import_steps = []
        self.say("import", "tech.importing", path=str(directory))
        self.import_go.setEnabled(False)
        self.import_progress.setRange(0, 0)  # busy
        self.import_progress.show()
        self.import_worker.start(directory)
        self.retranslate()

    def _audit(self, action: str, reason: str, detail: dict) -> None:
        """Record a technician's change in the store's audit log (beside the guard's actions)."""
        if self.deps.store is not None:
            self.deps.store.audit("technician", action, reason, detail, now=self.deps.clock())

    def _import_work(self, progress: Callable, directory: Path) -> list:
        progress(("checking", str(directory)))
        self._audit("trust.import", "trust lists imported from USB", {"path": str(directory)})
        try:
            steps = self.deps.import_trust(directory, self.deps.data_dir)
        except Exception as exc:
            self._audit("trust.import_failed", str(exc)[:500] or type(exc).__name__, {"path": str(directory)})
            raise
        reloaded = False
        if self.deps.trust_reload is not None:
            progress(("reloading", ""))
            self.deps.trust_reload()
            reloaded = True
        return [steps, reloaded]

    def _import_progress(self, value: tuple) -> None:
        what, _ = value
        if what == "reloading":
            self.say("import", "tech.reloading")
            self.retranslate()

    def _import_done(self, result: Any) -> None:
        self.import_go.setEnabled(True)
        self.import_progress.hide()
        if isinstance(result, Exception):
            self.import_steps = []
            self.say("import", "tech.import_failed", why=str(result))
        else:
            steps, reloaded = result
            self.import_steps = steps
            self.say("import", "tech.imported_live" if reloaded else "tech.imported_restart")
        self.retranslate()

    def _render_import(self) -> None:
        t = self.t
        msg = self._messages.get("import", ("", {}))[0]
        if self.import_worker.running:
            self.import_result.set("busy", t("tech.working"))
        elif msg.startswith("tech.imported"):
            self.import_result.set("ok", t("tech.done"))
        elif msg in ("tech.import_failed",):
            self.import_result.set("bad", t("tech.status.failed"))
        else:
            self.import_result.set("idle", "—")
        self.import_result.setVisible(self.import_result.level != "idle")
        lines = [self.said("import")] if self.said("import") else []
        for step, state, detail in self.import_steps:
            lines.append(f"{'✓' if state == 'ok' else '–'} {step}: {detail}")
        self.import_status.setText("\n".join(lines))

    # --- network and sync ---

    def load_network(self) -> None:
        try:
            self.sync = self.deps.sync_state(self.deps.data_dir)
        except Exception as exc:
            self.sync = sources.SyncState(present=True, error=str(exc))
        self._render_network()

    def _render_network(self) -> None:
        t = self.t
        s = self.sync or sources.SyncState()
        never = t("status.never")
        if not s.present:
            self.network_online.set(
                t("tech.net.state"), "warning", t("status.offline"), t("tech.net.no_state")
            )
        elif s.error:
            self.network_online.set(t("tech.net.state"), "bad", t("tech.status.failed"), s.error)
        elif s.online:
            self.network_online.set(t("tech.net.state"), "ok", t("status.online"), "")
        else:
            self.network_online.set(t("tech.net.state"), "warning", t("status.offline"), "")
        pending = s.pending
        if pending is None and self.deps.store is not None:
            try:
                pending = self.deps.store.pending()
            except Exception:
                pending = None
        if s.clock_offset is None:
            clock = "—"
        elif abs(s.clock_offset) < 2:
            clock = t("tech.net.clock_ok", s=f"{s.clock_offset:+.1f}")
        elif s.clock_offset > 0:
            clock = t("tech.net.clock_behind", s=f"{s.clock_offset:.0f}")
        else:
            clock = t("tech.net.clock_ahead", s=f"{-s.clock_offset:.0f}")
        ident = sources.read_identity(self.deps.data_dir)
        seqs = " · ".join(
            f"{name} {value}"
            for name, value in (
                ("bundle", s.bundle_seq),
                ("status list", s.status_list_seq),
                ("policy", s.policy_seq),
            )
            if value is not None
        )
        values = {
            "last_success": _fmt_time(s.last_success, self.tz, never),
            "last_attempt": _fmt_time(s.last_attempt, self.tz, never),
            "last_error": s.last_error or "—",
            "pending": str(pending) if pending is not None else "—",
            "clock": clock,
            "hub": ident.hub_url or t("tech.not_enrolled"),
            "seqs": seqs or "—",
        }
        for key, (name, value) in self.network_labels.items():
            name.setText(t(f"tech.net.{key}"))
            value.setText(values[key])

    # --- logs ---

    def load_logs(self) -> None:
        if self.log_worker.start():
            self.logs_refresh.setEnabled(False)
            self._render_logs()

    def _log_work(self, progress: Callable) -> tuple[str, list[str]]:
        lines = None
        try:
            lines = self.deps.journal()
        except Exception:
            lines = None
        if lines is not None:
            return "journal", lines
        events = self.deps.events
        return "memory", events.since(LOG_SECONDS) if events is not None else []

    def _log_done(self, result: Any) -> None:
        self.logs_refresh.setEnabled(True)
        if isinstance(result, Exception):
            self.log_source, self.log_lines = "error", [str(result)]
        else:
            self.log_source, self.log_lines = result
        text = "\n".join(self.log_lines)
        if self.logs_text.toPlainText() != text:
            self.logs_text.setPlainText(text)
            bar = self.logs_text.verticalScrollBar()
            bar.setValue(bar.maximum())  # newest at the bottom, in view
        self._render_logs()

    def _render_logs(self) -> None:
        t = self.t
        if self.log_worker.running:
            self.logs_source.setText(t("tech.loading"))
        elif self.log_source == "journal":
            self.logs_source.setText(t("tech.logs.journal", n=len(self.log_lines)))
        elif self.log_source == "memory":
            self.logs_source.setText(t("tech.logs.memory", n=len(self.log_lines)))
        elif self.log_source == "error":
            self.logs_source.setText(t("tech.failed", why=""))
        if self.log_source and not self.log_lines:
            self.logs_text.setPlaceholderText(t("tech.logs.empty"))

    # --- calibration ---

    def _thermometer(self) -> Any:
        hw = self.deps.hardware
        return getattr(hw, "thermometer", None) if hw is not None else None

    def _thermometer_config(self) -> Any:
        devices = self.deps.devices
        return getattr(devices, "thermometer", None) if devices is not None else None

    def _cal_key(self, key: str) -> None:
        if key == "back":
            self.cal_reference.backspace()
        elif key == "." and "." in self.cal_reference.text():
            return
        else:
            self.cal_reference.insert(key)

    def measure(self) -> None:
        if self.measure_worker.running or self.save_worker.running:
            return
        thermometer, config = self._thermometer(), self._thermometer_config()
        self._cal_confirming = False
        if thermometer is None or config is None:
            self.say("cal", "tech.cal.no_thermometer")
        elif config.model != "offset":
            self.say("cal", "tech.cal.model", model=config.model)
        else:
            try:
                reference = sources.parse_reference(self.cal_reference.text())
            except sources.CalibrationError:
                self.say("cal", "tech.cal.bad_reference", lo="34", hi="42")
            else:
                self.calibration = None
                self.calibration_readings = []
                self.say("cal", "tech.cal.measuring")
                self.cal_progress.setRange(0, self.deps.readings)
                self.cal_progress.setValue(0)
                self.measure_worker.start(thermometer, reference, config.offset, self.deps.readings)
        self.retranslate()

    def _measure_work(self, progress: Callable, thermometer: Any, reference: float, offset: float, n: int):
        skins: list[float] = []
        failures = 0
        while len(skins) < n and failures < n:
            reading = thermometer.measure()
            skin = getattr(reading, "skin", None)
            if str(getattr(reading, "status", "")) == "ok" and skin is not None:
                skins.append(float(skin))
                progress(("reading", len(skins), f"{skin:.2f}"))
            else:
                failures += 1
                progress(("miss", len(skins), str(getattr(reading, "status", "?"))))
        return sources.calibrate_offset(reference, skins, offset)

    def _measure_progress(self, value: tuple) -> None:
        what, count, text = value
        self.cal_progress.setValue(count)
        self.calibration_readings.append(text if what == "reading" else f"({text})")
        self._render_calibration()

    def _measure_done(self, result: Any) -> None:
        if isinstance(result, Exception):
            self.calibration = None
            self.say("cal", "tech.cal.failed", why=str(result))
        else:
            self.calibration = result
            self.say("cal", "tech.cal.ready" if result.steady else "tech.cal.unsteady")
        self.retranslate()

    def ask_save(self) -> None:
        if self.calibration is None or self.measure_worker.running:
            return
        if self.deps.devices_path is None:
            self.say("cal", "tech.cal.no_file", line=f"offset = {self.calibration.new_offset:.2f}")
        else:
            self._cal_confirming = True
            self.say("cal")
        self.retranslate()

    def cancel_save(self) -> None:
        self._cal_confirming = False
        self.say("cal", "tech.cal.cancelled")
        self.retranslate()

    def save(self) -> None:
        if not self._cal_confirming or self.calibration is None or self.save_worker.running:
            return
        self._cal_confirming = False
        self.say("cal", "tech.cal.saving")
        self.save_worker.start(Path(self.deps.devices_path), self.calibration.new_offset)
        self.retranslate()

    def _save_work(self, progress: Callable, path: Path, offset: float) -> tuple[Path, bool]:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        new = sources.with_thermometer_offset(text, offset)
        c = self.calibration
        detail = {"path": str(path), "new_offset": round(offset, 3)}
        if c is not None:
            detail.update(old_offset=round(c.old_offset, 3), reference=c.reference, skin=round(c.skin, 3))
        self._audit("calibration.save", "thermometer calibrated against a reference reading", detail)
        self.deps.write_config(path, new)
        setter = getattr(self._thermometer(), "set_offset", None)
        live = False
        if setter is not None:
            setter(offset)
            live = True
        config = self._thermometer_config()
        if config is not None:
            config.offset = offset  # what this screen shows as the current offset
        return path, live

    def _save_done(self, result: Any) -> None:
        line = f"offset = {self.calibration.new_offset:.2f}" if self.calibration else ""
        if isinstance(result, PermissionError) or (isinstance(result, OSError) and result.errno in (13, 30)):
            self.say("cal", "tech.cal.read_only", path=str(self.deps.devices_path), line=line)
        elif isinstance(result, Exception):
            self.say("cal", "tech.cal.save_failed", why=str(result), line=line)
        else:
            path, live = result
            self.saved_path = path
            self.say("cal", "tech.cal.saved_live" if live else "tech.cal.saved_restart", path=str(path))
        self.retranslate()

    def _render_calibration(self) -> None:
        t = self.t
        config = self._thermometer_config()
        if config is None or self._thermometer() is None:
            self.cal_current.setText(t("tech.cal.no_thermometer"))
        elif config.model != "offset":
            self.cal_current.setText(t("tech.cal.model", model=config.model))
        else:
            where = str(self.deps.devices_path) if self.deps.devices_path else t("tech.cal.defaults")
            self.cal_current.setText(t("tech.cal.current", offset=f"{config.offset:+.2f}", path=where))
        self.cal_prompt.setText(t("tech.cal.prompt"))
        self.cal_reference.setPlaceholderText("36.8")
        self.cal_measure.setText(t("tech.cal.measure", n=self.deps.readings))
        measuring = self.measure_worker.running
        self.cal_measure.setEnabled(not measuring and not self.save_worker.running)
        self.cal_progress.setVisible(measuring or bool(self.calibration_readings))
        self.cal_progress.setFormat(t("tech.progress", done="%v", total="%m"))
        c = self.calibration
        if measuring:
            self.cal_badge.set("busy", t("tech.working"))
            self.cal_result.setText(t("tech.cal.measuring"))
        elif c is not None:
            self.cal_badge.set(
                "ok" if c.steady else "warning",
                t("tech.cal.steady" if c.steady else "tech.cal.unsteady_word"),
            )
            self.cal_result.setText(
                t("tech.cal.result", new=f"{c.new_offset:+.2f}", old=f"{c.old_offset:+.2f}")
            )
        else:
            self.cal_badge.set("idle", "—")
            self.cal_result.setText("")
        self.cal_badge.setVisible(self.cal_badge.level != "idle")
        detail = ""
        if c is not None:
            detail = t(
                "tech.cal.detail",
                ref=f"{c.reference:.1f}",
                skin=f"{c.skin:.2f}",
                spread=f"{c.spread:.2f}",
                n=len(c.skins),
            )
        elif self.calibration_readings:
            detail = "  ".join(self.calibration_readings)
        self.cal_detail.setText(detail)
        self.cal_save.setText(t("tech.cal.save"))
        self.cal_save.setVisible(c is not None and not self._cal_confirming)
        self.cal_save.setEnabled(not self.save_worker.running)
        self.cal_confirm.setVisible(self._cal_confirming)
        self.cal_yes.setVisible(self._cal_confirming)
        self.cal_no.setVisible(self._cal_confirming)
        if c is not None:
            self.cal_confirm.setText(
                t("tech.cal.confirm", offset=f"{c.new_offset:+.2f}", path=str(self.deps.devices_path))
            )
        self.cal_yes.setText(t("tech.cal.yes"))
        self.cal_no.setText(t("guard.cancel"))
        self.show_said("cal", self.cal_status)

    def relayout_calibration(self, portrait: bool) -> None:
        self.cal_body.removeWidget(self.cal_left)
        self.cal_body.removeWidget(self.cal_right)
        if portrait:
            self.cal_body.addWidget(self.cal_left, 0, 0)
            self.cal_body.addWidget(self.cal_right, 1, 0)
        else:
            self.cal_body.addWidget(self.cal_left, 0, 0)
            self.cal_body.addWidget(self.cal_right, 0, 1)

    # --- rendering ---

    def _tick(self) -> None:
        if not self.isVisible():
            return
        if not self.unlocked:
            self.tick_pin()
        elif self.section() == "selftest" and self.selftest_worker.running:
            self._render_selftest()

    def retranslate_pages(self) -> None:
        t = self.t
        in_section = self.section() is not None
        self.menu_button.setText(t("tech.menu"))
        self.menu_button.setVisible(in_section)
        for name, widget in self.menu_buttons.items():
            widget.setText(t(f"tech.section.{name}"))
        self.menu_lock.setText(t("guard.lock"))
        self.selftest_heading.setText(t("tech.section.selftest"))
        self.selftest_run.setText(t("tech.run"))
        self.selftest_none.setText(t("tech.no_devices"))
        self.identity_heading.setText(t("tech.section.identity"))
        self.trust_heading.setText(t("tech.section.trust"))
        self.trust_import.setText(t("tech.import"))
        self.trust_refresh.setText(t("usb.refresh"))
        self.import_heading.setText(t("tech.import_title"))
        self.import_hint.setText(t("tech.import_hint"))
        self.import_picker.empty.setText(t("usb.none"))
        self.import_picker.refresh_button.setText(t("usb.refresh"))
        self.import_picker.path_edit.setPlaceholderText(t("usb.path_hint"))
        self.import_go.setText(t("tech.import_go"))
        self.import_back.setText(t("guard.back"))
        self.network_heading.setText(t("tech.section.network"))
        self.network_refresh.setText(t("usb.refresh"))
        self.logs_heading.setText(t("tech.section.logs"))
        self.logs_refresh.setText(t("usb.refresh"))
        self.cal_heading.setText(t("tech.section.calibration"))
        self._render_selftest()
        self._render_identity()
        self._render_trust()
        self._render_import()
        if self.sync is not None:
            self._render_network()
        self._render_logs()
        self._render_calibration()

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        before = self._portrait
        super().resizeEvent(event)
        if self._portrait != before:
            self.relayout_calibration(bool(self._portrait))
        side = round(22 * self.fonts.scale)
        for badge in self.findChildren(Badge):
            badge.resize_symbol(side)


_PROGRESS = (
    f"QProgressBar {{ color: {TEXT}; background: {PANEL}; border: 1px solid #33507A; border-radius: 6px;"
    f" text-align: center; }} QProgressBar::chunk {{ background: #1F7FB5; border-radius: 5px; }}"
)


def _zone(name: str | None) -> Any:
    if not name:
        return None
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except Exception:
        return None
