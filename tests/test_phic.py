"""PHIC v1: issuer -> verifier round trips for every field with both algorithms, and one test per
failure mode checking its reason code."""

from __future__ import annotations

import zlib

import cbor2
import pytest

from kiosk.codes import Format, KeyRing, Reason, TrustedKey, cose, phic, verify_code
from kiosk.codes.base45 import b45decode, b45encode
from kiosk.issuer import keys
from kiosk.issuer.phic import SignError, check_id_number, mint

NOW = 1_795_600_000  # 2026-11-25
ID = "11010519491231002X"


def ring_for(*issuers: keys.IssuerKey, usages=None, valid_until=None, not_after=None) -> KeyRing:
    ring = KeyRing()
    for k in issuers:
        ring.add(
            TrustedKey(
                Format.PHIC,
                k.kid,
                k.key.public_key(),
                k.iss.split("/")[0],
                "test",
                usages=usages,
                source_valid_until=valid_until,
                not_after=not_after,
            )
        )
    return ring


@pytest.fixture(params=["es256", "sm2"])
def issuer(request, es256_issuer, sm2_issuer):
    return es256_issuer if request.param == "es256" else sm2_issuer


def test_round_trip_every_field(issuer) -> None:
    minted = mint(
        issuer,
        colour="yellow",
        name="欧阳小明",
        id_number=ID,
        now=NOW,
        code_type="a",
        id_type="01",
        valid_hours=12,
        vaccinations=3,
        test_result="negative",
        test_at=NOW - 3600,
        risk_area=True,
    )
    assert minted.text.startswith("PHC1:")
    assert set(minted.text[5:]) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")  # QR alphanumeric
    r = verify_code(minted.text, ring_for(issuer), NOW + 60)
    assert r.valid, r.reasons
    assert r.format is Format.PHIC
    assert r.checks.as_dict() == {
        "decode": True,
        "signature": True,
        "key_known": True,
        "validity_window": True,
        "revocation": None,
        "rules": None,
    }
    assert (r.colour, r.code_type, r.issuer, r.kid) == ("yellow", "a", issuer.iss, issuer.kid.hex())
    assert r.holder.as_dict() == {"name": "欧**明", "id_type": "01", "id_number": "110105********002X"}
    assert (r.issued_at, r.expires_at) == (NOW, NOW + 12 * 3600)
    assert r.claims == {"vx": 3, "nt": {"r": 0, "at": NOW - 3600}, "ra": True}
    assert r.code_id == minted.cti and len(minted.cti) == 16
    assert r.binding == phic.binding(ID, minted.cti)
    assert r.binding == phic.binding(ID.lower(), minted.cti)  # the binding is case-insensitive
    assert r.binding != phic.binding("110105194912310029", minted.cti)


@pytest.mark.parametrize(
    ("colour", "code_type", "id_type", "number"),
    [
        ("green", "d", "01", ID),
        ("red", "p", "02", "E12345678"),
        ("green", "d", "03", "H1234567890"),
        ("yellow", "a", "05", "USA123456789012"),
        ("green", "p", "99", "X-1"),
    ],
)
def test_round_trip_values(es256_issuer, colour, code_type, id_type, number) -> None:
    minted = mint(
        es256_issuer,
        colour=colour,
        name="Zhang San",
        id_number=number,
        now=NOW,
        code_type=code_type,
        id_type=id_type,
    )
    r = verify_code(minted.text.encode(), ring_for(es256_issuer), NOW)
    assert r.valid, r.reasons
    assert (r.colour, r.code_type, r.holder.id_type) == (colour, code_type, id_type)
    assert r.holder.name == "Z**** S**"
    assert "*" in r.holder.id_number or len(number) <= 4
    assert r.expires_at - r.issued_at == {"d": 24, "p": 168, "a": 72}[code_type] * 3600


def test_trailing_scanner_terminator_is_ignored(es256_issuer) -> None:
    minted = mint(es256_issuer, colour="green", name="张三", id_number=ID, now=NOW)
    assert verify_code(minted.text + "\r\n", ring_for(es256_issuer), NOW).valid


def test_expired_and_not_yet_valid(issuer) -> None:
    minted = mint(issuer, colour="green", name="张三", id_number=ID, now=NOW, valid_hours=1)
    ring = ring_for(issuer)
    late = verify_code(minted.text, ring, NOW + 3601)
    assert late.reasons == [Reason.CODE_EXPIRED] and late.checks.validity_window is False
    assert late.checks.signature is True  # genuine, but unacceptable
    early = verify_code(minted.text, ring, NOW - 3600)
    assert early.reasons == [Reason.CODE_NOT_YET_VALID]
    assert verify_code(minted.text, ring, NOW - 200).valid  # within the clock tolerance


def test_unknown_key(issuer, es256_issuer) -> None:
    other = keys.generate("es256", "440000")
    minted = mint(issuer, colour="green", name="张三", id_number=ID, now=NOW)
    r = verify_code(minted.text, ring_for(other), NOW)
    assert r.reasons == [Reason.KEY_UNKNOWN]
    assert (r.checks.key_known, r.checks.signature, r.checks.decode) == (False, None, True)
    assert r.colour == "green"  # the payload is still read, so the guard sees what was claimed


def test_forged_signature_same_kid(issuer) -> None:
    """A forger who copies the kid but signs with another key."""
    forger = keys.generate(issuer.key.alg, issuer.iss)
    forger_with_kid = keys.IssuerKey(forger.key, issuer.iss, "issuer")
    minted = mint(forger_with_kid, colour="green", name="张三", id_number=ID, now=NOW)
    msg = cose.parse_sign1(zlib.decompress(b45decode(minted.text[5:])))
    protected = {1: msg.protected[1], 4: issuer.kid}
    forged = cose.encode_sign1(protected, msg.payload, forger.key.sign)
    text = "PHC1:" + b45encode(zlib.compress(forged))
    r = verify_code(text, ring_for(issuer), NOW)
    assert r.reasons == [Reason.SIGNATURE_INVALID]
    assert (r.checks.key_known, r.checks.signature) == (True, False)


def test_tampered_payload(issuer) -> None:
    """Turning a red code green without the key breaks the signature."""
    minted = mint(issuer, colour="red", name="张三", id_number=ID, now=NOW)
    msg = cose.parse_sign1(zlib.decompress(b45decode(minted.text[5:])))
    claims = cbor2.loads(msg.payload)
    claims[phic.CLAIM_PHIC]["c"] = 0
    tampered = cbor2.dumps(cbor2.CBORTag(18, [msg.protected_raw, {}, cbor2.dumps(claims), msg.signature]))
    r = verify_code("PHC1:" + b45encode(zlib.compress(tampered)), ring_for(issuer), NOW)
    assert r.reasons == [Reason.SIGNATURE_INVALID] and not r.valid
    assert r.colour == "green"  # what the tampered code claims; never trusted since it is invalid


def test_algorithm_confusion_refused(es256_issuer) -> None:
    """A code whose header names SM2 but the key is ES256 does not verify."""
    minted = mint(es256_issuer, colour="green", name="张三", id_number=ID, now=NOW)
    msg = cose.parse_sign1(zlib.decompress(b45decode(minted.text[5:])))
    bad = cose.encode_sign1({1: -65601, 4: es256_issuer.kid}, msg.payload, es256_issuer.key.sign)
    r = verify_code("PHC1:" + b45encode(zlib.compress(bad)), ring_for(es256_issuer), NOW)
    assert r.reasons == [Reason.SIGNATURE_INVALID]


def test_issuer_not_authorised_for_region(es256_issuer) -> None:
    other_region = keys.IssuerKey(es256_issuer.key, "310000", "issuer")  # same key claims Shanghai
    minted = mint(other_region, colour="green", name="张三", id_number=ID, now=NOW)
    r = verify_code(minted.text, ring_for(es256_issuer), NOW)
    assert r.reasons == [Reason.KEY_NOT_AUTHORIZED] and r.checks.signature is True


def test_sub_organisation_of_region_is_accepted(es256_issuer) -> None:
    org = keys.IssuerKey(es256_issuer.key, "440000/hospital-7", "issuer")
    r = verify_code(
        mint(org, colour="green", name="张三", id_number=ID, now=NOW).text, ring_for(es256_issuer), NOW
    )
    assert r.valid and r.issuer == "440000/hospital-7"


def test_code_type_not_allowed_for_key(es256_issuer) -> None:
    minted = mint(es256_issuer, colour="green", name="张三", id_number=ID, now=NOW, code_type="p")
    r = verify_code(minted.text, ring_for(es256_issuer, usages=frozenset("d")), NOW)
    assert r.reasons == [Reason.KEY_USAGE]


def test_key_retired_before_signing(es256_issuer) -> None:
    minted = mint(es256_issuer, colour="green", name="张三", id_number=ID, now=NOW)
    r = verify_code(minted.text, ring_for(es256_issuer, not_after=NOW - 1), NOW)
    assert r.reasons == [Reason.KEY_NOT_AUTHORIZED]


def test_stale_trust_list(es256_issuer) -> None:
    minted = mint(es256_issuer, colour="green", name="张三", id_number=ID, now=NOW)
    r = verify_code(minted.text, ring_for(es256_issuer, valid_until=NOW - 10), NOW)
    assert r.reasons == [Reason.TRUST_STALE] and r.checks.signature is True


def test_revoked(es256_issuer) -> None:
    minted = mint(es256_issuer, colour="green", name="张三", id_number=ID, now=NOW)
    ring = ring_for(es256_issuer)
    ring.phic_revoked = {minted.cti}.__contains__
    r = verify_code(minted.text, ring, NOW)
    assert r.reasons == [Reason.CODE_REVOKED] and r.checks.revocation is False
    ring.phic_revoked = set().__contains__
    r = verify_code(minted.text, ring, NOW)
    assert r.valid and r.checks.revocation is True


@pytest.mark.parametrize("missing", ["v", "t", "c", "n", "it", "im", "ih"])
def test_missing_required_key_is_payload_invalid_but_signature_checked(es256_issuer, missing) -> None:
    body = {
        "v": "1.0",
        "t": "d",
        "c": 0,
        "n": "张*",
        "it": "01",
        "im": "110105********002X",
        "ih": b"\0" * 16,
    }
    del body[missing]
    claims = {1: "440000", 6: NOW, 4: NOW + 3600, 7: b"\1" * 16, -70001: body}
    msg = cose.encode_sign1({1: -7, 4: es256_issuer.kid}, cbor2.dumps(claims), es256_issuer.key.sign)
    r = verify_code("PHC1:" + b45encode(zlib.compress(msg)), ring_for(es256_issuer), NOW)
    assert r.reasons == [Reason.PAYLOAD_INVALID]
    assert (r.checks.decode, r.checks.signature, r.checks.key_known) == (False, True, True)


def test_unknown_keys_in_payload_are_ignored(es256_issuer) -> None:
    body = {
        "v": "1.0",
        "t": "d",
        "c": 0,
        "n": "张*",
        "it": "01",
        "im": "110105********002X",
        "ih": b"\0" * 16,
        "future": [1, 2, 3],
    }
    claims = {1: "440000", 6: NOW, 4: NOW + 3600, 7: b"\1" * 16, -70001: body, 99: "x"}
    msg = cose.encode_sign1({1: -7, 4: es256_issuer.kid}, cbor2.dumps(claims), es256_issuer.key.sign)
    assert verify_code("PHC1:" + b45encode(zlib.compress(msg)), ring_for(es256_issuer), NOW).valid


def test_issuer_masks_what_it_is_given(es256_issuer) -> None:
    minted = mint(
        es256_issuer, colour="green", name="张小三", id_number="440301199001011232", now=NOW, id_type="99"
    )
    raw = zlib.decompress(b45decode(minted.text[5:]))
    assert "张小三".encode() not in raw and b"440301199001011232" not in raw
    assert (minted.masked_name, minted.masked_id) == ("张*三", "440301********1232")


@pytest.mark.parametrize(
    "text",
    [
        "PHC1:",
        "PHC1:!!!",
        "PHC1:0",
        "PHC1:" + b45encode(b"not zlib"),
        "PHC1:" + b45encode(zlib.compress(b"not cbor \xff")),
        "PHC1:" + b45encode(zlib.compress(cbor2.dumps([1, 2, 3]))),
    ],
)
def test_broken_encodings_are_decode_failed(text) -> None:
    r = verify_code(text, KeyRing(), NOW)
    assert r.reasons == [Reason.DECODE_FAILED] and r.checks.decode is False and not r.valid


def test_not_a_health_code() -> None:
    for text in ["hello", "https://example.com", "", "phc1:abc", "\x00\xff"]:
        r = verify_code(text, KeyRing(), NOW)
        assert r.format is Format.UNKNOWN and r.reasons == [Reason.FORMAT_UNKNOWN]


def test_id_number_check_digit() -> None:
    assert check_id_number("01", "11010519491231002x") == "11010519491231002X"
    with pytest.raises(SignError, match="check digit"):
        check_id_number("01", "110105194912310021")
    with pytest.raises(SignError):
        check_id_number("01", "1101051949")


def test_root_key_cannot_sign_codes(root_key) -> None:
    with pytest.raises(SignError, match="root"):
        mint(root_key, colour="green", name="张三", id_number=ID, now=NOW)
