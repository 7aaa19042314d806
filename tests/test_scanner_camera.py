"""The camera code scanner: synthetic frames through the real pipeline (zxing-cpp, zbar, OpenCV),
real `cv2.VideoCapture` of a video file and an image sequence, the scanner thread against the sim
camera and its faults, garbage frames, idle CPU. Run with `-s` to see the measured figures."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import segno
import zxingcpp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from drivers.config import CameraConfig, ConfigError
from drivers.events import CodeScanned
from drivers.health import State
from drivers.scanner import synth, zbar
from drivers.scanner.camera import SELFTEST_TEXT, CameraScanner, open_camera, selftest
from drivers.scanner.decode import decode_frame, decode_image
from drivers.scanner.pipeline import Deduper, FrameError, ScanPipeline
from drivers.scanner.sim import SimCamera
from drivers.scanner.sources import OpenCvSource, Picamera2Source, SourceError

FUZZ = settings(
    derandomize=True, max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
FAST = {"gone_seconds": 0.5, "frozen_seconds": 0.5, "backoff": (0.05, 0.2)}
QR = zxingcpp.BarcodeFormat.QRCode


def wait_until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


class Collect:
    def __init__(self):
        self.events: list[CodeScanned] = []
        self.lock = threading.Lock()

    def __call__(self, event) -> None:
        with self.lock:
            self.events.append(event)

    def raws(self) -> list[bytes]:
        with self.lock:
            return [e.raw for e in self.events]


@pytest.fixture
def scanners():
    started: list[CameraScanner] = []
    yield started
    for s in started:
        s.stop()


def start(scanners, config: CameraConfig, source=None, **options) -> tuple[CameraScanner, Collect]:
    scanner = open_camera(config, source, **{**FAST, **options})
    sink = Collect()
    scanner.start(sink)
    scanners.append(scanner)
    return scanner, sink


# -- detection on synthetic frames ------------------------------------------------------------------

CONDITIONS = {
    "clean": ({"size": 0.8}, 0.0, 4.0),
    "rotated 30": ({"size": 0.75, "angle": 30.0}, 0.0, 4.0),
    "rotated 160": ({"size": 0.75, "angle": 160.0}, 0.0, 4.0),
    "blur 1.5": ({"size": 0.8}, 1.5, 4.0),
    "noise 20": ({"size": 0.8}, 0.0, 20.0),
    "perspective": ({"size": 0.8, "angle": 10.0, "tilt": 0.25}, 0.0, 4.0),
    "all four": ({"size": 0.75, "angle": -20.0, "tilt": 0.2}, 1.2, 12.0),
}
PAYLOADS = [(kind, n) for n in (100, 300, 600) for kind in ("base45", "bytes")]


def _payload(kind: str, n: int) -> tuple[str | bytes, bytes]:
    if kind == "base45":
        text = synth.phic_like_text(n, n)
        return text, text.encode()
    data = synth.random_bytes(n, n)
    return data, data


def test_camera_path_finds_codes_under_rotation_blur_noise_perspective():
    counts: dict[str, list[int]] = {}
    for width, height in ((640, 480), (1280, 720)):
        scanner = CameraScanner(CameraConfig(width=width, height=height), SimCamera(width, height))
        for name, (where, blur, noise) in CONDITIONS.items():
            row = counts.setdefault(name, [0, 0])
            for i, (kind, n) in enumerate(PAYLOADS):
                data, raw = _payload(kind, n)
                gray = synth.frame_with_codes(
                    width,
                    height,
                    [(synth.qr_matrix(data), synth.Placement(**where))],
                    blur=blur,
                    noise=noise,
                    seed=i,
                )
                frame = synth.to_bgr(gray) if i % 2 else gray  # both what OpenCV and the sim deliver
                scanner.dedupe.clear()
                found = scanner.process(frame)
                assert all(p.bytes == raw for p in found)  # never a wrong payload
                row[0] += any(p.bytes == raw for p in found)
                row[1] += 1
    print("\ndetections per condition (100/300/600 bytes, Base45 text and binary, 640x480 and 1280x720):")
    for name, (hit, total) in counts.items():
        print(f"  {name:<12} {hit}/{total}")
    for name, (hit, total) in counts.items():
        assert hit >= total - 1, f"{name}: {hit}/{total}"
    assert sum(h for h, _ in counts.values()) >= 0.97 * sum(t for _, t in counts.values())


def test_second_opinion_rule_measured_on_a_hard_set():
    """A stress set (small, blurred, noisy, tilted symbols): how often zxing-cpp decodes, how often it
    locates a symbol it cannot decode, and what zbar adds on those frames and on frames with nothing."""
    rng = np.random.default_rng(5)
    pipeline = ScanPipeline(second_opinion=True)
    n = 90
    ok = located = rescued = nothing = rescued_nothing = 0
    for i in range(n):
        width, height = ((640, 480), (1280, 720))[i % 2]
        data, raw = _payload(("base45", "bytes")[(i // 2) % 2], (100, 300, 600)[i % 3])
        where = synth.Placement(
            center=(0.5 + rng.uniform(-0.1, 0.1), 0.5 + rng.uniform(-0.1, 0.1)),
            size=rng.uniform(0.35, 0.9),
            angle=rng.uniform(-180, 180),
            tilt=rng.uniform(0, 0.35),
        )
        gray = synth.frame_with_codes(
            width,
            height,
            [(synth.qr_matrix(data), where)],
            blur=rng.uniform(0, 2.5),
            noise=rng.uniform(2, 25),
            seed=i,
        )
        bare = zxingcpp.read_barcodes(gray, formats=QR, return_errors=True)
        if any(b.valid and b.bytes == raw for b in bare):
            ok += 1
            continue
        payloads = pipeline.decode(gray)
        assert all(p.bytes == raw for p in payloads)  # zbar's bytes are exact or absent
        if bare:
            located += 1
            rescued += any(p.bytes == raw for p in payloads)
        else:
            nothing += 1
            rescued_nothing += raw in zbar.decode_qr(gray)
    print(
        f"\nhard set of {n}: zxing-cpp decoded {ok}; located but not decoded {located}, zbar rescued "
        f"{rescued} of those; nothing located {nothing}, zbar would have found {rescued_nothing} of those"
    )
    assert ok > n // 2


def test_raw_bytes_are_exact_for_binary_and_eci_codes():
    pipeline = ScanPipeline()
    binary = bytes(range(256))[::-1] + b"\x00\xff\xfe\x80"  # not UTF-8, NUL included
    frame = synth.frame_with_codes(640, 480, [(synth.qr_matrix(binary), synth.Placement(size=0.9))], noise=2)
    (p,) = pipeline.scan(frame)
    assert p.bytes == binary
    # ECI 20 (Shift_JIS): the bytes are Shift_JIS, the text is decoded by zxing-cpp
    sjis = synth.qr_matrix("健康コード確認", encoding="shift_jis", eci=True)
    (p,) = pipeline.scan(synth.frame_with_codes(640, 480, [(sjis, synth.Placement())], noise=2))
    assert p.bytes == "健康コード確認".encode("shift_jis") and p.text == "健康コード確認"
    # ISO-8859-1 bytes without ECI (the QR default)
    (p,) = pipeline.scan(
        synth.frame_with_codes(640, 480, [(synth.qr_matrix("héllo wörld"), synth.Placement())])
    )
    assert p.bytes == "héllo wörld".encode("latin-1") and p.text == "héllo wörld"


def test_zbar_second_opinion_is_byte_exact_where_plain_pyzbar_is_not():
    if not zbar.available():
        pytest.skip("libzbar not installed")
    from pyzbar import pyzbar

    for data in (b"\xff\xfe\x00\x80\x81\xe9 binary", "héllo wörld".encode("latin-1")):
        img = synth.render_symbol(synth.qr_matrix(data), 6)
        assert zbar.decode_qr(img) == [data]
        assert [d.data for d in pyzbar.decode(img)] != [data]  # zbar's charset guess rewrites them


def test_second_opinion_runs_only_when_zxing_locates_an_undecodable_symbol(monkeypatch):
    calls = []
    monkeypatch.setattr(zbar, "decode_qr", lambda gray: calls.append(gray.shape) or [])
    pipeline = ScanPipeline()
    idle = synth.scene(640, 480, 3)
    assert pipeline.decode(idle) == [] and calls == []
    good = synth.frame_with_codes(640, 480, [(synth.qr_matrix("PHIC1:ABC"), synth.Placement())])
    assert len(pipeline.decode(good)) == 1 and calls == []
    pipeline.decode(idle, retry=True)  # an explicit retry always asks zbar
    assert len(calls) == 1
    # damage the data area of a large symbol so zxing-cpp finds it but cannot correct it
    matrix = synth.qr_matrix(synth.phic_like_text(300, 1))
    damaged = matrix.copy()
    damaged[20:45, 20:45] = np.random.default_rng(1).random((25, 25)) > 0.5
    frame = synth.frame_with_codes(640, 480, [(damaged, synth.Placement(size=0.9))], noise=2)
    assert pipeline.decode(frame) == []
    assert pipeline.zxing_errors == 1 and len(calls) == 2
    assert ScanPipeline(second_opinion=False).decode(frame) == []


def test_existing_decode_api_still_works(tmp_path):
    path = tmp_path / "code.png"
    cv2.imwrite(str(path), synth.render_symbol(synth.qr_matrix("HC1:TEST"), 6))
    assert [p.bytes for p in decode_image(path)] == [b"HC1:TEST"]
    assert [p.text for p in decode_frame(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE))] == ["HC1:TEST"]


# -- de-duplication, multi-code frames, region of interest ------------------------------------------


def test_deduper_reports_a_held_code_once_and_again_after_it_was_away():
    d = Deduper(3.0)
    assert d.fresh(b"A", 0.0)
    assert not any(d.fresh(b"A", t / 10) for t in range(1, 100))  # held for 10 s
    assert d.fresh(b"B", 10.0) and not d.fresh(b"B", 10.1)
    assert d.fresh(b"A", 13.5)  # away for 3.6 s
    small = Deduper(1.0, max_entries=4)
    for i in range(50):
        small.fresh(bytes([i]), float(i))
    assert len(small._seen) <= 4


def test_multi_code_frame_reports_each_chunk_once():
    chunks = [
        "HC1:" + synth.phic_like_text(180, 1)[6:],
        "shc:/1/2/" + "".join(str(d) for d in np.random.default_rng(2).integers(0, 10, 240)),
        "shc:/2/2/" + "".join(str(d) for d in np.random.default_rng(3).integers(0, 10, 240)),
    ]
    sim = SimCamera(1280, 720)
    sim.show(*chunks)
    sim.open()
    scanner = CameraScanner(CameraConfig(), sim)
    first = scanner.process(sim.read(), now=0.0)
    assert sorted(p.bytes for p in first) == sorted(c.encode() for c in chunks)
    assert scanner.process(sim.read(), now=0.1) == []  # still in view: nothing new


def test_region_of_interest_limits_where_codes_are_found():
    where = synth.Placement(center=(0.25, 0.5), size=0.6)
    frame = synth.frame_with_codes(1280, 720, [(synth.qr_matrix("LEFT"), where)])
    assert [p.bytes for p in ScanPipeline([0.0, 0.0, 0.5, 1.0]).scan(frame)] == [b"LEFT"]
    assert ScanPipeline([0.5, 0.0, 0.5, 1.0]).scan(frame) == []
    assert [p.bytes for p in ScanPipeline([0.0, 0.0, 0.5, 1.0]).scan(synth.to_bgr(frame))] == [b"LEFT"]
    for bad in ([0, 0, 1], [0.5, 0, 0.6, 1], [-0.1, 0, 0.5, 0.5], [0, 0, 0, 1]):
        with pytest.raises(ConfigError):
            ScanPipeline(bad)
    with pytest.raises(ConfigError):
        open_camera(CameraConfig(roi=[0, 0, 2, 1]))


# -- sources through real cv2.VideoCapture -----------------------------------------------------------


def _clip_frames(width: int = 640, height: int = 480) -> list[np.ndarray]:
    idle = synth.scene(width, height, 11, noise=0)
    a = synth.frame_with_codes(
        width, height, [(synth.qr_matrix("CLIP-A"), synth.Placement(size=0.6))], background=idle
    )
    b = synth.frame_with_codes(
        width,
        height,
        [(synth.qr_matrix(b"CLIP-B\xff\x00"), synth.Placement(size=0.6, angle=20))],
        background=idle,
    )
    frames = [idle] * 4 + [a] * 8 + [idle] * 4 + [b] * 8
    return [synth.add_noise(f, 3, i) for i, f in enumerate(frames)]


def _write_clip(path: Path, frames: list[np.ndarray], fps: float = 15.0) -> None:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert writer.isOpened()
    for f in frames:
        writer.write(synth.to_bgr(f))
    writer.release()


@pytest.mark.parametrize("gray", [True, False], ids=["mjpg-to-grey", "bgr"])
def test_video_file_source_through_videocapture(tmp_path, scanners, gray):
    clip = tmp_path / "clip.avi"
    _write_clip(clip, _clip_frames())
    source = OpenCvSource(str(clip), 640, 480, fps=30, gray=gray)
    scanner, sink = start(scanners, CameraConfig(backend="real", source=str(clip), fps=30), source)
    assert wait_until(lambda: len(sink.raws()) >= 2)
    assert source.raw_jpeg is gray
    time.sleep(1.2)  # the clip loops; both codes stay within the dedupe window
    assert sink.raws() == [b"CLIP-A", b"CLIP-B\xff\x00"]
    assert {e.source for e in sink.events} == {"camera"}
    assert scanner.health.state is State.OK
    frame = scanner.latest_frame()
    assert frame is not None and frame.shape[:2] == (480, 640) and not frame.flags.writeable
    assert frame.ndim == (2 if gray else 3)


def test_image_sequence_source_through_videocapture(tmp_path, scanners):
    for i, frame in enumerate(_clip_frames()):
        cv2.imwrite(str(tmp_path / f"frame_{i:03d}.png"), frame)
    pattern = str(tmp_path / "frame_%03d.png")
    scanner, sink = start(
        scanners, CameraConfig(backend="real", source=pattern, width=640, height=480, fps=30)
    )
    assert scanner.source.description == f"image sequence {pattern}"
    assert wait_until(lambda: len(sink.raws()) >= 2)
    assert sink.raws() == [b"CLIP-A", b"CLIP-B\xff\x00"]


def test_sim_backend_plays_a_video_file(tmp_path, scanners):
    clip = tmp_path / "clip.avi"
    _write_clip(clip, _clip_frames())
    scanner, sink = start(scanners, CameraConfig(backend="sim", source=str(clip), fps=30))
    assert scanner.sim is not None
    assert wait_until(lambda: len(sink.raws()) >= 2)
    assert sink.raws() == [b"CLIP-A", b"CLIP-B\xff\x00"]


def test_missing_file_or_device_fails_and_keeps_retrying(tmp_path, scanners):
    clip = tmp_path / "later.avi"
    scanner, sink = start(scanners, CameraConfig(backend="real", source=str(clip), fps=30))
    assert wait_until(lambda: "camera not available" in scanner.health.reason)
    assert scanner.health.state is State.FAILED and "no such file" in scanner.health.reason
    _write_clip(clip, _clip_frames())  # the "camera" comes back
    assert wait_until(lambda: scanner.health.state is State.OK)
    assert wait_until(lambda: b"CLIP-A" in sink.raws())


def test_picamera2_source_is_optional():
    try:
        import picamera2  # noqa: F401
    except ImportError:
        with pytest.raises(SourceError, match="picamera2 is not installed"):
            Picamera2Source().open()
    else:  # pragma: no cover - only on a Pi
        pytest.skip("picamera2 installed: not exercised by the unit tests")
    assert isinstance(open_camera(CameraConfig(backend="real", source="picamera2")).source, Picamera2Source)


# -- the scanner thread against the sim --------------------------------------------------------------


def test_scanner_thread_reports_each_held_code_once(scanners):
    scanner, sink = start(scanners, CameraConfig(fps=15, dedupe_seconds=1.0))
    sim = scanner.sim
    assert wait_until(lambda: scanner.health.state is State.OK)
    assert scanner.health.reason == "1280x720 at 15 fps"
    code_a, code_b = synth.phic_like_text(300, 7), synth.random_bytes(120, 8)
    sim.show(code_a)
    assert wait_until(lambda: len(sink.raws()) == 1)
    frames = scanner.frames
    assert wait_until(lambda: scanner.frames >= frames + 15)  # held for a second: still one report
    sim.show(code_b)
    assert wait_until(lambda: len(sink.raws()) == 2)
    sim.hide()
    time.sleep(1.6)  # away for longer than dedupe_seconds
    sim.show(code_a)
    assert wait_until(lambda: len(sink.raws()) == 3)
    time.sleep(0.5)
    assert sink.raws() == [code_a.encode(), code_b, code_a.encode()]
    assert [e.text for e in sink.events][0] == code_a
    assert scanner.stats()["codes"] == 3


def test_unplug_then_replug_goes_failed_then_ok(scanners):
    scanner, _ = start(scanners, CameraConfig(fps=15))
    sim = scanner.sim
    assert wait_until(lambda: scanner.health.state is State.OK)
    sim.unplug()
    assert wait_until(lambda: scanner.health.state is State.FAILED)
    assert wait_until(lambda: "unplugged" in scanner.health.reason)  # reopening with backoff
    opens = sim.opens
    sim.replug()
    assert wait_until(lambda: scanner.health.state is State.OK)
    assert sim.opens == opens + 1


def test_dropped_frames_degrade_then_recover(scanners):
    scanner, _ = start(scanners, CameraConfig(fps=15))
    assert wait_until(lambda: scanner.health.state is State.OK)
    scanner.sim.drop(3)
    assert wait_until(lambda: scanner.health.state is State.DEGRADED)
    assert scanner.health.reason == "dropped frames"
    assert wait_until(lambda: scanner.health.state is State.OK)
    assert scanner.dropped == 3


def test_stalled_camera_fails_and_recovers(scanners):
    sim = SimCamera(640, 480, read_timeout=0.2)
    scanner, sink = start(scanners, CameraConfig(width=640, height=480, fps=15), sim)
    assert wait_until(lambda: scanner.health.state is State.OK)
    sim.stall()
    assert wait_until(lambda: scanner.health.state is State.FAILED)
    assert "no frames from sim camera" in scanner.health.reason
    sim.stall(False)
    sim.show("BACK")
    assert wait_until(lambda: scanner.health.state is State.OK)
    assert wait_until(lambda: sink.raws() == [b"BACK"])


def test_frozen_frames_degrade_then_recover(scanners):
    scanner, _ = start(scanners, CameraConfig(fps=15))
    assert wait_until(lambda: scanner.health.state is State.OK)
    scanner.sim.freeze()
    assert wait_until(lambda: scanner.health.reason == "camera image not changing (frozen or covered)")
    assert scanner.health.state is State.DEGRADED
    scanner.sim.freeze(False)
    assert wait_until(lambda: scanner.health.state is State.OK)


def test_stop_is_prompt_even_while_a_read_waits(scanners):
    sim = SimCamera(640, 480, read_timeout=30.0)
    scanner, _ = start(scanners, CameraConfig(width=640, height=480), sim)
    assert wait_until(lambda: scanner.health.state is State.OK)
    sim.stall()
    time.sleep(0.3)
    began = time.monotonic()
    scanner.stop()
    assert time.monotonic() - began < 2.0  # close() wakes the stalled read
    assert scanner.health.state is State.FAILED and scanner.health.reason == "stopped"
    assert not sim._open


def test_a_failing_sink_does_not_stop_the_scanner(scanners):
    scanner = open_camera(CameraConfig(fps=15, dedupe_seconds=0.1), **FAST)
    scanners.append(scanner)
    seen = []

    def sink(event):
        seen.append(event.raw)
        raise RuntimeError("downstream bug")

    scanner.start(sink)
    scanner.sim.show("ONE")
    assert wait_until(lambda: b"ONE" in seen)
    scanner.sim.show("TWO")
    assert wait_until(lambda: b"TWO" in seen)


# -- garbage frames ----------------------------------------------------------------------------------

GARBAGE = [
    None,
    "frame",
    [[0, 1], [2, 3]],
    np.zeros((0, 0), np.uint8),
    np.zeros((480, 0, 3), np.uint8),
    np.zeros((10, 10), np.uint8),
    np.zeros((480, 640), np.float32),
    np.zeros((480, 640), np.uint16),
    np.zeros((480, 640, 5), np.uint8),
    np.zeros((2, 480, 640, 3), np.uint8),
    np.zeros(640 * 480, np.uint8),
    np.broadcast_to(np.uint8(0), (100_000, 100_000)),  # "huge" without allocating it
    np.broadcast_to(np.uint8(0), (100_000, 100_000, 3)),
]


@pytest.mark.parametrize("frame", GARBAGE, ids=lambda f: type(f).__name__ + str(getattr(f, "shape", "")))
def test_garbage_frames_raise_frame_error(frame):
    scanner = CameraScanner(CameraConfig(), SimCamera())
    with pytest.raises(FrameError):
        scanner.process(frame)


def test_odd_but_valid_layouts_are_read():
    gray = synth.frame_with_codes(640, 480, [(synth.qr_matrix("LAYOUT"), synth.Placement())])
    bgr = synth.to_bgr(gray)
    pipeline = ScanPipeline()
    for frame in (
        gray[:, ::-1][:, ::-1],  # negative strides twice: a view with positive strides
        np.asfortranarray(gray),
        gray[..., None],
        np.dstack([gray, np.full_like(gray, 128)]),  # YUYV-like: Y in channel 0
        bgr[:, ::-1][:, ::-1],
        cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA),
        np.pad(gray, ((0, 0), (0, 64)))[:, :640],  # padded rows
    ):
        assert [p.bytes for p in pipeline.scan(frame)] == [b"LAYOUT"]
    assert [p.bytes for p in pipeline.scan(np.ascontiguousarray(gray[:, ::-1]))] == [b"LAYOUT"]  # mirrored


@FUZZ
@given(
    hnp.arrays(
        dtype=st.sampled_from([np.uint8, np.int8, np.uint16, np.float32, np.bool_]),
        shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=40),
    )
)
def test_fuzz_frames_never_crash(frame):
    with contextlib.suppress(FrameError):
        assert ScanPipeline().scan(frame) == []  # no QR symbol fits in 40x40 pixels


@FUZZ
@given(st.binary(min_size=21 * 21, max_size=64 * 64), st.integers(21, 64))
def test_fuzz_pixel_content_never_crashes(data, width):
    rows = len(data) // width
    if rows < 21:
        return
    frame = np.frombuffer(data[: rows * width], np.uint8).reshape(rows, width)
    ScanPipeline().scan(frame, retry=True)


def test_garbage_from_the_camera_degrades_but_the_thread_survives(scanners):
    scanner, sink = start(scanners, CameraConfig(fps=30))
    sim = scanner.sim
    assert wait_until(lambda: scanner.health.state is State.OK)
    sim.push(*GARBAGE[1:])
    assert wait_until(lambda: scanner.health.state is State.DEGRADED and "bad frame" in scanner.health.reason)
    sim.show("STILL-ALIVE")
    assert wait_until(lambda: sink.raws() == [b"STILL-ALIVE"])
    assert wait_until(lambda: scanner.health.state is State.OK)
    assert scanner.bad_frames >= len(GARBAGE) - 3  # None reads as a dropped frame


# -- idle CPU, preview, self-test, benchmarks ----------------------------------------------------------


def test_idle_camera_loop_cpu_at_15_fps(scanners):
    scanner, _ = start(scanners, CameraConfig(fps=15))  # 1280x720, idle scene
    assert wait_until(lambda: scanner.health.state is State.OK)
    frames, cpu, wall = scanner.frames, time.process_time(), time.monotonic()
    time.sleep(3.0)
    cpu, wall, frames = time.process_time() - cpu, time.monotonic() - wall, scanner.frames - frames
    share = cpu / wall
    print(
        f"\nidle camera loop, 1280x720 at 15 fps: {frames / wall:.1f} frames/s, {100 * share:.1f}% of one core"
    )
    assert frames / wall > 5
    assert share < 0.8


def test_latest_frame_is_cheap_and_read_only(scanners):
    scanner, _ = start(scanners, CameraConfig(fps=15))
    assert scanner.latest_frame() is None or scanner.latest_frame().shape
    assert wait_until(lambda: scanner.latest_frame() is not None)
    frame = scanner.latest_frame()
    assert frame.shape == (720, 1280) and not frame.flags.writeable
    assert 0 <= scanner.latest_frame_age() < 5
    with pytest.raises(ValueError):
        frame[0, 0] = 1


def test_selftest_sim_real_and_missing(tmp_path):
    status, detail = selftest(CameraConfig())
    assert (status, detail) == ("ok", "sim camera: 1280x720, test card decoded")
    assert SELFTEST_TEXT.startswith("KIOSK-")
    status, detail = selftest(CameraConfig(backend="real", source=str(tmp_path / "none.avi")))
    assert status == "failed" and "no such file" in detail
    clip = tmp_path / "clip.avi"
    _write_clip(clip, _clip_frames())
    status, detail = selftest(CameraConfig(backend="real", source=str(clip), width=640, height=480, fps=15))
    assert status == "ok", detail
    assert "640x480" in detail and "fps" in detail
    status, detail = selftest(CameraConfig(backend="real", source=str(clip), width=1280, height=720))
    assert status == "degraded"  # frames arrive, but not at the configured size


def test_bench_cases_run_and_decode():
    from drivers.scanner.bench import bench_cases

    cases = {c.name: c for c in bench_cases()}
    assert {"scan.idle_frame_640x480", "scan.idle_frame_1280x720", "scan.decode_frame_1280x720"} <= set(cases)
    assert cases["scan.idle_frame_640x480"].run() == []
    assert cases["scan.idle_frame_640x480"].baseline() == []
    decoded = cases["scan.decode_frame_1280x720"].run()
    assert len(decoded) == 1 and len(decoded[0].bytes) == 600
    assert len(cases["scan.decode_frame_1280x720"].baseline()) == 1


def test_segno_is_what_the_issuer_uses():
    from kiosk.issuer.qr import make_qr

    assert np.array_equal(synth.qr_matrix("PHIC1:ABC"), np.asarray(make_qr("PHIC1:ABC").matrix, dtype=bool))
    assert segno.make_qr("PHIC1:ABC", error="m", boost_error=False).error == "M"


def test_a_decoder_exception_on_one_frame_does_not_end_the_thread(scanners, monkeypatch):
    scanner, sink = start(scanners, CameraConfig(fps=30))
    assert wait_until(lambda: scanner.health.state is State.OK)
    real = scanner.pipeline.decode
    calls = []

    def flaky(gray, retry=False):
        calls.append(1)
        if len(calls) <= 2:
            raise RuntimeError("decoder bug")
        return real(gray, retry)

    monkeypatch.setattr(scanner.pipeline, "decode", flaky)
    assert wait_until(lambda: "frame not scanned" in scanner.health.reason)
    scanner.sim.show("AFTER")
    assert wait_until(lambda: sink.raws() == [b"AFTER"])


def test_raw_mjpg_packets_decode_to_grey_or_drop():
    source = OpenCvSource("clip.avi")
    source.raw_jpeg = True
    gray = synth.scene(64, 48, 1)
    ok, jpeg = cv2.imencode(".jpg", gray)
    packet = jpeg.reshape(1, -1)
    assert source._decode_jpeg(packet).shape == (48, 64)
    assert source._decode_jpeg(packet[:, :20]) is None  # truncated JPEG: a dropped frame
    assert source._decode_jpeg(np.zeros((1, 100), np.uint8)) is None  # not a JPEG
    assert source.raw_jpeg
    bgr = synth.to_bgr(gray)
    assert source._decode_jpeg(bgr) is bgr and not source.raw_jpeg  # the backend decoded after all
