"""Building blocks shared by the guard console and the technician screens.

`ConsoleScreen` is their common frame: a title bar (title, language switch, back), a PIN page with a
keypad and a lockout (`PinGate`), then the screen's own pages. Fonts are given in pixels for a 480-pixel
short side (800x480 landscape or 480x800 portrait) and grow with the window's short side, so the same
layout serves 800x480, 480x800, 1280x800 and 800x1280. `Worker` runs slow work (self-tests, imports,
exports, the journal) on a thread and reports back on the UI thread through Qt signals, so a hung
device or a dead USB stick never freezes the screen. `Badge` shows a state with colour, a drawn symbol
and a word together (never colour alone).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import queue
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractButton,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk.ui.strings import Texts, texts
from kiosk.ui.traveller import FONT_FAMILIES, Symbol

BG = "#0E1A2B"
PANEL = "#1B2B42"
TEXT = "#FFFFFF"
TEXT2 = "#C8D3E2"
MUTED = "#8FA1B8"
ACCENT = "#4FC3F7"
GREEN = "#1B7A36"
RED = "#B3261E"
AMBER = "#F2A900"
DARK = "#111111"

BASE_SHORT_SIDE = 480
MAX_SCALE = 1.6

# level: background, text colour, symbol kind (traveller.Symbol)
LEVELS: dict[str, tuple[str, str, str]] = {
    "ok": (GREEN, TEXT, "check"),
    "warning": (AMBER, DARK, "bang"),
    "bad": (RED, TEXT, "cross"),
    "busy": (PANEL, TEXT, "measuring"),
    "idle": (PANEL, TEXT2, "pending"),
}

# a message's level, for the feedback lines under the buttons: colour, a symbol and the words
MESSAGE_LEVELS = {
    "guard.opened": "ok",
    "guard.silenced": "ok",
    "guard.overridden_pass": "ok",
    "guard.overridden_deny": "ok",
    "guard.exported": "ok",
    "tech.imported_live": "ok",
    "tech.imported_restart": "ok",
    "tech.cal.saved_live": "ok",
    "tech.cal.saved_restart": "ok",
    "tech.cal.ready": "ok",
    "guard.failed": "bad",
    "guard.open_failed": "bad",
    "guard.export_failed": "bad",
    "tech.import_failed": "bad",
    "tech.failed": "bad",
    "tech.cal.failed": "bad",
    "tech.cal.read_only": "bad",
    "tech.cal.save_failed": "bad",
    "guard.exporting": "info",
    "tech.importing": "info",
    "tech.reloading": "info",
    "tech.cal.measuring": "info",
    "tech.cal.saving": "info",
}
STATUS_STYLE = {
    "ok": ("#7BD88F", "✓"),
    "warning": (AMBER, "!"),
    "bad": ("#FF8A80", "✕"),
    "info": (TEXT2, "…"),
}

MAX_TRIES = 5
LOCKOUT_SECONDS = 60.0
PIN_ITERATIONS = 200_000


# --- PIN ---


def hash_pin(pin: str, *, salt: bytes | None = None, iterations: int = PIN_ITERATIONS) -> str:
    """The policy's `guard_pin_hash` / `technician_pin_hash`: `pbkdf2_sha256$<iterations>$<salt>$<hash>`."""
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


# --- fonts and widgets ---


def make_font(px: int, bold: bool = False, mono: bool = False) -> QFont:
    font = QFont()
    font.setFamilies(["DejaVu Sans Mono", "Noto Sans Mono CJK SC", *FONT_FAMILIES] if mono else FONT_FAMILIES)
    font.setPixelSize(max(8, px))
    font.setBold(bold)
    return font


class Fonts:
    """Every widget's font size at scale 1 (a 480-pixel short side); `apply(scale)` resizes them all."""

    def __init__(self) -> None:
        self._items: list[tuple[QWidget, float, bool, bool, float]] = []
        self.scale = 1.0

    def add(self, widget: QWidget, px: float, *, bold: bool = False, mono: bool = False, height: float = 0):
        """Register `widget` at `px` pixels; `height` > 0 also sets its minimum height (in `px` units)."""
        self._items.append((widget, px, bold, mono, height))
        self._set(widget, px, bold, mono, height)
        return widget

    def _set(self, widget: QWidget, px: float, bold: bool, mono: bool, height: float) -> None:
        size = round(px * self.scale)
        widget.setFont(make_font(size, bold, mono))
        if height:
            widget.setMinimumHeight(round(size * height))

    def apply(self, scale: float) -> bool:
        if abs(scale - self.scale) < 0.01:
            return False
        self.scale = scale
        for item in self._items:
            self._set(*item)
        return True


def label(colour: str = TEXT, *, wrap: bool = True, align: Qt.AlignmentFlag | None = None) -> QLabel:
    widget = QLabel()
    widget.setStyleSheet(f"color: {colour}; background: transparent;")
    widget.setWordWrap(wrap)
    widget.setTextFormat(Qt.TextFormat.PlainText)
    if align is not None:
        widget.setAlignment(align)
    return widget


BUTTON_STYLES = {
    "normal": (PANEL, TEXT, ACCENT),
    "primary": ("#0B5F8A", TEXT, ACCENT),
    "pass": (GREEN, TEXT, "#7BD88F"),
    "danger": (RED, TEXT, "#FF8A80"),
    "warning": (AMBER, DARK, "#FFE082"),
}


def button(kind: str = "normal") -> QPushButton:
    widget = QPushButton()
    widget.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    set_button_kind(widget, kind)
    return widget


def set_button_kind(widget: QPushButton, kind: str) -> None:
    bg, fg, border = BUTTON_STYLES[kind]
    sheet = (
        f"QPushButton {{ color: {fg}; background: {bg}; border: 2px solid {border}; border-radius: 8px;"
        " padding: 2px 10px; }"
        f" QPushButton:pressed {{ background: {ACCENT}; color: {BG}; }}"
        " QPushButton:disabled { color: #6F8096; background: #152238; border-color: #2A3B52; }"
    )
    if widget.styleSheet() != sheet:
        widget.setStyleSheet(sheet)
    widget.kind = kind  # type: ignore[attr-defined]


def line_edit(max_length: int = 200) -> QLineEdit:
    widget = QLineEdit()
    widget.setMaxLength(max_length)
    widget.setStyleSheet(
        f"QLineEdit {{ color: {TEXT}; background: {PANEL}; border: 2px solid #33507A; border-radius: 6px;"
        f" padding: 4px 8px; }} QLineEdit:focus {{ border-color: {ACCENT}; }}"
    )
    return widget


class Badge(QFrame):
    """A state in colour, a drawn symbol and a word: ✓ OK (green), ! Warning (amber), ✕ Failed (red)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("badge")
        self.level = "idle"
        self.symbol = Symbol("pending")
        self.word = label(TEXT, wrap=False)
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 2, 10, 2)
        row.setSpacing(6)
        row.addWidget(self.symbol)
        row.addWidget(self.word)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
        self.set("idle", "")

    def set(self, level: str, word: str) -> None:
        bg, fg, kind = LEVELS[level]
        self.level = level
        sheet = f"#badge {{ background: {bg}; border-radius: 8px; }}"
        if self.styleSheet() != sheet:
            self.setStyleSheet(sheet)
        if kind in ("pending", "measuring"):
            self.symbol.set_symbol(kind, QColor(fg if kind == "pending" else ACCENT), QColor(bg))
        else:
            self.symbol.set_symbol(kind, QColor(fg), QColor(bg))
        self.word.setStyleSheet(f"color: {fg}; background: transparent;")
        self.word.setText(word)

    def resize_symbol(self, px: int) -> None:
        self.symbol.setFixedSize(QSize(px, px))

    def text(self) -> str:
        return self.word.text()


class Keypad(QWidget):
    """A 3x4 keypad: digits, and `left`/`right` keys ("clear"/"enter" for a PIN, "."/"back" for a number)."""

    key_pressed = Signal(str)

    def __init__(self, left: str = "clear", right: str = "enter", parent: QWidget | None = None):
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(6)
        self.keys: dict[str, QPushButton] = {}
        for i, key in enumerate(["1", "2", "3", "4", "5", "6", "7", "8", "9", left, "0", right]):
            widget = button("primary" if key == "enter" else "normal")
            widget.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
            if key.isdigit() or key == ".":
                widget.setText(key)
            elif key == "back":
                widget.setText("⌫")
            widget.clicked.connect(lambda _=False, k=key: self.key_pressed.emit(k))
            self.keys[key] = widget
            grid.addWidget(widget, i // 3, i % 3)


class Worker(QObject):
    """Runs `fn(progress, *args)` on a daemon thread; `progress(value)` may be called from it any number
    of times. `progressed`, `done` and `failed` arrive on the UI thread, in the order they happened (the
    thread queues them and only wakes the UI thread: signals crossing threads are not relied on for
    order). A worker that never returns (a hung device) only keeps `running` true: the screen stays
    usable. `running` turns false when `done` or `failed` is delivered."""

    progressed = Signal(object)
    done = Signal(object)
    failed = Signal(object)
    _wake = Signal()

    def __init__(self, fn: Callable[..., Any], parent: QObject | None = None):
        super().__init__(parent)
        self.fn = fn
        self.running = False
        self.started_at = 0.0
        self.thread: threading.Thread | None = None
        self._queue: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._wake.connect(self._drain, Qt.ConnectionType.QueuedConnection)

    def start(self, *args: Any) -> bool:
        if self.running:
            return False
        self.running = True
        self.started_at = time.monotonic()
        self.thread = threading.Thread(target=self._run, args=args, name="ui-worker", daemon=True)
        self.thread.start()
        return True

    def _post(self, kind: str, value: Any) -> None:
        self._queue.put((kind, value))
        with contextlib.suppress(RuntimeError):  # the screen was closed while the work went on
            self._wake.emit()

    def _run(self, *args: Any) -> None:
        try:
            result = self.fn(lambda value: self._post("progress", value), *args)
        except Exception as exc:
            self._post("failed", exc)
        else:
            self._post("done", result)

    def _drain(self) -> None:
        while True:
            try:
                kind, value = self._queue.get_nowait()
            except queue.Empty:
                return
            if kind == "progress":
                self.progressed.emit(value)
                continue
            self.running = False
            (self.done if kind == "done" else self.failed).emit(value)

    def elapsed(self) -> float:
        return time.monotonic() - self.started_at if self.running else 0.0


class DirectoryPicker(QWidget):
    """Where to read or write on a USB stick: the mounted ones (listed off the UI thread) or a typed path."""

    def __init__(
        self,
        fonts: Fonts,
        lister: Callable[[], list[Path]],
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.lister = lister
        self.list = QListWidget()
        self.list.setStyleSheet(
            f"QListWidget {{ color: {TEXT}; background: {PANEL}; border: 1px solid #33507A; }}"
            f" QListWidget::item {{ padding: 6px; }}"
            f" QListWidget::item:selected {{ background: {ACCENT}; color: {BG}; }}"
        )
        self.list.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.currentItemChanged.connect(self._chosen)
        self.path_edit = line_edit(4096)
        self.refresh_button = button()
        self.refresh_button.clicked.connect(self.refresh)
        self.empty = label(MUTED)
        fonts.add(self.list, 18)
        fonts.add(self.path_edit, 18, height=2.0)
        fonts.add(self.refresh_button, 17, height=2.4)
        fonts.add(self.empty, 16)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.empty)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(self.refresh_button)
        layout.addLayout(row)
        self.worker = Worker(self._list, self)
        self.worker.done.connect(self._listed)
        self.worker.failed.connect(self._list_failed)

    def _list(self, progress: Callable) -> list[Path]:
        return self.lister()

    def refresh(self) -> None:
        self.worker.start()

    def _listed(self, paths: list[Path]) -> None:
        current = self.path_edit.text()
        self.list.clear()
        for path in paths:
            item = QListWidgetItem(f"{path.name}   ·   {path}")
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            self.list.addItem(item)
        self.empty.setVisible(not paths)
        if paths and not current:
            self.list.setCurrentRow(0)

    def _list_failed(self, exc: Exception) -> None:
        self._listed([])

    def _chosen(self, item: QListWidgetItem | None, previous: Any = None) -> None:
        if item is not None:
            self.path_edit.setText(item.data(Qt.ItemDataRole.UserRole))
            self.path_edit.setCursorPosition(0)

    def path(self) -> Path | None:
        text = self.path_edit.text().strip()
        return Path(text) if text else None

    def set_path(self, path: str | Path) -> None:
        self.path_edit.setText(str(path))


def scale_for(width: int, height: int) -> float:
    return max(1.0, min(MAX_SCALE, min(width, height) / BASE_SHORT_SIDE))


class ConsoleScreen(QWidget):
    """The frame of a PIN-protected staff screen. Subclasses build their pages in `build_pages()`, add
    them with `add_page()`, and fill in `retranslate_pages()`, `on_unlocked()` and `refresh()`.
    `closed` is emitted when the user leaves (Back)."""

    closed = Signal()
    TITLE = ""
    PIN_PROMPT = ""
    NO_PIN = ""
    PIN_WRONG = "guard.pin_wrong"
    LOCKED = "guard.locked"

    def __init__(
        self,
        pin_hash: str | None,
        *,
        language: str = "zh",
        texts_: Texts | None = None,
        pin_clock: Callable[[], float] = time.monotonic,
        object_name: str = "console",
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.texts = texts_ or texts()
        self.language = language
        self.gate = PinGate(pin_hash, pin_clock)
        self.fonts = Fonts()
        self._messages: dict[str, tuple[str, dict]] = {}
        self._portrait: bool | None = None
        self.setObjectName(object_name)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(
            f"#{object_name} {{ background: {BG}; }}"
            f" QScrollBar:vertical {{ background: #13223A; width: 16px; margin: 0; }}"
            f" QScrollBar::handle:vertical {{ background: #4A6A90; min-height: 40px; border-radius: 7px; }}"
            " QScrollBar::add-line:vertical, QScrollBar::sub-line:vertical { height: 0; }"
            " QScrollBar::add-page:vertical, QScrollBar::sub-page:vertical { background: none; }"
        )

        self.title = self.fonts.add(label(TEXT, wrap=False), 24, bold=True)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.lang_button = self.fonts.add(button(), 17, height=2.3)
        self.lang_button.clicked.connect(self.toggle_language)
        self.back_button = self.fonts.add(button(), 17, height=2.3)
        self.back_button.clicked.connect(self.go_back)
        self.top = QHBoxLayout()
        self.top.setSpacing(8)
        self.top.addWidget(self.title, 1)
        self.top_extra = QHBoxLayout()
        self.top.addLayout(self.top_extra)
        self.top.addWidget(self.lang_button)
        self.top.addWidget(self.back_button)

        self.pages = QStackedWidget()
        self.pin_page = self._build_pin_page()
        self.pages.addWidget(self.pin_page)
        self.body = QVBoxLayout(self)
        # the window's size is given (the display); fonts follow it, never the other way round
        self.body.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        self.body.setContentsMargins(10, 8, 10, 8)
        self.body.setSpacing(6)
        self.body.addLayout(self.top)
        self.build_header(self.body)
        self.body.addWidget(self.pages, 1)
        self.build_pages()

    # --- to fill in ---

    def build_header(self, layout: QVBoxLayout) -> None:
        """Widgets between the title bar and the pages (e.g. the alarm banner)."""

    def build_pages(self) -> None: ...

    def retranslate_pages(self) -> None: ...

    def on_unlocked(self) -> None: ...

    def refresh(self) -> None:
        self.retranslate()

    def relayout(self, portrait: bool) -> None:
        """Re-arrange for portrait or landscape (called when the orientation changes)."""

    def go_back(self) -> None:
        self.leave()

    # --- helpers ---

    def add_page(self, page: QWidget) -> QWidget:
        self.pages.addWidget(page)
        return page

    def t(self, msg_id: str, **values: object) -> str:
        return self.texts.get(msg_id, self.language, **values)

    def say(self, where: str, msg_id: str = "", **values: object) -> None:
        self._messages[where] = (msg_id, values)

    def said(self, where: str) -> str:
        msg_id, values = self._messages.get(where, ("", {}))
        return self.t(msg_id, **values) if msg_id else ""

    def show_said(self, where: str, widget: QLabel) -> None:
        """The message for `where` in `widget`: its colour and symbol by level (MESSAGE_LEVELS)."""
        msg_id = self._messages.get(where, ("", {}))[0]
        text = self.said(where)
        colour, mark = STATUS_STYLE[MESSAGE_LEVELS.get(msg_id, "warning")]
        widget.setText(f"{mark} {text}" if text else "")
        sheet = f"color: {colour}; background: transparent;"
        if widget.styleSheet() != sheet:
            widget.setStyleSheet(sheet)

    # --- PIN ---

    def _build_pin_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        self.pin_prompt = self.fonts.add(label(TEXT, align=Qt.AlignmentFlag.AlignCenter), 22, bold=True)
        self.pin_edit = line_edit(12)
        self.pin_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin_edit.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.fonts.add(self.pin_edit, 26, height=1.7)
        self.pin_edit.returnPressed.connect(self.submit_pin)
        self.keypad = Keypad("clear", "enter")
        self.keys = self.keypad.keys
        for widget in self.keys.values():
            self.fonts.add(widget, 22, height=1.9)
        self.keypad.key_pressed.connect(self._pin_key)
        self.pin_status = self.fonts.add(label(AMBER, align=Qt.AlignmentFlag.AlignCenter), 18)
        self.pin_extra = QHBoxLayout()
        centre = QHBoxLayout()
        column = QVBoxLayout()
        column.addWidget(self.pin_prompt)
        column.addWidget(self.pin_edit)
        column.addWidget(self.keypad, 1)
        column.addWidget(self.pin_status)
        column.addLayout(self.pin_extra)
        centre.addStretch(1)
        centre.addLayout(column, 6)
        centre.addStretch(1)
        layout.addLayout(centre)
        return page

    def _pin_key(self, key: str) -> None:
        if key.isdigit():
            self.pin_edit.insert(key)
        elif key == "clear":
            self.pin_edit.clear()
        else:
            self.submit_pin()

    @property
    def unlocked(self) -> bool:
        return self.pages.currentWidget() is not self.pin_page

    def lock(self) -> None:
        """Back to the PIN page, forgetting what was typed."""
        self.pin_edit.clear()
        self._messages.clear()
        self.pages.setCurrentWidget(self.pin_page)
        self.on_locked()
        self.retranslate()

    def on_locked(self) -> None: ...

    def leave(self) -> None:
        self.lock()
        self.closed.emit()

    def submit_pin(self) -> None:
        pin = self.pin_edit.text()
        self.pin_edit.clear()
        if not self.gate.pin_hash:
            self.say("pin", self.NO_PIN)
        elif self.gate.locked_for() > 0:
            self.say("pin", self.LOCKED, s=int(self.gate.locked_for() + 0.999))
        elif self.gate.try_pin(pin):
            self.say("pin")
            self.on_unlocked()
            self.refresh()
            return
        elif self.gate.locked_for() > 0:
            self.say("pin", self.LOCKED, s=int(self.gate.locked_for() + 0.999))
        else:
            self.say("pin", self.PIN_WRONG, n=self.gate.tries_left())
        self.retranslate()

    def tick_pin(self) -> None:
        """While locked out, count the seconds down."""
        if self.gate.locked_for() > 0:
            self.say("pin", self.LOCKED, s=int(self.gate.locked_for() + 0.999))
            self.retranslate()
        elif self._messages.get("pin", ("",))[0] == self.LOCKED:
            self.say("pin")
            self.retranslate()

    # --- language ---

    def toggle_language(self) -> None:
        self.set_language("en" if self.language == "zh" else "zh")

    def set_language(self, language: str) -> None:
        self.language = language
        self.refresh()

    def retranslate(self) -> None:
        self.title.setText(self.t(self.TITLE))
        self.lang_button.setText("English" if self.language == "zh" else "中文")
        self.back_button.setText(self.t("guard.back"))
        self.pin_prompt.setText(self.t(self.PIN_PROMPT))
        self.keys["clear"].setText(self.t("guard.clear"))
        self.keys["enter"].setText(self.t("guard.enter"))
        self.pin_status.setText(self.said("pin"))
        self.retranslate_pages()

    # --- geometry ---

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        w, h = max(self.width(), 1), max(self.height(), 1)
        self.fonts.apply(scale_for(w, h))
        m = round(8 * self.fonts.scale)
        self.body.setContentsMargins(m, m, m, m)
        portrait = h > w
        if portrait != self._portrait:
            self._portrait = portrait
            self.relayout(portrait)

    @property
    def portrait(self) -> bool:
        return bool(self._portrait)

    def visible_texts(self) -> list[str]:
        found: list[str] = []
        for widget in self.findChildren(QWidget):
            if not widget.isVisibleTo(self):
                continue
            if isinstance(widget, QLabel | QPushButton) and widget.text():
                found.append(widget.text())
        return found


def layout_problems(root: QWidget, where: str = "") -> list[str]:
    """What does not fit on the screen: visible text widgets outside it, overlapping another, with text
    wider than themselves, buttons too small to touch, type under 14 px. For tests and `kiosk screenshots`."""
    problems = []
    screen = root.rect()
    boxes: list[tuple[QRect, str, QWidget]] = []
    for w in root.findChildren(QWidget):
        if not w.isVisibleTo(root) or not isinstance(w, QLabel | QAbstractButton | QLineEdit | QTableWidget):
            continue
        name = f"{where}: {type(w).__name__} {getattr(w, 'text', lambda: '')()!r}"
        rect = QRect(w.mapTo(root, w.rect().topLeft()), w.size())
        if not screen.contains(rect):
            problems.append(f"outside the screen {name} {rect}")
        if w.height() < 10 or w.width() < 10:
            problems.append(f"squashed {name} {w.size()}")
        if isinstance(w, QAbstractButton) and w.text():
            if w.fontMetrics().horizontalAdvance(w.text()) > w.width() - 8:
                problems.append(f"button text does not fit {name}")
            if w.height() < 36:
                problems.append(f"button too small to touch {name} {w.size()}")
        clipped = (
            isinstance(w, QLabel)
            and not w.wordWrap()
            and w.fontMetrics().horizontalAdvance(w.text()) > w.width()
        )
        if clipped and w.text():
            problems.append(f"label clipped {name}")
        if w.font().pixelSize() > 0 and w.font().pixelSize() < 14:
            problems.append(f"text too small {name} {w.font().pixelSize()} px")
        boxes.append((rect, name, w))
    for i, (a, na, wa) in enumerate(boxes):
        for b, nb, wb in boxes[i + 1 :]:
            if wa.isAncestorOf(wb) or wb.isAncestorOf(wa):
                continue
            if a.intersects(b):
                problems.append(f"overlap {na} / {nb}")
    return problems
