"""Serial QR scanner driver: a GM65/GM861 class module on a UART (/dev/ttyUSB0, /dev/serial0) or a USB
scanner in CDC mode (/dev/ttyACM0), in serial mode: each code is sent as its bytes and a terminator.

One daemon thread owns the port: it blocks in `read` with a timeout (never spins), cuts the stream
into lines (`framing.LineFramer`), drops repeats of the same code within `dedupe_seconds`, and hands
`CodeScanned(source="serial_scanner", text, raw)` to the sink. `raw` is exactly the bytes between
terminators (what signatures cover); `text` is `raw` decoded as UTF-8, or as latin-1 when it is not
valid UTF-8 (binary-mode codes), so decoding never fails and `text.encode("latin-1") == raw` then.

Health: ok while the port is open and lines are clean; degraded for `degraded_window` seconds after
noise, an over-long line or an incomplete line was dropped; failed while the port cannot be opened
or was lost (USB unplugged: `SerialException`/EIO), reopened with exponential backoff until it
comes back. Code contents are never logged: only sizes and reasons.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import serial

from drivers.config import SerialScannerConfig
from drivers.events import CodeScanned, Sink
from drivers.health import Health, HealthTracker

from .framing import Drop, LineFramer, terminator_bytes
from .sim import SimulatedScannerModule

log = logging.getLogger(__name__)

SOURCE = "serial_scanner"
READ_TIMEOUT = 0.25  # a blocking read wakes up this often to expire partial lines and update health
LINE_TIMEOUT = 2.0  # a partial line with no new byte for this long is dropped
DEGRADED_WINDOW = 30.0  # stay degraded this long after the last dropped line
MIN_BACKOFF = 0.25
MAX_BACKOFF = 5.0
STABLE_AFTER = 2.0  # a port that stayed open this long resets the reopen backoff


def decode_text(raw: bytes) -> str:
    """UTF-8 when valid, else latin-1 (every byte maps to one character, so this never fails)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


class SerialScanner:
    """Reads codes from a serial scanner module. `start(sink)`, `stop()`, `.health`, `.stats`."""

    def __init__(
        self,
        config: SerialScannerConfig,
        *,
        url: str | None = None,
        sim: SimulatedScannerModule | None = None,
        owns_sim: bool = False,
        line_timeout: float | None = None,
        read_timeout: float = READ_TIMEOUT,
        degraded_window: float = DEGRADED_WINDOW,
        max_backoff: float = MAX_BACKOFF,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.config = config
        self.url = url or config.url
        self.sim = sim  # the simulated module behind the port (backend "sim"), for scenarios and tests
        self._owns_sim = owns_sim
        self._framer = LineFramer(
            config.terminator,
            config.max_length,
            config.line_timeout if line_timeout is None else line_timeout,
        )
        self._read_timeout = read_timeout
        self._degraded_window = degraded_window
        self._max_backoff = max(max_backoff, MIN_BACKOFF)
        self._clock = clock
        self._health = HealthTracker(reason="not started", clock=clock)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sink: Sink | None = None
        self._seen: dict[bytes, float] = {}  # raw code -> last time read, for de-duplication
        self._bad: deque[float] = deque()  # when lines were dropped, within the degraded window
        self._bad_reason = ""
        self._counts: dict[str, int] = dict.fromkeys(
            ("codes", "duplicates", "reads", "bytes", "opens", "losses", "sink_errors"), 0
        )

    # public interface

    @property
    def health(self) -> Health:
        return self._health.get()

    @property
    def stats(self) -> dict[str, int]:
        """Counters: codes, duplicates, reads, bytes, opens, losses, sink_errors, and the framer's
        lines and dropped lines/bytes per kind (noise, over-long, incomplete)."""
        return {**self._counts, **self._framer.counts}

    def start(self, sink: Sink) -> None:
        if self._thread is not None:
            raise RuntimeError("serial scanner already started")
        self._sink = sink
        self._stop.clear()
        self._health.failed(f"opening {self.url}")
        self._thread = threading.Thread(target=self._run, name="serial-scanner", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        """Ends the reader thread (within about one read timeout) and releases the port."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("serial scanner thread did not stop within %.1f s", timeout)
            self._thread = None
        if self._owns_sim and self.sim is not None:
            self.sim.close()
        self._seen.clear()
        self._health.failed("stopped")

    close = stop

    def selftest(self) -> tuple[str, str]:
        """("ok"|"degraded"|"failed", detail) of this running scanner, without opening its port again
        (it is opened exclusively) and without sending a test code (on the sim it would reach the
        checkpoint as a scan): the reader thread runs, the port is open (health), and what it read."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            return "failed", f"serial scanner is not running ({self.health.reason})"
        health = self.health
        if health.state == "failed":
            return "failed", health.reason
        stats = self.stats
        counts = (
            f"{stats['codes']} code(s) read, {stats['losses']} port loss(es) since start"
            if stats["losses"]
            else f"{stats['codes']} code(s) read since start"
        )
        detail = f"{self.url} open at {self.config.baudrate} baud, {counts}; scan a code to check the module"
        if health.state != "ok":
            return "degraded", f"{detail}; {health.reason}"
        return "ok", detail

    def __enter__(self) -> SerialScanner:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"SerialScanner(url={self.url!r}, health={self.health.state!s})"

    # the reader thread

    def _open(self) -> serial.SerialBase:
        return serial.serial_for_url(
            self.url,
            baudrate=self.config.baudrate,
            bytesize=serial.EIGHTBITS,
            parity=serial.PARITY_NONE,
            stopbits=serial.STOPBITS_ONE,
            timeout=self._read_timeout,
            exclusive=True,  # two readers of one scanner would each get half of the bytes
        )

    def _run(self) -> None:
        backoff = MIN_BACKOFF
        port: serial.SerialBase | None = None
        opened_at = 0.0
        try:
            while not self._stop.is_set():
                if port is None:
                    try:
                        port = self._open()
                    except (serial.SerialException, OSError, ValueError) as exc:
                        self._health.failed(f"cannot open {self.url}: {_short(exc)}")
                        self._stop.wait(backoff)
                        backoff = min(backoff * 2, self._max_backoff)
                        continue
                    opened_at = self._clock()
                    self._counts["opens"] += 1
                    log.info("serial scanner: opened %s at %d baud", self.url, self.config.baudrate)
                    self._update_health(opened_at)
                try:
                    data = port.read(port.in_waiting or 1)
                except (serial.SerialException, OSError) as exc:
                    self._lost(port, exc)
                    port = None
                    if self._clock() - opened_at >= STABLE_AFTER:
                        backoff = MIN_BACKOFF
                    self._stop.wait(backoff)  # a port that fails right after opening must not spin
                    backoff = min(backoff * 2, self._max_backoff)
                    continue
                now = self._clock()
                if data:
                    self._counts["reads"] += 1
                    self._counts["bytes"] += len(data)
                lines = self._framer.feed(data, now)
                self._note_drops(now)
                for line in lines:
                    self._emit(line, now)
                self._update_health(now)
        except Exception:  # a bug must show as a failed device, not a silently dead thread
            log.exception("serial scanner thread crashed")
            self._health.failed("driver error (see log)")
        finally:
            if port is not None:
                with contextlib.suppress(serial.SerialException, OSError):
                    port.close()

    def _lost(self, port: serial.SerialBase, exc: BaseException) -> None:
        self._counts["losses"] += 1
        self._framer.reset("incomplete", "port lost in the middle of a line")
        self._note_drops(self._clock())
        with contextlib.suppress(serial.SerialException, OSError):
            port.close()
        log.warning("serial scanner: lost %s: %s", self.url, _short(exc))
        self._health.failed(f"port lost: {_short(exc)}")

    def _note_drops(self, now: float) -> None:
        for drop in self._framer.take_drops():
            self._bad.append(now)
            self._bad_reason = _drop_reason(drop)
            level = logging.INFO if drop.kind == "noise" else logging.WARNING
            log.log(level, "serial scanner: dropped %d byte(s): %s", drop.size, drop.detail)

    def _emit(self, raw: bytes, now: float) -> None:
        last = self._seen.get(raw)
        self._seen[raw] = now  # sliding: a code held under the scanner stays suppressed
        if last is not None and now - last < self.config.dedupe_seconds:
            self._counts["duplicates"] += 1
            return
        self._counts["codes"] += 1
        event = CodeScanned(source=SOURCE, text=decode_text(raw), raw=raw)
        try:
            self._sink(event)
        except Exception as exc:  # the sink's problem must not stop the scanner; never log the code
            self._counts["sink_errors"] += 1
            log.error("serial scanner: sink raised %s", type(exc).__name__)

    def _update_health(self, now: float) -> None:
        horizon = now - self.config.dedupe_seconds
        for raw in [raw for raw, at in self._seen.items() if at <= horizon]:
            del self._seen[raw]  # do not keep codes (personal data) in memory longer than needed
        while self._bad and now - self._bad[0] >= self._degraded_window:
            self._bad.popleft()
        if self._bad:
            self._health.degraded(
                f"{self._bad_reason} ({len(self._bad)} in the last {self._degraded_window:g} s)"
            )
        else:
            self._health.ok(f"reading {self.url} at {self.config.baudrate} baud")


def _drop_reason(drop: Drop) -> str:
    if drop.kind == "noise":
        return "noise on the line (NUL bytes between codes)"
    if drop.kind == "over-long":
        return f"dropped an over-long line ({drop.detail})"
    return f"dropped an incomplete line: {drop.detail}"


def open_serial_scanner(
    config: SerialScannerConfig, *, sim: SimulatedScannerModule | None = None, **options: Any
) -> SerialScanner:
    """The scanner for `config`, not yet started. Backend "real": `config.url` through pyserial.
    Backend "sim": a `SimulatedScannerModule` (the given one, or a new one on a pty; on a loopback TCP
    port when `config.url` is socket://127.0.0.1:PORT) that the driver reaches through pyserial like a
    real port; it is `.sim` on the driver, and stopped with it when created here. `options`: the
    `SerialScanner` keywords (line_timeout, degraded_window, max_backoff, ...)."""
    terminator_bytes(config.terminator)  # a bad terminator is a configuration error now, not later
    if config.max_length < 1 or config.baudrate <= 0:
        raise ValueError("serial scanner max_length and baudrate must be positive")
    if config.backend == "real":
        return SerialScanner(config, **options)
    if config.backend != "sim":
        raise ValueError(f'serial scanner backend must be "real" or "sim", not {config.backend!r}')
    owns = sim is None
    if sim is None:
        sim = _sim_for(config).start()
    return SerialScanner(config, url=sim.url, sim=sim, owns_sim=owns, **options)


def _sim_for(config: SerialScannerConfig) -> SimulatedScannerModule:
    kw: dict[str, Any] = {"terminator": config.terminator, "baudrate": config.baudrate}
    if config.url.startswith("socket://"):
        host, _, port = config.url[len("socket://") :].partition("?")[0].rpartition(":")
        if host in ("127.0.0.1", "localhost") and port.isdigit():
            return SimulatedScannerModule("socket", host="127.0.0.1", port=int(port), **kw)
    return SimulatedScannerModule("pty", **kw)


_B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
SELFTEST_TEXT = "HC1:" + "".join(_B45[(i * 7) % 45] for i in range(296))  # a 300-byte Base45-like code
SELFTEST_BINARY = b"\xd2\x84" + bytes(b for b in range(256) if b not in b"\r\n")  # binary-mode code


def selftest(config: SerialScannerConfig, timeout: float = 10.0) -> tuple[str, str]:
    """("ok"|"degraded"|"failed", detail). Real: the port opens (a scan is the operator's check).
    Sim: a text code and a binary code scanned through the simulated module arrive byte-exact."""
    try:
        terminator_bytes(config.terminator)
    except ValueError as exc:
        return "failed", str(exc)
    if config.backend == "real":
        try:
            port = serial.serial_for_url(config.url, baudrate=config.baudrate, timeout=0.1, exclusive=True)
        except (serial.SerialException, OSError, ValueError) as exc:
            if "lock" in str(exc):
                return "degraded", f"{config.url} is in use by another process (the kiosk?)"
            return "failed", f"cannot open {config.url}: {_short(exc)}"
        port.close()
        return "ok", f"{config.url} opens at {config.baudrate} baud 8N1; scan a code to check the module"
    if config.backend != "sim":
        return "failed", f"unknown backend {config.backend!r}"
    got: list[CodeScanned] = []
    arrived = threading.Event()

    def sink(event: Any) -> None:
        got.append(event)
        if len(got) >= 2:
            arrived.set()

    try:
        scanner = open_serial_scanner(config)
    except (OSError, ValueError) as exc:
        return "failed", f"cannot start the simulated module: {_short(exc)}"
    with scanner:
        scanner.start(sink)
        deadline = time.monotonic() + timeout
        while scanner.health.state != "ok" and time.monotonic() < deadline:
            time.sleep(0.02)
        if scanner.health.state != "ok":
            return "failed", f"simulated module: {scanner.health.reason}"
        began = time.monotonic()
        scanner.sim.scan(SELFTEST_TEXT)
        scanner.sim.scan(SELFTEST_BINARY)
        arrived.wait(max(0.0, deadline - time.monotonic()))
        took = time.monotonic() - began
        if [e.raw for e in got] != [SELFTEST_TEXT.encode(), SELFTEST_BINARY] or got[0].text != SELFTEST_TEXT:
            return (
                "failed",
                f"simulated module on {scanner.url}: test codes did not arrive intact ({len(got)} of 2)",
            )
    n = len(SELFTEST_TEXT) + len(SELFTEST_BINARY)
    return "ok", f"simulated module on {scanner.url}: 2 test codes ({n} bytes) arrived intact in {took:.2f} s"
