"""The resident ID card reader driver: a SAM module on a serial port (any pyserial URL).

`IdCardReader.start(sink)` runs a daemon thread that polls "find card" every `poll_interval` and, per
card placement, posts exactly one `IdCardRead` (or one `CardFault`), then one `CardRemoved` when the
card leaves. A read card is halted by the SAM (find answers 80 while it stays), so presence is then
watched with "read newest address" (30 03), as vendor SDKs do. SAM authentication failures (SW3
31/32/33) are `CardFault(forgery_suspected=True)` and logged as suspected forgery, never with personal
data. Port loss or a silent SAM sets health to failed; the thread reopens the port with backoff and
probes the SAM status until it answers 90.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import termios
import threading
import time
from collections import Counter
from dataclasses import dataclass

import serial

from drivers.config import IdReaderConfig
from drivers.events import CardFault, CardRemoved, Event, IdCardRead, Sink
from drivers.health import Health, HealthTracker, State

from . import protocol as p
from .fields import TEXT_LEN, CardDataError, CardFields, check_fields, decode_text

log = logging.getLogger(__name__)

COMMAND_TIMEOUT = 0.5  # find/select/status answer in ~100 ms on real modules; leave room for a loaded host
IO_SLICE = 0.05  # longest single blocking read: bounds how late stop() is noticed
GRACE = 0.2  # after a broken frame, how long silence means "no good reply is coming"
FIRST_BACKOFF = 0.25


class IdCardError(Exception):
    """Base of the driver's errors; messages never hold personal data."""


class PortError(IdCardError):
    """The serial port cannot be opened or went away."""


class NoReply(IdCardError):
    """The SAM did not answer in time."""


class BadReply(IdCardError):
    """The SAM answered with broken frames or a reply of the wrong shape."""


class Stopping(IdCardError):
    """stop() was called while the polling thread waited for a reply."""


class SamError(IdCardError):
    """The SAM answered with an unexpected status word."""

    def __init__(self, command: p.Command, sw3: int):
        super().__init__(f"{p.COMMAND_NAMES.get(command, 'command')}: {p.describe(sw3)}")
        self.sw3 = sw3


@dataclass(frozen=True, slots=True)
class CardRead:
    """A card's decoded text and its opaque photo."""

    fields: CardFields
    photo: bytes

    def __repr__(self) -> str:
        return f"CardRead(card_type={self.fields.card_type!r})"

    def to_event(self, source: str) -> IdCardRead:
        f = self.fields
        return IdCardRead(
            source=source,
            name=f.display_name,
            sex=f.sex_name,
            nation=f.nation_name,
            birth=f.birth,
            address=f.address,
            id_number=f.id_number,
            authority=f.authority,
            valid_from=f.valid_from,
            valid_to=f.valid_to,
            card_type=f.card_type,
            photo=self.photo,
        )


def decode_read_reply(response: p.Response, *, fingerprint: bool = False) -> CardRead:
    """Text and photo of a 30 01 (or 30 10) reply with SW3 90; BadReply for a reply of the wrong shape,
    CardDataError for text that fails the plausibility checks."""
    if (response.sw1, response.sw2, response.sw3) != (0, 0, p.SW.OK):
        raise BadReply(f"read reply status {response.sw1:02X} {response.sw2:02X} {response.sw3:02X}")
    data = response.data
    heads = 6 if fingerprint else 4
    if len(data) < heads:
        raise BadReply("read reply too short")
    sizes = [int.from_bytes(data[i : i + 2], "big") for i in range(0, heads, 2)]
    if sizes[0] != TEXT_LEN or heads + sum(sizes) != len(data):
        raise BadReply("read reply lengths inconsistent")
    text = data[heads : heads + TEXT_LEN]
    photo = data[heads + TEXT_LEN : heads + TEXT_LEN + sizes[1]]
    card = decode_text(text)
    check_fields(card)
    return CardRead(card, bytes(photo))


def format_sam_id(data: bytes) -> str:
    """The SAM id as printed on readers, e.g. 05.01-20230601-000123456-001234567."""
    if len(data) != 16:
        raise BadReply(f"SAM id is {len(data)} bytes, not 16")
    u32 = [int.from_bytes(data[i : i + 4], "little") for i in (4, 8, 12)]
    return f"{data[0]:02d}.{data[2]:02d}-{u32[0]}-{u32[1]:09d}-{u32[2]:09d}"


class IdCardReader:
    """One SAM module. Synchronous calls (`sam_status`, `read_card`, ...) and the polling thread share
    the port under a lock. `simulator` is a `SamSimulator` the reader owns and stops on `close()`."""

    def __init__(
        self,
        config: IdReaderConfig,
        *,
        source: str = "id_reader",
        command_timeout: float = COMMAND_TIMEOUT,
        max_backoff: float = 5.0,
        degraded_hold: float = 30.0,
        simulator=None,
    ):
        self.config = config
        self.source = source
        self.command_timeout = command_timeout
        self.max_backoff = max_backoff
        self.degraded_hold = degraded_hold  # stay "degraded" this long after the last retry
        self.simulator = simulator
        self.stats: Counter[str] = (
            Counter()
        )  # opens, bad_frames, bad_replies, retries, timeouts, reads, faults
        self._tracker = HealthTracker(State.FAILED, "not started")
        self._io = threading.RLock()
        self._port: serial.SerialBase | None = None
        self._parser = p.FrameParser(min_len=4)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sink: Sink | None = None
        self._card: str | None = None  # None, "read" or "fault": the placement being watched
        self._fault_reason = ""
        self._retried: list[str] = []  # retries in the current poll cycle
        self._last_trouble = -float("inf")

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def health(self) -> Health:
        return self._tracker.get()

    def open(self) -> None:
        """Open the port now (otherwise it opens on first use). PortError when it cannot."""
        with self._io:
            self._ensure_open()

    def start(self, sink: Sink) -> None:
        if self._thread is not None:
            return
        self._sink = sink
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"{self.source}-poll", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        port = self._port
        if port is not None and hasattr(port, "cancel_read"):
            with contextlib.suppress(Exception):
                port.cancel_read()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.config.read_timeout + 2.0)
            if self._thread.is_alive():
                log.warning("%s: polling thread did not stop in time", self.source)
            self._thread = None

    def close(self) -> None:
        self.stop()
        with self._io:
            self._drop_port()
        self._tracker.failed("closed")
        if self.simulator is not None:
            self.simulator.stop()

    def __enter__(self) -> IdCardReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def selftest(self) -> tuple[str, str]:
        """("ok"|"degraded"|"failed", detail) of this open reader as the kiosk holds it: between two
        polls (under the port lock), the SAM answers its status and id on the port already open. A
        port the polling thread has lost is not reopened here: its health says why, and the thread
        reopens it with backoff."""
        if not self._io.acquire(timeout=self.config.read_timeout + 2.0):
            return "failed", "reader busy: the port lock was not free within the read timeout"
        try:
            if self._port is None:
                reason = self.health.reason
                return "failed", f"port not open ({reason})" if reason else "port not open"
            status, detail = _check_sam(self)
        finally:
            self._io.release()
        health = self.health
        if status == "ok" and health.state is State.DEGRADED:
            return "degraded", f"{detail}; {health.reason}"
        return status, detail

    # --- transport ---------------------------------------------------------------------------

    def _ensure_open(self) -> serial.SerialBase:
        if self._port is not None:
            return self._port
        try:
            port = serial.serial_for_url(
                self.config.url,
                baudrate=self.config.baudrate,
                bytesize=serial.EIGHTBITS,
                parity=serial.PARITY_NONE,
                stopbits=serial.STOPBITS_ONE,
                timeout=IO_SLICE,
                write_timeout=1.0,
            )
        except (OSError, ValueError, termios.error) as exc:  # serial.SerialException is an OSError
            raise PortError(f"cannot open {self.config.url}: {_short(exc)}") from None
        self._port = port
        self._parser.reset()
        self.stats["opens"] += 1
        return port

    def _drop_port(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(Exception):
                port.close()

    def _exchange(self, command: p.Command, timeout: float) -> p.Response:
        """Send one request and wait for one reply frame."""
        port = self._ensure_open()
        try:
            port.reset_input_buffer()  # a late reply to an earlier request must not pass for this one
            self._parser.reset()
            port.write(p.encode_request(command))
            deadline = time.monotonic() + timeout
            last_rx = time.monotonic()
            problem: p.FrameError | None = None
            while True:
                now = time.monotonic()
                if (
                    self._stop.is_set()
                    and self._thread is not None
                    and threading.current_thread() is self._thread
                ):
                    raise Stopping("stopping")
                if (
                    problem is not None
                    and problem.kind in ("checksum", "short")
                    and not self._parser.pending
                    and now - last_rx > GRACE
                ):
                    self.stats["bad_replies"] += 1
                    raise BadReply(f"corrupted reply ({problem})")
                if now >= deadline:
                    self.stats["timeouts"] += 1
                    if problem is not None or self._parser.pending:
                        raise BadReply(f"incomplete or corrupted reply ({problem or 'truncated frame'})")
                    raise NoReply(f"no reply to {p.COMMAND_NAMES.get(command, 'command')}")
                chunk = port.read(self._parser.wanted())
                if not chunk:
                    continue
                last_rx = time.monotonic()
                for item in self._parser.feed(chunk):
                    if isinstance(item, p.FrameError):
                        self.stats["bad_frames"] += 1
                        if item.kind in ("checksum", "short") or problem is None:
                            problem = item
                        continue
                    try:
                        return p.parse_response(item)
                    except p.FrameError as exc:
                        self.stats["bad_frames"] += 1
                        problem = exc
        except (OSError, termios.error) as exc:  # SerialException, EIO from an unplugged pty (tcflush)
            self._drop_port()
            raise PortError(f"port lost: {_short(exc)}") from None

    def transact(
        self, command: p.Command, timeout: float | None = None, retries: int | None = None
    ) -> p.Response:
        """One command with retries on timeouts, broken replies and SW3 10/11 (the SAM got a garbled
        request). PortError is not retried: the caller reopens the port."""
        timeout = self.command_timeout if timeout is None else timeout
        attempts = 1 + (self.config.retries if retries is None else retries)
        with self._io:
            for attempt in range(attempts):
                last = attempt + 1 == attempts
                try:
                    response = self._exchange(command, timeout)
                except (NoReply, BadReply) as exc:
                    if last:
                        raise
                    self._note_retry(str(exc))
                    continue
                if response.sw3 in (p.SW.CHECKSUM_ERROR, p.SW.LENGTH_ERROR) and not last:
                    self._note_retry(p.describe(response.sw3))
                    continue
                return response
        raise AssertionError("unreachable")

    def _note_retry(self, reason: str) -> None:
        self.stats["retries"] += 1
        self._retried.append(reason)

    # --- commands ----------------------------------------------------------------------------

    def sam_status(self) -> int:
        """SW3 of the SAM status command: 0x90 when the SAM is ready."""
        return self.transact(p.SAM_STATUS).sw3

    def sam_id(self) -> str:
        response = self.transact(p.SAM_ID)
        if response.sw3 != p.SW.OK:
            raise SamError(p.SAM_ID, response.sw3)
        return format_sam_id(response.data)

    def find_card(self) -> bool:
        sw3 = self.transact(p.FIND_CARD).sw3
        if sw3 in (p.SW.FOUND, p.SW.NO_CARD):
            return sw3 == p.SW.FOUND
        raise SamError(p.FIND_CARD, sw3)

    def select_card(self) -> bool:
        sw3 = self.transact(p.SELECT_CARD).sw3
        if sw3 in (p.SW.OK, p.SW.SELECT_FAILED):
            return sw3 == p.SW.OK
        raise SamError(p.SELECT_CARD, sw3)

    def read_card(self) -> CardRead:
        """Read text and photo of a selected card. Not retried at frame level: a read halts the card,
        so a lost reply can only be recovered by a new find/select (see `_read_placement`)."""
        response = self.transact(p.READ_TEXT_PHOTO, timeout=self.config.read_timeout, retries=0)
        if response.sw3 != p.SW.OK:
            raise SamError(p.READ_TEXT_PHOTO, response.sw3)
        return decode_read_reply(response)

    def read_newest_address(self) -> str | None:
        """The address written on the card after issue (None when there is none)."""
        response = self.transact(p.READ_NEWEST_ADDRESS)
        if response.sw3 == p.SW.NO_CONTENT:
            return None
        if response.sw3 != p.SW.OK:
            raise SamError(p.READ_NEWEST_ADDRESS, response.sw3)
        try:
            return response.data.decode("utf-16-le").strip(" \x00")
        except UnicodeDecodeError:
            raise BadReply("newest address is not valid UCS-2") from None

    def _card_still_there(self) -> bool:
        """A card the SAM has selected is still in the field (30 03 answers 90 or 91)."""
        return self.transact(p.READ_NEWEST_ADDRESS).sw3 in (p.SW.OK, p.SW.NO_CONTENT)

    # --- polling -----------------------------------------------------------------------------

    def poll_once(self) -> list[Event]:
        """One polling cycle (the thread's body; callable directly when no thread runs)."""
        events: list[Event] = []
        with self._io:
            self._retried = []
            try:
                if self._port is None:
                    self._reopen()
                if self._card is None:
                    if self.find_card():
                        self._read_placement(events)
                else:
                    self._watch_card(events)
            except PortError as exc:
                self._fail(str(exc), events)
            except Stopping:
                pass
            except NoReply:
                self._fail("SAM does not answer", events)
            except BadReply as exc:
                self._fail(f"SAM replies are corrupted: {exc}", events)
            except SamError as exc:
                self._fail(f"SAM error: {exc}", events)
            except Exception as exc:  # a bug or an unforeseen library error must not end the polling
                log.exception("%s: unexpected error while polling", self.source)
                self._fail(f"unexpected error: {type(exc).__name__}", events)
            else:
                now = time.monotonic()
                if self._retried:
                    self._last_trouble = now
                    self._tracker.degraded(f"needed {len(self._retried)} retry(ies): {self._retried[-1]}")
                elif now - self._last_trouble >= self.degraded_hold:
                    self._tracker.ok("ready")
        return events

    def _reopen(self) -> None:
        self._ensure_open()
        status = self.sam_status()
        if status != p.SW.OK:
            raise SamError(p.SAM_STATUS, status)

    def _fail(self, reason: str, events: list[Event]) -> None:
        self._drop_port()
        if self.health.reason != reason:  # log changes only: a missing reader must not flood the log
            log.warning("%s: %s", self.source, reason)
        self._tracker.failed(reason)
        if self._card is not None:  # nobody can vouch for the card now; a replugged reader re-reads it
            self._card = None
            events.append(CardRemoved(self.source))

    def _read_placement(self, events: list[Event], *, quiet: bool = False) -> None:
        """A card answered find: select and read it, retrying a failed read with a new find/select.
        Posts one IdCardRead, or one CardFault (unless `quiet` and the same fault was already posted)."""
        reason, forgery, tried, left = "", False, False, False
        for attempt in range(1 + self.config.retries):
            if attempt and not self.find_card():
                left = True  # the card left, or the SAM halted it after a read whose reply was lost
                break
            if not self.select_card():
                reason = "card could not be selected"
                continue
            tried = True
            try:
                card = self.read_card()
            except SamError as exc:
                forgery = exc.sw3 in p.FORGERY_SUSPECT
                reason = (
                    f"card authentication failed ({p.describe(exc.sw3)})"
                    if forgery
                    else f"card could not be read ({p.describe(exc.sw3)})"
                )
                continue
            except (NoReply, BadReply) as exc:
                reason, forgery = f"no valid reply while reading the card ({exc})", False
                continue
            except CardDataError as exc:  # deterministic: the same bytes would come back
                reason, forgery = str(exc), False
                break
            self.stats["reads"] += 1
            self._card, self._fault_reason = "read", ""
            events.append(card.to_event(self.source))
            return
        if not tried and (left or quiet):
            return  # the card brushed the field and left before it could be read: not a placement
        if quiet and reason == self._fault_reason:
            return
        self.stats["faults"] += 1
        self._card, self._fault_reason = "fault", reason
        if forgery:
            log.warning("%s: suspected forged card: %s", self.source, reason)
        else:
            log.info("%s: card fault: %s", self.source, reason)
        events.append(CardFault(self.source, reason, forgery_suspected=forgery))

    def _watch_card(self, events: list[Event]) -> None:
        if self._card_still_there():
            return
        if self.find_card():  # a fresh card in the field
            if self._card == "read":  # the read card was lifted and put back (or swapped) between polls
                self._card = None
                events.append(CardRemoved(self.source))
                self._read_placement(events)
            else:  # the faulted card is still there: try again, without repeating the same fault
                self._read_placement(events, quiet=True)
            return
        self._card, self._fault_reason = None, ""
        events.append(CardRemoved(self.source))

    def _post(self, event: Event) -> None:
        sink = self._sink
        if sink is None:
            return
        try:
            sink(event)
        except Exception:  # a broken sink must not kill the reader; say which event kind, no data
            log.exception("%s: sink failed on %s", self.source, type(event).__name__)

    def _run(self) -> None:
        backoff = 0.0
        while not self._stop.is_set():
            for event in self.poll_once():
                self._post(event)
            if self._port is None:
                backoff = min(self.max_backoff, backoff * 2 if backoff else FIRST_BACKOFF)
                delay = backoff
            else:
                backoff, delay = 0.0, self.config.poll_interval
            self._stop.wait(delay)


def _short(exc: BaseException) -> str:
    if isinstance(exc, termios.error) and len(exc.args) == 2:
        text = str(exc.args[1])
    elif isinstance(exc, OSError) and exc.errno:  # pyserial repeats the path and errno in its message
        text = os.strerror(exc.errno)
    else:
        text = str(exc) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def open_id_reader(config: IdReaderConfig, **kwargs) -> IdCardReader:
    """The reader for `config`: backend "real" opens `config.url`; "sim" starts a `SamSimulator` on a
    pseudo-terminal (reachable as `reader.simulator`, stopped by `reader.close()`)."""
    if config.backend == "sim":
        from .sim import SamSimulator

        simulator = kwargs.pop("simulator", None) or SamSimulator("pty").start()
        return IdCardReader(dataclasses.replace(config, url=simulator.url), simulator=simulator, **kwargs)
    if config.backend == "real":
        return IdCardReader(config, **kwargs)
    raise ValueError(f"unknown backend {config.backend!r}")


def selftest(config: IdReaderConfig) -> tuple[str, str]:
    """("ok"|"degraded"|"failed", detail): the SAM answers its status with 90, and its id."""
    try:
        reader = open_id_reader(config)
    except (OSError, ValueError) as exc:
        return "failed", f"cannot start the reader: {_short(exc)}"
    try:
        return _check_sam(reader)
    finally:
        reader.close()


def _check_sam(reader: IdCardReader) -> tuple[str, str]:
    """The SAM answers its status with 90, and its id (opening the port when it is not open)."""
    config = reader.config
    try:
        status = reader.sam_status()
    except PortError as exc:
        return "failed", str(exc)
    except NoReply:
        return (
            "failed",
            f"SAM does not answer on {config.url if config.backend == 'real' else 'the simulator'}",
        )
    except BadReply as exc:
        return "failed", f"SAM replies are corrupted: {exc}"
    if status != p.SW.OK:
        return "failed", f"SAM status {p.describe(status)}"
    try:
        sam = reader.sam_id()
    except IdCardError as exc:
        return "degraded", f"SAM status 90 but its id is unreadable: {exc}"
    return "ok", f"SAM status 90, SAM id {sam}"
