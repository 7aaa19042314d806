"""SMART Health Cards against the specification's own examples, issuer JWKS and revocation list."""

from __future__ import annotations

import json

import pytest
from conftest import corpus

from kiosk.codes import Format, KeyRing, Reason, shc, verify_code
from kiosk.trust import sources
from kiosk.trust.store import TrustStore

ISS = "https://spec.smarthealth.cards/examples/issuer"
CLOCK = 1_688_169_600  # 2023-07-01, after the examples were issued (nbf 2023-06-22)


def example(name: str) -> str:
    return corpus("shc", "spec-examples", name).read_text()


@pytest.fixture(scope="module")
def ring(tmp_path_factory) -> KeyRing:
    """The examples' issuer keys and revocation list, imported the way a technician does it."""
    well_known = corpus("shc", "spec-examples", "issuer", ".well-known")
    crls = [p.read_bytes() for p in sorted((well_known / "crl").glob("*.json"))]
    source = sources.jwks((well_known / "jwks.json").read_bytes(), ISS, crls, now=CLOCK)
    with TrustStore(tmp_path_factory.mktemp("data")) as store:
        store.import_source(source, CLOCK)
        return store.keyring()


@pytest.mark.parametrize("n", ["00", "01"])
def test_examples_verify(ring, n) -> None:
    r = verify_code(example(f"example-{n}-f-qr-code-numeric-value-0.txt"), ring, CLOCK)
    assert r.valid, r.reasons
    assert r.format is Format.SHC and r.issuer == ISS
    assert r.holder.name == "J*** B* A********"  # John B. Anyperson, masked
    assert r.checks.signature and r.checks.key_known and r.checks.validity_window


def test_jws_matches_the_example_jws(ring) -> None:
    """Numeric decoding gives exactly the example's JWS text."""
    chunk = shc.parse_chunk(example("example-00-f-qr-code-numeric-value-0.txt").strip().encode())
    assert shc.numeric_to_jws(chunk.digits) == example("example-00-d-jws.txt").strip()
    assert shc.jws_to_numeric(example("example-00-d-jws.txt").strip()) == chunk.digits.decode()


def test_chunked_example_verifies_only_when_complete(ring) -> None:
    parts = [example(f"example-02-f-qr-code-numeric-value-{i}.txt") for i in range(3)]
    for i, part in enumerate(parts):  # alone, each part is incomplete
        assert verify_code(part, ring, CLOCK).reasons == [Reason.CODE_INCOMPLETE], i
    assembler = shc.ChunkAssembler()
    assert verify_code(parts[2], ring, CLOCK, assembler=assembler).reasons == [Reason.CODE_INCOMPLETE]
    assert assembler.missing == [1, 2]
    assert verify_code(parts[2], ring, CLOCK, assembler=assembler).reasons == [
        Reason.CODE_INCOMPLETE
    ]  # repeat
    assert verify_code(parts[0], ring, CLOCK, assembler=assembler).reasons == [Reason.CODE_INCOMPLETE]
    r = verify_code(parts[1], ring, CLOCK, assembler=assembler)
    assert r.valid, r.reasons
    assert verify_code(parts[0], ring, CLOCK, assembler=assembler).reasons == [
        Reason.CODE_INCOMPLETE
    ]  # next card


def test_chunked_example_joins_to_the_example_jws() -> None:
    assembler = shc.ChunkAssembler()
    jws = None
    for i in (1, 0, 2):
        jws = assembler.add(
            shc.parse_chunk(example(f"example-02-f-qr-code-numeric-value-{i}.txt").strip().encode())
        )
    assert jws == example("example-02-d-jws.txt").strip()


def test_example_03_is_revoked(ring) -> None:
    r = verify_code(example("example-03-f-qr-code-numeric-value-0.txt"), ring, CLOCK)
    assert r.reasons == [Reason.CODE_REVOKED]
    assert (r.checks.signature, r.checks.revocation) == (True, False)


def test_revocation_cutoff_spares_cards_issued_later(ring) -> None:
    """`rid.timestamp` revokes only cards issued before the timestamp."""
    rid = "vwAjHdarZuc"
    assert ring.shc_revoked("3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s", rid, 1687450764.6) is True
    assert ring.shc_revoked("3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s", rid, 1687450766) is False
    assert ring.shc_revoked("3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s", "TqB_qu_6OtM", 2e9) is True
    assert ring.shc_revoked("no-such-kid", rid, 0) is None


def test_unknown_issuer_key() -> None:
    r = verify_code(example("example-00-f-qr-code-numeric-value-0.txt"), KeyRing(), CLOCK)
    assert r.reasons == [Reason.KEY_UNKNOWN] and r.checks.decode is True


def test_key_of_another_issuer_is_not_authorised(tmp_path) -> None:
    well_known = corpus("shc", "spec-examples", "issuer", ".well-known")
    source = sources.jwks((well_known / "jwks.json").read_bytes(), "https://other.example/issuer", now=CLOCK)
    with TrustStore(tmp_path) as store:
        store.import_source(source, CLOCK)
        ring = store.keyring()
    r = verify_code(example("example-00-f-qr-code-numeric-value-0.txt"), ring, CLOCK)
    assert r.reasons == [Reason.KEY_NOT_AUTHORIZED]


def test_before_issue_is_not_yet_valid(ring) -> None:
    r = verify_code(example("example-00-f-qr-code-numeric-value-0.txt"), ring, 1_600_000_000)
    assert r.reasons == [Reason.CODE_NOT_YET_VALID]


def test_tampered_jws_payload_fails_signature(ring) -> None:
    jws = example("example-00-d-jws.txt").strip()
    head, body, sig = jws.split(".")
    other = example("example-01-d-jws.txt").strip().split(".")[1]
    r = verify_code("shc:/" + shc.jws_to_numeric(f"{head}.{other}.{sig}"), ring, CLOCK)
    assert r.reasons == [Reason.SIGNATURE_INVALID]


@pytest.mark.parametrize(
    "text",
    [
        "shc:/",
        "shc:/1",
        "shc:/99",
        "shc:/123",
        "shc:/3/2/5656",
        "shc:/0/1/5656",
        "shc:/" + "56" * 40,
        "shc:/abc",
    ],
)
def test_malformed(text) -> None:
    r = verify_code(text, KeyRing(), CLOCK)
    assert not r.valid and r.reasons == [Reason.DECODE_FAILED]


def test_payload_json_matches_the_minified_example(ring) -> None:
    r = verify_code(example("example-00-f-qr-code-numeric-value-0.txt"), ring, CLOCK)
    expected = json.loads(example("example-00-c-jws-payload-minified.json"))
    assert r.claims["fhirBundle"] == expected["vc"]["credentialSubject"]["fhirBundle"]
