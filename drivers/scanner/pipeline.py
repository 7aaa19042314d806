"""One camera frame -> the QR payloads in it: check the frame, crop the region of interest, take the
grey plane, decode with zxing-cpp, ask zbar for a second opinion where that helps, drop repeats.

The second-opinion rule (measured on the synthetic set in tests/test_scanner_camera.py): zbar runs on
the whole region of interest only when zxing-cpp located a QR symbol but could not decode it
(`return_errors=True` gives it back with `.error` set), or when the caller asks for a retry. On frames
where zxing-cpp sees no symbol at all zbar never found one either, so idle frames cost zxing-cpp
alone. The crop around zxing-cpp's failed symbol was tried and rejected: that position is often a
fragment of the symbol, and zbar on the crop recovered fewer codes than zbar on the whole frame.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import cv2
import numpy as np
import zxingcpp

from drivers.config import check_roi
from drivers.scanner import zbar
from drivers.scanner.decode import Payload

MIN_SIDE = 21  # the smallest QR symbol is 21 modules: anything narrower cannot hold one
MAX_FRAME_PIXELS = 4096 * 4096  # far above any camera mode the kiosk uses (1080p is 2 Mpx)
_QR = zxingcpp.BarcodeFormat.QRCode


class FrameError(ValueError):
    """A frame the pipeline cannot use (wrong type, dtype, shape or size)."""


def payload_text(raw: bytes) -> str:
    """Text for bytes zbar returns (it knows no ECI here): UTF-8 when valid, else ISO-8859-1, the QR
    default character set. Only the text differs from zxing-cpp's; the bytes are exact."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


class ScanPipeline:
    """Stateless per frame (apart from counters): safe to call from one thread at a time."""

    def __init__(self, roi: Sequence[float] = (0.0, 0.0, 1.0, 1.0), second_opinion: bool = True):
        self.roi = check_roi(roi)
        self._full = self.roi == (0.0, 0.0, 1.0, 1.0)
        self.second_opinion = second_opinion and zbar.available()
        self._boxes: dict[tuple[int, int], tuple[int, int, int, int]] = {}
        self.zxing_errors = 0  # frames where zxing-cpp located a symbol it could not decode
        self.second_opinions = 0  # zbar runs
        self.rescued = 0  # codes only zbar decoded

    def _box(self, height: int, width: int) -> tuple[int, int, int, int]:
        box = self._boxes.get((height, width))
        if box is None:
            x, y, w, h = self.roi
            x0, y0 = int(round(x * width)), int(round(y * height))
            x1, y1 = min(width, int(round((x + w) * width))), min(height, int(round((y + h) * height)))
            box = (y0, y1, x0, x1)
            if len(self._boxes) > 8:  # frames of ever-new sizes (garbage): do not grow without bound
                self._boxes.clear()
            self._boxes[(height, width)] = box
        return box

    def gray(self, frame: object) -> np.ndarray:
        """The region of interest of `frame` as a 2-D uint8 image: a view when the frame is already
        grey (or YUYV, whose Y samples are channel 0), one cvtColor of the region otherwise."""
        if not isinstance(frame, np.ndarray):
            raise FrameError(f"not an image array ({type(frame).__name__})")
        if frame.dtype != np.uint8:
            raise FrameError(f"expected 8-bit samples, got {frame.dtype}")
        if frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] not in (1, 2, 3, 4)):
            raise FrameError(f"unexpected frame shape {frame.shape}")
        height, width = frame.shape[:2]
        if height * width > MAX_FRAME_PIXELS:
            raise FrameError(f"frame too large ({width}x{height})")
        if not self._full:
            y0, y1, x0, x1 = self._box(height, width)
            frame = frame[y0:y1, x0:x1]
            height, width = frame.shape[:2]
        if min(height, width) < MIN_SIDE:
            raise FrameError(f"frame too small ({width}x{height})")
        if frame.ndim == 3:
            channels = frame.shape[2]
            if channels <= 2:
                frame = frame[:, :, 0]  # grey in a 3-D array, or YUYV: Y is channel 0
            else:
                if frame.strides[2] != 1 or frame.strides[1] != channels:
                    frame = np.ascontiguousarray(frame)  # odd strides: OpenCV wants packed pixels
                return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY if channels == 3 else cv2.COLOR_BGRA2GRAY)
        if frame.strides[1] != 1 or frame.strides[0] < width:
            frame = np.ascontiguousarray(frame)  # zxing-cpp reads rows of packed bytes
        return frame

    def decode(self, gray: np.ndarray, retry: bool = False) -> list[Payload]:
        """Every QR symbol zxing-cpp decodes in `gray`, plus zbar's where the rule above says so."""
        found = zxingcpp.read_barcodes(gray, formats=_QR, return_errors=self.second_opinion)
        payloads = [Payload(b.text, b.bytes) for b in found if b.valid]
        failed = len(payloads) < len(found)
        if failed:
            self.zxing_errors += 1
        if (failed and self.second_opinion) or (retry and zbar.available()):
            self.second_opinions += 1
            known = {p.bytes for p in payloads}
            for raw in zbar.decode_qr(gray):
                if raw not in known:
                    known.add(raw)
                    payloads.append(Payload(payload_text(raw), raw))
                    self.rescued += 1
        return payloads

    def scan(self, frame: object, retry: bool = False) -> list[Payload]:
        return self.decode(self.gray(frame), retry)


class Deduper:
    """Reports a code once while it stays in view: a code is new when it was not seen in the last
    `seconds`. Every sighting restarts its window, so a code held up for a minute is one report, and
    the same code shown again after being away for `seconds` is a new one."""

    def __init__(self, seconds: float, max_entries: int = 256, clock=time.monotonic):
        self.seconds = seconds
        self.max_entries = max_entries
        self._clock = clock
        self._seen: dict[bytes, float] = {}

    def fresh(self, raw: bytes, now: float | None = None) -> bool:
        now = self._clock() if now is None else now
        last = self._seen.pop(raw, None)
        self._seen[raw] = now  # re-inserted: the dict stays ordered oldest sighting first
        if len(self._seen) > self.max_entries:
            self._expire(now)
        return last is None or now - last > self.seconds

    def _expire(self, now: float) -> None:
        for key, seen in list(self._seen.items()):
            if now - seen <= self.seconds and len(self._seen) <= self.max_entries:
                break
            del self._seen[key]

    def clear(self) -> None:
        self._seen.clear()
