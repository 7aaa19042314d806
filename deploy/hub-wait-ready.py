#!/usr/bin/python3
"""hub-wait-ready: wait until the hub answers GET /v1/health with {"status": "ok"}.

Installed as /usr/lib/healthcode-kiosk/hub-wait-ready by `deploy/install.sh --role hub`. It is the
ExecStartPost of healthcode-hub.service (so `systemctl start` returns once the hub serves, and a hub that
never answers is a failed start), and the health check for monitoring:

    hub-wait-ready [--host 127.0.0.1] [--port 8470] [--timeout 60] [--https | --url URL]

HTTPS when --https is given or when HUB_OPTIONS (the unit's environment, from hub.env) contains
--tls-cert: the hub then serves TLS itself. The certificate is not checked for this local liveness probe
(it names the hub's public host, not 127.0.0.1; nothing secret is sent). Exit status 0: healthy (prints
the hub's time and its offset from this clock); 1: no healthy answer before the timeout (prints the last
error). Standard library only: it runs with the system python3.
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request

WILDCARDS = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1", "[::]": "::1"}


def health_url(host: str, port: int, https: bool = False) -> str:
    host = WILDCARDS.get(host, host)  # a hub listening on every address answers on loopback
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{'https' if https else 'http'}://{host}:{port}/v1/health"


def check(url: str, timeout: float) -> dict:
    """One attempt: the health document, or an exception saying why not."""
    context = None
    if url.startswith("https:"):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
        body = json.loads(response.read(65536))
    if not isinstance(body, dict) or body.get("status") != "ok":
        raise RuntimeError(f"unexpected answer {body!r}")
    return body


def wait(url: str, timeout: float, interval: float = 0.5) -> tuple[dict | None, str]:
    deadline = time.monotonic() + timeout
    last = "no attempt"
    while True:
        try:
            return check(url, timeout=max(0.5, min(5.0, deadline - time.monotonic()))), ""
        except (OSError, ValueError, RuntimeError, urllib.error.URLError) as exc:
            last = str(getattr(exc, "reason", None) or exc)
        if time.monotonic() + interval > deadline:
            return None, last
        time.sleep(interval)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hub-wait-ready", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8470)
    parser.add_argument("--https", action="store_true", help="the hub serves TLS itself (--tls-cert)")
    parser.add_argument("--url", help="full health URL (instead of --host/--port)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to keep trying")
    args = parser.parse_args(argv)
    https = args.https or "--tls-cert" in os.environ.get("HUB_OPTIONS", "")
    url = args.url or health_url(args.host, args.port, https)
    body, error = wait(url, args.timeout)
    if body is None:
        print(f"hub-wait-ready: {url}: not healthy after {args.timeout:g} s: {error}", file=sys.stderr)
        return 1
    hub_time = body.get("time")
    offset = f", clock offset {hub_time - time.time():+.1f} s" if isinstance(hub_time, int | float) else ""
    print(f"hub-wait-ready: {url}: ok{offset}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
