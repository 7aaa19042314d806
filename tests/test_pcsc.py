"""PC/SC contactless reader: the driver against a real pcscd with vsmartcard's vpcd reader driver and
our virtual card, through pyscard and libpcsclite (nothing mocked below the driver).

One private pcscd serves the whole module (own socket via systemd-style activation, own vpcd ports);
tests that kill or stop it restart it. Needs the apt packages pcscd and vsmartcard-vpcd.
"""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.config import PcscConfig
from drivers.events import CardFault, CardRemoved, ContactlessCard
from drivers.health import State
from drivers.pcsc import ContactlessReader, PrivatePcscd, open_pcsc, selftest
from drivers.pcsc.apdu import (
    GET_ATS,
    GET_UID,
    UidError,
    contactless_atr,
    is_random_uid,
    iso14443_4_atr,
    parse_uid_response,
)
from drivers.pcsc.service import find_pcscd, find_vpcd_library
from drivers.pcsc.vcard import CTRL_ATR, CTRL_OFF, CTRL_ON, CTRL_RESET, FrameParser, VirtualCard, encode_frame

ROOT = Path(__file__).resolve().parents[1]
settings.register_profile("pcsc", derandomize=True, max_examples=150, deadline=None)
PROPS = settings(settings.get_profile("pcsc"))  # applied per test: the global profile is left alone

try:
    import smartcard  # noqa: F401  (pyscard builds from source: swig, libpcsclite-dev, a C compiler)

    HAVE_STACK = find_pcscd() is not None and find_vpcd_library() is not None
except ImportError:
    HAVE_STACK = False
needs_stack = pytest.mark.skipif(
    not HAVE_STACK, reason="needs pyscard and apt packages pcscd, vsmartcard-vpcd"
)

UID4 = bytes.fromhex("3A5B7C9D")
UID7 = bytes.fromhex("04A1B2C3D4E5F6")
UID10 = bytes.fromhex("0811223344556677889A")


def wait_for(predicate, timeout: float = 10.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


class Events:
    """A sink that queues events for the test."""

    def __init__(self) -> None:
        self.q: queue.Queue = queue.Queue()

    def __call__(self, event) -> None:
        self.q.put(event)

    def next(self, timeout: float = 10.0):
        try:
            return self.q.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no event within {timeout} s")

    def expect(self, cls, timeout: float = 10.0):
        event = self.next(timeout)
        assert isinstance(event, cls), event
        return event

    def drain(self, seconds: float) -> list:
        out, deadline = [], time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                out.append(self.q.get(timeout=left))
            except queue.Empty:
                break
        return out


# --- fixtures: one private pcscd per module ---------------------------------------------------


@pytest.fixture(scope="module")
def stack():
    if not HAVE_STACK:
        pytest.skip("needs pyscard and apt packages pcscd, vsmartcard-vpcd")
    started = time.monotonic()
    daemon = PrivatePcscd().start()
    print(f"\nprivate pcscd up in {time.monotonic() - started:.2f} s on vpcd port {daemon.port}")
    yield daemon
    proc = daemon._proc
    daemon.stop()
    assert not daemon.running
    assert proc is None or proc.poll() is not None, "pcscd left running"
    assert PrivatePcscd.current() is None


@pytest.fixture
def pcscd(stack):
    if not stack.running:
        stack.start()
    yield stack
    stack.remove()


@pytest.fixture
def events():
    return Events()


@pytest.fixture
def reader(pcscd, events):
    r = open_pcsc(PcscConfig(backend="sim", poll_interval=0.5), sim=pcscd, stall_seconds=0.5)
    r.start(events)
    assert wait_for(lambda: r.health.state is State.OK), r.health
    yield r
    r.stop()


# --- the driver through the real stack --------------------------------------------------------


@needs_stack
def test_reader_discovered(reader, pcscd):
    assert reader.reader_name == pcscd.reader_name == "vpcd 00 00"
    assert reader.health.state is State.OK
    assert "vpcd 00 00" in reader.health.reason
    assert reader.sim is pcscd


@needs_stack
def test_insert_gives_one_card_event_remove_gives_card_removed(reader, pcscd, events):
    started = time.monotonic()
    card = pcscd.insert(UID7)
    event = events.expect(ContactlessCard)
    latency = time.monotonic() - started
    assert (event.source, event.uid, event.atr) == ("pcsc", UID7, card.atr)
    assert event.atr == contactless_atr()
    assert card.apdus == [GET_UID]  # exactly one GET UID, nothing else sent to the card
    assert events.drain(1.0) == []  # one event per insertion, even though vpcd polls the card
    pcscd.remove()
    events.expect(CardRemoved)
    assert reader.health.state is State.OK
    print(f"insert-to-event latency {latency:.2f} s (pcscd polls vpcd every ~0.4 s)")


@needs_stack
def test_two_different_cards_in_sequence(reader, pcscd, events):
    pcscd.insert(UID4)
    assert events.expect(ContactlessCard).uid == UID4
    pcscd.remove()
    events.expect(CardRemoved)
    ats = bytes.fromhex("8073C821")  # historical bytes of an ISO 14443-4 CPU card
    card = pcscd.insert(UID10, ats=ats)
    event = events.expect(ContactlessCard)
    assert event.uid == UID10 and event.atr == iso14443_4_atr(ats) == card.atr
    pcscd.remove()
    events.expect(CardRemoved)


@needs_stack
def test_wrong_status_word_is_a_fault_then_a_good_card_recovers(reader, pcscd, events):
    pcscd.insert(UID7, fault="wrong_sw")
    fault = events.expect(CardFault)
    assert "63 00" in fault.reason and not fault.forgery_suspected
    assert reader.health.state is State.DEGRADED and "63 00" in reader.health.reason
    pcscd.remove()
    events.expect(CardRemoved)
    pcscd.insert(UID4)
    assert events.expect(ContactlessCard).uid == UID4
    assert reader.health.state is State.OK


@needs_stack
@pytest.mark.parametrize(
    "garbage, why",
    [
        (b"\xa5", "too short"),
        (bytes.fromhex("1234"), "status 12 34"),
        (bytes.fromhex("12349000"), "UID length 2"),
        (bytes(range(250)), "status F8 F9"),
    ],
)
def test_garbage_answer_is_a_fault_never_a_crash(reader, pcscd, events, garbage, why):
    pcscd.insert(UID7, fault="garbage", garbage=garbage)
    fault = events.expect(CardFault)
    assert why in fault.reason, fault.reason
    assert reader.health.state is State.DEGRADED
    pcscd.remove()
    events.expect(CardRemoved)
    assert reader._thread is not None and reader._thread.is_alive()


@needs_stack
def test_mute_card_degrades_health_then_faults_and_reader_goes_on(reader, pcscd, events):
    pcscd.insert(UID7, fault="mute", mute_seconds=2.0)
    assert wait_for(lambda: "stalled" in reader.health.reason, timeout=10), reader.health
    assert reader.health.state is State.DEGRADED
    assert events.expect(CardFault).reason  # vpcd gives an empty answer or a transmit error
    events.expect(CardRemoved)  # the mute card left the field
    pcscd.insert(UID4)
    assert events.expect(ContactlessCard).uid == UID4
    assert reader.health.state is State.OK


@needs_stack
def test_sink_that_raises_does_not_kill_the_reader(pcscd):
    got: list = []

    def bad_sink(event):
        got.append(event)
        raise RuntimeError("consumer bug")

    r = open_pcsc(PcscConfig(backend="sim"), sim=pcscd)
    r.start(bad_sink)
    try:
        assert wait_for(lambda: r.health.state is State.OK)
        pcscd.insert(UID4)
        assert wait_for(lambda: any(isinstance(e, ContactlessCard) for e in got))
        pcscd.remove()
        assert wait_for(lambda: any(isinstance(e, CardRemoved) for e in got))
        assert r._thread is not None and r._thread.is_alive()
    finally:
        r.stop()


@needs_stack
def test_pcscd_killed_and_restarted(reader, pcscd, events):
    pcscd.insert(UID7)  # the card stays on the reader across the restart
    assert events.expect(ContactlessCard).uid == UID7
    pcscd.kill()
    events.expect(CardRemoved)  # the driver cannot vouch for the card any more
    assert wait_for(lambda: reader.health.state is State.FAILED)
    assert "no PC/SC service" in reader.health.reason
    # a reader opened while the service is down reports it too, without raising
    late = open_pcsc(PcscConfig(backend="real"))
    late_events = Events()
    late.start(late_events)
    try:
        assert wait_for(lambda: "no PC/SC service" in late.health.reason), late.health
        started = time.monotonic()
        pcscd.start()
        assert wait_for(lambda: reader.health.state is State.OK, timeout=15), reader.health
        event = events.expect(ContactlessCard, timeout=15)  # events resume: the card is read again
        print(f"back to ok {time.monotonic() - started:.2f} s after pcscd restart (backoff up to 5 s)")
        assert event.uid == UID7
        assert wait_for(lambda: late.health.state is State.OK, timeout=15), late.health
        assert late_events.expect(ContactlessCard, timeout=15).uid == UID7
    finally:
        late.stop()
    pcscd.insert(UID4)
    events.expect(CardRemoved)
    assert events.expect(ContactlessCard).uid == UID4


@needs_stack
def test_reader_not_found(pcscd):
    r = open_pcsc(PcscConfig(backend="real", reader="NoSuchReader"))
    r.start(Events())
    try:
        assert wait_for(lambda: "not found" in r.health.reason)
        assert r.health.state is State.FAILED
        assert "'NoSuchReader'" in r.health.reason and "vpcd 00 00" in r.health.reason
        before = time.process_time()
        time.sleep(1.0)
        spent = time.process_time() - before
        print(f"CPU while waiting for a missing reader: {spent * 1000:.1f} ms over 1 s")
        assert spent < 0.3
    finally:
        r.stop()


@needs_stack
def test_waiting_for_cards_does_not_spin(reader):
    time.sleep(0.2)
    before = time.process_time()
    time.sleep(1.5)
    spent = time.process_time() - before
    print(f"CPU of the test process while idle with the reader running: {spent * 1000:.1f} ms over 1.5 s")
    assert spent < 0.3


@needs_stack
def test_stop_is_prompt(pcscd):
    r = open_pcsc(PcscConfig(backend="sim", poll_interval=2.0), sim=pcscd)
    r.start(Events())
    assert wait_for(lambda: r.health.state is State.OK)
    thread = r._thread
    started = time.monotonic()
    r.stop()
    took = time.monotonic() - started
    print(f"stop() took {took * 1000:.1f} ms with a 2 s status wait pending (SCardCancel)")
    assert took < 1.5 and thread is not None and not thread.is_alive()
    assert r.health.state is State.FAILED and r.health.reason == "stopped"
    assert pcscd.running  # a shared stack is not the reader's to stop


@needs_stack
def test_open_pcsc_sim_uses_the_running_private_pcscd(pcscd):
    r = open_pcsc(PcscConfig(backend="sim"))
    assert r.sim is pcscd and not r._owns_sim
    assert r.config.reader == "vpcd 00 00"
    r.stop()
    assert pcscd.running


# --- selftest --------------------------------------------------------------------------------


@needs_stack
def test_selftest_real_finds_the_reader(pcscd):
    status, detail = selftest(PcscConfig(backend="real", reader="vpcd"))
    assert status == "ok" and "vpcd 00 00" in detail


@needs_stack
def test_selftest_real_reports_a_missing_reader(pcscd):
    status, detail = selftest(PcscConfig(backend="real", reader="ACR122"))
    assert status == "failed" and "'ACR122' not found" in detail


@needs_stack
def test_selftest_sim_with_running_pcscd(pcscd):
    status, detail = selftest(PcscConfig(backend="sim"))
    assert status == "ok", detail
    assert pcscd.running and pcscd.card is None


@needs_stack
def test_selftest_sim_standalone_starts_and_stops_its_own_stack(stack):
    stack.stop()  # what `kiosk selftest --sim` sees: no pcscd of ours in the process
    try:
        started = time.monotonic()
        status, detail = selftest(PcscConfig(backend="sim"))
        print(f"standalone sim selftest {time.monotonic() - started:.2f} s: {detail}")
        assert status == "ok", detail
        assert PrivatePcscd.current() is None  # it stopped what it started
        status, detail = selftest(PcscConfig(backend="real"))
        assert status == "failed" and "no PC/SC service" in detail
    finally:
        stack.start()


@needs_stack
def test_stop_leaves_no_process_and_no_socket(stack):
    pids, path = (stack.pid, stack.pcscd_pid), stack.socket_path
    assert None not in pids
    stack.stop()
    assert not stack.running
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert path is not None and not path.exists()
    stack.start()
    assert stack.running and stack.pid != pids[0]


_CRASHING_OWNER = """
import os, sys
from drivers.pcsc.service import PrivatePcscd
d = PrivatePcscd().start()
print(d.pcscd_pid, d.socket_path, flush=True)
os.kill(os.getpid(), 9)
"""


@needs_stack
def test_pcscd_ends_when_its_owner_process_is_killed():
    assert "PCSCLITE_CSOCK_NAME" not in os.environ  # not leaked to children: this one picks its own
    proc = subprocess.run(
        [sys.executable, "-c", _CRASHING_OWNER], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert proc.returncode == -9, proc.stderr
    pid = int(proc.stdout.split()[0])

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")  # zombie: exited

    assert wait_for(gone, timeout=10), f"pcscd {pid} outlived its owner"
    socket_dir = Path(proc.stdout.split()[1]).parent
    assert wait_for(lambda: not socket_dir.exists(), timeout=10), "temporary directory left behind"


# --- the virtual card, byte by byte ------------------------------------------------------------


def test_virtual_card_answers():
    card = VirtualCard(UID7, ats=bytes.fromhex("8073"))
    assert card.respond(bytes([CTRL_ATR])) == iso14443_4_atr(bytes.fromhex("8073"))
    assert card.respond(bytes([CTRL_ON])) is None and card.powered
    assert card.respond(bytes([CTRL_RESET])) is None
    assert card.respond(bytes([CTRL_OFF])) is None and not card.powered
    assert card.respond(GET_UID) == UID7 + b"\x90\x00"
    assert card.respond(GET_ATS) == bytes.fromhex("80739000")
    assert card.respond(bytes.fromhex("FFCA000004")) == bytes.fromhex("6C07")  # Le too short
    assert card.respond(bytes.fromhex("00A4040000")) == bytes.fromhex("6D00")
    assert card.respond(bytes.fromhex("FFCA020000")) == bytes.fromhex("6B00")
    assert VirtualCard(UID4).respond(GET_ATS) == bytes.fromhex("6A81")
    assert VirtualCard(UID4, fault="wrong_sw").respond(GET_UID) == bytes.fromhex("6300")
    assert VirtualCard(UID4, fault="mute").respond(GET_UID) is None
    assert VirtualCard(UID4).atr == bytes.fromhex("3B8F8001804F0CA000000306030001000000006A")
    assert "3A5B" not in repr(VirtualCard(UID4)).upper()  # no UID in logs
    for bad in (b"", b"\x01\x02\x03", bytes(8)):
        with pytest.raises(ValueError):
            VirtualCard(bad)


def test_virtual_card_speaks_vpcd_framing_over_tcp():
    """A stand-in for vpcd's side: frames split across writes and several frames in one write."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    card = VirtualCard(UID10, port=port)
    accepted: list[socket.socket] = []
    t = threading.Thread(target=lambda: accepted.append(server.accept()[0]))
    t.start()
    card.insert()
    t.join(5)
    conn = accepted[0]
    conn.settimeout(5)
    try:
        stream = encode_frame(bytes([CTRL_ON])) + encode_frame(bytes([CTRL_ATR])) + encode_frame(GET_UID)
        for i in range(0, len(stream), 3):  # dribble the bytes in
            conn.sendall(stream[i : i + 3])
            time.sleep(0.01)
        parser, answers = FrameParser(), []
        while len(answers) < 2:
            answers += parser.feed(conn.recv(4096))
        assert answers == [card.atr, UID10 + b"\x90\x00"]
        assert card.powered
    finally:
        card.remove()
        conn.close()
        server.close()
    assert not card.inserted


def test_virtual_card_insert_fails_cleanly_without_vpcd():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        with pytest.raises(OSError):
            VirtualCard(UID4, port=port).insert(timeout=0.5)


# --- properties ------------------------------------------------------------------------------


@PROPS
@given(st.lists(st.binary(max_size=300), max_size=8), st.lists(st.integers(1, 64), min_size=1, max_size=10))
def test_frame_parser_reassembles_any_chunking(payloads, cuts):
    stream = b"".join(encode_frame(p) for p in payloads)
    parser, got, i, k = FrameParser(), [], 0, 0
    while i < len(stream):
        n = cuts[k % len(cuts)]
        got += parser.feed(stream[i : i + n])
        i, k = i + n, k + 1
    assert got == payloads and parser.pending == 0


@PROPS
@given(st.binary(max_size=600))
def test_frame_parser_accounts_for_every_byte_of_garbage(data):
    parser = FrameParser()
    frames = parser.feed(data)
    assert sum(2 + len(f) for f in frames) + parser.pending == len(data)
    assert (
        parser.pending < 2 or ((data[-parser.pending] << 8) | data[-parser.pending + 1]) > parser.pending - 2
    )


@PROPS
@given(st.binary(min_size=1, max_size=300), st.integers(0, 299))
def test_frame_parser_holds_a_truncated_frame(payload, cut):
    frame = encode_frame(payload)
    cut = cut % len(frame)
    parser = FrameParser()
    assert parser.feed(frame[:cut]) == []
    assert parser.feed(frame[cut:]) == [payload]


def test_encode_frame_limits():
    assert encode_frame(b"") == b"\x00\x00"
    assert encode_frame(b"\x04") == b"\x00\x01\x04"
    with pytest.raises(ValueError):
        encode_frame(bytes(0x10000))


@PROPS
@given(st.binary(max_size=40))
def test_uid_parser_accepts_exactly_uid_plus_9000(response):
    try:
        uid = parse_uid_response(response)
    except UidError as exc:
        assert str(exc)  # a reason, never another exception type
        assert len(response) < 2 or response[-2:] != b"\x90\x00" or len(response) - 2 not in (4, 7, 10)
    else:
        assert response == uid + b"\x90\x00" and len(uid) in (4, 7, 10)


@PROPS
@given(st.sampled_from([4, 7, 10]).flatmap(lambda n: st.binary(min_size=n, max_size=n)), st.integers(0, 11))
def test_uid_parser_roundtrip_and_truncation(uid, cut):
    full = uid + b"\x90\x00"
    assert parse_uid_response(full) == uid
    if cut < len(full):
        with pytest.raises(UidError):
            parse_uid_response(full[:cut])


@PROPS
@given(st.binary(min_size=2, max_size=270))
def test_virtual_card_answers_every_apdu_with_a_status_word(apdu):
    answer = VirtualCard(UID7, ats=b"\x80").respond(apdu)
    assert answer is not None and len(answer) >= 2
    if answer[-2:] == b"\x90\x00":
        assert apdu[:2] == b"\xff\xca"


def test_random_uid_is_recognised():
    assert is_random_uid(bytes.fromhex("08123456"))
    assert not is_random_uid(UID4) and not is_random_uid(UID10)


def test_sim_unavailable_gives_failed_health_not_an_exception(monkeypatch):
    import drivers.pcsc.service as service

    monkeypatch.setattr(service.PrivatePcscd, "current", classmethod(lambda cls: None))
    monkeypatch.setattr(service, "find_pcscd", lambda: None)
    r = open_pcsc(PcscConfig(backend="sim"))
    assert isinstance(r, ContactlessReader)
    assert r.health.state is State.FAILED and "apt install pcscd" in r.health.reason
    r.start(Events())  # no thread, no exception
    r.stop()
    assert r.health.state is State.FAILED and "apt install pcscd" in r.health.reason
