"""Every text the traveller screen and the guard console show, keyed by a stable message id, in English
and 简体中文.

The English source texts are marked with `QT_TRANSLATE_NOOP` so Qt's own tools extract them; the Chinese
translation lives in `i18n/kiosk_zh_CN.ts` (edit with `pyside6-linguist`) and is compiled into
`i18n/kiosk_zh_CN.qm`, which is what runs (see i18n/README.md). `Texts.get(msg_id, lang)` looks a text up
in either language; the screen shows both at once (the chosen language first and larger).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PySide6.QtCore import QT_TRANSLATE_NOOP, QTranslator

CONTEXT = "kiosk"
LANGUAGES = ("zh", "en")
QM_FILE = Path(__file__).with_name("i18n") / "kiosk_zh_CN.qm"

# Placeholders use str.format names ({t}, {n}, {code}); translators keep them as they are.
MESSAGES: dict[str, str] = {
    # idle
    "idle.prompt": QT_TRANSLATE_NOOP("kiosk", "Show your health code or swipe your ID card"),
    "idle.accepted": QT_TRANSLATE_NOOP("kiosk", "Accepted"),
    "idle.phone": QT_TRANSLATE_NOOP("kiosk", "Phone code"),
    "idle.paper": QT_TRANSLATE_NOOP("kiosk", "Paper code"),
    "idle.card": QT_TRANSLATE_NOOP("kiosk", "ID card"),
    "idle.stand": QT_TRANSLATE_NOOP("kiosk", "Stand here for your temperature"),
    "idle.aim": QT_TRANSLATE_NOOP("kiosk", "Hold the code in the frame"),
    # reading
    "reading.title": QT_TRANSLATE_NOOP("kiosk", "Checking…"),
    "reading.code": QT_TRANSLATE_NOOP("kiosk", "Health code"),
    "reading.card": QT_TRANSLATE_NOOP("kiosk", "ID card"),
    "reading.temperature": QT_TRANSLATE_NOOP("kiosk", "Temperature"),
    "reading.read": QT_TRANSLATE_NOOP("kiosk", "Read"),
    "reading.waiting": QT_TRANSLATE_NOOP("kiosk", "—"),
    "reading.measuring": QT_TRANSLATE_NOOP("kiosk", "Measuring…"),
    "reading.remeasure": QT_TRANSLATE_NOOP("kiosk", "Measuring again"),
    "reading.remeasure_hint": QT_TRANSLATE_NOOP("kiosk", "Please stay still in front of the thermometer"),
    "reading.celsius": QT_TRANSLATE_NOOP("kiosk", "{t} °C"),
    # results
    "result.pass": QT_TRANSLATE_NOOP("kiosk", "PASS"),
    "result.deny": QT_TRANSLATE_NOOP("kiosk", "STOP"),
    "result.refer": QT_TRANSLATE_NOOP("kiosk", "PLEASE WAIT FOR STAFF"),
    "result.name": QT_TRANSLATE_NOOP("kiosk", "Name"),
    "result.temperature": QT_TRANSLATE_NOOP("kiosk", "Temperature"),
    "result.more": QT_TRANSLATE_NOOP("kiosk", "and {n} more"),
    # reasons (docs/policy.md), in plain words
    "reason.code.green": QT_TRANSLATE_NOOP("kiosk", "Green code"),
    "reason.code.yellow": QT_TRANSLATE_NOOP("kiosk", "Yellow code"),
    "reason.code.red": QT_TRANSLATE_NOOP("kiosk", "Red code"),
    "reason.code.valid": QT_TRANSLATE_NOOP("kiosk", "Valid health code"),
    "reason.code.expired": QT_TRANSLATE_NOOP("kiosk", "Code expired"),
    "reason.code.not_yet_valid": QT_TRANSLATE_NOOP("kiosk", "Code not valid yet"),
    "reason.code.revoked": QT_TRANSLATE_NOOP("kiosk", "Code withdrawn"),
    "reason.code.incomplete": QT_TRANSLATE_NOOP("kiosk", "Code incomplete: show every part"),
    "reason.signature.invalid": QT_TRANSLATE_NOOP("kiosk", "Code is not genuine"),
    "reason.key.unknown": QT_TRANSLATE_NOOP("kiosk", "Issuer not recognised"),
    "reason.key.not_authorized": QT_TRANSLATE_NOOP("kiosk", "Issuer not allowed to issue this code"),
    "reason.key.usage": QT_TRANSLATE_NOOP("kiosk", "Issuer not allowed this kind of code"),
    "reason.format.unknown": QT_TRANSLATE_NOOP("kiosk", "Not a health code"),
    "reason.decode.failed": QT_TRANSLATE_NOOP("kiosk", "Code damaged, cannot be read"),
    "reason.payload.invalid": QT_TRANSLATE_NOOP("kiosk", "Code content is incomplete"),
    "reason.format.not_accepted": QT_TRANSLATE_NOOP("kiosk", "This kind of code is not accepted here"),
    "reason.issuer.not_accepted": QT_TRANSLATE_NOOP("kiosk", "Codes from this region not accepted here"),
    "reason.rules.failed": QT_TRANSLATE_NOOP("kiosk", "Does not meet the entry rules"),
    "reason.trust.stale": QT_TRANSLATE_NOOP("kiosk", "Kiosk data out of date"),
    "reason.clock.untrusted": QT_TRANSLATE_NOOP("kiosk", "Kiosk clock not trusted"),
    "reason.temperature.fever": QT_TRANSLATE_NOOP("kiosk", "Temperature too high: {t} °C"),
    "reason.temperature.fever_unknown": QT_TRANSLATE_NOOP("kiosk", "Temperature too high"),
    "reason.temperature.unavailable": QT_TRANSLATE_NOOP("kiosk", "Temperature could not be taken"),
    "reason.card.no_abnormality": QT_TRANSLATE_NOOP("kiosk", "ID card checked: no abnormality"),
    "reason.card.status_yellow": QT_TRANSLATE_NOOP("kiosk", "ID card holder has yellow status"),
    "reason.card.status_red": QT_TRANSLATE_NOOP("kiosk", "ID card holder has red status"),
    "reason.card.mismatch": QT_TRANSLATE_NOOP("kiosk", "Card does not match the code"),
    "reason.card.not_bound": QT_TRANSLATE_NOOP("kiosk", "Swipe the ID card that belongs to the code"),
    "reason.card.unreadable": QT_TRANSLATE_NOOP("kiosk", "ID card could not be read"),
    "reason.card.forged": QT_TRANSLATE_NOOP("kiosk", "ID card failed the check"),
    "reason.guard.manual": QT_TRANSLATE_NOOP("kiosk", "Decided by staff"),
    "reason.other": QT_TRANSLATE_NOOP("kiosk", "Other reason ({code})"),
    # status strip
    "status.online": QT_TRANSLATE_NOOP("kiosk", "Online"),
    "status.offline": QT_TRANSLATE_NOOP("kiosk", "Offline"),
    "status.sync": QT_TRANSLATE_NOOP("kiosk", "Sync {when}"),
    "status.never": QT_TRANSLATE_NOOP("kiosk", "never"),
    "status.keys": QT_TRANSLATE_NOOP("kiosk", "Keys"),
    "status.list": QT_TRANSLATE_NOOP("kiosk", "List"),
    "status.ok": QT_TRANSLATE_NOOP("kiosk", "ok"),
    "status.warning": QT_TRANSLATE_NOOP("kiosk", "ageing"),
    "status.stale": QT_TRANSLATE_NOOP("kiosk", "stale"),
    "status.missing": QT_TRANSLATE_NOOP("kiosk", "none"),
    "status.clock": QT_TRANSLATE_NOOP("kiosk", "Clock?"),
    "status.fault": QT_TRANSLATE_NOOP("kiosk", "Fault: {devices}"),
    # guard console (kiosk/ui/guard.py)
    "guard.title": QT_TRANSLATE_NOOP("kiosk", "Guard console"),
    "guard.pin_prompt": QT_TRANSLATE_NOOP("kiosk", "Enter the guard PIN"),
    "guard.pin_wrong": QT_TRANSLATE_NOOP("kiosk", "Wrong PIN: {n} tries left"),
    "guard.locked": QT_TRANSLATE_NOOP("kiosk", "Too many wrong PINs: try again in {s} s"),
    "guard.no_pin": QT_TRANSLATE_NOOP("kiosk", "No guard PIN is set on this kiosk"),
    "guard.enter": QT_TRANSLATE_NOOP("kiosk", "OK"),
    "guard.clear": QT_TRANSLATE_NOOP("kiosk", "Clear"),
    "guard.back": QT_TRANSLATE_NOOP("kiosk", "Back"),
    "guard.lock": QT_TRANSLATE_NOOP("kiosk", "Lock"),
    "guard.today": QT_TRANSLATE_NOOP("kiosk", "Today {day}"),
    "guard.total": QT_TRANSLATE_NOOP("kiosk", "Total"),
    "guard.passed": QT_TRANSLATE_NOOP("kiosk", "Passed"),
    "guard.denied": QT_TRANSLATE_NOOP("kiosk", "Stopped"),
    "guard.referred": QT_TRANSLATE_NOOP("kiosk", "Referred"),
    "guard.fever": QT_TRANSLATE_NOOP("kiosk", "Fever"),
    "guard.recent": QT_TRANSLATE_NOOP("kiosk", "Recent"),
    "guard.none": QT_TRANSLATE_NOOP("kiosk", "No registrations yet"),
    "guard.time": QT_TRANSLATE_NOOP("kiosk", "Time"),
    "guard.decision": QT_TRANSLATE_NOOP("kiosk", "Result"),
    "guard.who": QT_TRANSLATE_NOOP("kiosk", "Name / ID"),
    "guard.reasons": QT_TRANSLATE_NOOP("kiosk", "Reasons"),
    "guard.reason_hint": QT_TRANSLATE_NOOP("kiosk", "Reason (required)"),
    "guard.open": QT_TRANSLATE_NOOP("kiosk", "Open gate"),
    "guard.silence": QT_TRANSLATE_NOOP("kiosk", "Silence alarm"),
    "guard.need_reason": QT_TRANSLATE_NOOP("kiosk", "Enter a reason first"),
    "guard.opened": QT_TRANSLATE_NOOP("kiosk", "Gate opened by hand"),
    "guard.open_failed": QT_TRANSLATE_NOOP("kiosk", "The gate did not open: {why}"),
    "guard.silenced": QT_TRANSLATE_NOOP("kiosk", "Alarm silenced"),
    "guard.failed": QT_TRANSLATE_NOOP("kiosk", "Not done: {why}"),
    # device names (status strip faults)
    "device.camera": QT_TRANSLATE_NOOP("kiosk", "camera"),
    "device.serial_scanner": QT_TRANSLATE_NOOP("kiosk", "scanner"),
    "device.thermometer": QT_TRANSLATE_NOOP("kiosk", "thermometer"),
    "device.id_reader": QT_TRANSLATE_NOOP("kiosk", "ID reader"),
    "device.pcsc": QT_TRANSLATE_NOOP("kiosk", "card reader"),
    "device.gpio": QT_TRANSLATE_NOOP("kiosk", "gate"),
}

# Reasons that say why a visit may pass: shown on a PASS only, never beside a STOP or a referral.
POSITIVE_REASONS = frozenset({"code.green", "code.valid", "card.no_abnormality"})


class Texts:
    """Look up a message in English (the source text) or Chinese (the compiled Qt translation)."""

    def __init__(self, qm_file: Path = QM_FILE):
        self._translator = QTranslator()
        if not self._translator.load(str(qm_file)):
            raise FileNotFoundError(f"Qt translation not found or unreadable: {qm_file}")

    def get(self, msg_id: str, lang: str, **values: object) -> str:
        source = MESSAGES[msg_id]
        text = source
        if lang == "zh":
            text = self._translator.translate(CONTEXT, source) or source
        elif lang != "en":
            raise ValueError(f"unknown language {lang!r}; expected one of {LANGUAGES}")
        return text.format(**values) if values else text

    def has(self, msg_id: str) -> bool:
        return msg_id in MESSAGES

    def reason(self, code: str, lang: str, temperature: float | None = None) -> str:
        """A reason code (docs/policy.md) in plain words; unknown codes still say which code it was."""
        if code == "temperature.fever":
            if temperature is None:
                return self.get("reason.temperature.fever_unknown", lang)
            return self.get("reason.temperature.fever", lang, t=f"{temperature:.1f}")
        key = f"reason.{code}"
        if key in MESSAGES:
            return self.get(key, lang)
        return self.get("reason.other", lang, code=code)

    def device(self, name: str, lang: str) -> str:
        key = f"device.{name}"
        return self.get(key, lang) if key in MESSAGES else name


@lru_cache(maxsize=1)
def texts() -> Texts:
    """The shared lookup (the translation is loaded once)."""
    return Texts()
