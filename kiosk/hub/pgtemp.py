"""A throwaway PostgreSQL server for tests and benchmarks (never the system cluster).

    with temp_postgres() as url:      # postgresql://kiosk:<random>@127.0.0.1:<port>/postgres
        HubDB(hub_dir, url)

The server binaries are found in Debian's `/usr/lib/postgresql/<version>/bin` (newest first), then on
PATH. The cluster lives in a new temporary directory, listens only on 127.0.0.1 (a free port) and on a
unix socket in that directory, with password authentication (a random password) and `fsync=on` (the
hub's durability is what is being tested). PostgreSQL refuses to run as root, so as root the server runs
as the `postgres` system user (`runuser`, else `setpriv`) and the directory is handed to it. The server
is always stopped and the directory removed when the block exits.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

SERVER_USER = "postgres"
START_TIMEOUT = 60


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries, or no way to run them here; the message says why."""


def _version_key(path: str) -> tuple[int, ...]:
    m = re.search(r"/postgresql/([0-9.]+)/bin", path)
    return tuple(int(p) for p in m.group(1).split(".") if p) if m else (0,)


def find_bindir() -> Path | None:
    """The directory with initdb and pg_ctl: Debian's packaged server first, then PATH."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True):
        if os.access(os.path.join(candidate, "initdb"), os.X_OK) and os.access(
            os.path.join(candidate, "pg_ctl"), os.X_OK
        ):
            return Path(candidate)
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl and Path(initdb).parent == Path(pg_ctl).parent:
        return Path(initdb).parent
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user() -> tuple[list[str], pwd.struct_passwd | None]:
    """The command prefix that runs a program as the server user, and that user (None: ourselves)."""
    if os.geteuid() != 0:
        return [], None
    try:
        user = pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise PostgresUnavailable(
            f"running as root and there is no {SERVER_USER!r} user to run PostgreSQL as "
            "(PostgreSQL refuses to run as root)"
        ) from None
    if shutil.which("runuser"):
        return ["runuser", "-u", SERVER_USER, "--"], user
    if shutil.which("setpriv"):
        return [
            "setpriv",
            f"--reuid={user.pw_uid}",
            f"--regid={user.pw_gid}",
            "--init-groups",
            "--reset-env",
        ], user
    raise PostgresUnavailable("running as root without runuser or setpriv to drop to the postgres user")


def _temp_parent(other_user: bool) -> str:
    """Where the cluster directory goes: the usual temp dir, unless the server runs as another user who
    could not reach it (a root-only TMPDIR); then /tmp."""
    parent = Path(tempfile.gettempdir()).resolve()
    if other_user and not all(os.stat(p).st_mode & 0o001 for p in (parent, *parent.parents)):
        return "/tmp"
    return str(parent)


def _run(cmd: list[str], what: str, env: dict[str, str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=START_TIMEOUT, check=False)
    if done.returncode != 0:
        out = (done.stdout + done.stderr).strip()[-2000:]
        raise PostgresUnavailable(f"{what} failed (exit {done.returncode}): {out}")


@contextlib.contextmanager
def temp_postgres(*, user: str = "kiosk", database: str = "postgres") -> Iterator[str]:
    """Start a private PostgreSQL server; yields its URL; always stops it and removes its files."""
    bindir = find_bindir()
    if bindir is None:
        raise PostgresUnavailable(
            "no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin or on PATH; "
            "install them with `apt-get install postgresql`"
        )
    prefix, server_user = _as_server_user()
    base = Path(tempfile.mkdtemp(prefix="kiosk-pg-", dir=_temp_parent(server_user is not None)))
    data, sock_dir, log = base / "data", base / "sock", base / "server.log"
    password = secrets.token_urlsafe(18)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(LC_ALL="C", LANG="C", TZ="UTC")
    started = False
    try:
        sock_dir.mkdir()
        pwfile = base / "pw"
        pwfile.write_text(password + "\n")
        if server_user is not None:
            for path in (base, sock_dir, pwfile):
                os.chown(path, server_user.pw_uid, server_user.pw_gid)
        os.chmod(pwfile, 0o600)
        _run(
            [
                *prefix,
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                user,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",  # initdb's own flush only; the server runs with fsync=on
            ],
            "initdb",
            env,
        )
        pwfile.unlink()
        last_error: PostgresUnavailable | None = None
        for _attempt in range(3):  # the free port may be taken between the probe and the start
            port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={sock_dir} "
                "-c fsync=on -c synchronous_commit=on -c full_page_writes=on -c max_connections=50"
            )
            try:
                _run(
                    [
                        *prefix,
                        str(bindir / "pg_ctl"),
                        "-D",
                        str(data),
                        "-l",
                        str(log),
                        "-o",
                        options,
                        "-w",
                        "-t",
                        str(START_TIMEOUT),
                        "start",
                    ],
                    "pg_ctl start",
                    env,
                )
            except PostgresUnavailable as exc:
                last_error = exc
                with contextlib.suppress(OSError):
                    exc.args = (f"{exc.args[0]}\nserver log: {log.read_text()[-2000:]}",)
                continue
            started = True
            break
        if not started:
            assert last_error is not None
            raise last_error
        yield f"postgresql://{user}:{password}@127.0.0.1:{port}/{database}"
    finally:
        if started:
            subprocess.run(
                [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", "30", "stop"],
                capture_output=True,
                env=env,
                timeout=60,
                check=False,
            )
        shutil.rmtree(base, ignore_errors=True)


def main() -> int:
    """`python -m kiosk.hub.pgtemp`: start a server, print its URL, stop it on Ctrl-C (for benchmarks)."""
    import signal
    import sys

    signals = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    with temp_postgres() as url:
        print(url, flush=True)
        signal.sigwait(signals)
    print("stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
