"""Cutting a scanner module's byte stream into codes: decoded text + a terminator per code.

Rules (the tests state them as properties):
- A line is the bytes before the configured terminator (CR, LF or CR LF), byte-exact.
- At the start of a line, NUL, CR and LF bytes are skipped: a UART break or framing error (a cable
  plugged in live, a module powering up) reads as 0x00 on Linux, and a module that sends CR LF while
  CR alone is configured leaves an LF there. NULs are counted as noise; CR/LF are not. When LF alone
  is configured, one CR just before it is removed (CR LF tolerated either way). Text codes never start
  with these bytes; a binary-mode code that does loses them.
- A line longer than `max_length` is dropped (memory stays bounded: the framer never holds more than
  `max_length` plus one read), and so is everything up to its terminator.
- A partial line with no new byte for `line_timeout` seconds is dropped, never reported: a code
  whose tail never came is not a code. Limitation: a truncated code followed by another code less
  than `line_timeout` later arrives glued to it as one line (the code layer then rejects it).
- The terminator cannot be escaped: a binary payload containing it is cut in two.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

TERMINATORS: dict[str, bytes] = {
    "\r": b"\r",
    "\n": b"\n",
    "\r\n": b"\r\n",
    "CR": b"\r",
    "LF": b"\n",
    "CRLF": b"\r\n",
}
_SKIP_AT_START = frozenset(b"\x00\r\n")
_NAMES = {b"\r": "CR", b"\n": "LF", b"\r\n": "CR LF"}


def terminator_bytes(terminator: str | bytes) -> bytes:
    """The terminator's bytes from its config form ("\\r", "\\n", "\\r\\n", or "CR", "LF", "CRLF")."""
    if isinstance(terminator, bytes):
        terminator = terminator.decode("latin-1")
    try:
        return TERMINATORS[terminator]
    except KeyError:
        raise ValueError(
            f'serial scanner terminator must be "\\r", "\\n" or "\\r\\n" (or CR, LF, CRLF), not {terminator!r}'
        ) from None


@dataclass(frozen=True, slots=True)
class Drop:
    """Bytes the framer threw away, and why ("noise", "over-long", "incomplete")."""

    kind: str
    size: int
    detail: str


class LineFramer:
    """Accumulates bytes from reads of any size and returns the complete lines. Not thread-safe:
    one reader thread feeds it. Time is passed in (`now`, monotonic seconds) so tests control it."""

    def __init__(self, terminator: str | bytes = b"\r", max_length: int = 4096, line_timeout: float = 2.0):
        if max_length < 1:
            raise ValueError("max_length must be at least 1")
        if line_timeout <= 0:
            raise ValueError("line_timeout must be positive")
        self.terminator = terminator_bytes(terminator)
        self.max_length = max_length
        self.line_timeout = line_timeout
        self.counts: Counter[str] = Counter()  # lines, and dropped bytes/lines per kind
        self._buf = bytearray()
        self._scan = 0  # where to resume looking for the terminator in _buf
        self._skipping = False  # inside an over-long line: discard up to its terminator
        self._last = 0.0  # when the last byte arrived
        self._drops: list[Drop] = []

    @property
    def pending(self) -> int:
        """Bytes of an unfinished line held now."""
        return len(self._buf)

    def take_drops(self) -> list[Drop]:
        """What was dropped since the last call."""
        drops, self._drops = self._drops, []
        return drops

    def feed(self, data: bytes, now: float) -> list[bytes]:
        """The lines completed by `data`, in order. A partial line older than `line_timeout` is
        dropped first, so a late tail never completes it."""
        self.expire(now)
        if not data:
            return []
        self._last = now
        self._buf += data
        lines: list[bytes] = []
        while self._step(lines):
            pass
        return lines

    def expire(self, now: float) -> None:
        """Drop a partial line that has had no new byte for `line_timeout` seconds."""
        if (self._buf or self._skipping) and now - self._last > self.line_timeout:
            self.reset("incomplete")

    def reset(self, kind: str = "incomplete", why: str = "") -> None:
        """Forget any partial line (e.g. the port was lost mid-code), counting it as dropped."""
        if self._buf and not self._skipping:
            self._drop(kind, len(self._buf), why or self._incomplete_detail())
        self._buf.clear()
        self._scan = 0
        self._skipping = False

    def _step(self, lines: list[bytes]) -> bool:
        """Consume one line (or skip run) from the buffer; False when nothing more can be done now."""
        buf, term = self._buf, self.terminator
        if self._skipping:
            end = buf.find(term)
            if end < 0:
                keep = len(term) - 1  # a terminator may be split across reads
                if len(buf) > keep:
                    del buf[: len(buf) - keep]
                return False
            del buf[: end + len(term)]
            self._skipping = False
            self._scan = 0
            return True
        start = 0
        while start < len(buf) and buf[start] in _SKIP_AT_START:
            start += 1
        if start:
            nuls = buf.count(0, 0, start)
            if nuls:
                self._drop("noise", nuls, f"{nuls} NUL byte(s) between codes")
            del buf[:start]
            self._scan = 0
        end = buf.find(term, self._scan)
        if end < 0:
            if len(buf) - self._partial_terminator() > self.max_length:
                self._drop("over-long", len(buf), f"line longer than {self.max_length} bytes")
                self._skipping = True
                return True  # keeps a split terminator at the end, then waits in skipping mode
            self._scan = max(0, len(buf) - len(term) + 1)
            return False
        line = bytes(buf[:end])
        del buf[: end + len(term)]
        self._scan = 0
        if term == b"\n" and line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > self.max_length:
            self._drop("over-long", len(line), f"line longer than {self.max_length} bytes")
        else:
            self.counts["lines"] += 1
            lines.append(line)
        return True

    def _partial_terminator(self) -> int:
        """Bytes at the end of the buffer that may yet turn out to be (tolerated) terminator bytes."""
        if self._buf.endswith(b"\r") and self.terminator in (b"\r\n", b"\n"):
            return 1
        return 0

    def _incomplete_detail(self) -> str:
        others = [
            name for t, name in _NAMES.items() if t != self.terminator and len(t) == 1 and t in self._buf
        ]
        expected = _NAMES[self.terminator]
        if others:
            return (
                f"no {expected} after the data but saw {' and '.join(others)}: check the module's terminator"
            )
        return f"partial line with no {expected} for {self.line_timeout:g} s (truncated code?)"

    def _drop(self, kind: str, size: int, detail: str) -> None:
        self.counts[f"{kind}_drops"] += 1
        self.counts[f"{kind}_bytes"] += size
        self._drops.append(Drop(kind, size, detail))
