"""Printable A6 "offline code": a paper health code for people without phones.

One A6 page (105 x 148 mm) in Chinese and English: the QR symbol of the PHIC text (ECC M, drawn as
vector shapes with its 4-module quiet zone, about 62 mm wide), the colour as a band with words in it
(never colour alone: a black-and-white print still says 绿码 / Green code), the masked name and ID
number, the validity in Asia/Shanghai local time with its UTC offset, the issuing authority and short
instructions.

Chinese text needs a CJK font that fpdf2 can embed. We look for one at run time, never ship one:
Noto Sans CJK SC from Debian's fonts-noto-cjk first (an OpenType collection with CFF outlines, which
fpdf2 2.8 embeds as a CID-keyed CFF subset), then WenQuanYi Zen Hei (fonts-wqy-zenhei, TrueType) and
AR PL UMing (fonts-arphic-uming), then whatever `fc-match sans-serif:lang=zh-cn` offers.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import TTFFont

from kiosk.issuer.phic import Minted
from kiosk.issuer.qr import make_qr

PAGE_W, PAGE_H = 105.0, 148.0  # A6, mm
MARGIN = 6.0
QR_TARGET_MM = 62.0  # symbol plus quiet zone; must stay >= 55 mm to scan well from paper
QUIET_MODULES = 4

COLOURS = {
    # words, band fill, text colour on the band: dark fills with white text and yellow with black
    # text all keep a contrast ratio above 7:1, and still read in a greyscale print.
    "green": ("绿码", "Green code", (0, 100, 45), (255, 255, 255)),
    "yellow": ("黄码", "Yellow code", (255, 214, 0), (0, 0, 0)),
    "red": ("红码", "Red code", (170, 0, 20), (255, 255, 255)),
}

INSTRUCTIONS_ZH = "请出示本码及本人证件供核验；勿折叠、涂改或遮挡二维码；过期失效。"
INSTRUCTIONS_EN = (
    "Show this code and your ID document at checkpoints. Do not fold, mark or cover the QR code. "
    "Not valid after expiry."
)


class PaperError(ValueError):
    """A paper code cannot be made (for instance: no CJK font installed). A ValueError, so the CLI prints it plainly."""


@dataclass(frozen=True, slots=True)
class FontChoice:
    regular: Path
    regular_index: int
    bold: Path
    bold_index: int
    package: str  # the Debian package that ships it, for messages and docs


# (regular, index, bold, index, Debian package). Index 2 of the Noto Sans CJK collections is the
# Simplified Chinese face ("Noto Sans CJK SC"): the collection's faces share glyphs but differ in
# the default forms of some Han characters, and SC matches the mainland forms.
_NOTO = "/usr/share/fonts/opentype/noto/NotoSansCJK-{}.ttc"
_NOTO_FEDORA = "/usr/share/fonts/google-noto-cjk/NotoSansCJK-{}.ttc"
_NOTO_ARCH = "/usr/share/fonts/noto-cjk/NotoSansCJK-{}.ttc"
KNOWN_FONTS: tuple[tuple[str, int, str, int, str], ...] = (
    (_NOTO.format("Regular"), 2, _NOTO.format("Bold"), 2, "fonts-noto-cjk"),
    (_NOTO_FEDORA.format("Regular"), 2, _NOTO_FEDORA.format("Bold"), 2, "google-noto-sans-cjk-ttc-fonts"),
    (_NOTO_ARCH.format("Regular"), 2, _NOTO_ARCH.format("Bold"), 2, "noto-fonts-cjk"),
    (
        "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
        0,
        "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
        0,
        "fonts-wqy-zenhei",
    ),
    (
        "/usr/share/fonts/truetype/arphic/uming.ttc",
        0,
        "/usr/share/fonts/truetype/arphic/uming.ttc",
        0,
        "fonts-arphic-uming",
    ),
)


def _fpdf_embeds_cff() -> bool:
    """fpdf2 2.8 embeds OpenType fonts with CFF outlines (such as Noto Sans CJK); older releases do not."""
    return "is_cff" in getattr(TTFFont, "__slots__", ())


def _is_cff(path: Path, index: int) -> bool:
    from fontTools.ttLib import TTFont

    try:
        font = TTFont(str(path), fontNumber=index, lazy=True)
        return "CFF " in font or "CFF2" in font
    except Exception:  # unreadable: let the caller skip it
        return True


def _usable(path: Path, index: int) -> bool:
    return path.is_file() and (_fpdf_embeds_cff() or not _is_cff(path, index))


def _fc_match(pattern: str) -> tuple[Path, int] | None:
    """fontconfig's best font for `pattern`, if it really covers Simplified Chinese (fc-match always answers)."""
    if not shutil.which("fc-match"):
        return None
    try:
        out = subprocess.run(
            ["fc-match", "-f", "%{file}\t%{index}\t%{lang}", pattern],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    file, _, rest = out.partition("\t")
    index, _, langs = rest.partition("\t")
    if not file or "zh-cn" not in langs.split("|"):
        return None
    return Path(file), int(index) if index.isdigit() else 0


def find_cjk_font() -> FontChoice:
    """The first usable CJK font from KNOWN_FONTS, else from fontconfig; PaperError if there is none."""
    for regular, ri, bold, bi, package in KNOWN_FONTS:
        reg = Path(regular)
        if _usable(reg, ri):
            bold_path = Path(bold)
            if not _usable(bold_path, bi):
                bold_path, bi = reg, ri
            return FontChoice(reg, ri, bold_path, bi, package)
    found = _fc_match("sans-serif:lang=zh-cn")
    if found and found[0].suffix.lower() in (".ttf", ".ttc", ".otf", ".otc") and _usable(*found):
        bold = _fc_match("sans-serif:lang=zh-cn:weight=bold")
        if not (bold and bold[0].suffix.lower() in (".ttf", ".ttc", ".otf", ".otc") and _usable(*bold)):
            bold = found
        return FontChoice(found[0], found[1], bold[0], bold[1], "(fontconfig)")
    raise PaperError(
        "no Chinese (CJK) font found for the paper code: install the Debian package fonts-noto-cjk "
        "(apt-get install fonts-noto-cjk)"
    )


def _shanghai():
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Asia/Shanghai")
    except Exception:  # no tz database: China has kept UTC+8 without DST since 1991
        return timezone(timedelta(hours=8), "CST")


def format_local(ts: int) -> tuple[str, str]:
    """POSIX seconds -> ("2026-11-25 08:00", "UTC+08:00") in Asia/Shanghai."""
    local = datetime.fromtimestamp(ts, UTC).astimezone(_shanghai())
    offset = local.strftime("%z")  # +0800
    return local.strftime("%Y-%m-%d %H:%M"), f"UTC{offset[:3]}:{offset[3:]}"


class _Page(FPDF):
    def __init__(self, font: FontChoice) -> None:
        super().__init__(orientation="P", unit="mm", format=(PAGE_W, PAGE_H))
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(False)
        self.c_margin = 0
        self.add_font("cjk", "", str(font.regular), collection_font_number=font.regular_index)
        self.add_font("cjk", "B", str(font.bold), collection_font_number=font.bold_index)

    def fit_size(self, text: str, width: float, size: float, minimum: float, style: str = "") -> float:
        """The largest size <= `size` (down to `minimum`) at which `text` fits `width` on one line."""
        self.set_font("cjk", style, size)
        while size > minimum and self.get_string_width(text) > width:
            size -= 0.5
            self.set_font("cjk", style, size)
        return size

    def text_at(
        self,
        text: str,
        x: float,
        y: float,
        w: float,
        h: float,
        size: float,
        style: str = "",
        align: str = "L",
    ):
        self.set_font("cjk", style, size)
        self.set_xy(x, y)
        self.cell(w, h, text, align=align)

    def two_lines(self, text: str, width: float) -> list[str]:
        """`text` wrapped to `width` in the current font: at most two lines, the second ending in "…" if cut."""
        lines = self.multi_cell(width, 1, text, dry_run=True, output="LINES")
        if len(lines) <= 2:
            return lines
        second = " ".join(lines[1:])
        while second and self.get_string_width(second + "…") > width:
            second = second[:-1]
        return [lines[0], second.rstrip() + "…"]


def _draw_qr(pdf: FPDF, text: str, x: float, y: float, size: float) -> float:
    """The QR symbol of `text` with its quiet zone in a `size` mm square at (x, y); returns the module size.

    The dark modules are one filled path of horizontal runs, so renderers draw no seams between them.
    """
    qr = make_qr(text)
    matrix = [list(row) for row in qr.matrix]
    n = len(matrix)
    module = size / (n + 2 * QUIET_MODULES)
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(x, y, size, size, style="F")
    ox = oy = QUIET_MODULES * module
    with pdf.new_path() as path:
        path.style.fill_color = "#000000"
        path.style.stroke_color = None
        for r, row in enumerate(matrix):
            c = 0
            while c < n:
                if row[c] & 1:
                    start = c
                    while c < n and row[c] & 1:
                        c += 1
                    path.rectangle(x + ox + start * module, y + oy + r * module, (c - start) * module, module)
                else:
                    c += 1
    return module


def write_paper(
    minted: Minted,
    iss: str,
    out: str | Path,
    *,
    issuer_name: str | None = None,
    colour: str = "green",
    font: FontChoice | None = None,
) -> Path:
    """Write the A6 PDF offline code for `minted` (signed by issuer `iss`) to `out`; returns the path."""
    if colour not in COLOURS:
        raise PaperError(f"colour must be one of {', '.join(COLOURS)}")
    zh, en, fill, ink = COLOURS[colour]
    pdf = _Page(font or find_cjk_font())
    pdf.set_title("离线健康码 Offline health code")
    pdf.set_creator("healthcode-kiosk")
    pdf.set_lang("zh-CN")
    pdf.add_page()
    inner = PAGE_W - 2 * MARGIN
    pdf.set_text_color(0, 0, 0)

    # Title.
    y = MARGIN - 1
    pdf.text_at("离线健康码", MARGIN, y, inner, 7, 15, "B")
    pdf.text_at("Offline health code (paper)", MARGIN, y + 1.2, inner, 6, 9, "", align="R")
    y += 7.5

    # Colour band: colour plus words.
    band_h = 11.0
    pdf.set_fill_color(*fill)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.4)
    pdf.rect(MARGIN, y, inner, band_h, style="DF")
    pdf.set_text_color(*ink)
    words = f"{zh}  /  {en}"
    size = pdf.fit_size(words, inner - 4, 20, 12, "B")
    pdf.text_at(words, MARGIN, y, inner, band_h, size, "B", align="C")
    pdf.set_text_color(0, 0, 0)
    y += band_h + 1

    # QR symbol, centred, with its quiet zone.
    qr_size = QR_TARGET_MM
    _draw_qr(pdf, minted.text, (PAGE_W - qr_size) / 2, y, qr_size)
    y += qr_size + 1

    # Holder, validity, issuer.
    start, offset = format_local(minted.iat)
    until, offset_until = format_local(minted.exp)
    authority = iss if not issuer_name else f"{iss}  {issuer_name}"
    rows = (
        ("姓名", "Name", minted.masked_name),
        ("证件号码", "ID number", minted.masked_id),
        ("有效期自", "Valid from", f"{start}  ({offset})"),
        ("有效期至", "Valid until", f"{until}  ({offset_until})"),
        ("签发机构", "Issued by", authority),
    )
    label_w = 26.0
    value_w = inner - label_w
    row_h = 7.4
    pdf.set_draw_color(150, 150, 150)
    pdf.set_line_width(0.2)
    for zh_label, en_label, value in rows:
        pdf.text_at(zh_label, MARGIN, y + 0.1, label_w, 3.6, 8.5, "B")
        pdf.text_at(en_label, MARGIN, y + 3.7, label_w, 3.0, 7)
        size = pdf.fit_size(value, value_w, 12, 7, "B")
        if pdf.get_string_width(value) <= value_w:
            pdf.text_at(value, MARGIN + label_w, y, value_w, row_h, size, "B")
        else:  # still too long at the smallest size: two lines, the second cut short if need be
            for i, part in enumerate(pdf.two_lines(value, value_w)):
                pdf.text_at(part, MARGIN + label_w, y + 0.2 + i * 3.4, value_w, 3.4, size, "B")
        y += row_h
        pdf.line(MARGIN, y - 0.4, PAGE_W - MARGIN, y - 0.4)

    # Instructions and the code's serial for the record.
    y += 1.2
    pdf.set_xy(MARGIN, y)
    pdf.set_font("cjk", "", 8)
    pdf.multi_cell(inner, 3.6, INSTRUCTIONS_ZH, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", "", 7.5)
    pdf.multi_cell(inner, 3.3, INSTRUCTIONS_EN, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(60, 60, 60)
    y = pdf.get_y() + 0.3
    pdf.text_at(f"编号 No. {minted.cti.hex()[:16]}", MARGIN, y, inner, 3.5, 7, align="R")
    if y + 3.5 > PAGE_H - MARGIN:  # a layout change that no longer fits the printable area
        raise PaperError("paper code layout overflows the A6 page")

    out = Path(out)
    pdf.output(str(out))
    return out
