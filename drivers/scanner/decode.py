"""QR decoding of still images with zxing-cpp, keeping each symbol's raw bytes (signatures cover bytes)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import zxingcpp

MAX_PIXELS = 40_000_000  # refuse absurd images before decoding them


class ImageError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Payload:
    text: str  # the symbol's text in its own character set, as zxing-cpp gives it
    bytes: bytes  # the raw bytes the symbol carries


def decode_frame(gray: np.ndarray) -> list[Payload]:
    """All QR codes in a grayscale frame."""
    found = zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormat.QRCode)
    return [Payload(b.text, bytes(b.bytes)) for b in found if b.valid]


def load_gray(path: str | Path) -> np.ndarray:
    data = Path(path).read_bytes()
    header = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_8)
    if header is None:
        raise ImageError(f"{path}: not an image OpenCV can read")
    if header.size * 64 > MAX_PIXELS:
        raise ImageError(f"{path}: image too large")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise ImageError(f"{path}: not an image OpenCV can read")
    return image


def decode_image(path: str | Path) -> list[Payload]:
    """All QR codes in an image file; ImageError for unreadable files."""
    try:
        return decode_frame(load_gray(path))
    except OSError as exc:
        raise ImageError(f"{path}: {exc.strerror or exc}") from None
