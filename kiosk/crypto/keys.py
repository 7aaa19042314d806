"""Public and private keys behind one small interface, whatever the algorithm.

ES256 and PS256 go through `cryptography`; SM2 (with SM3 and the default user id) through the system
OpenSSL 3 (`kiosk.crypto.sm2`). Signatures are raw bytes as COSE and JWS carry them (r‖s for ECDSA
and SM2). `verify` returns a bool and never raises for a bad signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

# COSE algorithm identifiers (IANA; SM2 uses a private-use value fixed by FORMATS.md).
COSE_ES256 = -7
COSE_PS256 = -37
COSE_SM2 = -65601
COSE_ALGS = {COSE_ES256: "ES256", COSE_PS256: "PS256", COSE_SM2: "SM2"}
ALG_TO_COSE = {v: k for k, v in COSE_ALGS.items()}

_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_PSS_SHA256 = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


class BadKey(ValueError):
    """A key or certificate that cannot be used, with a message for the operator."""


class VerifyKey(Protocol):
    alg: str

    def verify(self, signature: bytes, data: bytes) -> bool: ...

    def spki_der(self) -> bytes: ...


@dataclass(slots=True)
class EcP256Key:
    key: ec.EllipticCurvePublicKey
    alg: str = "ES256"

    def verify(self, signature: bytes, data: bytes) -> bool:
        if len(signature) != 64:
            return False
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        try:
            self.key.verify(der, data, _ECDSA_SHA256)
        except InvalidSignature:
            return False
        return True

    def spki_der(self) -> bytes:
        return self.key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@dataclass(slots=True)
class RsaPssKey:
    key: rsa.RSAPublicKey
    alg: str = "PS256"

    def verify(self, signature: bytes, data: bytes) -> bool:
        try:
            self.key.verify(signature, data, _PSS_SHA256, hashes.SHA256())
        except (InvalidSignature, ValueError):
            return False
        return True

    def spki_der(self) -> bytes:
        return self.key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@dataclass(slots=True)
class Sm2Key:
    key: object  # kiosk.crypto.sm2.Sm2PublicKey
    alg: str = "SM2"

    def verify(self, signature: bytes, data: bytes) -> bool:
        return self.key.verify(signature, data)  # type: ignore[attr-defined]

    def spki_der(self) -> bytes:
        return self.key.spki_der()  # type: ignore[attr-defined]


def _wrap_public(key: object) -> VerifyKey:
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise BadKey(f"unsupported EC curve {key.curve.name}: only P-256 (ES256) is accepted")
        return EcP256Key(key)
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise BadKey(f"RSA key of {key.key_size} bits is too short")
        return RsaPssKey(key)
    raise BadKey(f"unsupported key type {type(key).__name__}")


def public_key_from_spki(der: bytes) -> VerifyKey:
    """A verification key from SubjectPublicKeyInfo DER (P-256, RSA or SM2)."""
    try:
        return _wrap_public(serialization.load_der_public_key(der))
    except (ValueError, UnsupportedAlgorithm) as exc:
        from kiosk.crypto import sm2

        try:
            return Sm2Key(sm2.Sm2PublicKey.from_spki_der(der))
        except sm2.Sm2Error:
            raise BadKey(f"not a usable public key: {exc}") from None


def public_key_from_pem(pem: bytes) -> VerifyKey:
    """A verification key from a public PEM, or the public half of a private PEM."""
    if b"PRIVATE KEY" in pem:
        return load_signing_key(pem).public_key()
    try:
        return _wrap_public(serialization.load_pem_public_key(pem))
    except (ValueError, UnsupportedAlgorithm) as exc:
        from kiosk.crypto import sm2

        try:
            return Sm2Key(sm2.Sm2PublicKey.from_pem(pem))
        except sm2.Sm2Error:
            raise BadKey(f"not a usable public key PEM: {exc}") from None


def public_key_from_jwk(jwk: dict) -> VerifyKey:
    """An ES256 key from a JWK (kty EC, crv P-256); raises BadKey for anything else."""
    if not isinstance(jwk, dict) or jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise BadKey("only EC P-256 JWKs are supported")
    try:
        x = int.from_bytes(b64url_decode(jwk["x"]), "big")
        y = int.from_bytes(b64url_decode(jwk["y"]), "big")
        return EcP256Key(ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key())
    except (KeyError, TypeError, ValueError) as exc:
        raise BadKey(f"bad EC JWK: {exc}") from None


def jwk_thumbprint(jwk: dict) -> str:
    """RFC 7638 thumbprint of an EC JWK, base64url without padding (the SHC kid)."""
    members = {k: jwk[k] for k in ("crv", "kty", "x", "y")}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return b64url_encode(hashlib.sha256(canonical).digest())


def kid8(spki_der: bytes) -> bytes:
    """PHIC key id: the first 8 bytes of SHA-256 over the SubjectPublicKeyInfo DER."""
    return hashlib.sha256(spki_der).digest()[:8]


def spki_pem(spki_der: bytes) -> bytes:
    """A public key PEM from SubjectPublicKeyInfo DER (works for SM2 too)."""
    body = base64.b64encode(spki_der)
    lines = b"\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return b"-----BEGIN PUBLIC KEY-----\n" + lines + b"\n-----END PUBLIC KEY-----\n"


# base64url -> base64 in one pass; "+", "/" and "=" become "!", which strict decoding refuses.
_URLSAFE = bytes.maketrans(b"-_+/=", b"+/!!!")


def b64url_decode(text: str | bytes) -> bytes:
    """Strict unpadded base64url: any character outside the alphabet raises ValueError."""
    if isinstance(text, str):
        text = text.encode("ascii")  # UnicodeEncodeError is a ValueError
    elif not isinstance(text, bytes):
        raise TypeError(f"base64url text must be str or bytes, not {type(text).__name__}")
    return binascii.a2b_base64(text.translate(_URLSAFE) + b"=" * (-len(text) % 4), strict_mode=True)


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# --- signing keys (issuer side) ---------------------------------------------------------------


class SigningKey(Protocol):
    alg: str

    def sign(self, data: bytes) -> bytes: ...

    def public_key(self) -> VerifyKey: ...

    def private_pem(self) -> bytes: ...


@dataclass(slots=True)
class EcP256SigningKey:
    key: ec.EllipticCurvePrivateKey
    alg: str = "ES256"

    @classmethod
    def generate(cls) -> EcP256SigningKey:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    def sign(self, data: bytes) -> bytes:
        r, s = decode_dss_signature(self.key.sign(data, _ECDSA_SHA256))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def public_key(self) -> VerifyKey:
        return EcP256Key(self.key.public_key())

    def private_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


@dataclass(slots=True)
class Sm2SigningKey:
    key: object  # kiosk.crypto.sm2.Sm2PrivateKey
    alg: str = "SM2"

    @classmethod
    def generate(cls) -> Sm2SigningKey:
        from kiosk.crypto import sm2

        return cls(sm2.Sm2PrivateKey.generate())

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data)  # type: ignore[attr-defined]

    def public_key(self) -> VerifyKey:
        return Sm2Key(self.key.public_key())  # type: ignore[attr-defined]

    def private_pem(self) -> bytes:
        return self.key.to_pem()  # type: ignore[attr-defined]


def generate_signing_key(alg: str) -> SigningKey:
    alg = alg.upper()
    if alg == "ES256":
        return EcP256SigningKey.generate()
    if alg == "SM2":
        return Sm2SigningKey.generate()
    raise BadKey(f"unknown algorithm {alg!r}: use es256 or sm2")


def load_signing_key(pem: bytes) -> SigningKey:
    """A private key PEM (P-256 or SM2) as a signing key."""
    from kiosk.crypto import sm2

    if sm2.is_sm2_pem(pem):
        try:
            return Sm2SigningKey(sm2.Sm2PrivateKey.from_pem(pem))
        except sm2.Sm2Error as exc:
            raise BadKey(f"bad SM2 private key: {exc}") from None
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise BadKey(f"not a usable private key PEM: {exc}") from None
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return EcP256SigningKey(key)
    raise BadKey("private key must be EC P-256 (ES256) or SM2")


def load_certificate(der: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise BadKey(f"bad certificate: {exc}") from None
