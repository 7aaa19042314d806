"""Serial QR scanner: the framer's properties, and the real driver reading the simulated module through
real pyserial on a real pty and on socket://, with every fault the module and its cable have."""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.config import SerialScannerConfig
from drivers.events import CodeScanned
from drivers.serial_scanner import (
    LineFramer,
    SerialScanner,
    SimulatedScannerModule,
    decode_text,
    open_serial_scanner,
    selftest,
    terminator_bytes,
)

LOCAL = settings(
    derandomize=True, max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TERMS = [b"\r", b"\n", b"\r\n"]
B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
WAIT = 15.0  # generous: a loaded 2-core machine


def b45_code(n: int, seed: int = 0, prefix: str = "HC1:") -> str:
    rng = random.Random(seed)
    return prefix + "".join(rng.choice(B45) for _ in range(n - len(prefix)))


def wait_until(pred: Callable[[], bool], timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


# ---------------------------------------------------------------- the framer, byte by byte


def feed_all(framer: LineFramer, chunks: list[bytes], now: float = 0.0) -> list[bytes]:
    out: list[bytes] = []
    for chunk in chunks:
        out += framer.feed(chunk, now)
    return out


def reference_lines(stream: bytes, term: bytes, max_length: int) -> list[bytes]:
    """The framer's documented rules, written the obvious way (whole stream at once)."""
    out = []
    for part in stream.split(term)[:-1]:  # the last part has no terminator: never a line
        line = part.lstrip(b"\x00\r\n")
        if term == b"\n" and line.endswith(b"\r"):
            line = line[:-1]
        if line and len(line) <= max_length:
            out.append(line)
    return out


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False)]


@pytest.mark.parametrize("term", TERMS)
def test_framer_splits_on_the_configured_terminator(term: bytes) -> None:
    framer = LineFramer(term, max_length=100)
    assert feed_all(framer, [b"ABC" + term + b"DEF" + term + b"GH"]) == [b"ABC", b"DEF"]
    assert framer.pending == 2
    assert framer.feed(term, 0.1) == [b"GH"]
    assert framer.counts["lines"] == 3


def test_framer_crlf_split_across_reads() -> None:
    framer = LineFramer("\r\n", max_length=100)
    assert framer.feed(b"CODE1\r", 0.0) == []
    assert framer.feed(b"\nCODE2\r", 0.1) == [b"CODE1"]
    assert framer.feed(b"\n", 0.2) == [b"CODE2"]
    # a lone CR or LF inside a CR LF-terminated line is data
    assert framer.feed(b"A\rB\nC\r\r\n", 0.3) == [b"A\rB\nC\r"]


def test_framer_tolerates_crlf_when_cr_or_lf_alone_is_configured() -> None:
    assert feed_all(LineFramer("\r"), [b"A\r", b"\nB\r\n", b"C\r\n"]) == [b"A", b"B", b"C"]
    assert feed_all(LineFramer("\n"), [b"A\r", b"\nB\r\n", b"C\r\n"]) == [b"A", b"B", b"C"]
    # a line of exactly max_length whose CR and LF arrive in different reads is not over-long
    assert feed_all(LineFramer("\n", max_length=3), [b"ABC\r", b"\n"]) == [b"ABC"]


def test_framer_accepts_config_spellings() -> None:
    assert terminator_bytes("CRLF") == b"\r\n" and terminator_bytes("\r") == b"\r"
    with pytest.raises(ValueError, match="terminator"):
        terminator_bytes("\t")


def test_framer_noise_between_codes_is_skipped_and_counted() -> None:
    framer = LineFramer("\r", max_length=100)
    assert feed_all(framer, [b"\x00\x00\x00A\x00B\r", b"\x00", b"\x00C\r"]) == [b"A\x00B", b"C"]
    assert framer.counts["noise_bytes"] == 5  # a NUL inside a code is data
    assert {d.kind for d in framer.take_drops()} == {"noise"}


@pytest.mark.parametrize("term", TERMS)
def test_framer_drops_over_long_lines_and_recovers(term: bytes) -> None:
    framer = LineFramer(term, max_length=10)
    exact, long = b"X" * 10, b"Y" * 25
    chunks = [exact + term[:1], term[1:] + long[:7], long[7:] + term[:1], term[1:] + b"OK" + term]
    assert feed_all(framer, chunks) == [exact, b"OK"]
    assert framer.counts["over-long_drops"] == 1
    assert [d.kind for d in framer.take_drops()] == ["over-long"]
    # memory stays bounded while an endless line streams in
    for _ in range(100):
        framer.feed(b"Z" * 50, 1.0)
        assert framer.pending <= 10 + 50
    assert framer.feed(term + b"NEXT" + term, 1.0) == [b"NEXT"]


def test_framer_drops_a_stale_partial_line_and_never_completes_it() -> None:
    framer = LineFramer("\r", max_length=100, line_timeout=2.0)
    assert framer.feed(b"PHC1:HEAD-OF-A-CODE", 0.0) == []
    framer.expire(1.9)
    assert framer.pending == 19  # not yet stale
    framer.expire(2.5)
    assert framer.pending == 0
    [drop] = framer.take_drops()
    assert drop.kind == "incomplete" and drop.size == 19 and "truncated" in drop.detail
    assert framer.feed(b"TAIL\r", 2.6) == [b"TAIL"]  # a new line, not the old one completed
    # without expire() calls: a late byte after the timeout first drops the stale part
    assert framer.feed(b"HEAD", 10.0) == []
    assert framer.feed(b"TAIL2\r", 13.0) == [b"TAIL2"]
    assert framer.counts["incomplete_drops"] == 2


@pytest.mark.parametrize(
    ("configured", "sent", "seen"), [(b"\r", b"\n", "LF"), (b"\n", b"\r", "CR"), (b"\r\n", b"\r", "CR")]
)
def test_framer_explains_a_wrong_terminator(configured: bytes, sent: bytes, seen: str) -> None:
    framer = LineFramer(configured, max_length=4096, line_timeout=1.0)
    assert feed_all(framer, [b"CODE1" + sent + b"CODE2" + sent]) == []
    framer.expire(5.0)
    [drop] = framer.take_drops()
    assert drop.kind == "incomplete" and seen in drop.detail and "terminator" in drop.detail


def line_strategy(term: bytes) -> st.SearchStrategy[bytes]:
    """Lines whose bytes survive framing unchanged: no terminator inside, no noise byte first."""

    def ok(line: bytes) -> bool:
        return (
            term not in line
            and line[:1] not in (b"\x00", b"\r", b"\n")
            and not (term == b"\n" and line.endswith(b"\r"))
        )

    alphabet = st.sampled_from(b"AZ09:$\x00\r\n\xff\x80")
    return st.one_of(
        st.binary(min_size=1, max_size=40),
        st.lists(alphabet, min_size=1, max_size=40).map(bytes),
    ).filter(ok)


@LOCAL
@given(data=st.data(), term=st.sampled_from(TERMS))
def test_property_every_complete_line_once_byte_exact(data: st.DataObject, term: bytes) -> None:
    lines = data.draw(st.lists(line_strategy(term), max_size=12))
    noise = data.draw(st.lists(st.integers(0, 3), min_size=len(lines), max_size=len(lines)))
    tail = data.draw(st.binary(max_size=20).map(lambda b: b.replace(term[-1:], b"")))
    stream = b"".join(b"\x00" * n + line + term for n, line in zip(noise, lines, strict=True)) + tail
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=30))
    framer = LineFramer(term, max_length=30, line_timeout=2.0)
    got = feed_all(framer, chunked(stream, cuts))
    assert got == [line for line in lines if len(line) <= 30]
    assert framer.counts["noise_bytes"] == sum(noise)
    framer.expire(100.0)  # the unterminated tail is dropped, never reported
    assert framer.pending == 0
    assert framer.feed(b"", 100.0) == []


@LOCAL
@given(
    stream=st.lists(st.sampled_from([b"\x00", b"\r", b"\n", b"A", b"B", b"\xff", b"\r\n"]), max_size=120).map(
        b"".join
    ),
    cuts=st.lists(st.integers(0, 400), max_size=40),
    term=st.sampled_from(TERMS),
    max_length=st.integers(1, 12),
)
def test_property_any_stream_any_chunking_matches_the_reference(
    stream: bytes, cuts: list[int], term: bytes, max_length: int
) -> None:
    framer = LineFramer(term, max_length=max_length)
    got = feed_all(framer, chunked(stream, cuts))
    assert got == reference_lines(stream, term, max_length)
    assert all(term not in line and 0 < len(line) <= max_length for line in got)
    assert framer.pending <= max_length + len(stream)


@LOCAL
@given(
    pieces=st.lists(
        st.tuples(st.binary(max_size=30).map(lambda b: b.replace(b"\r", b"\n")), st.booleans()), max_size=12
    ),
    use_expire=st.booleans(),
)
def test_property_a_silence_drops_the_partial_line(
    pieces: list[tuple[bytes, bool]], use_expire: bool
) -> None:
    """Chunks separated by a long silence are independent: nothing completes across the gap."""
    term = b"\r"
    framer = LineFramer(term, max_length=20, line_timeout=2.0)
    now, got, segments = 0.0, [], [b""]
    rng = random.Random(len(pieces))
    for body, gap in pieces:
        chunk = body + (term if rng.random() < 0.5 else b"") + body[:3]
        now += 5.0 if gap else 0.01
        if gap:
            segments.append(b"")
            if use_expire:
                framer.expire(now)
        segments[-1] += chunk
        got += framer.feed(chunk, now)
    expected = [line for seg in segments for line in reference_lines(seg, term, 20)]
    assert got == expected


# ---------------------------------------------------------------- the driver on real ports


class Collector:
    def __init__(self) -> None:
        self.events: list[CodeScanned] = []
        self._cond = threading.Condition()

    def __call__(self, event: CodeScanned) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait_for(self, n: int, timeout: float = WAIT) -> list[CodeScanned]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.events) >= n, timeout)
            return list(self.events)

    @property
    def raws(self) -> list[bytes]:
        return [e.raw for e in self.events]


@pytest.fixture
def make_sim() -> Iterator[Callable[..., SimulatedScannerModule]]:
    sims: list[SimulatedScannerModule] = []

    def make(transport: str = "pty", **kw) -> SimulatedScannerModule:
        kw.setdefault("speedup", 8.0)  # 8x the 9600-baud pace keeps the chunking and the tests short
        sim = SimulatedScannerModule(transport, **kw).start()
        sims.append(sim)
        return sim

    yield make
    for sim in sims:
        sim.close()


@pytest.fixture
def run() -> Iterator[Callable[..., tuple[SerialScanner, Collector]]]:
    """Start the real driver on a simulated module's port (through pyserial) and wait until it is open."""
    scanners: list[SerialScanner] = []

    def start(sim: SimulatedScannerModule, wait_ok: bool = True, options: dict | None = None, **cfg):
        cfg.setdefault("terminator", sim.terminator.decode())
        config = SerialScannerConfig(backend="sim", url=sim.url, **cfg)
        opts = {"line_timeout": 0.5, "degraded_window": 60.0, "max_backoff": 0.5, **(options or {})}
        scanner = open_serial_scanner(config, sim=sim, **opts)
        collector = Collector()
        scanner.start(collector)
        scanners.append(scanner)
        if wait_ok:
            assert wait_until(lambda: scanner.health.state == "ok"), scanner.health
            assert sim.wait_for_host(WAIT)
        return scanner, collector

    yield start
    for scanner in scanners:
        scanner.stop()


TRANSPORTS = ["pty", "socket"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_exact_payloads_through_pyserial(transport: str, make_sim, run) -> None:
    sim = make_sim(transport)
    scanner, got = run(sim, dedupe_seconds=0.0)
    text = b45_code(600)
    binary = b"\xd2\x84\x43" + bytes(b for b in range(256) if b not in b"\r") + b"\x00\x11\x13\x7f"
    chinese = "健康码 绿码 PHC1:" + b45_code(100, 1, "")
    codes = [text.encode(), binary, chinese.encode()]
    for code in codes:
        assert sim.scan(code)
    events = got.wait_for(3)
    assert [e.raw for e in events] == codes
    assert events[0].text == text and events[2].text == chinese
    assert events[1].text == binary.decode("latin-1")  # not UTF-8: latin-1, so raw round-trips
    assert all(e.source == "serial_scanner" for e in events)
    assert scanner.health.state == "ok"
    assert scanner.stats["reads"] > 3  # the codes came in pieces


def test_decode_text_never_fails() -> None:
    assert decode_text("é码".encode()) == "é码"
    assert decode_text(b"\xff\xfe\x80").encode("latin-1") == b"\xff\xfe\x80"


def test_600_byte_code_at_9600_baud_arrives_in_pieces(make_sim, run, capsys) -> None:
    sim = make_sim("pty", speedup=1.0)
    scanner, got = run(sim)
    code = b45_code(600, 7).encode()
    began = time.monotonic()
    sim.scan(code, wait=False)
    [event] = got.wait_for(1)
    took = time.monotonic() - began
    assert event.raw == code
    assert scanner.stats["reads"] >= 5  # partial reads: ~0.63 s of bytes at 960 bytes/s
    with capsys.disabled():
        print(f"\n  600-byte code at 9600 baud: {took:.2f} s to the event, {scanner.stats['reads']} reads")


@pytest.mark.parametrize("term", ["\r", "\n", "\r\n"])
def test_each_terminator_and_crlf_split_across_reads(term: str, make_sim, run) -> None:
    sim = make_sim("pty", terminator=term, speedup=2.0)
    scanner, got = run(sim)
    code = b45_code(300, 3).encode()
    # first chunk ends just after the CR (or the code), so the terminator straddles two reads
    assert sim.send(code + terminator_bytes(term), chunks=[len(code) + 1, 1])
    assert sim.scan(b"SECOND")
    assert [e.raw for e in got.wait_for(2)] == [code, b"SECOND"]
    assert scanner.health.state == "ok"


@pytest.mark.parametrize("configured", ["\r", "\n"])
def test_module_sending_crlf_is_tolerated(configured: str, make_sim, run) -> None:
    sim = make_sim("pty", terminator="\r\n")
    scanner, got = run(sim, terminator=configured)
    for code in (b"ONE", b"TWO"):
        sim.scan(code)
    assert [e.raw for e in got.wait_for(2)] == [b"ONE", b"TWO"]
    assert scanner.health.state == "ok"


def test_deduplication_within_dedupe_seconds(make_sim, run) -> None:
    sim = make_sim("pty")
    scanner, got = run(sim, dedupe_seconds=1.0)
    a, b = b45_code(300, 1).encode(), b45_code(300, 2).encode()
    sim.scan(a)
    sim.scan(a)  # the module reads the same code again while it is held up
    sim.scan(b)
    sim.scan(a)  # alternating codes: still the same code within the window
    assert wait_until(lambda: scanner.stats["duplicates"] == 2)
    time.sleep(1.3)  # absent for longer than dedupe_seconds: a new presentation
    sim.scan(a)
    assert got.wait_for(3) and got.raws == [a, b, a]
    assert scanner.stats["codes"] == 3


def test_fault_garbage_then_a_code(make_sim, run) -> None:
    sim = make_sim("pty")
    scanner, got = run(sim, options={"degraded_window": 3.0})
    junk = sim.garbage(length=40)
    assert wait_until(lambda: scanner.stats.get("incomplete_drops", 0) == 1)
    assert wait_until(lambda: scanner.health.state == "degraded")
    assert "incomplete" in scanner.health.reason
    code = b45_code(400, 4).encode()
    sim.scan(code)
    assert got.wait_for(1) and got.raws == [code]
    assert scanner.stats["noise_bytes"] >= 2 and scanner.stats["incomplete_bytes"] <= len(junk)
    assert wait_until(lambda: scanner.health.state == "ok")  # recovers once the line is clean again


def test_fault_nul_noise_right_before_a_code(make_sim, run) -> None:
    sim = make_sim("socket")
    scanner, got = run(sim)
    code = b45_code(300, 5).encode()
    sim.send(b"\x00" * 7 + code + b"\r" + b"\x00\x00")
    assert got.wait_for(1) and got.raws == [code]
    assert wait_until(lambda: scanner.stats["noise_bytes"] == 9)  # the trailing NULs come after the code
    assert wait_until(lambda: scanner.health.state == "degraded") and "noise" in scanner.health.reason


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_fault_truncated_code_is_never_reported(transport: str, make_sim, run) -> None:
    sim = make_sim(transport)
    scanner, got = run(sim)
    code = b45_code(600, 6).encode()
    head = sim.scan_truncated(code, keep=0.6)
    assert wait_until(lambda: scanner.stats.get("incomplete_drops", 0) == 1)
    assert scanner.stats["incomplete_bytes"] == len(head)
    assert wait_until(lambda: scanner.health.state == "degraded") and "truncated" in scanner.health.reason
    sim.scan(code)  # the traveller scans again: the whole code, not glued to the head
    assert got.wait_for(1) and got.raws == [code]
    time.sleep(0.3)
    assert got.raws == [code]


def test_fault_over_long_line(make_sim, run) -> None:
    sim = make_sim("pty", speedup=20.0)
    scanner, got = run(sim, max_length=1000)
    assert sim.scan_overlong(5000)
    code = b45_code(1000, 8).encode()  # exactly max_length: accepted
    sim.scan(code)
    assert got.wait_for(1) and got.raws == [code]
    assert scanner.stats["over-long_drops"] == 1
    assert scanner.health.state == "degraded" and "over-long" in scanner.health.reason


def test_fault_wrong_terminator(make_sim, run) -> None:
    sim = make_sim("pty", terminator="\r")
    scanner, got = run(sim)
    sim.scan_wrong_terminator(b45_code(300, 9))
    assert wait_until(lambda: scanner.stats.get("incomplete_drops", 0) == 1)
    assert got.events == []
    assert wait_until(lambda: scanner.health.state == "degraded")
    reason = scanner.health.reason
    assert "LF" in reason and "terminator" in reason


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_fault_burst_of_two_codes_in_one_write(transport: str, make_sim, run) -> None:
    sim = make_sim(transport)
    scanner, got = run(sim)
    a, b = b45_code(500, 10).encode(), b45_code(500, 11).encode()
    assert sim.scan_burst(a, b)
    assert got.wait_for(2) and got.raws == [a, b]
    assert scanner.health.state == "ok"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_disconnect_and_reconnect_recovers(transport: str, make_sim, run) -> None:
    sim = make_sim(transport, speedup=1.0)
    scanner, got = run(sim, options={"max_backoff": 0.5})
    first = b45_code(200, 12).encode()
    sim.scan(first)
    assert got.wait_for(1) and got.raws == [first]
    # unplugged in the middle of a code: the part that arrived must not be reported
    sim.send(b45_code(600, 13).encode() + b"\r", wait=False)
    assert wait_until(lambda: scanner.stats["bytes"] > len(first) + 50)
    sim.disconnect()
    assert wait_until(lambda: scanner.health.state == "failed"), scanner.health
    if transport == "pty":
        assert not os.path.exists(sim.url)
    assert wait_until(lambda: "cannot open" in scanner.health.reason)  # reopen attempts fail meanwhile
    time.sleep(0.5)
    sim.reconnect()
    assert wait_until(lambda: scanner.health.state != "failed"), scanner.health
    assert sim.wait_for_host(WAIT)
    second = b45_code(200, 14).encode()
    sim.speedup = 8.0
    assert sim.scan(second)
    assert got.wait_for(2) and got.raws == [first, second]
    stats = scanner.stats
    assert stats["losses"] == 1 and stats["opens"] >= 2 and stats["incomplete_drops"] == 1


def test_real_backend_waits_for_a_missing_port_then_reads(tmp_path: Path) -> None:
    link = tmp_path / "ttyUSB0"
    config = SerialScannerConfig(backend="real", url=str(link))
    scanner = open_serial_scanner(config, max_backoff=0.3)
    got = Collector()
    scanner.start(got)
    try:
        assert wait_until(lambda: "cannot open" in scanner.health.reason)
        assert scanner.health.state == "failed"
        with SimulatedScannerModule("pty", link_path=link, speedup=8.0) as sim:  # plugged in
            assert wait_until(lambda: scanner.health.state == "ok"), scanner.health
            assert sim.wait_for_host(WAIT) and sim.scan(b"LATE")
            assert got.wait_for(1) and got.raws == [b"LATE"]
    finally:
        scanner.stop()


@pytest.mark.parametrize("transport", [*TRANSPORTS, "missing port"])
def test_idle_driver_does_not_spin(transport: str, make_sim, run, capsys, tmp_path: Path) -> None:
    if transport == "missing port":  # failed: retrying with backoff must not spin either
        scanner = open_serial_scanner(SerialScannerConfig(backend="real", url=str(tmp_path / "gone")))
        scanner.start(Collector())
        time.sleep(0.5)
    else:
        run(make_sim(transport))
    cpu0, wall0 = time.process_time(), time.monotonic()
    time.sleep(1.5)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    with capsys.disabled():
        print(f"\n  idle {transport}: {cpu * 1000:.1f} ms CPU in {wall:.2f} s")
    if transport == "missing port":
        assert scanner.health.state == "failed"
        scanner.stop()
    assert cpu < 0.25 * wall  # a busy loop would burn about one full core (cpu ~ wall)


def test_lifecycle_stop_start_and_a_failing_sink(make_sim, run) -> None:
    sim = make_sim("pty")
    config = SerialScannerConfig(backend="sim", url=sim.url)
    scanner = open_serial_scanner(config, sim=sim)
    calls: list[bytes] = []

    def sink(event: CodeScanned) -> None:
        calls.append(event.raw)
        if len(calls) == 1:
            raise RuntimeError("downstream bug")

    scanner.start(sink)
    with pytest.raises(RuntimeError):
        scanner.start(sink)
    assert wait_until(lambda: scanner.health.state == "ok")
    sim.scan(b"A")
    sim.scan(b"B")
    assert wait_until(lambda: calls == [b"A", b"B"])
    assert scanner.stats["sink_errors"] == 1
    began = time.monotonic()
    scanner.stop()
    assert time.monotonic() - began < 2.5
    assert scanner.health.state == "failed" and scanner.health.reason == "stopped"
    assert not sim.wait_for_host(0.5)  # the port was released


def test_factory_sim_backend_owns_its_simulator() -> None:
    scanner = open_serial_scanner(SerialScannerConfig(backend="sim", terminator="\r\n"))
    got = Collector()
    with scanner:
        scanner.start(got)
        assert wait_until(lambda: scanner.health.state == "ok")
        assert scanner.sim is not None and scanner.sim.terminator == b"\r\n"
        scanner.sim.scan(b"X")
        assert got.wait_for(1) and got.raws == [b"X"]
    assert not os.path.exists(scanner.url)  # the sim's pty went with the driver
    with pytest.raises(ValueError, match="terminator"):
        open_serial_scanner(SerialScannerConfig(backend="sim", terminator=";"))
    with pytest.raises(ValueError, match="backend"):
        open_serial_scanner(SerialScannerConfig(backend="usb"))


def test_codes_are_not_logged(make_sim, run, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    sim = make_sim("pty")
    scanner, got = run(sim, max_length=50)
    secret = "PHC1:ZHANG-SAN-110105194912310020"
    sim.scan(secret)
    sim.scan(secret + "X" * 60)  # over-long: dropped and logged, by size only
    sim.scan_truncated(secret, keep=20)
    assert got.wait_for(1)
    assert wait_until(lambda: scanner.stats.get("incomplete_drops", 0) == 1)
    assert "ZHANG" not in caplog.text and "11010519" not in caplog.text
    assert "ZHANG" not in repr(scanner)


def test_selftest_sim_and_real(make_sim, run, tmp_path: Path) -> None:
    status, detail = selftest(SerialScannerConfig(backend="sim"))
    assert status == "ok" and "intact" in detail, detail
    status, detail = selftest(SerialScannerConfig(backend="sim", url="socket://127.0.0.1:0"))
    assert status == "ok" and "socket://" in detail, detail
    status, detail = selftest(SerialScannerConfig(backend="real", url=str(tmp_path / "ttyUSB9")))
    assert status == "failed" and "cannot open" in detail
    assert selftest(SerialScannerConfig(backend="sim", terminator="|"))[0] == "failed"
    sim = make_sim("pty")
    assert selftest(SerialScannerConfig(backend="real", url=sim.url))[0] == "ok"
    run(sim)  # the kiosk holds the port (exclusive): the self-test says so instead of failing
    status, detail = selftest(SerialScannerConfig(backend="real", url=sim.url))
    assert status == "degraded" and "in use" in detail, detail
