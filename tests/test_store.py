"""kiosk.store: durable registrations, outbox, audit log, retention, daily exports, crash safety."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import random
import select
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from kiosk.codes.masking import mask_id, mask_name
from kiosk.store import (
    DB_FILE,
    FEVER,
    Counts,
    Registration,
    RegistrationStore,
    export_to_string,
)
from kiosk.store.hashing import KEY_FILE

ROOT = Path(__file__).resolve().parents[1]
SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = 1_795_600_000  # 2026-11-25T09:46:40Z = 17:46:40 in Shanghai
DAY = 86400
ID18 = "44030119900101123X"

settings.register_profile("store-local", derandomize=True, deadline=None, max_examples=40)
PROPS = settings(settings.get_profile("store-local"), stateful_step_count=30)


def local_day(ts: float, tz: dt.tzinfo = SHANGHAI) -> str:
    return dt.datetime.fromtimestamp(ts, tz).date().isoformat()


def make_reg(store: RegistrationStore, ts: float = T0, **kw) -> Registration:
    fields = {
        "ts": ts,
        "method": "code+card",
        "decision": "pass",
        "format": "phic",
        "issuer": "440000",
        "code_id_hash": store.hash_code_id(b"\x01\x02cti"),
        "id_number_hash": store.hash_id_number(ID18),
        "masked_name": mask_name("张小三"),
        "masked_id": mask_id(ID18),
        "colour": "green",
        "temperature": 36.6,
        "reasons": (),
    }
    fields.update(kw)
    return Registration(**fields)


@pytest.fixture
def store(tmp_path):
    with RegistrationStore(tmp_path / "data", "kiosk-01") as s:
        yield s


# --- append, readback, seq ---------------------------------------------------------------------------


def test_append_readback_and_durable_settings(store):
    reg = make_reg(store, reasons=["temperature.fever"], decision="refer", temperature=38.4)
    assert store.append(reg) == 1
    assert store.append(make_reg(store, ts=T0 + 5)) == 2
    got = store.get(1)
    assert got.seq == 1 and got.device_id == "kiosk-01" and got.day == local_day(T0) == "2026-11-25"
    assert (got.ts, got.method, got.decision, got.reasons) == (T0, "code+card", "refer", (FEVER,))
    assert (got.format, got.issuer, got.masked_name, got.masked_id) == (
        "phic",
        "440000",
        "张*三",
        mask_id(ID18),
    )
    assert (got.colour, got.temperature, got.fever) == ("green", 38.4, True)
    assert got.code_id_hash == reg.code_id_hash and got.id_number_hash == reg.id_number_hash
    assert [r.seq for r in store.recent(5)] == [2, 1]
    assert store.get(3) is None
    db = sqlite3.connect(store.data_dir / DB_FILE)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store.integrity_check() == "ok"
    for name in (DB_FILE, DB_FILE + "-wal", DB_FILE + "-shm"):
        assert stat.S_IMODE((store.data_dir / name).stat().st_mode) == 0o600, name


def test_append_refuses_stored_or_foreign_rows(store):
    store.append(make_reg(store))
    with pytest.raises(ValueError, match="already stored"):
        store.append(store.get(1))
    with pytest.raises(ValueError, match="device"):
        store.append(make_reg(store, device_id="kiosk-02"))
    with pytest.raises(ValueError, match="day"):
        store.append(make_reg(store, day="2020-01-01"))


def test_seq_continues_across_reopen_and_purge(tmp_path):
    data = tmp_path / "d"
    with RegistrationStore(data, "k1") as s:
        assert [s.append(make_reg(s, ts=T0 + i)) for i in range(3)] == [1, 2, 3]
        s.mark_synced(3)
        assert s.purge(T0 + 40 * DAY).purged == 3  # everything gone
    with RegistrationStore(data, "k1") as s:
        assert s.last_seq() == 3
        assert s.append(make_reg(s, ts=T0 + 40 * DAY)) == 4  # never reused
    with pytest.raises(ValueError, match="belongs to device 'k1'"):
        RegistrationStore(data, "k2")


def test_purging_the_newest_row_after_a_clock_jump_does_not_reuse_its_seq(store):
    store.append(make_reg(store, ts=T0 + 50 * DAY))  # seq 1, clock was far ahead
    store.append(make_reg(store, ts=T0))  # seq 2, clock corrected backwards
    store.mark_synced(2)
    assert store.purge(T0 + 40 * DAY).purged == 1  # seq 2 (old) goes, seq 1 stays
    assert [r.seq for r in store.recent()] == [1]
    assert store.append(make_reg(store, ts=T0 + 40 * DAY)) == 3


def test_concurrent_writers_threads_and_connections(tmp_path):
    a = RegistrationStore(tmp_path / "d", "k1")
    b = RegistrationStore(tmp_path / "d", "k1")  # a second connection, as another process would have
    seqs: list[int] = []

    def work(s: RegistrationStore) -> None:
        for i in range(15):
            seqs.append(s.append(make_reg(s, ts=T0 + i)))

    threads = [threading.Thread(target=work, args=(s,)) for s in (a, a, b, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seqs) == list(range(1, 61))
    assert [r.seq for r in a.unsynced(100)] == list(range(1, 61))
    a.close()
    b.close()


def test_local_day_and_time_zone(tmp_path):
    with RegistrationStore(tmp_path / "sh", "k") as s:
        late_utc = dt.datetime(2026, 11, 25, 16, 30, tzinfo=dt.UTC).timestamp()  # 00:30 in Shanghai
        assert s.day_of(late_utc) == "2026-11-26" and s.day_of(late_utc - 3600) == "2026-11-25"
        assert s.day_of(late_utc) == "2026-11-26"  # cached window
    with RegistrationStore(tmp_path / "utc", "k", tz="UTC") as s:
        assert s.day_of(late_utc) == "2026-11-25"
    new_york = ZoneInfo("America/New_York")
    with RegistrationStore(tmp_path / "ny", "k", tz=new_york) as s:  # DST days have 23 and 25 hours
        for month, day in ((3, 7), (10, 31)):
            start = int(dt.datetime(2026, month, day, 12, tzinfo=new_york).timestamp())
            for ts in range(start, start + 3 * DAY, 1800):
                assert s.day_of(ts) == local_day(ts, new_york)


# --- keyed hashes -------------------------------------------------------------------------------------


def test_keyed_hashes(tmp_path):
    a = RegistrationStore(tmp_path / "a", "ka")
    h1, c1 = a.hash_id_number(ID18), a.hash_code_id(b"cti-1")
    assert a.hash_id_number(ID18.lower()) == h1 and len(h1) == 64 and int(h1, 16) >= 0
    assert a.hash_code_id(b"cti-2") != c1 and a.hash_id_number("44030119900101123X ") == h1
    key_path = tmp_path / "a" / KEY_FILE
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600 and len(key_path.read_bytes()) == 32
    a.close()
    with RegistrationStore(tmp_path / "a", "ka") as again:  # stable per device
        assert again.hash_id_number(ID18) == h1 and again.hash_code_id(b"cti-1") == c1
    with RegistrationStore(tmp_path / "b", "kb") as other:  # different key, unrelated hashes
        assert other.hash_id_number(ID18) != h1 and other.hash_code_id(b"cti-1") != c1
    import hashlib

    assert h1 != hashlib.sha256(ID18.encode()).hexdigest()
    key_path.write_bytes(b"short")
    with pytest.raises(ValueError, match="hash key"):
        RegistrationStore(tmp_path / "a", "ka")


# --- refusing identifying data ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("masked_id", ID18, "unmasked ID number"),
        ("masked_id", "440301199001011", "unmasked ID number"),  # 15-digit (first-generation) ID
        ("masked_id", "123456", "not masked"),
        ("masked_name", "张小三", "not masked"),
        ("masked_name", "John Smith", "not masked"),
        ("issuer", "440000 / 4403 0119 9001 0112 3X", "unmasked ID number"),  # spaced digits
        ("issuer", "４４０３０１１９９００１０１１２３Ｘ", "unmasked ID number"),  # full-width digits
        ("issuer", "PHC1:6BFOXN*TS0BI$ZD", "payload"),
        ("issuer", "shc:/5676290952432060346029243740", "unmasked ID number|payload"),
        ("id_number_hash", ID18, "keyed hash"),
        ("code_id_hash", "HC1:NCFOXN%TS3DH", "keyed hash"),
        ("reasons", ["id." + ID18.lower()], "unmasked ID number"),
        ("reasons", "temperature.fever", "list of codes"),
        ("colour", "Green Card", "lower-case code"),
        ("method", "qr", "method"),
        ("decision", "ok", "decision"),
        ("format", "pdf417", "format"),
        ("temperature", float("nan"), "temperature"),
        ("ts", float("inf"), "ts"),
    ],
)
def test_refuses_identifying_or_invalid_fields(store, field, value, match):
    with pytest.raises(ValueError, match=match):
        make_reg(store, **{field: value})


def test_masked_values_from_masking_helpers_pass(store):
    for name in ("张三", "欧阳小明", "John B. Anyperson", "李", "A B"):
        make_reg(store, masked_name=mask_name(name))
    for number in (ID18, "440301199001011", "G1234567", "123"):
        make_reg(store, masked_id=mask_id(number))


# --- outbox -------------------------------------------------------------------------------------------


def test_outbox_and_mark_synced(store):
    for i in range(10):
        store.append(make_reg(store, ts=T0 + i))
    assert [r.seq for r in store.unsynced(4)] == [1, 2, 3, 4]
    assert [r.seq for r in store.unsynced(4, after_seq=4)] == [5, 6, 7, 8]
    assert store.mark_synced(6) == 6 and store.synced_seq() == 6 and store.pending() == 4
    assert [r.seq for r in store.unsynced(100)] == [7, 8, 9, 10]
    assert [r.seq for r in store.unsynced(100, after_seq=2)] == [7, 8, 9, 10]
    assert store.mark_synced(3) == 6  # never moves back
    with pytest.raises(ValueError, match="appended only up to 10"):
        store.mark_synced(11)
    assert store.mark_synced(10) == 10 and store.unsynced(100) == [] and store.pending() == 0
    with pytest.raises(ValueError):
        store.mark_synced(-1)


# --- retention ----------------------------------------------------------------------------------------


def test_purge_never_drops_unsynced(store):
    for i in range(6):
        store.append(make_reg(store, ts=T0 + i * DAY))  # days 0..5
    store.mark_synced(3)
    store.audit("guard-7", "gate.manual_open", "wheelchair gate", now=T0)
    result = store.purge(T0 + 31 * DAY, days=28)  # cutoff: day 3
    assert (result.purged, result.kept_unsynced, result.audit_purged) == (3, 0, 0)
    assert [r.seq for r in store.recent(10)] == [6, 5, 4]
    result = store.purge(T0 + 100 * DAY, days=28)  # everything is old, seq 4..6 unsynced
    assert (result.purged, result.kept_unsynced) == (0, 3)
    assert store.pending() == 3
    assert store.purge(T0 + 400 * DAY).audit_purged == 1  # audit: own retention (365 days)
    store.mark_synced(6)
    assert store.purge(T0 + 100 * DAY).purged == 3 and store.last_seq() == 6
    with pytest.raises(ValueError):
        store.purge(T0, days=0)


# --- audit --------------------------------------------------------------------------------------------


def test_audit_log(tmp_path):
    with RegistrationStore(tmp_path / "d", "k") as s:
        s.append(make_reg(s, decision="refer"))
        assert (
            s.audit("guard-7", "override.pass", "supervisor checked paper certificate", {"seq": 1}, now=T0)
            == 1
        )
        assert s.audit("guard-7", "alarm.silence", "false alarm", now=T0 + 1) == 2
        for actor, reason in (("", "why"), ("  ", "why"), ("guard", ""), ("guard", "   ")):
            with pytest.raises(ValueError, match="required"):
                s.audit(actor, "gate.manual_open", reason)
        with pytest.raises(ValueError, match="unmasked ID number"):
            s.audit("guard-7", "gate.manual_open", f"let {ID18} through")
        with pytest.raises(ValueError, match="unmasked ID number"):
            s.audit("guard-7", "gate.manual_open", "ok", {"id": ID18})
        with pytest.raises(ValueError, match="lower-case code"):
            s.audit("guard-7", "Open Gate!", "ok")
    with RegistrationStore(tmp_path / "d", "k") as s:  # durable
        entries = s.audit_entries()
        assert [(e.seq, e.actor, e.action, e.reason, e.detail) for e in entries] == [
            (1, "guard-7", "override.pass", "supervisor checked paper certificate", {"seq": 1}),
            (2, "guard-7", "alarm.silence", "false alarm", None),
        ]
        assert entries[0].device_id == "k" and entries[0].day == local_day(T0)
        assert s.audit_entries(day="2020-01-01") == []
        assert s.get(1).decision == "refer"  # registrations stay as decided; overrides are audit rows


# --- counts and exports -------------------------------------------------------------------------------


def _fill_day(store: RegistrationStore) -> str:
    rows = [
        ("pass", (), 36.5),
        ("pass", (), None),
        ("deny", ("code.expired",), 36.7),
        ("refer", (FEVER,), 38.2),
        ("deny", (FEVER, "code.revoked"), 38.9),
    ]
    for i, (decision, reasons, temp) in enumerate(rows):
        store.append(make_reg(store, ts=T0 + i * 60, decision=decision, reasons=reasons, temperature=temp))
    store.append(make_reg(store, ts=T0 + DAY, masked_name="=H*****"))  # next day
    return local_day(T0)


def test_counts(store):
    day = _fill_day(store)
    assert store.counts(day) == Counts(day, total=5, passed=2, denied=2, referred=1, fever=2)
    assert store.counts(dt.date.fromisoformat(day)) == store.counts(day)
    assert store.counts("2020-01-01") == Counts("2020-01-01")
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        store.counts("yesterday")


def test_export_csv(store, tmp_path):
    day = _fill_day(store)
    rows = list(csv.reader(io.StringIO(export_to_string(store, day, "csv"))))
    assert rows[0][:4] == ["seq", "device_id", "time_utc", "time_local"] and "reasons" in rows[0]
    body, summary = rows[1:-1], rows[-1]
    assert summary == ["summary", day, "total=5", "passed=2", "denied=2", "referred=1", "fever=2"]
    assert [r[0] for r in body] == ["1", "2", "3", "4", "5"]
    first = dict(zip(rows[0], body[0], strict=True))
    assert first["time_utc"] == "2026-11-25T09:46:40Z" and first["time_local"] == "2026-11-25T17:46:40+08:00"
    assert (first["masked_name"], first["masked_id"], first["temperature_c"]) == (
        "张*三",
        mask_id(ID18),
        "36.5",
    )
    assert dict(zip(rows[0], body[4], strict=True))["reasons"] == f"{FEVER} code.revoked"
    text = export_to_string(store, day, "csv")
    assert ID18 not in text and store.hash_id_number(ID18) not in text  # masked data only, no hashes
    out = tmp_path / "export.csv"
    counts = store.export_day(day, "csv", out, actor="guard-7", reason="end of shift")
    assert counts.total == 5 and out.read_bytes().decode() == text
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    entry = store.audit_entries()[-1]
    assert (entry.action, entry.detail) == ("export", {"day": day, "format": "csv", "rows": 5})
    next_day = list(csv.reader(io.StringIO(export_to_string(store, local_day(T0 + DAY)))))
    assert next_day[1][7] == "'=H*****"  # spreadsheet formula neutralised


def test_export_audit_csv_and_jsonl(store, tmp_path):
    """The day's guard and technician actions, for the site's records: who, what, why, with details."""
    store.audit("guard-7", "gate.manual_open", "=1+1 delivery van", {"seq": 3}, now=T0)
    store.audit("technician", "calibration.save", "thermometer calibrated", {"new_offset": 0.92}, now=T0 + 60)
    store.audit("guard-7", "alarm.silence", "checked the door", now=T0 + DAY)  # the next day
    day = local_day(T0)
    buf = io.StringIO(newline="")
    assert store.export_audit(day, "csv", buf) == 2
    rows = list(csv.reader(io.StringIO(buf.getvalue())))
    assert rows[0] == ["seq", "device_id", "time_utc", "time_local", "actor", "action", "reason", "detail"]
    assert rows[1] == [
        "1",
        "kiosk-01",
        "2026-11-25T09:46:40Z",
        "2026-11-25T17:46:40+08:00",
        "guard-7",
        "gate.manual_open",
        "'=1+1 delivery van",  # spreadsheet formula neutralised
        '{"seq": 3}',
    ]
    assert rows[2][4:] == ["technician", "calibration.save", "thermometer calibrated", '{"new_offset": 0.92}']
    out = tmp_path / "audit.jsonl"
    assert store.export_audit(local_day(T0 + DAY), "jsonl", out) == 1
    (line,) = [json.loads(x) for x in out.read_text().splitlines()]
    assert (line["type"], line["actor"], line["action"], line["detail"]) == (
        "audit",
        "guard-7",
        "alarm.silence",
        None,
    )
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    empty = io.StringIO(newline="")
    assert (
        store.export_audit(local_day(T0 + 2 * DAY), "csv", empty) == 0 and empty.getvalue().count("\n") == 1
    )
    with pytest.raises(ValueError, match="fmt"):
        store.export_audit(day, "xml", io.StringIO())


def test_export_jsonl(store):
    day = _fill_day(store)
    lines = [json.loads(line) for line in export_to_string(store, day, "jsonl").splitlines()]
    assert [x["type"] for x in lines] == ["registration"] * 5 + ["summary"]
    assert lines[-1] == {
        "type": "summary",
        "day": day,
        "total": 5,
        "passed": 2,
        "denied": 2,
        "referred": 1,
        "fever": 2,
    }
    assert (
        lines[3]["reasons"] == [FEVER]
        and lines[3]["temperature_c"] == 38.2
        and lines[1]["temperature_c"] is None
    )
    assert lines[0]["masked_name"] == "张*三" and lines[0]["seq"] == 1 and lines[0]["device_id"] == "kiosk-01"
    assert not any(k.endswith("hash") for x in lines for k in x)
    with pytest.raises(ValueError, match="fmt"):
        store.export_day(day, "xml", io.StringIO())
    with pytest.raises(ValueError, match="reason"):
        store.export_day(day, "csv", io.StringIO(), actor="guard-7")


# --- crash safety: SIGKILL a writer at random moments -------------------------------------------------

CHILD = textwrap.dedent(
    """
    import sys, time
    from kiosk.store import Registration, RegistrationStore
    store = RegistrationStore(sys.argv[1], "crash-kiosk")
    old = time.time() - 60 * 86400  # old rows, so purge() really deletes the synced ones
    i = 0
    while True:
        i += 1
        reg = Registration(ts=old + i, method="code", decision="pass", masked_name="张*三",
                           masked_id="440301********123X", reasons=["code.expired"] if i % 3 else [])
        seq = store.append(reg)
        print(f"R {seq}", flush=True)
        if i % 7 == 0:
            print(f"A {store.audit('crash-test', 'alarm.silence', 'test')}", flush=True)
        if i % 13 == 0:
            print(f"S {store.mark_synced(max(0, seq - 5))}", flush=True)
        if i % 50 == 0:
            store.purge(time.time())
            print("P", flush=True)
    """
)


@pytest.mark.slow
def test_sigkill_at_random_moments(tmp_path):
    data = tmp_path / "crash"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rng = random.Random(20261125)
    rounds, killed_in_init, total_appends, audits_seen, unacked = 30, 0, 0, set(), 0
    deadline = time.monotonic() + 50
    last = 0
    for _ in range(rounds):
        assert time.monotonic() < deadline, "crash test took too long"
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(data)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            bufsize=0,  # unbuffered: readline() below must not swallow lines that communicate() needs
        )
        first = b""
        if rng.random() < 0.2:  # anywhere, also while Python starts or the store opens
            time.sleep(rng.uniform(0.0, 0.3))
        else:  # while writing: after the first acknowledged append (robust on a loaded machine)
            if select.select([child.stdout], [], [], 20)[0]:
                first = child.stdout.readline()
            time.sleep(rng.uniform(0.0, 0.25))
        child.send_signal(signal.SIGKILL)
        out, err = child.communicate(timeout=20)
        assert child.returncode == -signal.SIGKILL, err.decode()
        lines = [line.split() for line in (first + out).decode().split("\n")[:-1]]  # complete lines only
        appended = [int(x[1]) for x in lines if x[0] == "R"]
        audits_seen |= {int(x[1]) for x in lines if x[0] == "A"}
        synced_acks = [int(x[1]) for x in lines if x[0] == "S"]
        killed_in_init += not appended
        total_appends += len(appended)
        # every returned append follows the previous one: no gap, no duplicate, no reuse
        assert appended == list(range(last + 1, last + 1 + len(appended)))

        db = sqlite3.connect(data / DB_FILE)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()
        with RegistrationStore(data, "crash-kiosk") as s:
            assert s.integrity_check() == "ok"
            now_last, synced = s.last_seq(), s.synced_seq()
            # at most one more: committed, then killed before the child could print it
            assert last + len(appended) <= now_last <= last + len(appended) + 1
            assert synced >= max(synced_acks, default=0)
            present = {r.seq for r in s.unsynced(10**6)}
            assert present == set(range(synced + 1, now_last + 1))  # the outbox has no gaps
            for seq in appended:
                assert seq <= synced or s.get(seq) is not None
            assert audits_seen <= {e.seq for e in s.audit_entries(limit=10**6)}
            unacked += now_last - last - len(appended)
            last = now_last
    assert rounds - killed_in_init >= rounds // 2, "the writer hardly ran"
    print(
        f"{rounds} rounds, {total_appends} acknowledged appends, {killed_in_init} killed before the first, "
        f"{unacked} committed but killed before acknowledging"
    )


# --- property-based: random operations against a simple model -----------------------------------------


class StoreMachine(RuleBasedStateMachine):
    """append / mark_synced / purge / reopen / clock jumps against a dict model."""

    def __init__(self) -> None:
        super().__init__()
        import tempfile

        self.dir = Path(tempfile.mkdtemp(prefix="store-prop-"))
        self.store = RegistrationStore(self.dir, "prop")
        self.clock = float(T0)
        self.rows: dict[int, tuple[float, str, bool]] = {}  # seq -> (ts, decision, fever)
        self.last = 0
        self.synced = 0

    def teardown(self) -> None:
        import shutil

        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @rule(
        decision=st.sampled_from(["pass", "deny", "refer"]),
        fever=st.booleans(),
        step=st.integers(min_value=-2 * DAY, max_value=5 * DAY),
    )
    def append(self, decision, fever, step):
        self.clock = max(0.0, self.clock + step)
        reasons = [FEVER] if fever else []
        seq = self.store.append(make_reg(self.store, ts=self.clock, decision=decision, reasons=reasons))
        self.last += 1
        assert seq == self.last
        self.rows[seq] = (self.clock, decision, fever)

    @rule(frac=st.floats(min_value=0, max_value=1))
    def mark_synced(self, frac):
        up_to = int(self.last * frac)
        assert self.store.mark_synced(up_to) == max(self.synced, up_to)
        self.synced = max(self.synced, up_to)

    @rule(extra=st.integers(min_value=1, max_value=5))
    def mark_synced_too_far(self, extra):
        with pytest.raises(ValueError):
            self.store.mark_synced(self.last + extra)

    @rule(days=st.integers(min_value=1, max_value=40))
    def purge(self, days):
        cutoff = self.clock - days * DAY
        old = {s for s, (ts, _, _) in self.rows.items() if ts < cutoff}
        gone = {s for s in old if s <= self.synced}
        result = self.store.purge(self.clock, days)
        assert (result.purged, result.kept_unsynced) == (len(gone), len(old - gone))
        for s in gone:
            del self.rows[s]

    @rule()
    def reopen(self):
        self.store.close()
        self.store = RegistrationStore(self.dir, "prop")

    @precondition(lambda self: self.rows)
    @rule(data=st.data())
    def counts_match(self, data):
        seq = data.draw(st.sampled_from(sorted(self.rows)))
        day = local_day(self.rows[seq][0])
        mine = [(d, f) for ts, d, f in self.rows.values() if local_day(ts) == day]
        expected = Counts(
            day,
            len(mine),
            sum(d == "pass" for d, _ in mine),
            sum(d == "deny" for d, _ in mine),
            sum(d == "refer" for d, _ in mine),
            sum(f for _, f in mine),
        )
        assert self.store.counts(day) == expected

    @invariant()
    def outbox_matches_model(self):
        assert self.store.last_seq() == self.last and self.store.synced_seq() == self.synced
        assert [r.seq for r in self.store.unsynced(10**6)] == list(range(self.synced + 1, self.last + 1))
        assert all(s in self.rows for s in range(self.synced + 1, self.last + 1))  # never purged unsynced


TestStoreMachine = StoreMachine.TestCase
TestStoreMachine.settings = PROPS


# --- benchmark wiring ---------------------------------------------------------------------------------


def test_bench_case_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("KIOSK_BENCH_DIR", str(tmp_path))
    from kiosk.bench_store import append_case, bench_cases

    case = append_case(tmp_path / "b")
    assert case.name == "store.append_durable"
    assert case.run() == 1 and case.run() == 2
    case.baseline()
    assert [c.name for c in bench_cases()] == ["store.append_durable"]
