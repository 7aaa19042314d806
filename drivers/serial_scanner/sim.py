"""A simulated serial QR scanner module (GM65/GM861 class) inside the product, OctoPrint-style.

It serves the module's side of a real pseudo-terminal (the driver opens a stable symlink to the
pty slave, like /dev/ttyUSB0) or of a loopback TCP port (`socket://127.0.0.1:PORT`), and sends what
the module sends: each code's bytes followed by the terminator, paced at the baud rate (8N1: 10 bits
a byte) in small chunks, as a USB-serial bridge delivers them, so the host sees partial reads.

Faults: `garbage`, `scan_truncated` (the tail never comes), `scan_overlong`, `scan_wrong_terminator`,
`scan_burst` (several codes in one write), `disconnect` (USB unplugged: the pty is closed and the
symlink removed, or the TCP connection and listener are closed) and `reconnect` (a new pty behind the
same symlink, or a listener on the same port). Bytes from the host are read and discarded.
"""

from __future__ import annotations

import contextlib
import os
import queue
import random
import select
import shutil
import socket
import tempfile
import threading
import time
import tty
from dataclasses import dataclass, field
from pathlib import Path

from .framing import terminator_bytes

_OTHER_TERMINATOR = {b"\r": b"\n", b"\n": b"\r", b"\r\n": b"\n"}


@dataclass(slots=True)
class _Job:
    data: bytes
    chunks: list[int] | None  # explicit chunk sizes; None: random sizes within the module's range
    paced: bool
    done: threading.Event = field(default_factory=threading.Event)
    ok: bool = False


class SimulatedScannerModule:
    """The module side of a pty ("pty") or a loopback TCP port ("socket"). `url` is what the driver
    opens. Sends are queued to one writer thread; by default each call waits until its bytes are out
    and returns whether they were delivered (False when no host has the port open within
    `connect_timeout`, or the module is disconnected)."""

    def __init__(
        self,
        transport: str = "pty",
        *,
        terminator: str | bytes = "\r",
        baudrate: int = 9600,
        speedup: float = 1.0,
        chunk_sizes: tuple[int, int] = (1, 32),
        seed: int = 0,
        link_path: str | os.PathLike | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        connect_timeout: float = 5.0,
    ):
        if transport not in ("pty", "socket"):
            raise ValueError(f'transport must be "pty" or "socket", not {transport!r}')
        if baudrate <= 0 or speedup <= 0:
            raise ValueError("baudrate and speedup must be positive")
        self.transport = transport
        self.terminator = terminator_bytes(terminator)
        self.baudrate = baudrate
        self.speedup = speedup
        self.chunk_sizes = chunk_sizes
        self.connect_timeout = connect_timeout
        self._rng = random.Random(seed)
        self._lock = threading.Lock()  # guards the endpoint (fds, sockets) against disconnect()
        self._stop = threading.Event()
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._writer: threading.Thread | None = None
        self._attached = False
        self._tmpdir: str | None = None
        self._link = Path(link_path) if link_path else None
        self._master: int | None = None  # pty
        self._host, self._port = host, port
        self._listener: socket.socket | None = None  # socket
        self._conn: socket.socket | None = None
        self._conn_ready = threading.Event()
        self._acceptor: threading.Thread | None = None
        self._wake_r, self._wake_w = -1, -1
        self.bytes_sent = 0

    # lifecycle

    def start(self) -> SimulatedScannerModule:
        if self._writer is not None:
            return self
        if self.transport == "pty" and self._link is None:
            self._tmpdir = tempfile.mkdtemp(prefix="scanner-sim-")
            self._link = Path(self._tmpdir) / "ttySCAN0"
        self._attach()
        self._writer = threading.Thread(target=self._write_loop, name="scanner-sim", daemon=True)
        self._writer.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._jobs.put(None)
        if self._writer is not None:
            self._writer.join(timeout=5)
        self._detach()
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> SimulatedScannerModule:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def url(self) -> str:
        """The pyserial URL of the module: the stable pty symlink, or socket://HOST:PORT."""
        if self.transport == "pty":
            if self._link is None:
                raise RuntimeError("start() the simulator first")
            return str(self._link)
        return f"socket://{self._host}:{self._port}"

    @property
    def connected(self) -> bool:
        """The module is plugged in (not `disconnect()`ed)."""
        return self._attached

    # what the module sends

    def scan(self, code: str | bytes, *, terminator: str | bytes | None = None, **kw) -> bool:
        """A code read: its bytes (text as UTF-8) followed by the terminator."""
        term = self.terminator if terminator is None else terminator_bytes(terminator)
        return self.send(_as_bytes(code) + term, **kw)

    def send(
        self, data: bytes, *, chunks: list[int] | None = None, paced: bool = True, wait: bool = True
    ) -> bool:
        """Any bytes, paced at the baud rate in chunks (`chunks`: explicit sizes, the rest in one);
        `paced=False` sends them in one write. With `wait=False` returns True once queued."""
        job = _Job(bytes(data), chunks, paced)
        if self._writer is None:
            raise RuntimeError("start() the simulator first")
        self._jobs.put(job)
        if not wait:
            return True
        job.done.wait(self._duration(len(data)) + self.connect_timeout + 10)
        return job.ok

    def garbage(self, data: bytes | None = None, length: int = 24, **kw) -> bytes:
        """Line noise with no terminator (e.g. a cable plugged in live): NULs, 0xFF and random bytes.
        Returns what was sent."""
        if data is None:
            junk = bytes(
                self._rng.choice(b"\x00\xff\x7f\xfe" + bytes(range(0x20, 0x7F))) for _ in range(length)
            )
            data = b"\x00\x00" + junk.replace(b"\r", b"").replace(b"\n", b"")
        self.send(data, **kw)
        return data

    def scan_truncated(self, code: str | bytes, keep: float | int = 0.5, **kw) -> bytes:
        """The head of a code and then nothing: no tail, no terminator. Returns the head sent."""
        raw = _as_bytes(code)
        n = keep if isinstance(keep, int) else int(len(raw) * keep)
        head = raw[:n]
        self.send(head, **kw)
        return head

    def scan_overlong(self, length: int, fill: bytes = b"A", **kw) -> bool:
        """A line of `length` bytes (longer than the host accepts) and the terminator."""
        return self.send((fill * (length // len(fill) + 1))[:length] + self.terminator, **kw)

    def scan_wrong_terminator(self, code: str | bytes, **kw) -> bool:
        """A code followed by a terminator the host is not configured for (LF for CR, CR for LF,
        LF for CR LF): as a module with the wrong "end mark" setting sends it."""
        return self.send(_as_bytes(code) + _OTHER_TERMINATOR[self.terminator], **kw)

    def scan_burst(self, *codes: str | bytes, **kw) -> bool:
        """Several codes and their terminators in one write."""
        kw.setdefault("paced", False)
        return self.send(b"".join(_as_bytes(c) + self.terminator for c in codes), **kw)

    def disconnect(self) -> None:
        """Unplug: the host's port fails (EIO / socket closed) and the port's path goes away."""
        self._detach()

    def reconnect(self) -> None:
        """Plug back in: a new pty behind the same symlink, or a listener on the same TCP port."""
        if not self._attached:
            self._attach()

    def wait_for_host(self, timeout: float) -> bool:
        """Whether a host has the port open (pty: a slave fd is open; socket: a connection) within
        `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not self._stop.is_set():
            if self._host_present():
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self.transport == "socket":
                self._conn_ready.wait(min(left, 0.5))
            else:
                self._stop.wait(min(left, 0.02))  # a pty master has no "slave opened" event to wait on
        return False

    # endpoint management

    def _attach(self) -> None:
        with self._lock:
            if self.transport == "pty":
                master, slave = os.openpty()
                tty.setraw(slave)
                os.set_blocking(master, False)
                name = os.ttyname(slave)
                os.close(slave)  # the host opens it by path; the master sees POLLHUP until then
                tmp = self._link.with_name(self._link.name + ".new")
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
                tmp.symlink_to(name)
                os.replace(tmp, self._link)  # atomic re-point, like udev's /dev/serial/by-id links
                self._master = master
            else:
                listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.bind((self._host, self._port))
                listener.listen(1)
                self._port = listener.getsockname()[1]
                self._listener = listener
                self._wake_r, self._wake_w = os.pipe()
                self._acceptor = threading.Thread(
                    target=self._accept_loop, name="scanner-sim-accept", daemon=True
                )
                self._acceptor.start()
            self._attached = True

    def _detach(self) -> None:
        acceptor = None
        with self._lock:
            self._attached = False
            if self._master is not None:
                os.close(self._master)
                self._master = None
                if self._link is not None:
                    with contextlib.suppress(FileNotFoundError):
                        self._link.unlink()
            if self._listener is not None:
                os.write(self._wake_w, b"x")
                acceptor = self._acceptor
        if acceptor is not None:
            acceptor.join(timeout=5)
        with self._lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
                os.close(self._wake_r)
                os.close(self._wake_w)
                self._acceptor = None
            self._drop_conn()

    def _accept_loop(self) -> None:
        listener, wake = self._listener, self._wake_r
        while True:
            ready, _, _ = select.select([listener, wake], [], [])
            if wake in ready:
                return
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conn.settimeout(5.0)
            with self._lock:
                self._drop_conn()  # one host at a time: a reconnecting host replaces the old one
                self._conn = conn
                self._conn_ready.set()

    def _drop_conn(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._conn_ready.clear()

    def _host_present(self) -> bool:
        with self._lock:
            if self._master is not None:
                while True:
                    events = dict(_poll(self._master))
                    if events.get(self._master, 0) & select.POLLHUP:
                        return False
                    if not events.get(self._master, 0) & select.POLLIN:
                        return True
                    with contextlib.suppress(OSError):
                        os.read(self._master, 4096)  # host -> module bytes: not interpreted
            if self._conn is not None:
                readable, _, _ = select.select([self._conn], [], [], 0)
                if not readable:
                    return True
                try:
                    if self._conn.recv(4096):
                        return True
                except OSError:
                    pass
                self._drop_conn()  # the host hung up
            return False

    # the writer thread

    def _duration(self, n: int) -> float:
        return n * 10 / self.baudrate / self.speedup

    def _pieces(self, job: _Job) -> list[bytes]:
        data = job.data
        if not job.paced:
            return [data]
        pieces, i = [], 0
        for size in job.chunks or []:
            pieces.append(data[i : i + size])
            i += size
        if job.chunks is not None:
            if i < len(data):
                pieces.append(data[i:])
            return [p for p in pieces if p]
        lo, hi = self.chunk_sizes
        while i < len(data):
            size = self._rng.randint(lo, hi)
            pieces.append(data[i : i + size])
            i += size
        return pieces

    def _write_loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None or self._stop.is_set():
                if job is not None:
                    job.done.set()
                while not self._jobs.empty():  # fail what is left
                    left = self._jobs.get_nowait()
                    if left is not None:
                        left.done.set()
                return
            try:
                job.ok = self._deliver(job)
            finally:
                job.done.set()

    def _deliver(self, job: _Job) -> bool:
        if not self._attached or not self.wait_for_host(self.connect_timeout):
            return False
        due = time.monotonic()
        for piece in self._pieces(job):
            if not self._write(piece):
                return False
            self.bytes_sent += len(piece)
            due += self._duration(len(piece))
            delay = due - time.monotonic()
            if job.paced and delay > 0 and self._stop.wait(delay):
                return False
        return True

    def _write(self, data: bytes) -> bool:
        deadline = time.monotonic() + 5.0
        with self._lock:
            if self._master is not None:
                view = memoryview(data)
                while view:
                    try:
                        view = view[os.write(self._master, view) :]
                    except BlockingIOError:
                        if time.monotonic() > deadline:
                            return False
                        select.select([], [self._master], [], 0.1)
                    except OSError:
                        return False
                return True
            if self._conn is not None:
                try:
                    self._conn.sendall(data)
                    return True
                except OSError:
                    self._drop_conn()
            return False


def _poll(fd: int) -> list[tuple[int, int]]:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return poller.poll(0)


def _as_bytes(code: str | bytes) -> bytes:
    return code.encode("utf-8") if isinstance(code, str) else bytes(code)
