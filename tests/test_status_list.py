"""Status lists: signed full lists and deltas, lookups by ID number and cti, refusal of anything wrong
with the old list kept in force, crash safety, separate list keys, a dict model under hypothesis, and
bounded memory on a 1-million-entry list."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.codes import Format, KeyRing, Reason, TrustedKey, verify_code
from kiosk.crypto import sm2
from kiosk.crypto.jws import sign_compact
from kiosk.crypto.keys import b64url_encode
from kiosk.issuer import keys
from kiosk.issuer.phic import mint
from kiosk.issuer.status_list import (
    StatusListError,
    cli_status_list,
    default_list_key,
    make_status_list,
    write_status_list,
)
from kiosk.trust import status_list as sl
from kiosk.trust.sources import TrustError

NOW = 1_795_600_000
A, B, C, D = "110101194912310021", "11010519491231002X", "440301200001011234", "310101198001010011"
CTI1, CTI2, CTI3 = bytes(range(16)), bytes(range(16, 32)), b"\xff" * 16

# Local profile: reproducible, no example database, no per-example deadline (each example does file I/O).
PROPERTY = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def root():
    return keys.generate("es256", "", root=True)


@pytest.fixture(scope="module")
def pub(root):
    return root.key.public_key()


def full(root, seq, entries=(), ctis=(), **kw) -> bytes:
    return make_status_list(root, seq, None, entries, ctis, kw.pop("issued_at", NOW), **kw)


def delta(root, seq, base, entries=(), ctis=(), **kw) -> bytes:
    return make_status_list(root, seq, base, entries, ctis, kw.pop("issued_at", NOW), **kw)


def current_bytes(data_dir: Path) -> bytes:
    return (data_dir / sl.NAME / sl.FILE_NAME).read_bytes()


def temps(data_dir: Path) -> list[Path]:
    return sorted((data_dir / sl.NAME).glob(".tmp-*"))


def sign_raw(root, header: dict, body: bytes) -> bytes:
    """A list with any header fields and body, correctly signed (to test checks beyond the signature)."""
    doc = {
        "v": 1,
        "kind": "full",
        "seq": 1,
        "base_seq": None,
        "issued_at": NOW,
        "valid_until": NOW + 3600,
        "entries": len(body) // 17,
        "ctis": 0,
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "list_key_id": sl.list_key_id(b"k" * 32),
        "list_key": b64url_encode(b"k" * 32),
        **header,
    }
    token = sign_compact(json.dumps(doc).encode(), root.key, typ=sl.TYP)
    return token.encode() + b"\n" + body


# --- round trips ----------------------------------------------------------------------------------------


def test_full_list_and_deltas_round_trip(root, pub, tmp_path) -> None:
    r = sl.import_list(full(root, 1, [(A, "red"), (B, "yellow"), (C, "clear")], [CTI1]), pub, tmp_path, NOW)
    assert (r.kind, r.info.seq, r.info.entries, r.info.ctis) == ("full", 1, 2, 1)
    with sl.StatusList.open(tmp_path) as lst:
        assert lst.lookup_id(A) == "red"
        assert lst.lookup_id(" 11010519491231002x ") == "yellow"  # stripped, upper-cased
        assert lst.lookup_id(C) is None and lst.lookup_id(D) is None
        assert lst.is_revoked(CTI1) and not lst.is_revoked(CTI2) and not lst.is_revoked(b"short")
        assert lst.lookup_hash(sl.id_key(default_list_key(root), A)) == "red"
        assert lst.check()

    # delta: add D, change B's colour, clear A, revoke another code
    r = sl.import_list(
        delta(root, 2, 1, [(D, "yellow"), (B, "red"), (A, "clear")], [CTI2]), pub, tmp_path, NOW
    )
    assert (r.added, r.changed, r.removed, r.ctis_added) == (1, 1, 1, 1)
    with sl.StatusList.open(tmp_path) as lst:
        assert [lst.lookup_id(x) for x in (A, B, C, D)] == [None, "red", None, "yellow"]
        assert lst.is_revoked(CTI1) and lst.is_revoked(CTI2) and not lst.is_revoked(CTI3)
        assert (lst.info.seq, lst.info.entries, lst.info.ctis, lst.info.full_seq) == (2, 2, 2, 1)
        assert lst.info.last_kind == "delta" and lst.check()

    # clearing someone who is not listed is a no-op; a revoked cti stays revoked
    r = sl.import_list(delta(root, 3, 2, [(C, "clear")], [CTI1]), pub, tmp_path, NOW)
    assert (r.added, r.changed, r.removed, r.ctis_added) == (0, 0, 0, 0)
    status = sl.source_status(tmp_path)
    assert (status.name, status.format, status.seq, status.entries) == ("status-list", "status-list", 3, 4)
    assert (status.signed_at, status.valid_until, status.state(NOW)) == (NOW, NOW + 24 * 3600, "OK")
    assert "seq 3" in r.describe()


def test_sm2_root_key(tmp_path) -> None:
    if not sm2.available():
        pytest.skip("system OpenSSL 3 with SM2 not available")
    root = keys.generate("sm2", "", root=True)
    sl.import_list(full(root, 1, [(A, "red")]), root.key.public_key(), tmp_path, NOW)
    sl.import_list(delta(root, 2, 1, [(B, "yellow")]), root.key.public_key(), tmp_path, NOW)
    with sl.StatusList.open(tmp_path) as lst:
        assert (lst.lookup_id(A), lst.lookup_id(B)) == ("red", "yellow")


def test_duplicates_keep_the_most_severe_status(root, pub, tmp_path) -> None:
    data = full(root, 1, [(A, "red"), (A, "yellow"), (B, "yellow"), (B, "clear"), (C, "clear"), (C, "clear")])
    sl.import_list(data, pub, tmp_path, NOW)
    with sl.StatusList.open(tmp_path) as lst:
        assert [lst.lookup_id(x) for x in (A, B, C)] == ["red", "yellow", None] and len(lst) == 2


def test_spilled_build_equals_in_memory_build(root) -> None:
    """The bucket-spool path (list larger than one chunk) gives the same body and header."""
    rng = np.random.default_rng(3)
    entries = [(rng.bytes(16), int(s)) for s in rng.integers(0, 3, 5000)] + [(A, "red"), (A, "yellow")]
    small = full(root, 1, entries, [CTI2, CTI1], chunk=100)
    big = full(root, 1, entries, [CTI2, CTI1])
    (h1, b1), (h2, b2) = small.split(b"\n", 1), big.split(b"\n", 1)
    assert b1 == b2 and h1.split(b".")[1] == h2.split(b".")[1]  # same payload (ES256 signatures differ)


def test_holder_status_and_freshness(root, pub, tmp_path) -> None:
    sl.import_list(full(root, 1, [(A, "yellow")], valid_hours=1), pub, tmp_path, NOW)
    with sl.StatusList.open(tmp_path) as lst:
        assert lst.holder_status(A, NOW) == "yellow" and lst.holder_status(B, NOW) == "green"
        assert lst.holder_status(B, NOW + 7200) == "unknown"  # stale: absence proves nothing
        assert lst.info.state(NOW + 7200) == "STALE"


def test_no_list_in_force(tmp_path) -> None:
    assert sl.StatusList.open(tmp_path) is None
    assert sl.source_status(tmp_path) is None and sl.keyring_hook(tmp_path) is None
    assert sl.StatusListHandle(tmp_path).holder_status(A, NOW) == "unknown"


# --- refusals: the old list stays in force ----------------------------------------------------------------


@pytest.fixture
def in_force(root, pub, tmp_path):
    sl.import_list(full(root, 5, [(A, "red"), (B, "yellow")], [CTI1]), pub, tmp_path, NOW)
    before = current_bytes(tmp_path)
    yield tmp_path
    assert current_bytes(tmp_path) == before, "the list in force changed"
    assert temps(tmp_path) == []
    with sl.StatusList.open(tmp_path) as lst:
        assert (lst.info.seq, lst.lookup_id(A), lst.is_revoked(CTI1)) == (5, "red", True)


def test_wrong_signer_refused(in_force, pub) -> None:
    other = keys.generate("es256", "", root=True)
    with pytest.raises(TrustError, match="signature does not verify"):
        sl.import_list(full(other, 6, [(C, "red")]), pub, in_force, NOW)


def test_wrong_typ_refused(in_force, root, pub) -> None:
    token = sign_compact(b"{}", root.key, typ="phic-bundle+jws")
    with pytest.raises(TrustError, match="typ"):
        sl.import_list(token.encode() + b"\n", pub, in_force, NOW)


@pytest.mark.parametrize("where", ["header", "entry-key", "entry-status", "cti", "last"])
def test_one_byte_tampering_refused(in_force, root, pub, where) -> None:
    data = bytearray(full(root, 6, [(C, "red"), (D, "yellow")], [CTI2]))
    body = data.index(b"\n") + 1
    i = {"header": body // 2, "entry-key": body + 3, "entry-status": body + 16, "cti": body + 34 + 5}.get(
        where, len(data) - 1
    )
    data[i] ^= 0x01
    match = "JWS|malformed|signature" if where == "header" else "signed digest"
    with pytest.raises(TrustError, match=match):
        sl.import_list(bytes(data), pub, in_force, NOW)


@pytest.mark.parametrize("cut", [0, 10, -60, "header", "body", -1])
def test_truncation_refused(in_force, root, pub, cut) -> None:
    data = full(root, 6, [(C, "red"), (D, "yellow")], [CTI2])
    end = {"header": data.index(b"\n") + 1, "body": data.index(b"\n") + 20}.get(cut, cut)
    with pytest.raises(TrustError):
        sl.import_list(data[:end], pub, in_force, NOW)


def test_trailing_bytes_refused(in_force, root, pub) -> None:
    with pytest.raises(TrustError, match="extra bytes"):
        sl.import_list(full(root, 6, [(C, "red")]) + b"\0", pub, in_force, NOW)


def test_rollback_refused_and_identical_reimport_is_a_no_op(in_force, root, pub) -> None:
    with pytest.raises(TrustError, match="rollback"):
        sl.import_list(full(root, 4, [(C, "red")]), pub, in_force, NOW)
    with pytest.raises(TrustError, match="rollback"):
        sl.import_list(full(root, 5, [(C, "red")]), pub, in_force, NOW)  # same seq, other content


def test_identical_reimport_is_a_no_op(root, pub, tmp_path) -> None:
    data = full(root, 6, [(C, "red")])
    sl.import_list(data, pub, tmp_path, NOW)
    before = current_bytes(tmp_path)
    result = sl.import_list(data, pub, tmp_path, NOW + 60)  # a re-sync of the same list
    assert result.unchanged and "already in force" in result.describe()
    assert current_bytes(tmp_path) == before


def test_delta_on_wrong_base_refused(in_force, root, pub, tmp_path_factory) -> None:
    with pytest.raises(TrustError, match="applies to seq 4"):
        sl.import_list(delta(root, 6, 4, [(C, "red")]), pub, in_force, NOW)
    with pytest.raises(TrustError, match="rollback"):
        sl.import_list(delta(root, 5, 3, [(C, "red")]), pub, in_force, NOW)
    with pytest.raises(TrustError, match="no list is in force"):
        sl.import_list(delta(root, 6, 5, [(C, "red")]), pub, tmp_path_factory.mktemp("empty"), NOW)


def test_expired_list_refused(in_force, root, pub) -> None:
    data = full(root, 6, [(C, "red")], valid_hours=1)
    with pytest.raises(TrustError, match="expired"):
        sl.import_list(data, pub, in_force, NOW + 3601)


@pytest.mark.parametrize(
    "body, header, match",
    [
        (b"\x02" * 16 + b"\x01" + b"\x01" * 16 + b"\x01", {}, "not sorted"),
        (b"\x01" * 16 + b"\x01" + b"\x01" * 16 + b"\x02", {}, "not sorted"),  # duplicate key
        (b"\x01" * 16 + b"\x00", {}, "status"),  # clear in a full list
        (b"\x01" * 16 + b"\x03", {"kind": "delta", "base_seq": 5, "seq": 6}, "status"),
        (b"\x02" * 16 + b"\x01" * 16, {"entries": 0, "ctis": 2}, "ctis are not sorted"),
        (b"", {"v": 2}, "version"),
        (b"", {"valid_until": NOW}, "valid_until"),
        (b"", {"seq": -1}, "seq"),
        (b"", {"list_key": b64url_encode(b"x" * 32)}, "list_key"),
        (b"", {"kind": "delta", "base_seq": 6, "seq": 6}, "base_seq"),
    ],
)
def test_malformed_signed_lists_refused(in_force, root, pub, body, header, match) -> None:
    header = {"seq": 6, **header}
    with pytest.raises(TrustError, match=match):
        sl.import_list(sign_raw(root, header, body), pub, in_force, NOW)


@pytest.mark.parametrize("section", ["entries", "ctis"])
def test_disorder_across_read_chunks_refused(in_force, root, pub, monkeypatch, section) -> None:
    monkeypatch.setattr(sl, "READ_CHUNK", 2)
    keys16 = [bytes([i]) * 16 for i in (1, 3, 2, 4, 5)]  # chunks [1, 3] [2, 4] [5]: 3 > 2 across a boundary
    if section == "entries":
        body, header = b"".join(k + b"\x01" for k in keys16), {}
    else:
        body, header = b"".join(keys16), {"entries": 0, "ctis": 5}
    with pytest.raises(TrustError, match=f"{section} are not sorted"):
        sl.import_list(sign_raw(root, {"seq": 6, **header}, body), pub, in_force, NOW)


def test_failure_mid_merge_keeps_old_list(in_force, root, pub, monkeypatch) -> None:
    calls = []
    real = sl._merge_piece

    def failing(*args):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(*args)

    monkeypatch.setattr(sl, "_merge_piece", failing)
    with pytest.raises(OSError, match="No space"):
        sl.import_list(delta(root, 6, 5, [(C, "red"), (A, "clear")]), pub, in_force, NOW, chunk_records=1)


def test_crash_mid_merge_keeps_old_list(root, pub, tmp_path) -> None:
    """A process killed mid-merge (os._exit: no cleanup runs) leaves the old list in force; the next
    import removes its temp files and succeeds."""
    sl.import_list(full(root, 1, [(A, "red"), (B, "yellow"), (C, "red")]), pub, tmp_path, NOW)
    before = current_bytes(tmp_path)
    data = delta(root, 2, 1, [(A, "clear"), (D, "yellow")])
    pid = os.fork()
    if pid == 0:  # child
        try:
            real, calls = sl._merge_piece, []

            def dying(*args):
                calls.append(1)
                if len(calls) == 2:
                    os._exit(17)
                return real(*args)

            sl._merge_piece = dying
            sl.import_list(data, pub, tmp_path, NOW, chunk_records=1)
        finally:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 17
    assert current_bytes(tmp_path) == before and temps(tmp_path)  # died with its temp files in place
    with sl.StatusList.open(tmp_path) as lst:
        assert (lst.info.seq, lst.lookup_id(A)) == (1, "red")
    sl.import_list(data, pub, tmp_path, NOW)
    assert temps(tmp_path) == []
    with sl.StatusList.open(tmp_path) as lst:
        assert (lst.info.seq, lst.lookup_id(A), lst.lookup_id(D)) == (2, None, "yellow")


def test_damaged_list_in_force_is_detected_and_replaced_by_a_full_list(root, pub, tmp_path) -> None:
    sl.import_list(full(root, 3, [(A, "red"), (B, "yellow")]), pub, tmp_path, NOW)
    path = tmp_path / sl.NAME / sl.FILE_NAME
    rotted = bytearray(path.read_bytes())
    rotted[sl.LOCAL_HEADER + 5] ^= 0x40  # one flipped bit in an entry: the self-check sees it
    path.write_bytes(rotted)
    with sl.StatusList.open(tmp_path) as lst:
        assert not lst.check()
    path.write_bytes(rotted[:-3])  # truncated: cannot be opened at all
    with pytest.raises(TrustError, match="damaged"):
        sl.StatusList.open(tmp_path)
    with pytest.raises(TrustError, match="import a full list"):
        sl.import_list(delta(root, 4, 3, [(C, "red")]), pub, tmp_path, NOW)
    with pytest.raises(TrustError, match="rollback"):
        sl.import_list(full(root, 2, [(C, "red")]), pub, tmp_path, NOW)
    sl.import_list(full(root, 4, [(C, "red")]), pub, tmp_path, NOW)
    with sl.StatusList.open(tmp_path) as lst:
        assert (lst.lookup_id(A), lst.lookup_id(C), lst.check()) == (None, "red", True)


def test_reader_keeps_consistent_view_across_import(root, pub, tmp_path) -> None:
    sl.import_list(full(root, 1, [(A, "red")]), pub, tmp_path, NOW)
    old = sl.StatusList.open(tmp_path)
    handle = sl.StatusListHandle(tmp_path, recheck=0)
    assert handle.lookup_id(A) == "red"
    sl.import_list(delta(root, 2, 1, [(A, "clear")]), pub, tmp_path, NOW)
    assert old.lookup_id(A) == "red" and old.info.seq == 1  # the old mapping is still whole
    assert handle.lookup_id(A) is None and handle.current().info.seq == 2
    old.close()


# --- list key kept separate ---------------------------------------------------------------------------------


def test_separate_list_key(root, pub, tmp_path) -> None:
    key = os.urandom(32)
    data = full(root, 1, [(A, "red")], list_key=key)
    assert key not in data and b64url_encode(key).encode() not in data
    with pytest.raises(TrustError, match="not held"):
        sl.import_list(data, pub, tmp_path, NOW)
    with pytest.raises(TrustError, match="not the given key"):
        sl.import_list(data, pub, tmp_path, NOW, list_key=os.urandom(32))
    assert sl.StatusList.open(tmp_path) is None
    sl.import_list(data, pub, tmp_path, NOW, list_key=key)
    sl.import_list(delta(root, 2, 1, [(B, "yellow")], list_key=key), pub, tmp_path, NOW)  # kiosk kept the key
    with sl.StatusList.open(tmp_path) as lst:
        assert (lst.lookup_id(A), lst.lookup_id(B), lst.list_key_id) == ("red", "yellow", sl.list_key_id(key))
    # a delta cannot change the key; a full list can
    with pytest.raises(TrustError, match="cannot change the list key"):
        sl.import_list(delta(root, 3, 2, [(C, "red")]), pub, tmp_path, NOW)
    sl.import_list(full(root, 3, [(C, "red")]), pub, tmp_path, NOW)
    with sl.StatusList.open(tmp_path) as lst:
        assert (lst.lookup_id(A), lst.lookup_id(C)) == (None, "red")


def test_provisioned_list_key_and_key_files(root, pub, tmp_path) -> None:
    key_file = tmp_path / "list.key"
    kid = sl.write_list_key(key_file)
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    key = sl.read_list_key(key_file)
    assert sl.list_key_id(key) == kid and len(key) == 32
    data_dir = tmp_path / "kiosk"
    assert sl.provision_list_key(data_dir, key) == kid
    sl.import_list(full(root, 1, [(A, "yellow")], list_key=key), pub, data_dir, NOW)
    with sl.StatusList.open(data_dir) as lst:
        assert lst.lookup_id(A) == "yellow"
    (tmp_path / "bad.key").write_text("not a key")
    with pytest.raises(TrustError, match="not a status list key"):
        sl.read_list_key(tmp_path / "bad.key")


# --- wiring: issuer CLI function, key ring hook ----------------------------------------------------------------


def test_cli_status_list_writes_importable_files(root, pub, tmp_path) -> None:
    root_file = tmp_path / "root.pem"
    keys.save(root, root_file)
    entries = tmp_path / "entries.txt"
    entries.write_text(f"# export\n{C},red\n{D}=yellow\n")
    out = tmp_path / "full.ksl"
    line = cli_status_list(
        root_key=root_file, out=out, seq=1, entry=[f"{A}=red", f"{B}=YELLOW"], revoke_cti=[CTI1.hex()],
        entries_file=entries, now=NOW,
    )  # fmt: skip
    assert "full status list seq 1" in line and "4 entries" in line and "1 revoked" in line
    sl.import_list(out, pub, tmp_path / "kiosk", NOW)
    key_file = tmp_path / "k.key"
    sl.write_list_key(key_file)
    line = cli_status_list(
        root_key=root_file, out=tmp_path / "d.ksl", seq=2, base_seq=1, entry=[f"{A}=clear"], now=NOW
    )
    assert "delta status list seq 2 on seq 1" in line
    sl.import_list(tmp_path / "d.ksl", pub, tmp_path / "kiosk", NOW)
    with sl.StatusList.open(tmp_path / "kiosk") as lst:
        assert [lst.lookup_id(x) for x in (A, B, C, D)] == [None, "yellow", "red", "yellow"]
        assert lst.is_revoked(CTI1)
    line = cli_status_list(root_key=root_file, out=tmp_path / "s.ksl", seq=1, list_key=key_file, now=NOW)
    assert "key kept separate" in line
    for bad in (
        {"entry": ["noequals"]},
        {"entry": [f"{A}=purple"]},
        {"revoke_cti": ["abcd"]},
        {"base_seq": 1},
    ):
        with pytest.raises(StatusListError):
            cli_status_list(root_key=root_file, out=tmp_path / "x.ksl", seq=1, **bad)
    issuer = keys.generate("es256", "440000")
    with pytest.raises(StatusListError, match="root key"):
        make_status_list(issuer, 1)


def test_keyring_hook_revokes_phic_codes(root, pub, tmp_path) -> None:
    issuer = keys.generate("es256", "440000")
    minted = mint(issuer, colour="green", name="张三", id_number=B, now=NOW)
    ring = KeyRing()
    ring.add(TrustedKey(Format.PHIC, issuer.kid, issuer.key.public_key(), "440000"))
    assert sl.keyring_hook(tmp_path) is None
    sl.import_list(full(root, 1, [], [CTI1]), pub, tmp_path, NOW)
    ring.phic_revoked = sl.keyring_hook(tmp_path, recheck=0)
    r = verify_code(minted.text, ring, NOW)
    assert r.valid and r.checks.revocation is True
    sl.import_list(delta(root, 2, 1, [], [minted.cti]), pub, tmp_path, NOW)
    r = verify_code(minted.text, ring, NOW)
    assert r.reasons == [Reason.CODE_REVOKED] and r.checks.revocation is False


# --- property: a sequence of deltas against a dict model --------------------------------------------------------

IDS = [f"1101011990010{i:04d}X" for i in range(10)] + ["11010519491231002x"]
COLOURS = ["yellow", "red", "clear"]
CTIS = [bytes([i]) * 16 for i in range(6)]
changes = st.lists(st.tuples(st.integers(0, len(IDS) - 1), st.sampled_from(COLOURS)), max_size=14)
revocations = st.lists(st.integers(0, len(CTIS) - 1), max_size=3)


def _collapse(pairs: list[tuple[int, str]]) -> dict[str, int]:
    """One list's entries: an ID given twice keeps its most severe status."""
    out: dict[str, int] = {}
    for i, colour in pairs:
        out[IDS[i]] = max(out.get(IDS[i], 0), sl.STATUS_CODES[colour])
    return out


@PROPERTY
@given(
    first=changes,
    first_ctis=revocations,
    deltas=st.lists(st.tuples(changes, revocations), max_size=5),
    chunk=st.integers(1, 4),
)
def test_delta_sequence_matches_dict_model(root, pub, first, first_ctis, deltas, chunk) -> None:
    key = default_list_key(root)
    with tempfile.TemporaryDirectory() as tmp:
        model = {k: v for k, v in _collapse(first).items() if v}
        revoked = {CTIS[i] for i in first_ctis}
        sl.import_list(
            full(root, 1, [(IDS[i], c) for i, c in first], [CTIS[i] for i in first_ctis]), pub, tmp, NOW
        )
        for seq, (pairs, ctis) in enumerate(deltas, start=2):
            data = delta(root, seq, seq - 1, [(IDS[i], c) for i, c in pairs], [CTIS[i] for i in ctis])
            sl.import_list(data, pub, tmp, NOW, chunk_records=chunk)
            for ident, status in _collapse(pairs).items():
                if status:
                    model[ident] = status
                else:
                    model.pop(ident, None)
            revoked |= {CTIS[i] for i in ctis}
        with sl.StatusList.open(tmp) as lst:
            assert {i: lst.lookup_id(i) for i in IDS} == {
                i: sl.STATUS_NAMES.get(model.get(i, 0)) for i in IDS
            }
            assert {c for c in CTIS if lst.is_revoked(c)} == revoked
            raw = b"".join(c.tobytes() for c in lst.iter_entries(3))
            stored = [(raw[j : j + 16], raw[j + 16]) for j in range(0, len(raw), 17)]
            assert stored == sorted((sl.id_key(key, i), s) for i, s in model.items())
            assert (lst.info.entries, lst.info.ctis, lst.info.seq) == (
                len(model),
                len(revoked),
                len(deltas) + 1,
            )
            assert lst.check()


# --- a million entries in bounded memory ----------------------------------------------------------------------


def _traced_peak(fn) -> tuple[object, int]:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        result = fn()
        return result, tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def _rss_mib(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


def _reset_rss_peak() -> float | None:
    """Reset VmHWM to the current RSS (Linux); the RSS then, or None where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _rss_mib("VmRSS")
    except (OSError, KeyError):
        return None


@pytest.mark.slow
def test_million_entries_in_bounded_memory(root, pub, tmp_path) -> None:
    """1M entries are 17 MB as records and over 100 MB as Python objects: building, importing, a delta and
    lookups each stay far below both (tracemalloc sees numpy allocations too)."""
    n = 1_000_000
    ids = (f"{110101 + i % 97:06d}19{i:09d}X" for i in range(n))  # made lazily, never held
    pairs = ((ident, "red" if i % 7 == 0 else "yellow") for i, ident in enumerate(ids))
    out = tmp_path / "full.ksl"
    peak_before = _reset_rss_peak()
    summary = write_status_list(out, root, 1, None, pairs, [], NOW, 24, chunk=1 << 16)
    assert summary.entries == n and out.stat().st_size > n * 17
    if peak_before is not None:  # tracing 1M transient pairs would take 20 s: watch the RSS peak instead
        growth = _rss_mib("VmHWM") - peak_before
        assert growth < 32, f"building grew the RSS peak by {growth:.1f} MiB"

    data_dir = tmp_path / "kiosk"
    _, peak = _traced_peak(lambda: sl.import_list(out, pub, data_dir, NOW))
    assert peak < 6 * 2**20, f"importing traced {peak / 2**20:.1f} MiB"

    changes = [(f"{110101 + i % 97:06d}19{i:09d}X", "clear") for i in range(0, 20_000, 2)]
    changes += [(f"99000019{i:09d}X", "red") for i in range(10_000)]
    data = make_status_list(root, 2, 1, changes, [CTI1], NOW)
    result, peak = _traced_peak(lambda: sl.import_list(data, pub, data_dir, NOW, chunk_records=1 << 16))
    assert (result.removed, result.added, result.info.entries) == (10_000, 10_000, n)
    assert peak < 8 * 2**20, f"merging traced {peak / 2**20:.1f} MiB"

    with sl.StatusList.open(data_dir) as lst:
        probe = [f"{110101 + i % 97:06d}19{i:09d}X" for i in range(1, 40_000, 2)]  # odd: not cleared
        found, peak = _traced_peak(lambda: [lst.lookup_id(i) for i in probe])
        assert found == ["red" if i % 7 == 0 else "yellow" for i in range(1, 40_000, 2)]
        assert peak < 2**20, f"lookups traced {peak / 2**20:.1f} MiB"
        assert lst.lookup_id("99000019000000001X") == "red" and lst.is_revoked(CTI1)
