"""A private pcscd with the vpcd virtual reader: the PC/SC stack of the simulated backend and tests.

How it stays out of the way of a system pcscd (and of other private ones):

- Socket. pcscd 1.9 has no option for its socket path (/run/pcscd/pcscd.comm), but it accepts a
  systemd-style listening socket (LISTEN_FDS=1, LISTEN_PID, fd 3). We bind a Unix socket in a
  private temporary directory, hand it over that way, and point this process's client library at it
  with PCSCLITE_CSOCK_NAME (libpcsclite reads it once, at the first PC/SC call of the process: so
  one private pcscd per process, and the sim backend must not share a process with the real one;
  see `private_socket_path`).
- Reader. Our reader.conf declares one vpcd reader named "vpcd" on two free TCP ports (vpcd opens
  two slots: port and port+1), not the Debian default 35963 that a system pcscd loading
  /etc/reader.conf.d/vpcd already holds.
- USB. pcscd always scans USB for CCID readers; PCSCLITE_FILTER_IGNORE_READER_NAMES with every
  letter and digit that "vpcd" does not contain makes it ignore all of them, so it never claims a
  real reader that the system pcscd serves.
- Side effect left: pcscd writes and, on exit, deletes /run/pcscd/pcscd.pid (not configurable). That
  file only serves `pcscd --hotplug`; a running system pcscd keeps working. pcscd also needs
  /run/pcscd to exist or to be creatable (root, or the Debian pcscd.socket unit creates it).

Logs (--info, no APDUs) go to a file in the private directory, which is removed on stop.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import stat
import string
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from drivers.pcsc.vcard import VirtualCard

VPCD_LIBRARY_DIRS = ("/usr/lib/pcsc/drivers/serial", "/usr/local/lib/pcsc/drivers/serial")
FRIENDLY_NAME = "vpcd"
READER_NAME = "vpcd 00 00"  # pcscd appends " <reader> <slot>"
SYSTEM_SOCKET = "/run/pcscd/pcscd.comm"
_ENV_SOCKET = "PCSCLITE_CSOCK_NAME"
_IGNORE_USB = ":".join(c for c in string.ascii_letters + string.digits if c not in FRIENDLY_NAME)

# The supervisor between us and pcscd (a few lines of Python, run with `python -c`):
# - hands our listening socket to pcscd the systemd way: fd 3, LISTEN_FDS=1, LISTEN_PID = pcscd's pid
#   (set after fork, before exec; preexec_fn would be unsafe in our threaded process);
# - ends pcscd when our process dies, even by SIGKILL: it holds the read end of a pipe whose write end
#   only we hold, and EOF on it means we are gone (it then also removes the temporary directories
#   our process would have removed);
# - forwards SIGTERM (stop) and turns SIGUSR1 into SIGKILL for pcscd (a simulated crash), and reaps it,
#   so no orphan or zombie pcscd is left behind.
_SUPERVISOR = r"""
import os, signal, sys, threading
import shutil
sock, watch, leftovers = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
pid = os.fork()
if pid == 0:
    os.close(watch)
    os.dup2(sock, 3)
    if sock != 3:
        os.close(sock)
    os.environ["LISTEN_FDS"] = "1"
    os.environ["LISTEN_PID"] = str(os.getpid())
    os.execvp(sys.argv[4], sys.argv[4:])
os.close(sock)
def end(sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
signal.signal(signal.SIGTERM, lambda *_: end(signal.SIGTERM))
signal.signal(signal.SIGINT, lambda *_: end(signal.SIGTERM))
signal.signal(signal.SIGUSR1, lambda *_: end(signal.SIGKILL))
def watchdog():
    while os.read(watch, 64):
        pass
    orphaned.set()
    end(signal.SIGTERM)
    threading.Timer(3.0, end, (signal.SIGKILL,)).start()
orphaned = threading.Event()
threading.Thread(target=watchdog, daemon=True).start()
_, status = os.waitpid(pid, 0)
if orphaned.is_set():  # nobody else will clean up our temporary directories
    for d in filter(None, leftovers.split(os.pathsep)):
        shutil.rmtree(d, ignore_errors=True)
os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
"""


class PcscdUnavailable(RuntimeError):
    """The private pcscd could not be started; the message says why and what to install."""


def find_vpcd_library() -> Path | None:
    for d in VPCD_LIBRARY_DIRS:
        path = Path(d) / "libifdvpcd.so"
        if path.exists():
            return path
    return None


def find_pcscd() -> str | None:
    return shutil.which("pcscd") or next(
        (p for p in ("/usr/sbin/pcscd", "/sbin/pcscd") if os.access(p, os.X_OK)), None
    )


_socket_lock = threading.Lock()
_socket_dir: Path | None = None


def private_socket_path() -> Path:
    """This process's private pcscd socket path.

    libpcsclite reads PCSCLITE_CSOCK_NAME once, at its first call in the process, and keeps it. We
    set it, make that first call (it fails fast: nothing listens yet) and remove it again, so child
    processes (another `kiosk` run, say) do not inherit it and pick their own. If PC/SC was already
    used in this process, the library keeps its old path: `PrivatePcscd.start()` detects that.
    """
    global _socket_dir
    with _socket_lock:
        if _socket_dir is None:
            current = os.environ.get(_ENV_SOCKET)
            if current and os.path.realpath(current) == os.path.realpath(SYSTEM_SOCKET):
                raise PcscdUnavailable(f"{_ENV_SOCKET} points at the system pcscd socket")
            if current:
                return Path(current)  # a caller (or a parent process) chose the path
            from smartcard import scard

            _socket_dir = Path(tempfile.mkdtemp(prefix="kiosk-pcscd-"))
            os.chmod(_socket_dir, 0o755)
            atexit.register(shutil.rmtree, _socket_dir, True)
            os.environ[_ENV_SOCKET] = str(_socket_dir / "pcscd.comm")
            try:
                hr, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
                if hr == scard.SCARD_S_SUCCESS:
                    scard.SCardReleaseContext(ctx)
            finally:
                del os.environ[_ENV_SOCKET]
        return _socket_dir / "pcscd.comm"


def _free_port_pair() -> int:
    """A port P such that P and P+1 are free on all interfaces (vpcd binds INADDR_ANY)."""
    for _ in range(100):
        with socket.socket() as a:
            a.bind(("", 0))
            port = a.getsockname()[1]
            if port >= 65535:
                continue
            with socket.socket() as b:
                try:
                    b.bind(("", port + 1))
                except OSError:
                    continue
            return port
    raise PcscdUnavailable("no free TCP port pair for vpcd")


def _socket_in_use(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(str(path))
        except OSError:
            return False
        return True


class PrivatePcscd:
    """pcscd + vpcd in the foreground, in its own process group, on a private socket.

    `start()` returns once the vpcd reader is listed; `stop()` ends the process group (TERM, then
    KILL); `kill()` simulates a crash. `insert()`/`remove()` manage one current virtual card.
    Only one runs per process (the client socket path is per process): `PrivatePcscd.current()`.
    """

    _current: PrivatePcscd | None = None
    _class_lock = threading.Lock()

    def __init__(self, port: int | None = None, *, start_timeout: float = 15.0) -> None:
        self.port = port  # vpcd slot 0; None: two free ports chosen at start
        self.start_timeout = start_timeout
        self.reader_name = READER_NAME
        self.socket_path: Path | None = None
        self.card: VirtualCard | None = None
        self._proc: subprocess.Popen | None = None
        self._workdir: Path | None = None
        self._log: Path | None = None
        self._watch = -1  # write end of the supervisor's lifeline pipe

    def __repr__(self) -> str:
        return f"PrivatePcscd(port={self.port}, pid={self.pid}, socket={self.socket_path})"

    @classmethod
    def current(cls) -> PrivatePcscd | None:
        """The private pcscd running in this process, if any."""
        with cls._class_lock:
            cur = cls._current
            return cur if cur is not None and cur.running else None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def pcscd_pid(self) -> int | None:
        """pcscd's own pid (a child of the supervisor process `pid`), when Linux tells."""
        if self._proc is None:
            return None
        try:
            children = Path(f"/proc/{self._proc.pid}/task/{self._proc.pid}/children").read_text().split()
        except OSError:
            return None
        return int(children[0]) if children else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_text(self) -> str:
        try:
            return self._log.read_text(errors="replace") if self._log else ""
        except OSError:
            return ""

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> PrivatePcscd:
        if self.running:
            return self
        pcscd, vpcd = find_pcscd(), find_vpcd_library()
        if pcscd is None:
            raise PcscdUnavailable("pcscd not installed (apt install pcscd)")
        if vpcd is None:
            raise PcscdUnavailable("vpcd reader driver not installed (apt install vsmartcard-vpcd)")
        with PrivatePcscd._class_lock:
            other = PrivatePcscd._current
            if other is not None and other is not self and other.running:
                raise PcscdUnavailable("another private pcscd already runs in this process")
            PrivatePcscd._current = self
        self.socket_path = private_socket_path()
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="kiosk-pcscd-run-"))
        fixed = self.port is not None
        error = ""
        for _ in range(1 if fixed else 3):  # a free port can be taken between our check and vpcd's bind
            if not fixed:
                self.port = _free_port_pair()
            error = self._launch(pcscd, vpcd)
            if not error:
                atexit.register(self.stop)
                return self
            self._terminate()
            if not fixed:
                self.port = None
        shutil.rmtree(self._workdir, ignore_errors=True)
        self._workdir = None
        with PrivatePcscd._class_lock:
            if PrivatePcscd._current is self:
                PrivatePcscd._current = None
        raise PcscdUnavailable(f"private pcscd did not start: {error}")

    def _launch(self, pcscd: str, vpcd: Path) -> str:
        """Start the process and wait until it serves the vpcd reader; '' or why it failed."""
        assert self._workdir is not None and self.socket_path is not None and self.port is not None
        conf = self._workdir / "reader.conf"
        conf.write_text(
            f'FRIENDLYNAME "{FRIENDLY_NAME}"\nDEVICENAME /dev/null:{self.port}\n'
            f"LIBPATH {vpcd}\nCHANNELID {self.port}\n"
        )
        self._log = self._workdir / "pcscd.log"
        path = self.socket_path
        if path.exists() or path.is_symlink():
            if not stat.S_ISSOCK(path.lstat().st_mode):
                return f"{path} exists and is not a socket"  # never delete what is not ours
            if _socket_in_use(path):
                return f"socket {path} is served by another process"
            path.unlink()
        owned = [str(self._workdir)] + ([str(_socket_dir)] if _socket_dir is not None else [])
        leftovers = os.pathsep.join(owned)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        watch_r, watch_w = os.pipe()  # both non-inheritable; watch_r is passed explicitly
        try:
            listener.bind(str(path))
            os.chmod(path, 0o666)
            listener.listen(64)
            env = {k: v for k, v in os.environ.items() if not k.startswith(("PCSCLITE_", "LISTEN_"))}
            env["PCSCLITE_FILTER_IGNORE_READER_NAMES"] = _IGNORE_USB
            with open(self._log, "wb") as logf:
                self._proc = subprocess.Popen(
                    [
                        sys.executable,
                        "-c",
                        _SUPERVISOR,
                        str(listener.fileno()),
                        str(watch_r),
                        leftovers,
                        pcscd,
                    ]
                    + ["--foreground", "--info", "--config", str(conf)],
                    pass_fds=(listener.fileno(), watch_r),
                    stdin=subprocess.DEVNULL,
                    stdout=logf,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,  # its own process group: stop() signals all of it
                )
            self._watch = watch_w
            watch_w = -1
        except OSError as exc:
            return f"cannot launch pcscd: {exc}"
        finally:
            listener.close()  # pcscd holds its own copy
            os.close(watch_r)
            if watch_w >= 0:
                os.close(watch_w)
        return self._wait_ready()

    def _wait_ready(self) -> str:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:  # startup only: a short sleep-poll of the log file
            text = self.log_text()
            if self._proc is None or self._proc.poll() is not None:
                return f"pcscd exited: {_tail(text)}"
            if "init failed" in text or "Could not initialize" in text:
                return f"vpcd could not listen on port {self.port}: {_tail(text)}"
            if "daemon ready" in text:
                return self._check_reader(deadline)
            time.sleep(0.02)
        return f"pcscd not ready after {self.start_timeout:.0f} s: {_tail(self.log_text())}"

    def _check_reader(self, deadline: float) -> str:
        from smartcard import scard

        hr, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hr != scard.SCARD_S_SUCCESS:
            return f"pcscd does not answer: {scard.SCardGetErrorMessage(hr)}"
        try:
            while time.monotonic() < deadline:
                hr, readers = scard.SCardListReaders(ctx, [])
                if hr == scard.SCARD_S_SUCCESS and self.reader_name in readers:
                    return ""
                time.sleep(0.05)
            return f"reader {self.reader_name!r} not listed"
        finally:
            scard.SCardReleaseContext(ctx)

    def stop(self, timeout: float = 5.0) -> None:
        """Remove the card, end pcscd's process group and wait for it; idempotent."""
        self.remove(wait=0)
        self._terminate(timeout)
        if self.socket_path is not None and self.socket_path.exists():
            self.socket_path.unlink(missing_ok=True)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        with PrivatePcscd._class_lock:
            if PrivatePcscd._current is self:
                PrivatePcscd._current = None
        atexit.unregister(self.stop)

    close = stop

    def kill(self) -> None:
        """SIGKILL the daemon, like a crash; the socket file and workdir stay for a `start()`."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGUSR1)  # the supervisor kills pcscd with SIGKILL and reaps it
            try:
                proc.wait(5.0)
            except subprocess.TimeoutExpired:
                _killpg(proc.pid, signal.SIGKILL)
                proc.wait(5.0)
        self._close_watch()

    def _terminate(self, timeout: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            _killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                _killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout)
        self._close_watch()

    def _close_watch(self) -> None:
        if self._watch >= 0:
            os.close(self._watch)
            self._watch = -1

    def __enter__(self) -> PrivatePcscd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- cards ------------------------------------------------------------------------------

    def virtual_card(self, uid: bytes | None = None, **kwargs) -> VirtualCard:
        """A card for this reader (not yet inserted); see `VirtualCard` for faults."""
        if self.port is None:
            raise RuntimeError("pcscd not started")
        if uid is not None:
            kwargs["uid"] = uid
        return VirtualCard(port=self.port, **kwargs)

    def insert(self, uid: bytes | None = None, **kwargs) -> VirtualCard:
        """Put a new virtual card on the reader, after taking the current one off and waiting until
        pcscd has seen the reader empty (as with a physical card: a swap between two vpcd polls
        can otherwise go unnoticed by pcscd, since vpcd re-accepts a new connection at once)."""
        self.remove()
        self.card = self.virtual_card(uid, **kwargs).insert()
        return self.card

    def remove(self, wait: float = 5.0) -> bool:
        """Take the current card off; with `wait` > 0, return once pcscd reports the reader empty
        (True) or after `wait` seconds (False)."""
        card, self.card = self.card, None
        if card is None:
            return True
        card.remove()
        if wait <= 0:
            return True
        return self.wait_reader(present=False, timeout=wait)

    def wait_reader(self, present: bool, timeout: float = 5.0) -> bool:
        """Wait (on pcscd's reader events, no polling) until the vpcd reader has a card or not."""
        from smartcard import scard

        if not self.running:
            return False
        hr, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hr != scard.SCARD_S_SUCCESS:
            return False
        try:
            deadline = time.monotonic() + timeout
            state = scard.SCARD_STATE_UNAWARE
            while (left := deadline - time.monotonic()) > 0:
                hr, states = scard.SCardGetStatusChange(
                    ctx, int(left * 1000) + 1, [(self.reader_name, state)]
                )
                if hr != scard.SCARD_S_SUCCESS:
                    return False
                event = states[0][1]
                if bool(event & scard.SCARD_STATE_PRESENT) == present:
                    return True
                state = event & ~scard.SCARD_STATE_CHANGED
            return False
        finally:
            scard.SCardReleaseContext(ctx)


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _tail(text: str, lines: int = 3) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:]) or "(no output)"
