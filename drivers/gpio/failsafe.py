"""De-energise every open gate relay on exit and on SIGTERM.

`atexit` closes every open `GateIO` (relay off first). It is registered after gpiozero's own exit
hook, so it runs before it (atexit runs last-registered first): gpiozero's hook would release the
pins without switching the relay off. Default SIGTERM/SIGHUP end the process without running
`atexit`, so the service installs `install_signal_handlers()` from its main thread.
"""

from __future__ import annotations

import atexit
import contextlib
import signal
import weakref
from typing import TYPE_CHECKING, Any

import gpiozero  # noqa: F401  (imported before our atexit registration, so our hook runs first)

if TYPE_CHECKING:
    from .gate import GateIO

_live: weakref.WeakSet[GateIO] = weakref.WeakSet()
_previous: dict[int, Any] = {}


def register(gate: GateIO) -> None:
    _live.add(gate)


def unregister(gate: GateIO) -> None:
    _live.discard(gate)


def relays_off() -> int:
    """Switch every open relay off now, taking no locks (safe inside a signal handler). Those gates
    refuse further pulses. Returns how many gates were open."""
    gates = list(_live)
    for gate in gates:
        gate.emergency_off()
    return len(gates)


def close_all() -> None:
    for gate in list(_live):
        with contextlib.suppress(Exception):  # exiting: keep closing the others
            gate.close()


def handle_signal(signum: int, frame: Any) -> None:
    """Relays off first, then what the signal would otherwise have done: a previous Python handler
    is called; otherwise the process exits with 128+signum via SystemExit so `atexit` hooks run."""
    relays_off()
    previous = _previous.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_IGN:
        return
    else:
        raise SystemExit(128 + signum)


def install_signal_handlers(signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGHUP)) -> None:
    """Install `handle_signal` for `signals` (call from the main thread, once the service starts).

    Python runs signal handlers between bytecodes of the main thread: while the main thread sits in a
    C call (e.g. a Qt event loop) the handler waits, but a pulse still ends on time because the relay
    is switched off by the driver's own thread, not by the caller."""
    for signum in signals:
        previous = signal.signal(signum, handle_signal)
        if previous is not handle_signal:
            _previous[signum] = previous


atexit.register(close_all)
