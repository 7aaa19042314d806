"""Status list benchmarks for `kiosk bench` (10 million entries, as a Raspberry Pi kiosk must hold).

- ``status_list.lookup_10m``: ``StatusList.lookup_id`` (normalise + HMAC + fan-out + binary search on the
  mapping), half hits and half misses, against a bare binary search (no fan-out, no HMAC) over the same
  mapping with the precomputed keys. ``.hash`` and ``.cti`` rows: ``lookup_hash`` and ``is_revoked``
  against the same kind of baseline. Reports µs per lookup and the process's peak RSS while looking up
  (the high-water mark is reset first), split into anonymous memory and mapped file pages (page cache
  the kernel can drop).
- ``status_list.import_delta_100k``: ``import_list`` of a signed 100k-row delta (50k new holders, 25k
  colour changes, 25k clears, 1000 revoked codes) onto the 10M list: rows/s against a bare streaming copy
  of the same file with fsync (the floor for any one-pass rewrite), peak RSS during the import.

The 10M list is built once (in a child process, so this process's memory figures stay clean) and cached
under ``$KIOSK_BENCH_CACHE`` or ``<tmp>/kiosk-bench-status/``, keyed by its parameters.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kiosk.trust import status_list as sl

N_ENTRIES = 10_000_000
N_CTIS = 100_000
N_KNOWN = 10_000  # entries made from real ID numbers (the rest are random keys)
SEED = 20_260_601
CACHE_FORMAT = 1
NAMES = ("status_list.lookup_10m", "status_list.import_delta_100k")


def cache_root() -> Path:
    return Path(os.environ.get("KIOSK_BENCH_CACHE") or Path(tempfile.gettempdir()) / "kiosk-bench-status")


def known_id(i: int) -> str:
    """A synthetic 18-character ID number that is on the list."""
    return f"11010119{i:09d}X"


def absent_id(i: int) -> str:
    return f"44030119{i:09d}X"


# --- memory figures (Linux /proc) -----------------------------------------------------------------------


def _proc_status() -> dict[str, float]:
    """VmHWM, VmRSS, RssAnon, RssFile in MiB (empty off Linux)."""
    out: dict[str, float] = {}
    with contextlib.suppress(OSError), open("/proc/self/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                out[name] = int(value.split()[0]) / 1024
    return out


def _reset_peak() -> bool:
    """Reset the peak RSS (VmHWM) of this process; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


# --- the cached 10M list --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    directory: Path
    root_key: Path
    data_dir: Path  # holds the imported 10M list
    meta: dict


def _cache_dir(n: int, ctis: int, seed: int) -> Path:
    return cache_root() / f"f{CACHE_FORMAT}-v{sl.VERSION}-n{n}-c{ctis}-k{N_KNOWN}-s{seed}"


def _random_entries(n: int, seed: int, chunk: int = 1 << 20):
    rng = np.random.default_rng(seed)
    known = [(known_id(i), "yellow" if i % 2 else "red") for i in range(min(N_KNOWN, n))]
    yield from known
    for start in range(len(known), n, chunk):
        m = min(chunk, n - start)
        arr = np.empty(m, sl.ENTRY)
        arr["k"] = np.frombuffer(rng.bytes(16 * m), "S16")
        arr["s"] = rng.integers(1, 3, m, dtype=np.uint8)
        yield arr


def build(directory: Path, n: int, ctis: int, seed: int) -> dict:
    """Build, sign and import an n-entry list into `directory` (run in a child process)."""
    from kiosk.issuer import keys
    from kiosk.issuer.status_list import write_status_list

    directory.mkdir(parents=True)
    root = keys.generate("es256", "", root=True)
    keys.save(root, directory / "root.pem")
    rng = np.random.default_rng(seed + 1)
    cti_keys = np.frombuffer(rng.bytes(16 * ctis), "S16")
    issued = int(time.time())
    start = time.perf_counter()
    summary = write_status_list(
        directory / "full.ksl", root, 1, None, _random_entries(n, seed), cti_keys, issued, 24 * 3650
    )
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    sl.import_list(directory / "full.ksl", root.key.public_key(), directory / "data")
    import_s = time.perf_counter() - start
    meta = {
        "entries": summary.entries,
        "ctis": summary.ctis,
        "file_bytes": summary.size,
        "build_s": round(build_s, 2),
        "import_full_s": round(import_s, 2),
        "issued_at": issued,
    }
    (directory / "meta.json").write_text(json.dumps(meta))
    (directory / "full.ksl").unlink()  # only the imported list is reused; saves 170 MB of disk
    return meta


def prepare(n: int = N_ENTRIES, ctis: int = N_CTIS, seed: int = SEED) -> Prepared:
    """The cached list, built first (in a child process) when missing."""
    final = _cache_dir(n, ctis, seed)
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(final.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (final / "meta.json").exists():
            shutil.rmtree(final, ignore_errors=True)
            work = final.parent / f".build-{os.getpid()}"
            shutil.rmtree(work, ignore_errors=True)
            print(f"building a {n}-entry status list (cached in {final}) ...", file=sys.stderr, flush=True)
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "kiosk.bench_status",
                    "--build",
                    str(work),
                    str(n),
                    str(ctis),
                    str(seed),
                ],
                check=True,
            )
            os.replace(work, final)
    meta = json.loads((final / "meta.json").read_text())
    return Prepared(final, final / "root.pem", final / "data", meta)


# --- lookups --------------------------------------------------------------------------------------------


def _bare_search(mm, base: int, n: int, rec: int) -> Callable[[bytes], int]:
    """The baseline: a plain binary search over all n records of the same mapping."""

    def search(key: bytes) -> int:
        lo, hi = 0, n
        while lo < hi:
            mid = (lo + hi) >> 1
            p = base + mid * rec
            k = mm[p : p + 16]
            if k < key:
                lo = mid + 1
            elif k == key:
                return p
            else:
                hi = mid
        return -1

    return search


def lookup_10m(seconds: float = 1.0, prepared: Prepared | None = None) -> list[dict]:
    from kiosk.bench import Case, measure

    prepared = prepared or prepare()
    before = _proc_status()
    reset = _reset_peak()
    lst = sl.StatusList.open(prepared.data_dir)
    assert lst is not None
    count = 20_000
    ids = [known_id(i // 2) if i % 2 else absent_id(i // 2) for i in range(count)]
    keys = [lst._hasher(i) for i in ids]
    hits = sum(lst.lookup_id(i) is not None for i in ids)
    assert hits == count // 2, f"expected {count // 2} hits, got {hits}"
    raw = next(lst.iter_ctis(count // 2)).tobytes()
    ctis = [raw[j : j + 16] for j in range(0, len(raw), 16)]
    ctis += [os.urandom(16) for _ in range(count // 2)]
    bare = _bare_search(lst._mm, sl.LOCAL_HEADER, lst.info.entries, sl.ENTRY_SIZE)
    bare_cti = _bare_search(lst._mm, lst._ctis_off, lst.info.ctis, sl.CTI_SIZE)
    assert sum(bare(k) >= 0 for k in keys) == hits

    def cycling(fn: Callable, items: list) -> Callable[[], object]:
        it = itertools.cycle(items)
        return lambda: fn(next(it))

    baseline = "bare binary search on the same mmap (precomputed key, no fan-out)"
    cases = [
        Case("status_list.lookup_10m", cycling(lst.lookup_id, ids), baseline, cycling(bare, keys)),
        Case("status_list.lookup_10m.hash", cycling(lst.lookup_hash, keys), baseline, cycling(bare, keys)),
        Case("status_list.lookup_10m.cti", cycling(lst.is_revoked, ctis), baseline, cycling(bare_cti, ctis)),
    ]
    results = []
    for case in cases:
        for fn in (case.run, case.baseline):  # touch every page these lookups use once
            for _ in range(count):
                fn()
        r = measure(case, seconds)
        r["us_per_lookup"] = round(1e6 / r["ops_per_s"], 2)
        r["baseline_us"] = round(1e6 / r["baseline_ops_per_s"], 2)
        results.append(r)
    after = _proc_status()
    memory = {
        "entries": lst.info.entries,
        "ctis": lst.info.ctis,
        "file_mb": round(prepared.meta["file_bytes"] / 2**20, 1),
        "build_s": prepared.meta["build_s"],
        "import_full_s": prepared.meta["import_full_s"],
        "peak_rss_mb": round(after.get("VmHWM", 0), 1) if reset else None,
        "rss_before_mb": round(before.get("VmRSS", 0), 1),
        "rss_anon_mb": round(after.get("RssAnon", 0), 1),
        "rss_anon_growth_mb": round(after.get("RssAnon", 0) - before.get("RssAnon", 0), 1),
        "rss_file_mb": round(after.get("RssFile", 0), 1),
    }
    results[0].update(memory)
    lst.close()
    return results


# --- delta import ---------------------------------------------------------------------------------------


def _make_delta(prepared: Prepared, lst: sl.StatusList, rows: int, seed: int) -> bytes:
    from kiosk.issuer import keys
    from kiosk.issuer.status_list import make_status_list

    root = keys.load(prepared.root_key)
    rng = np.random.default_rng(seed)
    n = lst.info.entries
    picks = np.unique(rng.integers(0, n, rows // 2))
    old = np.empty(len(picks), sl.ENTRY)
    for i, p in enumerate(picks):  # 50k random reads of the mapping
        off = sl.LOCAL_HEADER + int(p) * sl.ENTRY_SIZE
        old[i] = np.frombuffer(lst._mm, sl.ENTRY, 1, off)[0]
    half = len(old) // 2
    old["s"][:half] = 3 - old["s"][:half]  # yellow <-> red
    old["s"][half:] = 0  # clear
    fresh = np.empty(rows - len(old), sl.ENTRY)
    fresh["k"] = np.frombuffer(rng.bytes(16 * len(fresh)), "S16")
    fresh["s"] = rng.integers(1, 3, len(fresh), dtype=np.uint8)
    ctis = np.frombuffer(rng.bytes(16 * 1000), "S16")
    seq = lst.info.seq
    return make_status_list(root, seq + 1, seq, [old, fresh], ctis, valid_hours=24)


def _bare_copy(src: Path, dst: Path) -> float:
    start = time.perf_counter()
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        while block := fi.read(1 << 20):
            fo.write(block)
        fo.flush()
        os.fsync(fo.fileno())
    return time.perf_counter() - start


def import_delta_100k(
    seconds: float = 1.0, prepared: Prepared | None = None, rows: int = 100_000, rounds: int = 3
) -> list[dict]:
    from kiosk.crypto.keys import public_key_from_pem

    prepared = prepared or prepare()
    public = public_key_from_pem(prepared.root_key.read_bytes())
    source = prepared.data_dir / sl.NAME / sl.FILE_NAME
    times, copies, peaks, growth = [], [], [], []
    result: sl.ImportResult | None = None
    for r in range(rounds):
        with tempfile.TemporaryDirectory(dir=prepared.directory) as tmp:
            data = Path(tmp) / "data"
            (data / sl.NAME).mkdir(parents=True)
            shutil.copyfile(source, data / sl.NAME / sl.FILE_NAME)
            with sl.StatusList.open(data) as lst:
                delta = _make_delta(prepared, lst, rows, SEED + r)
            before = _proc_status()
            reset = _reset_peak()
            start = time.perf_counter()
            result = sl.import_list(delta, public, data)
            times.append(time.perf_counter() - start)
            after = _proc_status()
            peaks.append(after.get("VmHWM", 0) if reset else float("nan"))
            growth.append(after.get("RssAnon", 0) - before.get("RssAnon", 0))
            copies.append(_bare_copy(source, Path(tmp) / "copy"))
    assert result is not None
    took, copy = statistics.median(times), statistics.median(copies)
    return [
        {
            "name": "status_list.import_delta_100k",
            "ops_per_s": round(rows / took, 1),
            "baseline": "bare streaming copy + fsync of the same list file (rows/s at that speed)",
            "baseline_ops_per_s": round(rows / copy, 1),
            "ratio": round(copy / took, 3),
            "seconds": round(took, 3),
            "copy_seconds": round(copy, 3),
            "records_per_s": round(result.info.entries / took),
            "delta": {"added": result.added, "changed": result.changed, "removed": result.removed},
            "entries_after": result.info.entries,
            "peak_rss_mb": round(max(peaks), 1),
            "rss_before_mb": round(before.get("VmRSS", 0), 1),
            "rss_anon_growth_mb": round(max(growth), 1),
        }
    ]


BENCHMARKS: dict[str, Callable[..., list[dict]]] = {
    "status_list.lookup_10m": lookup_10m,
    "status_list.import_delta_100k": import_delta_100k,
}


def run(prefixes: list[str], seconds: float = 1.0) -> list[dict]:
    """The status list benchmarks selected by name prefix (all when `prefixes` is empty)."""
    selected = [n for n in BENCHMARKS if not prefixes or any(n.startswith(p) for p in prefixes)]
    results: list[dict] = []
    for i, name in enumerate(selected, 1):
        print(f"[status {i}/{len(selected)}] {name} ...", file=sys.stderr, flush=True)
        results.extend(BENCHMARKS[name](seconds))
    return results


def main(argv: list[str]) -> int:
    if argv[:1] == ["--build"]:
        directory, n, ctis, seed = Path(argv[1]), int(argv[2]), int(argv[3]), int(argv[4])
        print(json.dumps(build(directory, n, ctis, seed)), file=sys.stderr)
        return 0
    print(json.dumps({"benchmarks": run(argv)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
