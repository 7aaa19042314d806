"""The contactless card reader over PC/SC (pyscard's low-level `smartcard.scard` API).

One daemon thread owns a PC/SC context and waits for reader state changes with
`SCardGetStatusChange` (bounded by `poll_interval`; `stop()` wakes it at once with `SCardCancel`).
On a card it connects, sends GET UID (`FF CA 00 00 00`) and posts `ContactlessCard(uid, atr)`, or
`CardFault(reason)` when the card cannot be read; when the card leaves it posts `CardRemoved`.
When pcscd goes away or the reader disappears, health turns failed and the thread re-establishes
the context with exponential backoff, waiting on pcscd's reader-list notifications in between.

Health: ok (reader ready, last card read), degraded (last card unreadable, or a card read that
stalls longer than `stall_seconds`), failed ("no PC/SC service ...", "reader ... not found",
"reader ... disappeared"). UIDs are personal identifiers: never logged.
"""

from __future__ import annotations

import dataclasses
import logging
import threading

from drivers.config import PcscConfig
from drivers.events import CardFault, CardRemoved, ContactlessCard, Event, Sink
from drivers.health import Health, HealthTracker
from drivers.pcsc.apdu import GET_UID, UidError, parse_uid_response

log = logging.getLogger(__name__)

PNP_NOTIFICATION = "\\\\?PnP?\\Notification"


def _scard():
    from smartcard import scard  # imported lazily: the module loads without pyscard installed

    return scard


class _Guarded:
    """The reader thread's view of the health tracker: silent once `stop()` has been called, so a
    thread that was stuck in a PC/SC call cannot overwrite "stopped"."""

    def __init__(self, tracker: HealthTracker, reader: ContactlessReader) -> None:
        self._tracker, self._reader = tracker, reader

    def ok(self, reason: str = "") -> None:
        if not self._reader._stop.is_set():
            self._tracker.ok(reason)

    def degraded(self, reason: str) -> None:
        if not self._reader._stop.is_set():
            self._tracker.degraded(reason)

    def failed(self, reason: str) -> None:
        if not self._reader._stop.is_set():
            self._tracker.failed(reason)


class _ServiceLost(Exception):
    """pcscd went away (or the context became invalid) in the middle of an operation."""


class ContactlessReader:
    """A PC/SC contactless reader, chosen by `config.reader` (substring; empty: the first reader)."""

    def __init__(
        self,
        config: PcscConfig,
        *,
        name: str = "pcsc",
        sim=None,
        owns_sim: bool = False,
        unavailable: str = "",
        retry_max: float = 5.0,
        stall_seconds: float = 3.0,
    ) -> None:
        self.config = config
        self.name = name
        self.sim = sim  # drivers.pcsc.service.PrivatePcscd for the sim backend (insert()/remove() cards)
        self._owns_sim = owns_sim
        self._unavailable = unavailable
        self._retry_min = max(0.05, config.poll_interval)
        self._retry_max = max(self._retry_min, retry_max)
        self._wait_ms = int(max(0.05, config.poll_interval) * 1000)
        self._stall_seconds = stall_seconds
        self._tracker = HealthTracker()
        if unavailable:
            self._tracker.failed(unavailable)
        self._health = _Guarded(self._tracker, self)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sink: Sink | None = None
        self._ctx_lock = threading.Lock()
        self._ctx: int | None = None
        self._card_present = False
        self.reader_name: str | None = None  # the PC/SC reader in use, once found

    def __repr__(self) -> str:
        return f"ContactlessReader(name={self.name!r}, reader={self.reader_name!r}, {self.health.state})"

    @property
    def health(self) -> Health:
        return self._tracker.get()

    # --- lifecycle --------------------------------------------------------------------------

    def start(self, sink: Sink) -> None:
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("reader already started")
        if self._unavailable:
            return  # the simulated stack could not start; health says why
        self._sink = sink
        self._stop.clear()
        self._tracker.failed("starting")
        self._thread = threading.Thread(target=self._run, name=f"{self.name}-reader", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """End the thread promptly (it may stay blocked inside a stuck PC/SC call: it is a daemon)."""
        self._stop.set()
        self._cancel()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("%s: reader thread still blocked in a PC/SC call after stop", self.name)
        if not self._unavailable:
            self._tracker.failed("stopped")
        if self._owns_sim and self.sim is not None:
            self.sim.stop()
            self.sim = None

    close = stop

    def selftest(self) -> tuple[str, str]:
        """Self-test of this running reader without a second session on it (see
        `drivers.pcsc.selftest.live_selftest`)."""
        from drivers.pcsc.selftest import live_selftest

        return live_selftest(self)

    def __enter__(self) -> ContactlessReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _cancel(self) -> None:
        with self._ctx_lock:
            if self._ctx is not None:
                _scard().SCardCancel(self._ctx)

    # --- the thread -------------------------------------------------------------------------

    def _post(self, event: Event) -> None:
        sink = self._sink
        if sink is None or self._stop.is_set():
            return  # nothing after stop(), even from a thread that was stuck in a PC/SC call
        try:
            sink(event)
        except Exception:  # a broken consumer must not kill the reader
            log.exception("%s: sink failed on %s", self.name, type(event).__name__)

    def _run(self) -> None:
        backoff = self._retry_min
        while not self._stop.is_set():
            healthy = False
            try:
                healthy = self._session()
            except Exception as exc:  # never let the thread die on an unexpected library error
                log.exception("%s: unexpected error", self.name)
                self._health.failed(f"internal error: {type(exc).__name__}")
            finally:
                self._release()
            if self._card_present:  # we no longer know: tell the kiosk the card is gone
                self._card_present = False
                self._post(CardRemoved(self.name))
            if self._stop.is_set():
                break
            if healthy:
                backoff = self._retry_min
            self._stop.wait(backoff)
            backoff = min(backoff * 2, self._retry_max)

    def _release(self) -> None:
        with self._ctx_lock:
            ctx, self._ctx = self._ctx, None
        if ctx is not None:
            _scard().SCardReleaseContext(ctx)

    def _session(self) -> bool:
        """One PC/SC context: find the reader, follow its state. True once the reader was in use."""
        sc = _scard()
        hr, ctx = sc.SCardEstablishContext(sc.SCARD_SCOPE_USER)
        if hr != sc.SCARD_S_SUCCESS:
            self._health.failed(f"no PC/SC service ({_message(hr)})")
            return False
        with self._ctx_lock:
            self._ctx = ctx
        if self._stop.is_set():
            return False
        reader = self._find_reader(ctx)
        if reader is None:
            return False
        self.reader_name = reader
        self._health.ok(f"reader {reader} ready")
        try:
            self._follow(ctx, reader)
        except _ServiceLost as exc:
            self._health.failed(str(exc))
        return True

    def _find_reader(self, ctx: int) -> str | None:
        sc = _scard()
        want = self.config.reader
        pnp_state = sc.SCARD_STATE_UNAWARE
        while not self._stop.is_set():
            hr, readers = sc.SCardListReaders(ctx, [])
            if hr not in (sc.SCARD_S_SUCCESS, sc.SCARD_E_NO_READERS_AVAILABLE):
                self._health.failed(f"no PC/SC service ({_message(hr)})")
                return None
            readers = list(readers) if hr == sc.SCARD_S_SUCCESS else []
            for reader in readers:
                if want in reader:
                    return reader
            if want:
                have = ", ".join(readers) or "none"
                self._health.failed(f"reader {want!r} not found (readers: {have})")
            else:
                self._health.failed("no PC/SC reader connected")
            # wait for the reader list to change (pcsc-lite's PnP notification), bounded
            hr, states = sc.SCardGetStatusChange(
                ctx, int(self._retry_max * 1000), [(PNP_NOTIFICATION, pnp_state)]
            )
            if hr == sc.SCARD_S_SUCCESS:
                pnp_state = states[0][1] & ~sc.SCARD_STATE_CHANGED
            elif hr == sc.SCARD_E_CANCELLED:
                return None
            elif hr != sc.SCARD_E_TIMEOUT:
                self._health.failed(f"no PC/SC service ({_message(hr)})")
                return None
        return None

    def _follow(self, ctx: int, reader: str) -> None:
        sc = _scard()
        current = sc.SCARD_STATE_UNAWARE
        counter = -1
        while not self._stop.is_set():
            hr, states = sc.SCardGetStatusChange(ctx, self._wait_ms, [(reader, current)])
            if hr == sc.SCARD_E_TIMEOUT:
                continue
            if hr == sc.SCARD_E_CANCELLED:
                return
            if hr in (sc.SCARD_E_UNKNOWN_READER, sc.SCARD_E_READER_UNAVAILABLE):
                raise _ServiceLost(f"reader {reader} disappeared")
            if hr != sc.SCARD_S_SUCCESS:
                raise _ServiceLost(f"no PC/SC service ({_message(hr)})")
            _, event, atr = states[0]
            current = event & ~sc.SCARD_STATE_CHANGED
            if event & (sc.SCARD_STATE_UNKNOWN | sc.SCARD_STATE_UNAVAILABLE):
                raise _ServiceLost(f"reader {reader} disappeared")
            present = bool(event & sc.SCARD_STATE_PRESENT)
            new_counter = (event >> 16) & 0xFFFF  # pcsc-lite counts insertions and removals here
            if present and self._card_present and counter >= 0 and new_counter - counter >= 2:
                self._card_present = False  # removed and another card put down between two waits
                self._post(CardRemoved(self.name))
            counter = new_counter
            if present and not self._card_present:
                self._card_present = True
                if event & sc.SCARD_STATE_MUTE:
                    self._fault("card does not answer (mute)")
                else:
                    self._read_card(ctx, reader, bytes(atr))
            elif not present and self._card_present:
                self._card_present = False
                self._post(CardRemoved(self.name))

    def _read_card(self, ctx: int, reader: str, atr: bytes) -> None:
        sc = _scard()
        watchdog = threading.Timer(self._stall_seconds, self._stalled)
        watchdog.daemon = True
        watchdog.start()
        try:
            hr, hcard, protocol = sc.SCardConnect(
                ctx, reader, sc.SCARD_SHARE_SHARED, sc.SCARD_PROTOCOL_T0 | sc.SCARD_PROTOCOL_T1
            )
            self._check_service(hr)
            if hr != sc.SCARD_S_SUCCESS:
                self._fault(f"cannot connect to the card ({_message(hr)})")
                return
            try:
                hr, response = sc.SCardTransmit(hcard, protocol, list(GET_UID))
                self._check_service(hr)
                if hr != sc.SCARD_S_SUCCESS:
                    self._fault(f"card read failed ({_message(hr)})")
                    return
                try:
                    uid = parse_uid_response(bytes(response))
                except UidError as exc:
                    self._fault(str(exc))
                    return
            finally:
                sc.SCardDisconnect(hcard, sc.SCARD_LEAVE_CARD)
        finally:
            watchdog.cancel()
        self._health.ok(f"reader {reader} ready")
        self._post(ContactlessCard(self.name, uid, atr))

    def _check_service(self, hr: int) -> None:
        sc = _scard()
        if hr in (sc.SCARD_E_NO_SERVICE, sc.SCARD_E_SERVICE_STOPPED, sc.SCARD_E_INVALID_HANDLE):
            raise _ServiceLost(f"no PC/SC service ({_message(hr)})")
        if hr in (sc.SCARD_E_UNKNOWN_READER, sc.SCARD_E_READER_UNAVAILABLE):
            raise _ServiceLost(f"reader {self.reader_name} disappeared")

    def _stalled(self) -> None:
        self._health.degraded(f"card read stalled for over {self._stall_seconds:g} s (reader not answering)")

    def _fault(self, reason: str) -> None:
        log.info("%s: card fault: %s", self.name, reason)
        self._health.degraded(f"last card unreadable: {reason}")
        self._post(CardFault(self.name, reason))


def _message(hr: int) -> str:
    try:
        text = _scard().SCardGetErrorMessage(hr)
    except Exception:
        text = ""
    return f"{text.rstrip('.')} 0x{hr & 0xFFFFFFFF:08X}".strip()


def open_pcsc(config: PcscConfig, *, sim=None, name: str = "pcsc", **options) -> ContactlessReader:
    """The reader for `config.backend`: "real" uses the system pcscd; "sim" uses `sim` (a running
    `PrivatePcscd`, e.g. a test fixture), else the private pcscd already running in this process,
    else starts one (pcscd + vpcd) that `stop()` ends. A sim stack that cannot start gives a reader
    whose health is failed with the reason (it never raises). `options`: `retry_max`, `stall_seconds`."""
    if config.backend == "real":
        return ContactlessReader(config, name=name, **options)
    from drivers.pcsc.service import PcscdUnavailable, PrivatePcscd

    owns = False
    if sim is None:
        sim = PrivatePcscd.current()
    if sim is None:
        try:
            sim = PrivatePcscd().start()
        except PcscdUnavailable as exc:
            return ContactlessReader(
                config, name=name, unavailable=f"simulator unavailable: {exc}", **options
            )
        owns = True
    if not config.reader:
        config = dataclasses.replace(config, reader=sim.reader_name)
    return ContactlessReader(config, name=name, sim=sim, owns_sim=owns, **options)
