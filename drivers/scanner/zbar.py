"""pyzbar (libzbar) as a second opinion, byte-exact.

`pyzbar.decode` lets zbar guess each symbol's character set and hands back its UTF-8 re-encoding:
"héllo" in a byte-mode QR becomes Shift_JIS mojibake, and signatures no longer verify. zbar 0.23+
has `ZBAR_CFG_BINARY`, which returns the symbol's bytes as they are; pyzbar does not expose it, so
this module drives the same ctypes wrapper with that option set. Where the option is missing (older
libzbar), only pure-ASCII results are trusted, since zbar's guess cannot change those.
"""

from __future__ import annotations

import threading
from ctypes import c_void_p, cast, string_at

import numpy as np

ZBAR_CFG_BINARY = 4  # zbar.h: ENABLE, ADD_CHECK, EMIT_CHECK, ASCII, BINARY (0.23+)

try:
    from pyzbar import wrapper as _w
    from pyzbar.pyzbar import _FOURCC, _image, _image_scanner, _symbols_for_image
except Exception:  # ImportError, or libzbar missing (pyzbar raises ImportError/OSError/...)
    _w = None

_lock = threading.Lock()  # one scanner object per call, but keep zbar calls serial: cheap insurance


def available() -> bool:
    return _w is not None


def decode_qr(gray: np.ndarray) -> list[bytes]:
    """Raw bytes of each QR symbol zbar finds in a 2-D uint8 image; [] when zbar is not installed."""
    if _w is None or gray.ndim != 2 or gray.dtype != np.uint8 or min(gray.shape) < 8:
        return []
    pixels = np.ascontiguousarray(gray).tobytes()
    height, width = gray.shape
    found: list[bytes] = []
    with _lock, _image_scanner() as scanner:
        _w.zbar_image_scanner_set_config(scanner, _w.ZBarSymbol.NONE, _w.ZBarConfig.CFG_ENABLE, 0)
        _w.zbar_image_scanner_set_config(scanner, _w.ZBarSymbol.QRCODE, _w.ZBarConfig.CFG_ENABLE, 1)
        binary = _w.zbar_image_scanner_set_config(scanner, _w.ZBarSymbol.QRCODE, ZBAR_CFG_BINARY, 1) == 0
        with _image() as image:
            _w.zbar_image_set_format(image, _FOURCC["L800"])
            _w.zbar_image_set_size(image, width, height)
            _w.zbar_image_set_data(image, cast(pixels, c_void_p), len(pixels), None)
            if _w.zbar_scan_image(scanner, image) <= 0:
                return []
            for symbol in _symbols_for_image(image):
                if symbol.contents.type != _w.ZBarSymbol.QRCODE:
                    continue
                data = string_at(_w.zbar_symbol_get_data(symbol), _w.zbar_symbol_get_data_length(symbol))
                if binary or data.isascii():
                    found.append(data)
    return found
