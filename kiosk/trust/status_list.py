"""Signed, delta-updatable status lists: the offline path for ID cards and PHIC revocation.

What a list says (FORMATS.md section 4): the holders with an *abnormal* status (yellow or red), keyed by
``HMAC-SHA256(list_key, ID number stripped and upper-cased, UTF-8)[0:16]``, and the revoked PHIC code ids
(``cti``). Anyone absent from a *fresh* list is "no abnormality" (green). Scale target: 10 million entries
on a Raspberry Pi, lookups well under a millisecond, bounded memory, streaming delta updates.

Transport file (what the hub publishes and ``kiosk trust import --format status-list`` reads)::

    <compact JWS by the deployment root key (ES256 or SM2), typ "status-list+jws"> "\\n"
    <body: entries × 17 bytes (key16 ‖ status), sorted by key, unique> <ctis × 16 bytes, sorted, unique>

The JWS payload is a small JSON header: ``v`` (1), ``kind`` (``full``|``delta``), ``seq``, ``base_seq``
(delta: the seq it applies to; full: null), ``issued_at``, ``valid_until`` (NumericDate), ``entries``,
``ctis``, ``body_sha256`` (hex), ``list_key_id`` (hex of SHA-256(list_key)[0:8]) and, unless the issuer
keeps the key separate, ``list_key`` (base64url). Status byte: 1 yellow, 2 red, and in a delta 0 clear
(remove). A delta's ctis are added to the revoked set (un-revoking takes a full list, which also prunes
ctis of expired codes). The signature covers the header only; the header binds the body by its digest,
so the body stays plain fixed-size binary that is streamed, never parsed into Python objects.

Kiosk side (``<data_dir>/status-list/current.ksl``, mode 0600)::

    [0, 4096)   "KSL1" ‖ u32 LE length ‖ JSON metadata (seq, issued_at, valid_until, counts, list key,
                fan-out bits, SHA-256 of the local body, digest of the signed header imported last)
    entries     N × 17 bytes, sorted (for a full list: byte for byte the signed body)
    ctis        M × 16 bytes, sorted
    fan-outs    (2^b + 1) little-endian u32 start indices per section, by the top b bits of the key

For lookups the file is memory-mapped (``MADV_RANDOM``: an SD card should not read ahead 128 KiB per
probe). Keys are HMAC outputs, so they are uniform and the fan-out (b = 16 for 10M entries: ~150 records
per bucket) leaves a binary search of ~8 probes on the mapping: a few µs in CPython, no per-entry Python
objects; private memory is the 256 KiB fan-out, the rest is page cache the kernel may drop at will. The
metadata header also lets ``info``/``source_status`` answer ``kiosk trust status`` by reading 4 KiB.

Import (``import_list``), under an flock so a sync and an operator cannot interleave:
  1. read the header line (≤ 64 KiB), verify the JWS with the pinned root key and the header's fields;
  2. refuse: wrong body length (truncation, trailing bytes), a list past its ``valid_until``, rollback
     (``seq`` ≤ the seq in force; re-importing the identical list is a no-op), a delta whose ``base_seq`` is
     not the seq in force or whose list key differs, a list whose key id the kiosk does not hold;
  3. stream the body once into a private temp file, hashing it and checking order, uniqueness and status
     values in numpy chunks; nothing is used unless the digest matches the signed one (a tampered body
     reports the digest mismatch, not whatever order error the tampering caused);
  4. full list: that temp file *is* the new list (header and fan-outs added). Delta: one streaming sorted
     merge of the current file (read with pread, not mapped, so it does not inflate the RSS) with the
     verified delta, in key ranges of at most ``chunk_records`` records per side (``np.searchsorted`` +
     ``np.insert`` per range; status 0 removes; ctis are a union) into a second temp file;
  5. fsync the file, ``os.replace`` it over ``current.ksl``, fsync the directory. Until the rename the old
     list is in force; a crash leaves only ``.tmp-*`` files, removed by the next import. Readers that
     hold the old mapping keep a consistent old view (the old inode lives until they drop it).
A list in force that cannot be opened (damaged file) refuses deltas; a newer full list replaces it.
``StatusList.check`` re-hashes the body against the digest kept at import (for the self-test).

Why one rewritten file rather than, say, an LSM-style overlay of deltas: one file, one rename and one
binary search per lookup keep crash safety and lookups trivially right. The cost is rewriting the list on
each delta (170 MB for 10M entries: about a second here, seconds on a Pi's SD card, a few GB of SD
writes a day at hourly deltas — within any card's endurance). If that ever matters, a small sorted overlay
file merged into the base when it passes a few percent of it is the next step.

Privacy of ``list_key``: resident ID numbers have little entropy (~3,000 region codes × ~36,500 birth
dates × 1,000 sequence numbers, check digit computed: about 2^37 in all, far fewer for a known region and
age band), so whoever holds the list *and* its key recovers the ID number of every abnormal holder by
brute force (hours on one CPU core at 1 µs per HMAC, minutes on a GPU); the HMAC only stops that for
someone without the key. With the key in the signed header (the default, derived from the root key by the
issuer: simple, fine for demos and closed deployments) the list file itself is sensitive personal data
and must be distributed as such. With ``--list-key FILE`` on the issuer side the header carries only the key id; the
kiosk gets the key at provisioning (``provision_list_key`` or ``import_list(..., list_key=...)``) and
refuses a list whose key id it does not hold, so a copied list file alone reveals nothing. The kiosk must
keep the key (it hashes the swiped ID number); it stores it in its own 0600 files. Changing the key takes
a full list (a delta must use the key in force).

Freshness: lookups answer from the list in force whatever its age; the caller decides with
``StatusList.fresh(now)`` (or ``holder_status``, which returns "unknown" for a stale list) whether absence
may be read as green. A revoked cti stays revoked even in a stale list.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import io
import json
import mmap
import os
import secrets
import sys
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from kiosk.crypto.jws import JwsError, verify_compact
from kiosk.crypto.keys import VerifyKey, b64url_decode
from kiosk.fileio import fsync_dir
from kiosk.trust.sources import TrustError

NAME = "status-list"
TYP = "status-list+jws"
VERSION = 1
ENTRY = np.dtype([("k", "S16"), ("s", "u1")])  # 17 bytes, packed
CTI = np.dtype([("k", "S16")])
ENTRY_SIZE, CTI_SIZE, KEY_SIZE = 17, 16, 16
STATUS_CODES = {"clear": 0, "green": 0, "yellow": 1, "red": 2}
STATUS_NAMES: dict[int, str] = {1: "yellow", 2: "red"}
MAX_HEADER = 64 * 1024
LOCAL_HEADER = 4096
MAGIC = b"KSL1"
INT64 = 2**63
MAX_RECORDS = 2**32 - 1  # fan-out entries are u32
READ_CHUNK = 1 << 16  # records per chunk when streaming a body in (~1 MiB)
MERGE_CHUNK = 1 << 18  # records per side per merge step (~4.5 MiB)
FILE_NAME = "current.ksl"


# --- keys ------------------------------------------------------------------------------------------------


def normalize_id(id_number: str) -> bytes:
    """The bytes an ID number is keyed by: stripped, upper-cased, UTF-8 (as the PHIC ``ih`` binding)."""
    return id_number.strip().upper().encode("utf-8")


def list_key_id(list_key: bytes) -> str:
    """Key id: hex of SHA-256(list_key)[0:8]. Reveals nothing about a random 32-byte key."""
    return hashlib.sha256(list_key).digest()[:8].hex()


class IdHasher:
    """``HMAC-SHA256(list_key, id)[0:16]`` with the pads hashed once: ~1 µs instead of ~2.6 µs per ID
    for ``hmac.digest`` on OpenSSL 3 (which fetches the digest on every call)."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, list_key: bytes):
        if len(list_key) > 64:
            list_key = hashlib.sha256(list_key).digest()
        padded = list_key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))

    def hash_bytes(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()[:KEY_SIZE]

    def __call__(self, id_number: str) -> bytes:
        return self.hash_bytes(normalize_id(id_number))


def id_key(list_key: bytes, id_number: str) -> bytes:
    """The 16-byte list key of one ID number."""
    return hmac.digest(list_key, normalize_id(id_number), "sha256")[:KEY_SIZE]


def read_list_key(path: str | os.PathLike) -> bytes:
    """A list key file: hex text (one line, 32-128 hex digits) or 16-64 raw bytes."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise TrustError(f"cannot read list key {path}: {exc.strerror}") from None
    text = data.strip()
    try:
        if 32 <= len(text) <= 128 and len(text) % 2 == 0:
            return bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        pass
    if 16 <= len(data) <= 64:
        return data
    raise TrustError(f"{path}: not a status list key (expected 32-128 hex digits or 16-64 raw bytes)")


def write_list_key(path: str | os.PathLike, list_key: bytes | None = None) -> str:
    """Write a (new random 32-byte) list key as hex, readable by its owner only; returns its key id."""
    list_key = secrets.token_bytes(32) if list_key is None else list_key
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(list_key.hex() + "\n")
    return list_key_id(list_key)


# --- the signed header ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListHeader:
    kind: str  # "full" or "delta"
    seq: int
    base_seq: int | None
    issued_at: int
    valid_until: int
    entries: int
    ctis: int
    body_sha256: bytes
    list_key_id: str
    list_key: bytes | None
    token_sha256: str  # identifies this exact signed list (idempotent re-import)

    @property
    def body_size(self) -> int:
        return self.entries * ENTRY_SIZE + self.ctis * CTI_SIZE


def _int(doc: dict, name: str, lo: int = 0, hi: int = INT64) -> int:
    value = doc.get(name)
    if type(value) is not int or not lo <= value < hi:
        raise TrustError(f"status list: {name} must be an integer in [{lo}, {hi})")
    return value


def parse_header(token: bytes, root_key: VerifyKey) -> ListHeader:
    """Verify the signed header line and check its fields; TrustError with the reason otherwise."""
    try:
        jws_head, payload = verify_compact(token, root_key)
    except JwsError as exc:
        raise TrustError(f"status list: {exc}") from None
    if jws_head.get("typ") != TYP:
        raise TrustError(f"status list: JWS typ {jws_head.get('typ')!r} is not {TYP!r}")
    try:
        doc = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise TrustError(f"status list: header is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise TrustError("status list: header is not an object")
    if doc.get("v") != VERSION:
        raise TrustError(
            f"status list: format version {doc.get('v')!r} is not supported (expected {VERSION})"
        )
    kind = doc.get("kind")
    if kind not in ("full", "delta"):
        raise TrustError(f"status list: kind {kind!r} is neither full nor delta")
    seq, issued_at, valid_until = _int(doc, "seq"), _int(doc, "issued_at"), _int(doc, "valid_until")
    entries, ctis = _int(doc, "entries", hi=MAX_RECORDS + 1), _int(doc, "ctis", hi=MAX_RECORDS + 1)
    base_seq = _int(doc, "base_seq") if kind == "delta" else None
    if kind == "delta" and base_seq >= seq:
        raise TrustError(f"status list: delta seq {seq} is not after its base_seq {base_seq}")
    if kind == "full" and doc.get("base_seq") is not None:
        raise TrustError("status list: a full list has no base_seq")
    if valid_until <= issued_at:
        raise TrustError("status list: valid_until is not after issued_at")
    digest, kid = doc.get("body_sha256"), doc.get("list_key_id")
    try:
        if not (isinstance(digest, str) and len(digest) == 64):
            raise ValueError
        body_sha256 = bytes.fromhex(digest)
        if not (isinstance(kid, str) and len(kid) == 16):
            raise ValueError
        bytes.fromhex(kid)
    except ValueError:
        raise TrustError("status list: body_sha256 (64 hex) and list_key_id (16 hex) are required") from None
    list_key = None
    if doc.get("list_key") is not None:
        try:
            list_key = b64url_decode(doc["list_key"])
        except (ValueError, TypeError):
            raise TrustError("status list: list_key is not base64url") from None
        if not 16 <= len(list_key) <= 64 or list_key_id(list_key) != kid:
            raise TrustError("status list: list_key does not match list_key_id")
    return ListHeader(
        kind,
        seq,
        base_seq,
        issued_at,
        valid_until,
        entries,
        ctis,
        body_sha256,
        kid,
        list_key,
        hashlib.sha256(token.strip()).hexdigest(),
    )


# --- the list in force ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusInfo:
    """Metadata of the list in force (``kiosk trust status``)."""

    seq: int
    issued_at: int
    valid_until: int
    entries: int
    ctis: int
    list_key_id: str
    imported_at: int
    last_kind: str  # kind of the list imported last: "full" or "delta"
    full_seq: int  # seq of the full list the current delta chain started from
    body_sha256: str  # of the local entries+ctis bytes (``StatusList.check``)
    source_sha256: str  # of the signed header imported last

    def fresh(self, now: float) -> bool:
        return now <= self.valid_until

    def state(self, now: float) -> str:
        return "OK" if self.fresh(now) else "STALE"


def _fanout_bits(n: int) -> int:
    """Fan-out size: ~64-128 records per bucket, at most 2^16 buckets (256 KiB)."""
    return min(16, max(0, n.bit_length() - 7))


def _layout(entries: int, ctis: int, ebits: int, cbits: int) -> tuple[int, int, int, int]:
    """(ctis offset, entries fan-out offset, ctis fan-out offset, file size)."""
    ctis_off = LOCAL_HEADER + entries * ENTRY_SIZE
    fan_off = (ctis_off + ctis * CTI_SIZE + 7) & ~7
    cfan_off = fan_off + ((1 << ebits) + 1) * 4
    return ctis_off, fan_off, cfan_off, cfan_off + ((1 << cbits) + 1) * 4


def _read_fanout(mm: mmap.mmap, off: int, bits: int) -> array:
    fan = array("I")
    fan.frombytes(mm[off : off + ((1 << bits) + 1) * 4])
    if sys.byteorder == "big":
        fan.byteswap()
    return fan


class StatusList:
    """The list in force, memory-mapped: lookups by binary search within a fan-out bucket."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        with open(self.path, "rb") as f:
            head = f.read(LOCAL_HEADER)
            if len(head) < LOCAL_HEADER or head[:4] != MAGIC:
                raise TrustError(f"{self.path}: not a kiosk status list file")
            length = int.from_bytes(head[4:8], "little")
            try:
                meta = json.loads(head[8 : 8 + length])
                self.info = StatusInfo(**{k: meta[k] for k in StatusInfo.__dataclass_fields__})
                self._key = bytes.fromhex(meta["list_key"])
                ebits, cbits = int(meta["entries_fanout_bits"]), int(meta["ctis_fanout_bits"])
            except (ValueError, KeyError, TypeError) as exc:
                raise TrustError(f"{self.path}: damaged status list header: {exc}") from None
            size = os.fstat(f.fileno()).st_size
            self._ctis_off, fan_off, cfan_off, expected = _layout(
                self.info.entries, self.info.ctis, ebits, cbits
            )
            if size != expected:
                raise TrustError(f"{self.path}: damaged status list ({size} bytes, expected {expected})")
            self._mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        with contextlib.suppress(AttributeError, OSError):
            self._mm.madvise(mmap.MADV_RANDOM)
        self._fan, self._shift = _read_fanout(self._mm, fan_off, ebits), 16 - ebits
        self._cfan, self._cshift = _read_fanout(self._mm, cfan_off, cbits), 16 - cbits
        self._hasher = IdHasher(self._key)

    @classmethod
    def open(cls, data_dir: str | os.PathLike) -> StatusList | None:
        """The list in force in this data directory, or None when none was imported."""
        path = Path(data_dir) / NAME / FILE_NAME
        try:
            return cls(path)
        except FileNotFoundError:
            return None

    def close(self) -> None:
        self._mm.close()

    def __enter__(self) -> StatusList:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self.info.entries

    @property
    def list_key_id(self) -> str:
        return self.info.list_key_id

    def fresh(self, now: float) -> bool:
        return self.info.fresh(now)

    # lookups: a hand-written bisect on the mapping; each probe is one 16-byte slice and compare.

    def lookup_hash(self, key: bytes) -> str | None:
        """ "yellow", "red" or None (not on the list) for a 16-byte key."""
        if len(key) != KEY_SIZE:
            raise ValueError("a status list key is 16 bytes")
        bucket = (key[0] << 8 | key[1]) >> self._shift
        lo, hi = self._fan[bucket], self._fan[bucket + 1]
        mm = self._mm
        while lo < hi:
            mid = (lo + hi) >> 1
            p = LOCAL_HEADER + mid * ENTRY_SIZE
            k = mm[p : p + KEY_SIZE]
            if k < key:
                lo = mid + 1
            elif k == key:
                return STATUS_NAMES.get(mm[p + KEY_SIZE])
            else:
                hi = mid
        return None

    def lookup_id(self, id_number: str) -> str | None:
        """ "yellow", "red" or None for an ID number (hashed with the list key)."""
        return self.lookup_hash(self._hasher(id_number))

    def holder_status(self, id_number: str, now: float) -> str:
        """ "yellow"/"red"/"green", or "unknown" when the list is past its valid_until."""
        found = self.lookup_id(id_number)
        if found is not None:
            return found
        return "green" if self.fresh(now) else "unknown"

    def is_revoked(self, cti: bytes) -> bool:
        """True when the code id is on the revocation part of the list."""
        if len(cti) != CTI_SIZE:
            return False
        bucket = (cti[0] << 8 | cti[1]) >> self._cshift
        lo, hi = self._cfan[bucket], self._cfan[bucket + 1]
        mm, base = self._mm, self._ctis_off
        while lo < hi:
            mid = (lo + hi) >> 1
            p = base + mid * CTI_SIZE
            k = mm[p : p + CTI_SIZE]
            if k < cti:
                lo = mid + 1
            elif k == cti:
                return True
            else:
                hi = mid
        return False

    # bulk access (tests, export, self-test)

    def iter_entries(self, chunk: int = READ_CHUNK) -> Iterator[np.ndarray]:
        """The entries as ENTRY arrays of at most `chunk` records (copies: safe after close)."""
        for i in range(0, self.info.entries, chunk):
            n = min(chunk, self.info.entries - i)
            yield np.frombuffer(self._mm, ENTRY, n, LOCAL_HEADER + i * ENTRY_SIZE).copy()

    def iter_ctis(self, chunk: int = READ_CHUNK) -> Iterator[np.ndarray]:
        for i in range(0, self.info.ctis, chunk):
            n = min(chunk, self.info.ctis - i)
            yield np.frombuffer(self._mm, CTI, n, self._ctis_off + i * CTI_SIZE).copy()

    def check(self) -> bool:
        """Re-hash the body against the digest recorded at import (SD-card rot; for the self-test)."""
        h = hashlib.sha256()
        end = self._ctis_off + self.info.ctis * CTI_SIZE
        for p in range(LOCAL_HEADER, end, 1 << 20):
            h.update(self._mm[p : min(p + (1 << 20), end)])
        return h.hexdigest() == self.info.body_sha256


class StatusListHandle:
    """The list in force for a long-running process: re-opens it (at most every `recheck` seconds) when an
    import replaced the file. Old mappings are left to the garbage collector so a lookup in another
    thread never sees a closed map."""

    def __init__(self, data_dir: str | os.PathLike, recheck: float = 1.0):
        self.path = Path(data_dir) / NAME / FILE_NAME
        self.recheck = recheck
        self._list: StatusList | None = None
        self._ident: tuple[int, int] | None = None
        self._checked = -float("inf")

    def current(self) -> StatusList | None:
        now = time.monotonic()
        if now - self._checked >= self.recheck:
            self._checked = now
            try:
                st = os.stat(self.path)
                ident = (st.st_ino, st.st_mtime_ns)
            except FileNotFoundError:
                ident = None
            if ident != self._ident:
                self._list = StatusList(self.path) if ident is not None else None
                self._ident = ident
        return self._list

    def is_revoked(self, cti: bytes) -> bool:
        current = self.current()
        return current is not None and current.is_revoked(cti)

    def lookup_id(self, id_number: str) -> str | None:
        current = self.current()
        return None if current is None else current.lookup_id(id_number)

    def holder_status(self, id_number: str, now: float) -> str:
        current = self.current()
        return "unknown" if current is None else current.holder_status(id_number, now)


def keyring_hook(data_dir: str | os.PathLike, recheck: float = 1.0) -> Callable[[bytes], bool] | None:
    """A callable for ``KeyRing.phic_revoked``, or None when no status list is in force (the verifier then
    reports revocation as not checked rather than "not revoked")."""
    if not (Path(data_dir) / NAME / FILE_NAME).exists():
        return None
    return StatusListHandle(data_dir, recheck).is_revoked


def info(data_dir: str | os.PathLike) -> StatusInfo | None:
    """Metadata of the list in force, reading only its 4 KiB header."""
    path = Path(data_dir) / NAME / FILE_NAME
    try:
        with open(path, "rb") as f:
            head = f.read(LOCAL_HEADER)
    except FileNotFoundError:
        return None
    if head[:4] != MAGIC:
        raise TrustError(f"{path}: not a kiosk status list file")
    try:
        meta = json.loads(head[8 : 8 + int.from_bytes(head[4:8], "little")])
        return StatusInfo(**{k: meta[k] for k in StatusInfo.__dataclass_fields__})
    except (ValueError, KeyError, TypeError) as exc:
        raise TrustError(f"{path}: damaged status list header: {exc}") from None


def source_status(data_dir: str | os.PathLike) -> Any:
    """The list in force as a ``kiosk.trust.store.SourceStatus`` row (entries = holders + revoked ctis),
    or None when none was imported."""
    from kiosk.trust.store import SourceStatus

    meta = info(data_dir)
    if meta is None:
        return None
    return SourceStatus(
        NAME, NAME, meta.entries + meta.ctis, meta.seq, meta.issued_at, meta.valid_until, meta.imported_at
    )


# --- import ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportResult:
    info: StatusInfo
    kind: str
    unchanged: bool = False  # the identical list was already in force
    added: int = 0
    changed: int = 0
    removed: int = 0
    ctis_added: int = 0
    seconds: float = 0.0

    def describe(self) -> str:
        i = self.info
        if self.unchanged:
            return f"status list seq {i.seq} is already in force; nothing to do"
        what = (
            f"full list: {i.entries} holders, {i.ctis} revoked codes"
            if self.kind == "full"
            else f"delta: +{self.added} ~{self.changed} -{self.removed} holders, +{self.ctis_added} revoked codes;"
            f" now {i.entries} holders, {i.ctis} revoked codes"
        )
        return (
            f"imported {NAME} seq {i.seq} ({what}), signed {_utc(i.issued_at)},"
            f" valid until {_utc(i.valid_until)} [{self.seconds:.2f} s]"
        )


def _utc(ts: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


class _Input:
    """A transport file (path) or its bytes: header line, then the body read in exact chunks."""

    def __init__(self, source: str | os.PathLike | bytes | bytearray | memoryview):
        if isinstance(source, bytes | bytearray | memoryview):
            self.f: IO[bytes] = io.BytesIO(source)
            self.size = len(source)
        else:
            try:
                self.f = open(source, "rb")  # noqa: SIM115 (closed by close())
            except OSError as exc:
                raise TrustError(f"cannot read status list {source}: {exc.strerror}") from None
            self.size = os.fstat(self.f.fileno()).st_size

    def header(self) -> bytes:
        line = self.f.readline(MAX_HEADER + 1)
        if not line.endswith(b"\n"):
            raise TrustError(
                "status list: no header line (truncated, not a status list, or header over 64 KiB)"
            )
        self.body_size = self.size - len(line)
        return line

    def read_exact(self, n: int) -> bytes:
        data = self.f.read(n)
        if len(data) != n:
            raise TrustError("status list: body is truncated")
        return data

    def close(self) -> None:
        self.f.close()


def _counts16(buf: np.ndarray, rec: int) -> np.ndarray:
    """Records per value of the first two key bytes (65536 bins)."""
    u = buf.view(np.uint8).reshape(-1, rec)
    return np.bincount(u[:, 0].astype(np.intp) << 8 | u[:, 1], minlength=1 << 16)


def _fanout(counts16: np.ndarray, bits: int) -> bytes:
    grouped = counts16.reshape(1 << bits, -1).sum(axis=1)
    return np.concatenate(([0], np.cumsum(grouped))).astype("<u4").tobytes()


class _BodyStream:
    """Stream a transport body into `sink`: hash everything, check order and statuses chunk by chunk."""

    def __init__(self, head: ListHeader):
        self.head = head
        self.sha = hashlib.sha256()
        self.error: str | None = None  # the first validity problem, reported only if the digest matches
        self.counts = {ENTRY_SIZE: np.zeros(1 << 16, np.int64), CTI_SIZE: np.zeros(1 << 16, np.int64)}

    def run(self, inp: _Input, sink: IO[bytes]) -> None:
        lowest = 0 if self.head.kind == "delta" else 1  # clear (0) only in a delta
        for rec, dtype, count, what in (
            (ENTRY_SIZE, ENTRY, self.head.entries, "entries"),
            (CTI_SIZE, CTI, self.head.ctis, "ctis"),
        ):
            prev: bytes | None = None
            for start in range(0, count, READ_CHUNK):
                n = min(READ_CHUNK, count - start)
                buf = inp.read_exact(n * rec)
                self.sha.update(buf)
                if self.error is None:
                    arr = np.frombuffer(buf, dtype)
                    keys = arr["k"]
                    if (prev is not None and buf[:KEY_SIZE] <= prev) or not (keys[1:] > keys[:-1]).all():
                        self.error = f"{what} are not sorted and unique"
                    elif rec == ENTRY_SIZE and (arr["s"].max() > 2 or arr["s"].min() < lowest):
                        self.error = f"entry status outside {lowest}..2 in a {self.head.kind} list"
                    else:
                        self.counts[rec] += _counts16(arr, rec)
                        sink.write(buf)
                prev = buf[len(buf) - rec : len(buf) - rec + KEY_SIZE]
        if inp.f.read(1):
            raise TrustError("status list: bytes after the body")
        if self.sha.digest() != self.head.body_sha256:
            raise TrustError("status list: body does not match the signed digest (tampered or corrupted)")
        if self.error is not None:
            raise TrustError(f"status list: {self.error}")


class _Table:
    """One sorted section of a file, read with pread: the merge streams through the list without
    mapping it, so its pages stay in the (droppable) page cache instead of this process's RSS."""

    def __init__(self, fd: int, off: int, count: int, dtype: np.dtype):
        self.fd, self.off, self.n, self.dtype, self.rec = fd, off, count, dtype, dtype.itemsize

    def key(self, i: int) -> bytes:
        return os.pread(self.fd, KEY_SIZE, self.off + i * self.rec)

    def rows(self, i: int, j: int) -> np.ndarray:
        if j <= i:
            return np.zeros(0, self.dtype)
        data = os.pread(self.fd, (j - i) * self.rec, self.off + i * self.rec)
        if len(data) != (j - i) * self.rec:
            raise TrustError("status list: short read while merging")
        return np.frombuffer(data, self.dtype)

    def upper(self, lo: int, hi: int, key: bytes) -> int:
        """First index in [lo, hi) whose key is greater than `key` (hi if none)."""
        while lo < hi:
            mid = (lo + hi) >> 1
            if self.key(mid) <= key:
                lo = mid + 1
            else:
                hi = mid
        return lo


@dataclass(slots=True)
class _MergeStats:
    added: int = 0
    changed: int = 0
    removed: int = 0
    written: int = 0


def _merge_piece(cur: np.ndarray, upd: np.ndarray, stats: _MergeStats) -> np.ndarray:
    """Merge sorted `upd` into sorted `cur` (both within one key range). Entries: the update's record
    replaces the current one, status 0 removes. ctis (no status field): union."""
    if len(upd) == 0:
        return cur
    ck, uk = cur["k"], upd["k"]
    pos = np.searchsorted(ck, uk)
    inside = pos < len(cur)
    match = np.zeros(len(upd), bool)
    match[inside] = ck[pos[inside]] == uk[inside]
    if "s" in upd.dtype.names:
        status = upd["s"]
        keep = np.ones(len(cur), bool)
        keep[pos[match]] = False
        old, new = cur["s"][pos[match]], status[match]
        stats.removed += int((new == 0).sum())
        stats.changed += int(((new != 0) & (new != old)).sum())
        stats.added += int(((~match) & (status != 0)).sum())
        cur, fresh = cur[keep], upd[status != 0]
    else:
        fresh = upd[~match]
        stats.added += len(fresh)
    if len(fresh) == 0:
        return cur
    return np.insert(cur, np.searchsorted(cur["k"], fresh["k"]), fresh)


def _merge_section(
    cur: _Table, upd: _Table, out: IO[bytes], sha: Any, chunk: int
) -> tuple[int, np.ndarray, _MergeStats]:
    """One streaming pass: advance through both sorted sections in key ranges holding at most `chunk`
    records of each, merge each range in numpy, write it out. Returns (records written, counts16, stats)."""
    stats = _MergeStats()
    counts = np.zeros(1 << 16, np.int64)
    i = j = 0
    while i < cur.n or j < upd.n:
        ci, dj = min(i + chunk, cur.n), min(j + chunk, upd.n)
        if ci < cur.n and (dj == upd.n or cur.key(ci - 1) <= upd.key(dj - 1)):
            i_end, j_end = ci, upd.upper(j, dj, cur.key(ci - 1))
        elif dj < upd.n:
            i_end, j_end = cur.upper(i, ci, upd.key(dj - 1)), dj
        else:
            i_end, j_end = cur.n, upd.n  # both remainders fit in one chunk
        piece = _merge_piece(cur.rows(i, i_end), upd.rows(j, j_end), stats)
        if len(piece):
            data = piece.view(np.uint8)
            out.write(data)
            sha.update(data)
            counts += _counts16(piece, cur.rec)
            stats.written += len(piece)
        i, j = i_end, j_end
    if stats.written > MAX_RECORDS:
        raise TrustError("status list: more than 2^32-1 records after the merge")
    return stats.written, counts, stats


def _write_local(
    f: IO[bytes],
    meta: dict,
    entries: int,
    ctis: int,
    counts: np.ndarray,
    ccounts: np.ndarray,
) -> None:
    """Append the fan-outs after the sections and write the header at offset 0."""
    ebits, cbits = _fanout_bits(entries), _fanout_bits(ctis)
    ctis_off, fan_off, cfan_off, size = _layout(entries, ctis, ebits, cbits)
    f.seek(ctis_off + ctis * CTI_SIZE)
    f.write(b"\0" * (fan_off - f.tell()))
    f.write(_fanout(counts, ebits))
    f.write(_fanout(ccounts, cbits))
    meta = {**meta, "entries": entries, "ctis": ctis, "entries_fanout_bits": ebits, "ctis_fanout_bits": cbits}
    blob = json.dumps(meta, separators=(",", ":")).encode()
    if 8 + len(blob) > LOCAL_HEADER:
        raise TrustError("status list: local header too large")
    f.seek(0)
    f.write(MAGIC + len(blob).to_bytes(4, "little") + blob)
    f.flush()
    os.fsync(f.fileno())
    if f.seek(0, os.SEEK_END) != size:
        raise TrustError("status list: internal error: file size does not match its layout")


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _new_temp(directory: Path) -> tuple[Path, IO[bytes]]:
    path = directory / f".tmp-{os.getpid()}-{secrets.token_hex(4)}"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    return path, os.fdopen(fd, "w+b")


def provision_list_key(data_dir: str | os.PathLike, list_key: bytes) -> str:
    """Keep a list key given at provisioning (for lists that do not carry theirs); returns its id."""
    kid = list_key_id(list_key)
    keys = Path(data_dir) / NAME / "keys"
    keys.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_list_key(keys / f"{kid}.key", list_key)
    return kid


def _resolve_key(head: ListHeader, given: bytes | None, current: StatusList | None, directory: Path) -> bytes:
    if given is not None:
        if list_key_id(given) != head.list_key_id:
            raise TrustError(
                f"status list: signed for list key {head.list_key_id}, not the given key {list_key_id(given)}"
            )
        return given
    if head.list_key is not None:
        return head.list_key
    if current is not None and current.list_key_id == head.list_key_id:
        return current._key
    path = directory / "keys" / f"{head.list_key_id}.key"
    if path.exists():
        key = read_list_key(path)
        if list_key_id(key) == head.list_key_id:
            return key
    raise TrustError(
        f"status list: list key {head.list_key_id} is not held by this kiosk"
        " (the list does not carry its key; provision it, e.g. import with --list-key FILE)"
    )


def import_list(
    source: str | os.PathLike | bytes | bytearray | memoryview,
    root_key: VerifyKey,
    data_dir: str | os.PathLike,
    now: float | None = None,
    *,
    list_key: bytes | None = None,
    chunk_records: int = MERGE_CHUNK,
) -> ImportResult:
    """Verify a transport file (path or bytes) and make it the list in force; TrustError (the old list
    stays in force) when anything is wrong. `list_key`: the provisioned key for lists that do not carry
    theirs. `chunk_records`: records per side per merge step (memory bound; tests use tiny ones)."""
    started = time.perf_counter()
    now = time.time() if now is None else now
    directory = Path(data_dir) / NAME
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    inp = _Input(source)
    try:
        head = parse_header(inp.header(), root_key)
        if inp.body_size != head.body_size:
            problem = "truncated" if inp.body_size < head.body_size else "followed by extra bytes"
            raise TrustError(
                f"status list: body is {problem} ({inp.body_size} bytes, the header says {head.body_size})"
            )
        if now > head.valid_until:
            raise TrustError(f"status list seq {head.seq}: expired (valid_until {head.valid_until} is past)")
        with _locked(directory):
            try:
                current, damaged = StatusList.open(data_dir), None
            except TrustError as exc:  # a damaged file (SD-card rot): only a full list may replace it
                current, damaged = None, exc
                if head.kind == "delta":
                    raise TrustError(f"{exc}; import a full list to replace it") from None
                old = None
                with contextlib.suppress(TrustError):  # keep rollback protection if the header is readable
                    old = info(data_dir)
                if old is not None and head.seq <= old.seq:
                    raise TrustError(
                        f"status list: seq {head.seq} is not after seq {old.seq} in force (rollback refused)"
                    ) from damaged
            try:
                return _import_locked(inp, head, current, directory, now, list_key, chunk_records, started)
            finally:
                if current is not None:
                    current.close()
    finally:
        inp.close()


def _import_locked(
    inp: _Input,
    head: ListHeader,
    current: StatusList | None,
    directory: Path,
    now: float,
    list_key: bytes | None,
    chunk: int,
    started: float,
) -> ImportResult:
    cur = current.info if current is not None else None
    if cur is not None:
        if head.seq == cur.seq and head.token_sha256 == cur.source_sha256:
            return ImportResult(cur, head.kind, unchanged=True)
        if head.seq <= cur.seq:
            raise TrustError(
                f"status list: seq {head.seq} is not after seq {cur.seq} in force (rollback refused)"
            )
    if head.kind == "delta":
        if current is None or cur is None:
            raise TrustError(
                f"status list: delta for seq {head.base_seq} but no list is in force; import a full list"
            )
        if head.base_seq != cur.seq:
            raise TrustError(
                f"status list: delta applies to seq {head.base_seq}, but seq {cur.seq} is in force;"
                " import the missing deltas or a full list"
            )
        if head.list_key_id != cur.list_key_id:
            raise TrustError("status list: a delta cannot change the list key; a new key needs a full list")
    key = _resolve_key(head, list_key, current, directory)
    for stale in directory.glob(".tmp-*"):  # left by a crash; we hold the lock
        stale.unlink(missing_ok=True)
    temps: list[Path] = []
    try:
        path, f = _new_temp(directory)
        temps.append(path)
        with f:
            meta = {
                "v": VERSION,
                "seq": head.seq,
                "issued_at": head.issued_at,
                "valid_until": head.valid_until,
                "list_key_id": head.list_key_id,
                "list_key": key.hex(),
                "imported_at": int(now),
                "last_kind": head.kind,
                "full_seq": head.seq if head.kind == "full" else cur.full_seq,  # type: ignore[union-attr]
                "source_sha256": head.token_sha256,
            }
            if head.kind == "full":
                f.write(b"\0" * LOCAL_HEADER)
                body = _BodyStream(head)
                body.run(inp, f)
                meta["body_sha256"] = head.body_sha256.hex()
                _write_local(f, meta, head.entries, head.ctis, body.counts[ENTRY_SIZE], body.counts[CTI_SIZE])
                stats, cstats = _MergeStats(added=head.entries), _MergeStats(added=head.ctis)
            else:
                stats, cstats = _apply_delta(inp, head, current, directory, temps, f, meta, chunk)  # type: ignore[arg-type]
        os.replace(path, directory / FILE_NAME)
        temps.remove(path)
        fsync_dir(directory)
    finally:
        for t in temps:
            t.unlink(missing_ok=True)
    final = info(directory.parent)
    assert final is not None
    return ImportResult(
        final,
        head.kind,
        added=stats.added,
        changed=stats.changed,
        removed=stats.removed,
        ctis_added=cstats.added,
        seconds=time.perf_counter() - started,
    )


def _apply_delta(
    inp: _Input,
    head: ListHeader,
    current: StatusList,
    directory: Path,
    temps: list[Path],
    out: IO[bytes],
    meta: dict,
    chunk: int,
) -> tuple[_MergeStats, _MergeStats]:
    """Verify the delta body into a private temp file (so nothing can change it between check and use),
    then merge it with the list in force (the same file `current` maps: we hold the lock) in one streaming
    pass into `out`."""
    dpath, df = _new_temp(directory)
    temps.append(dpath)
    with df, open(current.path, "rb") as cf:
        _BodyStream(head).run(inp, df)
        df.flush()
        dfd, cfd = df.fileno(), cf.fileno()
        with contextlib.suppress(AttributeError, OSError):
            os.posix_fadvise(cfd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        cinfo, sha = current.info, hashlib.sha256()
        out.write(b"\0" * LOCAL_HEADER)
        n, counts, stats = _merge_section(
            _Table(cfd, LOCAL_HEADER, cinfo.entries, ENTRY),
            _Table(dfd, 0, head.entries, ENTRY),
            out,
            sha,
            chunk,
        )
        m, ccounts, cstats = _merge_section(
            _Table(cfd, current._ctis_off, cinfo.ctis, CTI),
            _Table(dfd, head.entries * ENTRY_SIZE, head.ctis, CTI),
            out,
            sha,
            chunk,
        )
    meta["body_sha256"] = sha.hexdigest()
    _write_local(out, meta, n, m, counts, ccounts)
    return stats, cstats
