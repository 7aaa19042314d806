"""Online enrolment: the kiosk's device key, `POST /v1/enroll`, pinning the hub's root key, `hub.json`.

The device key is a P-256 key made here (`DATA_DIR/device-key.pem`, PKCS#8, mode 0600); its private
half never leaves the kiosk. The enrolment request is signed by it (proof of possession) and carries a
one-time code from the hub operator.

What the kiosk trusts (trust on first use, unless told otherwise): the hub answers with the deployment
root key, which from then on is the only key the kiosk accepts bundles, status lists and policies from.
- If a root key is already pinned (USB provisioning, an earlier enrolment), the hub's must be the same
  key, or enrolment is refused: a hub cannot replace the root of a provisioned kiosk.
- If the technician gives `root_fingerprint` (SHA-256 hex of the root's SubjectPublicKeyInfo DER, as
  `kiosk sync enroll` and the hub operator print it), the hub's key must match it.
- Only when nothing is pinned and no fingerprint is given is the hub's word taken as it is, on this first
  enrolment: whoever answers at the hub URL then (a DNS or network attacker on plain http) becomes the
  root. The fingerprint is printed so the technician can compare it with the operator's; pass
  `--root-fingerprint` (or use https) where that matters.
A refusal leaves trust.sqlite and hub.json untouched (the hub may have used up the code: ask for a new one).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import httpx

from kiosk.crypto.keys import BadKey, EcP256SigningKey, load_signing_key, public_key_from_pem, spki_pem
from kiosk.fileio import fsync_dir
from kiosk.sync.state import KEY_FILE, HubConfig, write_hub
from kiosk.sync.transport import HubHttp, SyncError

MAX_ENROLL_ANSWER = 256 * 1024
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DEVICE_ID = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
)  # what the hub accepts (kiosk provision --device-name)


class EnrollError(Exception):
    """Enrolment refused or impossible; the message says why and what to do."""


def fingerprint(pem_or_der: bytes) -> str:
    """SHA-256 hex of a public key's SubjectPublicKeyInfo DER (from PEM, private PEM, or DER)."""
    der = (
        public_key_from_pem(pem_or_der).spki_der() if pem_or_der.lstrip().startswith(b"-----") else pem_or_der
    )
    return hashlib.sha256(der).hexdigest()


def _normalise_fingerprint(text: str) -> str:
    value = text.strip().lower().replace(":", "").replace(" ", "")
    if value.startswith("sha256:"):
        value = value[7:]
    if not _HEX64.fullmatch(value):
        raise EnrollError(
            f"root fingerprint {text!r} is not 64 hex digits (SHA-256 of the root key's SPKI DER)"
        )
    return value


def load_device_key(data_dir: str | os.PathLike) -> EcP256SigningKey:
    """The device key of this data directory; EnrollError when it is missing or unusable."""
    path = Path(data_dir) / KEY_FILE
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        raise EnrollError(f"{path} does not exist: enrol the kiosk first (kiosk sync enroll)") from None
    except OSError as exc:
        raise EnrollError(f"cannot read the device key {path}: {exc.strerror}") from None
    try:
        key = load_signing_key(pem)
    except BadKey as exc:
        raise EnrollError(f"{path} is not a usable device key: {exc}") from None
    if not isinstance(key, EcP256SigningKey):
        raise EnrollError(f"{path} is not a P-256 key; the hub accepts only ecdsa-p256-sha256 signatures")
    return key


def device_key(data_dir: str | os.PathLike) -> tuple[EcP256SigningKey, bool]:
    """(the device key, made now?): reuse `DATA_DIR/device-key.pem`, or make one (0600, atomic)."""
    directory = Path(data_dir)
    path = directory / KEY_FILE
    if path.exists():
        return load_device_key(directory), False
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = EcP256SigningKey.generate()
    tmp = directory / f".{KEY_FILE}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, key.private_pem())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # never replaces a key another process made meanwhile
    except FileExistsError:
        return load_device_key(directory), False
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(directory)
    return key, True


def _check_answer(doc: Any, device: str) -> tuple[bytes, str | None, Any]:
    if not isinstance(doc, dict):
        raise EnrollError("the hub's answer is not a JSON object")
    if doc.get("device_id") != device:
        raise EnrollError(f"the hub answered for device {doc.get('device_id')!r}, not {device!r}")
    root = doc.get("root_key")
    if not isinstance(root, str) or "-----BEGIN" not in root or len(root) > 64 * 1024:
        raise EnrollError("the hub's answer has no root_key PEM")
    site = doc.get("site")
    if site is not None and not (isinstance(site, str) and 0 < len(site) <= 200 and site.isprintable()):
        raise EnrollError(f"the hub's answer has a bad site {site!r}")
    enrolled_at = doc.get("enrolled_at")
    if not (enrolled_at is None or isinstance(enrolled_at, str | int | float)) or isinstance(
        enrolled_at, bool
    ):
        enrolled_at = None
    return root.encode("ascii", "replace"), site, enrolled_at


_REFUSALS = {
    "enroll.code_invalid": "the enrolment code is not known to the hub (mistyped, or made for another hub)",
    "enroll.code_used": "the enrolment code was already used: ask the hub operator for a new one",
    "enroll.code_expired": "the enrolment code has expired: ask the hub operator for a new one",
    "enroll.device_mismatch": "the enrolment code was made for another device id",
}


def enroll(
    data_dir: str | os.PathLike,
    hub_url: str,
    code: str,
    *,
    root_fingerprint: str | None = None,
    name: str | None = None,
    site: str | None = None,
    client: httpx.Client | None = None,
    clock: Any = time.time,
) -> dict[str, Any]:
    """Enrol this kiosk with the hub; returns what was recorded (also in `DATA_DIR/hub.json`).

    Raises EnrollError with a clear message for every refusal (network, code used/expired, 409, a root
    key that does not match the pinned one or `root_fingerprint`)."""
    from kiosk.app.run import device_id
    from kiosk.trust.sources import TrustError
    from kiosk.trust.store import TrustStore

    directory = Path(data_dir)
    if not isinstance(code, str) or not code.strip() or len(code) > 256:
        raise EnrollError("the enrolment code is empty or too long")
    expected = _normalise_fingerprint(root_fingerprint) if root_fingerprint else None
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key, made = device_key(directory)
    device = device_id(directory)
    if not _DEVICE_ID.fullmatch(device):
        raise EnrollError(
            f"device id {device!r} (in {directory / 'device-id'}) cannot be enrolled: use 1-64 letters, digits, "
            "'.', '_' or '-' (kiosk provision --device-name)"
        )
    public_pem = key.public_key().spki_der()
    body: dict[str, Any] = {
        "device_id": device,
        "code": code.strip(),
        "public_key": spki_pem(public_pem).decode(),
    }
    if name:
        body["name"] = name
    if site:
        body["site"] = site
    try:
        conn = HubHttp(hub_url, device, key, http=client, clock=clock)
    except SyncError as exc:
        raise EnrollError(str(exc)) from None
    try:
        reply = conn.request(
            "POST",
            "/v1/enroll",
            body=json.dumps(body, ensure_ascii=False).encode(),
            max_bytes=MAX_ENROLL_ANSWER,
            content_type="application/json",
        )
    except SyncError as exc:
        raise EnrollError(f"enrolment failed: {exc}") from None
    finally:
        conn.close()
    if reply.status != 200:
        code_text, detail = reply.hub_error()
        if reply.status == 403 and code_text in _REFUSALS:
            raise EnrollError(f"enrolment refused: {_REFUSALS[code_text]} ({detail or code_text})")
        if reply.status == 409:
            raise EnrollError(
                f"enrolment refused: device id {device!r} is already enrolled at the hub with another key "
                f"({detail or code_text or 'conflict'}). Revoke the old device at the hub, or give this "
                "kiosk another device name"
            )
        if reply.status == 403 and code_text == "device.revoked":
            raise EnrollError(
                f"enrolment refused: device {device!r} was revoked at the hub; a revoked device id cannot "
                "enrol again: give this kiosk another device name"
            )
        if reply.status == 401:
            raise EnrollError(
                f"enrolment refused: the hub did not accept the request signature ({reply.describe()}); "
                "check this kiosk's clock"
            )
        raise EnrollError(f"enrolment failed: the hub answered {reply.describe()}")
    try:
        doc = json.loads(reply.body)
    except (ValueError, RecursionError):
        raise EnrollError("enrolment failed: the hub's answer is not JSON") from None
    root_pem, hub_site, enrolled_at = _check_answer(doc, device)
    try:
        root = public_key_from_pem(root_pem)
    except BadKey as exc:
        raise EnrollError(f"the hub's root_key is not a usable public key: {exc}") from None
    root_der = root.spki_der()
    got = hashlib.sha256(root_der).hexdigest()
    if expected is not None and got != expected:
        raise EnrollError(
            f"refused: the hub's root key has fingerprint {got}, not the expected {expected}. "
            "Nothing was pinned; check the hub URL and the fingerprint with the operator"
        )
    with TrustStore(directory) as store:
        pinned = store.pinned("phic-root")
        if pinned is not None:
            try:
                pinned_fp = hashlib.sha256(public_key_from_pem(pinned).spki_der()).hexdigest()
            except BadKey:
                pinned_fp = "(unreadable)"
            if pinned_fp != got:
                raise EnrollError(
                    f"refused: this kiosk already trusts root key {pinned_fp}, and the hub offers {got}. "
                    "A hub cannot replace a pinned root; re-provision the kiosk to change it"
                )
        try:
            store.pin("phic-root", spki_pem(root_der))
        except TrustError as exc:  # a concurrent pin of another key
            raise EnrollError(f"refused: {exc}") from None
    how = (
        "matched the pinned root"
        if pinned is not None
        else (
            "matched --root-fingerprint"
            if expected is not None
            else "trusted on first use (nothing was pinned)"
        )
    )
    hub = HubConfig(
        url=hub_url.rstrip("/"),
        device_id=device,
        enrolled_at=enrolled_at,
        site=hub_site if hub_site is not None else site,
        root_fingerprint=got,
    )
    write_hub(directory, hub)
    with contextlib.suppress(OSError):
        os.chmod(directory / KEY_FILE, 0o600)
    return {
        **hub.as_dict(),
        "device_key": "made" if made else "reused",
        "device_key_fingerprint": hashlib.sha256(public_pem).hexdigest(),
        "root_trust": how,
        "tofu": pinned is None and expected is None,
    }
