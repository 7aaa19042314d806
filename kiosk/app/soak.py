"""`python -m kiosk.app.soak`: the demo travellers over and over for a long time, sampling memory.

Answers "does `kiosk run --sim` stay flat over an hour?": it prepares a demo data directory, plays the
demo's travellers in a loop for `--minutes` through the real drivers and simulators (with the window
where Qt has a display, else headless) and samples the process's resident memory (VmRSS) and Python
object count every `--every` seconds. The JSON report gives RSS at start (after the first round, when
caches are warm), at the end and its maximum, the number of decisions, and the object types whose
count grew most between the first and the last round, while the window is still up (where to look if
memory does not stay flat; `--trace` adds where Python allocated the growth).
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import gc
import json
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

from kiosk.app.demo import GAP, _devices, _policy, _steps, prepare
from kiosk.app.run import run_scenario


def memory_kib() -> dict[str, int]:
    """VmRSS and its parts (RssAnon: heap and arenas; RssFile: mapped files, e.g. libraries and fonts)."""
    wanted = {"VmRSS:": "rss_kib", "RssAnon:": "rss_anon_kib", "RssFile:": "rss_file_kib"}
    found = dict.fromkeys(wanted.values(), 0)
    with open("/proc/self/status") as f:
        for line in f:
            key = line.split(":", 1)[0] + ":"
            if key in wanted:
                found[wanted[key]] = int(line.split()[1])
    return found


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def native_heap_kib() -> tuple[int, int] | None:
    """(in use, free) KiB of the C heap over all malloc arenas (glibc's mallinfo2), None elsewhere.

    Tells a leak (in use grows: Qt, SQLite, a C extension keeps memory) from fragmentation (free grows
    while in use stays flat: RSS rises but the memory is reusable)."""
    try:
        libc = ctypes.CDLL(None)
        mallinfo2 = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    mallinfo2.restype = _Mallinfo2
    info = mallinfo2()
    return (info.uordblks + info.hblkhd) // 1024, info.fordblks // 1024


def sqlite_kib() -> int | None:
    """Memory SQLite holds now over all connections (page caches, statements): sqlite3_memory_used."""
    import ctypes.util

    name = ctypes.util.find_library("sqlite3")
    if name is None:
        return None
    try:
        used = ctypes.CDLL(name).sqlite3_memory_used  # the library the sqlite3 module links to
    except (OSError, AttributeError):
        return None
    used.restype = ctypes.c_int64
    return int(used()) // 1024


def type_counts() -> collections.Counter[str]:
    return collections.Counter(type(o).__qualname__ for o in gc.get_objects())


def soak(minutes: float, every: float, out: Path | None, headless: bool, trace: bool = False) -> dict:
    base = Path(tempfile.mkdtemp(prefix="kiosk-soak-"))
    data, travellers = prepare(base)
    rounds = max(1, int(minutes * 60 // (GAP * len(travellers))))
    steps_travellers = travellers * rounds
    steps, _ = _steps(steps_travellers)
    decisions: collections.Counter[str] = collections.Counter()
    samples: list[dict] = []
    types: dict[str, collections.Counter[str]] = {}
    snapshots: dict[str, tracemalloc.Snapshot] = {}
    if trace:
        tracemalloc.start(8)
    outcomes: list[tuple[str, tuple[str, ...]]] = []
    differing: list[dict] = []
    stop = threading.Event()
    started = time.monotonic()

    def emit(obj: dict) -> None:
        if obj.get("type") == "decision":
            decisions[obj["decision"]] += 1
            if len(outcomes) < len(travellers):  # the first round: what every later round must repeat
                outcomes.append((obj["decision"], tuple(obj["reasons"])))
            elif outcomes[decisions.total() % len(travellers) - 1] != (
                obj["decision"],
                tuple(obj["reasons"]),
            ):
                differing.append(
                    {"n": decisions.total(), "decision": obj["decision"], "reasons": obj["reasons"]}
                )

    def sample() -> None:
        while True:
            done = decisions.total()
            heap = native_heap_kib()
            samples.append(
                {
                    "t": round(time.monotonic() - started, 1),
                    **memory_kib(),
                    "heap_in_use_kib": heap[0] if heap else None,
                    "heap_free_kib": heap[1] if heap else None,
                    "sqlite_kib": sqlite_kib(),
                    "objects": len(gc.get_objects()),
                    "python_blocks": sys.getallocatedblocks(),  # pymalloc's blocks in use
                    "decisions": done,
                }
            )
            # the warm snapshot after the first round, the late one in the last round: both while the
            # window and the devices are still up (after the run they are closed and freed)
            for name, after in (("warm", len(travellers)), ("late", len(steps_travellers) - len(travellers))):
                if name not in types and done >= max(after, len(travellers)):
                    gc.collect()
                    types[name] = type_counts()
                    if trace:
                        snapshots[name] = tracemalloc.take_snapshot()
            if stop.wait(every):
                return

    runner = run_scenario
    if not headless:
        from kiosk.ui.app import qt_available, run_with_window

        runner = run_with_window if qt_available() else run_scenario
    sampler = threading.Thread(target=sample, name="soak-sampler", daemon=True)
    sampler.start()
    status = runner(data, _policy(), _devices(), steps, emit=emit)
    stop.set()
    sampler.join()
    grown = types.get("late", collections.Counter()) - types.get("warm", collections.Counter())
    allocations = []
    if trace and "late" in snapshots:
        diff = snapshots["late"].compare_to(snapshots["warm"], "traceback")
        for stat in diff[:8]:
            allocations.append(
                {
                    "kib": round(stat.size_diff / 1024, 1),
                    "count": stat.count_diff,
                    "where": stat.traceback.format()[-6:],
                }
            )
        tracemalloc.stop()
    warm = next((s for s in samples if s["decisions"] >= len(travellers)), samples[0])
    report = {
        "runner": runner.__name__,
        "minutes": round((time.monotonic() - started) / 60, 1),
        "decisions": decisions.total(),
        "by_decision": dict(decisions),
        "expected_decisions": len(travellers) * rounds,
        "exit_status": status,
        "rss_kib_first": samples[0]["rss_kib"],
        "rss_kib_warm": warm["rss_kib"],
        "rss_kib_end": samples[-1]["rss_kib"],
        "rss_kib_max": max(s["rss_kib"] for s in samples),
        "heap_in_use_kib_warm": warm["heap_in_use_kib"],
        "heap_in_use_kib_end": samples[-1]["heap_in_use_kib"],
        "heap_free_kib_warm": warm["heap_free_kib"],
        "heap_free_kib_end": samples[-1]["heap_free_kib"],
        "python_blocks_warm": warm["python_blocks"],
        "python_blocks_end": samples[-1]["python_blocks"],
        "objects_warm": warm["objects"],
        "objects_end": samples[-1]["objects"],
        "types_grown": dict(grown.most_common(12)),
        "python_allocations_grown": allocations,
        "decided_unlike_the_first_round": len(differing),
        "first_differences": differing[:10],
        "samples": samples,
    }
    if out is not None:
        out.write_text(json.dumps(report, indent=1) + "\n")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kiosk.app.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--every", type=float, default=30.0, help="seconds between memory samples")
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    parser.add_argument("--headless", action="store_true")
    parser.add_argument("--trace", action="store_true", help="tracemalloc: where Python memory grew (slower)")
    args = parser.parse_args(argv)
    report = soak(args.minutes, args.every, args.out, args.headless, args.trace)
    summary = {k: v for k, v in report.items() if k != "samples"}
    print(json.dumps(summary, indent=1), file=sys.stderr)
    ok = report["exit_status"] == 0 and report["decisions"] == report["expected_decisions"]
    return 0 if ok and not report["decided_unlike_the_first_round"] else 1


if __name__ == "__main__":
    sys.exit(main())
