"""Fuzzing every reader of scanned-code bytes: `verify_code` and the layers under it.

The contract: whatever bytes a QR symbol delivers, the verifier returns a `Verification` that is not
valid and says why with stable reason codes (`kiosk.codes.model.Reason`), and that can be shown and
logged (its strings are real Unicode). Never an exception, a hang, a memory blow-up or a silent pass.

- Random bytes and text, alone and behind each prefix; valid Base45 / zlib / CBOR / COSE / JWS layers
  around random content, so the fuzzing reaches each parser in turn.
- Genuinely signed codes (PHIC ES256 and SM2, a real EU DCC, the SMART Health Card spec example)
  truncated at every position and bit-flipped at every bit of each layer: a mutant may only verify if
  the signed bytes and signature it decodes to are exactly the original ones.
- Zlib and raw-DEFLATE bombs, 10^5-deep CBOR and JSON, CBOR heads declaring 2^63-byte items,
  100 kB strings: bounded time and memory.
- Genuine but unacceptable: payloads with a wrong type in each claim, signed with a real key, come
  out not valid with the signature check passed and `payload.invalid` (or the window's reason).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import math
import resource
import time
import tracemalloc
import zlib
from base64 import b64decode
from pathlib import Path
from typing import Any

import cbor2
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from kiosk.codes import (
    MAX_INPUT,
    KeyRing,
    Reason,
    TrustedKey,
    Verification,
    cose,
    dcc,
    phic,
    shc,
    verify_code,
)
from kiosk.codes.base45 import ALPHABET, Base45Error, b45decode, b45encode
from kiosk.codes.model import Format
from kiosk.crypto import sm2
from kiosk.crypto.jws import sign_compact
from kiosk.crypto.keys import (
    ALG_TO_COSE,
    EcP256SigningKey,
    b64url_decode,
    b64url_encode,
    jwk_thumbprint,
    public_key_from_jwk,
)
from kiosk.issuer import keys as issuer_keys

CORPORA = Path(__file__).resolve().parents[1].parent / "shared/corpora"
needs_corpora = pytest.mark.skipif(
    not CORPORA.is_dir(), reason=f"outside test corpora not found at {CORPORA} (see shared/corpora/README.md)"
)
needs_sm2 = pytest.mark.skipif(not sm2.available(), reason="no OpenSSL 3 libcrypto with SM2 on this system")
ALGS = ["es256", pytest.param("sm2", marks=needs_sm2)]

# Profile for this module only (not loaded globally): reproducible, no example database, generous
# per-example deadline for a noisy 2-core machine.
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=dt.timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def fuzz(max_examples: int) -> settings:
    return settings(FUZZ, max_examples=max_examples)


REASONS = {str(r) for r in Reason}
UNACCEPTABLE = {str(Reason.PAYLOAD_INVALID), str(Reason.CODE_EXPIRED), str(Reason.CODE_NOT_YET_VALID)}
NOW = 1_700_000_000
REGION = "440000"
DCC_KID = b"fuzz-dcc"
SHC_ISS = "https://issuer.fuzz.example"
HEALTH_CARD = shc.HEALTH_CARD
PREFIXES = ["PHC1:", "HC1:", "shc:/", "shc:/1/2/"]
WS = b" \t\r\n\x00"  # what verify_code strips around its input


# --- keys, ring and genuine codes ---------------------------------------------------------------------


@functools.cache
def phic_key(alg: str) -> issuer_keys.IssuerKey:
    return issuer_keys.generate(alg, REGION)


@functools.cache
def dcc_key() -> issuer_keys.IssuerKey:
    return issuer_keys.generate("es256", REGION)


@functools.cache
def shc_key() -> tuple[EcP256SigningKey, str]:
    key = EcP256SigningKey.generate()
    numbers = key.key.public_key().public_numbers()
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url_encode(numbers.x.to_bytes(32, "big")),
        "y": b64url_encode(numbers.y.to_bytes(32, "big")),
    }
    return key, jwk_thumbprint(jwk)


@functools.cache
def dcc_example() -> tuple[bytes, bytes, float]:
    """(HC1 text, signer certificate DER, validation clock) of the EU suite's AT/1 vaccination."""
    doc = json.loads((CORPORA / "dgc-testdata/AT/2DCode/raw/1.json").read_text())
    clock = dt.datetime.fromisoformat(doc["TESTCTX"]["VALIDATIONCLOCK"].replace("Z", "+00:00"))
    return doc["PREFIX"].encode(), b64decode(doc["TESTCTX"]["CERTIFICATE"]), clock.timestamp()


@functools.cache
def shc_example() -> tuple[bytes, str, list[dict]]:
    """(shc:/ text, its iss, issuer JWKS keys) of the SMART Health Card spec example 00."""
    base = CORPORA / "shc/spec-examples"
    text = (base / "example-00-f-qr-code-numeric-value-0.txt").read_bytes().strip()
    iss = json.loads((base / "example-00-c-jws-payload-minified.json").read_text())["iss"]
    jwks = json.loads((base / "issuer/.well-known/jwks.json").read_text())["keys"]
    return text, iss, jwks


@functools.cache
def ring() -> KeyRing:
    """One ring holding every key the fuzzed codes may name, so random input can reach the checks
    behind the key look-up."""
    r = KeyRing()
    for alg in ("es256", "sm2") if sm2.available() else ("es256",):
        key = phic_key(alg)
        r.add(TrustedKey(Format.PHIC, key.kid, key.key.public_key(), REGION))
    r.add(TrustedKey(Format.DCC, DCC_KID, dcc_key().key.public_key(), "AT"))
    key, kid = shc_key()
    r.add(TrustedKey(Format.SHC, kid.encode(), key.public_key(), SHC_ISS))
    if CORPORA.is_dir():
        _, der, _ = dcc_example()
        r.add(dcc.trusted_key_from_certificate(der, hashlib.sha256(der).digest()[:8], "AT"))
        _, iss, jwks = shc_example()
        for jwk in jwks:
            r.add(TrustedKey(Format.SHC, jwk["kid"].encode(), public_key_from_jwk(jwk), iss))
    return r


def phic_claims() -> dict:
    cti = b"fuzz-cti-0123456"
    body = {
        "v": "1.0",
        "t": "d",
        "c": 0,
        "n": "张*",
        "it": "01",
        "im": "440301********1234",
        "ih": phic.binding("440301199001011234", cti),
    }
    return {
        phic.CLAIM_ISS: REGION,
        phic.CLAIM_IAT: NOW - 60,
        phic.CLAIM_EXP: NOW + 86400,
        phic.CLAIM_CTI: cti,
        phic.CLAIM_PHIC: body,
    }


def dcc_claims() -> dict:
    body = {
        "ver": "1.3.0",
        "nam": {"fn": "Musterfrau", "fnt": "MUSTERFRAU", "gn": "Erika", "gnt": "ERIKA"},
        "dob": "1964-08-12",
        "v": [
            {
                "tg": "840539006",
                "vp": "1119349007",
                "mp": "EU/1/20/1528",
                "ma": "ORG-100030215",
                "dn": 2,
                "sd": 2,
                "dt": "2021-05-29",
                "co": "AT",
                "is": "Ministry of Health, Austria",
                "ci": "URN:UVCI:01:AT:10807843F94AEE0EE5093FBC254BD813#B",
            }
        ],
    }
    return {
        dcc.CLAIM_ISS: "AT",
        dcc.CLAIM_IAT: NOW - 60,
        dcc.CLAIM_EXP: NOW + 365 * 86400,
        dcc.CLAIM_HCERT: {1: body},
    }


def shc_claims() -> dict:
    patient = {
        "resourceType": "Patient",
        "name": [{"family": "Anyperson", "given": ["John", "B."]}],
        "birthDate": "1951-01-20",
    }
    return {
        "iss": SHC_ISS,
        "nbf": NOW - 60,
        "vc": {
            "type": [HEALTH_CARD, "https://smarthealth.cards#immunization"],
            "credentialSubject": {
                "fhirVersion": "4.0.1",
                "fhirBundle": {
                    "resourceType": "Bundle",
                    "type": "collection",
                    "entry": [{"fullUrl": "resource:0", "resource": patient}],
                },
            },
        },
    }


def sign_cose(payload: bytes, key: issuer_keys.IssuerKey, kid: bytes) -> bytes:
    return cose.encode_sign1({1: ALG_TO_COSE[key.key.alg], 4: kid}, payload, key.key.sign)


def b45_text(prefix: str, cose_bytes: bytes) -> bytes:
    """The PHC1/HC1 text encoding, as `kiosk.issuer.phic.mint` builds it."""
    return (prefix + b45encode(zlib.compress(cose_bytes, 9))).encode()


def signed_phic(payload: bytes, alg: str = "es256") -> bytes:
    key = phic_key(alg)
    return b45_text("PHC1:", sign_cose(payload, key, key.kid))


def signed_dcc(payload: bytes) -> bytes:
    return b45_text("HC1:", sign_cose(payload, dcc_key(), DCC_KID))


def raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def signed_shc_jws(body: bytes, *, deflate: bool = True) -> str:
    key, kid = shc_key()
    return sign_compact(raw_deflate(body) if deflate else body, key, zip="DEF", kid=kid)


def signed_shc(body: bytes) -> bytes:
    return b"shc:/" + shc.jws_to_numeric(signed_shc_jws(body)).encode()


# --- what every result must look like ----------------------------------------------------------------


def assert_clean(result: Any) -> Verification:
    """A real `Verification`: stable reason codes only, displayable and loggable (no lone surrogates)."""
    assert isinstance(result, Verification), type(result)
    assert set(result.reasons) <= REASONS, result.reasons
    json.dumps(result.as_dict(), ensure_ascii=False).encode("utf-8")
    if result.claims is not None:  # plain, finite data for the policy: no cycles
        json.dumps(dcc.to_json(result.claims))
    return result


def assert_rejected(result: Any) -> Verification:
    assert_clean(result)
    assert not result.valid
    assert result.reasons, "not valid, yet no reason given"
    return result


def assert_genuine_but_unacceptable(result: Any) -> Verification:
    assert_rejected(result)
    assert result.checks.signature is True, (result.reasons, result.checks)
    assert UNACCEPTABLE & set(result.reasons), result.reasons
    return result


def check(data: bytes | str, now: float = NOW, **kw: Any) -> Verification:
    return assert_rejected(verify_code(data, ring(), now, **kw))


def signed_parts(data: bytes) -> tuple | None:
    """What a code's signature vouches for, as the verifier decodes it: (signed bytes, signature).
    None when the code does not decode that far."""
    data = data.strip(WS)
    try:
        if data.startswith(phic.PREFIX):
            msg = cose.parse_sign1(cose.inflate(b45decode(data[len(phic.PREFIX) :])))
            return msg.to_be_signed(), msg.signature
        if data.startswith(dcc.PREFIX):
            msg = dcc.decode_chain(data)
            return msg.to_be_signed(), msg.signature
        if data.startswith(shc.PREFIX):
            jws = shc.numeric_to_jws(shc.parse_chunk(data).digits)
            head, body, sig = jws.split(".")
            return f"{head}.{body}".encode(), b64url_decode(sig)
    except (ValueError, UnicodeError):
        return None
    return None


def check_mutant(mutant: bytes, original: tuple, now: float = NOW) -> bool:
    """A mutant of a genuine code: a clean result, and valid only if it decodes to the very same signed
    bytes and signature (e.g. a flip in DEFLATE padding bits or in unused Base64 bits)."""
    result = assert_clean(verify_code(mutant, ring(), now))
    if result.valid:
        assert signed_parts(mutant) == original, f"mutated code verified: {mutant!r}"
        return True
    assert result.reasons
    return False


def bit_flips(data: bytes):
    for i in range(len(data)):
        for bit in range(8):
            yield data[:i] + bytes((data[i] ^ (1 << bit),)) + data[i + 1 :]


def truncations(data: bytes):
    for n in range(len(data)):
        yield data[:n]


def measured(fn) -> tuple[Any, int, float]:
    """(result, peak traced bytes, seconds)."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        out = fn()
    finally:
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return out, peak, elapsed


# --- strategies ---------------------------------------------------------------------------------------

any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=200)  # lone surrogates too
TAGS = [
    0,
    1,
    2,
    3,
    4,
    5,
    18,
    21,
    22,
    23,
    24,
    25,
    26,
    27,
    28,
    29,
    30,
    32,
    33,
    34,
    35,
    36,
    37,
    61,
    100,
    256,
    258,
]
TAGS += [260, 261, 1004, 55799]
cbor_keys = st.one_of(
    st.sampled_from([1, 4, 6, 7, -260, -70001, 2, 3, "v", "t", "c", "n", "it", "im", "ih", "vx", "nt", "ra"]),
    st.integers(-(2**64), 2**64 - 1),
    st.text(max_size=6),
    st.binary(max_size=6),
)
cbor_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.binary(max_size=40),
    st.text(max_size=40),
    st.just(cbor2.undefined),
)
cbor_values = st.recursive(
    cbor_leaves,
    lambda ch: st.one_of(
        st.lists(ch, max_size=4),
        st.dictionaries(cbor_keys, ch, max_size=4),
        st.builds(cbor2.CBORTag, st.sampled_from(TAGS) | st.integers(0, 2**64 - 1), ch),
    ),
    max_leaves=20,
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), any_text),
    lambda ch: st.lists(ch, max_size=4) | st.dictionaries(any_text, ch, max_size=4),
    max_leaves=20,
)
b64url_text = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=300)


def dumps(value: Any) -> bytes:
    return cbor2.dumps(value)


# --- sanity: the harness makes codes that verify, so the negatives below are not vacuous ------------


@pytest.mark.parametrize("alg", ALGS)
def test_harness_phic_verifies(alg):
    result = verify_code(signed_phic(dumps(phic_claims()), alg), ring(), NOW)
    assert result.valid, result.reasons


def test_harness_dcc_and_shc_verify():
    result = verify_code(signed_dcc(dumps(dcc_claims())), ring(), NOW)
    assert result.valid, result.reasons
    result = verify_code(signed_shc(json.dumps(shc_claims()).encode()), ring(), NOW)
    assert result.valid, result.reasons


@needs_corpora
def test_harness_real_codes_verify():
    text, _, clock = dcc_example()
    result = verify_code(text, ring(), clock)
    assert result.valid, result.reasons
    text, _, _ = shc_example()
    result = verify_code(text, ring(), NOW)
    assert result.valid, result.reasons


# --- random input -------------------------------------------------------------------------------------


@fuzz(300)
@given(st.binary(max_size=3000))
def test_random_bytes(data):
    check(data)


@fuzz(300)
@given(any_text)
def test_random_text(text):
    check(text)


@fuzz(400)
@given(st.sampled_from(PREFIXES), any_text | st.text(ALPHABET) | st.text("0123456789"), st.booleans())
def test_random_text_behind_prefix(prefix, text, as_bytes):
    data = prefix + text
    check(data.encode("utf-8", "surrogatepass") if as_bytes else data)


@fuzz(200)
@given(st.sampled_from(["PHC1:", "HC1:"]), st.binary(max_size=2000))
def test_base45_of_random_bytes(prefix, data):
    check(prefix + b45encode(data))


@fuzz(200)
@given(st.sampled_from(["PHC1:", "HC1:"]), st.binary(max_size=2000), st.integers(0, 9))
def test_zlib_of_random_bytes(prefix, data, level):
    check(prefix + b45encode(zlib.compress(data, level)))


@fuzz(300)
@given(st.sampled_from(["PHC1:", "HC1:"]), cbor_values)
def test_zlib_of_random_cbor(prefix, value):
    check(prefix + b45encode(zlib.compress(dumps(value))))


@st.composite
def cose_messages(draw) -> bytes:
    """COSE_Sign1-shaped CBOR naming a trusted kid, with random alg, payload and signature, so random
    payloads reach the claim checks (which run whatever the signature says)."""
    kid = draw(st.sampled_from([phic_key("es256").kid, DCC_KID, b"", b"\x00" * 8]))
    alg = draw(st.sampled_from([-7, -37, -65601, 0, "ES256"]) | cbor_values)
    protected = draw(st.sampled_from([{1: alg, 4: kid}, {1: alg}, {4: kid}, {}]))
    unprotected = draw(
        st.sampled_from([{}, {4: kid}, {1: alg}]) | st.dictionaries(cbor_keys, cbor_values, max_size=3)
    )
    base = draw(st.sampled_from([phic_claims(), dcc_claims(), {}]))
    # Either a claims map with some claims replaced by random values, or any CBOR at all.
    claims = dict(base)
    for key in draw(st.lists(st.sampled_from([1, 4, 6, 7, -260, -70001]), max_size=3)):
        claims[key] = draw(cbor_values)
    if claims.get(-70001) and draw(st.booleans()):
        inner = dict(claims[-70001]) if isinstance(claims[-70001], dict) else {}
        for key in draw(
            st.lists(
                st.sampled_from(["v", "t", "c", "n", "it", "im", "ih", "vx", "nt", "ra"]),
                min_size=1,
                max_size=3,
            )
        ):
            inner[key] = draw(cbor_values)
        claims[-70001] = inner
    payload = dumps(claims) if draw(st.booleans()) else dumps(draw(cbor_values))
    signature = draw(st.binary(min_size=64, max_size=64) | st.binary(max_size=80))
    body = [dumps(protected) if protected else b"", unprotected, payload, signature]
    tag = draw(st.sampled_from([18, 61, None, 17]))
    return dumps(body if tag is None else cbor2.CBORTag(tag, cbor2.CBORTag(18, body) if tag == 61 else body))


@fuzz(400)
@given(st.sampled_from(["PHC1:", "HC1:"]), cose_messages())
def test_random_cose_with_trusted_kids(prefix, message):
    check(prefix + b45encode(zlib.compress(message)))


@st.composite
def jws_texts(draw) -> str:
    """Compact-JWS-shaped text: a random or plausible header, a random or deflated-JSON body."""
    kid = draw(st.sampled_from([shc_key()[1], "", "x"]) | any_text)
    header = draw(
        st.sampled_from(
            [{"zip": "DEF", "alg": "ES256", "kid": kid}, {"zip": "DEF"}, {"alg": "ES256", "kid": kid}]
        )
        | json_values
    )
    head = b64url_encode(json.dumps(header).encode()) if draw(st.booleans()) else draw(b64url_text)
    claims = shc_claims()
    for key in draw(st.lists(st.sampled_from(["iss", "nbf", "exp", "vc"]), max_size=2)):
        claims[key] = draw(json_values)
    raw = json.dumps(claims if draw(st.booleans()) else draw(json_values)).encode()
    body = b64url_encode(raw_deflate(raw)) if draw(st.booleans()) else draw(b64url_text)
    sig = b64url_encode(draw(st.binary(max_size=70))) if draw(st.booleans()) else draw(b64url_text)
    return f"{head}.{body}.{sig}"


@fuzz(300)
@given(jws_texts())
def test_random_shc_jws(jws):
    assert_rejected(shc.verify_jws(jws, ring(), NOW))
    if all(45 <= ord(ch) <= 122 for ch in jws):
        check("shc:/" + shc.jws_to_numeric(jws))


@fuzz(100)
@given(
    st.lists(
        st.tuples(st.integers(0, 21), st.integers(0, 21), st.text("0123456789", max_size=40) | b64url_text),
        min_size=1,
        max_size=6,
    )
)
def test_random_shc_chunks_through_assembler(chunks):
    assembler = shc.ChunkAssembler()
    for index, total, digits in chunks:
        check(f"shc:/{index}/{total}/{digits}", assembler=assembler)


# --- Base45 and inflate on their own ------------------------------------------------------------------


outside_alphabet = st.characters(codec=None, exclude_categories=()).filter(lambda ch: ch not in ALPHABET)


@fuzz(300)
@given(
    st.data(), st.text(ALPHABET, min_size=2, max_size=60), st.lists(outside_alphabet, min_size=1, max_size=3)
)
def test_base45_refuses_characters_outside_the_alphabet(data, text, bad):
    text = list(text)
    for ch in bad:  # replaced, not inserted: the length stays a valid Base45 length
        text[data.draw(st.integers(0, len(text) - 1))] = ch
    text = "".join(text)
    assume(any(ch not in ALPHABET for ch in text))
    with pytest.raises(Base45Error):
        b45decode(text)
    with pytest.raises(Base45Error):
        b45decode(text.encode("utf-8", "surrogatepass"))


@fuzz(300)
@given(st.text(ALPHABET, max_size=60))
def test_base45_decoding_is_canonical(text):
    """Only the one canonical encoding of each byte string decodes (so a changed character always
    changes the decoded bytes)."""
    try:
        data = b45decode(text)
    except Base45Error:
        return
    assert b45encode(data) == text


@fuzz(200)
@given(st.binary(max_size=300))
def test_base45_round_trip(data):
    assert b45decode(b45encode(data)) == data


@pytest.mark.parametrize("text", ["\x00\x00\x00", "0\x00\x00", "\xff\xff\xff", "::\x00", "00" + "\x00" * 3])
def test_base45_invalid_groups_never_wrap_around(text):
    with pytest.raises(Base45Error):
        b45decode(text)


@fuzz(150)
@given(st.binary(max_size=5000), st.booleans(), st.integers(1, 4096))
def test_inflate_is_capped_and_refuses_junk(data, raw, limit):
    packed = raw_deflate(data) if raw else zlib.compress(data)
    if len(data) <= limit:
        assert cose.inflate(packed, raw=raw, limit=limit) == data
    else:
        with pytest.raises(cose.CoseError):
            cose.inflate(packed, raw=raw, limit=limit)
    for cut in {0, 1, len(packed) // 2, len(packed) - 1}:
        with pytest.raises(cose.CoseError):
            cose.inflate(packed[:cut], raw=raw, limit=limit)


# --- mutations of genuinely signed codes --------------------------------------------------------------


def exhaust(code: bytes, now: float = NOW) -> int:
    """Every truncation and every single-bit flip of the text; returns how many flips still verified."""
    original = signed_parts(code)
    assert original is not None
    for cut in truncations(code):
        assert not check_mutant(cut, original, now), f"truncated code verified at {len(cut)}"
    return sum(check_mutant(m, original, now) for m in bit_flips(code))


def exhaust_cose_layers(code: bytes, prefix: str, now: float = NOW) -> None:
    """Every bit flip of the COSE bytes and of the zlib stream, each re-encoded properly, so the flip
    reaches the signature check instead of dying in Base45 or zlib."""
    original = signed_parts(code)
    packed = b45decode(code[len(prefix) :])
    message = cose.inflate(packed)
    for mutant in bit_flips(message):
        check_mutant(b45_text(prefix, mutant), original, now)
    for mutant in bit_flips(packed):
        check_mutant((prefix + b45encode(mutant)).encode(), original, now)


@pytest.mark.parametrize("alg", ALGS)
def test_phic_truncations_and_bit_flips(alg):
    code = signed_phic(dumps(phic_claims()), alg)
    assert verify_code(code, ring(), NOW).valid
    exhaust(code)
    exhaust_cose_layers(code, "PHC1:")


@needs_corpora
def test_real_dcc_truncations_and_bit_flips():
    code, _, clock = dcc_example()
    exhaust(code, clock)
    exhaust_cose_layers(code, "HC1:", clock)


@needs_corpora
def test_real_shc_truncations_and_bit_flips():
    code, _, _ = shc_example()
    original = signed_parts(code)
    for cut in truncations(code):
        assert not check_mutant(cut, original)
    for mutant in bit_flips(code):
        check_mutant(mutant, original)
    # Flips of the JWS characters, re-encoded as digits (most digit flips leave the digit range).
    jws = shc.numeric_to_jws(shc.parse_chunk(code).digits).encode()
    for mutant in bit_flips(jws):
        if all(45 <= b <= 122 for b in mutant):
            check_mutant(b"shc:/" + shc.jws_to_numeric(mutant.decode()).encode(), original)


@st.composite
def byte_edits(draw, data: bytes) -> bytes:
    """1-4 random replacements, insertions or deletions."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(out) - 1))
        kind = draw(st.sampled_from(["set", "insert", "delete"]))
        if kind == "set":
            out[pos] = draw(st.integers(0, 255))
        elif kind == "insert":
            out.insert(pos, draw(st.integers(0, 255)))
        else:
            del out[pos]
    return bytes(out)


@fuzz(150)
@given(st.data())
def test_phic_cose_random_edits(data):
    code = signed_phic(dumps(phic_claims()))
    mutant = data.draw(byte_edits(cose.inflate(b45decode(code[5:]))))
    check_mutant(b45_text("PHC1:", mutant), signed_parts(code))


@needs_corpora
@fuzz(100)
@given(st.data())
def test_real_dcc_cose_random_edits(data):
    code, _, clock = dcc_example()
    mutant = data.draw(byte_edits(cose.inflate(b45decode(code[4:]))))
    check_mutant(b45_text("HC1:", mutant), signed_parts(code), clock)


@needs_corpora
@fuzz(120)
@given(st.data())
def test_real_shc_payload_random_edits(data):
    """Edits of the inflated JSON payload, re-deflated under the original header and signature."""
    code, _, _ = shc_example()
    head, body, sig = shc.numeric_to_jws(shc.parse_chunk(code).digits).split(".")
    mutant = data.draw(byte_edits(cose.inflate(b64url_decode(body), raw=True)))
    assume(mutant != cose.inflate(b64url_decode(body), raw=True))
    jws = f"{head}.{b64url_encode(raw_deflate(mutant))}.{sig}"
    assert not check_mutant(b"shc:/" + shc.jws_to_numeric(jws).encode(), signed_parts(code))


@needs_corpora
@fuzz(30)
@given(st.permutations([0, 1, 2]), st.integers(0, 2), st.integers(0, 10_000), st.integers(0, 7))
def test_real_shc_chunks_flipped_in_any_order(order, which, pos, bit):
    base = CORPORA / "shc/spec-examples"
    chunks = [(base / f"example-02-f-qr-code-numeric-value-{i}.txt").read_bytes().strip() for i in range(3)]
    original = shc.numeric_to_jws(b"".join(shc.parse_chunk(c).digits for c in chunks))
    pos %= len(chunks[which])
    chunks[which] = chunks[which][:pos] + bytes((chunks[which][pos] ^ (1 << bit),)) + chunks[which][pos + 1 :]
    assembler = shc.ChunkAssembler()
    results = [assert_clean(verify_code(chunks[i], ring(), NOW, assembler=assembler)) for i in order]
    for r in results[:-1]:
        assert not r.valid
    if results[-1].valid:  # only if the flip left the signed bytes and the signature as they were
        jws = shc.numeric_to_jws(b"".join(shc.parse_chunk(c).digits for c in chunks))
        head, body, sig = jws.split(".")
        h0, b0, s0 = original.split(".")
        assert (head, body, b64url_decode(sig)) == (h0, b0, b64url_decode(s0))


# --- bombs, depth, huge lengths, long strings ---------------------------------------------------------

BOMB_SIZE = 100 * 1024 * 1024
MEMORY_CAP = 16 * 1024 * 1024  # far below the bomb


@functools.cache
def zlib_bomb(size: int) -> bytes:
    """`size` bytes of zeros, zlib-compressed in steps (never holding them all in memory)."""
    c = zlib.compressobj(9)
    chunk = bytes(1 << 20)
    parts = [c.compress(chunk) for _ in range(size >> 20)]
    return b"".join(parts) + c.flush()


def raw_bomb(size: int) -> bytes:
    return zlib_bomb(size)[2:-4]  # a zlib stream is a 2-byte header, raw DEFLATE, and Adler-32


def assert_bounded(fn, reasons: set[str]) -> Verification:
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result, peak, elapsed = measured(fn)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert_rejected(result)
    assert reasons & set(result.reasons), result.reasons
    assert peak < MEMORY_CAP, f"peak {peak} bytes"
    assert (rss_after - rss_before) * 1024 < 4 * MEMORY_CAP
    assert elapsed < 5, f"{elapsed:.1f} s"
    return result


DECODE = {str(Reason.DECODE_FAILED)}
PAYLOAD = {str(Reason.PAYLOAD_INVALID)}


@pytest.mark.parametrize("prefix", ["PHC1:", "HC1:"])
def test_zlib_bomb(prefix):
    text = (prefix + b45encode(zlib_bomb(BOMB_SIZE))).encode()
    # Through the front door (refused on length), and straight into the format reader.
    assert_bounded(lambda: verify_code(text, ring(), NOW), DECODE)
    reader = phic.verify if prefix == "PHC1:" else dcc.verify
    assert_bounded(lambda: reader(text, ring(), NOW), DECODE)
    # A bomb small enough to pass the input-length check: 8 MB of zeros.
    small = (prefix + b45encode(zlib_bomb(8 << 20))).encode()
    assert len(small) <= MAX_INPUT
    assert_bounded(lambda: verify_code(small, ring(), NOW), DECODE)


def test_raw_deflate_bomb_in_shc_payload():
    key, kid = shc_key()
    # Signed, so only the inflate cap stands between the bomb and the verifier.
    jws = sign_compact(raw_bomb(BOMB_SIZE), key, zip="DEF", kid=kid)
    assert_bounded(lambda: shc.verify_jws(jws, ring(), NOW), DECODE)
    assert_bounded(lambda: shc.verify(b"shc:/" + shc.jws_to_numeric(jws).encode(), ring(), NOW), DECODE)
    small = sign_compact(raw_bomb(4 << 20), key, zip="DEF", kid=kid)
    text = "shc:/" + shc.jws_to_numeric(small)
    assert len(text) <= MAX_INPUT
    assert_bounded(lambda: verify_code(text, ring(), NOW), DECODE)


def deep_cbor(kind: str, depth: int) -> bytes:
    if kind == "array":
        return b"\x81" * depth + b"\x00"
    if kind == "map":
        return b"\xa1\x00" * depth + b"\x00"
    if kind == "tag":
        return b"\xd8\x64" * depth + b"\x00"
    if kind == "indefinite":
        return b"\x9f" * depth + b"\xff" * depth
    raise AssertionError(kind)


DEEP_KINDS = ["array", "map", "tag", "indefinite"]


@pytest.mark.parametrize("kind", DEEP_KINDS)
def test_deep_cbor(kind):
    deep = deep_cbor(kind, 100_000)
    with pytest.raises(cose.CoseError):
        cose.loads(deep)
    with pytest.raises(cose.CoseError):
        cose.parse_sign1(deep)
    # As the whole COSE message, raw (HC1 allows uncompressed COSE) and compressed, within the
    # inflate cap so that it reaches the CBOR decoder, and past it.
    within_cap = deep_cbor(kind, 60_000 // (1 if kind == "array" else 2))
    assert_bounded(lambda: verify_code("HC1:" + b45encode(within_cap[:10_000]), ring(), NOW), DECODE)
    for prefix in ("PHC1:", "HC1:"):
        for message in (within_cap, deep):
            assert_bounded(lambda p=prefix, m=message: verify_code(b45_text(p, m), ring(), NOW), DECODE)
    # As a genuinely signed payload, so it reaches the claim decoder.
    payload = within_cap
    assert_genuine_but_unacceptable(
        assert_bounded(lambda: verify_code(signed_phic(payload), ring(), NOW), PAYLOAD)
    )
    assert_genuine_but_unacceptable(
        assert_bounded(lambda: verify_code(signed_dcc(payload), ring(), NOW), PAYLOAD)
    )
    # Deep inside an otherwise fine claims map.
    inner = b"\xa1\x3a\x00\x01\x11\x70" + deep_cbor(kind, 20_000)  # {-70001: <deep>}
    assert_genuine_but_unacceptable(verify_code(signed_phic(inner), ring(), NOW))


def test_cbor_shared_references_do_not_loop():
    """Tags 28/29 (shared values) can build a cyclic structure from a few bytes; no code format uses
    them and the verifier must not recurse forever on one."""
    cyclic = bytes((0xD8, 28, 0x81, 0xD8, 29, 0x00))  # 28([29(0)]): a list that contains itself
    # {-260: {1: {"ver": "1.3.0", "v": <cyclic>}}}
    hcert = b"\xa1\x39\x01\x03\xa1\x01\xa2" + dumps("ver") + dumps("1.3.0") + dumps("v") + cyclic
    assert_genuine_but_unacceptable(verify_code(signed_dcc(hcert), ring(), NOW))
    # An extra DCC property (the schema allows them) holding the cycle, in an otherwise valid DCC.
    claims = dcc_claims()
    claims[dcc.CLAIM_HCERT][1]["zz"] = 0  # last in the DCC, which is last in the claims
    assert_genuine_but_unacceptable(verify_code(signed_dcc(dumps(claims)[:-1] + cyclic), ring(), NOW))
    # A PHIC whose optional "nt" (last in the map, last in the claims) is the cycle.
    claims = phic_claims()
    claims[phic.CLAIM_PHIC]["nt"] = 0
    payload = dumps(claims)[:-1] + cyclic
    assert_genuine_but_unacceptable(verify_code(signed_phic(payload), ring(), NOW))
    check("HC1:" + b45encode(zlib.compress(cyclic)))


HUGE_HEADS = [
    bytes((major | 27,)) + n.to_bytes(8, "big")
    for major in (0x40, 0x60, 0x80, 0xA0)  # bstr, tstr, array, map
    for n in (2**63, 2**64 - 1)
]


@pytest.mark.parametrize("head", HUGE_HEADS, ids=lambda h: h.hex())
def test_huge_declared_cbor_lengths(head):
    with pytest.raises(cose.CoseError):
        cose.loads(head + b"\x00" * 16)
    assert_bounded(lambda: verify_code(b45_text("PHC1:", head + b"\x00" * 16), ring(), NOW), DECODE)
    # The payload byte string of a COSE_Sign1 claiming 2^63 bytes.
    bogus = b"\xd2\x84\x43\xa1\x01\x26\xa0" + b"\x5b" + (2**63).to_bytes(8, "big") + b"\x00" * 64
    assert_bounded(lambda: verify_code(b45_text("HC1:", bogus), ring(), NOW), DECODE)
    # As a genuinely signed payload, and as one claim inside one.
    assert_genuine_but_unacceptable(verify_code(signed_phic(head + b"\x00" * 16), ring(), NOW))
    assert_genuine_but_unacceptable(verify_code(signed_dcc(b"\xa1\x01" + head + b"\x00" * 16), ring(), NOW))


@pytest.mark.parametrize("field", ["n", "im", "iss"])
@pytest.mark.parametrize("kind", ["random", "repeated", "fits"])
def test_long_strings_in_signed_phic(field, kind):
    import random

    rng = random.Random(field + kind)
    if kind == "random":  # does not compress: the code is over the input limit
        text = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(100_000))
    elif kind == "repeated":  # compresses, but inflates past the cap
        text = "a" * 100_000
    else:  # compresses and inflates within the cap: the claim checks see it
        text = "a" * 60_000
    claims = phic_claims()
    if field == "iss":
        claims[phic.CLAIM_ISS] = text
    else:
        claims[phic.CLAIM_PHIC][field] = text
    code = signed_phic(dumps(claims))
    result = assert_bounded(lambda: verify_code(code, ring(), NOW), REASONS)
    if kind == "fits" and field != "iss":
        assert_genuine_but_unacceptable(result)
    if kind == "fits" and field == "iss":  # a string, but not the key's region
        assert Reason.KEY_NOT_AUTHORIZED in result.reasons
    assert_bounded(lambda: phic.verify(code, ring(), NOW), REASONS)


def test_long_inputs():
    for prefix in ["", *PREFIXES]:
        check(prefix + "A" * 100_000)
        check(prefix + "0" * 100_000)
    key, kid = shc_key()
    claims = shc_claims()
    claims["vc"]["credentialSubject"]["fhirBundle"]["entry"][0]["resource"]["name"][0]["family"] = (
        "x" * 100_000
    )
    jws = signed_shc_jws(json.dumps(claims).encode())
    assert_bounded(lambda: shc.verify_jws(jws, ring(), NOW), DECODE)


def test_deep_json_in_shc():
    key, kid = shc_key()
    for opening, closing in (("[", "]"), ('{"a":', "}")):
        depth = 50_000 // (len(opening) + 1)  # inflates within the cap
        deep = (opening * depth + "0" + closing * depth).encode()
        # In the header (never reached the signature): a decode failure.
        head = b64url_encode(deep[:4000])
        check("shc:/" + shc.jws_to_numeric(f"{head}.AAAA.AAAA"))
        assert_rejected(shc.verify_jws(f"{b64url_encode(deep)}.AAAA.AAAA", ring(), NOW))
        # As the whole signed payload, and as the FHIR bundle inside an otherwise fine one.
        assert_genuine_but_unacceptable(
            assert_bounded(lambda d=deep: verify_code(signed_shc(d), ring(), NOW), PAYLOAD)
        )
        half = opening * (depth // 2) + "0" + closing * (depth // 2)
        claims = json.dumps(shc_claims()).replace(
            '{"resourceType": "Bundle"', '{"deep": ' + half + ', "resourceType": "Bundle"'
        )
        assert_genuine_but_unacceptable(verify_code(signed_shc(claims.encode()), ring(), NOW))


# --- genuine but unacceptable: wrong types in each claim, signed with a real key --------------------

MISSING = object()


def finite_number(v: Any) -> bool:
    return (type(v) is int) or (type(v) is float and math.isfinite(v))


def unicode_text(v: Any) -> bool:
    if not isinstance(v, str):
        return False
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


PHIC_ACCEPTS = {
    "iss": lambda v: isinstance(v, str),
    "iat": finite_number,
    "exp": finite_number,
    "cti": lambda v: isinstance(v, bytes) and 8 <= len(v) <= 32,
    "v": lambda v: isinstance(v, str) and v == "1.0",
    "t": lambda v: isinstance(v, str) and v in ("d", "p", "a"),
    "c": lambda v: type(v) is int and v in (0, 1, 2),
    "n": lambda v: isinstance(v, str) and 0 < len(v) <= 64,
    "it": lambda v: isinstance(v, str) and v in ("01", "02", "03", "04", "05", "99"),
    "im": lambda v: isinstance(v, str) and 0 < len(v) <= 64,
    "ih": lambda v: isinstance(v, bytes) and len(v) == 16,
    "vx": lambda v: type(v) is int and 0 <= v <= 20,
    "nt": lambda v: (
        isinstance(v, dict) and type(v.get("r")) is int and v["r"] in (0, 1) and type(v.get("at")) is int
    ),
    "ra": lambda v: isinstance(v, bool),
}
PHIC_CLAIM = {"iss": phic.CLAIM_ISS, "iat": phic.CLAIM_IAT, "exp": phic.CLAIM_EXP, "cti": phic.CLAIM_CTI}
OPTIONAL = {"vx", "nt", "ra"}


def set_phic_field(claims: dict, field: str, value: Any) -> None:
    target, key = (claims, PHIC_CLAIM[field]) if field in PHIC_CLAIM else (claims[phic.CLAIM_PHIC], field)
    if value is MISSING:
        del target[key]
    else:
        target[key] = value


def get_phic_field(claims: Any, field: str) -> Any:
    try:
        return claims[PHIC_CLAIM[field]] if field in PHIC_CLAIM else claims[phic.CLAIM_PHIC][field]
    except (KeyError, TypeError):
        return MISSING


@st.composite
def wrong_phic(draw) -> tuple[str, bytes]:
    field = draw(st.sampled_from(sorted(PHIC_ACCEPTS)))
    value = draw(cbor_values | st.sampled_from([math.nan, math.inf, -math.inf, True, False, "", b"", [], {}]))
    if field not in OPTIONAL and draw(st.integers(0, 9)) == 0:
        value = MISSING
    claims = phic_claims()
    set_phic_field(claims, field, value)
    payload = dumps(claims)
    try:
        decoded = cose.loads(payload)  # judge the value as the verifier will see it (tags decoded)
    except cose.CoseError:
        return field, payload
    got = get_phic_field(decoded, field)
    assume(got is MISSING or not PHIC_ACCEPTS[field](got))
    return field, payload


def phic_payload_with(field: str, value: Any) -> tuple[str, bytes]:
    claims = phic_claims()
    set_phic_field(claims, field, value)
    return field, dumps(claims)


# Found by this suite: an array for t/it raised TypeError (unhashable in `in`); ±inf/NaN dates
# raised from int() (and NaN would have passed the window).
@example(phic_payload_with("t", []))
@example(phic_payload_with("it", {"a": 1}))
@example(phic_payload_with("iat", math.inf))
@example(phic_payload_with("exp", math.nan))
@fuzz(300)
@given(wrong_phic())
def test_signed_phic_with_a_wrong_claim(case):
    _, payload = case
    assert_genuine_but_unacceptable(verify_code(signed_phic(payload), ring(), NOW))


@needs_sm2
@fuzz(40)
@given(wrong_phic())
def test_signed_phic_sm2_with_a_wrong_claim(case):
    _, payload = case
    assert_genuine_but_unacceptable(verify_code(signed_phic(payload, "sm2"), ring(), NOW))


@pytest.mark.parametrize(
    ("iat", "exp", "reason"),
    [
        (math.inf, NOW + 60, Reason.PAYLOAD_INVALID),
        (-math.inf, NOW + 60, Reason.PAYLOAD_INVALID),
        (math.nan, NOW + 60, Reason.PAYLOAD_INVALID),
        (NOW - 60, math.nan, Reason.PAYLOAD_INVALID),
        (NOW - 60, math.inf, Reason.PAYLOAD_INVALID),
        (NOW - 60, -math.inf, Reason.PAYLOAD_INVALID),
        (NOW - 60, NOW - 1, Reason.CODE_EXPIRED),
        (NOW + 3600, NOW + 7200, Reason.CODE_NOT_YET_VALID),
        (NOW - 60, -(2**70), Reason.CODE_EXPIRED),
        (2**70, 2**71, Reason.CODE_NOT_YET_VALID),
        (NOW - 60.5, NOW - 0.5, Reason.CODE_EXPIRED),
        (1e300, 1e301, Reason.CODE_NOT_YET_VALID),
    ],
)
def test_signed_dates_out_of_range(iat, exp, reason):
    claims = phic_claims()
    claims[phic.CLAIM_IAT], claims[phic.CLAIM_EXP] = iat, exp
    result = assert_genuine_but_unacceptable(verify_code(signed_phic(dumps(claims)), ring(), NOW))
    assert reason in result.reasons
    claims = dcc_claims()
    claims[dcc.CLAIM_IAT], claims[dcc.CLAIM_EXP] = iat, exp
    result = assert_genuine_but_unacceptable(verify_code(signed_dcc(dumps(claims)), ring(), NOW))
    assert reason in result.reasons
    claims = shc_claims()
    claims["nbf"], claims["exp"] = iat, exp
    result = assert_genuine_but_unacceptable(
        verify_code(signed_shc(json.dumps(claims).encode()), ring(), NOW)
    )
    assert reason in result.reasons


# DCC: the CWT claims 1/4/6/-260, the hcert container, and the top-level DCC fields.
DCC_FIELDS = ["1", "4", "6", "-260", "-260/1", "ver", "nam", "dob", "v"]
not_a_string = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.lists(st.integers(), max_size=3)
)
not_a_string |= st.dictionaries(st.text(max_size=4), st.integers(), max_size=3)


def dcc_accepts(field: str, v: Any) -> bool:
    if field == "1":
        return v is MISSING or isinstance(v, str)
    if field in ("4", "6"):
        return finite_number(v)
    if field in ("-260", "-260/1"):
        return False  # only ever replaced by non-maps below
    if field in ("ver", "dob"):
        return isinstance(v, str)
    if field == "nam":
        return isinstance(v, dict)
    return isinstance(v, list) and bool(v)  # v


@st.composite
def wrong_dcc(draw) -> bytes:
    field = draw(st.sampled_from(DCC_FIELDS))
    claims = dcc_claims()
    body = claims[dcc.CLAIM_HCERT][1]
    if field in ("1", "4", "6"):
        value = draw(cbor_values | st.sampled_from([math.nan, math.inf, True, b"AT", ["AT"]]))
        claims[int(field)] = value
    elif field == "-260":
        claims[dcc.CLAIM_HCERT] = draw(
            cbor_values.filter(lambda v: not isinstance(v, dict)) | st.just({2: body})
        )
    elif field == "-260/1":
        claims[dcc.CLAIM_HCERT] = {1: draw(cbor_values.filter(lambda v: not isinstance(v, dict)))}
    elif field == "v":
        body["v"] = draw(not_a_string | st.text(max_size=5) | st.just([]))
    else:
        body[field] = draw(not_a_string)
    payload = dumps(claims)
    try:
        decoded = cose.loads(payload)
    except cose.CoseError:
        return payload
    if field in ("1", "4", "6"):
        assume(not dcc_accepts(field, decoded.get(int(field), MISSING)))
    return payload


def dcc_payload_with(claim: int, value: Any) -> bytes:
    claims = dcc_claims()
    claims[claim] = value
    return dumps(claims)


# Found by this suite: an iss of the wrong type was ignored and the DCC verified.
@example(dcc_payload_with(dcc.CLAIM_ISS, 276))
@example(dcc_payload_with(dcc.CLAIM_ISS, None))
@example(dcc_payload_with(dcc.CLAIM_EXP, math.inf))
@fuzz(200)
@given(wrong_dcc())
def test_signed_dcc_with_a_wrong_claim(payload):
    assert_genuine_but_unacceptable(verify_code(signed_dcc(payload), ring(), NOW))


SHC_FIELDS = ["iss", "nbf", "exp", "vc", "vc.type", "vc.credentialSubject", "vc.credentialSubject.fhirBundle"]


def shc_accepts(field: str, v: Any) -> bool:
    if field == "iss":
        return unicode_text(v)
    if field == "nbf":
        return finite_number(v)
    if field == "exp":
        return v is None or finite_number(v)
    if field == "vc.type":
        return isinstance(v, list) and HEALTH_CARD in v
    return isinstance(v, dict) and field != "vc"  # vc is only replaced by non-maps


@st.composite
def wrong_shc(draw) -> bytes:
    field = draw(st.sampled_from(SHC_FIELDS))
    claims = shc_claims()
    *path, last = field.split(".")
    target = claims
    for p in path:
        target = target[p]
    value = draw(json_values | st.sampled_from([math.nan, math.inf, -math.inf, "\udc00", True]))
    if field == "vc":
        assume(not isinstance(value, dict))
    assume(not shc_accepts(field, value))
    target[last] = value
    return json.dumps(claims).encode()


@fuzz(150)
@given(wrong_shc())
def test_signed_shc_with_a_wrong_claim(body):
    assert_genuine_but_unacceptable(verify_code(signed_shc(body), ring(), NOW))


@fuzz(100)
@given(json_values)
def test_signed_shc_with_random_json_anywhere(value):
    """Random JSON (lone surrogates, NaN, deep lists) in the patient record of a signed card: any
    verdict, but a clean one."""
    claims = shc_claims()
    claims["vc"]["credentialSubject"]["fhirBundle"]["entry"][0]["resource"]["name"] = value
    claims["vc"]["rid"] = value if isinstance(value, str) else "rid"
    result = assert_clean(verify_code(signed_shc(json.dumps(claims).encode()), ring(), NOW))
    assert result.checks.signature is True


@fuzz(60)
@given(any_text)
def test_shc_header_kid_of_any_text(kid):
    key, _ = shc_key()
    jws = sign_compact(raw_deflate(json.dumps(shc_claims()).encode()), key, zip="DEF", kid=kid)
    result = assert_rejected(shc.verify_jws(jws, ring(), NOW))
    assert Reason.KEY_UNKNOWN in result.reasons or Reason.DECODE_FAILED in result.reasons
