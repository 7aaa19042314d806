"""The kiosk's sync client: pull trust and policy from the hub, push registrations to it.

One round (`SyncClient.sync_once`), each step independent (one failing does not stop the others,
except that when the hub cannot be reached, or refuses the device, the round ends there):

1. `pull_bundle`: `GET /v1/bundle` (If-None-Match), verified against the *pinned* root key and imported
   with `TrustStore.import_source` (which refuses a rollback; the old bundle stays in force).
2. `pull_status_list`: `GET /v1/status-list?have=<seq in force>` until 304, one delta (or full list) at a
   time, each spooled to a temporary file in the data directory (capped) and imported with
   `import_list` (signature, digest, rollback and delta-chain checks are all there).
3. `pull_policy`: `GET /v1/policy`, a JWS by the root over {seq, issued_at, site, policy}; the seq must be
   newer than the policy in force and the TOML must parse; then `DATA_DIR/hub-policy.toml` is replaced.
4. `push`: the outbox (`RegistrationStore.unsynced`) in batches, `POST /v1/registrations`; the watermark
   moves only to the hub's `stored_through`, never further and never back.

After the round `DATA_DIR/sync-state.json` is rewritten and, when trust, status list or policy changed,
`on_change(result)` is called (the checkpoint reloads its key ring). `run_forever` repeats rounds every
`interval` seconds, backing off exponentially with full jitter after a failed round.

The answers are outside bytes: every size is capped, every JSON field type-checked, and nothing is
marked synced or imported on anything but a verified, well-formed answer (docs/sync.md).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from kiosk.crypto.keys import BadKey, VerifyKey, public_key_from_pem
from kiosk.store.model import Registration
from kiosk.store.registrations import RegistrationStore
from kiosk.sync.enroll import EnrollError, load_device_key
from kiosk.sync.state import (
    POLICY_FILE,
    HubConfig,
    NotEnrolled,
    SyncState,
    read_hub,
    read_state,
    write_atomic,
    write_state,
)
from kiosk.sync.transport import DEFAULT_DEADLINE, HubHttp, Reply, SyncError

try:
    import orjson

    def _dumps(doc: Any) -> bytes:
        return orjson.dumps(doc)
except ImportError:  # pragma: no cover - orjson is a dependency; plain json works the same

    def _dumps(doc: Any) -> bytes:
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


MAX_BUNDLE = 8 * 1024 * 1024
MAX_POLICY = 1024 * 1024
MAX_POLICY_TEXT = 256 * 1024
MAX_STATUS_LIST = 512 * 1024 * 1024
MAX_ACK = 64 * 1024
MAX_PUSH_BODY = 2 * 1024 * 1024  # the hub's limit (docs/hub-protocol.md)
MAX_BATCH = 1000
MAX_STATUS_STEPS = 64  # deltas fetched in one round at most
STATUS_DEADLINE = 30 * 60.0
INT64 = 2**63
LOCK_FILE = ".sync.lock"
SPOOL_PREFIX = ".sync-"
ENDS_ROUND = ("network", "timeout", "auth", "device.revoked")  # no later step can succeed
_POLICY_HEAD = re.compile(rb"# kiosk hub policy seq=(\d{1,19}) ")
_ETAG = re.compile(r'(W/)?"[\x21\x23-\x7e]{0,500}"|[\x21-\x7e]{1,500}')
POLICY_TYP = "kiosk-policy+jws"


@dataclass(slots=True)
class SyncResult:
    """What one round did."""

    started: float
    seconds: float = 0.0
    online: bool = False  # the hub answered (even with an error)
    sent: int = 0  # registrations sent (resends included)
    pushed: int = 0  # registrations newly acknowledged (the watermark's advance)
    synced_seq: int | None = None
    pending: int | None = None
    bundle_seq: int | None = None
    status_list_seq: int | None = None
    policy_seq: int | None = None
    clock_offset: float | None = None
    changed: list[str] = field(default_factory=list)  # "bundle", "status_list", "policy"
    errors: list[dict[str, str]] = field(default_factory=list)  # step, code, message

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def error(self, step: str, exc: SyncError) -> None:
        self.errors.append({"step": step, "code": exc.code, "message": str(exc)})


def backoff_delay(
    failures: int, base: float = 5.0, cap: float = 300.0, rand: Callable[[], float] = random.random
) -> float:
    """Seconds to wait after `failures` failed rounds in a row: full jitter, uniform in
    [0, min(cap, base * 2**(failures-1))], at least a second so a broken hub is never hammered."""
    ceiling = min(cap, base * 2 ** min(max(failures - 1, 0), 30))
    return max(min(1.0, ceiling), rand() * ceiling)


def registration_row(reg: Registration) -> dict[str, Any]:
    """A stored registration as the hub takes it (docs/hub-protocol.md)."""
    return {
        "seq": reg.seq,
        "ts": reg.ts,
        "day": reg.day,
        "method": reg.method,
        "format": reg.format,
        "issuer": reg.issuer,
        "code_id_hash": reg.code_id_hash,
        "id_number_hash": reg.id_number_hash,
        "masked_name": reg.masked_name,
        "masked_id": reg.masked_id,
        "colour": reg.colour,
        "temperature": reg.temperature,
        "decision": reg.decision,
        "reasons": list(reg.reasons),
    }


def check_ack(reply: Reply, device_id: str, stored_through: int, root: VerifyKey) -> None:
    """The acknowledgement must carry the root key's signature over this request's nonce and the
    acknowledged seq: nobody between kiosk and hub can make the kiosk drop registrations it still holds."""
    from kiosk.hub.httpsig import ACK_HEADER, ack_message

    value = reply.headers.get(ACK_HEADER, "")
    try:
        signature = base64.b64decode(value, validate=True) if len(value) <= 200 else b""
    except ValueError:
        signature = b""
    if not signature or not root.verify(signature, ack_message(device_id, reply.nonce, stored_through)):
        raise SyncError(
            "push.ack_unsigned",
            f"the hub's acknowledgement of seq {stored_through} is not signed by the pinned root key: "
            "nothing was marked synced",
        )


def parse_ack(body: bytes) -> tuple[int, int]:
    """(stored_through, inserted) of a `POST /v1/registrations` answer; SyncError if malformed."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        raise SyncError("response.invalid", "the hub's acknowledgement is not JSON") from None
    if not isinstance(doc, dict):
        raise SyncError("response.invalid", "the hub's acknowledgement is not a JSON object")
    through, inserted = doc.get("stored_through"), doc.get("inserted")
    if type(through) is not int or not 0 <= through < INT64:
        raise SyncError("response.invalid", f"stored_through must be a non-negative integer, got {through!r}")
    if inserted is not None and (type(inserted) is not int or not 0 <= inserted <= MAX_BATCH):
        raise SyncError("response.invalid", f"inserted must be an integer 0..{MAX_BATCH}, got {inserted!r}")
    return through, inserted or 0


@dataclass(frozen=True, slots=True)
class HubPolicy:
    seq: int
    issued_at: Any
    site: str
    text: str


def parse_policy_token(token: bytes, root: VerifyKey, site: str | None) -> HubPolicy:
    """Verify a policy JWS against the root key and check its payload; SyncError otherwise."""
    from kiosk.crypto.jws import JwsError, verify_compact
    from kiosk.policy.policy import PolicyError, parse_policy

    try:
        header, payload = verify_compact(token, root)
    except JwsError as exc:
        raise SyncError("policy.invalid", f"policy: {exc}") from None
    if header.get("typ", POLICY_TYP) != POLICY_TYP:  # a bundle or list signed by the same root
        raise SyncError("policy.invalid", f"policy: JWS typ {header.get('typ')!r} is not {POLICY_TYP!r}")
    try:
        doc = json.loads(payload)
    except (ValueError, RecursionError):
        raise SyncError("policy.invalid", "policy: payload is not JSON") from None
    if not isinstance(doc, dict):
        raise SyncError("policy.invalid", "policy: payload is not an object")
    seq, issued_at, for_site, text = doc.get("seq"), doc.get("issued_at"), doc.get("site"), doc.get("policy")
    if type(seq) is not int or not 1 <= seq < INT64:
        raise SyncError("policy.invalid", f"policy: seq must be a positive integer, got {seq!r}")
    if isinstance(issued_at, bool) or not isinstance(issued_at, int | float | str | type(None)):
        raise SyncError("policy.invalid", "policy: issued_at is not a time")
    if not isinstance(for_site, str) or not for_site:
        raise SyncError("policy.invalid", "policy: site is missing")
    if for_site != "*" and site is not None and for_site != site:
        raise SyncError("policy.wrong_site", f"policy: made for site {for_site!r}, this kiosk is at {site!r}")
    if not isinstance(text, str) or len(text) > MAX_POLICY_TEXT:
        raise SyncError(
            "policy.invalid", f"policy: the TOML text is missing or over {MAX_POLICY_TEXT} characters"
        )
    try:
        text.encode("utf-8")
        parse_policy(text, f"hub policy seq {seq}")
    except UnicodeEncodeError:
        raise SyncError("policy.invalid", "policy: the TOML text is not valid Unicode") from None
    except PolicyError as exc:
        raise SyncError("policy.invalid", str(exc)) from None
    return HubPolicy(seq, issued_at, for_site, text)


def policy_in_force(data_dir: str | os.PathLike) -> tuple[int, str] | None:
    """(seq, sha256 of the TOML) of `DATA_DIR/hub-policy.toml`, from its first line; None without one."""
    try:
        with open(Path(data_dir) / POLICY_FILE, "rb") as f:
            raw = f.read(MAX_POLICY_TEXT * 4 + 4096)
    except OSError:
        return None
    head, _, text = raw.partition(b"\n")
    m = _POLICY_HEAD.match(head)
    if m is None:
        return None
    return int(m[1]), hashlib.sha256(text).hexdigest()


def _etag(value: str | None) -> str | None:
    return value if value is not None and _ETAG.fullmatch(value) else None


class SyncClient:
    """Sync one kiosk data directory with the hub it enrolled with (`hub.json`)."""

    def __init__(
        self,
        data_dir: str | os.PathLike,
        *,
        store: RegistrationStore | None = None,
        clock: Callable[[], float] = time.time,
        http: httpx.Client | None = None,
        batch: int = 500,
        on_change: Callable[[SyncResult], None] | None = None,
        timeout: httpx.Timeout | float | None = None,
    ):
        self.data_dir = Path(data_dir)
        self.hub: HubConfig = read_hub(self.data_dir)
        device_file = self.data_dir / "device-id"
        try:
            local_id = device_file.read_text().strip()
        except OSError:
            local_id = None
        if local_id is not None and local_id != self.hub.device_id:
            raise SyncError(
                "config",
                f"hub.json is for device {self.hub.device_id!r} but this data directory is {local_id!r}: enrol again",
            )
        if not 1 <= batch <= MAX_BATCH:
            raise ValueError(f"batch must be 1..{MAX_BATCH}")
        self.batch = batch
        self.deadline = DEFAULT_DEADLINE  # seconds for one request but a status list download
        self.clock = clock
        self.on_change = on_change
        key = load_device_key(self.data_dir)
        kw: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        self.conn = HubHttp(self.hub.url, self.hub.device_id, key, http=http, clock=clock, **kw)
        self._own_store = store is None
        self.store = store if store is not None else RegistrationStore(self.data_dir, self.hub.device_id)
        if self.store.device_id != self.hub.device_id:
            raise SyncError(
                "config",
                f"the store is device {self.store.device_id!r}, the hub knows {self.hub.device_id!r}",
            )
        self.state: SyncState = read_state(self.data_dir)

    def close(self) -> None:
        self.conn.close()
        if self._own_store:
            self.store.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- helpers --------------------------------------------------------------------------------------

    def _root(self) -> VerifyKey:
        from kiosk.trust.store import TrustStore

        with TrustStore(self.data_dir) as store:
            pem = store.pinned("phic-root")
        if pem is None:
            raise SyncError(
                "trust.no_root", "no root key is pinned on this kiosk: enrol or provision it first"
            )
        try:
            return public_key_from_pem(pem)
        except BadKey as exc:
            raise SyncError("trust.no_root", f"the pinned root key is unusable: {exc}") from None

    def _get(self, path: str, **kw: Any) -> Reply:
        kw.setdefault("deadline", self.deadline)
        return self.conn.request("GET", path, **kw)

    def _unexpected(self, what: str, reply: Reply) -> SyncError:
        code, _ = reply.hub_error()
        if reply.status == 401:
            return SyncError(
                "auth", f"{what}: the hub refused this kiosk's signature ({reply.describe()})", status=401
            )
        if reply.status == 403:
            name = "device.revoked" if code == "device.revoked" else "auth"
            return SyncError(name, f"{what}: the hub refused this kiosk ({reply.describe()})", status=403)
        if reply.status >= 500:
            return SyncError("hub.error", f"{what}: the hub failed ({reply.describe()})", status=reply.status)
        return SyncError(
            f"http.{reply.status}", f"{what}: unexpected answer {reply.describe()}", status=reply.status
        )

    def _remember_etag(self, what: str, reply: Reply, seq: int | None) -> None:
        tag = _etag(reply.headers.get("etag"))
        if tag is None:
            self.state.etags.pop(what, None)
        else:
            self.state.etags[what] = {"etag": tag, "seq": seq}

    def _if_none_match(self, what: str, seq_in_force: int | None) -> dict[str, str]:
        tag = self.state.etags.get(what)
        if tag is None or seq_in_force is None or tag.get("seq") != seq_in_force:
            return {}
        return {"If-None-Match": tag["etag"]}

    def bundle_seq(self) -> int | None:
        from kiosk.trust.store import TrustStore

        with TrustStore(self.data_dir) as store:
            return next((s.seq for s in store.status() if s.name == "phic-bundle"), None)

    def status_list_seq(self) -> int | None:
        from kiosk.trust import status_list
        from kiosk.trust.sources import TrustError

        try:
            info = status_list.info(self.data_dir)
        except TrustError:
            return None
        return info.seq if info is not None else None

    # --- the steps ------------------------------------------------------------------------------------

    def pull_bundle(self) -> bool:
        """Fetch and import a newer issuer bundle; True when one was imported."""
        from kiosk.trust.sources import TrustError, phic_bundle
        from kiosk.trust.store import TrustStore

        root = self._root()
        current = self.bundle_seq()
        reply = self._get("/v1/bundle", headers=self._if_none_match("bundle", current), max_bytes=MAX_BUNDLE)
        if reply.status in (304, 404):
            return False
        if reply.status != 200:
            raise self._unexpected("bundle", reply)
        try:
            source = phic_bundle(reply.body, root)
        except TrustError as exc:
            raise SyncError("bundle.invalid", f"the hub's bundle was refused: {exc}") from None
        with TrustStore(self.data_dir) as store:
            old = next((s for s in store.status() if s.name == "phic-bundle"), None)
            if old is not None and old.seq == source.seq and old.signed_at == source.signed_at:
                self._remember_etag("bundle", reply, source.seq)
                return False  # the same bundle (ETag lost)
            try:
                store.import_source(source, self.clock())
            except TrustError as exc:
                raise SyncError(
                    "bundle.rollback", f"the hub's bundle was refused, the one in force stays: {exc}"
                ) from None
        self._remember_etag("bundle", reply, source.seq)
        return True

    def _clean_spool(self) -> None:
        for stale in self.data_dir.glob(f"{SPOOL_PREFIX}*.tmp"):
            stale.unlink(missing_ok=True)

    def pull_status_list(self) -> int:
        """Fetch deltas (or a full list) until the hub has nothing newer; returns how many were imported."""
        from kiosk.trust import status_list
        from kiosk.trust.sources import TrustError

        root = self._root()
        self._clean_spool()
        imported = 0
        for _ in range(MAX_STATUS_STEPS):
            have = self.status_list_seq() or 0

            def check(headers: httpx.Headers, have: int = have) -> None:
                announced = headers.get("x-list-seq", "").strip()
                if announced.isdigit() and len(announced) < 19 and int(announced) <= have:
                    raise SyncError(
                        "status_list.rollback",
                        f"the hub offers status list seq {int(announced)}, not newer than seq {have} in force",
                    )

            reply = self._get(
                "/v1/status-list",
                query=f"have={have}",
                max_bytes=MAX_STATUS_LIST,
                spool_dir=self.data_dir,
                deadline=STATUS_DEADLINE,
                check=check,
            )
            try:
                if reply.status in (304, 404):
                    return imported
                if reply.status != 200:
                    raise self._unexpected("status list", reply)
                assert reply.path is not None
                try:
                    result = status_list.import_list(reply.path, root, self.data_dir, self.clock())
                except TrustError as exc:
                    raise SyncError(
                        "status_list.invalid", f"the hub's status list was refused: {exc}"
                    ) from None
            finally:
                if reply.path is not None:
                    reply.path.unlink(missing_ok=True)
            if result.unchanged or result.info.seq <= have:
                raise SyncError(
                    "status_list.stuck",
                    f"asked for what follows seq {have}, the hub sent seq {result.info.seq} again",
                )
            imported += 1
        return imported

    def pull_policy(self) -> bool:
        """Fetch a newer site policy; True when `hub-policy.toml` was replaced."""
        root = self._root()
        current = policy_in_force(self.data_dir)
        reply = self._get(
            "/v1/policy",
            headers=self._if_none_match("policy", current[0] if current else None),
            max_bytes=MAX_POLICY,
        )
        if reply.status in (304, 404):
            return False
        if reply.status != 200:
            raise self._unexpected("policy", reply)
        policy = parse_policy_token(reply.body, root, self.hub.site)
        digest = hashlib.sha256(policy.text.encode()).hexdigest()
        if current is not None:
            seq, old_digest = current
            if policy.seq < seq:
                raise SyncError(
                    "policy.rollback", f"the hub's policy seq {policy.seq} is older than seq {seq} in force"
                )
            if policy.seq == seq:
                if digest != old_digest:
                    raise SyncError(
                        "policy.conflict", f"the hub's policy seq {seq} differs from the seq {seq} in force"
                    )
                self._remember_etag("policy", reply, seq)
                return False
        head = (
            f"# kiosk hub policy seq={policy.seq} issued_at={policy.issued_at} site={policy.site!r} "
            "(verified and written by kiosk sync; local edits are replaced)\n"
        )
        write_atomic(self.data_dir / POLICY_FILE, head.encode() + policy.text.encode(), 0o644)
        self._remember_etag("policy", reply, policy.seq)
        return True

    def _prepare(self, after: int | None) -> tuple[list[Registration], bytes] | None:
        """The next batch after the watermark (and after `after`), serialised; None when none is left."""
        rows = self.store.unsynced(self.batch, after_seq=after)
        if not rows:
            return None
        while True:
            body = _dumps(
                {"device_id": self.hub.device_id, "registrations": [registration_row(r) for r in rows]}
            )
            if len(body) <= MAX_PUSH_BODY or len(rows) == 1:
                return rows, body
            rows = rows[: len(rows) // 2]

    def push(self, result: SyncResult | None = None) -> int:
        """Send the outbox until it is empty; returns how many rows the hub newly acknowledged.

        Stops with SyncError (nothing marked) on any answer but a well-formed 200, and when the hub's
        `stored_through` does not move although rows were sent (the hub lacks rows below them). The next
        batch is read and serialised while the current one is in flight; it is used only when the hub
        acknowledged everything before it, and read again from the watermark otherwise."""
        acked = 0
        root = self._root()  # acknowledgements are signed by it
        with ThreadPoolExecutor(1, thread_name_prefix="sync-prefetch") as pool:
            upcoming: Future = pool.submit(self._prepare, None)
            while (item := upcoming.result()) is not None:
                rows, body = item
                upcoming = pool.submit(self._prepare, rows[-1].seq)
                before = self.store.synced_seq()
                reply = self.conn.request(
                    "POST",
                    "/v1/registrations",
                    body=body,
                    max_bytes=MAX_ACK,
                    content_type="application/json",
                    deadline=self.deadline,
                )
                if result is not None:
                    result.sent += len(rows)
                if reply.status == 413 and self.batch > 1:
                    self.batch = max(1, len(rows) // 2)  # the hub takes less than we thought: smaller batches
                    upcoming.result()  # (discarded)
                    upcoming = pool.submit(self._prepare, None)
                    continue
                if reply.status == 422:
                    raise SyncError(
                        "push.refused",
                        f"the hub refused registrations {rows[0].seq}..{rows[-1].seq}: {reply.describe()}",
                        status=422,
                    )
                if reply.status != 200:
                    raise self._unexpected("push", reply)
                through, _inserted = parse_ack(reply.body)
                check_ack(reply, self.hub.device_id, through, root)
                last = self.store.last_seq()
                if through > last:
                    raise SyncError(
                        "push.ack_invalid",
                        f"the hub acknowledged seq {through} but this kiosk has appended only up to {last}",
                    )
                now = self.store.mark_synced(through)
                acked += max(0, now - before)
                if result is not None:
                    result.pushed = acked
                if now < rows[0].seq:
                    raise SyncError(
                        "push.gap",
                        f"sent {rows[0].seq}..{rows[-1].seq} but the hub has everything only up to {through}: "
                        "the hub lost registrations this kiosk already counted as synced (see docs/sync.md)",
                    )
                if now < rows[-1].seq:  # acknowledged part of the batch: resend the rest first
                    upcoming.result()
                    upcoming = pool.submit(self._prepare, None)
        return acked

    # --- rounds ---------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        fd = os.open(self.data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise SyncError("busy", "another sync of this data directory is running") from None
            yield
        finally:
            os.close(fd)

    def sync_once(self) -> SyncResult:
        """One round: bundle, status list, policy, push; then the state file; never raises SyncError."""
        result = SyncResult(started=self.clock())
        t0 = time.monotonic()
        self.conn.reached = False
        try:
            with self._lock():
                steps: list[tuple[str, Callable[[], Any]]] = [
                    ("bundle", self.pull_bundle),
                    ("status_list", self.pull_status_list),
                    ("policy", self.pull_policy),
                    ("push", lambda: self.push(result)),
                ]
                for step, run in steps:
                    try:
                        if run() and step != "push":
                            result.changed.append(step)
                    except SyncError as exc:
                        result.error(step, exc)
                        if exc.code in ENDS_ROUND:
                            break
                    except (OSError, ValueError) as exc:  # disk full, a damaged local file
                        result.error(step, SyncError("local", f"{type(exc).__name__}: {exc}"))
                self._finish(result, t0)
        except SyncError as exc:  # busy
            result.error("lock", exc)
            result.seconds = round(time.monotonic() - t0, 3)
        if result.changed and self.on_change is not None:
            try:
                self.on_change(result)
            except Exception as exc:  # noqa: BLE001 - the kiosk's callback must not end the sync loop
                result.error(
                    "on_change", SyncError("local", f"on_change failed: {type(exc).__name__}: {exc}")
                )
        return result

    def _finish(self, result: SyncResult, t0: float) -> None:
        result.online = self.conn.reached
        result.clock_offset = self.conn.clock_offset
        with contextlib.suppress(Exception):
            result.synced_seq = self.store.synced_seq()
            result.pending = self.store.pending()
        with contextlib.suppress(Exception):
            result.bundle_seq = self.bundle_seq()
        result.status_list_seq = self.status_list_seq()
        current = policy_in_force(self.data_dir)
        result.policy_seq = current[0] if current else None
        result.seconds = round(time.monotonic() - t0, 3)
        state = self.state
        state.last_attempt = result.started
        state.online = result.online
        state.clock_offset = result.clock_offset
        state.synced_seq, state.pending = result.synced_seq, result.pending
        state.bundle_seq, state.status_list_seq, state.policy_seq = (
            result.bundle_seq,
            result.status_list_seq,
            result.policy_seq,
        )
        state.errors = [dict(e) for e in result.errors]
        if result.ok:
            state.last_success, state.last_error, state.failures = result.started, None, 0
        else:
            state.failures += 1
            state.last_error = "; ".join(f"{e['step']}: {e['message']}" for e in result.errors)[:2000]
        try:
            write_state(self.data_dir, state)
        except OSError as exc:
            result.error("state", SyncError("local", f"cannot write the sync state: {exc.strerror}"))

    def run_forever(
        self,
        stop: threading.Event,
        *,
        interval: float = 60.0,
        backoff_base: float = 5.0,
        backoff_cap: float = 300.0,
        on_result: Callable[[SyncResult], None] | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        """Rounds until `stop` is set: every `interval` s, or after a failure a jittered backoff."""
        failures = 0
        while not stop.is_set():
            result = self.sync_once()
            if on_result is not None:
                on_result(result)
            if result.ok:
                failures, delay = 0, interval
            else:
                failures += 1
                delay = backoff_delay(failures, backoff_base, backoff_cap, rand)
            stop.wait(delay)


def open_client(data_dir: str | os.PathLike, **kw: Any) -> SyncClient:
    """A SyncClient, with enrolment problems as SyncError("not_enrolled")."""
    try:
        return SyncClient(data_dir, **kw)
    except NotEnrolled as exc:
        raise SyncError("not_enrolled", str(exc)) from None
    except EnrollError as exc:
        raise SyncError("not_enrolled", str(exc)) from None
