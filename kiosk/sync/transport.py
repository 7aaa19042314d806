"""Signed requests to the hub with bounded answers: the only place the sync client touches the network.

Everything that comes back is outside bytes. `HubHttp.request` reads an answer in chunks up to a cap
(refusing a larger `Content-Length` before reading anything, and counting decoded bytes, so a gzip bomb
stops at the cap too), under a total deadline on top of httpx's per-operation timeouts (a hub that drips
one byte every few seconds still ends), optionally spooling the body to a temporary file instead of
memory. Every failure is a `SyncError` with a stable `code`; nothing here raises anything else for
network trouble or a misbehaving hub.

Clock: every answer's `Date` header gives the hub's clock; the offset is measured against the midpoint
of the request (`Date` has whole seconds and truncates, so half a second is added). When the kiosk's
clock is more than `SIGN_CORRECTION` seconds off, requests are signed with the hub's time instead, so
a kiosk that booted with a wrong clock (no RTC battery) can still reach the hub, which refuses a
`created` more than 300 s from its own clock.
"""

from __future__ import annotations

import email.utils
import json
import math
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from kiosk import __version__
from kiosk.crypto.keys import EcP256SigningKey
from kiosk.hub.httpsig import sign_request

SIGN_CORRECTION = 60.0  # seconds of kiosk clock error beyond which requests are signed with the hub's time
MAX_ERROR_BODY = 64 * 1024
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=30.0, write=30.0, pool=10.0)
DEFAULT_DEADLINE = 120.0  # seconds for one whole request, answer included
USER_AGENT = f"healthcode-kiosk/{__version__} (sync)"


class SyncError(Exception):
    """A sync step that did not complete; `code` is stable (for logs, the state file and tests)."""

    def __init__(self, code: str, message: str, *, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.status = status

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": str(self)}


@dataclass(slots=True)
class Reply:
    """An answer from the hub: status, headers, and the body in memory or in a spooled file."""

    status: int
    headers: httpx.Headers
    body: bytes = b""
    path: Path | None = None  # when spooled: the caller owns (and deletes) the file
    size: int = 0
    clock_offset: float | None = None
    nonce: str = ""  # of the signed request this answers
    extra: dict[str, Any] = field(default_factory=dict)

    def hub_error(self) -> tuple[str, str]:
        """(error code, detail) of a `{"error", "detail"}` body; ("", "") when there is none."""
        try:
            doc = json.loads(self.body[:MAX_ERROR_BODY])
        except (ValueError, RecursionError):
            return "", _printable(self.body[:200].decode("utf-8", "replace"))
        if not isinstance(doc, dict):
            return "", ""
        code, detail = doc.get("error"), doc.get("detail")
        return (
            _printable(code)[:80] if isinstance(code, str) else "",
            _printable(detail)[:500] if isinstance(detail, str) else "",
        )

    def describe(self) -> str:
        code, detail = self.hub_error()
        words = f"HTTP {self.status}"
        if code:
            words += f" {code}"
        if detail:
            words += f": {detail}"
        return words


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)


def hub_clock_offset(date_header: str | None, sent: float, received: float) -> float | None:
    """Hub clock minus kiosk clock from a `Date` header, at the midpoint of the request."""
    if not date_header or len(date_header) > 64:
        return None
    try:
        when = email.utils.parsedate_to_datetime(date_header)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:
        return None
    try:
        hub = when.timestamp() + 0.5  # Date truncates to the second
    except (OverflowError, OSError, ValueError):
        return None
    offset = hub - (sent + received) / 2
    return round(offset, 3) if math.isfinite(offset) else None


class HubHttp:
    """Signed, bounded requests to one hub for one device (keep-alive connection pool)."""

    def __init__(
        self,
        url: str,
        device_id: str,
        key: EcP256SigningKey,
        *,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
    ):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SyncError("config", f"hub URL {url!r} must be http:// or https:// with a host")
        if parts.query or parts.fragment:
            raise SyncError("config", f"hub URL {url!r} must not have a query or fragment")
        self.url = url.rstrip("/")
        self.prefix = parts.path.rstrip("/")  # a reverse proxy must pass it through unchanged
        self.device_id = device_id
        self.key = key
        self.clock = clock
        self.clock_offset: float | None = None
        self.reached = False  # any answer at all (even an error) since the last reset
        self._own = http is None
        self.http = http or httpx.Client(
            timeout=timeout,
            limits=httpx.Limits(max_connections=4, max_keepalive_connections=2, keepalive_expiry=30.0),
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,
        )

    def close(self) -> None:
        if self._own:
            self.http.close()

    def __enter__(self) -> HubHttp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def signing_time(self) -> float:
        now = self.clock()
        if self.clock_offset is not None and abs(self.clock_offset) > SIGN_CORRECTION:
            return now + self.clock_offset
        return now

    def request(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        max_bytes: int,
        spool_dir: Path | None = None,
        deadline: float = DEFAULT_DEADLINE,
        content_type: str | None = None,
        check: Callable[[httpx.Headers], None] | None = None,
    ) -> Reply:
        """One signed request; a `Reply` for any HTTP answer, SyncError when there is none.

        `check(headers)` of a 2xx answer may raise SyncError to refuse it before its body is read. A 401
        `signature.expired` (the kiosk clock is off) is retried once, signed with the hub's time."""
        args = (method, path, query, body, headers, max_bytes, spool_dir, deadline, content_type, check)
        reply = self._request(*args)
        if (
            reply.status == 401
            and reply.hub_error()[0] == "signature.expired"
            and reply.clock_offset is not None
            and abs(reply.clock_offset) > SIGN_CORRECTION
        ):
            if reply.path is not None:
                reply.path.unlink(missing_ok=True)
            reply = self._request(*args)
        return reply

    def _request(
        self,
        method: str,
        path: str,
        query: str,
        body: bytes,
        headers: dict[str, str] | None,
        max_bytes: int,
        spool_dir: Path | None,
        deadline: float,
        content_type: str | None,
        check: Callable[[httpx.Headers], None] | None,
    ) -> Reply:
        signed_path = self.prefix + path
        hdrs = dict(headers or {})
        nonce = secrets.token_urlsafe(18)  # the hub's signed acknowledgement names it
        hdrs.update(
            sign_request(
                self.key, self.device_id, method, signed_path, query, body, self.signing_time(), nonce
            )
        )
        if content_type:
            hdrs["Content-Type"] = content_type
        url = self.url + path + (f"?{query}" if query else "")
        ends = time.monotonic() + deadline
        sent = self.clock()
        try:
            request = self.http.build_request(method, url, content=body, headers=hdrs)
            response = self.http.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise SyncError(
                "timeout", f"the hub at {self.url} did not answer in time ({type(exc).__name__})"
            ) from None
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise SyncError("network", f"cannot reach the hub at {self.url}: {_describe(exc)}") from None
        received = self.clock()
        self.reached = True
        try:
            offset = hub_clock_offset(response.headers.get("date"), sent, received)
            if offset is not None:
                self.clock_offset = offset
            ok = 200 <= response.status_code < 300
            cap = max_bytes if ok else MAX_ERROR_BODY
            reply = Reply(response.status_code, response.headers, clock_offset=offset, nonce=nonce)
            declared = response.headers.get("content-length")
            if ok and declared is not None and declared.strip().isdigit() and int(declared) > cap:
                raise SyncError(
                    "response.too_large",
                    f"{method} {path}: the hub announces {int(declared)} bytes, over the {cap}-byte limit",
                    status=response.status_code,
                )
            if ok and check is not None:
                check(response.headers)
            self._read(response, reply, cap, ok, spool_dir if ok else None, ends, f"{method} {path}")
            return reply
        except httpx.TimeoutException:
            raise SyncError("timeout", f"{method} {path}: the hub stopped sending its answer") from None
        except (httpx.HTTPError, httpx.StreamError) as exc:
            raise SyncError("network", f"{method} {path}: answer broken off: {_describe(exc)}") from None
        finally:
            response.close()

    def _read(
        self,
        response: httpx.Response,
        reply: Reply,
        cap: int,
        strict: bool,
        spool_dir: Path | None,
        ends: float,
        what: str,
    ) -> None:
        chunks: list[bytes] = []
        size = 0
        fd: int | None = None
        tmp: Path | None = None
        if spool_dir is not None:
            spool_dir.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=".sync-", suffix=".tmp", dir=spool_dir)
            tmp = Path(name)
        try:
            for chunk in response.iter_bytes():  # as received: no buffering past the deadline
                size += len(chunk)
                if size > cap:
                    if not strict:  # an error body: keep its start, drop the rest
                        chunks.append(chunk[: max(0, cap - (size - len(chunk)))])
                        break
                    raise SyncError(
                        "response.too_large",
                        f"{what}: the answer is over the {cap}-byte limit",
                        status=reply.status,
                    )
                if time.monotonic() > ends:
                    raise SyncError("timeout", f"{what}: the answer took too long (over the deadline)")
                if fd is not None:
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view) :]
                else:
                    chunks.append(chunk)
            if fd is not None:
                os.fsync(fd)
        except OSError as exc:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            raise SyncError(
                "disk", f"{what}: cannot write the download to {spool_dir}: {exc.strerror}"
            ) from None
        except BaseException:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            raise
        finally:
            if fd is not None:
                os.close(fd)
        reply.size = size
        reply.path = tmp
        reply.body = b"".join(chunks)


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return _printable(text)[:300]
