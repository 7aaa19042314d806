"""A virtual contactless card for vsmartcard's vpcd reader driver (the simulated PC/SC backend).

vpcd is a real PC/SC IFD handler loaded by pcscd; it listens on TCP (35963 by default) and treats one
connected client as "a card on the reader". Its wire protocol, both directions: a 2-byte big-endian
length, then the payload. From vpcd, a 1-byte payload is a control (00 power off, 01 power on,
02 reset, 04 send the ATR); anything longer is a command APDU. The card answers ATR requests and
APDUs with one frame each; power controls get no answer. vpcd polls presence by asking for the ATR
about every 0.4 s; a closed connection is a removed card.

The card answers what a PC/SC contactless reader answers for the card on it: `FF CA 00 00 00` →
UID + 90 00, `FF CA 01 00 00` → ATS historical bytes + 90 00 (or 6A 81 for a non-ISO 14443-4 card),
anything else → 6D 00. Faults a real card/reader pair shows:

- `MUTE`: answers power and ATR, stays silent on APDUs, then leaves the field after `mute_seconds`
  (vpcd blocks on the read; the reader's pending transmit then fails).
- `GARBAGE`: answers every APDU with `garbage` (default 1 byte: no status word).
- `WRONG_SW`: answers GET UID with `status_word` only (default 63 00, "operation failed").

The card object never logs or reprs its UID.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
from enum import StrEnum

from drivers.pcsc.apdu import contactless_atr, iso14443_4_atr

log = logging.getLogger(__name__)

VPCD_PORT = 35963
CTRL_OFF, CTRL_ON, CTRL_RESET, CTRL_ATR = 0x00, 0x01, 0x02, 0x04
MAX_PAYLOAD = 0xFFFF
DEFAULT_UID = bytes.fromhex("04A1B2C3D4E5F6")  # a 7-byte NXP-style UID (test data, nobody's card)


def encode_frame(payload: bytes) -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"vpcd payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    return struct.pack(">H", len(payload)) + payload


class FrameParser:
    """Splits a vpcd byte stream into payloads, however the bytes arrive (partial reads, several
    frames in one read). Any byte sequence is accepted; an incomplete frame stays pending."""

    def __init__(self) -> None:
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        while len(self._buf) >= 2:
            size = (self._buf[0] << 8) | self._buf[1]
            if len(self._buf) < 2 + size:
                break
            out.append(bytes(self._buf[2 : 2 + size]))
            del self._buf[: 2 + size]
        return out


class Fault(StrEnum):
    NONE = "none"
    MUTE = "mute"
    GARBAGE = "garbage"
    WRONG_SW = "wrong_sw"


class VirtualCard:
    """One card; `insert()` puts it on the vpcd reader (connects), `remove()` takes it off.

    While inserted, a lost connection that the card did not cause (pcscd restarted) is retried
    every `retry_seconds`, like a physical card that stays on the reader across a daemon restart.
    """

    def __init__(
        self,
        uid: bytes = DEFAULT_UID,
        *,
        atr: bytes | None = None,
        ats: bytes | None = None,
        host: str = "127.0.0.1",
        port: int = VPCD_PORT,
        fault: Fault | str = Fault.NONE,
        mute_seconds: float = 2.0,
        garbage: bytes = b"\xa5",
        status_word: bytes = b"\x63\x00",
        retry_seconds: float = 0.2,
    ) -> None:
        if len(uid) not in (4, 7, 10):
            raise ValueError("an ISO 14443 UID has 4, 7 or 10 bytes")
        if ats is not None and len(ats) > 15:
            raise ValueError("at most 15 ATS historical bytes")
        if len(status_word) != 2:
            raise ValueError("a status word has 2 bytes")
        self.uid = bytes(uid)
        self.ats = ats
        self.atr = atr if atr is not None else (iso14443_4_atr(ats) if ats is not None else contactless_atr())
        self.host, self.port = host, port
        self.fault = Fault(fault)
        self.mute_seconds = mute_seconds
        self.garbage = garbage
        self.status_word = status_word
        self.retry_seconds = retry_seconds
        self.powered = False
        self.apdus: list[bytes] = []  # commands received (tests inspect them; never logged)
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._removed = threading.Event()
        self._removed.set()
        self._connected = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"VirtualCard(port={self.port}, fault={self.fault.value!r}, inserted={self.inserted})"

    @property
    def inserted(self) -> bool:
        return not self._removed.is_set()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    # --- the card's behaviour, independent of the socket --------------------------------------

    def respond(self, payload: bytes) -> bytes | None:
        """The answer to one payload from vpcd, or None when the card sends nothing back."""
        if len(payload) == 1:
            ctrl = payload[0]
            if ctrl == CTRL_ATR:
                return self.atr
            if ctrl == CTRL_ON:
                self.powered = True
            elif ctrl == CTRL_OFF:
                self.powered = False
            return None  # power controls and unknown controls are not answered
        if not payload:
            return None  # vpcd never sends an empty frame; ignore it
        self.apdus.append(payload)
        if self.fault is Fault.GARBAGE:
            return self.garbage
        if self.fault is Fault.MUTE:
            return None
        if len(payload) < 4:
            return b"\x67\x00"  # wrong length: not even a header
        cla, ins, p1, p2 = payload[:4]
        if (cla, ins) != (0xFF, 0xCA):
            return b"\x6d\x00"
        if self.fault is Fault.WRONG_SW:
            return self.status_word
        if p2 != 0 or len(payload) not in (4, 5):
            return b"\x6b\x00"  # wrong parameters / no Lc allowed
        if p1 == 0x00:
            data = self.uid
        elif p1 == 0x01:
            if self.ats is None:
                return b"\x6a\x81"  # function not supported: no ATS on an ISO 14443-3 card
            data = self.ats
        else:
            return b"\x6b\x00"
        le = payload[4] if len(payload) == 5 else 0
        if le and le < len(data):
            return bytes([0x6C, len(data)])  # wrong Le, here is the right one (PC/SC Part 3)
        return data + b"\x90\x00"

    # --- putting the card on / taking it off the reader ---------------------------------------

    def insert(self, timeout: float = 5.0) -> VirtualCard:
        """Connect to vpcd and start answering; returns once connected (or raises OSError)."""
        if self.inserted:
            return self
        self._removed.clear()
        self._connected.clear()
        self._thread = threading.Thread(target=self._run, name=f"vcard-{self.port}", daemon=True)
        self._thread.start()
        if not self._connected.wait(timeout):
            self.remove()
            raise OSError(f"virtual card could not connect to vpcd on {self.host}:{self.port}")
        return self

    def remove(self, timeout: float = 5.0) -> None:
        """Take the card off the reader (close the connection)."""
        self._removed.set()
        self._drop()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def __enter__(self) -> VirtualCard:
        return self.insert()

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def _drop(self) -> None:
        with self._lock:
            sock, self._sock = self._sock, None
        self._connected.clear()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the card thread's blocking recv
            sock.close()

    def _run(self) -> None:
        while not self._removed.is_set():
            try:
                sock = socket.create_connection((self.host, self.port), timeout=2.0)
            except OSError:
                if self._removed.wait(self.retry_seconds):
                    return
                continue
            sock.settimeout(None)  # blocking reads; remove() wakes them with shutdown()
            with self._lock:
                if self._removed.is_set():
                    sock.close()
                    return
                self._sock = sock
            self._connected.set()
            left = self._serve(sock)
            self._drop()
            if left:  # the card itself left the field (mute fault): stay removed
                self._removed.set()
                return
            if not self._removed.is_set():
                log.info("virtual card lost vpcd on port %d; retrying", self.port)
                self._removed.wait(self.retry_seconds)

    def _serve(self, sock: socket.socket) -> bool:
        """Answer frames until the connection ends. True when the card left on its own."""
        parser = FrameParser()
        while True:
            try:
                data = sock.recv(4096)
            except OSError:
                return False
            if not data:
                return False
            for payload in parser.feed(data):
                answer = self.respond(payload)
                if answer is None:
                    if self.fault is Fault.MUTE and len(payload) > 1:
                        self._removed.wait(self.mute_seconds)
                        return True
                    continue
                try:
                    sock.sendall(encode_frame(answer))
                except OSError:
                    return False
