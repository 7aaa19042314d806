"""Device configuration: one TOML file naming each device's backend (`real` or `sim`) and its port
or bus. Validated on load: an unknown section or key, a wrong type or a bad value is a `ConfigError`
naming the file, the key and what is expected. docs/devices.md documents every key.

```toml
[camera]
backend = "sim"          # real: OpenCV VideoCapture (or Picamera2 on a Pi); sim: frames from files
source = "0"             # device index, video file, or image pattern such as "frames/%03d.png"
```
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

BACKENDS = ("real", "sim")
TERMINATORS = ("\r", "\n", "\r\n", "CR", "LF", "CRLF")


class ConfigError(ValueError):
    pass


@dataclass(slots=True)
class CameraConfig:
    backend: str = "sim"
    source: str = "0"  # VideoCapture index ("0"), file, image pattern; "picamera2" for the Pi camera
    width: int = 1280
    height: int = 720
    fps: float = 15.0
    roi: list[float] = field(default_factory=lambda: [0.0, 0.0, 1.0, 1.0])  # x, y, w, h as fractions
    dedupe_seconds: float = 3.0  # the same code held in front of the camera is reported once
    second_opinion: bool = True  # pyzbar on frames where zxing-cpp finds a symbol it cannot decode


@dataclass(slots=True)
class SerialScannerConfig:
    backend: str = "sim"
    url: str = "/dev/ttyUSB0"  # any pyserial URL: /dev/ttyACM0, socket://127.0.0.1:7000, a pty path
    baudrate: int = 9600
    terminator: str = "\r"  # what the module sends after each code: "\r", "\n" or "\r\n"
    max_length: int = 4096  # longer lines are dropped as garbage
    dedupe_seconds: float = 2.0
    line_timeout: float = 2.0  # a partial line silent this long is dropped, never reported


@dataclass(slots=True)
class ThermometerConfig:
    backend: str = "sim"
    bus: int = 1  # /dev/i2c-1 on a Raspberry Pi
    address: int = 0x5A
    samples: int = 5  # median of this many object readings
    sample_interval: float = 0.05  # seconds between samples
    timeout: float = 1.5  # seconds: upper bound of one measurement
    emissivity: float = 0.98  # human skin; written to EEPROM only when different
    model: str = "offset"  # skin -> body estimate: "offset", "linear" or "table"
    offset: float = 0.9  # model "offset": body = skin + offset
    linear: list[float] = field(default_factory=lambda: [1.0, 0.0, 0.9])  # body = a*skin + b*ambient + c
    table: list[list[float]] = field(default_factory=list)  # [[skin, body], ...] interpolated
    min_skin: float = 30.0  # below: "no person in front / move closer"
    max_skin: float = 43.0  # above: implausible


@dataclass(slots=True)
class IdReaderConfig:
    backend: str = "sim"
    url: str = "/dev/ttyUSB1"
    baudrate: int = 115200
    poll_interval: float = 0.3  # seconds between "find card" polls
    read_timeout: float = 2.5
    retries: int = 2


@dataclass(slots=True)
class PcscConfig:
    backend: str = "sim"  # sim: the vpcd virtual reader with the project's virtual card (tests, demos)
    reader: str = ""  # substring of the reader name to use; empty: the first reader
    poll_interval: float = 0.5


@dataclass(slots=True)
class GpioConfig:
    backend: str = "sim"  # real: lgpio on the Pi; sim: gpiozero's MockFactory
    relay_pin: int = 17
    relay_active_high: bool = False  # most relay boards are active-low
    pulse_seconds: float = 1.0
    green_pin: int = 27
    red_pin: int = 22
    buzzer_pin: int = 23
    door_pin: int | None = 24  # None: no door sensor wired
    door_held_seconds: float = 10.0
    lamps_active_high: bool = True  # False: lamps switched by an active-low relay board
    buzzer_active_high: bool = True  # False: common 3-pin active-low buzzer modules
    buzzer: str = "active"  # "active" (own oscillator) or "passive" (piezo driven with PWM tones)
    door_open_high: bool = True  # NC contact to ground + pull-up: closed = low, open or cut wire = high
    door_bounce_seconds: float = 0.05


@dataclass(slots=True)
class DevicesConfig:
    camera: CameraConfig | None = field(default_factory=CameraConfig)
    serial_scanner: SerialScannerConfig | None = None
    thermometer: ThermometerConfig | None = field(default_factory=ThermometerConfig)
    id_reader: IdReaderConfig | None = field(default_factory=IdReaderConfig)
    pcsc: PcscConfig | None = None
    gpio: GpioConfig | None = field(default_factory=GpioConfig)


SECTIONS: dict[str, type] = {
    "camera": CameraConfig,
    "serial_scanner": SerialScannerConfig,
    "thermometer": ThermometerConfig,
    "id_reader": IdReaderConfig,
    "pcsc": PcscConfig,
    "gpio": GpioConfig,
}


def _check_value(where: str, value: Any, hint: Any) -> Any:
    text = getattr(hint, "__name__", None) if isinstance(hint, type) else str(hint)
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif hint is str:
        ok = isinstance(value, str)
    elif text == "int | None":  # TOML has no null: `false` means "not wired"
        value = None if value is False else value
        ok = value is None or (isinstance(value, int) and not isinstance(value, bool))
    elif text == "list[float]":
        ok = isinstance(value, list) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value
        )
    elif text == "list[list[float]]":
        ok = isinstance(value, list) and all(
            isinstance(row, list) and len(row) == 2 and all(isinstance(v, int | float) for v in row)
            for row in value
        )
    else:  # pragma: no cover - a new field type must be taught here
        raise TypeError(f"config field type {hint} not supported")
    if not ok:
        wanted = {"list[float]": "a list of numbers", "list[list[float]]": "a list of [skin, body] pairs"}
        raise ConfigError(f"{where}: expected {wanted.get(text, text)}, got {value!r}")
    return value


def check_roi(roi: list[float]) -> tuple[float, float, float, float]:
    """`CameraConfig.roi` as (x, y, w, h) fractions, or ConfigError."""
    if len(roi) != 4:
        raise ConfigError(
            f"[camera] roi must be 4 numbers [x, y, w, h] (fractions of the frame), got {roi!r}"
        )
    x, y, w, h = (float(v) for v in roi)
    if not (0.0 <= x < 1.0 and 0.0 <= y < 1.0 and 0.0 < w <= 1.0 and 0.0 < h <= 1.0):
        raise ConfigError(f"[camera] roi {list(roi)}: x, y must be in [0, 1) and w, h in (0, 1]")
    if x + w > 1.0 + 1e-9 or y + h > 1.0 + 1e-9:
        raise ConfigError(f"[camera] roi {list(roi)}: the region runs past the frame (x + w or y + h > 1)")
    return x, y, w, h


def _section(name: str, cls: type, raw: Any, source: str) -> Any:
    if raw is False:
        return None  # `camera = false`: not fitted
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: [{name}] must be a table (or false when the device is not fitted)")
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(
            f"{source}: [{name}] has unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    values = {k: _check_value(f"{source}: [{name}] {k}", v, hints[k]) for k, v in raw.items()}
    config = cls(**values)
    if config.backend not in BACKENDS:
        raise ConfigError(f'{source}: [{name}] backend must be "real" or "sim", not {config.backend!r}')
    if name == "camera":
        try:
            check_roi(config.roi)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None
    if name == "gpio" and config.buzzer not in ("active", "passive"):
        raise ConfigError(f'{source}: [gpio] buzzer must be "active" or "passive", not {config.buzzer!r}')
    if name == "serial_scanner" and config.terminator not in TERMINATORS:
        raise ConfigError(
            f"{source}: [serial_scanner] terminator must be one of {', '.join(map(repr, TERMINATORS))}"
        )
    return config


def parse(text: str, source: str = "<config>") -> DevicesConfig:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{source}: unknown section(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    config = DevicesConfig()
    for name, cls in SECTIONS.items():
        if name in raw:
            setattr(config, name, _section(name, cls, raw[name], source))
    return config


def read_text(path: str | Path, what: str, error: type[ValueError] = ConfigError) -> str:
    """A configuration file's UTF-8 text, or `error` saying which file and why (also for the policy)."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text") from None


def load(path: str | Path | None) -> DevicesConfig:
    """The configuration in `path`, or all-simulated defaults when `path` is None."""
    if path is None:
        return DevicesConfig()
    return parse(read_text(path, "device configuration"), str(path))
