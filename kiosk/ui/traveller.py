"""The traveller screen: idle prompt, what has been read, and the result, with a status strip.

`TravellerScreen.render(state, status)` shows a `LoopState` (kiosk/app/loop.py) and a `StatusInfo`; the
widget keeps no decision logic and never waits on anything. Every text is shown in both languages (the
chosen one first and larger); results always combine colour, a large drawn symbol and words. Sizes follow
the window's short side, so the same screen works from 800x480 to 1280x800, landscape or portrait; labels
shrink their font to fit their width rather than being elided. The idle page carries the camera preview
(`set_frame`, fed by the window at a low rate) and a large 中文 / English switch: a traveller's choice
(`choose_language`) lasts for their visit, then the site's language (`set_language`) returns.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QBoxLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk.app.loop import LoopState, State
from kiosk.ui.strings import POSITIVE_REASONS, Texts, texts

Freshness = Literal["ok", "warning", "stale", "missing"]
FONT_FAMILIES = ["Noto Sans CJK SC", "Noto Sans SC", "Noto Sans", "DejaVu Sans"]
MAX_REASONS = 2  # more than this: 'and N more' (the guard console shows them all)
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}
CHOSEN_LANGUAGE_SECONDS = 60.0  # a traveller's language choice lapses after this long idle without a visit


@dataclass(frozen=True, slots=True)
class StatusInfo:
    """What the status strip shows; the caller works it out (sync, trust store, clock, device health)."""

    site: str = ""
    now: datetime | None = None
    online: bool = False
    last_sync: datetime | None = None
    sync_blocked: bool = False  # the hub refuses this kiosk or its rows: a technician must act
    keys: Freshness = "missing"
    status_list: Freshness = "missing"
    clock_ok: bool = True
    faults: tuple[str, ...] = ()  # device names as in Hardware.health(): camera, thermometer, ...


class Palette:
    BACKGROUND = QColor("#0E1A2B")
    PANEL = QColor("#1B2B42")
    TEXT = QColor("#FFFFFF")
    TEXT_SECONDARY = QColor("#C8D3E2")
    MUTED = QColor("#8FA1B8")
    ACCENT = QColor("#4FC3F7")
    PASS = QColor("#1B7A36")
    DENY = QColor("#B3261E")
    REFER = QColor("#F2A900")
    DARK_TEXT = QColor("#111111")
    OK = QColor("#2E7D32")


RESULTS: dict[str, tuple[QColor, QColor, str, str]] = {
    # decision: background, text colour, symbol kind, headline message id
    "pass": (Palette.PASS, Palette.TEXT, "check", "result.pass"),
    "deny": (Palette.DENY, Palette.TEXT, "cross", "result.deny"),
    "refer": (Palette.REFER, Palette.DARK_TEXT, "bang", "result.refer"),
}
SYMBOL_CHARS = {"check": "✓", "cross": "✕", "bang": "!"}


# --- building blocks ---


def _style(widget: QWidget, sheet: str) -> None:
    """Set a style sheet only when it changes: re-polishing is the costly part of a render."""
    if widget.styleSheet() != sheet:
        widget.setStyleSheet(sheet)


class FitLabel(QLabel):
    """A one- or multi-line label whose font shrinks (never below `min_scale`) to fit its width and height.

    `scale` is the font's pixel size in hundredths of the window's short side. The size hint follows
    the nominal size, so layouts do not oscillate while the font fits itself.
    """

    def __init__(
        self,
        scale: float,
        *,
        bold: bool = False,
        colour: QColor = Palette.TEXT,
        align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
        natural_width: bool = False,
        min_scale: float | None = None,
        lines: int = 1,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.scale = scale
        self.min_scale = min_scale if min_scale is not None else max(2.6, scale * 0.55)
        self.lines = lines
        self.bold = bold
        self.natural_width = natural_width
        self._unit = 4.8  # pixels per hundredth of the short side (480 px)
        self._source = ""
        self.setAlignment(align)
        self.set_colour(colour)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setWordWrap(False)
        self.setSizePolicy(
            QSizePolicy.Policy.Preferred if natural_width else QSizePolicy.Policy.Ignored,
            QSizePolicy.Policy.Fixed,
        )
        self._fit()

    def set_colour(self, colour: QColor) -> None:
        sheet = f"color: {colour.name()}; background: transparent;"
        _style(self, sheet)

    def set_unit(self, unit: float) -> None:
        self._unit = unit
        self.updateGeometry()
        self._fit()

    def nominal_px(self) -> int:
        return max(8, round(self.scale * self._unit))

    def min_px(self) -> int:
        return max(8, round(self.min_scale * self._unit))

    def _font(self, px: int) -> QFont:
        font = QFont(self.font())
        font.setPixelSize(px)
        font.setBold(self.bold)
        return font

    def _line_height(self, px: int) -> int:
        return QFontMetrics(self._font(px)).lineSpacing()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        px = self.nominal_px()
        fm = QFontMetrics(self._font(px))
        margins = self.contentsMargins()
        width = max((fm.horizontalAdvance(line) for line in self._source.split("\n")), default=0)
        width += 8 + margins.left() + margins.right()
        return QSize(width if self.natural_width else 10, round(fm.lineSpacing() * self.lines * 1.08) + 4)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        hint = self.sizeHint()
        return QSize(10, hint.height())

    def setText(self, text: str) -> None:  # noqa: N802 (Qt API)
        if text == self._source:
            return
        self._source = text
        if self.natural_width:
            self.updateGeometry()
        self._fit()

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        self._fit()

    def required_width(self) -> int:
        fm = self.fontMetrics()
        return max((fm.horizontalAdvance(line) for line in self.text().split("\n")), default=0)

    def source_text(self) -> str:
        """The text as given (text() may have a line break inserted to wrap it)."""
        return self._source

    def _wrapped(self, px: int, width: int) -> str:
        """The source on one line if it fits, else (when `lines` > 1) broken in two balanced lines."""
        text = self._source
        fm = QFontMetrics(self._font(px))
        # one line while it fits at 80 % of the nominal size (or at the smallest size allowed, if that is
        # larger); shrinking beats breaking a short phrase
        shrink = max(0.8, self.min_px() / px)
        if self.lines < 2 or "\n" in text or fm.horizontalAdvance(text) * shrink <= width:
            return text
        words = text.split(" ")
        if len(words) > 1:
            candidates = [(" ".join(words[:i]), " ".join(words[i:])) for i in range(1, len(words))]
        else:
            candidates = [(text[:i], text[i:]) for i in range(1, len(text))]
        first, second = min(
            candidates, key=lambda c: max(fm.horizontalAdvance(c[0]), fm.horizontalAdvance(c[1]))
        )
        return f"{first}\n{second}"

    def _fit(self) -> None:
        px = self.nominal_px()
        width = self.contentsRect().width() - 2
        display = self._wrapped(px, width) if width > 10 else self._source
        if display != self.text():
            QLabel.setText(self, display)
        text_lines = display.split("\n")
        if width > 10 and self._source:
            fm = QFontMetrics(self._font(px))
            needed = max(fm.horizontalAdvance(line) for line in text_lines)
            while needed > width and px > self.min_px():
                px = max(self.min_px(), min(px - 1, math.floor(px * width / needed)))
                needed = max(QFontMetrics(self._font(px)).horizontalAdvance(line) for line in text_lines)
        self.setFont(self._font(px))


class BiText(QWidget):
    """One message in two languages: the chosen language large, the other smaller below it."""

    def __init__(
        self,
        scale: float,
        *,
        bold: bool = True,
        colour: QColor = Palette.TEXT,
        secondary_colour: QColor = Palette.TEXT_SECONDARY,
        align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
        secondary_ratio: float = 0.62,
        lines: int = 1,
        natural_width: bool = False,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.primary = FitLabel(
            scale, bold=bold, colour=colour, align=align, lines=lines, natural_width=natural_width
        )
        self.secondary = FitLabel(
            scale * secondary_ratio,
            colour=secondary_colour,
            align=align,
            lines=lines,
            natural_width=natural_width,
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.primary)
        layout.addWidget(self.secondary)
        self.setSizePolicy(
            QSizePolicy.Policy.Preferred if natural_width else QSizePolicy.Policy.Ignored,
            QSizePolicy.Policy.Fixed,
        )

    def set_texts(self, primary: str, secondary: str) -> None:
        self.primary.setText(primary)
        self.secondary.setText(secondary)

    def set_colours(self, primary: QColor, secondary: QColor) -> None:
        self.primary.set_colour(primary)
        self.secondary.set_colour(secondary)

    def texts(self) -> tuple[str, str]:
        return self.primary.source_text(), self.secondary.source_text()


class Icon(QWidget):
    """Pictograms drawn with QPainter: phone code, paper code, ID card, thermometer."""

    def __init__(self, kind: str, colour: QColor = Palette.TEXT, parent: QWidget | None = None):
        super().__init__(parent)
        self.kind = kind
        self.colour = colour
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        s = min(self.width(), self.height())
        p.translate((self.width() - s) / 2, (self.height() - s) / 2)
        pen = QPen(self.colour, max(2.0, s * 0.06))
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        draw = getattr(self, f"_draw_{self.kind}")
        draw(p, s)
        p.end()

    def _qr(self, p: QPainter, x: float, y: float, size: float) -> None:
        """A small QR-like pattern: three finder squares and a few modules."""
        p.save()
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(self.colour)
        m = size / 7
        for fx, fy in ((0, 0), (4, 0), (0, 4)):
            p.drawRect(QRectF(x + fx * m, y + fy * m, 3 * m, 3 * m))
        for mx, my in ((4, 4), (5, 5), (6, 4), (4, 6), (6, 6), (3, 5)):
            p.drawRect(QRectF(x + mx * m, y + my * m, m, m))
        p.restore()

    def _draw_phone(self, p: QPainter, s: float) -> None:
        p.drawRoundedRect(QRectF(s * 0.27, s * 0.06, s * 0.46, s * 0.88), s * 0.07, s * 0.07)
        p.drawLine(QPointF(s * 0.44, s * 0.86), QPointF(s * 0.56, s * 0.86))
        self._qr(p, s * 0.33, s * 0.28, s * 0.34)

    def _draw_paper(self, p: QPainter, s: float) -> None:
        path = QPainterPath()
        path.moveTo(s * 0.2, s * 0.06)
        path.lineTo(s * 0.62, s * 0.06)
        path.lineTo(s * 0.8, s * 0.24)
        path.lineTo(s * 0.8, s * 0.94)
        path.lineTo(s * 0.2, s * 0.94)
        path.closeSubpath()
        p.drawPath(path)
        p.drawPolyline([QPointF(s * 0.62, s * 0.06), QPointF(s * 0.62, s * 0.24), QPointF(s * 0.8, s * 0.24)])
        self._qr(p, s * 0.3, s * 0.36, s * 0.4)

    def _draw_card(self, p: QPainter, s: float) -> None:
        p.drawRoundedRect(QRectF(s * 0.04, s * 0.2, s * 0.92, s * 0.6), s * 0.06, s * 0.06)
        p.drawRect(QRectF(s * 0.62, s * 0.32, s * 0.24, s * 0.34))
        for i, w in enumerate((0.42, 0.34, 0.42)):
            y = s * (0.36 + i * 0.13)
            p.drawLine(QPointF(s * 0.13, y), QPointF(s * (0.13 + w), y))

    def _draw_thermometer(self, p: QPainter, s: float) -> None:
        stem = QRectF(s * 0.42, s * 0.06, s * 0.16, s * 0.6)
        p.drawRoundedRect(stem, s * 0.08, s * 0.08)
        p.drawEllipse(QPointF(s * 0.5, s * 0.76), s * 0.16, s * 0.16)
        p.save()
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(Palette.DENY if self.colour != Palette.DARK_TEXT else self.colour)
        p.drawEllipse(QPointF(s * 0.5, s * 0.76), s * 0.1, s * 0.1)
        p.drawRect(QRectF(s * 0.47, s * 0.35, s * 0.06, s * 0.38))
        p.restore()
        for i in range(4):
            y = s * (0.16 + i * 0.11)
            p.drawLine(QPointF(s * 0.62, y), QPointF(s * 0.7, y))


class Symbol(QWidget):
    """A filled circle with a drawn ✓, ✕, ! (results, read marks) or an empty ring (not yet read)."""

    def __init__(self, kind: str = "check", parent: QWidget | None = None):
        super().__init__(parent)
        self.kind = kind
        self.fill = Palette.TEXT
        self.ink = Palette.PASS
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    @property
    def char(self) -> str:
        return SYMBOL_CHARS.get(self.kind, "")

    def set_symbol(self, kind: str, fill: QColor, ink: QColor) -> None:
        self.kind, self.fill, self.ink = kind, fill, ink
        self.setAccessibleName(self.char)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        s = min(self.width(), self.height())
        p.translate((self.width() - s) / 2, (self.height() - s) / 2)
        r = QRectF(s * 0.04, s * 0.04, s * 0.92, s * 0.92)
        if self.kind == "pending":
            p.setPen(QPen(self.fill, max(2.0, s * 0.07)))
            p.drawEllipse(r.adjusted(s * 0.04, s * 0.04, -s * 0.04, -s * 0.04))
            p.end()
            return
        if self.kind == "measuring":
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(self.fill)
            p.drawEllipse(r)
            p.setBrush(self.ink)
            for i in range(3):
                p.drawEllipse(QPointF(s * (0.28 + i * 0.22), s * 0.5), s * 0.07, s * 0.07)
            p.end()
            return
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(self.fill)
        p.drawEllipse(r)
        pen = QPen(self.ink, s * 0.12)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        p.setPen(pen)
        if self.kind == "check":
            p.drawPolyline(
                [QPointF(s * 0.27, s * 0.52), QPointF(s * 0.43, s * 0.68), QPointF(s * 0.73, s * 0.34)]
            )
        elif self.kind == "cross":
            p.drawLine(QPointF(s * 0.32, s * 0.32), QPointF(s * 0.68, s * 0.68))
            p.drawLine(QPointF(s * 0.68, s * 0.32), QPointF(s * 0.32, s * 0.68))
        elif self.kind == "bang":
            p.drawLine(QPointF(s * 0.5, s * 0.24), QPointF(s * 0.5, s * 0.56))
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(self.ink)
            p.drawEllipse(QPointF(s * 0.5, s * 0.74), s * 0.075, s * 0.075)
        p.end()


class Preview(QWidget):
    """The camera preview area: the latest frame (if any) under an aiming frame."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._image: QImage | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_frame(self, image: QImage | None) -> None:
        self._image = image
        self.update()

    def aim_rect(self) -> QRectF:
        side = min(self.width(), self.height()) * 0.72
        return QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        clip = QPainterPath()
        radius = min(self.width(), self.height()) * 0.04
        clip.addRoundedRect(QRectF(self.rect()), radius, radius)
        p.setClipPath(clip)
        p.fillRect(self.rect(), QColor("#05101C"))
        if self._image is not None and not self._image.isNull():
            scaled = self._image.scaled(
                self.size(),
                Qt.AspectRatioMode.KeepAspectRatioByExpanding,
                Qt.TransformationMode.FastTransformation,
            )
            p.drawImage((self.width() - scaled.width()) // 2, (self.height() - scaled.height()) // 2, scaled)
        aim = self.aim_rect()
        p.fillPath(_outside(QRectF(self.rect()), aim), QColor(0, 0, 0, 110))
        corner = aim.width() * 0.2
        pen = QPen(Palette.ACCENT, max(4.0, aim.width() * 0.035))
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        p.setPen(pen)
        for cx, cy, dx, dy in (
            (aim.left(), aim.top(), 1, 1),
            (aim.right(), aim.top(), -1, 1),
            (aim.left(), aim.bottom(), 1, -1),
            (aim.right(), aim.bottom(), -1, -1),
        ):
            p.drawPolyline([QPointF(cx, cy + dy * corner), QPointF(cx, cy), QPointF(cx + dx * corner, cy)])
        p.end()


def _outside(outer: QRectF, inner: QRectF) -> QPainterPath:
    path = QPainterPath()
    path.addRect(outer)
    hole = QPainterPath()
    hole.addRect(inner)
    return path.subtracted(hole)


def to_qimage(frame: Any, *, bgr: bool = True) -> QImage:
    """A QImage from a QImage or a numpy frame (H x W grey, or H x W x 3 uint8, BGR as OpenCV gives)."""
    if isinstance(frame, QImage):
        return frame
    import numpy as np

    array = np.ascontiguousarray(frame, dtype=np.uint8)
    if array.ndim == 2:
        h, w = array.shape
        return QImage(array.data, w, h, array.strides[0], QImage.Format.Format_Grayscale8).copy()
    if array.ndim == 3 and array.shape[2] == 3:
        h, w, _ = array.shape
        fmt = QImage.Format.Format_BGR888 if bgr else QImage.Format.Format_RGB888
        return QImage(array.data, w, h, array.strides[0], fmt).copy()
    raise ValueError(f"unsupported frame shape {array.shape}")


def _box(direction: QBoxLayout.Direction, spacing: int = 0) -> QBoxLayout:
    layout = QBoxLayout(direction)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(spacing)
    return layout


class LanguageToggle(QFrame):
    """The traveller's 中文 / English switch on the idle page: a large button naming the other language."""

    clicked = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("langtoggle")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.label = FitLabel(4.4, bold=True, natural_width=True, align=Qt.AlignmentFlag.AlignCenter)
        layout = QHBoxLayout(self)
        layout.addWidget(self.label)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)
        self.set_pressed(False)

    def set_pressed(self, pressed: bool) -> None:
        bg = Palette.ACCENT if pressed else Palette.PANEL
        _style(
            self,
            f"#langtoggle {{ background: {bg.name()}; border: 3px solid {Palette.ACCENT.name()};"
            " border-radius: 14px; }",
        )
        self.label.set_colour(Palette.BACKGROUND if pressed else Palette.TEXT)

    def set_unit(self, unit: float) -> None:
        pad = round(unit * 1.2)
        self.layout().setContentsMargins(pad, pad, pad, pad)

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        self.set_pressed(True)
        event.accept()

    def mouseReleaseEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        self.set_pressed(False)
        if self.rect().contains(event.position().toPoint()):
            self.clicked.emit()
        event.accept()


# --- pages ---


class IdlePage(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.preview = Preview()
        self.aim_hint = BiText(4.2, bold=False, align=Qt.AlignmentFlag.AlignCenter)
        self.prompt = BiText(7.6, secondary_ratio=0.58, lines=2)
        self.accepted: dict[str, tuple[Icon, BiText]] = {}
        self.icons_row = QHBoxLayout()
        self.icons_row.setSpacing(8)
        for kind in ("phone", "paper", "card"):
            icon = Icon(kind)
            caption = BiText(4.0, align=Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            column = QVBoxLayout()
            column.setSpacing(4)
            column.addWidget(icon, 0, Qt.AlignmentFlag.AlignHCenter)
            column.addWidget(caption)
            self.icons_row.addLayout(column, 1)
            self.accepted[kind] = (icon, caption)
        self.thermo_icon = Icon("thermometer")
        self.stand = BiText(4.6, lines=2)
        self.stand_panel = QFrame()
        self.stand_panel.setObjectName("stand")
        _style(self.stand_panel, f"#stand {{ background: {Palette.PANEL.name()}; border-radius: 10px; }}")
        stand_row = QHBoxLayout(self.stand_panel)
        stand_row.addWidget(self.thermo_icon)
        stand_row.addWidget(self.stand, 1)

        left = QVBoxLayout()
        left.setSpacing(4)
        left.addWidget(self.preview, 1)
        left.addWidget(self.aim_hint)
        self.language_toggle = LanguageToggle()
        bottom_row = QHBoxLayout()
        bottom_row.setSpacing(8)
        bottom_row.addWidget(self.stand_panel, 1)
        bottom_row.addWidget(self.language_toggle, 0)
        right = QVBoxLayout()
        right.setSpacing(0)
        right.addStretch(1)
        right.addWidget(self.prompt)
        right.addStretch(1)
        right.addLayout(self.icons_row)
        right.addStretch(1)
        right.addLayout(bottom_row)
        self.main = _box(QBoxLayout.Direction.LeftToRight, 24)
        self.main.addLayout(left, 5)
        self.main.addLayout(right, 6)
        self.setLayout(self.main)
        self.prompt.primary.min_scale = 3.4
        self.prompt.secondary.min_scale = 2.6

    def set_portrait(self, portrait: bool, unit: float) -> None:
        self.main.setDirection(
            QBoxLayout.Direction.TopToBottom if portrait else QBoxLayout.Direction.LeftToRight
        )
        self.main.setSpacing(round(unit * (3 if portrait else 4)))
        self.main.setStretch(0, 6 if portrait else 5)
        self.main.setStretch(1, 5 if portrait else 6)
        for icon, _ in self.accepted.values():
            icon.setFixedSize(QSize(round(unit * 11), round(unit * 11)))
        self.thermo_icon.setFixedSize(QSize(round(unit * 9), round(unit * 9)))
        self.language_toggle.set_unit(unit)


class ReadingRow(QFrame):
    def __init__(self, icon: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("row")
        self.icon = Icon(icon)
        self.label = BiText(5.6)
        self.mark = Symbol("pending")
        self.status = BiText(5.6, align=Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        row = QHBoxLayout(self)
        row.addWidget(self.icon)
        row.addWidget(self.label, 5)
        row.addWidget(self.status, 6)
        row.addWidget(self.mark)
        self.highlight(False)

    def highlight(self, on: bool) -> None:
        colour = Palette.REFER if on else Palette.PANEL
        _style(self, f"#row {{ background: {colour.name()}; border-radius: 12px; }}")
        text = Palette.DARK_TEXT if on else Palette.TEXT
        secondary = Palette.DARK_TEXT if on else Palette.TEXT_SECONDARY
        self.label.set_colours(text, secondary)
        self.status.set_colours(text, secondary)
        self.icon.colour = text
        self.icon.update()


class ReadingPage(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = BiText(7.0, align=Qt.AlignmentFlag.AlignCenter)
        self.code = ReadingRow("phone")
        self.card = ReadingRow("card")
        self.temperature = ReadingRow("thermometer")
        self.hint = BiText(4.6, align=Qt.AlignmentFlag.AlignCenter, bold=False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addStretch(1)
        layout.addWidget(self.title)
        layout.addStretch(1)
        for row in (self.code, self.card, self.temperature):
            layout.addWidget(row)
        layout.addWidget(self.hint)
        layout.addStretch(1)

    def set_unit(self, unit: float) -> None:
        for row in (self.code, self.card, self.temperature):
            row.icon.setFixedSize(QSize(round(unit * 9), round(unit * 9)))
            row.mark.setFixedSize(QSize(round(unit * 8), round(unit * 8)))
            row.layout().setContentsMargins(*(round(unit * 2),) * 4)


class ResultPage(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("result")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.decision = ""
        self.background = Palette.PASS
        self.symbol = Symbol("check")
        self.headline = BiText(12.0, secondary_ratio=0.5)
        self.headline.primary.min_scale = 6.0
        self.reasons = [BiText(5.0, secondary_ratio=0.7) for _ in range(MAX_REASONS)]
        self.more = FitLabel(3.6)
        self.name = BiText(5.0, secondary_ratio=0.6, natural_width=True)
        self.temperature = BiText(5.0, secondary_ratio=0.6, natural_width=True)
        text_column = QVBoxLayout()
        text_column.setSpacing(6)
        text_column.addStretch(1)
        text_column.addWidget(self.headline)
        text_column.addSpacing(12)
        for reason in self.reasons:
            text_column.addWidget(reason)
        text_column.addWidget(self.more)
        text_column.addSpacing(12)
        details = QHBoxLayout()
        details.setSpacing(48)
        details.addWidget(self.name)
        details.addWidget(self.temperature)
        details.addStretch(1)
        text_column.addLayout(details)
        text_column.addStretch(1)
        self.main = _box(QBoxLayout.Direction.LeftToRight, 24)
        self.main.addWidget(self.symbol, 0, Qt.AlignmentFlag.AlignCenter)
        self.main.addLayout(text_column, 1)
        self.setLayout(self.main)

    def set_portrait(self, portrait: bool, unit: float) -> None:
        self.main.setDirection(
            QBoxLayout.Direction.TopToBottom if portrait else QBoxLayout.Direction.LeftToRight
        )
        side = round(unit * (44 if portrait else 38))
        self.symbol.setFixedSize(QSize(side, side))
        margin = round(unit * 4)
        self.main.setContentsMargins(margin, margin, margin, margin)
        self.main.setSpacing(round(unit * 5))


class StatusStrip(QFrame):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("strip")
        _style(self, "#strip { background: #060E18; }")
        self.site = FitLabel(3.6, bold=True, natural_width=True)
        self.chips: dict[str, FitLabel] = {
            name: FitLabel(3.3, natural_width=True, min_scale=2.2, align=Qt.AlignmentFlag.AlignCenter)
            for name in ("network", "sync", "keys", "list", "clock", "faults")
        }
        self.time = FitLabel(
            3.6,
            bold=True,
            natural_width=True,
            align=Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
        )
        self.rows = QVBoxLayout(self)
        self.row = QHBoxLayout()
        self.row2 = QHBoxLayout()
        self.rows.addLayout(self.row)
        self.rows.addLayout(self.row2)
        self.row.addWidget(self.site, 1)
        self.row.addWidget(self.time, 0)
        self._two_rows: bool | None = None

    def set_unit(self, unit: float, width: int) -> None:
        pad = round(unit * 1.0)
        self.rows.setContentsMargins(pad * 2, pad, pad * 2, pad)
        self.rows.setSpacing(pad)
        self.row.setSpacing(pad)
        self.row2.setSpacing(pad)
        two_rows = True  # chips on a row of their own: room for every warning at every size
        if two_rows == self._two_rows:
            return
        self._two_rows = two_rows
        for chip in self.chips.values():
            self.row.removeWidget(chip)
            self.row2.removeWidget(chip)
        while self.row2.count():
            self.row2.takeAt(0)
        target, at = (self.row2, 0) if two_rows else (self.row, 1)
        for i, chip in enumerate(self.chips.values()):
            target.insertWidget(at + i, chip, 0)
        if two_rows:
            self.row2.addStretch(1)

    CHIP_SCALE = 3.3

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        self.fit_chips()

    def fit_chips(self) -> None:
        """Shrink every chip's font alike when the row is too narrow for them at their nominal size."""
        chips = [c for c in self.chips.values() if c.source_text()]
        if not chips:
            return
        for chip in chips:
            chip.scale = self.CHIP_SCALE
        margins = self.rows.contentsMargins()
        available = self.width() - margins.left() - margins.right() - self.row2.spacing() * len(chips)
        needed = sum(chip.sizeHint().width() for chip in chips)
        if self.width() > 0 and needed > available:
            factor = available / needed * 0.97
            for chip in chips:
                chip.scale = max(chip.min_scale, self.CHIP_SCALE * factor)
        for chip in chips:
            chip.updateGeometry()
            chip.set_unit(chip._unit)

    def set_chip(self, name: str, text: str, level: str) -> None:
        chip = self.chips[name]
        chip.setVisible(bool(text))
        chip.setText(text)
        bg, fg = {
            "ok": (Palette.PANEL, Palette.TEXT),
            "warning": (Palette.REFER, Palette.DARK_TEXT),
            "bad": (Palette.DENY, Palette.TEXT),
        }[level]
        chip.setContentsMargins(6, 0, 6, 0)
        _style(chip, f"color: {fg.name()}; background: {bg.name()}; border-radius: 6px;")
        chip.level = level  # type: ignore[attr-defined]


# --- the screen ---


class TravellerScreen(QWidget):
    """The traveller-facing screen. `render()` it with the loop's state and the status; nothing else."""

    def __init__(self, language: str = "zh", texts_: Texts | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.texts = texts_ or texts()
        self.language = language
        self.default_language = language  # the site's; a traveller's choice reverts to it after the visit
        self._chosen_at: float | None = None
        self._in_visit = False
        self.state = LoopState()
        self.status = StatusInfo()
        self.setObjectName("traveller")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        _style(self, f"#traveller {{ background: {Palette.BACKGROUND.name()}; }}")
        font = QFont()
        font.setFamilies(FONT_FAMILIES)
        self.setFont(font)
        self.strip = StatusStrip()
        self.idle = IdlePage()
        self.reading = ReadingPage()
        self.result = ResultPage()
        self.idle.language_toggle.clicked.connect(self.toggle_language)
        self.pages = QStackedWidget()
        for page in (self.idle, self.reading, self.result):
            page.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
            self.pages.addWidget(page)
        self.body = QWidget()
        body_layout = QVBoxLayout(self.body)
        body_layout.addWidget(self.pages)
        self.body_layout = body_layout
        layout = QVBoxLayout(self)
        # the window's size is given (the display); sizes follow it, never the other way round
        layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.strip)
        layout.addWidget(self.body, 1)
        self._unit = 0.0
        self._portrait: bool | None = None
        self._relayout()
        self.render(self.state, self.status)

    # --- public API ---

    def render(self, state: LoopState, status: StatusInfo | None = None) -> None:
        """Show this state (and status strip). Cheap, non-blocking: call it on every state change."""
        self.state = state
        if status is not None:
            self.status = status
        self._revert_language(state)
        self._render_strip()
        outcome = state.outcome
        if state.state in (State.DECIDED, State.ACTUATING) and outcome is not None:
            self._render_result()
            self.pages.setCurrentWidget(self.result)
            self.body_layout.setContentsMargins(0, 0, 0, 0)
        elif state.state is State.IDLE:
            self._render_idle()
            self.pages.setCurrentWidget(self.idle)
            self._body_margins()
        else:
            self._render_reading()
            self.pages.setCurrentWidget(self.reading)
            self._body_margins()

    def set_language(self, language: str) -> None:
        """The site's language (the default every visit starts in)."""
        self.language = self.default_language = language
        self._chosen_at = None
        self.render(self.state, self.status)

    def choose_language(self, language: str) -> None:
        """A traveller's choice on the idle page: lasts for their visit, then the site default returns."""
        self.language = language
        self._chosen_at = None if language == self.default_language else time.monotonic()
        self.render(self.state, self.status)

    def toggle_language(self) -> None:
        self.choose_language("en" if self.language == "zh" else "zh")

    def _revert_language(self, state: LoopState) -> None:
        if state.state is not State.IDLE:
            self._in_visit = True
            return
        lapsed = self._chosen_at is not None and time.monotonic() - self._chosen_at > CHOSEN_LANGUAGE_SECONDS
        if (self._in_visit or lapsed) and self.language != self.default_language:
            self.language = self.default_language
            self._chosen_at = None
        self._in_visit = False

    def set_frame(self, frame: Any, *, bgr: bool = True) -> None:
        """The latest camera frame for the preview (QImage, or a numpy array as OpenCV gives it)."""
        self.idle.preview.set_frame(None if frame is None else to_qimage(frame, bgr=bgr))

    def labels(self) -> list[FitLabel]:
        """Every visible text label on the current page and the strip (for tests and checks)."""
        found = self.strip.findChildren(FitLabel) + self.pages.currentWidget().findChildren(FitLabel)
        return [label for label in found if label.isVisibleTo(self) and label.source_text()]

    def visible_texts(self) -> list[str]:
        return [label.source_text() for label in self.labels()]

    # --- rendering ---

    def _t(self, msg_id: str, **values: object) -> tuple[str, str]:
        other = "en" if self.language == "zh" else "zh"
        return self.texts.get(msg_id, self.language, **values), self.texts.get(msg_id, other, **values)

    def _set(self, widget: BiText, msg_id: str, **values: object) -> None:
        primary, secondary = self._t(msg_id, **values)
        widget.set_texts(primary, "" if secondary == primary else secondary)

    def _render_idle(self) -> None:
        page = self.idle
        page.language_toggle.label.setText(LANGUAGE_NAMES["en" if self.language == "zh" else "zh"])
        self._set(page.prompt, "idle.prompt")
        self._set(page.aim_hint, "idle.aim")
        for kind, msg in (("phone", "idle.phone"), ("paper", "idle.paper"), ("card", "idle.card")):
            self._set(page.accepted[kind][1], msg)
        self._set(page.stand, "idle.stand")

    def _render_reading(self) -> None:
        page, s = self.reading, self.state
        self._set(page.title, "reading.title")
        for row, msg, done in (
            (page.code, "reading.code", s.code_read),
            (page.card, "reading.card", s.card_read),
        ):
            self._set(row.label, msg)
            self._set(row.status, "reading.read" if done else "reading.waiting")
            if done:
                row.mark.set_symbol("check", Palette.PASS, Palette.TEXT)
            else:
                row.mark.set_symbol("pending", Palette.MUTED, Palette.MUTED)
            row.highlight(False)
        row = page.temperature
        self._set(row.label, "reading.temperature")
        page.hint.setVisible(s.remeasuring)
        if s.remeasuring:
            self._set(row.status, "reading.remeasure")
            self._set(page.hint, "reading.remeasure_hint")
            row.mark.set_symbol("measuring", Palette.DARK_TEXT, Palette.REFER)
        elif s.measuring:
            self._set(row.status, "reading.measuring")
            row.mark.set_symbol("measuring", Palette.ACCENT, Palette.BACKGROUND)
        elif s.temperature is not None:
            self._set(row.status, "reading.celsius", t=f"{s.temperature:.1f}")
            row.mark.set_symbol("check", Palette.PASS, Palette.TEXT)
        else:
            self._set(row.status, "reading.waiting")
            row.mark.set_symbol("pending", Palette.MUTED, Palette.MUTED)
        row.highlight(s.remeasuring)

    def _render_result(self) -> None:
        page, outcome = self.result, self.state.outcome
        assert outcome is not None
        decision = outcome.decision.decision
        background, ink, symbol, headline = RESULTS.get(decision, RESULTS["refer"])
        page.decision = decision
        page.background = background
        _style(page, f"#result {{ background: {background.name()}; }}")
        page.symbol.set_symbol(symbol, ink, background)
        self._set(page.headline, headline)
        secondary = ink if ink == Palette.DARK_TEXT else QColor("#F1F5F1")
        page.headline.set_colours(ink, secondary)
        reasons = [r for r in outcome.decision.reasons if decision == "pass" or r not in POSITIVE_REASONS]
        other = "en" if self.language == "zh" else "zh"
        for widget, code in zip(page.reasons, reasons + [""] * MAX_REASONS, strict=False):
            widget.setVisible(bool(code))
            widget.set_colours(ink, secondary)
            if code:
                t = outcome.temperature
                widget.set_texts(self.texts.reason(code, self.language, t), self.texts.reason(code, other, t))
        extra = len(reasons) - MAX_REASONS
        page.more.setVisible(extra > 0)
        page.more.set_colour(ink)
        if extra > 0:
            page.more.setText(" / ".join(self._t("result.more", n=extra)))
        page.name.setVisible(bool(outcome.masked_name))
        if outcome.masked_name:
            page.name.set_texts(outcome.masked_name, " / ".join(self._t("result.name")))
        page.temperature.setVisible(outcome.temperature is not None)
        if outcome.temperature is not None:
            page.temperature.set_texts(
                f"{outcome.temperature:.1f} °C", " / ".join(self._t("result.temperature"))
            )
        for widget in (page.name, page.temperature):
            widget.set_colours(ink, secondary)

    def _render_strip(self) -> None:
        st, strip, lang = self.status, self.strip, self.language
        get = self.texts.get
        strip.site.setText(st.site)
        strip.time.setText(st.now.strftime("%Y-%m-%d  %H:%M") if st.now else "")
        strip.set_chip(
            "network",
            get("status.online" if st.online else "status.offline", lang),
            "ok" if st.online else "warning",
        )
        when = st.last_sync.strftime("%m-%d %H:%M") if st.last_sync else get("status.never", lang)
        if st.sync_blocked:
            strip.set_chip("sync", get("status.sync_blocked", lang), "warning")
        else:
            strip.set_chip("sync", get("status.sync", lang, when=when), "ok")
        for chip, msg, fresh in (("keys", "status.keys", st.keys), ("list", "status.list", st.status_list)):
            level = {"ok": "ok", "warning": "warning"}.get(fresh, "bad")
            strip.set_chip(chip, f"{get(msg, lang)} {get('status.' + fresh, lang)}", level)
        strip.set_chip("clock", "" if st.clock_ok else get("status.clock", lang), "bad")
        devices = (
            "、".join(self.texts.device(d, lang) for d in st.faults)
            if lang == "zh"
            else ", ".join(self.texts.device(d, lang) for d in st.faults)
        )
        strip.set_chip("faults", get("status.fault", lang, devices=devices) if st.faults else "", "bad")
        strip.fit_chips()

    # --- geometry ---

    def _body_margins(self) -> None:
        m = round(self._unit * 4)
        self.body_layout.setContentsMargins(m, m, m, m)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        self._relayout()

    def _relayout(self) -> None:
        w, h = max(self.width(), 1), max(self.height(), 1)
        unit = min(w, h) / 100
        portrait = h > w
        if unit == self._unit and portrait == self._portrait:
            return
        self._unit, self._portrait = unit, portrait
        for label in self.findChildren(FitLabel):
            label.set_unit(unit)
        self.idle.set_portrait(portrait, unit)
        self.result.set_portrait(portrait, unit)
        self.reading.set_unit(unit)
        self.strip.set_unit(unit, w)
        self.strip.fit_chips()
        if self.pages.currentWidget() is not self.result:
            self._body_margins()
