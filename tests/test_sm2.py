"""SM2 signatures through the system libcrypto: round trips, rejections, a published known-answer vector
and interop with the `openssl` command line in both directions."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.crypto import sm2
from kiosk.crypto.sm2 import DEFAULT_UID, Sm2Error, Sm2PrivateKey, Sm2PublicKey, is_sm2_pem

pytestmark = pytest.mark.skipif(not sm2.available(), reason="no OpenSSL 3 libcrypto with SM2 on this system")

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="`openssl` command-line tool not installed")

SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")

# Known answer: GM/T 0003.5-2012 / GB/T 32918.5-2017 Annex A, the signature example on the standard SM2
# curve (not the Part 2 test curve), with the GM/T 0009 default ID.  OpenSSL checks the same numbers in
# test/sm2_internal_test.c (sm2_sig_test).  The Verify vectors in OpenSSL's evppkey_sm2.txt are on the
# pre-hashed e = SM3(Z || M), so they cannot go through a message-level API.
KAT_D = bytes.fromhex("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8")
KAT_X = bytes.fromhex("09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020")
KAT_Y = bytes.fromhex("CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13")
KAT_MSG = b"message digest"
KAT_SIG = bytes.fromhex(
    "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
    "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
)
KAT_SPKI = SPKI_PREFIX + b"\x04" + KAT_X + KAT_Y


def _pem(label: str, der: bytes) -> bytes:
    body = base64.encodebytes(der).replace(b"\n", b"")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return b"\n".join([f"-----BEGIN {label}-----".encode(), *lines, f"-----END {label}-----".encode(), b""])


def _kat_private_pem() -> bytes:
    """PKCS#8 holding only the scalar d (no public key: OpenSSL derives it)."""
    ec_private = bytes.fromhex("30250201010420") + KAT_D
    algid = bytes.fromhex("301306072a8648ce3d020106082a811ccf5501822d")
    body = bytes.fromhex("020100") + algid + bytes([0x04, len(ec_private)]) + ec_private
    return _pem("PRIVATE KEY", bytes([0x30, len(body)]) + body)


def _raw_to_der(raw: bytes) -> bytes:
    return encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))


def _der_to_raw(der: bytes) -> bytes:
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _p256() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def key() -> Sm2PrivateKey:
    return Sm2PrivateKey.generate()


@pytest.fixture(scope="module")
def pub(key: Sm2PrivateKey) -> Sm2PublicKey:
    return key.public_key()


# --------------------------------------------------------------------------------------------------
# round trips


def test_available() -> None:
    assert sm2.available() is True


def test_sign_verify_round_trip(key: Sm2PrivateKey, pub: Sm2PublicKey) -> None:
    data = b"PHIC payload \x00\x01\x02"
    sig = key.sign(data)
    assert isinstance(sig, bytes) and len(sig) == 64
    assert pub.verify(sig, data)
    assert pub.verify(sig, data, uid=DEFAULT_UID)
    other = key.sign(data)
    assert other != sig  # SM2 signing is randomised
    assert pub.verify(other, data)


@pytest.mark.parametrize("data", [b"", b"x", bytes(range(256)) * 4096], ids=["empty", "one", "1MiB"])
def test_round_trip_sizes(key: Sm2PrivateKey, pub: Sm2PublicKey, data: bytes) -> None:
    assert pub.verify(key.sign(data), data)


def test_bytes_like_arguments(key: Sm2PrivateKey, pub: Sm2PublicKey) -> None:
    data = b"bytes-like"
    sig = key.sign(bytearray(data), uid=memoryview(DEFAULT_UID))
    assert pub.verify(bytearray(sig), memoryview(data), uid=bytearray(DEFAULT_UID))


def test_custom_and_empty_uid(key: Sm2PrivateKey, pub: Sm2PublicKey) -> None:
    data = b"with a signer ID"
    for uid in (b"alice@example.org", b"", b"\x00" * 100):
        sig = key.sign(data, uid=uid)
        assert pub.verify(sig, data, uid=uid)
        assert not pub.verify(sig, data)  # Z differs from the default-ID one


def test_uid_too_long(key: Sm2PrivateKey, pub: Sm2PublicKey) -> None:
    with pytest.raises(Sm2Error):
        key.sign(b"data", uid=b"u" * 8192)
    assert not pub.verify(key.sign(b"data"), b"data", uid=b"u" * 8192)


@settings(max_examples=25, deadline=None)
@given(data=st.binary(max_size=300), uid=st.binary(min_size=1, max_size=40))
def test_round_trip_property(key: Sm2PrivateKey, pub: Sm2PublicKey, data: bytes, uid: bytes) -> None:
    sig = key.sign(data, uid=uid)
    assert pub.verify(sig, data, uid=uid)
    assert not pub.verify(sig, data + b"!", uid=uid)


# --------------------------------------------------------------------------------------------------
# verification failures: all False, never an exception


def test_tampered_data(key: Sm2PrivateKey, pub: Sm2PublicKey) -> None:
    data = b"vaccination record 2021-06-01"
    sig = key.sign(data)
    flipped = bytes([data[0] ^ 1]) + data[1:]
    for bad in (flipped, data + b"x", data[:-1], b"", data.upper()):
        assert not pub.verify(sig, bad)


@pytest.mark.parametrize("pos", [0, 1, 31, 32, 33, 63])
def test_tampered_signature(key: Sm2PrivateKey, pub: Sm2PublicKey, pos: int) -> None:
    data = b"tamper me"
    sig = bytearray(key.sign(data))
    sig[pos] ^= 0x01
    assert not pub.verify(bytes(sig), data)


def test_wrong_key(key: Sm2PrivateKey) -> None:
    data = b"signed by someone else"
    other = Sm2PrivateKey.generate().public_key()
    assert other != key.public_key()
    assert not other.verify(key.sign(data), data)


def test_wrong_uid(key: Sm2PrivateKey, pub: Sm2PublicKey) -> None:
    data = b"uid matters"
    sig = key.sign(data)
    for uid in (b"1234567812345679", b"123456781234567", b"", b"alice"):
        assert not pub.verify(sig, data, uid=uid)


def test_wrong_lengths(key: Sm2PrivateKey, pub: Sm2PublicKey) -> None:
    data = b"length"
    sig = key.sign(data)
    for bad in (b"", sig[:1], sig[:63], sig + b"\x00", b"\x00" + sig, sig * 2):
        assert not pub.verify(bad, data)
    # The DER form OpenSSL uses is not accepted on this API.
    assert not pub.verify(_raw_to_der(sig), data)


def test_garbage_signatures(key: Sm2PrivateKey, pub: Sm2PublicKey) -> None:
    data = b"garbage"
    sig = key.sign(data)
    r, s = sig[:32], sig[32:]
    n = SM2_N.to_bytes(32, "big")
    for bad in (
        bytes(64),
        b"\xff" * 64,
        bytes(32) + s,  # r = 0
        r + bytes(32),  # s = 0
        n + s,  # r = n
        r + n,  # s = n
        s + r,
        os.urandom(64),
    ):
        assert not pub.verify(bad, data)
    for wrong_type in (None, "a" * 64, 64, 3.5):
        assert not pub.verify(wrong_type, data)  # type: ignore[arg-type]


@settings(max_examples=50, deadline=None)
@given(sig=st.binary(max_size=80))
def test_random_signatures_rejected(pub: Sm2PublicKey, sig: bytes) -> None:
    assert pub.verify(sig, b"random") is False


def test_threads(key: Sm2PrivateKey, pub: Sm2PublicKey) -> None:
    msgs = [f"message {i}".encode() for i in range(16)]
    sigs = [key.sign(m) for m in msgs]
    errors: list[str] = []

    def worker(t: int) -> None:
        try:
            for i in range(40):
                j = (i + t) % len(msgs)
                if not pub.verify(sigs[j], msgs[j]):
                    errors.append(f"good signature {j} rejected")
                if pub.verify(sigs[j], msgs[(j + 1) % len(msgs)]):
                    errors.append(f"bad signature {j} accepted")
                if i % 10 == 0 and not pub.verify(key.sign(msgs[j]), msgs[j]):
                    errors.append("fresh signature rejected")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []


# --------------------------------------------------------------------------------------------------
# known answer (standard curve)


def test_known_answer_verifies() -> None:
    pub = Sm2PublicKey.from_spki_der(KAT_SPKI)
    assert pub.verify(KAT_SIG, KAT_MSG)
    assert pub.verify(KAT_SIG, KAT_MSG, uid=b"1234567812345678")
    assert not pub.verify(KAT_SIG, KAT_MSG, uid=b"ALICE123@YAHOO.COM")
    assert not pub.verify(KAT_SIG, b"message digesT")
    assert not pub.verify(
        KAT_SIG[:32] + (int.from_bytes(KAT_SIG[32:], "big") + 1).to_bytes(32, "big"), KAT_MSG
    )


def test_known_answer_private_key_matches_public() -> None:
    priv = Sm2PrivateKey.from_pem(_kat_private_pem())
    assert priv.public_key().spki_der() == KAT_SPKI
    sig = priv.sign(KAT_MSG)
    assert Sm2PublicKey.from_spki_der(KAT_SPKI).verify(sig, KAT_MSG)


# --------------------------------------------------------------------------------------------------
# key encodings


def test_spki_der_round_trip(pub: Sm2PublicKey) -> None:
    der = pub.spki_der()
    assert len(der) == 91 and der.startswith(SPKI_PREFIX)
    again = Sm2PublicKey.from_spki_der(der)
    assert again.spki_der() == der
    assert again == pub and hash(again) == hash(pub)


def test_public_pem_round_trip(key: Sm2PrivateKey, pub: Sm2PublicKey) -> None:
    pem = pub.to_pem()
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----\n")
    again = Sm2PublicKey.from_pem(pem)
    assert again.spki_der() == pub.spki_der()
    assert again.verify(key.sign(b"pem"), b"pem")
    assert Sm2PublicKey.from_pem(_pem("PUBLIC KEY", pub.spki_der())) == pub


def test_private_pem_round_trip(key: Sm2PrivateKey, pub: Sm2PublicKey) -> None:
    pem = key.to_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    again = Sm2PrivateKey.from_pem(pem)
    assert again.to_pem() == pem
    assert again.public_key() == pub
    assert pub.verify(again.sign(b"reloaded"), b"reloaded")


def test_from_spki_der_rejects_p256() -> None:
    der = (
        _p256()
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(Sm2Error, match="not an SM2 key"):
        Sm2PublicKey.from_spki_der(der)


def test_from_spki_der_rejects_garbage(pub: Sm2PublicKey) -> None:
    der = pub.spki_der()
    off_curve = der[:-1] + bytes([der[-1] ^ 1])
    sm2_oid_as_algorithm = bytes.fromhex("3056300a06082a811ccf5501822d034200") + der[-65:]
    for bad in (
        b"",
        b"\x30",
        b"\x00" * 91,
        os.urandom(91),
        der[:-1],
        der + b"\x00",
        off_curve,
        sm2_oid_as_algorithm,
        SPKI_PREFIX + b"\x04" + bytes(64),  # point (0, 0)
    ):
        with pytest.raises(Sm2Error):
            Sm2PublicKey.from_spki_der(bad)


def test_public_from_pem_rejects(key: Sm2PrivateKey) -> None:
    p256_pub = (
        _p256()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    for bad in (
        p256_pub,
        key.to_pem(),
        b"",
        b"not a pem",
        b"-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----\n",
    ):
        with pytest.raises(Sm2Error):
            Sm2PublicKey.from_pem(bad)


def test_private_from_pem_rejects(pub: Sm2PublicKey) -> None:
    p256 = _p256()
    p256_pkcs8 = p256.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    p256_sec1 = p256.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    garbled = b"-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqBHM9V\n-----END PRIVATE KEY-----\n"
    for bad in (p256_pkcs8, p256_sec1, pub.to_pem(), b"", b"garbage", garbled):
        with pytest.raises(Sm2Error):
            Sm2PrivateKey.from_pem(bad)


def test_is_sm2_pem(key: Sm2PrivateKey, pub: Sm2PublicKey) -> None:
    assert is_sm2_pem(key.to_pem())
    assert is_sm2_pem(pub.to_pem())
    assert is_sm2_pem(key.to_pem().decode())  # type: ignore[arg-type]
    assert is_sm2_pem(_kat_private_pem())
    p256 = _p256()
    for fmt in (serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL):
        assert not is_sm2_pem(
            p256.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())
        )
    assert not is_sm2_pem(
        p256.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    assert not is_sm2_pem(
        p256.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        )
    )
    for junk in (b"", b"hello", b"-----BEGIN PUBLIC KEY-----\n****\n-----END PUBLIC KEY-----\n", None):
        assert not is_sm2_pem(junk)  # type: ignore[arg-type]


def test_many_keys_freed() -> None:
    der = KAT_SPKI
    for _ in range(500):
        assert Sm2PublicKey.from_spki_der(der).verify(KAT_SIG, KAT_MSG)


def test_library_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sm2, "_lib_cache", None)
    monkeypatch.setattr(sm2, "_lib_failure", None)
    monkeypatch.setattr(sm2, "_candidates", lambda: ["libcrypto-does-not-exist.so.99"])
    assert sm2.available() is False
    with pytest.raises(Sm2Error, match="not available"):
        Sm2PublicKey.from_spki_der(KAT_SPKI)
    with pytest.raises(Sm2Error, match="not available"):
        Sm2PrivateKey.generate()


# --------------------------------------------------------------------------------------------------
# interop with the openssl command line


def _openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    assert OPENSSL is not None
    return subprocess.run(
        [OPENSSL, *map(str, args)], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60
    )


def _openssl_ok(*args: str | Path) -> None:
    proc = _openssl(*args)
    assert proc.returncode == 0, f"openssl {' '.join(map(str, args))}: {proc.stderr}"


@pytest.fixture()
def cli_key(tmp_path: Path) -> Path:
    if OPENSSL is None:
        pytest.skip("`openssl` command-line tool not installed")
    path = tmp_path / "key.pem"
    _openssl_ok("genpkey", "-algorithm", "SM2", "-out", path)
    return path


@needs_openssl
def test_openssl_genpkey_key_loads(cli_key: Path, tmp_path: Path) -> None:
    pem = cli_key.read_bytes()
    assert is_sm2_pem(pem)
    key = Sm2PrivateKey.from_pem(pem)
    spki = tmp_path / "pub.der"
    _openssl_ok("pkey", "-in", cli_key, "-pubout", "-outform", "DER", "-out", spki)
    assert key.public_key().spki_der() == spki.read_bytes()
    pub_pem = tmp_path / "pub.pem"
    _openssl_ok("pkey", "-in", cli_key, "-pubout", "-out", pub_pem)
    assert Sm2PublicKey.from_pem(pub_pem.read_bytes()) == key.public_key()
    assert is_sm2_pem(pub_pem.read_bytes())


def _openssl_verify(tmp_path: Path, pub: Sm2PublicKey, raw_sig: bytes, data: bytes, distid: str) -> bool:
    (tmp_path / "pub.pem").write_bytes(pub.to_pem())
    (tmp_path / "msg.bin").write_bytes(data)
    (tmp_path / "sig.der").write_bytes(_raw_to_der(raw_sig))
    proc = _openssl(
        "pkeyutl", "-verify", "-pubin", "-inkey", tmp_path / "pub.pem", "-rawin", "-digest", "sm3",
        "-pkeyopt", f"distid:{distid}", "-in", tmp_path / "msg.bin", "-sigfile", tmp_path / "sig.der",
    )  # fmt: skip
    assert proc.returncode == 0 or "Verification Failure" in proc.stdout + proc.stderr, proc.stderr
    return proc.returncode == 0 and "Signature Verified Successfully" in proc.stdout


@needs_openssl
def test_our_signature_verifies_with_openssl(cli_key: Path, tmp_path: Path) -> None:
    key = Sm2PrivateKey.from_pem(cli_key.read_bytes())
    pub = key.public_key()
    data = b"signed in Python, checked by openssl pkeyutl"
    sig = key.sign(data)
    assert _openssl_verify(tmp_path, pub, sig, data, "1234567812345678")
    # openssl really hashes the ID into Z: another ID or other data fails there too.
    assert not _openssl_verify(tmp_path, pub, sig, data, "1234567812345679")
    assert not _openssl_verify(tmp_path, pub, sig, data + b".", "1234567812345678")
    custom = key.sign(data, uid=b"alice@example.org")
    assert _openssl_verify(tmp_path, pub, custom, data, "alice@example.org")
    assert not _openssl_verify(tmp_path, pub, custom, data, "1234567812345678")


@needs_openssl
@pytest.mark.parametrize("distid", ["1234567812345678", "alice@example.org"])
def test_openssl_signature_verifies_with_ours(cli_key: Path, tmp_path: Path, distid: str) -> None:
    data = b"signed by openssl pkeyutl, checked in Python"
    msg, sig_path = tmp_path / "msg.bin", tmp_path / "sig.der"
    msg.write_bytes(data)
    _openssl_ok(
        "pkeyutl", "-sign", "-inkey", cli_key, "-rawin", "-digest", "sm3",
        "-pkeyopt", f"distid:{distid}", "-in", msg, "-out", sig_path,
    )  # fmt: skip
    sig = _der_to_raw(sig_path.read_bytes())
    pub = Sm2PrivateKey.from_pem(cli_key.read_bytes()).public_key()
    assert pub.verify(sig, data, uid=distid.encode())
    assert pub.verify(sig, data) is (distid == "1234567812345678")
    assert not pub.verify(sig, data, uid=b"someone else")
    assert not pub.verify(sig, data + b"!", uid=distid.encode())


@needs_openssl
def test_openssl_encrypted_pkcs8(cli_key: Path, tmp_path: Path) -> None:
    enc = tmp_path / "enc.pem"
    _openssl_ok(
        "pkcs8", "-topk8", "-in", cli_key, "-v2", "aes-256-cbc", "-passout", "pass:s3cret", "-out", enc
    )
    pem = enc.read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    plain = Sm2PrivateKey.from_pem(cli_key.read_bytes())
    assert Sm2PrivateKey.from_pem(pem, password=b"s3cret").public_key() == plain.public_key()
    with pytest.raises(Sm2Error):
        Sm2PrivateKey.from_pem(pem)  # no password: error, never a terminal prompt
    with pytest.raises(Sm2Error):
        Sm2PrivateKey.from_pem(pem, password=b"wrong")
    assert not is_sm2_pem(pem)  # the algorithm is hidden inside the encryption


@needs_openssl
def test_openssl_sec1_key_loads(cli_key: Path, tmp_path: Path) -> None:
    sec1 = tmp_path / "sec1.pem"
    _openssl_ok("ec", "-in", cli_key, "-out", sec1)
    pem = sec1.read_bytes()
    assert is_sm2_pem(pem)
    assert (
        Sm2PrivateKey.from_pem(pem).public_key() == Sm2PrivateKey.from_pem(cli_key.read_bytes()).public_key()
    )
