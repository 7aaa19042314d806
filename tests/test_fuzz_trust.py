"""Fuzzing the trust-list readers in `kiosk.trust.sources`: whatever bytes arrive, a parser returns a
clean `Source` (only for a list its signer really made) or raises `TrustError` with a message, never
another exception type.

- Random bytes; truncations and bit flips of the real DSC list, the real VCI snapshot (data, detached
  signature and certificate) and a freshly signed PHIC bundle: a mutant may only be accepted if it
  decodes to exactly the signed bytes and signature of the original (e.g. unused Base64 bits).
- Signed but malformed lists (wrong types in each field, signed with a real key): `TrustError` that
  names the field, or for the lists that skip bad entries, a `Source` whose entries are all clean
  (typed as the store expects, real Unicode, integers SQLite can hold).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from kiosk.codes.model import Format
from kiosk.crypto import sm2
from kiosk.crypto.jws import sign_compact
from kiosk.crypto.keys import (
    EcP256SigningKey,
    b64url_decode,
    b64url_encode,
    jwk_thumbprint,
    public_key_from_pem,
)
from kiosk.issuer import keys as issuer_keys
from kiosk.issuer.bundle import make_bundle
from kiosk.trust import sources
from kiosk.trust.sources import Source, TrustError

CORPORA = Path(__file__).resolve().parents[1].parent / "shared/corpora"
needs_corpora = pytest.mark.skipif(
    not CORPORA.is_dir(), reason=f"outside test corpora not found at {CORPORA} (see shared/corpora/README.md)"
)
needs_sm2 = pytest.mark.skipif(not sm2.available(), reason="no OpenSSL 3 libcrypto with SM2 on this system")

# Profile for this module only: reproducible, no example database, generous per-example deadline.
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=dt.timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def fuzz(max_examples: int) -> settings:
    return settings(FUZZ, max_examples=max_examples)


NOW = 1_700_000_000
INT64 = 2**63

any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=30)  # lone surrogates too
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), any_text),
    lambda ch: st.lists(ch, max_size=4) | st.dictionaries(any_text, ch, max_size=4),
    max_leaves=15,
)


# --- what every outcome must look like ---------------------------------------------------------------


def unicode_text(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def sql_int(value: Any) -> bool:
    return type(value) is int and -INT64 <= value < INT64


def assert_clean_source(source: Any) -> Source:
    """Typed as the trust store writes it: SQLite needs UTF-8-encodable text and 64-bit integers."""
    assert isinstance(source, Source), type(source)
    for value in (source.signed_at, source.valid_until):
        assert sql_int(value)
    assert source.seq is None or sql_int(source.seq)
    for k in source.keys:
        assert isinstance(k.format, Format)
        assert isinstance(k.kid, bytes) and k.kid
        assert unicode_text(k.issuer), k.issuer
        assert isinstance(k.spki, bytes) and isinstance(k.alg, str)
        assert k.name is None or unicode_text(k.name), k.name
        assert k.cert is None or isinstance(k.cert, bytes)
        assert k.usages is None or (
            isinstance(k.usages, frozenset) and all(isinstance(u, str) for u in k.usages)
        )
        assert k.not_before is None or sql_int(k.not_before)
        assert k.not_after is None or sql_int(k.not_after)
    for row in source.shc_revocations:
        kid, rid, cutoff = row
        assert unicode_text(kid) and unicode_text(rid), row
        assert cutoff is None or sql_int(cutoff), row
    for line in source.skipped:
        assert isinstance(line, str)
    return source


def parse(fn, *args: Any) -> Source | None:
    """A clean Source, or None after a TrustError with a message; any other exception fails the test."""
    try:
        source = fn(*args)
    except TrustError as exc:
        assert str(exc).strip()
        return None
    return assert_clean_source(source)


def bit_flip(data: bytes, pos: int, bit: int) -> bytes:
    pos %= len(data)
    return data[:pos] + bytes((data[pos] ^ (1 << bit),)) + data[pos + 1 :]


# --- DSC list -----------------------------------------------------------------------------------------


@functools.cache
def dsc() -> tuple[bytes, Any]:
    base = CORPORA / "dsc-list"
    return (base / "dsc-list.json").read_bytes(), public_key_from_pem(
        (base / "dsc-list-signing-key.pem").read_bytes()
    )


def dsc_signed(data: bytes) -> tuple | None:
    """(signature, signed bytes) as the parser reads them."""
    first, _, rest = data.partition(b"\n")
    try:
        return base64.b64decode(first.strip(), validate=True), rest
    except ValueError:
        return None


def check_dsc_mutant(mutant: bytes) -> None:
    data, key = dsc()
    if parse(sources.dsc_list, mutant, key) is not None:
        assert dsc_signed(mutant) == dsc_signed(data), "a modified DSC list was accepted"


@needs_corpora
def test_real_dsc_list_parses():
    data, key = dsc()
    source = parse(sources.dsc_list, data, key)
    assert source is not None and len(source.keys) > 800


@needs_corpora
@fuzz(30)
@given(st.integers(0, 4_000_000))
def test_dsc_list_truncated(n):
    data, _ = dsc()
    check_dsc_mutant(data[: n % len(data)])


@needs_corpora
def test_dsc_list_truncated_at_the_edges():
    data, _ = dsc()
    line = data.index(b"\n")
    for n in (0, 1, line - 1, line, line + 1, line + 2, len(data) - 2, len(data) - 1):
        check_dsc_mutant(data[:n])


@needs_corpora
@fuzz(30)
@given(st.integers(0, 4_000_000), st.integers(0, 7))
def test_dsc_list_bit_flip_anywhere(pos, bit):
    data, _ = dsc()
    check_dsc_mutant(bit_flip(data, pos, bit))


@needs_corpora
@fuzz(40)
@given(st.integers(0, 100), st.integers(0, 7))
def test_dsc_list_bit_flip_in_signature_line(pos, bit):
    data, _ = dsc()
    check_dsc_mutant(bit_flip(data, pos % (data.index(b"\n") + 2), bit))


@fuzz(60)
@given(st.binary(max_size=2000) | st.binary(max_size=60).map(lambda b: base64.b64encode(b) + b"\n" + b))
def test_dsc_list_random_bytes(data):
    key = EcP256SigningKey.generate().public_key()
    with pytest.raises(TrustError):
        sources.dsc_list(data, key)


@functools.cache
def own_list_key() -> EcP256SigningKey:
    return EcP256SigningKey.generate()


@functools.cache
def real_dsc_entries() -> list[dict]:
    if not CORPORA.is_dir():
        return []
    data, _ = dsc()
    return json.loads(data.partition(b"\n")[2])["certificates"][:3]


def sign_dsc(doc: Any) -> bytes:
    rest = json.dumps(doc).encode()
    return base64.b64encode(own_list_key().sign(rest)) + b"\n" + rest


DSC_FIELDS = ["certificateType", "country", "kid", "rawData", "timestamp", "thumbprint"]


@st.composite
def malformed_dsc_docs(draw) -> Any:
    entries = [dict(e) for e in real_dsc_entries()]
    choice = draw(
        st.sampled_from(["doc", "certificates", "entry", "field"] if entries else ["doc", "certificates"])
    )
    if choice == "doc":
        return draw(json_values)
    if choice == "certificates":
        return {"certificates": draw(json_values)}
    i = draw(st.integers(0, len(entries) - 1))
    if choice == "entry":
        entries[i] = draw(json_values)
    else:
        entries[i][draw(st.sampled_from(DSC_FIELDS))] = draw(json_values)
    return {"certificates": entries}


@fuzz(60)
@given(malformed_dsc_docs())
def test_signed_but_malformed_dsc_list(doc):
    """Signed with a real key (the parser is given its public key), so the content is what is tested."""
    parse(sources.dsc_list, sign_dsc(doc), own_list_key().public_key())


# --- VCI snapshot -------------------------------------------------------------------------------------


@functools.cache
def vci() -> tuple[bytes, bytes, bytes]:
    base = CORPORA / "vci"
    return tuple((base / f"vci_snapshot.{ext}").read_bytes() for ext in ("json", "sig", "crt"))


def cert_key(certificate: bytes) -> bytes | None:
    try:
        cert = (
            x509.load_pem_x509_certificate(certificate)
            if b"-----BEGIN" in certificate
            else x509.load_der_x509_certificate(certificate)
        )
        return cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    except Exception:
        return None


def vci_sig(signature: bytes) -> tuple | None:
    try:
        return decode_dss_signature(signature)
    except ValueError:
        return None


def check_vci_mutant(data: bytes, signature: bytes, certificate: bytes) -> None:
    if parse(sources.vci_snapshot, data, signature, certificate) is not None:
        d0, s0, c0 = vci()
        # The certificate is the caller's trust anchor: flips outside its key (e.g. in the CA's own
        # signature over it) leave the key as it was, and may be accepted.
        assert (data, vci_sig(signature), cert_key(certificate)) == (d0, vci_sig(s0), cert_key(c0))


@needs_corpora
def test_real_vci_snapshot_parses():
    source = parse(sources.vci_snapshot, *vci())
    assert source is not None and len(source.keys) > 900


@needs_corpora
@fuzz(60)
@given(st.sampled_from([0, 1, 2]), st.integers(0, 1_000_000))
def test_vci_snapshot_truncated(which, n):
    parts = list(vci())
    parts[which] = parts[which][: n % len(parts[which])]
    check_vci_mutant(*parts)


@needs_corpora
@fuzz(150)
@given(st.sampled_from([0, 1, 1, 2, 2]), st.integers(0, 1_000_000), st.integers(0, 7))
def test_vci_snapshot_bit_flip(which, pos, bit):
    parts = list(vci())
    parts[which] = bit_flip(parts[which], pos, bit)
    check_vci_mutant(*parts)


@needs_corpora
@fuzz(60)
@given(st.sampled_from([0, 1, 2]), st.binary(max_size=1500))
def test_vci_snapshot_random_parts(which, junk):
    parts = list(vci())
    parts[which] = junk
    check_vci_mutant(*parts)


@functools.cache
def own_vci_signer() -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    """A P-521 key and a self-signed certificate for it, PEM, like the VCI directory's."""
    key = ec.generate_private_key(ec.SECP521R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fuzz VCI directory")])
    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=3650))
        .sign(key, hashes.SHA512())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


@functools.cache
def real_vci_infos() -> list[dict]:
    if not CORPORA.is_dir():
        return [{"issuer": {"iss": "https://issuer.example", "name": "Example"}, "keys": [], "crls": []}]
    infos = json.loads(vci()[0])["issuerInfo"]
    with_crl = [i for i in infos if i.get("crls")][:1]
    return infos[:2] + with_crl


VCI_FIELDS = [
    "issuer",
    "issuer.iss",
    "issuer.name",
    "keys",
    "keys.0",
    "keys.0.kid",
    "keys.0.x",
    "crls",
    "crls.0",
]
VCI_FIELDS += ["crls.0.kid", "crls.0.rids", "crls.0.rids.0", "crls.0.method"]


def set_path(doc: Any, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for p in parents:
        doc = doc[int(p)] if isinstance(doc, list) else doc.setdefault(p, {})
    if isinstance(doc, list):
        if doc:
            doc[int(last)] = value
        else:
            doc.append(value)
    else:
        doc[last] = value


@st.composite
def malformed_vci_docs(draw) -> Any:
    infos = json.loads(json.dumps(real_vci_infos()))
    doc = {"directory": "fuzz", "time": "2023-11-14T22:13:20Z", "issuerInfo": infos}
    choice = draw(st.sampled_from(["doc", "time", "issuerInfo", "info", "field", "field"]))
    if choice == "doc":
        return draw(json_values)
    if choice in ("time", "issuerInfo"):
        doc[choice] = draw(json_values)
        return doc
    i = draw(st.integers(0, len(infos) - 1))
    if choice == "info":
        infos[i] = draw(json_values)
        return doc
    path = draw(st.sampled_from(VCI_FIELDS))
    if path.startswith("crls.0.rids.0"):
        value = draw(
            json_values | st.from_regex(r"\A[A-Za-z0-9_-]{1,8}\.[0-9\u0660-\u0669\u00b2\u00b9]{1,30}\Z")
        )
    else:
        value = draw(json_values)
    try:
        set_path(infos[i], path, value)
    except (TypeError, ValueError, IndexError, AttributeError, KeyError):
        infos[i] = value
    return doc


@fuzz(80)
@given(malformed_vci_docs())
def test_signed_but_malformed_vci_snapshot(doc):
    key, cert = own_vci_signer()
    data = json.dumps(doc).encode()
    parse(sources.vci_snapshot, data, key.sign(data, ec.ECDSA(hashes.SHA512())), cert)


def own_vci_info() -> dict:
    key = EcP256SigningKey.generate().key.public_key().public_numbers()
    jwk = {"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256"}
    jwk |= {"x": b64url_encode(key.x.to_bytes(32, "big")), "y": b64url_encode(key.y.to_bytes(32, "big"))}
    jwk["kid"] = jwk_thumbprint(jwk)
    crl = {"kid": jwk["kid"], "method": "rid", "ctr": 1, "rids": ["abc", "def.1700000000"]}
    return {"issuer": {"iss": "https://issuer.example", "name": "Example"}, "keys": [jwk], "crls": [crl]}


# Found by this suite (each raised an exception other than TrustError, or made a Source the store
# cannot write): crls not an array, name not a string, a JWK coordinate that is a list, a lone
# surrogate in iss, a cutoff in superscript digits.
VCI_REGRESSIONS = {
    "crls is a number": lambda i: i.__setitem__("crls", 5),
    "name is a list": lambda i: i["issuer"].__setitem__("name", []),
    "jwk x is a list": lambda i: i["keys"][0].__setitem__("x", []),
    "jwk y is an object": lambda i: i["keys"][0].__setitem__("y", {"a": 1}),
    "iss has a lone surrogate": lambda i: i["issuer"].__setitem__("iss", "https://issuer.example/\udc00"),
    "superscript cutoff": lambda i: i["crls"][0]["rids"].append("ghi.\u00b2"),
    "huge cutoff": lambda i: i["crls"][0]["rids"].append("ghi." + "9" * 40),
    "unchanged": lambda i: None,
}


@pytest.mark.parametrize("mutation", VCI_REGRESSIONS)
def test_signed_vci_snapshot_regressions(mutation):
    info = own_vci_info()
    VCI_REGRESSIONS[mutation](info)
    data = json.dumps({"directory": "fuzz", "time": "2023-11-14T22:13:20Z", "issuerInfo": [info]}).encode()
    key, cert = own_vci_signer()
    source = parse(sources.vci_snapshot, data, key.sign(data, ec.ECDSA(hashes.SHA512())), cert)
    assert source is not None  # the snapshot itself is fine; bad entries are skipped or cleaned
    if mutation == "unchanged":
        assert len(source.keys) == 1 and len(source.shc_revocations) == 2


def test_vci_certificate_with_a_bad_version():
    """A certificate whose version field was flipped raised cryptography's InvalidVersion."""
    key, cert = own_vci_signer()
    der = x509.load_pem_x509_certificate(cert).public_bytes(serialization.Encoding.DER)
    bad = der.replace(b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x0a", 1)  # [0] INTEGER 2 -> 10
    assert bad != der
    data = b'{"time": "2023-11-14T22:13:20Z", "issuerInfo": []}'
    with pytest.raises(TrustError):
        sources.vci_snapshot(data, key.sign(data, ec.ECDSA(hashes.SHA512())), bad)


# --- JWKS and revocation lists (fetched from the issuer, not signed) -------------------------------


@functools.cache
def real_jwks() -> bytes:
    if not CORPORA.is_dir():
        return b'{"keys": []}'
    return (CORPORA / "shc/spec-examples/issuer/.well-known/jwks.json").read_bytes()


rid_values = st.from_regex(r"\A[A-Za-z0-9_-]{1,8}\Z", fullmatch=True)
rid_items = st.one_of(
    rid_values,
    # "rid.cutoff" with cutoffs in any digits: ASCII, superscripts, Arabic-Indic, longer than int64
    st.tuples(rid_values, st.text("0123456789\u00b2\u00b9\u0663\u0665", min_size=1, max_size=40)).map(
        ".".join
    ),
    st.tuples(rid_values, any_text).map(".".join),
    any_text,
    json_values,
)


@st.composite
def crl_docs(draw) -> bytes:
    """Mostly well-formed rid lists (so the rows are read), sometimes anything at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
    crl = {
        "kid": draw(st.just("3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s") | any_text | json_values),
        "method": draw(st.just("rid") | st.just("rid") | json_values),
        "ctr": 1,
        "rids": draw(st.lists(rid_items, max_size=6) | st.lists(rid_items, max_size=6) | json_values),
    }
    return json.dumps(crl).encode()


def crl_with(kid: str = "k", rids: Any = ("a",)) -> list[bytes]:
    return [json.dumps({"kid": kid, "method": "rid", "ctr": 1, "rids": list(rids)}).encode()]


# Found by this suite: int("²") raised ValueError ("²".isdigit() is True), 30-digit cutoffs and lone
# surrogates would only fail when the store writes them.
@example(crl_with(rids=["a.\u00b2"]))
@example(crl_with(rids=["a." + "9" * 30, "b." + "9" * 5000]))
@example(crl_with(kid="\udc00"))
@example(crl_with(rids=["\udc00.1"]))
@needs_corpora
@fuzz(150)
@given(st.lists(crl_docs(), max_size=3))
def test_jwks_with_random_revocation_lists(crls):
    parse(sources.jwks, real_jwks(), "https://spec.smarthealth.cards/examples/issuer", crls, NOW)


@needs_corpora
@fuzz(100)
@given(st.integers(0, 10_000), st.integers(0, 7), st.integers(0, 10_000))
def test_jwks_mutated(pos, bit, cut):
    data = real_jwks()
    parse(sources.jwks, bit_flip(data, pos, bit), "https://issuer.example", (), NOW)
    parse(sources.jwks, data[: cut % (len(data) + 1)], "https://issuer.example", (), NOW)


@fuzz(100)
@given(st.binary(max_size=500) | json_values.map(lambda v: json.dumps({"keys": v}).encode()))
def test_jwks_random(data):
    parse(sources.jwks, data, "https://issuer.example", (), NOW)


# --- PHIC issuer bundle -------------------------------------------------------------------------------


@functools.cache
def bundle_keys(root_alg: str) -> tuple[issuer_keys.IssuerKey, list]:
    root = issuer_keys.generate(root_alg, "", root=True)
    algs = ("es256", "sm2") if sm2.available() else ("es256",)
    issuers = [issuer_keys.generate(alg, "440000") for alg in algs]
    entries = [
        (
            k.iss,
            k.key.public_key(),
            {"code_types": ["d", "p"], "not_before": NOW - 86400, "not_after": NOW + 86400},
        )
        for k in issuers
    ]
    entries.append(("110000/org", issuers[0].key.public_key(), {}))
    return root, entries


@functools.cache
def real_bundle(root_alg: str) -> bytes:
    """One signed bundle per root algorithm (cached: ECDSA and SM2 signatures are randomised)."""
    root, entries = bundle_keys(root_alg)
    return make_bundle(
        root, entries, seq=7, issued_at=NOW, valid_hours=24, names={"440000": "广东省"}
    ).encode()


def bundle_signed(token: bytes) -> tuple | None:
    """(signed text, signature bytes) as `verify_compact` reads them."""
    try:
        head, body, sig = token.decode("ascii").strip().split(".")
        return f"{head}.{body}", b64url_decode(sig)
    except ValueError:
        return None


def check_bundle_mutant(mutant: bytes, root_alg: str = "es256") -> bool:
    root, _ = bundle_keys(root_alg)
    if parse(sources.phic_bundle, mutant, root.key.public_key()) is None:
        return False
    assert bundle_signed(mutant) == bundle_signed(real_bundle(root_alg)), "a modified bundle was accepted"
    return True


def test_fresh_bundle_parses():
    root, entries = bundle_keys("es256")
    source = parse(sources.phic_bundle, real_bundle("es256"), root.key.public_key())
    assert source is not None and len(source.keys) == len(entries) and source.seq == 7


def test_bundle_every_truncation_and_bit_flip():
    data = real_bundle("es256")
    for n in range(len(data)):
        assert not check_bundle_mutant(data[:n]), f"truncated bundle accepted at {n}"
    for pos in range(len(data)):
        for bit in range(8):
            check_bundle_mutant(bit_flip(data, pos, bit))


@needs_sm2
@fuzz(60)
@given(st.integers(0, 10_000), st.integers(0, 7), st.integers(0, 10_000))
def test_sm2_bundle_truncations_and_bit_flips(pos, bit, cut):
    data = real_bundle("sm2")
    assert parse(sources.phic_bundle, data, bundle_keys("sm2")[0].key.public_key()) is not None
    check_bundle_mutant(bit_flip(data, pos, bit), "sm2")
    assert not check_bundle_mutant(data[: cut % len(data)], "sm2")


@fuzz(150)
@given(st.binary(max_size=2000) | any_text.map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_bundle_random_bytes(data):
    root, _ = bundle_keys("es256")
    with pytest.raises(TrustError):
        sources.phic_bundle(data, root.key.public_key())


@fuzz(60)
@given(st.sampled_from(["[", '{"a":']), st.integers(1000, 100_000), st.sampled_from([0, 1]))
def test_bundle_deeply_nested_json(opening, depth, where):
    """Deep JSON in the (unsigned-checked) header, or in a payload signed with the real root key."""
    root, _ = bundle_keys("es256")
    deep = (opening * depth).encode()
    if where == 0:
        token = base64.urlsafe_b64encode(deep).rstrip(b"=") + b".e30.AAAA"
    else:
        token = sign_compact(deep, root.key, typ="phic-bundle+jws").encode()
    with pytest.raises(TrustError):
        sources.phic_bundle(token, root.key.public_key())


def bundle_doc() -> dict:
    return json.loads(b64url_decode(real_bundle("es256").split(b".")[1]))


def _nonneg_int(v: Any) -> bool:
    return type(v) is int and 0 <= v < INT64  # the store keeps them in 64-bit SQLite integers


# field -> (path in the document, acceptable(value, doc) -> bool, word the TrustError must name)
BUNDLE_FIELDS: dict[str, tuple[tuple, Any, str]] = {
    "seq": (("seq",), lambda v, d: _nonneg_int(v), "seq"),
    "issued_at": (("issued_at",), lambda v, d: _nonneg_int(v) and v < d["valid_until"], "issued_at"),
    "valid_until": (("valid_until",), lambda v, d: _nonneg_int(v) and v > d["issued_at"], "valid_until"),
    "issuers": (("issuers",), lambda v, d: isinstance(v, list), "issuers"),
    "issuer": (("issuers", 0), lambda v, d: False, "issuer"),
    "iss": (("issuers", 0, "iss"), lambda v, d: unicode_text(v) and v[:6].isdigit(), "iss"),
    "keys": (("issuers", 0, "keys"), lambda v, d: isinstance(v, list), "keys"),
    "key": (("issuers", 0, "keys", 0), lambda v, d: False, "key"),
    "kid": (("issuers", 0, "keys", 0, "kid"), lambda v, d: False, "kid"),
    "spki": (("issuers", 0, "keys", 0, "spki"), lambda v, d: False, "spki"),
    "alg": (("issuers", 0, "keys", 0, "alg"), lambda v, d: False, "alg"),
    "code_types": (
        ("issuers", 0, "keys", 0, "code_types"),
        lambda v, d: (
            v is None or (isinstance(v, list) and all(isinstance(t, str) and t in ("d", "p", "a") for t in v))
        ),
        "code_types",
    ),
    "not_before": (
        ("issuers", 0, "keys", 0, "not_before"),
        lambda v, d: v is None or sql_int(v),
        "not_before",
    ),
    "not_after": (("issuers", 0, "keys", 0, "not_after"), lambda v, d: v is None or sql_int(v), "not_after"),
}
WRONG_TYPES = {
    "issuer": lambda v: not isinstance(v, dict),
    "key": lambda v: not isinstance(v, dict),
    "kid": lambda v: not isinstance(v, str),
    "spki": lambda v: not isinstance(v, str),
    "alg": lambda v: not isinstance(v, str),
}


@st.composite
def malformed_bundles(draw) -> tuple[str, dict]:
    field = draw(st.sampled_from(sorted(BUNDLE_FIELDS)))
    path, acceptable, _ = BUNDLE_FIELDS[field]
    doc = bundle_doc()
    value = draw(
        json_values | st.sampled_from([-1, True, 1.5, "7", None, [], {}, 2**63, -(2**63) - 1, "440000\udc00"])
    )
    assume(WRONG_TYPES.get(field, lambda v: True)(value))
    assume(not acceptable(value, doc))
    target = doc
    for p in path[:-1]:
        target = target[p]
    target[path[-1]] = value
    return field, doc


def bundle_with(field: str, value: Any) -> tuple[str, dict]:
    doc = bundle_doc()
    path = BUNDLE_FIELDS[field][0]
    target = doc
    for p in path[:-1]:
        target = target[p]
    target[path[-1]] = value
    return field, doc


# Found by this suite: keys as an object was read as no keys; wrong types in key entries gave
# messages naming no field; 64-bit overflow and lone surrogates would only fail in the store.
@example(bundle_with("keys", {}))
@example(bundle_with("keys", 5))
@example(bundle_with("key", 5))
@example(bundle_with("kid", 5))
@example(bundle_with("spki", []))
@example(bundle_with("seq", 2**64))
@example(bundle_with("not_after", 2**63))
@example(bundle_with("iss", "440000\udc00"))
@fuzz(200)
@given(malformed_bundles())
def test_signed_but_malformed_bundle(case):
    field, doc = case
    root, _ = bundle_keys("es256")
    token = sign_compact(json.dumps(doc).encode(), root.key, typ="phic-bundle+jws").encode()
    with pytest.raises(TrustError) as err:
        sources.phic_bundle(token, root.key.public_key())
    message = str(err.value)
    assert message.startswith("PHIC bundle: "), message
    assert BUNDLE_FIELDS[field][2] in message, f"{field}: {message}"


@fuzz(100)
@given(json_values)
def test_signed_bundle_of_random_json(doc):
    root, _ = bundle_keys("es256")
    token = sign_compact(json.dumps(doc).encode(), root.key, typ="phic-bundle+jws").encode()
    parse(sources.phic_bundle, token, root.key.public_key())
