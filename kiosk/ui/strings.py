"""Every text the traveller screen, the guard console and the technician screens show, keyed by a stable message id, in English
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
    "status.sync_blocked": QT_TRANSLATE_NOOP("kiosk", "Sync blocked"),
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
    # guard console: alarms (kiosk/ui/alarms.py)
    "alarm.door.held_open": QT_TRANSLATE_NOOP("kiosk", "Door held open"),
    "alarm.door.forced": QT_TRANSLATE_NOOP("kiosk", "Door forced open"),
    "alarm.device": QT_TRANSLATE_NOOP("kiosk", "Device failed: {device}"),
    "alarm.since": QT_TRANSLATE_NOOP("kiosk", "since {time}"),
    "alarm.silenced": QT_TRANSLATE_NOOP("kiosk", "silenced"),
    "alarm.ended": QT_TRANSLATE_NOOP("kiosk", "ended: silence to clear"),
    # guard console: overrides and the export to USB
    "guard.cancel": QT_TRANSLATE_NOOP("kiosk", "Cancel"),
    "guard.let_pass": QT_TRANSLATE_NOOP("kiosk", "Let pass"),
    "guard.refuse": QT_TRANSLATE_NOOP("kiosk", "Refuse"),
    "guard.export": QT_TRANSLATE_NOOP("kiosk", "Export today"),
    "guard.export_title": QT_TRANSLATE_NOOP("kiosk", "Export {day} to a USB stick (CSV)"),
    "guard.export_hint": QT_TRANSLATE_NOOP("kiosk", "Choose the USB stick, or type a folder:"),
    "guard.export_reason": QT_TRANSLATE_NOOP("kiosk", "Daily export to USB"),
    "guard.export_go": QT_TRANSLATE_NOOP("kiosk", "Export"),
    "guard.exporting": QT_TRANSLATE_NOOP("kiosk", "Exporting to {path}…"),
    "guard.exported": QT_TRANSLATE_NOOP(
        "kiosk",
        "Exported {n} registrations to {path}: {passed} passed, {denied} stopped, {referred} referred, {fever} fever",
    ),
    "guard.export_failed": QT_TRANSLATE_NOOP("kiosk", "Not exported: {why}"),
    "guard.select_hint": QT_TRANSLATE_NOOP(
        "kiosk", "Tap a referred (amber) visit to let it pass or refuse it"
    ),
    "guard.select_refer": QT_TRANSLATE_NOOP("kiosk", "Choose a referred (amber) visit first"),
    "guard.selected": QT_TRANSLATE_NOOP("kiosk", "Selected: {time} {who} — {decision}"),
    "guard.overridden": QT_TRANSLATE_NOOP("kiosk", "{decision} (staff)"),
    "guard.overridden_pass": QT_TRANSLATE_NOOP("kiosk", "Let pass by staff: recorded"),
    "guard.overridden_deny": QT_TRANSLATE_NOOP("kiosk", "Refused by staff: recorded"),
    # choosing a folder on a USB stick (export, trust import)
    "usb.none": QT_TRANSLATE_NOOP(
        "kiosk", "No USB stick found under /media, /run/media or /mnt: plug one in, or type a folder"
    ),
    "usb.refresh": QT_TRANSLATE_NOOP("kiosk", "Refresh"),
    "usb.path_hint": QT_TRANSLATE_NOOP("kiosk", "Folder, e.g. /media/usb"),
    "usb.choose": QT_TRANSLATE_NOOP("kiosk", "Choose a folder first"),
    # technician screens (kiosk/ui/technician.py)
    "tech.open": QT_TRANSLATE_NOOP("kiosk", "Technician"),
    "tech.title": QT_TRANSLATE_NOOP("kiosk", "Technician tools"),
    "tech.pin_prompt": QT_TRANSLATE_NOOP("kiosk", "Enter the technician PIN"),
    "tech.no_pin": QT_TRANSLATE_NOOP("kiosk", "No technician PIN is set on this kiosk"),
    "tech.menu": QT_TRANSLATE_NOOP("kiosk", "Menu"),
    "tech.section.selftest": QT_TRANSLATE_NOOP("kiosk", "Device self-test"),
    "tech.section.identity": QT_TRANSLATE_NOOP("kiosk", "Device and site"),
    "tech.section.trust": QT_TRANSLATE_NOOP("kiosk", "Trust lists"),
    "tech.section.network": QT_TRANSLATE_NOOP("kiosk", "Network and sync"),
    "tech.section.logs": QT_TRANSLATE_NOOP("kiosk", "Logs (last hour)"),
    "tech.section.calibration": QT_TRANSLATE_NOOP("kiosk", "Thermometer calibration"),
    "tech.run": QT_TRANSLATE_NOOP("kiosk", "Run self-test"),
    "tech.progress": QT_TRANSLATE_NOOP("kiosk", "{done} / {total}"),
    "tech.testing": QT_TRANSLATE_NOOP("kiosk", "Testing…"),
    "tech.testing_device": QT_TRANSLATE_NOOP("kiosk", "Testing the {device}…"),
    "tech.waiting": QT_TRANSLATE_NOOP("kiosk", "Waiting"),
    "tech.not_run": QT_TRANSLATE_NOOP("kiosk", "Not tested"),
    "tech.live": QT_TRANSLATE_NOOP("kiosk", "Now: {state}"),
    "tech.status.ok": QT_TRANSLATE_NOOP("kiosk", "Working"),
    "tech.status.degraded": QT_TRANSLATE_NOOP("kiosk", "Degraded"),
    "tech.status.failed": QT_TRANSLATE_NOOP("kiosk", "Failed"),
    "tech.all_ok": QT_TRANSLATE_NOOP("kiosk", "All {n} devices OK"),
    "tech.not_ok": QT_TRANSLATE_NOOP("kiosk", "Not OK: {devices}"),
    "tech.selftest_hint": QT_TRANSLATE_NOOP(
        "kiosk",
        "Tests each fitted device in turn (up to 20 s each). While the kiosk runs, a device it holds may report busy.",
    ),
    "tech.no_devices": QT_TRANSLATE_NOOP("kiosk", "No devices configured"),
    "tech.failed": QT_TRANSLATE_NOOP("kiosk", "Failed: {why}"),
    "tech.working": QT_TRANSLATE_NOOP("kiosk", "Please wait…"),
    "tech.done": QT_TRANSLATE_NOOP("kiosk", "Done"),
    "tech.loading": QT_TRANSLATE_NOOP("kiosk", "Loading…"),
    "tech.id.device": QT_TRANSLATE_NOOP("kiosk", "Device ID"),
    "tech.id.site": QT_TRANSLATE_NOOP("kiosk", "Site name (provisioned)"),
    "tech.id.policy_site": QT_TRANSLATE_NOOP("kiosk", "Site in the policy"),
    "tech.id.version": QT_TRANSLATE_NOOP("kiosk", "Software version"),
    "tech.id.host": QT_TRANSLATE_NOOP("kiosk", "Host name"),
    "tech.id.hub": QT_TRANSLATE_NOOP("kiosk", "Hub"),
    "tech.id.data_dir": QT_TRANSLATE_NOOP("kiosk", "Data directory"),
    "tech.not_provisioned": QT_TRANSLATE_NOOP("kiosk", "not provisioned"),
    "tech.not_set": QT_TRANSLATE_NOOP("kiosk", "not set"),
    "tech.not_enrolled": QT_TRANSLATE_NOOP("kiosk", "not enrolled"),
    "tech.fresh.fresh": QT_TRANSLATE_NOOP("kiosk", "Fresh"),
    "tech.fresh.warning": QT_TRANSLATE_NOOP("kiosk", "Ageing"),
    "tech.fresh.stale": QT_TRANSLATE_NOOP("kiosk", "Stale"),
    "tech.trust_detail": QT_TRANSLATE_NOOP(
        "kiosk", "{entries} entries · seq {seq} · signed {signed} ({age} h ago) · valid until {until}"
    ),
    "tech.expired": QT_TRANSLATE_NOOP("kiosk", "Expired: import a new list"),
    "tech.trust_none": QT_TRANSLATE_NOOP(
        "kiosk", "No trust lists: every code is refused. Import a bundle from USB."
    ),
    "tech.import": QT_TRANSLATE_NOOP("kiosk", "Import from USB"),
    "tech.import_title": QT_TRANSLATE_NOOP("kiosk", "Import trust lists from USB"),
    "tech.import_hint": QT_TRANSLATE_NOOP(
        "kiosk",
        "The folder holds root.pem and bundle.jws, and may hold status-list.ksl and list-key (as for kiosk provision --bundle).",
    ),
    "tech.import_go": QT_TRANSLATE_NOOP("kiosk", "Import"),
    "tech.importing": QT_TRANSLATE_NOOP("kiosk", "Importing from {path}…"),
    "tech.reloading": QT_TRANSLATE_NOOP("kiosk", "Imported: loading into the running kiosk…"),
    "tech.imported_live": QT_TRANSLATE_NOOP("kiosk", "Imported and in use now"),
    "tech.imported_restart": QT_TRANSLATE_NOOP("kiosk", "Imported: in use after the kiosk restarts"),
    "tech.import_failed": QT_TRANSLATE_NOOP("kiosk", "Not imported: {why}"),
    "tech.net.state": QT_TRANSLATE_NOOP("kiosk", "Hub connection"),
    "tech.net.no_state": QT_TRANSLATE_NOOP("kiosk", "No sync has run yet (no sync-state.json)"),
    "tech.net.last_success": QT_TRANSLATE_NOOP("kiosk", "Last successful sync"),
    "tech.net.last_attempt": QT_TRANSLATE_NOOP("kiosk", "Last attempt"),
    "tech.net.last_error": QT_TRANSLATE_NOOP("kiosk", "Last error"),
    "tech.net.pending": QT_TRANSLATE_NOOP("kiosk", "Registrations waiting for the hub"),
    "tech.net.clock": QT_TRANSLATE_NOOP("kiosk", "Clock against the hub"),
    "tech.net.hub": QT_TRANSLATE_NOOP("kiosk", "Hub address"),
    "tech.net.seqs": QT_TRANSLATE_NOOP("kiosk", "Versions pulled from the hub"),
    "tech.net.clock_ok": QT_TRANSLATE_NOOP("kiosk", "in step ({s} s)"),
    "tech.net.clock_behind": QT_TRANSLATE_NOOP("kiosk", "kiosk {s} s behind the hub"),
    "tech.net.clock_ahead": QT_TRANSLATE_NOOP("kiosk", "kiosk {s} s ahead of the hub"),
    "tech.logs.journal": QT_TRANSLATE_NOOP(
        "kiosk", "System journal (healthcode-kiosk), last hour: {n} lines"
    ),
    "tech.logs.memory": QT_TRANSLATE_NOOP(
        "kiosk", "Kiosk event log (no system journal here), last hour: {n} lines"
    ),
    "tech.logs.empty": QT_TRANSLATE_NOOP("kiosk", "Nothing logged in the last hour"),
    "tech.cal.current": QT_TRANSLATE_NOOP("kiosk", "Offset now {offset} °C (body = skin + offset) · {path}"),
    "tech.cal.defaults": QT_TRANSLATE_NOOP("kiosk", "built-in defaults, no file"),
    "tech.cal.no_thermometer": QT_TRANSLATE_NOOP("kiosk", "No thermometer fitted"),
    "tech.cal.model": QT_TRANSLATE_NOOP(
        "kiosk", "The thermometer uses the {model} model: calibrate it in devices.toml"
    ),
    "tech.cal.prompt": QT_TRANSLATE_NOOP("kiosk", "Reference thermometer reading (°C)"),
    "tech.cal.measure": QT_TRANSLATE_NOOP("kiosk", "Take {n} readings"),
    "tech.cal.measuring": QT_TRANSLATE_NOOP("kiosk", "Measuring: keep the person in front of the sensor"),
    "tech.cal.bad_reference": QT_TRANSLATE_NOOP("kiosk", "Enter the reference reading, {lo}–{hi} °C"),
    "tech.cal.result": QT_TRANSLATE_NOOP("kiosk", "New offset {new} °C (was {old} °C)"),
    "tech.cal.detail": QT_TRANSLATE_NOOP(
        "kiosk", "Reference {ref} °C, median skin {skin} °C over {n} readings, spread {spread} °C"
    ),
    "tech.cal.steady": QT_TRANSLATE_NOOP("kiosk", "Steady"),
    "tech.cal.unsteady_word": QT_TRANSLATE_NOOP("kiosk", "Unsteady"),
    "tech.cal.ready": QT_TRANSLATE_NOOP("kiosk", "Check the new offset, then save it"),
    "tech.cal.unsteady": QT_TRANSLATE_NOOP("kiosk", "The readings vary: measure again before saving"),
    "tech.cal.failed": QT_TRANSLATE_NOOP("kiosk", "Measurement failed: {why}"),
    "tech.cal.save": QT_TRANSLATE_NOOP("kiosk", "Save offset"),
    "tech.cal.confirm": QT_TRANSLATE_NOOP("kiosk", "Save offset {offset} °C to {path}?"),
    "tech.cal.yes": QT_TRANSLATE_NOOP("kiosk", "Yes, save"),
    "tech.cal.cancelled": QT_TRANSLATE_NOOP("kiosk", "Not saved"),
    "tech.cal.saving": QT_TRANSLATE_NOOP("kiosk", "Saving…"),
    "tech.cal.saved_live": QT_TRANSLATE_NOOP("kiosk", "Saved to {path} and in use now"),
    "tech.cal.saved_restart": QT_TRANSLATE_NOOP("kiosk", "Saved to {path}: in use after the kiosk restarts"),
    "tech.cal.read_only": QT_TRANSLATE_NOOP(
        "kiosk",
        "Cannot write {path} (read-only or no permission). Put this line under [thermometer] by hand: {line}",
    ),
    "tech.cal.save_failed": QT_TRANSLATE_NOOP(
        "kiosk", "Not saved: {why}. The line for [thermometer]: {line}"
    ),
    "tech.cal.no_file": QT_TRANSLATE_NOOP(
        "kiosk",
        "No device configuration file in use (built-in defaults). Put this line under [thermometer] in devices.toml: {line}",
    ),
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
