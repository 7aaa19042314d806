"""Keyed hashes of code identifiers and ID numbers: HMAC-SHA256 under a per-device secret key.

The key is 32 random bytes in `hash.key` in the data directory (mode 0600), created on first use.
Creation is atomic (written to a temporary file, fsynced, then hard-linked into place), so a crash
or a second process racing to create it never leaves a short or different key behind. The same
device always gives the same hash for the same input; two devices (two keys) give unrelated hashes,
so nobody can link travellers across kiosks or brute-force an ID number without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

from kiosk.fileio import fsync_dir

KEY_FILE = "hash.key"
KEY_BYTES = 32
_CODE_ID = b"kiosk.code-id\x00"
_ID_NUMBER = b"kiosk.id-number\x00"


def load_or_create_key(data_dir: str | Path) -> bytes:
    """The device's hash key, created (0600) if missing. A key of the wrong size is a ValueError."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / KEY_FILE
    if not path.exists():
        tmp = data_dir / f".{KEY_FILE}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, os.urandom(KEY_BYTES))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # fails if another process got there first: then its key wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        fsync_dir(data_dir)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, 0o600)
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise ValueError(
            f"{path}: hash key has {len(key)} bytes, expected {KEY_BYTES}; "
            "refusing to replace it (hashes of stored rows would change)"
        )
    return key


class KeyedHasher:
    """HMAC-SHA256 with the device key; hex digests (64 lower-case hex digits)."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes):
        if len(key) < 16:
            raise ValueError("hash key too short")
        self._key = key

    @classmethod
    def for_data_dir(cls, data_dir: str | Path) -> KeyedHasher:
        return cls(load_or_create_key(data_dir))

    def hash_code_id(self, code_id: bytes) -> str:
        """Hash a code's identifier (PHIC/DCC cti, UVCI bytes, SHC jti...) as bytes."""
        if not isinstance(code_id, bytes | bytearray | memoryview):
            raise TypeError("code_id must be bytes")
        return hmac.new(self._key, _CODE_ID + bytes(code_id), hashlib.sha256).hexdigest()

    def hash_id_number(self, number: str) -> str:
        """Hash an ID number, upper-cased (a trailing x and X are the same) and stripped."""
        if not isinstance(number, str):
            raise TypeError("number must be text")
        return hmac.new(self._key, _ID_NUMBER + number.strip().upper().encode(), hashlib.sha256).hexdigest()
