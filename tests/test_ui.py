"""The traveller screen (kiosk/ui): words in both languages, colour + symbol + words, fit, screenshots."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6.QtWidgets", reason="PySide6 (PySide6-Essentials) is not installed")
pytest.importorskip("pytestqt", reason="pytest-qt is not installed")

from kiosk.app.loop import LoopState, State  # noqa: E402
from kiosk.ui import screenshots  # noqa: E402
from kiosk.ui.strings import MESSAGES, texts  # noqa: E402
from kiosk.ui.traveller import Palette, StatusInfo, TravellerScreen  # noqa: E402

SIZES = [(800, 480), (1280, 800), (800, 1280)]
STATES = screenshots.states()


@pytest.fixture
def screen(qtbot):
    widget = TravellerScreen()
    qtbot.addWidget(widget)
    widget.resize(800, 480)
    widget.show()
    return widget


def _shown(widget: TravellerScreen, state: LoopState, status: StatusInfo, lang: str) -> list[str]:
    widget.set_language(lang)
    widget.render(state, status)
    return widget.visible_texts()


def test_every_message_has_a_chinese_translation():
    import string

    t = texts()
    names = lambda text: {f[1] for f in string.Formatter().parse(text) if f[1]}  # noqa: E731
    for msg_id, source in MESSAGES.items():
        zh = t.get(msg_id, "zh")
        assert zh, msg_id
        if source not in ("—", "{t} °C", "{done} / {total}"):
            assert zh != source, f"{msg_id} has no Chinese translation in the .qm"
        assert names(zh) == names(source), f"{msg_id}: the translation changes the placeholders"


def test_reasons_in_plain_words():
    t = texts()
    assert t.reason("code.red", "zh") == "红码" and t.reason("code.red", "en") == "Red code"
    assert t.reason("temperature.fever", "zh", 37.8) == "体温 37.8 °C 异常"
    assert t.reason("card.mismatch", "zh") == "证件与健康码不符"
    assert t.reason("code.expired", "zh") == "码已过期"
    assert t.reason("format.unknown", "zh") == "无法识别"
    assert "not.a.reason" in t.reason("not.a.reason", "en")
    policy_reasons = [
        "code.green",
        "code.yellow",
        "code.red",
        "code.valid",
        "code.expired",
        "code.not_yet_valid",
        "code.revoked",
        "signature.invalid",
        "key.unknown",
        "key.not_authorized",
        "key.usage",
        "format.unknown",
        "decode.failed",
        "payload.invalid",
        "format.not_accepted",
        "issuer.not_accepted",
        "code.incomplete",
        "rules.failed",
        "trust.stale",
        "clock.untrusted",
        "temperature.fever",
        "temperature.unavailable",
        "card.no_abnormality",
        "card.status_yellow",
        "card.status_red",
        "card.mismatch",
        "card.not_bound",
        "card.unreadable",
        "card.forged",
    ]
    for code in policy_reasons:
        assert f"reason.{code}" in MESSAGES or code == "temperature.fever", code


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_idle_words(screen, lang):
    shown = _shown(screen, *STATES["idle"], lang)
    t = texts()
    for msg in ("idle.prompt", "idle.phone", "idle.paper", "idle.card", "idle.stand"):
        assert t.get(msg, "zh") in shown and t.get(msg, "en") in shown
    assert "请出示健康码或刷身份证" in shown
    assert "Show your health code or swipe your ID card" in shown
    assert shown.index(t.get("idle.prompt", lang)) < shown.index(
        t.get("idle.prompt", "en" if lang == "zh" else "zh")
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_reading_words(screen, lang):
    shown = _shown(screen, *STATES["reading-code-measuring"], lang)
    assert {"健康码", "Health code", "已读取", "Read", "正在测量…", "Measuring…"} <= set(shown)
    shown = _shown(screen, *STATES["reading-remeasure"], lang)
    assert {"请再测一次体温", "Measuring again"} <= set(shown)
    assert screen.reading.temperature.mark.kind == "measuring"
    shown = _shown(screen, *STATES["reading-card-temperature"], lang)
    assert "36.4 °C" in shown


@pytest.mark.parametrize(
    ("name", "colour", "char", "words", "reason"),
    [
        ("pass", Palette.PASS, "✓", ("通行", "PASS"), ("绿码", "Green code")),
        ("stop-red", Palette.DENY, "✕", ("禁止通行", "STOP"), ("红码", "Red code")),
        (
            "stop-fever",
            Palette.DENY,
            "✕",
            ("禁止通行", "STOP"),
            ("体温 37.8 °C 异常", "Temperature too high: 37.8 °C"),
        ),
        (
            "stop-mismatch",
            Palette.DENY,
            "✕",
            ("禁止通行", "STOP"),
            ("证件与健康码不符", "Card does not match the code"),
        ),
        ("stop-expired", Palette.DENY, "✕", ("禁止通行", "STOP"), ("码已过期", "Code expired")),
        ("stop-not-health-code", Palette.DENY, "✕", ("禁止通行", "STOP"), ("无法识别", "Not a health code")),
        (
            "refer-yellow",
            Palette.REFER,
            "!",
            ("请等待工作人员", "PLEASE WAIT FOR STAFF"),
            ("黄码", "Yellow code"),
        ),
    ],
)
def test_result_colour_symbol_and_words(screen, name, colour, char, words, reason):
    for lang in ("zh", "en"):
        shown = _shown(screen, *STATES[name], lang)
        page = screen.result
        assert screen.pages.currentWidget() is page
        assert page.background == colour and colour.name() in page.styleSheet()
        assert page.symbol.char == char and page.symbol.accessibleName() == char
        assert set(words) <= set(shown) and set(reason) <= set(shown)
        assert screen.result.headline.texts()[0] == words[0 if lang == "zh" else 1]


def test_result_shows_masked_name_and_temperature_only(screen):
    shown = _shown(screen, *STATES["stop-fever"], "zh")
    assert "张*三" in shown and "37.8 °C" in shown
    assert not any("440301" in text for text in shown)  # no ID number, masked or not
    assert "绿码" not in shown  # a positive reason never stands beside a STOP


def test_status_strip(screen):
    shown = _shown(screen, *STATES["idle-degraded"], "en")
    assert {"Offline", "Sync blocked", "Keys stale", "List ageing", "Clock?", "Fault: thermometer"} <= set(
        shown
    )
    assert screen.strip.chips["keys"].level == "bad" and screen.strip.chips["list"].level == "warning"
    assert screen.strip.chips["sync"].level == "warning"  # the hub refuses this kiosk: a person must act
    shown = _shown(screen, *STATES["idle-degraded"], "zh")
    assert {"离线", "同步受阻", "密钥 已过期", "故障：测温仪"} <= set(shown)
    shown = _shown(screen, *STATES["idle"], "zh")
    assert "时间存疑" not in shown and not any(text.startswith("故障") for text in shown)


def settle(widget: TravellerScreen) -> None:
    """Let every pending layout request run (they are posted events), as a paint would."""
    from PySide6.QtWidgets import QApplication, QWidget

    for _ in range(3):
        for child in [widget, *widget.findChildren(QWidget)]:
            if child.layout() is not None:
                child.layout().activate()
        QApplication.processEvents()


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_no_text_clipped_or_overlapping(qtbot, width, height):
    widget = TravellerScreen()
    qtbot.addWidget(widget)
    widget.resize(width, height)
    widget.show()
    problems = []
    for lang in ("zh", "en"):
        widget.set_language(lang)
        for name, (state, status) in STATES.items():
            widget.render(state, status)
            settle(widget)
            assert (widget.width(), widget.height()) == (width, height)
            boxes = []
            for label in widget.labels():
                where = f"{name}/{lang}: {label.source_text()!r}"
                fm = label.fontMetrics()
                lines = label.text().split("\n")
                if max(fm.horizontalAdvance(line) for line in lines) > label.contentsRect().width():
                    problems.append(f"too wide {where}")
                if fm.height() * len(lines) > label.contentsRect().height() + 2:
                    problems.append(f"too tall {where}")
                if label.font().pixelSize() < 12:
                    problems.append(f"too small ({label.font().pixelSize()} px) {where}")
                top_left = label.mapTo(widget, label.rect().topLeft())
                rect = label.rect().translated(top_left)
                if not widget.rect().contains(rect):
                    problems.append(f"outside the screen {where}")
                boxes.append((rect, where))
            for i, (a, wa) in enumerate(boxes):
                for b, wb in boxes[i + 1 :]:
                    if a.intersects(b):
                        problems.append(f"overlap {wa} / {wb}")
    assert not problems, "\n".join(problems)


def test_screenshots_for_every_state(qtbot, tmp_path):
    """`kiosk screenshots`: every traveller, guard and technician state, both languages, both orientations."""
    written = screenshots.write_screenshots(
        tmp_path, quality=95
    )  # fast compression: the test is about content
    names = [*STATES, "idle-preview"]
    expected = {
        f"{n}-{lang}-{w}x{h}.png" for n in names for lang in ("zh", "en") for w, h in screenshots.SIZES
    }
    for prefix, states in (("guard", screenshots.GUARD_STATES), ("tech", screenshots.TECHNICIAN_STATES)):
        expected |= {
            f"{prefix}-{n}-{lang}-{w}x{h}.png"
            for n in states
            for lang in ("zh", "en")
            for w, h in screenshots.CONSOLE_SIZES
        }
    assert {p.name for p in written} == expected
    assert all(p.stat().st_size > 5000 for p in written)
    from PySide6.QtGui import QImage

    for path in written:  # each image is exactly the screen it was made for
        width, height = (int(v) for v in path.stem.rsplit("-", 1)[1].split("x"))
        image = QImage(str(path))
        assert (image.width(), image.height()) == (width, height), path.name


def test_frame_accepts_numpy_and_qimage(screen):
    import numpy as np

    frame = np.zeros((48, 64, 3), dtype=np.uint8)
    frame[:, :, 2] = 255  # BGR red
    screen.set_frame(frame)
    image = screen.idle.preview._image
    assert image is not None and image.width() == 64 and image.pixelColor(0, 0).red() == 255
    screen.set_frame(image)
    screen.set_frame(np.zeros((10, 10), dtype=np.uint8))
    screen.set_frame(None)
    screen.grab()


def test_thousand_updates_stay_responsive(screen, qtbot):
    sequence = [state for state, _ in STATES.values()]
    status = StatusInfo(site="x")
    for i in range(1000):
        screen.render(sequence[i % len(sequence)], status)
        if i % 50 == 0:
            qtbot.wait(0)  # let the event loop paint in between, as on the kiosk
    screen.render(LoopState(State.IDLE), status)
    qtbot.wait(0)
    assert screen.pages.currentWidget() is screen.idle
