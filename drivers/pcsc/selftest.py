"""`selftest(config)` for the PC/SC contactless reader, for `kiosk selftest`."""

from __future__ import annotations

import queue
import time

from drivers.config import PcscConfig
from drivers.events import CardFault, ContactlessCard
from drivers.health import State
from drivers.pcsc.reader import PNP_NOTIFICATION, ContactlessReader, _message, open_pcsc

SELFTEST_UID = bytes.fromhex("04C0FFEE5E1F7E")  # synthetic, belongs to no card


def _real(config: PcscConfig) -> tuple[str, str]:
    return reader_present(config.reader)


def reader_present(want: str) -> tuple[str, str]:
    """pcscd answers (on a context of its own) and lists a reader whose name contains `want`. Reads
    the reader list only: a reader in use by the kiosk is not disturbed."""
    try:
        from smartcard import scard as sc
    except ImportError:
        return "failed", "pyscard not installed"
    hr, ctx = sc.SCardEstablishContext(sc.SCARD_SCOPE_USER)
    if hr != sc.SCARD_S_SUCCESS:
        return "failed", f"no PC/SC service ({_message(hr)}): is pcscd installed and running?"
    try:
        hr, readers = sc.SCardListReaders(ctx, [])
        readers = [r for r in readers if r != PNP_NOTIFICATION] if hr == sc.SCARD_S_SUCCESS else []
        if not readers:
            return "failed", "no PC/SC reader connected"
        match = [r for r in readers if want in r]
        if not match:
            return "failed", f"reader {want!r} not found (readers: {', '.join(readers)})"
        return "ok", f"reader {match[0]} present"
    finally:
        sc.SCardReleaseContext(ctx)


def live_selftest(reader: ContactlessReader) -> tuple[str, str]:
    """The running kiosk's reader as it runs: its thread follows the reader (health), and pcscd, asked
    on a separate context, still lists that reader. No card is connected to or sent anything."""
    if reader._unavailable:
        return "failed", reader._unavailable
    thread = reader._thread
    if thread is None or not thread.is_alive():
        return "failed", f"contactless reader is not running ({reader.health.reason})"
    health = reader.health
    if health.state is State.FAILED:
        return "failed", health.reason
    status, detail = reader_present(reader.reader_name or reader.config.reader)
    if status != "ok":
        return status, detail
    detail += ", followed by the kiosk" + (", a card is on it" if reader._card_present else "")
    health = reader.health
    if health.state is not State.OK:
        return ("failed" if health.state is State.FAILED else "degraded"), f"{detail}; {health.reason}"
    return "ok", detail


def _sim(config: PcscConfig, timeout: float) -> tuple[str, str]:
    events: queue.Queue = queue.Queue()
    reader = open_pcsc(config)
    try:
        if reader.health.state is State.FAILED and reader.sim is None:
            return "failed", reader.health.reason
        reader.start(events.put)
        deadline = time.monotonic() + timeout
        while reader.health.state is not State.OK and time.monotonic() < deadline:
            time.sleep(0.05)
        if reader.health.state is not State.OK:
            return "failed", f"simulated reader not ready: {reader.health.reason}"
        card = reader.sim.virtual_card(SELFTEST_UID).insert()
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return "failed", "virtual card put on the vpcd reader but no UID read within the timeout"
                try:
                    event = events.get(timeout=left)
                except queue.Empty:
                    continue
                if isinstance(event, ContactlessCard):
                    if event.uid == SELFTEST_UID and event.atr == card.atr:
                        return (
                            "ok",
                            f"virtual card UID and ATR read back through pcscd ({reader.reader_name})",
                        )
                    return "failed", "virtual card read back with a different UID or ATR"
                if isinstance(event, CardFault):
                    return "failed", f"virtual card unreadable: {event.reason}"
        finally:
            card.remove()
    finally:
        reader.stop()


def selftest(config: PcscConfig, timeout: float = 15.0) -> tuple[str, str]:
    """("ok"|"degraded"|"failed", detail). Real: pcscd answers and the configured reader is present
    (no card needed). Sim: a private pcscd + vpcd (started here unless one runs in this process)
    reads a virtual card's UID back through the real PC/SC stack."""
    if config.backend == "sim":
        return _sim(config, timeout)
    return _real(config)
