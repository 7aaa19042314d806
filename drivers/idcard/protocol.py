"""Frames of the resident ID card SAM module (the "SAM_A" serial protocol of GA 467 readers).

A frame is `AA AA AA 96 69 | LEN_H LEN_L | body | CHK` with LEN = len(body) + 1 and CHK the XOR of
LEN_H, LEN_L and the body. A request body is `CMD PARA [data]`; a response body is
`SW1 SW2 SW3 [data]` (SW1 = SW2 = 00 in practice, SW3 carries the status).

`FrameParser` turns a byte stream into frame bodies. It resynchronises on the preamble after
garbage, bad lengths and bad checksums, never grows without bound and never raises: problems come
out as `FrameError` items next to the good frames. The XOR checksum detects every single-byte error
but not every multi-byte one; callers add shape and plausibility checks on top.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

PREAMBLE = bytes.fromhex("aaaaaa9669")
HEADER_LEN = len(PREAMBLE) + 2  # preamble + LEN_H LEN_L
MAX_LEN = 4096  # LEN of the longest reply (read with fingerprint) is 2314; anything above is garbage

Command = tuple[int, int]  # (CMD, PARA)

FIND_CARD: Command = (0x20, 0x01)
SELECT_CARD: Command = (0x20, 0x02)
READ_TEXT_PHOTO: Command = (0x30, 0x01)
READ_NEWEST_ADDRESS: Command = (0x30, 0x03)
READ_WITH_FINGERPRINT: Command = (0x30, 0x10)
SAM_STATUS: Command = (0x11, 0xFF)
SAM_ID: Command = (0x12, 0xFF)

COMMAND_NAMES: dict[Command, str] = {
    FIND_CARD: "find card",
    SELECT_CARD: "select card",
    READ_TEXT_PHOTO: "read text and photo",
    READ_NEWEST_ADDRESS: "read newest address",
    READ_WITH_FINGERPRINT: "read text, photo and fingerprint",
    SAM_STATUS: "SAM status",
    SAM_ID: "SAM id",
}


class SW(IntEnum):
    """SW3 values of the SAM_A (GA 467)."""

    OK = 0x90
    NO_CONTENT = 0x91  # this item is empty on the card (e.g. no newer address)
    FOUND = 0x9F  # find card: a card is in the field
    CHECKSUM_ERROR = 0x10  # the SAM received a frame with a bad checksum
    LENGTH_ERROR = 0x11  # the SAM received a frame with a bad length
    COMMAND_ERROR = 0x21
    NOT_PERMITTED = 0x23
    UNKNOWN_ERROR = 0x24
    CARD_AUTH_SAM_FAILED = 0x31  # the card did not accept the SAM
    SAM_AUTH_CARD_FAILED = 0x32  # the SAM did not accept the card
    INFO_VERIFY_FAILED = 0x33  # the card's data failed verification
    FINGERPRINT_VERIFY_FAILED = 0x37
    INFO_LENGTH_ERROR = 0x3F
    UNKNOWN_CARD_TYPE = 0x40
    READ_FAILED = 0x41
    RANDOM_FAILED = 0x47
    SAM_SELF_TEST_FAILED = 0x60
    SAM_NOT_AUTHORISED = 0x66
    NO_CARD = 0x80
    SELECT_FAILED = 0x81


SW_TEXT: dict[int, str] = {
    SW.OK: "ok",
    SW.NO_CONTENT: "no content",
    SW.FOUND: "card found",
    SW.CHECKSUM_ERROR: "SAM received a bad checksum",
    SW.LENGTH_ERROR: "SAM received a bad length",
    SW.COMMAND_ERROR: "command error",
    SW.NOT_PERMITTED: "operation not permitted",
    SW.UNKNOWN_ERROR: "unknown error",
    SW.CARD_AUTH_SAM_FAILED: "card rejected the SAM",
    SW.SAM_AUTH_CARD_FAILED: "SAM rejected the card",
    SW.INFO_VERIFY_FAILED: "card data failed verification",
    SW.FINGERPRINT_VERIFY_FAILED: "fingerprint data failed verification",
    SW.INFO_LENGTH_ERROR: "card data length error",
    SW.UNKNOWN_CARD_TYPE: "unknown card type",
    SW.READ_FAILED: "read failed",
    SW.RANDOM_FAILED: "card random number failed",
    SW.SAM_SELF_TEST_FAILED: "SAM self-test failed",
    SW.SAM_NOT_AUTHORISED: "SAM not authorised",
    SW.NO_CARD: "no card",
    SW.SELECT_FAILED: "select failed",
}

# Card-SAM mutual authentication failures: the card may be forged (or badly damaged).
FORGERY_SUSPECT = frozenset({SW.CARD_AUTH_SAM_FAILED, SW.SAM_AUTH_CARD_FAILED, SW.INFO_VERIFY_FAILED})


def describe(sw3: int) -> str:
    return f"SW3 {sw3:02X} ({SW_TEXT.get(sw3, 'undocumented status')})"


def checksum(data: bytes | bytearray | memoryview) -> int:
    """XOR of all bytes (callers pass LEN_H, LEN_L and the body)."""
    value = 0
    for byte in data:
        value ^= byte
    return value


def encode_frame(body: bytes) -> bytes:
    length = len(body) + 1
    if length > 0xFFFF:
        raise ValueError("frame body too long")
    head = length.to_bytes(2, "big")
    return PREAMBLE + head + body + bytes([checksum(head + body)])


def encode_request(command: Command, data: bytes = b"") -> bytes:
    return encode_frame(bytes(command) + data)


def encode_response(sw3: int, data: bytes = b"", sw1: int = 0, sw2: int = 0) -> bytes:
    return encode_frame(bytes([sw1, sw2, sw3]) + data)


@dataclass(frozen=True, slots=True)
class Request:
    cmd: int
    para: int
    data: bytes = b""

    @property
    def command(self) -> Command:
        return (self.cmd, self.para)


@dataclass(frozen=True, slots=True)
class Response:
    sw1: int
    sw2: int
    sw3: int
    data: bytes = b""

    def __repr__(self) -> str:  # data may hold a card's personal data
        return f"Response(sw1={self.sw1:#04x}, sw2={self.sw2:#04x}, sw3={self.sw3:#04x}, data=<{len(self.data)} bytes>)"


class FrameError(ValueError):
    """A problem in the byte stream; `kind` is garbage, length or checksum (the SAM answers the last two
    with SW3 11 and 10), or short (a frame too short for its kind)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def parse_request(body: bytes) -> Request:
    if len(body) < 2:
        raise FrameError("short", f"request body of {len(body)} byte(s) has no command")
    return Request(body[0], body[1], bytes(body[2:]))


def parse_response(body: bytes) -> Response:
    if len(body) < 3:
        raise FrameError("short", f"reply body of {len(body)} byte(s) has no status")
    return Response(body[0], body[1], body[2], bytes(body[3:]))


def _partial_preamble(buf: bytearray) -> int:
    """Length of the longest tail of `buf` that could be the start of a preamble."""
    for size in range(min(len(PREAMBLE) - 1, len(buf)), 0, -1):
        if buf.endswith(PREAMBLE[:size]):
            return size
    return 0


class FrameParser:
    """Incremental frame splitter. `min_len` is the smallest LEN accepted (3 for requests: CMD PARA CHK;
    4 for replies: SW1 SW2 SW3 CHK); `max_len` the largest. Memory stays below max_len + 7 + one chunk."""

    def __init__(self, *, min_len: int = 3, max_len: int = MAX_LEN):
        self.min_len = min_len
        self.max_len = max_len
        self._buf = bytearray()

    def reset(self) -> None:
        self._buf.clear()

    @property
    def pending(self) -> int:
        """Bytes held back: a frame in progress or the start of a possible preamble."""
        return len(self._buf)

    def wanted(self) -> int:
        """How many more bytes the frame in progress needs (at least 1): a good read size."""
        buf = self._buf
        if len(buf) < HEADER_LEN or not buf.startswith(PREAMBLE):
            return max(1, HEADER_LEN - len(buf))
        total = HEADER_LEN + ((buf[5] << 8) | buf[6])
        return max(1, total - len(buf))

    def feed(self, data: bytes) -> list[bytes | FrameError]:
        """Bodies of the frames completed by `data`, in order, with a FrameError for each problem met."""
        buf = self._buf
        buf += data
        out: list[bytes | FrameError] = []
        while buf:
            start = buf.find(PREAMBLE)
            if start < 0:
                keep = _partial_preamble(buf)
                dropped = len(buf) - keep
                if dropped:
                    out.append(FrameError("garbage", f"skipped {dropped} byte(s) without a preamble"))
                    del buf[:dropped]
                break
            if start:
                out.append(FrameError("garbage", f"skipped {start} byte(s) before a preamble"))
                del buf[:start]
            if len(buf) < HEADER_LEN:
                break
            length = (buf[5] << 8) | buf[6]
            if not self.min_len <= length <= self.max_len:
                out.append(
                    FrameError("length", f"frame length {length} outside {self.min_len}..{self.max_len}")
                )
                del buf[:1]  # resynchronise on the next preamble
                continue
            total = HEADER_LEN + length
            if len(buf) < total:
                break
            if checksum(memoryview(buf)[5 : total - 1]) != buf[total - 1]:
                out.append(FrameError("checksum", f"bad checksum on a frame of length {length}"))
                del buf[:1]  # the length may be what was corrupted: look for a preamble inside
                continue
            out.append(bytes(buf[HEADER_LEN : total - 1]))
            del buf[:total]
        return out
