"""`kiosk screenshots --out DIR`: every traveller-screen state, both languages, three screen sizes.

States are built directly as `LoopState`/`Outcome` objects (no devices, no keys), rendered offscreen and
saved with `widget.grab()`. File names: `<state>-<lang>-<width>x<height>.png`.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from kiosk.app.loop import LoopState, Outcome, State
from kiosk.codes.model import Format, Holder, Verification
from kiosk.policy.policy import Decision
from kiosk.ui.traveller import StatusInfo, TravellerScreen

SIZES: tuple[tuple[int, int], ...] = ((1280, 800), (800, 480), (800, 1280))
LANGUAGES = ("zh", "en")
NOW = datetime(2025, 3, 14, 8, 42)


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
    """Every state worth a screenshot, by name, with the status strip it shows."""
    ok = StatusInfo(
        site="北门 North gate", now=NOW, online=False, last_sync=None, keys="ok", status_list="ok"
    )
    degraded = StatusInfo(
        site="北门 North gate",
        now=NOW,
        keys="stale",
        status_list="warning",
        clock_ok=False,
        faults=("thermometer",),
    )
    result = State.ACTUATING
    return {
        "idle": (LoopState(State.IDLE), ok),
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


def write_screenshots(out_dir: Path | str, *, sizes: tuple[tuple[int, int], ...] = SIZES) -> list[Path]:
    """Render every state in both languages at every size into out_dir; returns the files written."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    screen = TravellerScreen()
    for width, height in sizes:
        screen.resize(width, height)
        for lang in LANGUAGES:
            screen.set_language(lang)
            for name, (state, status) in states().items():
                screen.render(state, status)
                screen.show()
                app.processEvents()
                path = out / f"{name}-{lang}-{width}x{height}.png"
                if not screen.grab().save(str(path)):
                    raise OSError(f"could not write {path}")
                written.append(path)
    screen.close()
    return written
