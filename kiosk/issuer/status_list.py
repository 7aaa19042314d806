"""Making signed status lists (full or delta) for kiosks: the format is described in
``kiosk.trust.status_list``.

Entries are streamed: ``(id_number, status)`` or ``(key16, status)`` pairs, or ENTRY numpy arrays (the bulk
path for a hub that keeps the hashes). They are buffered as 17-byte records in numpy chunks; a list
larger than one chunk is spilled to 256 bucket files by the first key byte (keys are HMAC outputs, so
the buckets are even), then each bucket is sorted on its own. Memory is a few chunks whatever the list
size (measured: 137 MiB peak RSS for the whole process building 10M entries with the default 2^20-record
chunk; ``chunk=`` trades it for speed), and no Python object is kept per entry.

An ID given twice in one list keeps its most severe status (red > yellow > clear): the result does not
depend on input order, and a conflict errs on the side of checking the holder. A full list drops
"clear" entries; a delta keeps them (they remove the holder at the kiosk).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from kiosk.crypto.jws import sign_compact
from kiosk.crypto.keys import b64url_encode
from kiosk.issuer.keys import IssuerKey
from kiosk.issuer.keys import load as load_key
from kiosk.trust.status_list import (
    CTI,
    ENTRY,
    ENTRY_SIZE,
    KEY_SIZE,
    STATUS_CODES,
    TYP,
    VERSION,
    IdHasher,
    list_key_id,
    read_list_key,
)

DEFAULT_VALID_HOURS = 24.0
CHUNK = 1 << 20  # records buffered before spilling to buckets (17 MiB)
_S17 = np.dtype("S17")  # a record as one string: sorts by key, then status

Entry = tuple[str | bytes, str | int] | np.ndarray


class StatusListError(ValueError):
    """Bad input for a status list (the message says which)."""


def default_list_key(root: IssuerKey) -> bytes:
    """The list key used when none is given: derived from the root key, so every list a root key signs
    uses the same key (deltas must) and two deployments never share one. It travels in the header."""
    return hashlib.sha256(b"kiosk status-list key v1\0" + root.key.private_pem()).digest()


def _status(value: str | int) -> int:
    if isinstance(value, str):
        code = STATUS_CODES.get(value.strip().lower())
    else:
        code = value if value in (0, 1, 2) else None
    if code is None:
        raise StatusListError(f"status {value!r}: expected yellow, red or clear")
    return code


class _Sorter:
    """Sort and de-duplicate 17-byte records in bounded memory."""

    def __init__(self, chunk: int, spool_dir: str | None):
        self.chunk, self.spool_dir = chunk, spool_dir
        self.pending: list[np.ndarray] = []
        self.pending_n = 0
        self.tmp: tempfile.TemporaryDirectory | None = None
        self.buckets: list[IO[bytes]] = []

    def add(self, records: np.ndarray) -> None:
        if len(records):
            self.pending.append(records.view(_S17) if records.dtype != _S17 else records)
            self.pending_n += len(records)
            if self.pending_n >= self.chunk:
                self._spill()

    def _spill(self) -> None:
        if not self.pending:
            return
        if self.tmp is None:
            self.tmp = tempfile.TemporaryDirectory(prefix="kiosk-status-", dir=self.spool_dir)
            self.buckets = [open(Path(self.tmp.name) / f"{b:02x}", "w+b") for b in range(256)]  # noqa: SIM115
        recs = np.concatenate(self.pending)
        self.pending, self.pending_n = [], 0
        first = recs.view(np.uint8).reshape(-1, ENTRY_SIZE)[:, 0]
        order = np.argsort(first, kind="stable")
        bounds = np.concatenate(([0], np.cumsum(np.bincount(first, minlength=256))))
        recs = recs[order]
        for b in range(256):
            if bounds[b + 1] > bounds[b]:
                self.buckets[b].write(recs[bounds[b] : bounds[b + 1]].view(np.uint8))

    @staticmethod
    def _unique(recs: np.ndarray) -> np.ndarray:
        recs = np.sort(recs)
        keys = recs.view(ENTRY)["k"]
        last = np.ones(len(recs), bool)  # the last record of each key: its highest status
        last[:-1] = keys[1:] != keys[:-1]
        return recs[last]

    def sorted_chunks(self) -> Iterator[np.ndarray]:
        if self.tmp is None:
            if self.pending:
                yield self._unique(np.concatenate(self.pending)).view(ENTRY)
            return
        try:
            self._spill()
            for f in self.buckets:
                f.seek(0)
                recs = np.frombuffer(f.read(), _S17)
                if len(recs):
                    yield self._unique(recs).view(ENTRY)
        finally:
            for f in self.buckets:
                f.close()
            self.tmp.cleanup()


def _records(entries: Iterable[Entry], hasher: IdHasher, chunk: int) -> Iterator[np.ndarray]:
    """ENTRY arrays from any mix of pairs and arrays, at most `chunk` pairs buffered."""
    buf = bytearray()
    n = 0
    for item in entries:
        if isinstance(item, np.ndarray):
            if item.dtype != ENTRY:
                raise StatusListError(f"entry arrays must have dtype {ENTRY}")
            if len(item) and item["s"].max() > 2:
                raise StatusListError("entry array with a status outside 0..2")
            yield item
            continue
        ident, status = item
        if isinstance(ident, str):
            if not ident.strip():
                raise StatusListError("empty ID number")
            key = hasher(ident)
        elif isinstance(ident, bytes | bytearray) and len(ident) == KEY_SIZE:
            key = bytes(ident)
        else:
            raise StatusListError(f"entry {ident!r}: expected an ID number or a 16-byte key")
        buf += key
        buf.append(_status(status))
        n += 1
        if n >= chunk:
            yield np.frombuffer(bytes(buf), ENTRY)
            buf.clear()
            n = 0
    if n:
        yield np.frombuffer(bytes(buf), ENTRY)


def _cti_array(revoked_ctis: Iterable[bytes | str] | np.ndarray) -> np.ndarray:
    if isinstance(revoked_ctis, np.ndarray):
        arr = revoked_ctis.astype("S16")
        if arr.dtype.itemsize != KEY_SIZE:
            raise StatusListError("cti arrays must be 16-byte records")
        return np.unique(arr).view(CTI)
    buf = bytearray()
    for cti in revoked_ctis:
        raw = bytes.fromhex(cti) if isinstance(cti, str) else bytes(cti)
        if len(raw) != KEY_SIZE:
            raise StatusListError(f"cti {cti!r}: a code id is 16 bytes (32 hex digits)")
        buf += raw
    return np.unique(np.frombuffer(bytes(buf), "S16")).view(CTI)


@dataclass(frozen=True, slots=True)
class ListSummary:
    kind: str
    seq: int
    base_seq: int | None
    issued_at: int
    valid_until: int
    entries: int
    ctis: int
    list_key_id: str
    key_in_header: bool
    size: int  # bytes of the transport file

    def describe(self, out: str | os.PathLike) -> str:
        base = f" on seq {self.base_seq}" if self.base_seq is not None else ""
        key = "key in header" if self.key_in_header else "key kept separate"
        return (
            f"wrote {out}: {self.kind} status list seq {self.seq}{base}, {self.entries} entries,"
            f" {self.ctis} revoked codes, list key {self.list_key_id} ({key}), {self.size} bytes"
        )


def _build(
    body: IO[bytes],
    root: IssuerKey,
    seq: int,
    base_seq: int | None,
    entries: Iterable[Entry],
    revoked_ctis: Iterable[bytes | str] | np.ndarray,
    issued_at: int | None,
    valid_hours: float,
    list_key: bytes | None,
    include_key: bool | None,
    chunk: int,
    spool_dir: str | None,
) -> tuple[str, ListSummary]:
    """Write the body to `body` (hashing it) and return the signed header line and a summary."""
    if root.role != "root":
        raise StatusListError("a status list must be signed by a root key (kiosk issuer keygen --root)")
    if not (isinstance(seq, int) and 0 <= seq < 2**63):
        raise StatusListError("seq must be a non-negative integer")
    if base_seq is not None and not 0 <= base_seq < seq:
        raise StatusListError(f"--base-seq {base_seq} must be below --seq {seq}")
    if not valid_hours > 0:
        raise StatusListError("valid hours must be positive")
    if include_key is None:
        include_key = list_key is None
    list_key = default_list_key(root) if list_key is None else list_key
    if not 16 <= len(list_key) <= 64:
        raise StatusListError("a list key is 16-64 bytes")
    issued_at = int(time.time()) if issued_at is None else int(issued_at)
    kind = "full" if base_seq is None else "delta"
    sha = hashlib.sha256()
    sorter = _Sorter(chunk, spool_dir)
    for recs in _records(entries, IdHasher(list_key), chunk):
        sorter.add(recs)
    n = 0
    for recs in sorter.sorted_chunks():
        if kind == "full":
            recs = recs[recs["s"] != 0]
        data = recs.view(np.uint8)
        body.write(data)
        sha.update(data)
        n += len(recs)
    ctis = _cti_array(revoked_ctis)
    data = ctis.view(np.uint8)
    body.write(data)
    sha.update(data)
    header = {
        "v": VERSION,
        "kind": kind,
        "seq": seq,
        "base_seq": base_seq,
        "issued_at": issued_at,
        "valid_until": issued_at + int(valid_hours * 3600),
        "entries": n,
        "ctis": len(ctis),
        "body_sha256": sha.hexdigest(),
        "list_key_id": list_key_id(list_key),
    }
    if include_key:
        header["list_key"] = b64url_encode(list_key)
    token = sign_compact(json.dumps(header, separators=(",", ":")).encode(), root.key, typ=TYP)
    size = len(token) + 1 + n * ENTRY_SIZE + len(ctis) * KEY_SIZE
    summary = ListSummary(
        kind,
        seq,
        base_seq,
        issued_at,
        header["valid_until"],
        n,
        len(ctis),
        header["list_key_id"],
        include_key,
        size,
    )
    return token, summary


def make_status_list(
    root: IssuerKey,
    seq: int,
    base_seq: int | None = None,
    entries: Iterable[Entry] = (),
    revoked_ctis: Iterable[bytes | str] | np.ndarray = (),
    issued_at: int | None = None,
    valid_hours: float = DEFAULT_VALID_HOURS,
    list_key: bytes | None = None,
    *,
    include_key: bool | None = None,
    chunk: int = CHUNK,
) -> bytes:
    """A signed status list as bytes: a full list, or with `base_seq` a delta on that seq.

    `entries`: ``(id_number or 16-byte key, "yellow"|"red"|"clear" or 1|2|0)`` pairs and/or ENTRY arrays.
    `list_key`: None uses ``default_list_key(root)`` and puts it in the header; a given key is kept out of
    the header unless `include_key`. For large lists use ``write_status_list`` (same arguments)."""
    body = io.BytesIO()
    token, _ = _build(
        body,
        root,
        seq,
        base_seq,
        entries,
        revoked_ctis,
        issued_at,
        valid_hours,
        list_key,
        include_key,
        chunk,
        None,
    )
    return token.encode("ascii") + b"\n" + body.getvalue()


def write_status_list(
    out: str | os.PathLike,
    root: IssuerKey,
    seq: int,
    base_seq: int | None = None,
    entries: Iterable[Entry] = (),
    revoked_ctis: Iterable[bytes | str] | np.ndarray = (),
    issued_at: int | None = None,
    valid_hours: float = DEFAULT_VALID_HOURS,
    list_key: bytes | None = None,
    *,
    include_key: bool | None = None,
    chunk: int = CHUNK,
) -> ListSummary:
    """``make_status_list`` streamed to a file (bounded memory; the body is spooled next to `out`, which
    is replaced atomically)."""
    out = Path(out)
    directory = str(out.parent.resolve())
    with tempfile.TemporaryFile(dir=directory) as body:
        token, summary = _build(
            body,
            root,
            seq,
            base_seq,
            entries,
            revoked_ctis,
            issued_at,
            valid_hours,
            list_key,
            include_key,
            chunk,
            directory,
        )
        body.seek(0)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{out.name}.")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(token.encode("ascii") + b"\n")
                shutil.copyfileobj(body, f, 1 << 20)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, out)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return summary


def parse_entry(text: str) -> tuple[str, str]:
    """``IDNUMBER=yellow|red|clear`` (also ``IDNUMBER,status``) as a pair."""
    sep = "=" if "=" in text else ","
    ident, found, status = text.rpartition(sep)
    if not found or not ident.strip():
        raise StatusListError(f"--entry {text!r}: expected IDNUMBER=yellow|red|clear")
    _status(status)
    return ident.strip(), status.strip().lower()


def _entries_file(path: str | os.PathLike) -> Iterator[tuple[str, str]]:
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#"):
                    yield parse_entry(line)
    except OSError as exc:
        raise StatusListError(f"cannot read entries file {path}: {exc.strerror}") from None


def cli_status_list(
    *,
    root_key: str | os.PathLike,
    out: str | os.PathLike,
    seq: int,
    base_seq: int | None = None,
    entry: Sequence[str] = (),
    revoke_cti: Sequence[str] = (),
    valid_hours: float = DEFAULT_VALID_HOURS,
    list_key: str | os.PathLike | None = None,
    entries_file: str | os.PathLike | None = None,
    now: int | None = None,
) -> str:
    """``kiosk issuer status-list``: write the list, return the line to print. ValueError subclasses
    (StatusListError, IssuerKeyError, TrustError) carry a message for the operator."""
    root = load_key(root_key)
    pairs: list[Entry] = [parse_entry(e) for e in entry]
    ctis = []
    for text in revoke_cti:
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = b""
        if len(raw) != KEY_SIZE:
            raise StatusListError(f"--revoke-cti {text!r}: expected 32 hex digits (a 16-byte code id)")
        ctis.append(raw)
    entries: Iterable[Entry] = pairs
    if entries_file is not None:
        entries = _chain(pairs, _entries_file(entries_file))
    key = read_list_key(list_key) if list_key is not None else None
    summary = write_status_list(
        out, root, seq, base_seq, entries, ctis, issued_at=now, valid_hours=valid_hours, list_key=key
    )
    return summary.describe(out)


def _chain(*parts: Iterable[Entry]) -> Iterator[Entry]:
    for part in parts:
        yield from part
