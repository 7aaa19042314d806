"""The soak tool (kiosk/app/soak.py) that measures memory over long runs: one headless round."""

from __future__ import annotations

import json

import pytest

from kiosk.app.soak import soak


@pytest.mark.slow
def test_one_round_reports_memory_and_consistent_decisions(tmp_path):
    out = tmp_path / "soak.json"
    report = soak(minutes=0.01, every=2.0, out=out, headless=True)  # one round of the demo travellers
    assert report["exit_status"] == 0 and report["runner"] == "run_scenario"
    assert report["decisions"] == report["expected_decisions"] == sum(report["by_decision"].values())
    assert report["by_decision"]["pass"] >= 2 and report["by_decision"]["deny"] >= 5
    assert report["decided_unlike_the_first_round"] == 0
    assert 0 < report["rss_kib_first"] <= report["rss_kib_max"] and report["rss_kib_end"] > 0
    assert isinstance(report["types_grown"], dict) and len(report["samples"]) >= 2
    assert json.loads(out.read_text())["decisions"] == report["decisions"]
    # where the memory is: RSS split into anonymous and file-backed, the C heap (glibc) and SQLite
    last = report["samples"][-1]
    assert last["rss_anon_kib"] + last["rss_file_kib"] == pytest.approx(last["rss_kib"], abs=64)
    assert 0 < last["heap_in_use_kib"] < last["rss_anon_kib"] and last["heap_free_kib"] >= 0
    assert 0 < last["sqlite_kib"] < last["heap_in_use_kib"]  # the store's connections hold some pages
