"""Trust lists: the real signed DSC list and VCI snapshot, JWKS, PHIC bundles; refusal of tampered,
truncated, unsigned and rolled-back lists with the old list staying in force."""

from __future__ import annotations

import json

import pytest
from conftest import corpus

from kiosk.codes import Format, verify_code
from kiosk.crypto.keys import public_key_from_pem
from kiosk.issuer.bundle import make_bundle
from kiosk.issuer.phic import mint
from kiosk.trust import sources
from kiosk.trust.sources import TrustError
from kiosk.trust.store import TrustStore

NOW = 1_795_600_000


@pytest.fixture(scope="module")
def dsc():
    d = corpus("dsc-list")
    return (d / "dsc-list.json").read_bytes(), public_key_from_pem(
        (d / "dsc-list-signing-key.pem").read_bytes()
    )


@pytest.fixture(scope="module")
def vci():
    d = corpus("vci")
    return (
        (d / "vci_snapshot.json").read_bytes(),
        (d / "vci_snapshot.sig").read_bytes(),
        (d / "vci_snapshot.crt").read_bytes(),
    )


def test_dsc_list_imports_and_verifies(dsc, tmp_path) -> None:
    data, key = dsc
    source = sources.dsc_list(data, key)
    assert len(source.keys) + len(source.skipped) == 829
    assert len(source.keys) >= 820
    assert len({k.issuer for k in source.keys}) >= 70  # 77 countries
    with TrustStore(tmp_path) as store:
        store.import_source(source, NOW)
        ring = store.keyring()
        (status,) = store.status()
    assert len(ring) == len(source.keys)
    assert status.name == "dsc-list" and status.entries == len(source.keys)
    assert status.state(NOW) == "STALE"  # the corpus list is from 2023
    assert status.state(status.signed_at + 3600) == "OK"
    # every kid in the list resolves through the key ring
    some = source.keys[0]
    assert ring.keys(Format.DCC, some.kid)[0].issuer == some.issuer


def test_dsc_list_one_byte_changed_is_refused(dsc) -> None:
    data, key = dsc
    i = data.index(b'"country": "') + len(b'"country": "')
    tampered = data[:i] + (b"X" if data[i : i + 1] != b"X" else b"Y") + data[i + 1 :]
    with pytest.raises(TrustError, match="signature does not verify"):
        sources.dsc_list(tampered, key)
    sig_changed = bytes([data[0] ^ 1]) + data[1:]
    with pytest.raises(TrustError):
        sources.dsc_list(sig_changed, key)


@pytest.mark.parametrize("cut", [0, 10, 89, 90, 1000, -1])
def test_dsc_list_truncated_is_refused(dsc, cut) -> None:
    data, key = dsc
    with pytest.raises(TrustError):
        sources.dsc_list(data[:cut], key)


def test_dsc_list_unsigned_is_refused(dsc) -> None:
    data, key = dsc
    with pytest.raises(TrustError):
        sources.dsc_list(data.split(b"\n", 1)[1], key)


def test_dsc_list_wrong_signing_key_is_refused(dsc, es256_issuer) -> None:
    data, _ = dsc
    with pytest.raises(TrustError, match="signature"):
        sources.dsc_list(data, es256_issuer.key.public_key())


def test_vci_snapshot_imports_and_verifies(vci, tmp_path) -> None:
    data, sig, crt = vci
    source = sources.vci_snapshot(data, sig, crt)
    issuers = json.loads(data)["issuerInfo"]
    assert len(issuers) == 651
    assert len(source.keys) == 961
    assert source.shc_revocations
    with TrustStore(tmp_path) as store:
        store.import_source(source, NOW)
        assert store.status()[0].entries == 961


def test_vci_snapshot_one_byte_changed_is_refused(vci) -> None:
    data, sig, crt = vci
    i = data.index(b"State of California")
    with pytest.raises(TrustError, match="signature does not verify"):
        sources.vci_snapshot(data[:i] + b"s" + data[i + 1 :], sig, crt)
    with pytest.raises(TrustError):
        sources.vci_snapshot(data, sig[:-1] + bytes([sig[-1] ^ 1]), crt)
    with pytest.raises(TrustError):
        sources.vci_snapshot(data[:-1], sig, crt)


def _bundle(root, issuers, seq, issued_at=NOW, hours=720):
    return make_bundle(
        root,
        [(k.iss, k.key.public_key(), {}) for k in issuers],
        seq=seq,
        issued_at=issued_at,
        valid_hours=hours,
    ).encode()


def test_phic_bundle_round_trip_and_rollback(root_key, es256_issuer, sm2_issuer, tmp_path) -> None:
    root_pub = root_key.key.public_key()
    with TrustStore(tmp_path) as store:
        store.import_source(
            sources.phic_bundle(_bundle(root_key, [es256_issuer, sm2_issuer], seq=5), root_pub), NOW
        )
        ring = store.keyring()
        for issuer in (es256_issuer, sm2_issuer):
            code = mint(issuer, colour="green", name="张三", id_number="11010519491231002X", now=NOW)
            assert verify_code(code.text, ring, NOW).valid
        # a newer bundle that drops the SM2 issuer
        store.import_source(sources.phic_bundle(_bundle(root_key, [es256_issuer], seq=6), root_pub), NOW)
        assert len(store.keyring()) == 1
        # rolling back to seq 5 is refused and seq 6 stays in force
        with pytest.raises(TrustError, match="rollback"):
            store.import_source(
                sources.phic_bundle(_bundle(root_key, [es256_issuer, sm2_issuer], seq=5), root_pub), NOW
            )
        with pytest.raises(TrustError, match="same seq"):
            store.import_source(sources.phic_bundle(_bundle(root_key, [sm2_issuer], seq=6), root_pub), NOW)
        (status,) = store.status()
        assert (status.seq, status.entries) == (6, 1)


def test_phic_bundle_signed_by_another_root_is_refused(root_key, es256_issuer) -> None:
    from kiosk.issuer import keys

    impostor = keys.generate("es256", "", root=True)
    with pytest.raises(TrustError, match="signature"):
        sources.phic_bundle(_bundle(impostor, [es256_issuer], seq=1), root_key.key.public_key())


def test_phic_bundle_tampered_is_refused(root_key, es256_issuer) -> None:
    token = _bundle(root_key, [es256_issuer], seq=1)
    head, body, sig = token.split(b".")
    from kiosk.crypto.keys import b64url_decode, b64url_encode

    doc = json.loads(b64url_decode(body.decode()))
    doc["valid_until"] += 10**6
    forged = b".".join([head, b64url_encode(json.dumps(doc).encode()).encode(), sig])
    with pytest.raises(TrustError, match="signature"):
        sources.phic_bundle(forged, root_key.key.public_key())
    with pytest.raises(TrustError):
        sources.phic_bundle(b".".join([head, body]), root_key.key.public_key())  # signature stripped


def test_failed_import_leaves_old_list(root_key, es256_issuer, tmp_path, dsc) -> None:
    data, key = dsc
    with TrustStore(tmp_path) as store:
        store.import_source(sources.dsc_list(data, key), NOW)
        before = store.status()
        with pytest.raises(TrustError):
            store.import_source(sources.dsc_list(data[:-5], key), NOW)
        assert store.status() == before
        assert len(store.keyring()) == before[0].entries


def test_import_is_atomic_when_interrupted(tmp_path, root_key, es256_issuer) -> None:
    """A failure in the middle of writing rows rolls the whole import back."""
    with TrustStore(tmp_path) as store:
        good = sources.phic_bundle(_bundle(root_key, [es256_issuer], seq=1), root_key.key.public_key())
        store.import_source(good, NOW)
        bad = sources.phic_bundle(_bundle(root_key, [es256_issuer], seq=2), root_key.key.public_key())
        bad.keys.append(None)  # explodes while inserting rows, after the old rows were deleted
        with pytest.raises(AttributeError):
            store.import_source(bad, NOW)
        (status,) = store.status()
        assert status.seq == 1 and len(store.keyring()) == 1


def test_root_pin_refuses_a_different_root(tmp_path, root_key) -> None:
    from kiosk.crypto.keys import spki_pem
    from kiosk.issuer import keys

    pem = spki_pem(root_key.key.public_key().spki_der())
    with TrustStore(tmp_path) as store:
        store.pin("phic-root", pem)
        store.pin("phic-root", pem)  # same key again is fine
        other = spki_pem(keys.generate("es256", "", root=True).key.public_key().spki_der())
        with pytest.raises(TrustError, match="already pinned"):
            store.pin("phic-root", other)


def test_jwks_kid_must_be_thumbprint() -> None:
    jwks = json.loads(corpus("shc", "spec-examples", "issuer", ".well-known", "jwks.json").read_text())
    jwks["keys"][0]["kid"] = "not-the-thumbprint"
    source = sources.jwks(json.dumps(jwks).encode(), "https://x.example", now=NOW)
    assert len(source.keys) == 1 and "thumbprint" in source.skipped[0]
    with pytest.raises(TrustError, match="https"):
        sources.jwks(json.dumps(jwks).encode(), "x.example", now=NOW)
