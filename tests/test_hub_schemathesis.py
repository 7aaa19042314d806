"""Schemathesis against the hub's own OpenAPI description: generated requests (valid and invalid by the
schema), signed by an enrolled device so they reach the handlers, must never make a 5xx, and every
answer must match what the schema documents (status codes, content types, bodies, headers)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hubtools import Device, DeviceClient, make_hub, row
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from kiosk.hub import admin
from kiosk.hub.app import create_app

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
OPERATIONS = [
    ("/v1/health", "GET"),
    ("/v1/enroll", "POST"),
    ("/v1/bundle", "GET"),
    ("/v1/policy", "GET"),
    ("/v1/status-list", "GET"),
    ("/v1/registrations", "POST"),
]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A hub with something published (so downloads answer 200 and 304 too) and an enrolled device."""
    tmp = tmp_path_factory.mktemp("schemathesis")
    hub = make_hub(tmp / "hub")
    from kiosk.issuer import keys as issuer_keys
    from kiosk.issuer.status_list import write_status_list

    key = issuer_keys.generate("es256", "440000")
    issuer_keys.save(key, tmp / "iss.pem")
    (tmp / "policy.toml").write_text("fever_threshold = 37.3\n")
    write_status_list(tmp / "1.ksl", hub.root, 1, None, [("110101199003077777", "red")])
    write_status_list(tmp / "2.ksl", hub.root, 2, 1, [("110101199003077777", "clear")])
    with hub.db() as db:
        admin.add_issuer(db, "440000", tmp / "iss.pem")
        admin.publish_bundle(db, hub.root)
        admin.publish_policy(db, hub.root, tmp / "policy.toml")
        admin.publish_status_list(db, hub.dir, hub.root, tmp / "1.ksl")
        admin.publish_status_list(db, hub.dir, hub.root, tmp / "2.ksl")
    app = create_app(hub.dir)
    with TestClient(app) as client:
        device = Device.new("kiosk-st")
        assert DeviceClient(client, device).enroll(hub.code()).status_code == 200
        assert DeviceClient(client, device).push([row(1)]).status_code == 200
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        yield schema, client, device


def _send(client: TestClient, device: Device, case: Any, sign: bool) -> Any:
    """Serialise the case ourselves so the signature covers exactly the bytes sent."""
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    if "json" in kwargs:
        body = json.dumps(kwargs["json"]).encode()
    else:
        content = kwargs.get("content", kwargs.get("data", b""))
        body = content.encode() if isinstance(content, str) else bytes(content or b"")
    headers = {k: v for k, v in (kwargs.get("headers") or {}).items() if isinstance(v, str)}
    request = client.build_request(
        kwargs["method"], kwargs["url"], params=kwargs.get("params"), content=body, headers=headers
    )
    if sign:
        for name in ("Signature", "Signature-Input", "Content-Digest"):
            request.headers.pop(name, None)
        request.headers.update(
            device.sign(request.method, request.url.path, request.url.query.decode(), body, time.time())
        )
    return client.send(request)


CASES = [
    (path, method, mode)
    for path, method in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if not (path == "/v1/health" and mode is GenerationMode.NEGATIVE)  # no inputs to get wrong
]


@pytest.mark.slow
@pytest.mark.parametrize("path,method,mode", CASES, ids=[f"{m} {p} {g}" for p, m, g in CASES])
def test_schemathesis(env, path: str, method: str, mode: GenerationMode):
    schema, client, device = env
    operation = schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def run(case):
        if mode is GenerationMode.POSITIVE and isinstance(case.body, dict) and "device_id" in case.body:
            case.body["device_id"] = device.device_id  # reach the row checks, not only the keyid check
        sign = path != "/v1/health"
        response = _send(client, device, case, sign)
        case.validate_response(response, checks=CHECKS)
        if sign and mode is GenerationMode.POSITIVE:
            assert response.status_code != 401 or response.json()["error"] != "signature.invalid"

    run()
