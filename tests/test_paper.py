"""The A6 PDF offline code: checked as a reader and a scanner would, through poppler and zxing-cpp."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from kiosk.issuer import paper, phic
from kiosk.issuer.qr import make_qr

NAME = "张小三"
ID_NUMBER = "440301199001011234"
ISSUER_NAME = "广东省卫生健康委员会"
NOW = int(datetime(2026, 11, 25, 0, 0, tzinfo=UTC).timestamp())  # 08:00 in Shanghai
MM_PER_PT = 25.4 / 72


def _font():
    try:
        return paper.find_cjk_font()
    except paper.PaperError as exc:
        pytest.skip(f"no CJK font installed (apt-get install fonts-noto-cjk): {exc}")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        pytest.skip(f"{name} not installed (Debian package poppler-utils)")
    return path


def _mint(issuer, colour: str = "green") -> phic.Minted:
    return phic.mint(
        issuer, colour=colour, name=NAME, id_number=ID_NUMBER, now=NOW, code_type="p", valid_hours=7 * 24
    )


def _pdftotext(pdf) -> str:
    return subprocess.run(
        [_tool("pdftotext"), "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture(scope="module")
def sheet(es256_issuer, tmp_path_factory):
    """One green paper code, written once: (minted, pdf path)."""
    font = _font()
    minted = _mint(es256_issuer)
    out = tmp_path_factory.mktemp("paper") / "code.pdf"
    assert paper.write_paper(minted, es256_issuer.iss, out, issuer_name=ISSUER_NAME, font=font) == out
    return minted, out


def test_page_is_a6(sheet):
    _, pdf = sheet
    boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf.read_bytes())
    assert len(boxes) == 1, "exactly one page"
    w, h = (float(v) * MM_PER_PT for v in boxes[0])
    assert w == pytest.approx(105, abs=0.3) and h == pytest.approx(148, abs=0.3)


def test_text_is_bilingual_masked_and_complete(sheet):
    minted, pdf = sheet
    text = _pdftotext(pdf)
    tz = ZoneInfo("Asia/Shanghai")
    for expected in (
        "张*三",
        minted.masked_id,
        "440301********1234",
        "绿码",
        "Green code",
        "440000",
        ISSUER_NAME,
        datetime.fromtimestamp(minted.iat, tz).strftime("%Y-%m-%d %H:%M"),
        "2026-11-25 08:00",
        "2026-12-02 08:00",
        "UTC+08:00",
        "离线健康码",
        "Offline health code",
        "Valid from",
        "Valid until",
    ):
        assert expected in text, f"{expected!r} missing from the PDF text:\n{text}"
    # the holder's full name and ID number are never on the paper, in the text or anywhere in the file
    compact = re.sub(r"\s+", "", text)
    assert NAME not in compact and ID_NUMBER not in compact and "19900101" not in compact
    assert ID_NUMBER.encode() not in pdf.read_bytes()


def test_fonts_are_embedded(sheet):
    _, pdf = sheet
    out = subprocess.run([_tool("pdffonts"), str(pdf)], capture_output=True, text=True, check=True).stdout
    rows = out.splitlines()[2:]
    assert rows, out
    for row in rows:  # columns: name type encoding emb sub uni object ID
        assert re.search(r"\byes\s+yes\s+yes\s+\d+\s+\d+\s*$", row), (
            f"font not embedded as a unicode subset: {row}"
        )


def test_qr_scans_back_to_the_minted_text(sheet, tmp_path):
    cv2 = pytest.importorskip("cv2")
    zxingcpp = pytest.importorskip("zxingcpp")
    minted, pdf = sheet
    subprocess.run(
        [_tool("pdftoppm"), "-r", "200", "-png", "-singlefile", str(pdf), str(tmp_path / "page")], check=True
    )
    gray = cv2.imread(str(tmp_path / "page.png"), cv2.IMREAD_GRAYSCALE)
    assert gray is not None
    h, w = gray.shape
    assert (w, h) == pytest.approx((105 / 25.4 * 200, 148 / 25.4 * 200), abs=2)
    found = zxingcpp.read_barcodes(gray)
    assert [r.text for r in found] == [minted.text]
    assert "QR" in str(found[0].format)
    # big enough to scan from paper: the symbol plus its 4-module quiet zone is at least 55 mm wide
    pos = found[0].position
    symbol_px = ((pos.top_right.x - pos.top_left.x) + (pos.bottom_right.x - pos.bottom_left.x)) / 2
    modules = make_qr(minted.text).symbol_size(border=0)[0]
    width_mm = symbol_px / 200 * 25.4 * (modules + 8) / modules
    assert width_mm >= 55, width_mm
    # and the ink stays inside the printable area: nothing closer than 5 mm to any edge
    margin = round(5 / 25.4 * 200)
    assert (gray[:margin] > 200).all() and (gray[-margin:] > 200).all()
    assert (gray[:, :margin] > 200).all() and (gray[:, -margin:] > 200).all()


@pytest.mark.parametrize(
    ("colour", "zh", "en"), [("yellow", "黄码", "Yellow code"), ("red", "红码", "Red code")]
)
def test_colour_is_in_words(es256_issuer, tmp_path, colour, zh, en):
    font = _font()
    out = paper.write_paper(
        _mint(es256_issuer, colour), es256_issuer.iss, tmp_path / "c.pdf", colour=colour, font=font
    )
    text = _pdftotext(out)
    assert zh in text and en in text
    assert "绿码" not in text and "Green code" not in text
    assert "440000" in text  # no display name: the region code alone


def test_long_values_stay_on_the_page(es256_issuer, tmp_path):
    font = _font()
    minted = phic.mint(
        es256_issuer,
        colour="green",
        name="Alexandra Maria Konstantinopoulou-Richardson Featherstonehaugh",
        id_type="02",
        id_number="E12345678",
        now=NOW,
        code_type="p",
    )
    long_name = "广东省卫生健康委员会疫情防控指挥部办公室（广州市越秀区）专项工作组第三分组"
    out = paper.write_paper(minted, es256_issuer.iss, tmp_path / "long.pdf", issuer_name=long_name, font=font)
    text = _pdftotext(out)
    assert "A******** M****" in text and "*****5678" in text


def test_bad_colour_is_refused(es256_issuer, tmp_path):
    with pytest.raises(paper.PaperError, match="colour"):
        paper.write_paper(_mint(es256_issuer), es256_issuer.iss, tmp_path / "x.pdf", colour="blue")
    assert not (tmp_path / "x.pdf").exists()


def test_missing_font_names_the_package(monkeypatch):
    monkeypatch.setattr(paper, "KNOWN_FONTS", (("/nonexistent/a.ttc", 0, "/nonexistent/b.ttc", 0, "x"),))
    monkeypatch.setattr(paper, "_fc_match", lambda pattern: None)
    with pytest.raises(paper.PaperError, match="fonts-noto-cjk"):
        paper.find_cjk_font()


def test_local_time_has_offset():
    assert paper.format_local(NOW) == ("2026-11-25 08:00", "UTC+08:00")
    assert paper.format_local(NOW + 16 * 3600) == ("2026-11-26 00:00", "UTC+08:00")


def test_cli_writes_a_paper_code(es256_issuer, tmp_path, capsys):
    from kiosk.cli import main
    from kiosk.issuer import keys

    _font()
    key = tmp_path / "issuer.key"
    keys.save(es256_issuer, key)
    out = tmp_path / "cli.pdf"
    argv = ["issuer", "paper", "--key", str(key), "--name", NAME, "--id-number", ID_NUMBER, "--out", str(out)]
    assert main([*argv, "--issuer-name", ISSUER_NAME]) == 0
    assert out.read_bytes().startswith(b"%PDF-")
    text = _pdftotext(out)
    assert "张*三" in text and ISSUER_NAME in text and NAME not in re.sub(r"\s+", "", text)
