"""A simulated SAM module: the reader's state machine behind a real pseudo-terminal or a loopback TCP port,
speaking the exact frames of `protocol`, with the faults real readers show.

Card states follow the ISO 14443-B cards the SAM talks to: a placed card is idle; find card (20 01)
answers 9F while a card is idle, select (20 02) needs a found card, a successful read (30 01 / 30 10)
halts the card, so later finds answer 80 until the card leaves the field (or the reader is power
cycled by unplug/replug). "Read newest address" (30 03) answers 90/91 while a card the SAM has
selected stays in the field: drivers use it to see a read card leave, as vendor SDKs do.

The pty transport keeps a stable symlink (`url`) to the current /dev/pts/N, like a udev by-id link, so
an unplug (both pty ends closed, the link removed) and a replug (a new pty behind the same link) look
to the driver like a USB adapter going away and coming back.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import logging
import os
import select
import socket
import tempfile
import threading
import time
import tty
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from . import protocol as p
from .fields import PHOTO_LEN, TEXT_LEN, CardFields, Layout, encode_text, id_check_digit

log = logging.getLogger(__name__)

REQUESTS_KEPT = 1_000  # the simulator's latest requests (tests look at them), not all
DEFAULT_SAM_ID = (
    bytes.fromhex("0500 0100")
    + (20230601).to_bytes(4, "little")
    + (123456).to_bytes(4, "little")
    + (1234567).to_bytes(4, "little")
)
FINGERPRINT_LEN = 1024
ADDRESS_LEN = 70


def dummy_photo(seed: int = 0) -> bytes:
    """1024 opaque bytes standing in for a WLT photo (consecutive bytes always differ, so no preamble)."""
    return bytes((i * 37 + 11 + seed) & 0xFF for i in range(PHOTO_LEN))


def sample_card(card_type: str = "resident", serial: int = 1) -> CardFields:
    """A plausible made-up card (valid check digit) for demos and scenarios; `serial` varies the holder."""
    seq = f"{(serial * 2) % 1000:03d}"  # even sequence digit: female, matching sex "2"
    if card_type == "resident":
        n17 = "11010119850315" + seq
        return CardFields(
            name="演示用户",
            sex="2",
            nation="01",
            birth="19850315",
            address="北京市东城区演示路1号",
            id_number=n17 + id_check_digit(n17),
            authority="北京市公安局东城分局",
            valid_from="20200101",
            valid_to="长期",
        )
    if card_type == "hk_macau_taiwan":
        n17 = "81000019850315" + seq
        return CardFields(
            layout=Layout.HK_MACAU_TAIWAN,
            name="演示港人",
            sex="2",
            nation="",
            birth="19850315",
            address="广东省深圳市福田区演示路2号",
            id_number=n17 + id_check_digit(n17),
            authority="深圳市公安局",
            valid_from="20200101",
            valid_to="20250101",
            pass_number="H00000001",
            issue_count="01",
        )
    if card_type == "foreign_permanent":
        n17 = "93184019850315" + seq
        return CardFields(
            layout=Layout.FOREIGN_2023,
            english_name="DEMO, JANE",
            name="简",
            sex="2",
            nation="USA",
            birth="19850315",
            id_number=n17 + id_check_digit(n17),
            valid_from="20240101",
            valid_to="20340101",
            issue_count="00",
        )
    raise ValueError(f"unknown card type {card_type!r}")


class Fault(StrEnum):
    BAD_CHECKSUM = "bad_checksum"  # the reply's checksum byte is wrong
    NO_ANSWER = "no_answer"  # the request is swallowed: the driver times out
    TRUNCATED = "truncated"  # only the first half of the reply is sent
    GARBAGE = "garbage"  # noise (with partial and false preambles) precedes the reply
    AUTH_FAILED = "auth_failed"  # reads answer SW3 31/32/33: card-SAM authentication failed
    READ_FAILED = "read_failed"  # reads answer SW3 41
    SAM_NOT_READY = "sam_not_ready"  # SAM status answers 60 (self-test failed)


READS = (p.READ_TEXT_PHOTO, p.READ_WITH_FINGERPRINT)
GARBAGE = bytes.fromhex("00ff13aaaa55aaaaaa96aa") + p.PREAMBLE + bytes.fromhex("ffff0102aaaaaa")


@dataclass(slots=True)
class _Armed:
    fault: Fault
    remaining: int | None  # None: until cleared
    commands: tuple[p.Command, ...] | None  # None: any command
    sw3: int


@dataclass(slots=True)
class _Card:
    fields: CardFields
    text: bytes
    photo: bytes
    newest_address: str | None
    fingerprint: bytes
    state: str = "idle"  # idle, found, selected, halted
    selected_once: bool = False


class SamSimulator:
    """`transport` "pty" (serve a pseudo-terminal; `url` is a stable symlink to its slave) or "socket"
    (serve `socket://127.0.0.1:PORT`). `reply_delay` is added before each reply (a real SAM takes
    ~0.5 s to read a card); `pace` sends replies at the serial line's speed in small chunks."""

    def __init__(
        self,
        transport: str = "pty",
        *,
        port: int = 0,
        link_dir: str | None = None,
        sam_id: bytes = DEFAULT_SAM_ID,
        reply_delay: float = 0.0,
        read_delay: float = 0.0,
        pace: bool = False,
        baudrate: int = 115200,
    ):
        if transport not in ("pty", "socket"):
            raise ValueError("transport must be 'pty' or 'socket'")
        if len(sam_id) != 16:
            raise ValueError("SAM id is 16 bytes")
        self.transport = transport
        self.sam_id = sam_id
        self.reply_delay = reply_delay
        self.read_delay = read_delay
        self.pace = pace
        self.baudrate = baudrate
        # the latest well-formed requests served, in order (bounded: the reader polls several times a
        # second, and a simulated kiosk may run for days)
        self.requests: collections.deque[p.Command] = collections.deque(maxlen=REQUESTS_KEPT)
        self._lock = threading.RLock()
        self._card: _Card | None = None
        self._faults: list[_Armed] = []
        self._parser = p.FrameParser(min_len=3)
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._want_plugged = True
        self._plugged = False
        self._acked = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        # pty
        self._master: int | None = None
        self._slave: int | None = None
        self._tmpdir: str | None = None
        self._link_dir = link_dir
        self.link: Path | None = None
        # socket
        self._port = port
        self._listener: socket.socket | None = None
        self._client: socket.socket | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self.transport == "pty":
            assert self.link is not None, "start() first"
            return str(self.link)
        return f"socket://127.0.0.1:{self._port}"

    def start(self) -> SamSimulator:
        if self._thread is not None:
            return self
        if self.transport == "pty":
            self._tmpdir = tempfile.mkdtemp(prefix="idcard-sim-", dir=self._link_dir)
            self.link = Path(self._tmpdir) / "ttySAM"
        self._plug()
        self._thread = threading.Thread(target=self._run, name="sam-simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping = True
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._unplug()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._wake_r = self._wake_w = -1
        if self._tmpdir:
            with contextlib.suppress(OSError):
                os.rmdir(self._tmpdir)

    close = stop

    def __enter__(self) -> SamSimulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def unplug(self, timeout: float = 5.0) -> None:
        """The reader disappears: pty closed and its link removed, or the TCP port closed."""
        self._set_plugged(False, timeout)

    def replug(self, timeout: float = 5.0) -> None:
        """The reader comes back (a new pty behind the same link, or the same TCP port), power cycled."""
        self._set_plugged(True, timeout)

    @property
    def plugged(self) -> bool:
        return self._plugged

    # --- card and faults ---------------------------------------------------------------------

    def place_card(
        self,
        card: CardFields,
        *,
        photo: bytes | None = None,
        newest_address: str | None = None,
        fingerprint: bytes = b"",
        text: bytes | None = None,
    ) -> None:
        """Put a card in the field. `text` overrides the encoded text block (for malformed cards)."""
        block = encode_text(card) if text is None else text
        if len(block) != TEXT_LEN:
            raise ValueError("text block must be 256 bytes")
        photo = dummy_photo() if photo is None else photo
        if len(photo) != PHOTO_LEN:
            raise ValueError("photo must be 1024 bytes")
        if newest_address is not None and len(newest_address.encode("utf-16-le")) > ADDRESS_LEN:
            raise ValueError("newest address does not fit 70 bytes")
        with self._lock:
            self._card = _Card(card, block, photo, newest_address, fingerprint)

    def remove_card(self) -> None:
        with self._lock:
            self._card = None

    @property
    def card_state(self) -> str | None:
        with self._lock:
            return None if self._card is None else self._card.state

    def inject(
        self,
        fault: Fault,
        *,
        count: int | None = 1,
        command: p.Command | None = None,
        sw3: int | None = None,
    ) -> None:
        """Arm a fault for the next `count` matching replies (None: until `clear_faults`). `command`
        limits it to one command; AUTH_FAILED/READ_FAILED apply to reads, SAM_NOT_READY to SAM status."""
        commands: tuple[p.Command, ...] | None = None if command is None else (command,)
        if fault is Fault.AUTH_FAILED:
            sw3 = 0x32 if sw3 is None else sw3
            if sw3 not in p.FORGERY_SUSPECT:
                raise ValueError("authentication failures are SW3 31, 32 or 33")
            commands = commands or READS
        elif fault is Fault.READ_FAILED:
            sw3, commands = p.SW.READ_FAILED, commands or READS
        elif fault is Fault.SAM_NOT_READY:
            sw3, commands = p.SW.SAM_SELF_TEST_FAILED if sw3 is None else sw3, (p.SAM_STATUS,)
        with self._lock:
            self._faults.append(_Armed(fault, count, commands, sw3 or 0))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take(self, fault: Fault, command: p.Command) -> _Armed | None:
        for armed in self._faults:
            if armed.fault is fault and (armed.commands is None or command in armed.commands):
                if armed.remaining is not None:
                    armed.remaining -= 1
                    if armed.remaining <= 0:
                        self._faults.remove(armed)
                return armed
        return None

    # --- the SAM state machine -----------------------------------------------------------------

    def respond(self, request: p.Request) -> bytes | None:
        """The exact bytes the SAM sends for one request (None: no answer). Public for byte-level tests."""
        with self._lock:
            command = request.command
            self.requests.append(command)
            if self._take(Fault.NO_ANSWER, command):
                return None
            frame = self._answer(request)
            if self._take(Fault.BAD_CHECKSUM, command):
                frame = frame[:-1] + bytes([frame[-1] ^ 0x5A])
            if self._take(Fault.TRUNCATED, command):
                frame = frame[: len(frame) // 2]
            if self._take(Fault.GARBAGE, command):
                frame = GARBAGE + frame
            return frame

    def _answer(self, request: p.Request) -> bytes:
        command, card = request.command, self._card
        if command not in p.COMMAND_NAMES:
            return p.encode_response(p.SW.COMMAND_ERROR)
        if request.data:
            return p.encode_response(p.SW.LENGTH_ERROR)
        if command == p.SAM_STATUS:
            armed = self._take(Fault.SAM_NOT_READY, command)
            return p.encode_response(armed.sw3 if armed else p.SW.OK)
        if command == p.SAM_ID:
            return p.encode_response(p.SW.OK, self.sam_id)
        if command == p.FIND_CARD:
            if card is None or card.state == "halted":
                return p.encode_response(p.SW.NO_CARD)
            card.state = "found"
            return p.encode_response(p.SW.FOUND, bytes(4))
        if command == p.SELECT_CARD:
            if card is None or card.state != "found":
                return p.encode_response(p.SW.SELECT_FAILED)
            card.state, card.selected_once = "selected", True
            return p.encode_response(p.SW.OK, bytes(8))
        if command == p.READ_NEWEST_ADDRESS:
            if card is None or not card.selected_once:
                return p.encode_response(p.SW.READ_FAILED)
            if card.newest_address is None:
                return p.encode_response(p.SW.NO_CONTENT)
            raw = card.newest_address.encode("utf-16-le")
            return p.encode_response(p.SW.OK, raw + b" \x00" * ((ADDRESS_LEN - len(raw)) // 2))
        # reads
        if card is None or card.state != "selected":
            return p.encode_response(p.SW.READ_FAILED)
        for fault in (Fault.AUTH_FAILED, Fault.READ_FAILED):
            armed = self._take(fault, command)
            if armed:
                card.state = "idle"
                return p.encode_response(armed.sw3)
        card.state = "halted"
        lengths = len(card.text).to_bytes(2, "big") + len(card.photo).to_bytes(2, "big")
        if command == p.READ_TEXT_PHOTO:
            return p.encode_response(p.SW.OK, lengths + card.text + card.photo)
        finger = card.fingerprint
        return p.encode_response(
            p.SW.OK, lengths + len(finger).to_bytes(2, "big") + card.text + card.photo + finger
        )

    def _handle_bytes(self, data: bytes) -> list[bytes]:
        replies: list[bytes] = []
        for item in self._parser.feed(data):
            if isinstance(item, p.FrameError):
                if item.kind == "checksum":
                    replies.append(p.encode_response(p.SW.CHECKSUM_ERROR))
                elif item.kind == "length":
                    replies.append(p.encode_response(p.SW.LENGTH_ERROR))
                continue  # garbage is ignored, as a UART receiver does
            try:
                request = p.parse_request(item)
            except p.FrameError:
                replies.append(p.encode_response(p.SW.LENGTH_ERROR))
                continue
            reply = self.respond(request)
            if reply is not None:
                delay = self.reply_delay + (self.read_delay if request.command in READS else 0.0)
                if delay:
                    time.sleep(delay)
                replies.append(reply)
        return replies

    # --- transports (all fds are owned by the simulator thread once it runs) -------------------

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def _set_plugged(self, plugged: bool, timeout: float) -> None:
        self._acked.clear()
        self._want_plugged = plugged
        self._wake()
        if not self._acked.wait(timeout):
            raise TimeoutError("simulator did not change its plug state")

    def _plug(self) -> None:
        self._parser.reset()
        with self._lock:
            if self._card is not None:  # a power cycle resets the RF field: the card is fresh again
                self._card.state, self._card.selected_once = "idle", False
        if self.transport == "pty":
            master, slave = os.openpty()
            tty.setraw(slave)
            os.set_blocking(master, False)
            self._master, self._slave = master, slave
            assert self.link is not None
            tmp = self.link.with_name(self.link.name + ".new")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            os.symlink(os.ttyname(slave), tmp)
            os.replace(tmp, self.link)
        else:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self._port))
            listener.listen(1)
            self._port = listener.getsockname()[1]
            self._listener = listener
        self._plugged = True

    def _unplug(self) -> None:
        if self.link is not None:
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()
        for attr in ("_master", "_slave"):
            fd = getattr(self, attr)
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
                setattr(self, attr, None)
        for attr in ("_client", "_listener"):
            sock = getattr(self, attr)
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
                setattr(self, attr, None)
        self._plugged = False

    def _send(self, data: bytes) -> None:
        chunk = 32 if self.pace else len(data)
        for start in range(0, len(data), chunk):
            piece = data[start : start + chunk]
            if self.pace:
                time.sleep(len(piece) * 10 / self.baudrate)
            if self.transport == "pty":
                self._write_master(piece)
            elif self._client is not None:
                try:
                    self._client.sendall(piece)
                except OSError:
                    self._drop_client()
                    return

    def _write_master(self, data: bytes) -> None:
        view, deadline = memoryview(data), time.monotonic() + 1.0
        while view and self._master is not None:
            try:
                view = view[os.write(self._master, view) :]
            except BlockingIOError:
                if time.monotonic() > deadline:  # nobody reads the port: drop, as a UART would
                    return
                select.select([], [self._master], [], 0.05)
            except OSError:
                return

    def _drop_client(self) -> None:
        if self._client is not None:
            with contextlib.suppress(OSError):
                self._client.close()
            self._client = None
            self._parser.reset()

    def _run(self) -> None:
        while not self._stopping:
            if self._want_plugged != self._plugged:
                try:
                    self._plug() if self._want_plugged else self._unplug()
                except OSError as exc:
                    log.warning("simulator could not change plug state: %s", exc)
                self._acked.set()
            watched: list = [self._wake_r]
            for item in (self._master, self._listener, self._client):
                if item is not None:
                    watched.append(item)
            try:
                ready, _, _ = select.select(watched, [], [], 1.0)
            except (OSError, ValueError):
                time.sleep(0.05)
                continue
            if self._wake_r in ready:
                with contextlib.suppress(OSError):
                    os.read(self._wake_r, 4096)
            if self._master is not None and self._master in ready:
                try:
                    data = os.read(self._master, 4096)
                except OSError as exc:  # EIO cannot happen while we hold the slave open; be safe anyway
                    if exc.errno not in (errno.EAGAIN, errno.EIO):
                        log.warning("simulator pty read failed: %s", exc)
                    data = b""
                for reply in self._handle_bytes(data):
                    self._send(reply)
            if self._listener is not None and self._listener in ready:
                try:
                    conn, _ = self._listener.accept()
                except OSError:
                    conn = None
                if conn is not None:
                    self._drop_client()  # one host at a time, like a serial line
                    conn.settimeout(1.0)
                    self._client = conn
            if self._client is not None and self._client in ready:
                try:
                    data = self._client.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    self._drop_client()
                    continue
                for reply in self._handle_bytes(data):
                    self._send(reply)
