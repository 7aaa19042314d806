"""Base45 (RFC 9285).

Decoding runs for every scanned PHIC and DCC, so it is native: a small C extension
(`_base45.c`, built at install), else a numpy-vectorised decoder (a few microseconds). The usual
pure-Python decoder loops per character and costs as much as the signature check it feeds.
"""

from __future__ import annotations

import numpy as np

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
# Characters outside the alphabet map to a value so large that their group fails the range check:
# one comparison then covers both errors. int64, not int32: a group of two or three such characters
# (up to 2071 << 20) would overflow int32, wrap negative and pass the check.
_INVALID = 1 << 20
_TABLE = np.full(256, _INVALID, dtype=np.int64)
for _i, _c in enumerate(ALPHABET):
    _TABLE[ord(_c)] = _i
_WEIGHTS = np.array([1, 45, 2025], dtype=np.int64)
_ENCODE = np.frombuffer(ALPHABET.encode("ascii"), dtype=np.uint8)


class Base45Error(ValueError):
    pass


try:
    from kiosk.codes._base45 import decode as _c_decode
except ImportError:  # built without a C compiler: the numpy decoder serves
    _c_decode = None


def b45decode(data: bytes | str) -> bytes:
    """Decode Base45 text; raise `Base45Error` for characters outside the alphabet, a dangling
    single character, or a group whose value is too large."""
    if isinstance(data, str):
        try:
            data = data.encode("ascii")
        except UnicodeEncodeError as exc:
            raise Base45Error("base45: non-ASCII character") from exc
    if _c_decode is None:
        return b45decode_numpy(data)
    try:
        return _c_decode(data)
    except ValueError as exc:
        raise Base45Error(str(exc)) from None


def b45decode_numpy(data: bytes) -> bytes:
    """The numpy decoder: the fallback, and the reference the C decoder is tested against."""
    n = len(data)
    if n % 3 == 1:
        raise Base45Error("base45: invalid length")
    values = _TABLE.take(np.frombuffer(data, dtype=np.uint8))
    full = n - n % 3
    words = values[:full].reshape(-1, 3).dot(_WEIGHTS)
    if words.max(initial=0) > 0xFFFF:
        raise Base45Error("base45: character outside the alphabet or group value out of range")
    out = words.astype(">u2").tobytes()
    if n % 3:
        last = int(values[full]) + int(values[full + 1]) * 45
        if last > 0xFF:
            raise Base45Error("base45: character outside the alphabet or final group out of range")
        out += bytes((last,))
    return out


def b45encode(data: bytes) -> str:
    buf = np.frombuffer(data, dtype=np.uint8)
    full = len(buf) - len(buf) % 2
    words = buf[:full].reshape(-1, 2).astype(np.uint32)
    n = words[:, 0] * 256 + words[:, 1]
    digits = np.stack([n % 45, (n // 45) % 45, n // 2025], axis=1).reshape(-1)
    text = _ENCODE[digits].tobytes().decode("ascii")
    if len(buf) % 2:
        b = int(buf[-1])
        text += ALPHABET[b % 45] + ALPHABET[b // 45]
    return text
