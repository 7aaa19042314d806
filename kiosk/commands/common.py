"""Helpers shared by the `kiosk` sub-commands."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path


class UsageError(Exception):
    """A problem with what the user asked for: printed without a traceback, exit status 2."""


def parse_time(text: str) -> int:
    """ISO 8601 (a date alone means midnight UTC; no zone means UTC) -> POSIX seconds."""
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{text!r} is not an ISO 8601 date or time, e.g. 2026-11-25T09:30:00+08:00"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp())


def fmt_time(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def data_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    if os.environ.get("KIOSK_DATA_DIR"):
        return Path(os.environ["KIOSK_DATA_DIR"])
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "healthcode-kiosk"


def read_input_file(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from None
