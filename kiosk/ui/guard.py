"""The guard console: behind a PIN, today's counts, the recent decisions and two hand actions.

Opened from the kiosk window by a long press on the status strip or F12 (kiosk/ui/app.py). The PIN is
checked against a PBKDF2-SHA256 hash (`hash_pin` makes one: `pbkdf2_sha256$<iterations>$<salt hex>$<hex>`);
five wrong PINs lock the entry for 60 s. Every hand action needs a reason and is audited in the
registrations store before it acts (`GuardActions`). Only masked names and ID numbers are shown; reasons
are in plain words (kiosk/ui/strings.py), in the chosen language.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from kiosk.ui.strings import Texts, texts
from kiosk.ui.traveller import FONT_FAMILIES

MAX_TRIES = 5
LOCKOUT_SECONDS = 60.0
PIN_ITERATIONS = 200_000
RECENT = 20
DECISION_MSG = {"pass": "guard.passed", "deny": "guard.denied", "refer": "guard.referred"}
DECISION_COLOUR = {"pass": "#1B7A36", "deny": "#B3261E", "refer": "#F2A900"}


# --- PIN ---


def hash_pin(pin: str, *, salt: bytes | None = None, iterations: int = PIN_ITERATIONS) -> str:
    """The value for the policy's `guard_pin_hash`: `pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>`."""
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${digest.hex()}"


def check_pin(pin: str, pin_hash: str) -> bool:
    try:
        scheme, iterations, salt, expected = pin_hash.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), bytes.fromhex(salt), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), expected.lower())


class PinGate:
    """Counts wrong PINs; after `MAX_TRIES` in a row, refuses every PIN for `LOCKOUT_SECONDS`."""

    def __init__(
        self,
        pin_hash: str | None,
        clock: Callable[[], float] = time.monotonic,
        max_tries: int = MAX_TRIES,
        lockout: float = LOCKOUT_SECONDS,
    ):
        self.pin_hash = pin_hash
        self.clock = clock
        self.max_tries = max_tries
        self.lockout = lockout
        self.failures = 0
        self.locked_until = 0.0

    def locked_for(self) -> float:
        """Seconds left in the lockout (0 when not locked)."""
        return max(0.0, self.locked_until - self.clock())

    def tries_left(self) -> int:
        return self.max_tries - self.failures

    def try_pin(self, pin: str) -> bool:
        if self.locked_for() > 0 or not self.pin_hash:
            return False
        if check_pin(pin, self.pin_hash):
            self.failures = 0
            return True
        self.failures += 1
        if self.failures >= self.max_tries:
            self.failures = 0
            self.locked_until = self.clock() + self.lockout
        return False


# --- hand actions ---


class GuardActions:
    """What the console's buttons do: audit durably first, then act on the gate I/O.

    `store` is the RegistrationStore (`audit(actor, action, reason, detail)`); `gpio` is the hardware's
    GateIO (or None on a kiosk without gate I/O); `emit` gets a JSON-able line like the loop's actions.
    """

    def __init__(
        self, store: Any, gpio: Any, *, actor: str = "guard", emit: Callable[[dict], None] | None = None
    ):
        self.store = store
        self.gpio = gpio
        self.actor = actor
        self.emit = emit or (lambda line: None)

    def manual_open(self, reason: str) -> bool:
        """Open the gate by hand. Raises ValueError without a reason; False when the relay did not open."""
        reason = (reason or "").strip()
        if not reason:
            raise ValueError("a reason is required")
        self.store.audit(self.actor, "gate.manual_open", reason, {"gpio": self.gpio is not None})
        opened = bool(self.gpio.pulse_gate()) if self.gpio is not None else False
        self.emit({"type": "guard", "action": "gate.manual_open", "reason": reason, "opened": opened})
        return opened

    def silence(self, reason: str) -> None:
        reason = (reason or "").strip()
        if not reason:
            raise ValueError("a reason is required")
        sounding = getattr(self.gpio, "sounding", None) if self.gpio is not None else None
        self.store.audit(self.actor, "alarm.silence", reason, {"sounding": sounding})
        if self.gpio is not None:
            self.gpio.silence()
        self.emit({"type": "guard", "action": "alarm.silence", "reason": reason})


# --- the console widget ---


def _label(px: int, bold: bool = False, colour: str = "#FFFFFF") -> QLabel:
    label = QLabel()
    font = QFont()
    font.setFamilies(FONT_FAMILIES)
    font.setPixelSize(px)
    font.setBold(bold)
    label.setFont(font)
    label.setStyleSheet(f"color: {colour};")
    label.setWordWrap(True)
    return label


def _button(px: int) -> QPushButton:
    button = QPushButton()
    font = QFont()
    font.setFamilies(FONT_FAMILIES)
    font.setPixelSize(px)
    button.setFont(font)
    button.setMinimumHeight(int(px * 2.4))
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    button.setStyleSheet(
        "QPushButton { color: #FFFFFF; background: #1B2B42; border: 1px solid #4FC3F7; border-radius: 6px;"
        " padding: 4px 12px; } QPushButton:pressed { background: #4FC3F7; color: #0E1A2B; }"
    )
    return button


class GuardConsole(QWidget):
    """PIN page, then the console page. `closed` is emitted when the guard leaves (Back)."""

    closed = Signal()

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
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.store = store
        self.actions = actions
        self.gate = PinGate(pin_hash, pin_clock)
        self.texts = texts_ or texts()
        self.language = language
        self.clock = clock
        self._pin_message: tuple[str, dict] = ("", {})  # message id and values: re-translated on a switch
        self._action_message: tuple[str, dict] = ("", {})
        self.setObjectName("guard")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet("#guard { background: #0E1A2B; }")

        self.pages = QStackedWidget()
        self.pin_page = self._build_pin_page()
        self.console_page = self._build_console_page()
        self.pages.addWidget(self.pin_page)
        self.pages.addWidget(self.console_page)
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        self.title = _label(30, bold=True)
        self.lang_button = _button(18)
        self.lang_button.clicked.connect(self.toggle_language)
        self.back_button = _button(18)
        self.back_button.clicked.connect(self.leave)
        top.addWidget(self.title, 1)
        top.addWidget(self.lang_button)
        top.addWidget(self.back_button)
        layout.addLayout(top)
        layout.addWidget(self.pages, 1)

        self.refresh_timer = QTimer(self)
        self.refresh_timer.setInterval(refresh_ms)
        self.refresh_timer.timeout.connect(self._tick)
        self.refresh_timer.start()
        self.lock()

    # --- pages ---

    def _build_pin_page(self) -> QWidget:
        page = QWidget()
        grid = QGridLayout(page)
        self.pin_prompt = _label(26, bold=True)
        self.pin_prompt.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.pin_edit = QLineEdit()
        self.pin_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin_edit.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.pin_edit.setMaxLength(12)
        self.pin_edit.setStyleSheet("font-size: 32px; color: #FFFFFF; background: #1B2B42; padding: 6px;")
        self.pin_edit.returnPressed.connect(self.submit_pin)
        self.pin_status = _label(20, colour="#F2A900")
        self.pin_status.setAlignment(Qt.AlignmentFlag.AlignCenter)
        grid.addWidget(self.pin_prompt, 0, 0, 1, 3)
        grid.addWidget(self.pin_edit, 1, 0, 1, 3)
        self.keys: dict[str, QPushButton] = {}
        for i, key in enumerate(["1", "2", "3", "4", "5", "6", "7", "8", "9", "clear", "0", "enter"]):
            button = _button(26)
            if key.isdigit():
                button.setText(key)
                button.clicked.connect(lambda _=False, k=key: self.pin_edit.insert(k))
            elif key == "clear":
                button.clicked.connect(self.pin_edit.clear)
            else:
                button.clicked.connect(self.submit_pin)
            self.keys[key] = button
            grid.addWidget(button, 2 + i // 3, i % 3)
        grid.addWidget(self.pin_status, 6, 0, 1, 3)
        return page

    def _build_console_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.today = _label(22, bold=True, colour="#C8D3E2")
        layout.addWidget(self.today)
        counts_row = QHBoxLayout()
        self.count_labels: dict[str, tuple[QLabel, QLabel]] = {}
        for key, colour in (
            ("total", "#FFFFFF"),
            ("passed", DECISION_COLOUR["pass"]),
            ("denied", DECISION_COLOUR["deny"]),
            ("referred", DECISION_COLOUR["refer"]),
            ("fever", DECISION_COLOUR["deny"]),
        ):
            box = QVBoxLayout()
            number, name = _label(40, bold=True, colour=colour), _label(18, colour="#C8D3E2")
            number.setAlignment(Qt.AlignmentFlag.AlignCenter)
            name.setAlignment(Qt.AlignmentFlag.AlignCenter)
            box.addWidget(number)
            box.addWidget(name)
            counts_row.addLayout(box)
            self.count_labels[key] = (number, name)
        layout.addLayout(counts_row)
        self.recent_title = _label(20, bold=True, colour="#C8D3E2")
        layout.addWidget(self.recent_title)
        self.table = QTableWidget(0, 4)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        for column in range(3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.setStyleSheet(
            "QTableWidget { color: #FFFFFF; background: #13223A; gridline-color: #1B2B42; font-size: 17px; }"
            " QHeaderView::section { color: #C8D3E2; background: #1B2B42; font-size: 16px; padding: 4px; }"
        )
        layout.addWidget(self.table, 1)
        self.empty = _label(18, colour="#8FA1B8")
        layout.addWidget(self.empty)
        actions = QHBoxLayout()
        self.reason_edit = QLineEdit()
        self.reason_edit.setMaxLength(200)
        self.reason_edit.setStyleSheet("font-size: 20px; color: #FFFFFF; background: #1B2B42; padding: 6px;")
        self.open_button = _button(22)
        self.open_button.clicked.connect(self.open_gate)
        self.silence_button = _button(22)
        self.silence_button.clicked.connect(self.silence_alarm)
        self.lock_button = _button(22)
        self.lock_button.clicked.connect(self.lock)
        actions.addWidget(self.reason_edit, 1)
        actions.addWidget(self.open_button)
        actions.addWidget(self.silence_button)
        actions.addWidget(self.lock_button)
        layout.addLayout(actions)
        self.action_status = _label(20, colour="#F2A900")
        layout.addWidget(self.action_status)
        return page

    # --- behaviour ---

    @property
    def unlocked(self) -> bool:
        return self.pages.currentWidget() is self.console_page

    def lock(self) -> None:
        """Back to the PIN page, forgetting what was typed."""
        self.pin_edit.clear()
        self.reason_edit.clear()
        self._say("pin", "", {})
        self._say("action", "", {})
        self.pages.setCurrentWidget(self.pin_page)
        self.retranslate()

    def leave(self) -> None:
        self.lock()
        self.closed.emit()

    def submit_pin(self) -> None:
        pin = self.pin_edit.text()
        self.pin_edit.clear()
        if not self.gate.pin_hash:
            self._say("pin", "guard.no_pin", {})
        elif self.gate.locked_for() > 0:
            self._say("pin", "guard.locked", {"s": int(self.gate.locked_for() + 0.999)})
        elif self.gate.try_pin(pin):
            self._say("pin", "", {})
            self.pages.setCurrentWidget(self.console_page)
            self.refresh()
        elif self.gate.locked_for() > 0:
            self._say("pin", "guard.locked", {"s": int(self.gate.locked_for() + 0.999)})
        else:
            self._say("pin", "guard.pin_wrong", {"n": self.gate.tries_left()})
        self.retranslate()

    def open_gate(self) -> None:
        if not self.unlocked:
            return
        reason = self.reason_edit.text().strip()
        if not reason:
            self._say("action", "guard.need_reason", {})
        else:
            try:
                opened = self.actions.manual_open(reason)
            except Exception as exc:  # the store or the relay refused: say so, never crash the kiosk
                self._say("action", "guard.failed", {"why": f"{type(exc).__name__}: {exc}"})
            else:
                if opened:
                    self._say("action", "guard.opened", {})
                else:
                    self._say("action", "guard.open_failed", {"why": self._gpio_why()})
                self.reason_edit.clear()
        self.refresh()

    def silence_alarm(self) -> None:
        if not self.unlocked:
            return
        reason = self.reason_edit.text().strip()
        if not reason:
            self._say("action", "guard.need_reason", {})
        else:
            try:
                self.actions.silence(reason)
            except Exception as exc:
                self._say("action", "guard.failed", {"why": f"{type(exc).__name__}: {exc}"})
            else:
                self._say("action", "guard.silenced", {})
                self.reason_edit.clear()
        self.retranslate()

    def _gpio_why(self) -> str:
        gpio = self.actions.gpio
        if gpio is None:
            return self.texts.device("gpio", self.language) + " —"
        health = getattr(gpio, "health", None)
        return getattr(health, "reason", "") or str(getattr(health, "state", "")) or "relay"

    def toggle_language(self) -> None:
        self.set_language("en" if self.language == "zh" else "zh")

    def set_language(self, language: str) -> None:
        self.language = language
        self.refresh()

    def _say(self, where: str, msg_id: str, values: dict[str, object]) -> None:
        setattr(self, f"_{where}_message", (msg_id, values))

    def _text(self, where: str) -> str:
        msg_id, values = getattr(self, f"_{where}_message")
        return self.texts.get(msg_id, self.language, **values) if msg_id else ""

    def _tick(self) -> None:
        if not self.isVisible():
            return
        if self.unlocked:
            self.refresh()
        elif self.gate.locked_for() > 0:
            self._say("pin", "guard.locked", {"s": int(self.gate.locked_for() + 0.999)})
            self.retranslate()
        elif self._pin_message[0] == "guard.locked":
            self._say("pin", "", {})
            self.retranslate()

    def retranslate(self) -> None:
        t = lambda msg_id, **v: self.texts.get(msg_id, self.language, **v)  # noqa: E731
        self.title.setText(t("guard.title"))
        self.lang_button.setText("English" if self.language == "zh" else "中文")
        self.back_button.setText(t("guard.back"))
        self.pin_prompt.setText(t("guard.pin_prompt"))
        self.keys["clear"].setText(t("guard.clear"))
        self.keys["enter"].setText(t("guard.enter"))
        self.pin_status.setText(self._text("pin"))
        self.recent_title.setText(t("guard.recent"))
        self.empty.setText(t("guard.none"))
        self.reason_edit.setPlaceholderText(t("guard.reason_hint"))
        self.open_button.setText(t("guard.open"))
        self.silence_button.setText(t("guard.silence"))
        self.lock_button.setText(t("guard.lock"))
        self.action_status.setText(self._text("action"))
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

    def refresh(self) -> None:
        """Re-read today's counts and the recent registrations (only while unlocked)."""
        self.retranslate()
        if not self.unlocked:
            return
        now = self.clock()
        day = self.store.today(now)
        counts = self.store.counts(day)
        self.today.setText(self.texts.get("guard.today", self.language, day=day))
        for key in ("total", "passed", "denied", "referred", "fever"):
            self.count_labels[key][0].setText(str(getattr(counts, key)))
        rows = self.store.recent(RECENT)
        self.empty.setVisible(not rows)
        self.table.setRowCount(len(rows))
        sep = "；" if self.language == "zh" else "; "
        for i, reg in enumerate(rows):
            when = dt.datetime.fromtimestamp(reg.ts, self.store.tz).strftime("%H:%M:%S")
            decision = self.texts.get(DECISION_MSG.get(reg.decision, "guard.referred"), self.language)
            who = " ".join(x for x in (reg.masked_name, reg.masked_id) if x) or "—"
            reasons = sep.join(self.texts.reason(r, self.language, reg.temperature) for r in reg.reasons)
            cells = [when, decision, who, reasons]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 1:
                    item.setForeground(QColor("#111111" if reg.decision == "refer" else "#FFFFFF"))
                    item.setBackground(QColor(DECISION_COLOUR.get(reg.decision, "#F2A900")))
                self.table.setItem(i, column, item)
        self.table.resizeRowsToContents()

    def visible_texts(self) -> list[str]:
        labels = [w for w in self.findChildren(QLabel) if w.isVisibleTo(self) and w.text()]
        return [w.text() for w in labels]
