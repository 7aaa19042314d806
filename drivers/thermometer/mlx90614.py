"""Melexis MLX90614 infrared thermometer over I2C/SMBus with smbus2.

Every word is read with its PEC checked:
- by the kernel when the adapter advertises I2C_FUNC_SMBUS_PEC (Pi 0-4, i2c-bcm2835): `bus.pec = 1`,
  then `read_word_data` fails with errno 74 EBADMSG on a mismatch and `write_word_data` appends the PEC;
- in software otherwise (Pi 5, RP1's i2c-designware does not advertise PEC, so smbus2 refuses
  `bus.pec = 1`): a combined `i2c_rdwr` of write [command] + read 3 bytes, and the CRC-8 of
  [addr<<1, command, addr<<1|1, LSB, MSB] compared here; writes carry a PEC computed here.
The MLX90614 ignores EEPROM writes without a correct PEC, so writes need it too.

`Thermometer.measure()` takes the median of `samples` (Ta, Tobj1) pairs spaced `sample_interval`
apart, bounded by `timeout`, and classifies the skin median: below `min_skin` nobody is in front (or
too far), above `max_skin` it is not skin; otherwise it estimates body temperature with the configured
model. It never raises: bus trouble is a `sensor_error` reading and a `.health` state.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import statistics
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from enum import StrEnum

from smbus2 import I2cFunc, SMBus, i2c_msg

from drivers.config import ThermometerConfig
from drivers.health import Health, HealthTracker, State

from .estimate import SkinToBody, build_model
from .pec import read_word_pec, write_word_pec

log = logging.getLogger(__name__)

RAM_TA, RAM_TOBJ1 = 0x06, 0x07
EEPROM_EMISSIVITY = 0x24
ERROR_FLAG = 0x8000
FEVER_THRESHOLD = 37.3  # °C, Chinese screening practice: re-measure once before refusing
TA_RANGE = (-40.0, 125.0)  # the sensor's ambient range; outside it a word is garbage
TOBJ_RANGE = (-70.01, 382.2)  # the object range (0x27AD..0x7FFF)

# Defaults for settings ThermometerConfig does not (yet) carry; a config attribute of the same name wins.
SAMPLE_INTERVAL = 0.05  # s between samples of one measurement
MEASURE_TIMEOUT = 1.5  # s, upper bound of measure()
EEPROM_DELAY = 0.010  # s after each erase/write; the datasheet needs 5 ms
READ_ATTEMPTS = 3  # per word, on PEC mismatch or bus error
NACK_ATTEMPTS = 2  # per word, when the chip does not acknowledge
RETRY_DELAY = 0.002
PEC_WINDOW = 60.0  # s: PEC errors this recent keep health "degraded"
STUCK_READS = 20  # identical (Ta, Tobj) raw pairs in a row ...
STUCK_SECONDS = 5.0  # ... spanning at least this long mean the sensor is frozen
PROBE_INTERVAL = 10.0  # s between health probes while ok
BACKOFF = (0.5, 15.0)  # s, first and longest delay between recovery probes
MAX_EMISSIVITY_WRITES = 3  # per Thermometer: never wear the EEPROM out in a retry loop

_MISSING = {errno.EREMOTEIO, errno.ENXIO}  # the address was not acknowledged
_ADAPTER_GONE = {errno.ENODEV, errno.EBADF, errno.ENOTTY, errno.ENOENT, errno.EACCES, errno.EPERM}


class Status(StrEnum):
    OK = "ok"
    NO_PERSON = "no_person"  # skin below min_skin: nobody in front, or too far away: "move closer"
    IMPLAUSIBLE = "implausible"  # above max_skin: not a forehead (a cup of tea, a lamp): re-measure
    SENSOR_ERROR = "sensor_error"  # no trustworthy reading; `reason` says why


@dataclass(frozen=True, slots=True)
class Reading:
    status: Status
    body: float | None = None  # the screening estimate, only when status is ok
    skin: float | None = None  # median object temperature, °C
    ambient: float | None = None  # median sensor (ambient) temperature, °C
    samples: int = 0  # valid samples the medians are taken over
    requested: int = 0
    reason: str = ""
    duration: float = 0.0  # s spent in measure()
    at: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    def fever(self, threshold: float = FEVER_THRESHOLD) -> bool:
        return self.status is Status.OK and self.body is not None and self.body >= threshold

    def as_dict(self) -> dict:
        data = asdict(self)
        data["status"] = str(self.status)
        return data


class ThermometerError(Exception):
    """A direct request (ambient, emissivity, sample) could not be answered; the text says why."""


class _BusError(Exception):
    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind = kind  # "adapter" (no bus), "missing" (no ACK), "pec", "bus"
        self.detail = detail


def decode(word: int) -> float:
    """A RAM temperature word (error flag masked off) in °C."""
    return (word & 0x7FFF) * 0.02 - 273.15


def _errname(code: int | None) -> str:
    return f"errno {code} {errno.errorcode.get(code, '?')}" if code is not None else "no errno"


def _option(config: ThermometerConfig, name: str, given: float | None, default: float) -> float:
    if given is not None:
        return given
    return getattr(config, name, default)


class Thermometer:
    """One MLX90614. Thread-safe; `measure()` is meant to be called from a worker thread."""

    def __init__(
        self,
        config: ThermometerConfig,
        device: int | str,
        *,
        sample_interval: float | None = None,
        timeout: float | None = None,
        monitor: bool = True,
        probe_interval: float = PROBE_INTERVAL,
        stuck_reads: int = STUCK_READS,
        stuck_seconds: float = STUCK_SECONDS,
        pec_window: float = PEC_WINDOW,
        simulator: object | None = None,
        owned: tuple = (),
    ):
        self._config = config
        self._device = device
        self._path = f"/dev/i2c-{device}" if isinstance(device, int) else device
        self._addr = config.address
        self._model: SkinToBody = build_model(config.model, config.offset, config.linear, config.table)
        self._interval = _option(config, "sample_interval", sample_interval, SAMPLE_INTERVAL)
        self._timeout = _option(config, "timeout", timeout, MEASURE_TIMEOUT)
        self._probe_interval = probe_interval
        self._stuck_reads = stuck_reads
        self._stuck_seconds = stuck_seconds
        self._pec_window = pec_window
        self.simulator = simulator  # the SimI2cAdapter of the sim backend, None for real hardware
        self._owned = owned
        self._health = HealthTracker()
        self._lock = threading.Lock()  # the bus and all state below
        self._closed = threading.Event()
        self._bus: SMBus | None = None
        self._pec_mode = ""
        self._target_emissivity = config.emissivity
        self._emissivity_checked = False
        self._emissivity_writes = 0
        self._emissivity_problem = ""
        self._pec_errors: deque[float] = deque()
        self._stuck_pair: tuple[int, int] | None = None
        self._stuck_count = 0
        self._stuck_since = 0.0
        self.stats: Counter[str] = Counter()
        self._probe()
        self._monitor: threading.Thread | None = None
        if monitor:
            self._monitor = threading.Thread(target=self._run_monitor, name="thermometer-health", daemon=True)
            self._monitor.start()

    # --- public API --------------------------------------------------------------------------------

    @property
    def health(self) -> Health:
        return self._health.get()

    @property
    def pec_mode(self) -> str:
        """Who checks the PEC: "kernel" or "software" once the bus is open, "" before."""
        return self._pec_mode

    @property
    def model(self) -> SkinToBody:
        return self._model

    def set_offset(self, offset: float) -> None:
        """Use a new calibration offset from now on (the technician's calibration screen saves it to
        the configuration too). Only for `model = "offset"`."""
        if self._config.model != "offset":
            raise ValueError('set_offset needs model = "offset"')
        self._model = build_model("offset", offset, self._config.linear, self._config.table)

    def measure(self) -> Reading:
        """One screening reading; blocks for about samples x sample_interval, never past the timeout."""
        started = time.monotonic()
        requested = self._config.samples
        if self._closed.is_set():
            return self._error("thermometer is closed", started, requested)
        if not self._lock.acquire(timeout=self._timeout):
            return self._error("thermometer busy (another request holds the bus)", started, requested)
        try:
            return self._measure_locked(started, requested)
        except Exception as exc:  # a driver bug must not kill the loop's worker
            log.exception("thermometer: measure failed")
            self._health.failed(f"internal error: {type(exc).__name__}")
            return self._error(f"internal error: {type(exc).__name__}", started, requested)
        finally:
            self._lock.release()

    def sample(self) -> tuple[float, float]:
        """One (ambient, object) pair in °C, unfiltered and unclassified (diagnostics)."""
        with self._locked():
            ta, to = self._checked(self._call(self._read_pair))
            self._settle()
            return ta, to

    def ambient(self) -> float:
        """The sensor's own (ambient) temperature in °C."""
        with self._locked():
            word = self._call(self._read_word, RAM_TA)
            if word & ERROR_FLAG:
                self._health.degraded("sensor sets its error flag on the ambient temperature")
                raise ThermometerError("sensor error flag set on the ambient temperature")
            value = decode(word)
            if not TA_RANGE[0] <= value <= TA_RANGE[1]:
                self._health.degraded("ambient word outside the sensor's range")
                raise ThermometerError(f"ambient {value:.2f} °C outside the sensor's range")
            self._settle()
            return value

    @property
    def emissivity(self) -> float:
        """The emissivity in the chip's EEPROM (0x24 = round(65535 * emissivity))."""
        with self._locked():
            return self._call(self._read_word, EEPROM_EMISSIVITY) / 65535

    @emissivity.setter
    def emissivity(self, value: float) -> None:
        if not 0.1 <= value <= 1.0:
            raise ValueError("emissivity must be between 0.1 and 1.0")
        target = round(65535 * value)
        with self._locked():
            self._target_emissivity = value
            try:
                if self._read_word(EEPROM_EMISSIVITY) != target:
                    self._program_emissivity(target)
            except _BusError as exc:
                self._problem(exc)
                raise ThermometerError(exc.detail) from None
            except ThermometerError as exc:
                self._emissivity_problem = str(exc)
                self._health.degraded(str(exc))
                raise
            self._emissivity_problem = ""
            self._emissivity_checked = True
            self._settle()

    def selftest(self) -> tuple[str, str]:
        """("ok"|"degraded"|"failed", detail): the sensor answers with a valid PEC and a plausible
        ambient. Runs on this open thermometer under its bus lock (a measurement in progress finishes
        first), so the running kiosk's sensor is tested as it is held; `selftest(config)` opens one and
        calls this."""
        try:
            ambient = self.ambient()
            emissivity = self.emissivity
            health = self.health
            detail = (
                f"ambient {ambient:.1f} °C, emissivity {emissivity:.3f}, {health.reason or 'PEC checked'}"
            )
            if not 0.0 <= ambient <= 50.0:
                return (
                    "degraded",
                    f"ambient {ambient:.1f} °C is outside 0-50 °C: check the sensor's placement",
                )
            if health.state != "ok":
                return str(health.state), detail
            return "ok", detail
        except ThermometerError as exc:
            return "failed", str(exc)

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        if self._monitor is not None:
            self._monitor.join(timeout=3.0)
        got = self._lock.acquire(timeout=3.0)
        try:
            self._close_bus()
        finally:
            if got:
                self._lock.release()
        for thing in self._owned:
            thing.close()
        self._health.failed("closed")

    def __enter__(self) -> Thermometer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- measuring ---------------------------------------------------------------------------------

    def _measure_locked(self, started: float, requested: int) -> Reading:
        deadline = started + self._timeout
        try:
            self._ensure_ready()
        except _BusError as exc:
            self._problem(exc)
            return self._error(exc.detail, started, requested)
        ambients: list[float] = []
        objects: list[float] = []
        problems: Counter[str] = Counter()
        last_error: _BusError | None = None
        attempted = 0
        for i in range(requested):
            if i:
                if time.monotonic() + self._interval > deadline:
                    problems["timeout"] += 1
                    break
                if self._closed.wait(self._interval):
                    break
            attempted += 1
            try:
                pair = self._read_pair()
            except _BusError as exc:
                if exc.kind in ("missing", "adapter"):
                    self._problem(exc)
                    return self._error(exc.detail, started, requested)
                problems[exc.kind] += 1
                last_error = exc
                continue
            ta_word, to_word = pair
            if (ta_word | to_word) & ERROR_FLAG:
                problems["flag"] += 1
                continue
            ta, to = decode(ta_word), decode(to_word)
            if not (TA_RANGE[0] <= ta <= TA_RANGE[1] and TOBJ_RANGE[0] <= to <= TOBJ_RANGE[1]):
                problems["range"] += 1
                continue
            ambients.append(ta)
            objects.append(to)

        if self._is_stuck():
            reason = f"readings frozen: the same raw words {self._stuck_count} times over {time.monotonic() - self._stuck_since:.1f} s"
            self._health.degraded(reason)
            return self._error(reason, started, requested, len(objects))
        if len(objects) < requested // 2 + 1:
            reason = self._failure_reason(problems, attempted, last_error)
            if problems["flag"]:
                self._health.degraded("sensor sets its error flag")
            elif objects or problems["range"]:
                self._health.degraded(reason)
            else:
                self._health.failed(reason)
            return self._error(reason, started, requested, len(objects))
        discarded = attempted - len(objects)
        if problems["flag"] or problems["range"]:
            self._health.degraded(
                f"{discarded} of {attempted} samples discarded ({self._describe(problems)})"
            )
        else:
            self._settle()

        skin = statistics.median(objects)
        ambient = statistics.median(ambients)
        common = {
            "skin": round(skin, 2),
            "ambient": round(ambient, 2),
            "samples": len(objects),
            "requested": requested,
            "duration": time.monotonic() - started,
        }
        if skin < self._config.min_skin:
            return Reading(Status.NO_PERSON, reason="no person in front: move closer", **common)
        if skin > self._config.max_skin:
            reason = f"{skin:.1f} °C is above {self._config.max_skin:g} °C, not skin: re-measure"
            return Reading(Status.IMPLAUSIBLE, reason=reason, **common)
        body = self._model(skin, ambient)
        return Reading(Status.OK, body=round(body, 2), reason=self._model.describe(), **common)

    @staticmethod
    def _describe(problems: Counter[str]) -> str:
        names = {
            "flag": "error flag",
            "range": "out of range",
            "pec": "PEC errors",
            "bus": "bus errors",
            "timeout": "timeout",
        }
        return ", ".join(f"{names[k]} {n}" for k, n in problems.items() if n)

    def _failure_reason(self, problems: Counter[str], attempted: int, last: _BusError | None) -> str:
        if problems["flag"]:
            return f"sensor error flag set in {problems['flag']} of {attempted} samples"
        if problems["pec"] and not problems["bus"]:
            return f"PEC mismatch on {problems['pec']} of {attempted} samples after retries (electrical noise or wiring)"
        if problems["bus"] or problems["pec"]:
            return last.detail if last else "bus errors"
        if problems["range"]:
            return f"{problems['range']} of {attempted} samples outside the sensor's range"
        return f"timed out after {self._timeout:g} s with too few samples"

    def _error(self, reason: str, started: float, requested: int, samples: int = 0) -> Reading:
        return Reading(
            Status.SENSOR_ERROR,
            reason=reason,
            samples=samples,
            requested=requested,
            duration=time.monotonic() - started,
        )

    def _read_pair(self) -> tuple[int, int]:
        pair = (self._read_word(RAM_TA), self._read_word(RAM_TOBJ1))
        now = time.monotonic()
        if pair == self._stuck_pair:
            self._stuck_count += 1
        else:
            self._stuck_pair, self._stuck_count, self._stuck_since = pair, 1, now
        return pair

    def _is_stuck(self) -> bool:
        return (
            self._stuck_reads > 0
            and self._stuck_count >= self._stuck_reads
            and time.monotonic() - self._stuck_since >= self._stuck_seconds
        )

    def _checked(self, pair: tuple[int, int]) -> tuple[float, float]:
        ta_word, to_word = pair
        if (ta_word | to_word) & ERROR_FLAG:
            self._health.degraded("sensor sets its error flag")
            raise ThermometerError("sensor error flag set")
        ta, to = decode(ta_word), decode(to_word)
        if not (TA_RANGE[0] <= ta <= TA_RANGE[1] and TOBJ_RANGE[0] <= to <= TOBJ_RANGE[1]):
            self._health.degraded("words outside the sensor's range")
            raise ThermometerError("words outside the sensor's range")
        return ta, to

    # --- health ------------------------------------------------------------------------------------

    def _settle(self) -> None:
        """After a clean operation: ok, unless something recent still counts against it."""
        now = time.monotonic()
        while self._pec_errors and now - self._pec_errors[0] > self._pec_window:
            self._pec_errors.popleft()
        if self._is_stuck():
            self._health.degraded(f"readings frozen: the same raw words {self._stuck_count} times")
        elif self._emissivity_problem:
            self._health.degraded(self._emissivity_problem)
        elif self._pec_errors:
            n = len(self._pec_errors)
            self._health.degraded(f"{n} PEC error(s) in the last {self._pec_window:g} s, recovered by retry")
        else:
            self._health.ok(
                "PEC checked by the kernel" if self._pec_mode == "kernel" else "PEC checked in software"
            )

    def _problem(self, exc: _BusError) -> None:
        if exc.kind == "adapter":
            self._close_bus()
        if exc.kind in ("adapter", "missing"):
            self._emissivity_checked = False  # the chip may have been swapped or reset: check again
        self._health.failed(exc.detail)

    def _probe(self) -> None:
        """A health check: one (Ta, Tobj) pair, connecting (and setting emissivity) first if needed."""
        if not self._lock.acquire(timeout=1.0):
            return
        try:
            if self._closed.is_set():
                return
            self._ensure_ready()
            self._checked(self._read_pair())
            self._settle()
        except _BusError as exc:
            self._problem(exc)
        except ThermometerError:
            pass  # health already set by _checked
        except Exception as exc:
            log.exception("thermometer: probe failed")
            self._health.failed(f"internal error: {type(exc).__name__}")
        finally:
            self._lock.release()

    def _run_monitor(self) -> None:
        backoff = BACKOFF[0]
        while True:
            ok = self._health.get().state is State.OK
            if self._closed.wait(self._probe_interval if ok else backoff):
                return
            before = self._health.get()
            self._probe()
            after = self._health.get()
            backoff = BACKOFF[0] if after.state is State.OK else min(backoff * 2, BACKOFF[1])
            if (before.state, before.reason) != (after.state, after.reason):
                log.warning("thermometer: %s %s", after.state, after.reason)

    # --- the bus -----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the bus for a direct request, connected and ready, or raise ThermometerError."""
        if self._closed.is_set():
            raise ThermometerError("thermometer is closed")
        if not self._lock.acquire(timeout=self._timeout):
            raise ThermometerError("thermometer busy")
        try:
            self._call(self._ensure_ready)
            yield
        finally:
            self._lock.release()

    def _call(self, fn, *args):  # noqa: ANN001, ANN202
        """Run a bus operation for a direct request: a _BusError becomes health + ThermometerError."""
        try:
            return fn(*args)
        except _BusError as exc:
            self._problem(exc)
            raise ThermometerError(exc.detail) from None

    def _ensure_ready(self) -> None:
        if self._bus is None:
            self._bus, self._pec_mode = self._open_bus()
        if not self._emissivity_checked:
            self._check_emissivity()

    def _open_bus(self) -> tuple[SMBus, str]:
        bus = SMBus()
        try:
            bus.open(self._device)
            if bus.funcs & I2cFunc.SMBUS_PEC:
                bus.pec = 1
                mode = "kernel"
            elif bus.funcs & I2cFunc.I2C:
                mode = "software"
            else:
                bus.close()
                raise _BusError("adapter", f"{self._path} supports neither SMBus PEC nor plain I2C transfers")
        except FileNotFoundError:
            bus.close()
            raise _BusError(
                "adapter",
                f"{self._path} does not exist: enable I2C (dtparam=i2c_arm=on) or fix [thermometer] bus",
            ) from None
        except PermissionError:
            bus.close()
            raise _BusError(
                "adapter", f"no permission to open {self._path}: add the kiosk user to the i2c group"
            ) from None
        except OSError as exc:
            bus.close()
            raise _BusError("adapter", f"cannot use {self._path}: {_errname(exc.errno)}") from None
        log.info(
            "thermometer: %s open, PEC checked %s",
            self._path,
            "by the kernel" if mode == "kernel" else "in software",
        )
        return bus, mode

    def _close_bus(self) -> None:
        bus, self._bus, self._pec_mode = self._bus, None, ""
        if bus is not None:
            with contextlib.suppress(OSError):
                bus.close()

    def _read_word(self, command: int) -> int:
        last: _BusError | None = None
        nacks = 0
        for attempt in range(READ_ATTEMPTS):
            if attempt:
                time.sleep(RETRY_DELAY)
                self.stats["retries"] += 1
            self.stats["reads"] += 1
            try:
                word = self._raw_read(command)
            except OSError as exc:
                code = exc.errno
                if code == errno.EBADMSG:
                    self.stats["pec_errors"] += 1
                    self._pec_errors.append(time.monotonic())
                    last = _BusError(
                        "pec",
                        f"PEC mismatch reading 0x{command:02X} on every attempt (electrical noise or wiring)",
                    )
                    continue
                if code in _MISSING:
                    self.stats["nacks"] += 1
                    nacks += 1
                    last = _BusError(
                        "missing",
                        f"no answer from the sensor at 0x{self._addr:02X} on {self._path} ({_errname(code)}): check wiring and power",
                    )
                    if nacks >= NACK_ATTEMPTS:
                        raise last from None
                    continue
                if code in _ADAPTER_GONE:
                    raise _BusError(
                        "adapter", f"{self._path} failed ({_errname(code)}): will reopen"
                    ) from None
                if code == errno.EBUSY:
                    raise self._claimed() from None
                self.stats["bus_errors"] += 1
                last = _BusError("bus", f"bus error reading 0x{command:02X} ({_errname(code)})")
                continue
            return word
        assert last is not None
        raise last

    def _claimed(self) -> _BusError:
        return _BusError(
            "adapter",
            f"address 0x{self._addr:02X} on {self._path} is claimed by a kernel driver (errno 16 EBUSY): "
            "remove dtoverlay=i2c-sensor,mlx90614 from config.txt",
        )

    def _raw_read(self, command: int) -> int:
        bus = self._bus
        if bus is None:
            raise OSError(errno.EBADF, "bus not open")
        if self._pec_mode == "kernel":
            return bus.read_word_data(self._addr, command)
        write, read = i2c_msg.write(self._addr, [command]), i2c_msg.read(self._addr, 3)
        bus.i2c_rdwr(write, read)
        lsb, msb, pec = bytes(read)
        if read_word_pec(self._addr, command, lsb, msb) != pec:
            raise OSError(errno.EBADMSG, "PEC mismatch (checked in software)")
        return lsb | (msb << 8)

    def _write_word(self, command: int, value: int) -> None:
        bus = self._bus
        if bus is None:
            raise _BusError("adapter", f"{self._path} is not open")
        lsb, msb = value & 0xFF, value >> 8
        last: _BusError | None = None
        for attempt in range(NACK_ATTEMPTS):
            if attempt:
                time.sleep(EEPROM_DELAY)
            self.stats["writes"] += 1
            try:
                if self._pec_mode == "kernel":
                    bus.write_word_data(self._addr, command, value)  # the kernel appends the PEC
                else:
                    bus.i2c_rdwr(
                        i2c_msg.write(
                            self._addr, [command, lsb, msb, write_word_pec(self._addr, command, lsb, msb)]
                        )
                    )
                return
            except OSError as exc:
                if exc.errno == errno.EBUSY:
                    raise self._claimed() from None
                kind = (
                    "missing" if exc.errno in _MISSING else "adapter" if exc.errno in _ADAPTER_GONE else "bus"
                )
                last = _BusError(kind, f"writing 0x{command:02X} failed ({_errname(exc.errno)})")
                if kind == "adapter":
                    break
        assert last is not None
        raise last

    # --- EEPROM ------------------------------------------------------------------------------------

    def _program_emissivity(self, target: int) -> None:
        """Erase (write 0x0000), wait, check, write, wait, read back: the sequence the chip requires.
        Raises _BusError when the bus fails, ThermometerError when the chip did not take the value."""
        self._emissivity_writes += 1
        self.stats["eeprom_writes"] += 1
        self._write_word(EEPROM_EMISSIVITY, 0x0000)
        time.sleep(EEPROM_DELAY)
        erased = self._read_word(EEPROM_EMISSIVITY)
        if erased != 0:
            raise ThermometerError(f"emissivity erase did not take: EEPROM 0x24 reads 0x{erased:04X}")
        self._write_word(EEPROM_EMISSIVITY, target)
        time.sleep(EEPROM_DELAY)
        back = self._read_word(EEPROM_EMISSIVITY)
        if back != target:
            raise ThermometerError(f"emissivity write did not take: wrote 0x{target:04X}, reads 0x{back:04X}")
        log.warning(
            "thermometer: emissivity set to %.4f (0x%04X); power-cycle the sensor for it to take full effect",
            target / 65535,
            target,
        )

    def _check_emissivity(self) -> None:
        """Make EEPROM 0x24 match the configured emissivity, writing only when it differs (EEPROM wear)."""
        target = round(65535 * self._target_emissivity)
        current = self._read_word(EEPROM_EMISSIVITY)
        if current == target:
            self._emissivity_problem = ""
        elif self._emissivity_writes >= MAX_EMISSIVITY_WRITES:
            self._emissivity_problem = f"emissivity is {current / 65535:.4f}, not {self._target_emissivity:g}: EEPROM writes keep failing"
        else:
            try:
                self._program_emissivity(target)
                self._emissivity_problem = ""
            except ThermometerError as exc:  # measure anyway; health says degraded and why
                self._emissivity_problem = str(exc)
        self._emissivity_checked = True
