"""Scenario files: timed events played into the simulated devices, so the real drivers carry them.

One JSON object per line, `t` seconds from the start (optional: defaults to the previous event's `t`):

    {"t": 0.0, "event": "scan", "text": "PHC1:..."}          serial scanner module (or the camera if none)
    {"t": 0.0, "event": "scan_image", "path": "code.png"}     held in front of the simulated camera
    {"t": 0.0, "event": "temperature", "celsius": 36.6}       body temperature of whoever stands there now
    {"t": 1.0, "event": "card", "id_number": "...", "name": "...", "sex": "男", "birth": "19900101"}
    {"t": 2.0, "event": "card_removed"}
    {"t": 2.0, "event": "door", "state": "open"}
    {"t": 3.0, "event": "fault", "device": "thermometer", "kind": "missing"}
    {"t": 4.0, "event": "clear_fault", "device": "thermometer"}

Faults by device: thermometer `missing`; id_reader `auth_failed`, `read_failed`, `no_answer`,
`bad_checksum`; serial_scanner and camera `unplugged`.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.app.hardware import Hardware

EVENTS = {
    "scan": {"text"},
    "scan_image": {"path"},
    "temperature": {"celsius"},
    "card": {"id_number"},
    "card_removed": set(),
    "door": {"state"},
    "fault": {"device", "kind"},
    "clear_fault": {"device"},
}
CARD_FIELDS = {
    "id_number",
    "name",
    "sex",
    "nation",
    "birth",
    "address",
    "authority",
    "valid_from",
    "valid_to",
    "card_type",
    "english_name",
}
MAX_EVENTS = 100_000


class ScenarioError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Step:
    t: float
    event: str
    data: dict[str, Any]
    line: int


def parse_scenario(text: str, source: str = "<scenario>") -> list[Step]:
    steps: list[Step] = []
    t = 0.0
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{source}:{n}"
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise ScenarioError(f"{where}: not JSON: {exc}") from None
        if not isinstance(obj, dict) or obj.get("event") not in EVENTS:
            raise ScenarioError(f'{where}: needs "event", one of {", ".join(EVENTS)}')
        event = obj.pop("event")
        raw_t = obj.pop("t", t)
        if not isinstance(raw_t, int | float) or isinstance(raw_t, bool) or raw_t < t or raw_t > 86400:
            raise ScenarioError(f'{where}: "t" must be seconds, not before the previous event')
        t = float(raw_t)
        missing = EVENTS[event] - set(obj)
        if missing:
            raise ScenarioError(f"{where}: {event} needs {', '.join(sorted(missing))}")
        if event == "card" and set(obj) - CARD_FIELDS:
            raise ScenarioError(f"{where}: unknown card field(s) {', '.join(sorted(set(obj) - CARD_FIELDS))}")
        if event == "temperature" and not isinstance(obj["celsius"], int | float):
            raise ScenarioError(f"{where}: celsius must be a number")
        if event == "door" and obj["state"] not in ("open", "closed"):
            raise ScenarioError(f'{where}: door state is "open" or "closed"')
        steps.append(Step(t, event, obj, n))
        if len(steps) > MAX_EVENTS:
            raise ScenarioError(f"{source}: more than {MAX_EVENTS} events")
    return steps


def load_scenario(path: str | Path) -> list[Step]:
    try:
        return parse_scenario(Path(path).read_text(encoding="utf-8"), str(path))
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not UTF-8 text") from None


class Player:
    """Plays steps into the simulators at their times, on its own thread."""

    def __init__(self, hw: Hardware, steps: list[Step], *, thermometer_offset: float = 0.9):
        self.hw, self.steps = hw, steps
        self.offset = thermometer_offset
        self.done = threading.Event()
        self.errors: list[str] = []

    def play(self, stop: threading.Event) -> None:
        start = time.monotonic()
        try:
            for step in self.steps:
                delay = start + step.t - time.monotonic()
                if delay > 0 and stop.wait(delay):
                    return
                try:
                    self.apply(step)
                except Exception as exc:  # a step the simulators cannot play is reported, not fatal
                    self.errors.append(f"line {step.line}: {step.event}: {type(exc).__name__}: {exc}")
        finally:
            self.done.set()

    def apply(self, step: Step) -> None:
        d, hw = step.data, self.hw
        if step.event == "scan":
            if hw.serial_scanner is not None:
                hw.serial_scanner.sim.scan(d["text"])
            else:
                hw.camera.sim.show(d["text"])
        elif step.event == "scan_image":
            import cv2

            frame = cv2.imread(str(d["path"]), cv2.IMREAD_GRAYSCALE)
            if frame is None:
                raise ScenarioError(f"cannot read image {d['path']}")
            hw.camera.sim.show_frames([frame])
        elif step.event == "temperature":
            self._chip().set_object(float(d["celsius"]) - self.offset)
        elif step.event == "card":
            from drivers.idcard import CardFields

            number = d["id_number"]
            female = len(number) == 18 and number[16].isdigit() and int(number[16]) % 2 == 0
            fields = {
                "name": "测试",
                "sex": "女" if female else "男",
                "nation": "汉",
                "birth": number[6:14],
                "address": "北京市东城区",
                "authority": "北京市公安局东城分局",
                "valid_from": "20200101",
                "valid_to": "长期",
                **d,
            }
            hw.id_reader.simulator.place_card(CardFields.from_mapping(fields))
        elif step.event == "card_removed":
            hw.id_reader.simulator.remove_card()
        elif step.event == "door":
            hw.gpio.sim.set_door(d["state"] == "open")
        elif step.event == "fault":
            self._fault(d["device"], d["kind"])
        elif step.event == "clear_fault":
            self._fault(d["device"], None)

    def _chip(self) -> Any:
        return self.hw.thermometer.simulator.devices[0]

    def _fault(self, device: str, kind: str | None) -> None:
        hw = self.hw
        if device == "thermometer":
            chip = self._chip()
            chip.disconnect() if kind else chip.connect()
        elif device == "id_reader":
            from drivers.idcard import Fault

            sim = hw.id_reader.simulator
            sim.inject(Fault(kind), count=None) if kind else sim.clear_faults()
        elif device == "serial_scanner":
            sim = hw.serial_scanner.sim
            sim.disconnect() if kind else sim.reconnect()
        elif device == "camera":
            sim = hw.camera.sim
            sim.unplug() if kind else sim.replug()
        else:
            raise ScenarioError(f"no simulated faults for device {device!r}")
