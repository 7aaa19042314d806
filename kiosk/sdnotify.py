"""systemd readiness and watchdog notifications, pure Python (sd_notify(3) without libsystemd).

systemd passes `NOTIFY_SOCKET` (a path, or `@name` for the abstract namespace) to a `Type=notify`
service and, with `WatchdogSec=`, `WATCHDOG_USEC` and `WATCHDOG_PID`. Outside systemd every function
here is a cheap no-op, so the checkpoint calls them unconditionally:

- `ready()` once the devices are open and the trust store is loaded (systemd then counts the unit as
  started; until then `systemctl start` waits, up to `TimeoutStartSec=`);
- `watchdog()` from the loop that does the work (every `checkpoint.step()`): it sends at most one
  `WATCHDOG=1` per half watchdog interval, so calling it often costs a clock read; when the loop
  hangs, the pings stop and systemd kills and restarts the service (`Restart=on-failure`);
- `stopping()` when shutting down; `status(text)` for a one-line `systemctl status` message.
"""

from __future__ import annotations

import os
import socket
import time

__all__ = ["enabled", "notify", "ready", "status", "stopping", "watchdog", "watchdog_interval"]

_last_ping = 0.0


def _address() -> str | None:
    path = os.environ.get("NOTIFY_SOCKET")
    if not path or not (path.startswith("/") or path.startswith("@")):
        return None
    return "\0" + path[1:] if path.startswith("@") else path


def enabled() -> bool:
    """True when running under systemd with a notification socket."""
    return _address() is not None


def notify(message: str) -> bool:
    """Send one datagram (e.g. "READY=1\\nSTATUS=..."); False when not under systemd or it failed.
    Never raises: a notification problem must not stop the checkpoint."""
    address = _address()
    if address is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode("utf-8"))
        return True
    except OSError:
        return False


def watchdog_interval() -> float | None:
    """The service's watchdog interval in seconds, or None when no watchdog is asked for this process."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 1e6 if value > 0 else None


def ready(text: str = "checkpoint running") -> bool:
    return notify(f"READY=1\nSTATUS={text}")


def status(text: str) -> bool:
    return notify(f"STATUS={text}")


def stopping(text: str = "stopping") -> bool:
    return notify(f"STOPPING=1\nSTATUS={text}")


def watchdog(clock=time.monotonic) -> bool:
    """Ping the watchdog, rate-limited to one datagram per half interval; True when one was sent."""
    global _last_ping
    interval = watchdog_interval()
    if interval is None:
        return False
    now = clock()
    if _last_ping and now - _last_ping < interval / 2:
        return False
    _last_ping = now
    return notify("WATCHDOG=1")
