"""The guard console: behind a PIN, today's counts, the recent decisions, alarms and the hand actions.

Opened from the kiosk window by a long press on the status strip or F12 (kiosk/ui/app.py). The PIN is
checked against a PBKDF2-SHA256 hash (`hash_pin` makes one: `pbkdf2_sha256$<iterations>$<salt hex>$<hex>`);
five wrong PINs lock the entry for 60 s. Hand actions (`GuardActions`), each needing a reason and each
written to the store's audit log before it acts:

- open the gate by hand (`gate.manual_open`);
- decide a referred visit (amber): let it pass (`override.pass`, the gate opens) or refuse it
  (`override.deny`), through the checkpoint's `override()` when it has one;
- silence the alarm (`alarm.silence`): the buzzer stops and the alarms shown are acknowledged;
- export today as CSV to a USB stick (`export`, recorded by `RegistrationStore.export_day`).

Alarms (door held open or forced, a failed device) show in a banner above every page with colour, a
symbol and words. Only masked names and ID numbers are shown; reasons are in plain words
(kiosk/ui/strings.py), in the chosen language. The layout follows the window: one row of buttons on a
landscape screen, two on a portrait one.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QBoxLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiosk.app.alarms import Alarm, AlarmBoard
from kiosk.ui.console import (
    ACCENT,
    AMBER,
    DARK,
    GREEN,
    LOCKOUT_SECONDS,
    MAX_TRIES,
    MUTED,
    PANEL,
    PIN_ITERATIONS,
    RED,
    TEXT,
    TEXT2,
    ConsoleScreen,
    DirectoryPicker,
    PinGate,
    Worker,
    button,
    check_pin,
    hash_pin,
    label,
    line_edit,
)
from kiosk.ui.sources import export_file_name, usb_directories
from kiosk.ui.strings import Texts
from kiosk.ui.traveller import Symbol

__all__ = [
    "LOCKOUT_SECONDS",
    "MAX_TRIES",
    "PIN_ITERATIONS",
    "GuardActions",
    "GuardConsole",
    "PinGate",
    "check_pin",
    "hash_pin",
]

RECENT = 20
DECISION_MSG = {"pass": "guard.passed", "deny": "guard.denied", "refer": "guard.referred"}
DECISION_COLOUR = {"pass": GREEN, "deny": RED, "refer": AMBER}
OVERRIDES = ("pass", "deny")


# --- hand actions ---


class GuardActions:
    """What the console's buttons do: audit durably first, then act.

    `store` is the RegistrationStore (`audit(actor, action, reason, detail)`); `gpio` is the hardware's
    GateIO (or None on a kiosk without gate I/O); `checkpoint` (optional) takes overrides of referred
    visits through its `override(seq, decision, reason)` when it has one; `alarms` (optional) is the
    AlarmBoard the console shows; `emit` gets a JSON-able line like the loop's actions.
    """

    def __init__(
        self,
        store: Any,
        gpio: Any,
        *,
        actor: str = "guard",
        emit: Callable[[dict], None] | None = None,
        checkpoint: Any = None,
        alarms: AlarmBoard | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.store = store
        self.clock = clock
        self.gpio = gpio
        self.actor = actor
        self.emit = emit or (lambda line: None)
        self.checkpoint = checkpoint
        self.alarms = alarms

    @staticmethod
    def _reason(reason: str) -> str:
        reason = (reason or "").strip()
        if not reason:
            raise ValueError("a reason is required")
        return reason

    def manual_open(self, reason: str) -> bool:
        """Open the gate by hand. Raises ValueError without a reason; False when the relay did not open."""
        reason = self._reason(reason)
        self.store.audit(
            self.actor, "gate.manual_open", reason, {"gpio": self.gpio is not None}, now=self.clock()
        )
        opened = bool(self.gpio.pulse_gate()) if self.gpio is not None else False
        self.emit({"type": "guard", "action": "gate.manual_open", "reason": reason, "opened": opened})
        return opened

    def silence(self, reason: str) -> None:
        reason = self._reason(reason)
        sounding = getattr(self.gpio, "sounding", None) if self.gpio is not None else None
        detail: dict[str, Any] = {"sounding": sounding}
        shown = self.alarms.alarms() if self.alarms is not None else ()
        if shown:
            detail["alarms"] = [f"{a.kind}:{a.device}" for a in shown]
        self.store.audit(self.actor, "alarm.silence", reason, detail, now=self.clock())
        if self.gpio is not None:
            self.gpio.silence()
        if self.alarms is not None:
            self.alarms.silence()
        self.emit({"type": "guard", "action": "alarm.silence", "reason": reason})

    def override(self, seq: int, decision: str, reason: str) -> bool:
        """Decide a referred visit by hand: `decision` is "pass" or "deny". Audited (override.pass /
        override.deny with the visit's seq) before anything moves. With a checkpoint that has
        `override()`, the loop shows and acts on it; without, a pass pulses the gate here and a refusal
        leaves it shut. Returns False when a pass did not open the gate."""
        reason = self._reason(reason)
        if decision not in OVERRIDES:
            raise ValueError(f"decision must be pass or deny, not {decision!r}")
        registration = self.store.get(seq)
        if registration is None or registration.decision != "refer":
            raise ValueError(f"visit {seq} is not a referred visit")
        hook = getattr(self.checkpoint, "override", None)
        self.store.audit(
            self.actor,
            f"override.{decision}",
            reason,
            {"seq": seq, "was": "refer", "via": "checkpoint" if hook is not None else "console"},
            now=self.clock(),
        )
        if hook is not None:
            hook(seq, decision, reason)
            done = True
        elif decision == "pass":
            done = bool(self.gpio.pulse_gate()) if self.gpio is not None else False
        else:
            done = True  # the gate stays shut; the audit entry is the record
        self.emit(
            {"type": "guard", "action": f"override.{decision}", "seq": seq, "reason": reason, "done": done}
        )
        return done

    def export_today(self, directory: str | Path, reason: str, now: float | None = None) -> tuple[Path, Any]:
        """Today's registrations as CSV in `directory` (e.g. a USB stick); audited by the store.
        Returns (file, counts). OSError when the directory cannot be written."""
        reason = self._reason(reason)
        directory = Path(directory)
        if not directory.is_dir():
            raise FileNotFoundError(2, "No such directory", str(directory))
        day = self.store.today(now)
        path = directory / export_file_name(self.store.device_id, day)
        counts = self.store.export_day(day, "csv", path, actor=self.actor, reason=reason)
        self.emit({"type": "guard", "action": "export", "day": day, "rows": counts.total, "file": str(path)})
        return path, counts


# --- the console widget ---


class _OutlineSelection(QStyledItemDelegate):
    """The selected row is outlined, not filled: the decision's colour stays visible."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Any) -> None:
        if not option.state & QStyle.StateFlag.State_Selected:
            super().paint(painter, option, index)
            return
        plain = QStyleOptionViewItem(option)
        plain.state &= ~QStyle.StateFlag.State_Selected
        super().paint(painter, plain, index)
        painter.save()
        pen = QPen(QColor(ACCENT), 3)
        painter.setPen(pen)
        r = option.rect.adjusted(0, 1, 0, -2)
        painter.drawLine(r.topLeft(), r.topRight())
        painter.drawLine(r.bottomLeft(), r.bottomRight())
        if index.column() == 0:
            painter.drawLine(r.topLeft(), r.bottomLeft())
        if index.column() == index.model().columnCount() - 1:
            painter.drawLine(r.topRight(), r.bottomRight())
        painter.restore()


class AlarmBanner(QFrame):
    """Every alarm shown, one line each: a drawn symbol, words and colour (red until silenced)."""

    def __init__(self, console: GuardConsole):
        super().__init__()
        self.console = console
        self.setObjectName("alarms")
        self.symbol = Symbol("bang")
        self.text = console.fonts.add(label(TEXT), 20, bold=True)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        row.addWidget(self.symbol)
        row.addWidget(self.text, 1)
        self.level = ""
        self.hide()

    def show_alarms(self, alarms: tuple[Alarm, ...]) -> None:
        c = self.console
        if not alarms:
            self.setVisible(False)
            return
        lines = []
        for a in alarms:
            when = dt.datetime.fromtimestamp(a.since, c.tz).strftime("%H:%M")
            if a.kind == "device.failed":
                what = c.t("alarm.device", device=c.texts.device(a.device, c.language))
            else:
                what = c.t(f"alarm.{a.kind}") if c.texts.has(f"alarm.{a.kind}") else a.kind
            state = c.t("alarm.silenced") if a.silenced else c.t("alarm.since", time=when)
            if not a.active:
                state = c.t("alarm.ended")
            lines.append(f"{what} — {state}")
        loud = any(not a.silenced for a in alarms)
        level = "bad" if loud else "warning"
        bg, fg = (RED, TEXT) if loud else (AMBER, DARK)
        self.setStyleSheet(f"#alarms {{ background: {bg}; border-radius: 8px; }}")
        self.text.setStyleSheet(f"color: {fg}; background: transparent;")
        self.symbol.set_symbol("bang", QColor(fg), QColor(bg))
        side = round(26 * c.fonts.scale)
        self.symbol.setFixedSize(side, side)
        self.text.setText("\n".join(lines))
        self.level = level
        self.setVisible(True)


class GuardConsole(ConsoleScreen):
    """PIN page, the console page and the export page. `technician_requested` asks the window for the
    technician screens (their own PIN)."""

    TITLE = "guard.title"
    PIN_PROMPT = "guard.pin_prompt"
    NO_PIN = "guard.no_pin"
    technician_requested = Signal()

    def __init__(
        self,
        store: Any,
        actions: GuardActions,
        pin_hash: str | None,
        *,
        language: str = "zh",
        texts_: Texts | None = None,
        pin_clock: Callable[[], float] = time.monotonic,
        clock: Callable[[], float] = time.time,
        refresh_ms: int = 2000,
        usb_lister: Callable[[], list[Path]] = usb_directories,
        parent: QWidget | None = None,
    ):
        self.store = store
        self.actions = actions
        self.clock = clock
        self.tz = getattr(store, "tz", None)
        self.usb_lister = usb_lister
        self.rows: list[Any] = []
        self.overridden: dict[int, str] = {}
        self._alarms: tuple[Alarm, ...] = ()
        super().__init__(
            pin_hash,
            language=language,
            texts_=texts_,
            pin_clock=pin_clock,
            object_name="guard",
            parent=parent,
        )
        self.export_worker = Worker(self._export_work, self)
        self.export_worker.done.connect(self._exported)
        self.export_worker.failed.connect(self._export_failed)
        self.refresh_timer = QTimer(self)
        self.refresh_timer.setInterval(refresh_ms)
        self.refresh_timer.timeout.connect(self._tick)
        self.refresh_timer.start()
        self.lock()

    # --- pages ---

    def build_header(self, layout: QVBoxLayout) -> None:
        self.alarm_banner = AlarmBanner(self)
        layout.addWidget(self.alarm_banner)

    def build_pages(self) -> None:
        self.technician_button = self.fonts.add(button(), 16, height=2.5)
        self.technician_button.clicked.connect(self.technician_requested.emit)
        self.pin_extra.addStretch(1)
        self.pin_extra.addWidget(self.technician_button)
        self.console_page = self.add_page(self._build_console_page())
        self.export_page = self.add_page(self._build_export_page())

    def _build_console_page(self) -> QWidget:
        f = self.fonts
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self.today = f.add(label(TEXT2, wrap=False), 17, bold=True)
        layout.addWidget(self.today)
        self.counts_grid = QGridLayout()
        self.counts_grid.setHorizontalSpacing(8)
        self.counts_grid.setVerticalSpacing(0)
        self.count_labels: dict[str, tuple[QLabel, QLabel]] = {}
        for key, colour in (
            ("total", TEXT),
            ("passed", "#4CC36A"),
            ("denied", "#FF6B5E"),
            ("referred", AMBER),
            ("fever", "#FF6B5E"),
        ):
            number = f.add(label(colour, wrap=False), 26, bold=True)
            name = f.add(label(TEXT2, wrap=False), 15)
            self.count_labels[key] = (number, name)
        self.counts_box = QWidget()
        self.counts_box.setLayout(self.counts_grid)
        self.main_box = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        self.main_box.setSpacing(8)
        self.main_box.addWidget(self.counts_box, 0)
        self.recent_title = f.add(label(TEXT2, wrap=False), 16, bold=True)  # the table's accessible name
        self.recent_title.hide()
        self.table = QTableWidget(0, 4)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(True)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header = self.table.horizontalHeader()
        for column in range(3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.setStyleSheet(
            f"QTableWidget {{ color: {TEXT}; background: #13223A; gridline-color: {PANEL}; }}"
            f" QHeaderView::section {{ color: {TEXT2}; background: {PANEL}; padding: 3px; border: 0; }}"
        )
        self.table.setItemDelegate(_OutlineSelection(self.table))
        f.add(self.table, 16)
        f.add(header, 15)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.main_box.addWidget(self.table, 1)
        layout.addLayout(self.main_box, 1)
        self.empty = f.add(label(MUTED), 16)
        layout.addWidget(self.empty)
        self.selection = f.add(label(TEXT2), 16)
        layout.addWidget(self.selection)
        self.reason_edit = f.add(line_edit(200), 18, height=2.0)
        layout.addWidget(self.reason_edit)
        self.open_button = f.add(button("primary"), 17, height=2.4)
        self.open_button.clicked.connect(self.open_gate)
        self.pass_button = f.add(button("pass"), 17, height=2.4)
        self.pass_button.clicked.connect(lambda: self.override("pass"))
        self.deny_button = f.add(button("danger"), 17, height=2.4)
        self.deny_button.clicked.connect(lambda: self.override("deny"))
        self.silence_button = f.add(button("warning"), 17, height=2.4)
        self.silence_button.clicked.connect(self.silence_alarm)
        self.export_button = f.add(button(), 17, height=2.4)
        self.export_button.clicked.connect(self.show_export)
        self.lock_button = f.add(button(), 17, height=2.4)
        self.lock_button.clicked.connect(self.lock)
        self.action_buttons = [
            self.open_button,
            self.pass_button,
            self.deny_button,
            self.silence_button,
            self.export_button,
            self.lock_button,
        ]
        self.buttons = QGridLayout()
        self.buttons.setSpacing(6)
        layout.addLayout(self.buttons)
        self.action_status = f.add(label(AMBER), 17)
        self.action_status.hide()
        layout.addWidget(self.action_status)
        self._arrange_buttons(columns=6)
        self._arrange_counts(portrait=False)
        return page

    def _arrange_counts(self, portrait: bool) -> None:
        """Landscape: the counts in a column beside the table; portrait: in a row above it."""
        grid = self.counts_grid
        for number, name in self.count_labels.values():
            grid.removeWidget(number)
            grid.removeWidget(name)
        centre, right = (
            Qt.AlignmentFlag.AlignHCenter,
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
        )
        for i, (number, name) in enumerate(self.count_labels.values()):
            if portrait:
                number.setAlignment(centre)
                name.setAlignment(centre)
                grid.addWidget(number, 0, i)
                grid.addWidget(name, 1, i)
            else:
                number.setAlignment(right)
                name.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
                grid.addWidget(number, i, 0)
                grid.addWidget(name, i, 1)
        for c in range(5):
            grid.setColumnStretch(c, 1 if portrait else 0)
        for r in range(6):
            grid.setRowStretch(r, 1 if (r == 5 and not portrait) else 0)
        self.main_box.setDirection(
            QBoxLayout.Direction.TopToBottom if portrait else QBoxLayout.Direction.LeftToRight
        )

    def _arrange_buttons(self, columns: int) -> None:
        for widget in self.action_buttons:
            self.buttons.removeWidget(widget)
        for i, widget in enumerate(self.action_buttons):
            self.buttons.addWidget(widget, i // columns, i % columns)
        for c in range(6):
            self.buttons.setColumnStretch(c, 1 if c < columns else 0)

    def relayout(self, portrait: bool) -> None:
        self._arrange_buttons(3 if portrait else 6)
        self._arrange_counts(portrait)
        if self.unlocked:
            self.refresh()

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        QTimer.singleShot(0, self._fit_rows)  # wrapped reasons follow the new column widths

    def _fit_rows(self) -> None:
        if shiboken6.isValid(self.table):  # the window may have gone in the meantime
            self.table.resizeRowsToContents()

    def _build_export_page(self) -> QWidget:
        f = self.fonts
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        self.export_title = f.add(label(TEXT), 20, bold=True)
        self.export_hint = f.add(label(TEXT2), 16)
        self.picker = DirectoryPicker(f, lambda: self.usb_lister())
        self.export_reason = f.add(line_edit(200), 18, height=2.0)
        self.export_go = f.add(button("primary"), 18, height=2.4)
        self.export_go.clicked.connect(self.export_today)
        self.export_cancel = f.add(button(), 18, height=2.4)
        self.export_cancel.clicked.connect(self.show_console)
        self.export_status = f.add(label(AMBER), 18)
        layout.addWidget(self.export_title)
        layout.addWidget(self.export_hint)
        layout.addWidget(self.picker, 1)
        layout.addWidget(self.export_reason)
        row = QHBoxLayout()
        row.addWidget(self.export_go, 1)
        row.addWidget(self.export_cancel, 1)
        layout.addLayout(row)
        layout.addWidget(self.export_status)
        return page

    # --- navigation ---

    def on_unlocked(self) -> None:
        self.pages.setCurrentWidget(self.console_page)

    def on_locked(self) -> None:
        self.reason_edit.clear()
        self.table.clearSelection()

    def show_console(self) -> None:
        if self.unlocked:
            self.pages.setCurrentWidget(self.console_page)
            self.refresh()

    def show_export(self) -> None:
        if not self.unlocked:
            return
        self.say("export")
        if not self.export_reason.text():
            self.export_reason.setText(self.t("guard.export_reason"))
        self.pages.setCurrentWidget(self.export_page)
        self.picker.refresh()
        self.retranslate()

    def go_back(self) -> None:
        if self.pages.currentWidget() is self.export_page:
            self.show_console()
        else:
            self.leave()

    # --- actions ---

    def _reason_or_say(self) -> str:
        reason = self.reason_edit.text().strip()
        if not reason:
            self.say("action", "guard.need_reason")
        return reason

    def _failed(self, exc: Exception) -> None:
        self.say("action", "guard.failed", why=f"{type(exc).__name__}: {exc}")

    def open_gate(self) -> None:
        if not self.unlocked:
            return
        reason = self._reason_or_say()
        if reason:
            try:
                opened = self.actions.manual_open(reason)
            except Exception as exc:  # the store or the relay refused: say so, never crash the kiosk
                self._failed(exc)
            else:
                if opened:
                    self.say("action", "guard.opened")
                else:
                    self.say("action", "guard.open_failed", why=self._gpio_why())
                self.reason_edit.clear()
        self.refresh()

    def silence_alarm(self) -> None:
        if not self.unlocked:
            return
        reason = self._reason_or_say()
        if reason:
            try:
                self.actions.silence(reason)
            except Exception as exc:
                self._failed(exc)
            else:
                self.say("action", "guard.silenced")
                self.reason_edit.clear()
                if self.actions.alarms is not None:
                    self.show_alarms(self.actions.alarms.alarms())
        self.retranslate()

    def selected(self) -> Any | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self.rows):
            return None
        return self.rows[rows[0].row()]

    def select_seq(self, seq: int) -> bool:
        for i, reg in enumerate(self.rows):
            if reg.seq == seq:
                self.table.selectRow(i)
                return True
        return False

    def _overridable(self, reg: Any) -> bool:
        return reg is not None and reg.decision == "refer" and reg.seq not in self.overridden

    def override(self, decision: str) -> None:
        if not self.unlocked:
            return
        reg = self.selected()
        if not self._overridable(reg):
            self.say("action", "guard.select_refer")
            self.retranslate()
            return
        reason = self._reason_or_say()
        if reason:
            try:
                done = self.actions.override(reg.seq, decision, reason)
            except Exception as exc:
                self._failed(exc)
            else:
                if decision == "pass" and not done:
                    self.say("action", "guard.open_failed", why=self._gpio_why())
                else:
                    self.say(
                        "action", "guard.overridden_pass" if decision == "pass" else "guard.overridden_deny"
                    )
                self.reason_edit.clear()
        self.refresh()

    def export_today(self) -> None:
        if not self.unlocked or self.export_worker.running:
            return
        directory = self.picker.path()
        reason = self.export_reason.text().strip()
        if directory is None:
            self.say("export", "usb.choose")
        elif not reason:
            self.say("export", "guard.need_reason")
        else:
            self.say("export", "guard.exporting", path=str(directory))
            self.export_go.setEnabled(False)
            self.export_worker.start(directory, reason)
        self.retranslate()

    def _export_work(self, progress: Callable, directory: Path, reason: str) -> tuple[Path, Any]:
        return self.actions.export_today(directory, reason, self.clock())

    def _exported(self, result: tuple[Path, Any]) -> None:
        path, counts = result
        self.export_go.setEnabled(True)
        self.say(
            "export",
            "guard.exported",
            n=counts.total,
            path=f"{path.parent.name}/{path.name}",
            passed=counts.passed,
            denied=counts.denied,
            referred=counts.referred,
            fever=counts.fever,
        )
        self.last_export = path
        self.retranslate()

    def _export_failed(self, exc: Exception) -> None:
        self.export_go.setEnabled(True)
        why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        where = getattr(exc, "filename", None)
        self.say("export", "guard.export_failed", why=f"{why}{f': {where}' if where else ''}")
        self.retranslate()

    def _gpio_why(self) -> str:
        gpio = self.actions.gpio
        if gpio is None:
            return self.texts.device("gpio", self.language) + " —"
        health = getattr(gpio, "health", None)
        return getattr(health, "reason", "") or str(getattr(health, "state", "")) or "relay"

    # --- alarms ---

    def show_alarms(self, alarms: tuple[Alarm, ...]) -> None:
        """Cheap when nothing changed: the window calls it on every tick."""
        if alarms == self._alarms and self.alarm_banner.isVisible() == bool(alarms):
            return
        self._alarms = alarms
        self.alarm_banner.show_alarms(alarms)

    # --- rendering ---

    def _tick(self) -> None:
        if not self.isVisible():
            return
        if self.pages.currentWidget() is self.console_page:
            self.refresh()
        elif not self.unlocked:
            self.tick_pin()

    def _selection_changed(self) -> None:
        self._render_selection()

    def _render_selection(self) -> None:
        reg = self.selected()
        can = self._overridable(reg)
        self.pass_button.setEnabled(can)
        self.deny_button.setEnabled(can)
        if reg is None:
            self.selection.setText(self.t("guard.select_hint"))
            return
        when = dt.datetime.fromtimestamp(reg.ts, self.tz).strftime("%H:%M:%S")
        who = " ".join(x for x in (reg.masked_name, reg.masked_id) if x) or "—"
        decision = self.t(DECISION_MSG.get(reg.decision, "guard.referred"))
        if reg.seq in self.overridden:
            decision = self.t("guard.overridden", decision=self.t(DECISION_MSG[self.overridden[reg.seq]]))
        self.selection.setText(self.t("guard.selected", time=when, who=who, decision=decision))

    def retranslate_pages(self) -> None:
        t = self.t
        self.technician_button.setText(t("tech.open"))
        self.recent_title.setText(t("guard.recent"))
        self.empty.setText(t("guard.none"))
        self.reason_edit.setPlaceholderText(t("guard.reason_hint"))
        self.open_button.setText(t("guard.open"))
        self.pass_button.setText(t("guard.let_pass"))
        self.deny_button.setText(t("guard.refuse"))
        self.silence_button.setText(t("guard.silence"))
        self.export_button.setText(t("guard.export"))
        self.lock_button.setText(t("guard.lock"))
        self.show_said("action", self.action_status)
        self.action_status.setVisible(bool(self.said("action")))
        self.table.setHorizontalHeaderLabels(
            [t("guard.time"), t("guard.decision"), t("guard.who"), t("guard.reasons")]
        )
        for key, msg in (
            ("total", "guard.total"),
            ("passed", "guard.passed"),
            ("denied", "guard.denied"),
            ("referred", "guard.referred"),
            ("fever", "guard.fever"),
        ):
            self.count_labels[key][1].setText(t(msg))
        self.export_title.setText(t("guard.export_title", day=self.store.today(self.clock())))
        self.export_hint.setText(t("guard.export_hint"))
        self.picker.empty.setText(t("usb.none"))
        self.picker.refresh_button.setText(t("usb.refresh"))
        self.picker.path_edit.setPlaceholderText(t("usb.path_hint"))
        self.export_reason.setPlaceholderText(t("guard.reason_hint"))
        self.export_go.setText(t("guard.export_go"))
        self.export_cancel.setText(t("guard.back"))
        self.show_said("export", self.export_status)
        self._render_selection()
        self.alarm_banner.show_alarms(self._alarms)

    def refresh(self) -> None:
        """Re-read today's counts and the recent registrations (only while unlocked)."""
        self.retranslate()
        if not self.unlocked:
            return
        now = self.clock()
        day = self.store.today(now)
        counts = self.store.counts(day)
        self.today.setText(self.t("guard.today", day=day))
        for key in ("total", "passed", "denied", "referred", "fever"):
            self.count_labels[key][0].setText(str(getattr(counts, key)))
        selected = self.selected()
        self.rows = self.store.recent(RECENT)
        try:
            entries = self.store.audit_entries(day)
        except Exception:  # the audit log unreadable: the list still shows
            entries = []
        self.overridden = {
            e.detail["seq"]: e.action.split(".", 1)[1]
            for e in entries
            if e.action.startswith("override.") and isinstance(e.detail, dict) and "seq" in e.detail
        }
        self.empty.setVisible(not self.rows)
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.rows))
        sep = "；" if self.language == "zh" else "; "
        for i, reg in enumerate(self.rows):
            when = dt.datetime.fromtimestamp(reg.ts, self.store.tz).strftime("%H:%M:%S")
            decision = self.t(DECISION_MSG.get(reg.decision, "guard.referred"))
            colour = DECISION_COLOUR.get(reg.decision, AMBER)
            if reg.seq in self.overridden:
                final = self.overridden[reg.seq]
                decision = self.t("guard.overridden", decision=self.t(DECISION_MSG[final]))
                colour = DECISION_COLOUR[final]
            mark = {"pass": "✓", "deny": "✕"}.get(self.overridden.get(reg.seq, reg.decision), "!")
            sep_who = "\n" if self.portrait else " "
            who = sep_who.join(x for x in (reg.masked_name, reg.masked_id) if x) or "—"
            reasons = sep.join(self.texts.reason(r, self.language, reg.temperature) for r in reg.reasons)
            for column, text in enumerate([when, f"{mark} {decision}", who, reasons]):
                item = QTableWidgetItem(text)
                if column == 1:
                    item.setForeground(QColor(DARK if colour == AMBER else TEXT))
                    item.setBackground(QColor(colour))
                self.table.setItem(i, column, item)
        self.table.resizeRowsToContents()
        if selected is not None:
            self.select_seq(selected.seq)
        self.table.blockSignals(False)
        self._render_selection()
