"""The hub's HTTP API (docs/hub-protocol.md): enrolment, signed downloads, registration intake.

Every handler follows one order, so a refused request never has an effect:
  1. read the raw body under a hard size limit (413 early on Content-Length, also while streaming);
  2. verify the request signature over the raw bytes (`kiosk.hub.httpsig`) -> 401; revoked -> 403;
  3. parse and validate the JSON (orjson + strict pydantic models + `kiosk.store.model.Registration`)
     -> 422;
  4. one database transaction: refuse a revoked device (403) or a replayed nonce (401), record the
     nonce and the contact, do the effect. A nonce is stored only together with its effect.
Enrolment differs only in that the body must be parsed first: it carries the key that signed it.

Errors are `{"error": code, "detail": words}`. The hub never logs registration contents: its log lines
carry device ids, counts and error codes only.
"""

from __future__ import annotations

import base64
import email.utils
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from kiosk import __version__
from kiosk.crypto.keys import BadKey, EcP256Key, VerifyKey, public_key_from_pem, spki_pem
from kiosk.hub import admin
from kiosk.hub.db import DatabaseError, Device, HubDB, Replay, Revoked
from kiosk.hub.httpsig import ACK_HEADER, WINDOW_SECONDS, SignatureError, Signed, ack_message, verify_request
from kiosk.store.model import Registration

log = logging.getLogger("kiosk.hub")

MAX_BODY = 2 * 1024 * 1024
MAX_ENROLL_BODY = 64 * 1024
MAX_ROWS = 1000
INT64_MAX = 2**63 - 1
JOSE = "application/jose"
OCTETS = "application/octet-stream"


class ApiError(Exception):
    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers


def error_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


# --- models (validation and the OpenAPI description) ------------------------------------------------


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
Hash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Token = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.:+\-]{0,63}$")]
DeviceId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


class ErrorOut(BaseModel):
    error: str = Field(description="stable error code, e.g. signature.invalid, replay, body.invalid")
    detail: str = Field(description="what is wrong, in words")


class HealthOut(BaseModel):
    status: Literal["ok"]
    time: float = Field(description="the hub's clock, POSIX seconds")


class EnrollIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    device_id: DeviceId
    code: Annotated[Text, Field(min_length=1, max_length=64)]
    public_key: Annotated[Text, Field(min_length=1, max_length=4096, description="SPKI PEM of a P-256 key")]
    name: Annotated[Text, Field(min_length=1, max_length=100)] | None = None
    site: Annotated[Text, Field(min_length=1, max_length=100)] | None = None


class EnrollOut(BaseModel):
    device_id: str
    site: str | None
    enrolled_at: float = Field(description="POSIX seconds")
    root_key: str = Field(description="SPKI PEM of the deployment root key (pin it as phic-root)")


class Row(BaseModel):
    """One stored registration (masked, hashed; no payload, no full ID number)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    seq: int = Field(ge=1, le=INT64_MAX)
    ts: float = Field(ge=0, allow_inf_nan=False)
    day: str = Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
    method: Literal["code", "card", "code+card", "manual"]
    format: Literal["phic", "dcc", "shc", "unknown"] | None = None
    issuer: Annotated[Text, Field(max_length=256)] | None = None
    code_id_hash: Hash | None = None
    id_number_hash: Hash | None = None
    masked_name: Annotated[Text, Field(max_length=64)] | None = None
    masked_id: Annotated[Text, Field(max_length=32)] | None = None
    colour: Token | None = None
    temperature: float | None = Field(default=None, ge=-70, le=380, allow_inf_nan=False)
    decision: Literal["pass", "deny", "refer"]
    reasons: list[Token] = Field(default_factory=list, max_length=32)
    device_id: DeviceId | None = Field(default=None, description="if given, the batch's device_id")


class RegistrationsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    device_id: DeviceId
    registrations: list[Row] = Field(min_length=1, max_length=MAX_ROWS)


class IntakeOut(BaseModel):
    stored_through: int = Field(description="the highest N such that seqs 1..N of the device are all stored")
    inserted: int = Field(description="rows of this batch that were new")


def _validation_detail(exc: ValidationError) -> str:
    """Where and what, never the offending value (it may be personal data)."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False)[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ())) or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


def _without_values(message: str) -> str:
    """A model error without the quoted values it names: the kiosk keeps the detail in its sync
    state, and the value may be an unmasked name."""
    return _QUOTED.sub("'…'", message)


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(422, "body.invalid", f"the body is not JSON: {exc}") from None


def validate_batch(doc: Any, signer: str) -> list[dict[str, Any]]:
    """The rows of a registrations body, each checked as `Registration` would store it; ApiError 422."""
    try:
        batch = RegistrationsIn.model_validate(doc)
    except ValidationError as exc:
        raise ApiError(422, "body.invalid", _validation_detail(exc)) from None
    if batch.device_id != signer:
        raise ApiError(422, "body.invalid", "device_id differs from the signature's keyid")
    rows = []
    for i, row in enumerate(batch.registrations):
        if row.device_id is not None and row.device_id != signer:
            raise ApiError(422, "body.invalid", f"registrations.{i}.device_id differs from the signer")
        try:
            date.fromisoformat(row.day)
            Registration(
                ts=row.ts,
                method=row.method,
                decision=row.decision,
                reasons=tuple(row.reasons),
                format=row.format,
                issuer=row.issuer,
                code_id_hash=row.code_id_hash,
                id_number_hash=row.id_number_hash,
                masked_name=row.masked_name,
                masked_id=row.masked_id,
                colour=row.colour,
                temperature=row.temperature,
                device_id=signer,
                seq=row.seq,
                day=row.day,
            )
        except (ValueError, TypeError) as exc:
            raise ApiError(422, "body.invalid", f"registrations.{i}: {_without_values(str(exc))}") from None
        d = row.model_dump(exclude={"device_id"})
        rows.append(d)
    return rows


# --- helpers ----------------------------------------------------------------------------------------


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "body.invalid", "Content-Length is not a number")
        if int(declared) > limit:
            raise ApiError(413, "body.too_large", f"the body is over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "body.too_large", f"the body is over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _target(request: Request) -> tuple[str, str, str]:
    """(method, path, query) as they were on the wire: what the kiosk signed."""
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes) and raw else request.scope["path"]
    return request.method, path, request.scope.get("query_string", b"").decode("latin-1")


def _etag(sha256_hex: str) -> str:
    return f'"{sha256_hex[:32]}"'


def _not_modified(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match")
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


_DOC_HEADERS = {"Cache-Control": "private, no-cache"}


class DateHeader:
    """ASGI middleware: a `Date` header from the hub's clock on every response (the kiosk derives its
    clock offset from it; `kiosk hub serve` turns uvicorn's own Date header off)."""

    def __init__(self, app: Any, clock: Callable[[], float]):
        self.app, self.clock = app, clock

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_dated(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"date" for name, _ in headers):
                    headers.append((b"date", email.utils.formatdate(self.clock(), usegmt=True).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_dated)


@dataclass
class HubState:
    hub_dir: Path
    db: HubDB
    root_pem: str
    clock: Callable[[], float]

    def __post_init__(self) -> None:
        self._keys: dict[str, VerifyKey] = {}
        self._keys_lock = threading.Lock()

    def key(self, pem: str) -> VerifyKey | None:
        with self._keys_lock:
            key = self._keys.get(pem)
        if key is None:
            try:
                key = public_key_from_pem(pem.encode("ascii"))
            except (BadKey, ValueError):
                return None
            with self._keys_lock:
                if len(self._keys) > 10_000:
                    self._keys.clear()
                self._keys[pem] = key
        return key

    def authenticate(self, request: Request, body: bytes, now: float) -> tuple[Signed, Device]:
        """Verify the signature of an enrolled device (runs in a worker thread)."""
        found: dict[str, Device] = {}

        def key_for(device_id: str) -> VerifyKey | None:
            device = self.db.device(device_id)
            if device is None:
                return None
            found["device"] = device
            return self.key(device.public_key)

        method, path, query = _target(request)
        try:
            signed = verify_request(method, path, query, request.headers, body, key_for, now)
        except SignatureError as exc:
            raise ApiError(401, exc.reason, str(exc)) from None
        device = found["device"]
        if device.revoked_at is not None:
            raise ApiError(403, "device.revoked", f"device {device.device_id!r} was revoked")
        return signed, device

    def accept(self, tx: Any, signed: Signed, now: float) -> Device:
        try:
            return self.db.accept(tx, signed.device_id, signed.nonce, now)
        except Revoked:
            raise ApiError(403, "device.revoked", f"device {signed.device_id!r} was revoked") from None
        except Replay:
            raise ApiError(401, "replay", "this request (its nonce) was seen before") from None

    def purge(self, now: float) -> None:
        try:
            self.db.purge_nonces(now - 2 * WINDOW_SECONDS, now)
        except DatabaseError as exc:  # housekeeping only: the request itself succeeded
            log.warning("nonce purge failed: %s", exc)


# --- OpenAPI fragments ------------------------------------------------------------------------------

_SIGNED_PARAMS = [
    {
        "name": "Signature-Input",
        "in": "header",
        "required": True,
        "description": 'kiosk=("@method" "@path" "@query" "content-digest");created=...;keyid="<device id>";'
        'alg="ecdsa-p256-sha256";nonce="..." (kiosk/hub/httpsig.py)',
        "schema": {"type": "string", "maxLength": 1024},
    },
    {
        "name": "Signature",
        "in": "header",
        "required": True,
        "description": "kiosk=:<base64 of the raw r||s P-256 signature>:",
        "schema": {"type": "string", "maxLength": 1024},
    },
    {
        "name": "Content-Digest",
        "in": "header",
        "required": True,
        "description": "sha-256=:<base64 of SHA-256(body)>: (also for an empty body)",
        "schema": {"type": "string", "maxLength": 1024},
    },
]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    words = {
        400: "malformed request",
        401: "missing, malformed, expired or bad signature; unknown device; replayed nonce",
        403: "revoked device (or, for enrolment, an unusable code)",
        404: "nothing published yet",
        409: "the device id is enrolled with another key",
        413: "body too large",
        422: "the body is not valid",
        503: "the database is unavailable; retry later",
    }
    return {c: {"model": ErrorOut, "description": words[c]} for c in codes}


_SIGNED_ERRORS = (400, 401, 403, 413, 422, 503)


def _body(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
        }
    }


def _etag_header(seq: bool = True) -> dict[str, Any]:
    headers: dict[str, Any] = {
        "ETag": {"description": "quote-enclosed hash of the representation", "schema": {"type": "string"}}
    }
    if seq:
        headers["X-Seq"] = {"description": "the document's seq", "schema": {"type": "integer"}}
    return headers


# --- the app ----------------------------------------------------------------------------------------


def create_app(
    hub_dir: str | os.PathLike, database_url: str | None = None, *, clock: Callable[[], float] = time.time
) -> FastAPI:
    """The hub as an ASGI app over `hub_dir` (made by `kiosk hub init`); `clock` is for tests."""
    hub = Path(hub_dir)
    root = admin.load_root(hub)
    db = HubDB(hub, database_url)
    state = HubState(hub, db, admin.root_public_pem(root), clock)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        on_ready = getattr(app.state, "on_ready", None)  # `kiosk hub serve`: systemd readiness
        if on_ready is not None:
            on_ready()
        try:
            yield
        finally:
            db.close()

    app = FastAPI(
        title="Health-code kiosk hub",
        version=__version__,
        description="The docking hub of the offline health-code kiosks (docs/hub-protocol.md). Every "
        "request except GET /v1/health and GET /openapi.json is signed by the device key "
        "(HTTP Message Signatures profile of kiosk/hub/httpsig.py).",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.hub = state

    app.add_middleware(DateHeader, clock=clock)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        if exc.status in (401, 403):
            log.info("refused %s %s: %d %s", request.method, request.url.path, exc.status, exc.code)
        return error_response(exc.status, exc.code, exc.detail, exc.headers)

    @app.exception_handler(DatabaseError)
    async def database_error(request: Request, exc: DatabaseError) -> JSONResponse:
        log.error("database unavailable: %s", exc)
        return error_response(
            503, "unavailable", "the hub's database is unavailable; retry later", {"Retry-After": "5"}
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "body.invalid", "the request is not valid")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method.not_allowed"}.get(exc.status_code, f"http.{exc.status_code}")
        return error_response(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))

    # --- health ---

    @app.get("/v1/health", response_model=HealthOut, responses=_errors(503), tags=["kiosk"])
    async def health() -> JSONResponse:
        """Liveness and the hub's clock (no signature). 503 when the database does not answer."""

        def ping() -> None:
            with db.reader() as r:
                r.one("SELECT 1")

        await run_in_threadpool(ping)
        return JSONResponse({"status": "ok", "time": clock()})

    # --- enrolment ---

    @app.post(
        "/v1/enroll",
        response_model=EnrollOut,
        responses=_errors(400, 401, 403, 409, 413, 422, 503),
        openapi_extra={**_body(EnrollIn), "parameters": _SIGNED_PARAMS},
        tags=["kiosk"],
    )
    async def enroll(request: Request) -> JSONResponse:
        """Enrol a device with a one-time code. Signed by the key in `public_key` (proof of possession).
        Repeating the request that used a code (same device and key) answers 200 again."""
        body = await read_body(request, MAX_ENROLL_BODY)
        try:
            doc = EnrollIn.model_validate(parse_json(body))
        except ValidationError as exc:
            raise ApiError(422, "body.invalid", _validation_detail(exc)) from None
        return JSONResponse(await run_in_threadpool(_enroll, state, request, body, doc))

    # --- downloads ---

    @app.get(
        "/v1/bundle",
        response_class=Response,
        responses={
            200: {
                "description": "the compact JWS of the newest PHIC issuer bundle",
                "content": {JOSE: {"schema": {"type": "string"}}},
                "headers": _etag_header(),
            },
            304: {"description": "not modified (If-None-Match)"},
            **_errors(404, *_SIGNED_ERRORS),
        },
        openapi_extra={"parameters": _SIGNED_PARAMS},
        tags=["kiosk"],
    )
    async def bundle(request: Request) -> Response:
        """The newest PHIC issuer bundle, signed by the root key."""
        body = await read_body(request, MAX_BODY)

        def work() -> Response:
            now = clock()
            signed, _ = state.authenticate(request, body, now)
            with db.transaction() as tx:
                state.accept(tx, signed, now)
            state.purge(now)
            found = db.latest_bundle()
            if found is None:
                raise ApiError(404, "not_found", "no bundle published yet (kiosk hub publish-bundle)")
            seq, sha, jws = found
            return _document(request, jws, sha, seq)

        return await run_in_threadpool(work)

    @app.get(
        "/v1/policy",
        response_class=Response,
        responses={
            200: {
                "description": 'compact JWS by the root over {"seq", "issued_at", "site", "policy"}',
                "content": {JOSE: {"schema": {"type": "string"}}},
                "headers": _etag_header(),
            },
            304: {"description": "not modified (If-None-Match)"},
            **_errors(404, *_SIGNED_ERRORS),
        },
        openapi_extra={"parameters": _SIGNED_PARAMS},
        tags=["kiosk"],
    )
    async def policy(request: Request) -> Response:
        """The newest policy for the device's site, else the newest default policy (site "*")."""
        body = await read_body(request, MAX_BODY)

        def work() -> Response:
            now = clock()
            signed, _ = state.authenticate(request, body, now)
            with db.transaction() as tx:
                device = state.accept(tx, signed, now)
            state.purge(now)
            found = db.policy_for(device.site)
            if found is None:
                raise ApiError(404, "not_found", "no policy published yet (kiosk hub policy publish)")
            seq, sha, jws = found
            return _document(request, jws, sha, seq)

        return await run_in_threadpool(work)

    @app.get(
        "/v1/status-list",
        response_class=Response,
        responses={
            200: {
                "description": "a status-list transport file (kiosk issuer status-list format)",
                "content": {OCTETS: {"schema": {"type": "string", "format": "binary"}}},
                "headers": {
                    **_etag_header(seq=False),
                    "X-List-Seq": {"schema": {"type": "integer"}},
                    "X-List-Kind": {"schema": {"type": "string", "enum": ["full", "delta"]}},
                    "X-List-Base-Seq": {"description": "a delta's base seq", "schema": {"type": "integer"}},
                },
            },
            304: {"description": "`have` is the newest seq (or newer), or If-None-Match matches"},
            **_errors(404, *_SIGNED_ERRORS),
        },
        openapi_extra={
            "parameters": [
                {
                    "name": "have",
                    "in": "query",
                    "required": False,
                    "description": "the seq of the list in force at the kiosk",
                    "schema": {"type": "integer", "minimum": 0, "maximum": INT64_MAX},
                },
                *_SIGNED_PARAMS,
            ]
        },
        tags=["kiosk"],
    )
    async def status_list(request: Request) -> Response:
        """A delta on `have` when one applies, else the newest full list."""
        body = await read_body(request, MAX_BODY)

        def work() -> Response:
            now = clock()
            signed, _ = state.authenticate(request, body, now)
            have = _have(request)
            with db.transaction() as tx:
                state.accept(tx, signed, now)
            state.purge(now)
            found = db.status_list_for(have)
            if found is None:
                raise ApiError(
                    404, "not_found", "no status list applies (none published, or no newer full list)"
                )
            what, row = found
            if what == "current":
                return Response(status_code=304, headers={**_DOC_HEADERS, "X-List-Seq": str(row)})
            seq, base_seq, kind, sha, size, file_name = row
            etag = _etag(sha)
            headers = {**_DOC_HEADERS, "ETag": etag, "X-List-Seq": str(seq), "X-List-Kind": kind}
            if base_seq is not None:
                headers["X-List-Base-Seq"] = str(base_seq)
            if _not_modified(request, etag):
                return Response(status_code=304, headers=headers)
            path = admin.status_list_file(state.hub_dir, file_name)
            if not path.is_file():
                log.error("published status list file %s is missing", path)
                raise ApiError(404, "not_found", f"status list seq {seq} is recorded but its file is missing")
            return FileResponse(path, media_type=OCTETS, headers=headers)

        return await run_in_threadpool(work)

    # --- intake ---

    @app.post(
        "/v1/registrations",
        response_model=IntakeOut,
        responses=_errors(*_SIGNED_ERRORS),
        openapi_extra={**_body(RegistrationsIn), "parameters": _SIGNED_PARAMS},
        tags=["kiosk"],
    )
    async def registrations(request: Request) -> JSONResponse:
        """Store a batch of registrations idempotently by (device_id, seq)."""
        body = await read_body(request, MAX_BODY)

        def work() -> tuple[dict[str, int], str]:
            now = clock()
            signed, _ = state.authenticate(request, body, now)
            rows = validate_batch(parse_json(body), signed.device_id)
            with db.transaction() as tx:
                state.accept(tx, signed, now)
                stored_through, inserted = db.store_rows(tx, signed.device_id, rows, now)
            log.info(
                "intake device=%s rows=%d inserted=%d stored_through=%d",
                signed.device_id,
                len(rows),
                inserted,
                stored_through,
            )
            state.purge(now)
            ack = root.key.sign(ack_message(signed.device_id, signed.nonce, stored_through))
            return {"stored_through": stored_through, "inserted": inserted}, base64.b64encode(ack).decode()

        answer, ack = await run_in_threadpool(work)
        return JSONResponse(answer, headers={ACK_HEADER: ack})

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (EnrollIn, RegistrationsIn):
                doc = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(doc.pop("$defs", {}))
                components[model.__name__] = doc
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _document(request: Request, text: str, sha: str, seq: int) -> Response:
    etag = _etag(sha)
    headers = {**_DOC_HEADERS, "ETag": etag, "X-Seq": str(seq)}
    if _not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(text.encode("ascii"), media_type=JOSE, headers=headers)


def _have(request: Request) -> int | None:
    values = parse_qs(request.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True).get(
        "have"
    )
    if not values:
        return None
    if len(values) > 1:
        raise ApiError(422, "body.invalid", "have given more than once")
    text = values[0]
    if not (text.isascii() and text.isdigit() and len(text) <= 19 and int(text) <= INT64_MAX):
        raise ApiError(422, "body.invalid", "have must be a non-negative integer (a status-list seq)")
    return int(text)


def _enroll(state: HubState, request: Request, body: bytes, doc: EnrollIn) -> dict[str, Any]:
    """Steps 2 and 4 of enrolment (worker thread)."""
    pem = doc.public_key.encode("utf-8", "replace")
    if b"PRIVATE KEY" in pem:
        raise ApiError(422, "body.invalid", "public_key must be a public key (never send the private key)")
    try:
        key = public_key_from_pem(pem)
    except (BadKey, ValueError):
        raise ApiError(422, "body.invalid", "public_key is not a usable SPKI PEM") from None
    if not isinstance(key, EcP256Key):
        raise ApiError(422, "body.invalid", "public_key must be an EC P-256 key")
    canonical = spki_pem(key.spki_der()).decode("ascii")
    now = state.clock()
    method, path, query = _target(request)
    try:
        signed = verify_request(method, path, query, request.headers, body, lambda _kid: key, now)
    except SignatureError as exc:
        raise ApiError(401, exc.reason, str(exc)) from None
    if signed.device_id != doc.device_id:
        raise ApiError(422, "body.invalid", "device_id differs from the signature's keyid")
    device_id = doc.device_id
    with state.db.transaction() as tx:
        if (
            tx.execute(
                "INSERT INTO nonces (device_id, nonce, created) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (device_id, signed.nonce, now),
            )
            != 1
        ):
            raise ApiError(401, "replay", "this request (its nonce) was seen before")
        code = tx.one(
            "SELECT device_id, site, expires_at, used_at, used_by FROM enroll_codes WHERE code_sha256 = ?",
            (admin.code_hash(doc.code),),
        )
        if code is None:
            raise ApiError(403, "enroll.code_invalid", "unknown enrolment code")
        bound_id, code_site, expires_at, used_at, used_by = code
        existing = tx.one(
            "SELECT public_key, site, enrolled_at, revoked_at FROM devices WHERE device_id = ?", (device_id,)
        )
        if used_at is not None:
            if (
                used_by == device_id
                and existing is not None
                and existing[0] == canonical
                and existing[3] is None
            ):
                tx.execute("UPDATE devices SET last_seen = ? WHERE device_id = ?", (now, device_id))
                return _enrolled(state, device_id, existing[1], existing[2])
            raise ApiError(403, "enroll.code_used", "this enrolment code was used already")
        if expires_at <= now:
            raise ApiError(403, "enroll.code_expired", "this enrolment code has expired")
        if bound_id is not None and bound_id != device_id:
            raise ApiError(403, "enroll.device_mismatch", "this enrolment code is for another device id")
        site = code_site or (" ".join(doc.site.split()) if doc.site else None)
        if existing is not None:
            if existing[0] != canonical:
                raise ApiError(
                    409, "enroll.device_exists", f"device {device_id!r} is enrolled with another key"
                )
            if existing[3] is not None:
                raise ApiError(403, "device.revoked", f"device {device_id!r} was revoked")
            site = site or existing[1]
            tx.execute(
                "UPDATE devices SET site = ?, name = COALESCE(?, name), last_seen = ? WHERE device_id = ?",
                (site, doc.name, now, device_id),
            )
            enrolled_at = existing[2]
        else:
            tx.execute(
                "INSERT INTO devices (device_id, public_key, name, site, enrolled_at, last_seen, acked_seq) "
                "VALUES (?, ?, ?, ?, ?, ?, 0)",
                (device_id, canonical, doc.name, site, now, now),
            )
            enrolled_at = now
        if (
            tx.execute(
                "UPDATE enroll_codes SET used_at = ?, used_by = ? WHERE code_sha256 = ? AND used_at IS NULL",
                (now, device_id, admin.code_hash(doc.code)),
            )
            != 1
        ):
            raise ApiError(403, "enroll.code_used", "this enrolment code was used already")
    log.info("enrolled device=%s site=%s", device_id, site)
    return _enrolled(state, device_id, site, enrolled_at)


def _enrolled(state: HubState, device_id: str, site: str | None, enrolled_at: float) -> dict[str, Any]:
    return {"device_id": device_id, "site": site, "enrolled_at": enrolled_at, "root_key": state.root_pem}
