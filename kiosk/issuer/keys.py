"""Issuer and root key files: a PKCS#8 PEM with a few `Name: value` lines before it saying whose key
it is (`Kiosk-Issuer`, `Kiosk-Kid`, `Kiosk-Alg`, `Kiosk-Role`). PEM readers ignore text outside the
BEGIN/END lines (RFC 7468), so the file also works with openssl."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kiosk.crypto.keys import (
    BadKey,
    SigningKey,
    VerifyKey,
    generate_signing_key,
    kid8,
    load_signing_key,
    public_key_from_pem,
)


class IssuerKeyError(ValueError):
    pass


@dataclass(slots=True)
class IssuerKey:
    key: SigningKey
    iss: str  # region code for issuers, "ROOT" for a deployment root key
    role: str  # "issuer" or "root"

    @property
    def kid(self) -> bytes:
        return kid8(self.key.public_key().spki_der())

    def file_text(self) -> bytes:
        head = f"Kiosk-Role: {self.role}\nKiosk-Issuer: {self.iss}\nKiosk-Alg: {self.key.alg}\nKiosk-Kid: {self.kid.hex()}\n"
        return head.encode() + self.key.private_pem()


def check_region(iss: str) -> str:
    region = iss.split("/", 1)[0]
    if len(region) != 6 or not region.isdigit():
        raise IssuerKeyError(
            f"--iss {iss!r}: expected a 6-digit administrative division code, e.g. 440000 or 440000/org"
        )
    return iss


def generate(alg: str, iss: str, root: bool = False) -> IssuerKey:
    try:
        key = generate_signing_key(alg)
    except BadKey as exc:
        raise IssuerKeyError(str(exc)) from None
    return IssuerKey(key, "ROOT" if root else check_region(iss), "root" if root else "issuer")


def save(key: IssuerKey, path: str | Path) -> None:
    """Write the private key readable by its owner only."""
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.file_text())


def _headers(text: bytes) -> dict[str, str]:
    out = {}
    for line in text.split(b"-----BEGIN", 1)[0].decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            out[name.strip()] = value.strip()
    return out


def load(path: str | Path) -> IssuerKey:
    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        raise IssuerKeyError(f"cannot read key file {path}: {exc.strerror}") from None
    try:
        key = load_signing_key(text)
    except BadKey as exc:
        raise IssuerKeyError(f"{path}: {exc}") from None
    headers = _headers(text)
    role = headers.get("Kiosk-Role", "issuer")
    iss = headers.get("Kiosk-Issuer", "ROOT" if role == "root" else "")
    if role != "root" and not iss:
        raise IssuerKeyError(
            f"{path}: no Kiosk-Issuer line; make issuer keys with `kiosk issuer keygen --iss CODE`"
        )
    return IssuerKey(key, iss, role)


def load_public(path: str | Path) -> tuple[VerifyKey, dict[str, str]]:
    """A public or private key file as a verification key, with its header lines."""
    try:
        text = Path(path).read_bytes()
        return public_key_from_pem(text), _headers(text)
    except OSError as exc:
        raise IssuerKeyError(f"cannot read key file {path}: {exc.strerror}") from None
    except BadKey as exc:
        raise IssuerKeyError(f"{path}: {exc}") from None
