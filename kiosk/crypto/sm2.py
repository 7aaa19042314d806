"""SM2 signatures (GB/T 32918 / GM/T 0003, SM3 digest) through the system OpenSSL 3 libcrypto.

The `cryptography` package has no SM2 and a pure-Python SM2 is far too slow, so this module binds the
few EVP calls it needs with `ctypes`.  Signatures on the API are raw ``r || s`` (2 x 32 bytes,
big-endian); OpenSSL speaks DER ``ECDSA-Sig-Value``, converted here.  The signer's distinguishing ID
enters the SM2 ``Z`` value; the default is GM/T 0009's ``1234567812345678``.

Every operation uses its own EVP contexts and only reads the shared ``EVP_PKEY``, so keys may be
used from several threads at once; ctypes drops the GIL during the OpenSSL calls.
"""

from __future__ import annotations

import base64
import binascii
import ctypes
import ctypes.util
import re
import threading
from collections.abc import Iterator
from ctypes import POINTER, byref, c_char_p, c_int, c_long, c_size_t, c_ulong, c_void_p
from typing import Any

from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

__all__ = ["DEFAULT_UID", "Sm2Error", "Sm2PrivateKey", "Sm2PublicKey", "available", "is_sm2_pem"]

DEFAULT_UID = b"1234567812345678"

# Order n of the SM2 curve (GB/T 32918.5); r and s must lie in [1, n-1].
_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
# DER of AlgorithmIdentifier { id-ecPublicKey (1.2.840.10045.2.1), sm2 curve (1.2.156.10197.1.301) }.
_OID_SM2 = bytes.fromhex("06082a811ccf5501822d")
_SM2_ALGID = bytes.fromhex("301306072a8648ce3d0201") + _OID_SM2
_MAX_UID = 8191  # ENTL is the ID's bit length in 16 bits
_EVP_MD_CTX_FLAG_FINALISE = 0x0200  # Final may consume the context: saves a context copy per call
_SIG_BUF = 128  # DER SM2 signature is at most 72 bytes

_PEM_CB = ctypes.CFUNCTYPE(c_int, c_void_p, c_int, c_int, c_void_p)


class Sm2Error(Exception):
    """Malformed or non-SM2 key, failed operation, or libcrypto (OpenSSL 3 with SM2) not available."""


# --------------------------------------------------------------------------------------------------
# libcrypto binding

_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "OpenSSL_version_num": (c_ulong, []),
    "ERR_get_error": (c_ulong, []),
    "ERR_error_string_n": (None, [c_ulong, c_char_p, c_size_t]),
    "ERR_clear_error": (None, []),
    "BIO_new_mem_buf": (c_void_p, [c_char_p, c_int]),
    "BIO_s_mem": (c_void_p, []),
    "BIO_new": (c_void_p, [c_void_p]),
    "BIO_free": (c_int, [c_void_p]),
    "BIO_read": (c_int, [c_void_p, c_void_p, c_int]),
    "BIO_ctrl_pending": (c_size_t, [c_void_p]),
    "d2i_PUBKEY": (c_void_p, [c_void_p, POINTER(c_void_p), c_long]),
    "i2d_PUBKEY": (c_int, [c_void_p, POINTER(c_void_p)]),
    "PEM_write_bio_PUBKEY": (c_int, [c_void_p, c_void_p]),
    "PEM_read_bio_PrivateKey": (c_void_p, [c_void_p, c_void_p, _PEM_CB, c_void_p]),
    "PEM_write_bio_PKCS8PrivateKey": (
        c_int,
        [c_void_p, c_void_p, c_void_p, c_char_p, c_int, c_void_p, c_void_p],
    ),
    "EVP_PKEY_free": (None, [c_void_p]),
    "EVP_PKEY_is_a": (c_int, [c_void_p, c_char_p]),
    "EVP_PKEY_CTX_new": (c_void_p, [c_void_p, c_void_p]),
    "EVP_PKEY_CTX_new_from_name": (c_void_p, [c_void_p, c_char_p, c_char_p]),
    "EVP_PKEY_CTX_free": (None, [c_void_p]),
    "EVP_PKEY_CTX_set1_id": (c_int, [c_void_p, c_char_p, c_int]),
    "EVP_PKEY_keygen_init": (c_int, [c_void_p]),
    "EVP_PKEY_keygen": (c_int, [c_void_p, POINTER(c_void_p)]),
    "EVP_SIGNATURE_fetch": (c_void_p, [c_void_p, c_char_p, c_char_p]),
    "EVP_SIGNATURE_free": (None, [c_void_p]),
    "EVP_sm3": (c_void_p, []),
    "EVP_MD_CTX_new": (c_void_p, []),
    "EVP_MD_CTX_free": (None, [c_void_p]),
    "EVP_MD_CTX_set_flags": (None, [c_void_p, c_int]),
    "EVP_MD_CTX_set_pkey_ctx": (None, [c_void_p, c_void_p]),
    "EVP_DigestSignInit": (c_int, [c_void_p, c_void_p, c_void_p, c_void_p, c_void_p]),
    "EVP_DigestSign": (c_int, [c_void_p, c_void_p, POINTER(c_size_t), c_char_p, c_size_t]),
    "EVP_DigestVerifyInit": (c_int, [c_void_p, c_void_p, c_void_p, c_void_p, c_void_p]),
    "EVP_DigestVerify": (c_int, [c_void_p, c_char_p, c_size_t, c_char_p, c_size_t]),
}


class _Lib:
    """libcrypto functions with explicit prototypes, plus the SM3 ``EVP_MD``."""

    def __init__(self, dll: ctypes.CDLL) -> None:
        for name, (restype, argtypes) in _SIGNATURES.items():
            fn = getattr(dll, name)  # AttributeError: symbol missing (old or SM2-less build)
            fn.restype = restype
            fn.argtypes = argtypes
            setattr(self, name, fn)
        self.dll = dll
        self.sm3: int | None = None

    def __getattr__(self, name: str) -> Any:  # for type checkers; real functions are set in __init__
        raise AttributeError(name)


_lib_lock = threading.Lock()
_lib_cache: _Lib | None = None
_lib_failure: str | None = None


def _candidates() -> list[str]:
    names = ["libcrypto.so.3", "libcrypto.3.dylib"]
    found = ctypes.util.find_library("crypto")
    if found and found not in names:
        names.append(found)
    return names


def _load() -> _Lib:
    errors: list[str] = []
    for name in _candidates():
        try:
            dll = ctypes.CDLL(name)
        except OSError as exc:
            errors.append(f"{name}: {exc}")
            continue
        try:
            lib = _Lib(dll)
        except AttributeError as exc:
            errors.append(f"{name}: missing symbol ({exc})")
            continue
        if lib.OpenSSL_version_num() < 0x30000000:
            errors.append(f"{name}: OpenSSL older than 3.0")
            continue
        sm3 = lib.EVP_sm3()
        sig = lib.EVP_SIGNATURE_fetch(None, b"SM2", None)
        if sig:
            lib.EVP_SIGNATURE_free(sig)
        lib.ERR_clear_error()
        if not sm3 or not sig:
            errors.append(f"{name}: no SM2/SM3 in this OpenSSL build or its default provider")
            continue
        lib.sm3 = sm3
        return lib
    raise Sm2Error("libcrypto with SM2 not available: " + "; ".join(errors))


def _lib() -> _Lib:
    global _lib_cache, _lib_failure
    lib = _lib_cache
    if lib is not None:
        return lib
    with _lib_lock:
        if _lib_cache is None:
            if _lib_failure is not None:
                raise Sm2Error(_lib_failure)
            try:
                _lib_cache = _load()
            except Sm2Error as exc:
                _lib_failure = str(exc)
                raise
        return _lib_cache


def available() -> bool:
    """True if an OpenSSL 3 libcrypto with SM2 and SM3 can be loaded."""
    try:
        _lib()
    except Sm2Error:
        return False
    return True


def _ossl_error(lib: _Lib, what: str) -> Sm2Error:
    """Build an `Sm2Error` from OpenSSL's thread-local error queue, which is left empty."""
    reasons = []
    while code := lib.ERR_get_error():
        buf = ctypes.create_string_buffer(256)
        lib.ERR_error_string_n(code, buf, len(buf))
        reasons.append(buf.value.decode("ascii", "replace"))
    lib.ERR_clear_error()
    return Sm2Error(f"{what}: {reasons[-1]}" if reasons else what)


def _as_bytes(value: Any) -> bytes:
    return value if type(value) is bytes else memoryview(value).tobytes()


def _mem_bio(lib: _Lib, data: bytes) -> int:
    bio = lib.BIO_new_mem_buf(data, len(data))
    if not bio:
        raise _ossl_error(lib, "BIO_new_mem_buf failed")
    return bio


def _write_bio(lib: _Lib, write: Any, pkey: int, *extra: Any) -> bytes:
    """Run an OpenSSL ``PEM_write_bio_*`` into a memory BIO and return what it wrote."""
    bio = lib.BIO_new(lib.BIO_s_mem())
    if not bio:
        raise _ossl_error(lib, "BIO_new failed")
    try:
        if write(bio, pkey, *extra) != 1:
            raise _ossl_error(lib, "PEM encoding failed")
        size = lib.BIO_ctrl_pending(bio)
        buf = ctypes.create_string_buffer(size)
        if lib.BIO_read(bio, buf, size) != size:
            raise _ossl_error(lib, "BIO_read failed")
        return buf.raw
    finally:
        lib.BIO_free(bio)


# --------------------------------------------------------------------------------------------------
# minimal DER walking, for the SM2 algorithm check and is_sm2_pem


def _tlv(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """Return (tag, content start, content end) of the DER element at ``pos``; ValueError if malformed."""
    if pos + 2 > end:
        raise ValueError("truncated")
    tag, first = buf[pos], buf[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if n == 0 or n > 4 or pos + n > end:
            raise ValueError("bad length")
        length = int.from_bytes(buf[pos : pos + n], "big")
        pos += n
    if pos + length > end:
        raise ValueError("truncated")
    return tag, pos, pos + length


def _children(buf: bytes, start: int, end: int, limit: int) -> list[tuple[int, int, int, int]]:
    """First ``limit`` elements inside a constructed element: (tag, start, content start, end)."""
    out = []
    pos = start
    while pos < end and len(out) < limit:
        tag, cstart, cend = _tlv(buf, pos, end)
        out.append((tag, pos, cstart, cend))
        pos = cend
    return out


def _der_is_sm2(der: bytes, kind: str) -> bool:
    """Does a SPKI ("PUBLIC KEY"), PKCS#8 ("PRIVATE KEY") or SEC1 ("EC/SM2 PRIVATE KEY") DER name SM2?"""
    try:
        tag, start, end = _tlv(der, 0, len(der))
        if tag != 0x30:
            return False
        kids = _children(der, start, end, 4)
        if kind == "PUBLIC KEY" and kids:
            _, s, _, e = kids[0]
            return der[s:e] == _SM2_ALGID
        if kind == "PRIVATE KEY" and len(kids) >= 2 and kids[0][0] == 0x02:
            _, s, _, e = kids[1]
            return der[s:e] == _SM2_ALGID
        if kind in ("EC PRIVATE KEY", "SM2 PRIVATE KEY"):
            # ECPrivateKey ::= SEQUENCE { version, privateKey OCTET STRING, [0] parameters, ... }
            for tag, _, cs, ce in kids[2:]:
                if tag == 0xA0:
                    return der[cs:ce] == _OID_SM2
        return False
    except ValueError:
        return False


_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)
# OpenSSL 3 writes SEC1 SM2 keys as "SM2 PRIVATE KEY"; other tools use "EC PRIVATE KEY".
_KEY_LABELS = {b"PUBLIC KEY", b"PRIVATE KEY", b"EC PRIVATE KEY", b"SM2 PRIVATE KEY"}


def _pem_blocks(pem: bytes | str) -> Iterator[tuple[bytes, bytes | None]]:
    """(label, DER) of each PEM block; DER is None if the body has RFC 1421 headers or bad base64."""
    if isinstance(pem, str):
        pem = pem.encode("ascii", "replace")
    for match in _PEM_BLOCK.finditer(_as_bytes(pem)):
        body = match.group(2)
        der = None
        if b":" not in body:  # headers (Proc-Type / DEK-Info) mean an encrypted traditional key
            try:
                der = base64.b64decode(b"".join(body.split()), validate=True)
            except (binascii.Error, ValueError):
                der = None
        yield match.group(1), der


def is_sm2_pem(pem: bytes) -> bool:
    """Cheap check (no libcrypto, no password) whether the first key block of a PEM is an SM2 key.

    Recognises SubjectPublicKeyInfo, unencrypted PKCS#8 and unencrypted SEC1 blocks; encrypted keys (which
    hide their algorithm) and anything unparsable give False."""
    try:
        for label, der in _pem_blocks(pem):
            if label in _KEY_LABELS:
                return der is not None and _der_is_sm2(der, label.decode("ascii"))
    except TypeError:
        return False
    return False


# --------------------------------------------------------------------------------------------------
# keys


class _Key:
    """Owner of one ``EVP_PKEY`` of type SM2."""

    __slots__ = ("__weakref__", "_free", "_pkey")

    def __init__(self, pkey: int) -> None:
        lib = _lib()
        self._pkey = pkey
        self._free = lib.EVP_PKEY_free  # kept on the object so __del__ works during interpreter shutdown

    @staticmethod
    def _check_sm2(lib: _Lib, pkey: int, what: str) -> None:
        if lib.EVP_PKEY_is_a(pkey, b"SM2") != 1:
            lib.EVP_PKEY_free(pkey)
            lib.ERR_clear_error()
            raise Sm2Error(f"{what}: not an SM2 key")

    def __del__(self) -> None:
        pkey = getattr(self, "_pkey", None)
        if pkey:
            self._pkey = None
            self._free(pkey)


def _spki_der(lib: _Lib, pkey: int) -> bytes:
    size = lib.i2d_PUBKEY(pkey, None)
    if size <= 0:
        raise _ossl_error(lib, "i2d_PUBKEY failed")
    buf = ctypes.create_string_buffer(size)
    ptr = c_void_p(ctypes.addressof(buf))
    if lib.i2d_PUBKEY(pkey, byref(ptr)) != size:
        raise _ossl_error(lib, "i2d_PUBKEY failed")
    return buf.raw


class Sm2PublicKey(_Key):
    """An SM2 public key, for verifying signatures."""

    __slots__ = ("_spki",)

    def __init__(self, pkey: int, spki: bytes) -> None:
        """Internal: takes ownership of ``pkey``; use `from_spki_der` or `from_pem`."""
        super().__init__(pkey)
        self._spki = spki

    @classmethod
    def from_spki_der(cls, der: bytes) -> Sm2PublicKey:
        """Load a SubjectPublicKeyInfo (id-ecPublicKey, curve 1.2.156.10197.1.301); `Sm2Error` otherwise."""
        lib = _lib()
        der = _as_bytes(der)
        if not _der_is_sm2(der, "PUBLIC KEY"):
            raise Sm2Error("SubjectPublicKeyInfo: not an SM2 key (id-ecPublicKey with the SM2 curve)")
        buf = ctypes.create_string_buffer(der, len(der))
        ptr = c_void_p(ctypes.addressof(buf))
        pkey = lib.d2i_PUBKEY(None, byref(ptr), len(der))
        if not pkey:
            raise _ossl_error(lib, "SubjectPublicKeyInfo: cannot decode")
        if ptr.value != ctypes.addressof(buf) + len(der):
            lib.EVP_PKEY_free(pkey)
            raise Sm2Error("SubjectPublicKeyInfo: trailing data")
        cls._check_sm2(lib, pkey, "SubjectPublicKeyInfo")
        return cls(pkey, der)

    @classmethod
    def from_pem(cls, pem: bytes) -> Sm2PublicKey:
        """Load the first ``-----BEGIN PUBLIC KEY-----`` block (same checks as `from_spki_der`)."""
        for label, der in _pem_blocks(pem):
            if label == b"PUBLIC KEY":
                if der is None:
                    raise Sm2Error("public key PEM: malformed base64 body")
                return cls.from_spki_der(der)
        raise Sm2Error("public key PEM: no PUBLIC KEY block")

    def spki_der(self) -> bytes:
        """SubjectPublicKeyInfo DER."""
        return self._spki

    def to_pem(self) -> bytes:
        """``-----BEGIN PUBLIC KEY-----`` PEM."""
        lib = _lib()
        return _write_bio(lib, lib.PEM_write_bio_PUBKEY, self._pkey)

    def verify(self, signature: bytes, data: bytes, uid: bytes = DEFAULT_UID) -> bool:
        """Check a raw ``r || s`` (64-byte) SM2/SM3 signature over ``data`` by signer ``uid``.

        Returns False, never raises, for a wrong length, out-of-range r or s, or a bad signature."""
        try:
            sig = _as_bytes(signature)
            data = _as_bytes(data)
            uid = _as_bytes(uid)
        except TypeError:
            return False
        if len(sig) != 64 or len(uid) > _MAX_UID:
            return False
        r = int.from_bytes(sig[:32], "big")
        s = int.from_bytes(sig[32:], "big")
        if not (0 < r < _N and 0 < s < _N):
            return False
        der = encode_dss_signature(r, s)
        lib = _lib()
        pkey = self._pkey
        mctx = lib.EVP_MD_CTX_new()
        pctx = lib.EVP_PKEY_CTX_new(pkey, None)
        try:
            if not mctx or not pctx:
                return False
            # OpenSSL 3.0 caches the ID on a context with no operation yet and applies it in the
            # DigestVerifyInit below, so it is set first.  It must always be set: with none, OpenSSL 3.0
            # hashes an empty ID into Z, not the GM/T 0009 default.
            if lib.EVP_PKEY_CTX_set1_id(pctx, uid, len(uid)) != 1:
                return False
            lib.EVP_MD_CTX_set_pkey_ctx(mctx, pctx)
            lib.EVP_MD_CTX_set_flags(mctx, _EVP_MD_CTX_FLAG_FINALISE)
            if lib.EVP_DigestVerifyInit(mctx, None, lib.sm3, None, pkey) != 1:
                return False
            return lib.EVP_DigestVerify(mctx, der, len(der), data, len(data)) == 1
        finally:
            if mctx:
                lib.EVP_MD_CTX_free(mctx)  # does not free pctx: set_pkey_ctx leaves it to us
            if pctx:
                lib.EVP_PKEY_CTX_free(pctx)
            lib.ERR_clear_error()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sm2PublicKey) and other._spki == self._spki

    def __hash__(self) -> int:
        return hash(self._spki)

    def __repr__(self) -> str:
        return f"Sm2PublicKey({self._spki[-64:-32].hex()[:16]}...)"


class Sm2PrivateKey(_Key):
    """An SM2 private key, for signing."""

    __slots__ = ()

    @classmethod
    def generate(cls) -> Sm2PrivateKey:
        """A fresh random key on the SM2 curve."""
        lib = _lib()
        ctx = lib.EVP_PKEY_CTX_new_from_name(None, b"SM2", None)
        if not ctx:
            raise _ossl_error(lib, "SM2 key generation unavailable")
        pkey = c_void_p()
        try:
            if lib.EVP_PKEY_keygen_init(ctx) != 1 or lib.EVP_PKEY_keygen(ctx, byref(pkey)) != 1:
                raise _ossl_error(lib, "SM2 key generation failed")
        finally:
            lib.EVP_PKEY_CTX_free(ctx)
        cls._check_sm2(lib, pkey.value, "generated key")
        return cls(pkey.value)

    @classmethod
    def from_pem(cls, pem: bytes, password: bytes | None = None) -> Sm2PrivateKey:
        """Load a PKCS#8 PEM as ``openssl genpkey -algorithm SM2`` writes (encrypted PKCS#8 with ``password``;
        SEC1 ``EC``/``SM2 PRIVATE KEY`` also loads).

        Never prompts: an encrypted key without ``password`` raises `Sm2Error`."""
        lib = _lib()
        pem = _as_bytes(pem)
        secret = None if password is None else _as_bytes(password)

        def give_password(buf: int | None, size: int, _rwflag: int, _u: int | None) -> int:
            if secret is None or len(secret) > size or not buf:
                return -1
            ctypes.memmove(buf, secret, len(secret))
            return len(secret)

        callback = _PEM_CB(give_password)
        bio = _mem_bio(lib, pem)
        try:
            pkey = lib.PEM_read_bio_PrivateKey(bio, None, callback, None)
        finally:
            lib.BIO_free(bio)
        if not pkey:
            raise _ossl_error(lib, "private key PEM: cannot decode (malformed, or wrong/missing password)")
        cls._check_sm2(lib, pkey, "private key PEM")
        return cls(pkey)

    def to_pem(self) -> bytes:
        """Unencrypted PKCS#8 ``-----BEGIN PRIVATE KEY-----`` PEM."""
        lib = _lib()
        return _write_bio(lib, lib.PEM_write_bio_PKCS8PrivateKey, self._pkey, None, None, 0, None, None)

    def public_key(self) -> Sm2PublicKey:
        """The matching public key."""
        return Sm2PublicKey.from_spki_der(_spki_der(_lib(), self._pkey))

    def sign(self, data: bytes, uid: bytes = DEFAULT_UID) -> bytes:
        """Sign ``data`` as signer ``uid`` with SM2/SM3; returns raw ``r || s`` (64 bytes)."""
        lib = _lib()
        data = _as_bytes(data)
        uid = _as_bytes(uid)
        if len(uid) > _MAX_UID:
            raise Sm2Error(f"uid longer than {_MAX_UID} bytes")
        pkey = self._pkey
        mctx = lib.EVP_MD_CTX_new()
        pctx = lib.EVP_PKEY_CTX_new(pkey, None)
        try:
            if not mctx or not pctx:
                raise _ossl_error(lib, "out of memory")
            if lib.EVP_PKEY_CTX_set1_id(pctx, uid, len(uid)) != 1:
                raise _ossl_error(lib, "cannot set SM2 distinguishing ID")
            lib.EVP_MD_CTX_set_pkey_ctx(mctx, pctx)
            lib.EVP_MD_CTX_set_flags(mctx, _EVP_MD_CTX_FLAG_FINALISE)
            if lib.EVP_DigestSignInit(mctx, None, lib.sm3, None, pkey) != 1:
                raise _ossl_error(lib, "EVP_DigestSignInit failed")
            buf = ctypes.create_string_buffer(_SIG_BUF)
            size = c_size_t(_SIG_BUF)
            if lib.EVP_DigestSign(mctx, buf, byref(size), data, len(data)) != 1:
                raise _ossl_error(lib, "SM2 signing failed")
        finally:
            if mctx:
                lib.EVP_MD_CTX_free(mctx)
            if pctx:
                lib.EVP_PKEY_CTX_free(pctx)
        r, s = decode_dss_signature(buf.raw[: size.value])
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def __repr__(self) -> str:
        return "Sm2PrivateKey(...)"
