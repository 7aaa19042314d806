"""Resident ID card reader: frames, text decoding, check digits, and the driver against the SAM simulator
through real pyserial on a real pty and on socket://, with every simulated fault."""

from __future__ import annotations

import logging
import threading
import time

import pytest
import serial
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.config import IdReaderConfig
from drivers.events import CardFault, CardRemoved, IdCardRead
from drivers.health import State
from drivers.idcard import (
    CardDataError,
    CardFields,
    Fault,
    IdCardReader,
    Layout,
    SamSimulator,
    id_check_digit,
    id_number_valid,
    open_id_reader,
    selftest,
)
from drivers.idcard import protocol as p
from drivers.idcard.fields import check_fields, decode_text, encode_text
from drivers.idcard.reader import BadReply, decode_read_reply
from drivers.idcard.sim import dummy_photo, sample_card

IDCARD = settings(
    derandomize=True, max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

NAME = "欧阳娜娜"
ADDRESS = "北京市东城区景山前街4号院2号楼3单元101室"


def with_check(first17: str) -> str:
    return first17 + id_check_digit(first17)


def resident(**changes) -> CardFields:
    base = dict(
        name=NAME,
        sex="2",
        nation="01",
        birth="19491231",
        address=ADDRESS,
        id_number="11010519491231002X",
        authority="北京市公安局东城分局",
        valid_from="20150101",
        valid_to="长期",
    )
    return CardFields(**(base | changes))


PERMIT = CardFields(
    layout=Layout.HK_MACAU_TAIWAN,
    name="陈大文",
    sex="1",
    nation="",
    birth="19900307",
    address="广东省深圳市福田区福华路1号",
    id_number=with_check("81000019900307001"),
    authority="深圳市公安局",
    valid_from="20200101",
    valid_to="20250101",
    pass_number="H12345678",
    issue_count="01",
)
FOREIGN_2017 = CardFields(
    layout=Layout.FOREIGN_2017,
    english_name="SMITH, JOHN ROBERT",
    name="史密斯",
    sex="1",
    nation="USA",
    birth="19800115",
    id_number="USA110080011501",
    authority="1100",
    valid_from="20180101",
    valid_to="20280101",
    card_version="20",
)
FOREIGN_2023 = CardFields(
    layout=Layout.FOREIGN_2023,
    english_name="VAN DER BERG-OOSTERHUIS, MARIA ALEXANDRA",  # 40 > 35 characters: a split field
    name="玛丽亚",
    sex="2",
    nation="NLD",
    birth="19850620",
    id_number=with_check("93152819850620012"),
    valid_from="20240301",
    valid_to="20340301",
    issue_count="00",
)


def wait_for(predicate, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


class Sink:
    def __init__(self):
        self.events = []
        self._lock = threading.Lock()

    def __call__(self, event):
        with self._lock:
            self.events.append(event)

    def of(self, kind):
        with self._lock:
            return [e for e in self.events if isinstance(e, kind)]


def make_reader(sim: SamSimulator, **config) -> IdCardReader:
    cfg = IdReaderConfig(backend="real", url=sim.url, poll_interval=0.05, read_timeout=0.8, retries=2)
    for key, value in config.items():
        setattr(cfg, key, value)
    return IdCardReader(cfg, command_timeout=0.3, max_backoff=0.3, degraded_hold=0.0)


@pytest.fixture(params=["pty", "socket"])
def sim(request):
    simulator = SamSimulator(request.param).start()
    yield simulator
    simulator.stop()


@pytest.fixture
def pty_sim():
    simulator = SamSimulator("pty").start()
    yield simulator
    simulator.stop()


@pytest.fixture
def running(pty_sim):
    """A started reader on the pty simulator and its sink."""
    reader = make_reader(pty_sim)
    sink = Sink()
    reader.start(sink)
    yield pty_sim, reader, sink
    reader.close()


# --- frames ---------------------------------------------------------------------------------------


def test_request_frames_are_byte_exact():
    assert p.encode_request(p.FIND_CARD) == bytes.fromhex("AAAAAA96690003200122")
    assert p.checksum(bytes([0x00, 0x03, 0x20, 0x01])) == 0x22
    assert p.encode_request(p.SELECT_CARD).hex().upper() == "AAAAAA96690003200221"
    assert p.encode_request(p.READ_TEXT_PHOTO).hex().upper() == "AAAAAA96690003300132"
    assert p.encode_request(p.SAM_STATUS).hex().upper() == "AAAAAA9669000311FFED"
    assert p.encode_request(p.SAM_ID).hex().upper() == "AAAAAA9669000312FFEE"


def test_simulator_replies_are_byte_exact():
    sim = SamSimulator("socket")  # not started: `respond` is the pure state machine
    req = p.Request
    assert sim.respond(req(0x20, 0x01)).hex().upper() == "AAAAAA9669000400008084"  # no card
    sim.place_card(resident())
    assert sim.respond(req(0x20, 0x01)).hex().upper() == "AAAAAA9669000800009F0000000097"
    assert sim.respond(req(0x20, 0x02)).hex().upper() == "AAAAAA9669000C00009000000000000000009C"
    assert sim.respond(req(0x11, 0xFF)).hex().upper() == "AAAAAA9669000400009094"
    reply = sim.respond(req(0x30, 0x01))
    assert len(reply) == 1295
    assert reply[:14].hex().upper() == "AAAAAA9669050800009001000400"
    assert reply[-1] == p.checksum(reply[5:-1])
    text = reply[14:270]
    assert text[:8] == NAME.encode("utf-16-le") and text[8:30] == b" \x00" * 11
    assert text[30:32] == b"2\x00" and text[32:36] == b"0\x001\x00"
    assert text[204:220] == "长期".encode("utf-16-le") + b" \x00" * 6
    assert text[220:] == b" \x00" * 18
    assert reply[270:-1] == dummy_photo()
    assert sim.respond(req(0x20, 0x01))[9] == 0x80  # a read card is halted until it leaves
    assert sim.respond(req(0x30, 0x03))[9] == 0x91  # ... but still answers: no newer address
    assert sim.respond(req(0x55, 0x01))[9] == 0x21  # unknown command
    sim.place_card(resident(), fingerprint=bytes(range(256)) * 4)
    sim.respond(req(0x20, 0x01)), sim.respond(req(0x20, 0x02))
    reply = sim.respond(req(0x30, 0x10))  # read with fingerprint: three lengths, then the blocks
    assert len(reply) == 2321 and reply[10:16].hex() == "010004000400"
    read = decode_read_reply(p.parse_response(reply[7:-1]), fingerprint=True)
    assert read.fields == resident() and read.photo == dummy_photo()


def test_card_type_marker_sits_at_byte_248():
    assert encode_text(PERMIT)[248:250] == b"J\x00"
    assert encode_text(FOREIGN_2017)[248:250] == b"I\x00"
    assert encode_text(FOREIGN_2023)[248:250] == b"Y\x00"
    assert encode_text(resident())[248:250] == b" \x00"


# --- fields and check digits ----------------------------------------------------------------------


def test_check_digit_known_vector_and_wrong_digit():
    assert id_check_digit("11010519491231002") == "X"
    assert id_number_valid("11010519491231002X")
    assert not id_number_valid("110105194912310021")
    with pytest.raises(CardDataError, match="check digit wrong"):
        check_fields(resident(id_number="110105194912310021"))
    with pytest.raises(ValueError):
        id_check_digit("1101051949123100")


@pytest.mark.parametrize(
    "card", [resident(), PERMIT, FOREIGN_2017, FOREIGN_2023], ids=lambda c: c.layout.name
)
def test_text_block_round_trip(card):
    decoded = decode_text(encode_text(card))
    assert decoded == card
    check_fields(decoded)


def test_decoding_rejects_implausible_blocks():
    good = bytearray(encode_text(resident()))
    with pytest.raises(CardDataError, match="unknown card type"):
        decode_text(bytes(good[:248]) + b"Q\x00" + bytes(good[250:]))
    with pytest.raises(CardDataError, match="not valid UCS-2"):
        decode_text(b"\x00\xd8" + bytes(good[2:]))  # a lone surrogate in the name
    with pytest.raises(CardDataError, match="256"):
        decode_text(bytes(good[:-2]))
    for change, message in [
        ({"birth": "19491232"}, "birth date"),
        ({"valid_to": "永久"}, "validity end"),
        ({"nation": "77"}, "nation code"),
        ({"sex": "5"}, "sex code"),
        ({"id_number": with_check("11010519501231002")}, "birth date"),
        ({"id_number": with_check("11010519491231001")}, "sex"),
        ({"id_number": "11010519491231002"}, "malformed"),
    ]:
        with pytest.raises(CardDataError, match=message):
            check_fields(resident(**change))


def test_characters_never_printed_on_cards_are_rejected():
    with pytest.raises(CardDataError, match="address holds characters"):
        check_fields(resident(address="北京市\x07东城区"))
    with pytest.raises(CardDataError, match="name holds characters"):
        check_fields(resident(name="欧阳\uac00"))  # Hangul: a flipped high byte of a CJK character
    check_fields(resident(name="阿依古丽·买买提", address="北京市（东城区）１号－２"))


@pytest.mark.parametrize("kind", ["resident", "hk_macau_taiwan", "foreign_permanent"])
def test_sample_cards_and_scenario_mappings_are_plausible(kind):
    card = sample_card(kind, serial=7)
    check_fields(card)
    assert card.card_type == kind
    as_mapping = {f: getattr(card, f) for f in ("name", "birth", "id_number", "valid_from", "valid_to")}
    again = CardFields.from_mapping(
        as_mapping | {"card_type": kind, "sex": "女", "nation": card.nation_name or ""}
    )
    assert (again.layout, again.sex, again.nation) == (card.layout, "2", card.nation)
    with pytest.raises(ValueError, match="unknown card field"):
        CardFields.from_mapping({"name": "x", "shoe_size": 42})


def test_personal_data_never_in_reprs():
    card = resident()
    event = IdCardRead(
        "id_reader", NAME, "女", "汉", "19491231", ADDRESS, card.id_number, "x", "y", "长期", "resident"
    )
    for text in (repr(card), repr(event), repr(p.Response(0, 0, 0x90, encode_text(card)))):
        assert NAME not in text and card.id_number not in text


# --- the frame parser -----------------------------------------------------------------------------


def bodies(items):
    return [i for i in items if isinstance(i, bytes)]


def test_parser_resynchronises_on_garbage_lengths_and_checksums():
    frames = [p.encode_response(0x9F, bytes(4)), p.encode_response(0x90, bytes(8)), p.encode_response(0x80)]
    bad_checksum = frames[0][:-1] + b"\x00"
    too_long = p.PREAMBLE + b"\xff\xff\x00\x00"
    stream = (
        b"\x01\xaa\xaa"
        + bad_checksum
        + frames[0]
        + b"\xaa\xaa\xaa\x96"
        + too_long
        + frames[1]
        + b"zz"
        + frames[2]
    )
    parser = p.FrameParser(min_len=4)
    out = []
    for byte in stream:  # one byte per read: partial frames everywhere
        out += parser.feed(bytes([byte]))
    assert bodies(out) == [f[7:-1] for f in frames]
    kinds = {i.kind for i in out if isinstance(i, p.FrameError)}
    assert kinds == {"garbage", "checksum", "length"}
    assert parser.pending == 0


def test_parser_waits_for_a_partial_frame_and_says_how_much():
    frame = p.encode_response(0x90, bytes(100))
    parser = p.FrameParser(min_len=4)
    assert parser.feed(frame[:3]) == [] and parser.wanted() == 4
    assert parser.feed(frame[3:20]) == [] and parser.wanted() == len(frame) - 20
    assert bodies(parser.feed(frame[20:])) == [frame[7:-1]]


def test_parser_takes_a_whole_frame_even_if_its_data_contains_a_frame():
    inner = p.encode_response(0x80)  # a complete, valid "no card" reply hidden in the photo
    data = (256).to_bytes(2, "big") + (1024).to_bytes(2, "big") + encode_text(resident())
    photo = inner + dummy_photo()[len(inner) :]
    frame = p.encode_response(0x90, data + photo)
    parser = p.FrameParser(min_len=4)
    out = []
    for start in range(0, len(frame), 7):
        out += parser.feed(frame[start : start + 7])
    assert bodies(out) == [frame[7:-1]]


@IDCARD
@given(st.binary(max_size=3000), st.lists(st.integers(1, 64), min_size=1, max_size=40))
def test_parser_survives_random_streams(stream, cuts):
    parser = p.FrameParser(min_len=4)
    out, pos, i = [], 0, 0
    while pos < len(stream):
        size = cuts[i % len(cuts)]
        out += parser.feed(stream[pos : pos + size])
        pos, i = pos + size, i + 1
        assert parser.pending <= p.MAX_LEN + p.HEADER_LEN + 64
    for body in bodies(out):  # every frame it reports is a checksum-valid frame present in the stream
        assert p.encode_frame(body) in stream


garbage = st.binary(max_size=40).filter(lambda b: p.PREAMBLE not in b)
replies = st.builds(
    lambda sw, data: p.encode_response(sw, data),
    st.sampled_from([0x90, 0x9F, 0x80, 0x41]),
    st.binary(max_size=50),
)


@IDCARD
@given(st.lists(st.tuples(garbage, replies), min_size=1, max_size=8), st.integers(1, 30), st.integers(0, 200))
def test_parser_recovers_every_frame_between_garbage_and_never_emits_a_cut_one(pairs, chunk, cut):
    stream = b"".join(g + f for g, f in pairs)
    frames = [f[7:-1] for _, f in pairs]
    parser = p.FrameParser(min_len=4)
    out = []
    for start in range(0, len(stream), chunk):
        out += parser.feed(stream[start : start + chunk])
    assert bodies(out) == frames
    # truncated anywhere: only the frames that arrived whole come out
    truncated = stream[: max(0, len(stream) - cut)]
    parser = p.FrameParser(min_len=4)
    got = bodies(parser.feed(truncated))
    assert got == frames[: len(got)]
    assert all(truncated.find(p.encode_frame(b)) >= 0 for b in got)


def read_reply_frame(card: CardFields) -> bytes:
    data = (256).to_bytes(2, "big") + (1024).to_bytes(2, "big") + encode_text(card) + dummy_photo()
    return p.encode_response(0x90, data)


def decode_stream(stream: bytes):
    """What the driver would make of `stream` as the reply to a read: a CardRead, or None."""
    parser = p.FrameParser(min_len=4)
    for item in parser.feed(stream):
        if isinstance(item, bytes):
            try:
                response = p.parse_response(item)
                return decode_read_reply(response) if response.sw3 == 0x90 else None
            except (p.FrameError, BadReply, CardDataError):
                return None
    return None


@IDCARD
@given(st.lists(st.tuples(st.integers(0, 1294), st.integers(1, 255)), min_size=1, max_size=3))
def test_corrupted_read_reply_is_never_a_silently_wrong_card(flips):
    original = read_reply_frame(resident())
    stream = bytearray(original)
    for index, mask in flips:
        stream[index] ^= mask
    result = decode_stream(bytes(stream))
    if result is None or (result.fields == resident() and result.photo == dummy_photo()):
        return
    # The only way through is an error pattern the XOR checksum cannot see, with the length intact.
    assert stream[5:7] == original[5:7]
    assert p.checksum(stream[5:]) == 0 == p.checksum(original[5:])
    assert p.checksum(bytes(a ^ b for a, b in zip(stream, original, strict=True))) == 0


@IDCARD
@given(st.integers(0, 1294), st.integers(1, 255), st.integers(1, 1294))
def test_single_byte_errors_and_truncations_are_always_caught(index, mask, keep):
    original = read_reply_frame(resident())
    corrupted = bytearray(original)
    corrupted[index] ^= mask
    assert decode_stream(bytes(corrupted)) is None
    assert decode_stream(original[:keep]) is None


# --- the driver against the simulator, through pyserial -------------------------------------------


def test_full_read_posts_events_exactly_once(sim):
    reader = make_reader(sim)
    sink = Sink()
    reader.start(sink)
    try:
        assert wait_for(lambda: reader.health.state is State.OK)
        sim.place_card(resident())
        assert wait_for(lambda: sink.of(IdCardRead))
        time.sleep(0.5)  # ~10 more polls: the card stays, no second event
        (event,) = sink.of(IdCardRead)
        assert (event.name, event.sex, event.nation, event.birth) == (NAME, "女", "汉", "19491231")
        assert (event.address, event.id_number, event.authority) == (
            ADDRESS,
            "11010519491231002X",
            "北京市公安局东城分局",
        )
        assert (event.valid_from, event.valid_to, event.card_type) == ("20150101", "长期", "resident")
        assert event.photo == dummy_photo()
        assert sim.requests.count(p.READ_TEXT_PHOTO) == 1
        assert not sink.of(CardRemoved) and not sink.of(CardFault)
        sim.remove_card()
        assert wait_for(lambda: sink.of(CardRemoved))
        time.sleep(0.3)
        assert len(sink.of(CardRemoved)) == 1
        sim.place_card(resident())  # the next traveller
        assert wait_for(lambda: len(sink.of(IdCardRead)) == 2)
        assert reader.health.state is State.OK
    finally:
        reader.close()


@pytest.mark.parametrize(
    "card, expect",
    [
        (PERMIT, ("hk_macau_taiwan", "陈大文", "")),
        (FOREIGN_2017, ("foreign_permanent", "SMITH, JOHN ROBERT", "USA")),
        (FOREIGN_2023, ("foreign_permanent", FOREIGN_2023.english_name, "NLD")),
    ],
    ids=["J", "I", "Y"],
)
def test_permits_and_foreign_cards_decode_to_typed_fields(running, card, expect):
    sim, reader, sink = running
    sim.place_card(card)
    assert wait_for(lambda: sink.of(IdCardRead) or sink.of(CardFault))
    assert not sink.of(CardFault)
    event = sink.of(IdCardRead)[0]
    assert (event.card_type, event.name, event.nation) == expect
    assert (event.id_number, event.birth, event.valid_to) == (card.id_number, card.birth, card.valid_to)


def test_wrong_check_digit_is_a_card_fault(running):
    sim, reader, sink = running
    sim.place_card(resident(id_number="110105194912310021"))
    assert wait_for(lambda: sink.of(CardFault))
    time.sleep(0.4)
    (fault,) = sink.of(CardFault)
    assert fault.reason == "ID number check digit wrong" and not fault.forgery_suspected
    assert not sink.of(IdCardRead)
    sim.remove_card()
    assert wait_for(lambda: sink.of(CardRemoved))


@pytest.mark.parametrize("sw3", [0x31, 0x32, 0x33], ids=lambda v: f"{v:02X}")
def test_authentication_failure_is_suspected_forgery_logged_without_personal_data(running, caplog, sw3):
    sim, reader, sink = running
    caplog.set_level(logging.INFO, logger="drivers.idcard")
    sim.inject(Fault.AUTH_FAILED, sw3=sw3, count=None)
    sim.place_card(resident())
    assert wait_for(lambda: sink.of(CardFault))
    time.sleep(0.4)
    (fault,) = sink.of(CardFault)
    assert fault.forgery_suspected and f"SW3 {sw3:02X}" in fault.reason
    assert not sink.of(IdCardRead)
    assert reader.health.state is State.OK  # a bad card is not a bad reader
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("suspected forged card" in m for m in warnings)
    assert all(
        NAME not in r.getMessage() and "11010519491231002X" not in r.getMessage() for r in caplog.records
    )
    sim.remove_card()
    assert wait_for(lambda: sink.of(CardRemoved))
    assert len(sink.of(CardFault)) == 1


def test_read_failure_41_persistent_is_a_fault_and_transient_is_retried(running):
    sim, reader, sink = running
    sim.inject(Fault.READ_FAILED, count=1)
    sim.place_card(resident())
    assert wait_for(lambda: sink.of(IdCardRead))
    assert not sink.of(CardFault)
    sim.remove_card()
    assert wait_for(lambda: sink.of(CardRemoved))
    sim.inject(Fault.READ_FAILED, count=None)
    sim.place_card(resident())
    assert wait_for(lambda: sink.of(CardFault))
    fault = sink.of(CardFault)[0]
    assert "SW3 41" in fault.reason and not fault.forgery_suspected
    assert len(sink.of(IdCardRead)) == 1


@pytest.mark.parametrize("fault", [Fault.BAD_CHECKSUM, Fault.TRUNCATED, Fault.NO_ANSWER, Fault.GARBAGE])
def test_transient_transport_faults_are_retried_and_show_as_degraded(pty_sim, fault):
    reader = make_reader(pty_sim)
    try:
        assert reader.poll_once() == [] and reader.health.state is State.OK
        pty_sim.inject(fault, count=1, command=p.FIND_CARD)
        assert reader.poll_once() == []
        expected = State.OK if fault is Fault.GARBAGE else State.DEGRADED  # garbage is skipped, no retry
        assert reader.health.state is expected, reader.health
        assert reader.poll_once() == [] and reader.health.state is State.OK
        if fault is Fault.GARBAGE:
            assert reader.stats["bad_frames"] >= 3
    finally:
        reader.close()


def test_degraded_is_held_for_a_while_after_a_retry(pty_sim):
    reader = make_reader(pty_sim)
    reader.degraded_hold = 60.0
    try:
        pty_sim.inject(Fault.BAD_CHECKSUM, count=1, command=p.FIND_CARD)
        reader.poll_once()
        reader.poll_once()
        assert reader.health.state is State.DEGRADED and "retry" in reader.health.reason
    finally:
        reader.close()


@pytest.mark.parametrize(
    "fault, reason",
    [(Fault.BAD_CHECKSUM, "SAM replies are corrupted"), (Fault.NO_ANSWER, "SAM does not answer")],
)
def test_persistent_transport_faults_fail_and_recover(pty_sim, fault, reason):
    reader = make_reader(pty_sim)
    try:
        pty_sim.inject(fault, count=None)
        reader.poll_once()
        assert reader.health.state is State.FAILED and reason in reader.health.reason
        pty_sim.clear_faults()
        assert reader.poll_once() == [] and reader.health.state is State.OK
    finally:
        reader.close()


@pytest.mark.parametrize("fault", [Fault.TRUNCATED, Fault.BAD_CHECKSUM])
def test_a_broken_read_reply_is_a_fault_until_the_card_is_presented_again(running, fault):
    sim, reader, sink = running
    sim.inject(fault, count=1, command=p.READ_TEXT_PHOTO)
    sim.place_card(resident())
    assert wait_for(lambda: sink.of(CardFault))
    assert "no valid reply while reading" in sink.of(CardFault)[0].reason
    sim.remove_card()
    assert wait_for(lambda: sink.of(CardRemoved))
    sim.place_card(resident())
    assert wait_for(lambda: sink.of(IdCardRead))
    assert len(sink.of(CardFault)) == 1


def test_garbage_before_every_reply_still_reads(running):
    sim, reader, sink = running
    sim.inject(Fault.GARBAGE, count=None)
    sim.place_card(resident())
    assert wait_for(lambda: sink.of(IdCardRead))
    assert sink.of(IdCardRead)[0].name == NAME
    assert reader.stats["bad_frames"] > 0 and reader.health.state is State.OK


def test_paced_replies_arrive_in_pieces(sim):
    sim.pace = True  # 115200 baud in 32-byte chunks: the read reply takes ~0.11 s
    reader = make_reader(sim)
    try:
        reader.poll_once()
        sim.place_card(resident(), newest_address="北京市西城区新街口外大街19号")
        (event,) = reader.poll_once()
        assert isinstance(event, IdCardRead) and event.name == NAME
        assert reader.read_newest_address() == "北京市西城区新街口外大街19号"
    finally:
        reader.close()


def test_unplug_and_replug_recover_by_themselves(sim):
    reader = make_reader(sim)
    sink = Sink()
    reader.start(sink)
    try:
        sim.place_card(resident())
        assert wait_for(lambda: sink.of(IdCardRead))
        sim.unplug()
        assert wait_for(lambda: reader.health.state is State.FAILED)
        assert wait_for(lambda: sink.of(CardRemoved))  # nobody vouches for the card while the reader is gone
        time.sleep(0.5)
        assert reader.health.state is State.FAILED
        sim.replug()  # power cycled: the card in the field is fresh and read again
        assert wait_for(lambda: reader.health.state is State.OK)
        assert wait_for(lambda: len(sink.of(IdCardRead)) == 2)
    finally:
        reader.close()


def test_no_busy_spin_while_polling_without_a_card(running):
    sim, reader, sink = running
    assert wait_for(lambda: reader.health.state is State.OK)
    polls_before = sim.requests.count(p.FIND_CARD)
    cpu, wall = time.process_time(), time.monotonic()
    time.sleep(1.5)
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    polls = sim.requests.count(p.FIND_CARD) - polls_before
    print(f"idle polling: {polls} polls in {wall:.2f} s, process CPU {cpu * 1000:.0f} ms")
    assert polls >= 5  # it does poll
    assert cpu < 0.5 * wall  # reader + simulator threads, on a loaded machine; a spinning loop uses ~1x


def test_stop_is_prompt_and_releases_the_port(pty_sim):
    reader = make_reader(pty_sim, read_timeout=2.5)
    reader.start(Sink())
    assert wait_for(lambda: reader.health.state is State.OK)
    started = time.monotonic()
    reader.close()
    assert time.monotonic() - started < 2.0
    assert reader._thread is None and reader._port is None


def test_a_failing_sink_does_not_stop_the_reader(running):
    sim, reader, _ = running
    calls = []

    def bad_sink(event):
        calls.append(event)
        raise RuntimeError("sink broke")

    reader._sink = bad_sink
    sim.place_card(resident())
    assert wait_for(lambda: calls)
    sim.remove_card()
    assert wait_for(lambda: any(isinstance(e, CardRemoved) for e in calls))


def test_the_sam_answers_garbled_requests(pty_sim):
    with serial.serial_for_url(pty_sim.url, baudrate=115200, timeout=1.0) as port:
        port.write(p.encode_request(p.FIND_CARD)[:-1] + b"\x00")  # bad checksum
        assert port.read(11) == p.encode_response(p.SW.CHECKSUM_ERROR)
        port.write(p.encode_request((0x99, 0x01)))
        assert port.read(11) == p.encode_response(p.SW.COMMAND_ERROR)
        port.write(p.encode_request(p.FIND_CARD))
        assert port.read(11) == bytes.fromhex("AAAAAA9669000400008084")


def test_sam_status_and_id(sim):
    reader = make_reader(sim)
    try:
        assert reader.sam_status() == 0x90
        assert reader.sam_id() == "05.01-20230601-000123456-001234567"
    finally:
        reader.close()


def test_selftest():
    assert selftest(IdReaderConfig(backend="sim")) == (
        "ok",
        "SAM status 90, SAM id 05.01-20230601-000123456-001234567",
    )
    status, detail = selftest(IdReaderConfig(backend="real", url="/nonexistent/ttyUSB9"))
    assert status == "failed" and "cannot open" in detail
    with SamSimulator("socket") as sim:
        sim.inject(Fault.SAM_NOT_READY, count=None)
        assert selftest(IdReaderConfig(backend="real", url=sim.url)) == (
            "failed",
            "SAM status SW3 60 (SAM self-test failed)",
        )
        sim.clear_faults()
        sim.inject(Fault.NO_ANSWER, count=None)
        status, detail = selftest(IdReaderConfig(backend="real", url=sim.url, retries=0))
        assert status == "failed" and "does not answer" in detail


def test_factory_sim_backend_owns_its_simulator():
    reader = open_id_reader(IdReaderConfig(backend="sim", poll_interval=0.05))
    sink = Sink()
    try:
        reader.start(sink)
        reader.simulator.place_card(resident())
        assert wait_for(lambda: sink.of(IdCardRead))
    finally:
        reader.close()
    assert not reader.simulator.plugged
