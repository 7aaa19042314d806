"""A register model of the Melexis MLX90614 as it behaves on the SMBus wires.

What it models (datasheet and Melexis application note "SMBus communication with MLX90614"):
- answers its address (EEPROM 0x0E low byte, default 0x5A, loaded at power-on) and address 0x00;
- commands: 000x_xxxx RAM read (0x06 Ta, 0x07 Tobj1, 0x08 Tobj2), 001x_xxxx EEPROM read/write,
  0xF0 read flags (EEBUSY bit 7, INIT bit 4 high when power-on init is done), 0xFF sleep; other
  command bytes are not acknowledged;
- a read answers LSB, MSB, PEC (CRC-8 over addr<<1, command, addr<<1|1, LSB, MSB), then the idle bus;
- RAM temperatures are Kelvin/0.02 in 15 bits, bit 15 the error flag; RAM is read-only over SMBus;
- EEPROM writes need a correct PEC (a write without one, or with a wrong one, is ignored), only the
  cells writable in application mode change (the app note counts 9; modelled: 0x00-0x05, 0x0E, 0x0F),
  a write must be preceded by an erase (writing 0x0000): writing over an unerased cell only sets bits
  (old | new), and each erase/write keeps the EEPROM busy for 5 ms, during which writes are ignored
  and EEPROM reads return 0x0000 (as users report);
- the object temperature it reports depends on the emissivity in EEPROM 0x04:
  T_reported^4 = Ta^4 + (eps_target / eps_set) * (T_true^4 - Ta^4) (Kelvin).

The scenario (what is in front of the sensor, the room) runs on `clock`; faults are in `faults`.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from .pec import read_word_pec, write_word_pec
from .simbus import Msg, Nack

RAM_TA, RAM_TOBJ1, RAM_TOBJ2 = 0x06, 0x07, 0x08
EEPROM_EMISSIVITY = 0x04  # command 0x24
EEPROM_ADDRESS = 0x0E  # command 0x2E
CMD_FLAGS, CMD_SLEEP = 0xF0, 0xFF
WRITABLE = frozenset({0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x0E, 0x0F})
EEPROM_WRITE_TIME = 0.005

# A plausible factory image: Tomax, Tomin, PWMCTRL, Ta range, emissivity 1.0, config register 1, ...,
# SMBus address 0x5A in 0x0E, ID number in 0x1C-0x1F. Calibration cells are arbitrary but fixed.
FACTORY_EEPROM = (
    0x9993, 0x62E3, 0x0201, 0xF71C, 0xFFFF, 0x9FB4, 0x2D35, 0xA628,
    0x1E19, 0x3CBD, 0x0000, 0x5A70, 0x0E07, 0x0000, 0xBE5A, 0x0000,
    0x9C79, 0x0F10, 0x0000, 0xE13C, 0x8A45, 0x0A1B, 0x0000, 0x4D84,
    0x78F9, 0x3027, 0x0000, 0xC350, 0x2F1B, 0x1B22, 0x1003, 0x9E7A,
)  # fmt: skip

Temperature = float | Callable[[float], float]  # a constant, or a function of scenario time (seconds)


class Scenario:
    """A value over scenario time: piecewise-linear through (t, value) points, constant outside them.
    A step is two points at (almost) the same time."""

    def __init__(self, points: list[tuple[float, float]]):
        if not points:
            raise ValueError("a scenario needs at least one point")
        self.points = sorted((float(t), float(v)) for t, v in points)

    def __call__(self, t: float) -> float:
        pts = self.points
        if t <= pts[0][0]:
            return pts[0][1]
        for (t0, v0), (t1, v1) in zip(pts, pts[1:], strict=False):
            if t <= t1:
                return v1 if t1 == t0 else v0 + (v1 - v0) * (t - t0) / (t1 - t0)
        return pts[-1][1]


def person_visit(
    arrive: float, leave: float, skin: float = 35.6, background: float = 22.0, ramp: float = 0.3
) -> Scenario:
    """Background, then a forehead moving in over `ramp` seconds at `arrive`, away again at `leave`."""
    return Scenario(
        [
            (arrive, background),
            (arrive + ramp, skin),
            (max(leave, arrive + ramp), skin),
            (max(leave, arrive + ramp) + ramp, background),
        ]
    )


def drift(start: float, per_second: float) -> Callable[[float], float]:
    """A room warming (or cooling) steadily: start + per_second * t."""
    return lambda t: start + per_second * t


@dataclass(slots=True)
class Faults:
    present: bool = True  # False: the chip does not acknowledge (unplugged, no power): EREMOTEIO
    bad_pec: float = 0.0  # chance that a read frame has a bit flipped on the wires; 1.0 = every read
    error_flag: bool = False  # bit 15 set in Tobj1/Tobj2 (the chip flags its object result invalid)
    ambient_error_flag: bool = False  # bit 15 set in Ta
    stuck: bool = False  # RAM frozen: the same raw words forever, whatever is in front
    outliers: deque[float] = field(default_factory=deque)  # the next Tobj1 reads return these, once each


@dataclass(frozen=True, slots=True)
class WriteRecord:
    at: float  # time.monotonic()
    addr: int
    command: int
    value: int
    wire: bytes  # bytes after the address byte, as sent: command, LSB, MSB[, PEC]
    accepted: bool
    note: str


@dataclass(frozen=True, slots=True)
class BusRecord:
    at: float
    frames: tuple[bytes, ...]  # each: address byte + bytes on the wire (what a logic analyser shows)


class Mlx90614Chip:
    def __init__(
        self,
        address: int = 0x5A,
        *,
        ambient: Temperature = 22.0,
        object_temp: Temperature | None = None,
        target_emissivity: float = 0.98,
        emissivity: float = 1.0,
        noise: float = 0.03,
        ambient_noise: float = 0.01,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.eeprom = list(FACTORY_EEPROM)
        self.eeprom[EEPROM_ADDRESS] = (self.eeprom[EEPROM_ADDRESS] & 0xFF00) | (address & 0x7F)
        self.eeprom[EEPROM_EMISSIVITY] = round(65535 * emissivity)
        self.ambient = ambient
        self.object_temp: Temperature = ambient if object_temp is None else object_temp
        self.target_emissivity = target_emissivity
        self.noise = noise
        self.ambient_noise = ambient_noise
        self.faults = Faults()
        self.clock = clock
        self.write_log: list[WriteRecord] = []
        self.bus_log: deque[BusRecord] = deque(maxlen=512)
        self.reads = 0
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._frozen: dict[int, int] = {}
        self._busy_until = 0.0
        self._t0 = clock()
        self.address = address
        self.power_cycle()

    # --- the scenario -----------------------------------------------------------------------------

    def now(self) -> float:
        """Scenario time: seconds since construction or `restart_scenario()`."""
        return self.clock() - self._t0

    def restart_scenario(self) -> None:
        self._t0 = self.clock()

    def set_ambient(self, value: Temperature) -> None:
        self.ambient = value

    def set_object(self, value: Temperature) -> None:
        self.object_temp = value

    @staticmethod
    def _value(v: Temperature, t: float) -> float:
        return v(t) if callable(v) else float(v)

    def ambient_at(self, t: float | None = None) -> float:
        return self._value(self.ambient, self.now() if t is None else t)

    def object_at(self, t: float | None = None) -> float:
        return self._value(self.object_temp, self.now() if t is None else t)

    def inject_outliers(self, *temperatures: float) -> None:
        self.faults.outliers.extend(temperatures)

    def disconnect(self) -> None:
        self.faults.present = False

    def connect(self) -> None:
        """The chip answers again, after a power-on (address and settings reloaded from EEPROM)."""
        self.power_cycle()
        self.faults.present = True

    def power_cycle(self) -> None:
        with self._lock:
            self.address = self.eeprom[EEPROM_ADDRESS] & 0x7F
            self._busy_until = 0.0
            self._frozen.clear()

    @property
    def emissivity(self) -> float:
        return self.eeprom[EEPROM_EMISSIVITY] / 65535

    # --- the wires --------------------------------------------------------------------------------

    def answers(self, addr: int) -> bool:
        return self.faults.present and addr in (self.address, 0x00)

    def transfer(self, msgs: list[Msg]) -> list[bytes]:
        with self._lock:
            replies: list[bytes] = []
            frames: list[bytes] = []
            command: int | None = None
            for msg in msgs:
                if not msg.read:
                    frames.append(bytes([msg.address_byte()]) + msg.data)
                    if not msg.data:
                        continue  # quick write: address only
                    command = msg.data[0]
                    if not self._known(command):
                        self._log(frames)
                        raise Nack(f"command 0x{command:02X} not acknowledged")
                    if len(msg.data) >= 3:
                        self._write(msg.addr, msg.data)
                        command = None
                    continue
                # a read with no command before it: the chip does not drive SDA, the bus reads 0xFF
                reply = b"\xff" * msg.length if command is None else self._read(msg.addr, command, msg.length)
                frames.append(bytes([msg.address_byte()]) + reply)
                replies.append(reply)
            self._log(frames)
            return replies

    def _log(self, frames: list[bytes]) -> None:
        self.bus_log.append(BusRecord(time.monotonic(), tuple(frames)))

    @staticmethod
    def _known(command: int) -> bool:
        return command < 0x40 or command in (CMD_FLAGS, CMD_SLEEP)

    def _busy(self) -> bool:
        return time.monotonic() < self._busy_until

    def _word(self, command: int) -> int:
        if command == CMD_FLAGS:
            return (0x80 if self._busy() else 0) | 0x10
        if command >= 0x20:
            return 0x0000 if self._busy() else self.eeprom[command & 0x1F]
        if command in (RAM_TA, RAM_TOBJ1, RAM_TOBJ2):
            return self._ram(command)
        return 0x0000

    def _ram(self, reg: int) -> int:
        if self.faults.stuck:
            if reg not in self._frozen:
                self._frozen[reg] = self._ram_live(reg)
            return self._frozen[reg]
        self._frozen.clear()
        return self._ram_live(reg)

    def _ram_live(self, reg: int) -> int:
        t = self.now()
        ambient = self.ambient_at(t)
        if reg == RAM_TA:
            value = ambient + self._rng.gauss(0.0, self.ambient_noise)
            flag = self.faults.ambient_error_flag
        else:
            if reg == RAM_TOBJ1 and self.faults.outliers:
                value = self.faults.outliers.popleft()
            else:
                value = self._reported(self.object_at(t), ambient) + self._rng.gauss(0.0, self.noise)
            flag = self.faults.error_flag
        raw = encode_kelvin(value)
        return raw | 0x8000 if flag else raw

    def _reported(self, true_c: float, ambient_c: float) -> float:
        eps_set = max(self.emissivity, 0.1)
        ta4 = (ambient_c + 273.15) ** 4
        t4 = ta4 + (self.target_emissivity / eps_set) * ((true_c + 273.15) ** 4 - ta4)
        return (t4**0.25 if t4 > 0 else 0.0) - 273.15

    def _read(self, addr: int, command: int, length: int) -> bytes:
        self.reads += 1
        word = self._word(command)
        lsb, msb = word & 0xFF, word >> 8
        frame = bytearray((lsb, msb, read_word_pec(addr, command, lsb, msb)))
        if self.faults.bad_pec and self._rng.random() < self.faults.bad_pec:
            bit = self._rng.randrange(24)
            frame[bit // 8] ^= 1 << (bit % 8)
        return bytes(frame + b"\xff" * max(0, length - 3))[:length]

    def _write(self, addr: int, data: bytes) -> None:
        command, lsb, msb = data[0], data[1], data[2]
        value = lsb | (msb << 8)
        now = time.monotonic()

        def log(accepted: bool, note: str) -> None:
            self.write_log.append(WriteRecord(now, addr, command, value, bytes(data), accepted, note))

        if len(data) < 4:
            return log(False, "no PEC: write ignored")
        if data[3] != write_word_pec(addr, command, lsb, msb):
            return log(False, "wrong PEC: write ignored")
        if command in (CMD_SLEEP, CMD_FLAGS):
            return log(False, "not a write command")
        if command < 0x20:
            return log(False, "RAM is read-only")
        cell = command & 0x1F
        if cell not in WRITABLE:
            return log(False, "cell not writable in application mode")
        if self._busy():
            return log(False, "EEPROM busy: write ignored")
        self.eeprom[cell] = 0 if value == 0 else self.eeprom[cell] | value
        self._busy_until = now + EEPROM_WRITE_TIME
        return log(True, "erased" if value == 0 else "written")


def encode_kelvin(celsius: float) -> int:
    """°C -> the 15-bit RAM word (0.02 K per LSB), clamped to what 15 bits hold."""
    if not math.isfinite(celsius):
        return 0x7FFF
    return min(max(round((celsius + 273.15) / 0.02), 0), 0x7FFF)
