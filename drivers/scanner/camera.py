"""The camera code scanner: a daemon thread reads frames at the configured rate, runs each through
the scan pipeline and posts `CodeScanned(source="camera", ...)` for every new code.

Health: ok while frames arrive; degraded on dropped, bad or frozen frames (recent ones, a window of
about two seconds); failed when no frame came for `gone_seconds` or the camera cannot be opened, and
then it closes the source and reopens it with exponential backoff until the camera is back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

import numpy as np

from drivers.config import CameraConfig
from drivers.events import CodeScanned, Sink
from drivers.health import Health, HealthTracker, State
from drivers.scanner.decode import Payload
from drivers.scanner.pipeline import Deduper, FrameError, ScanPipeline, check_roi
from drivers.scanner.sim import SimCamera
from drivers.scanner.sources import FrameSource, OpenCvSource, Picamera2Source, SourceError, is_file_source

log = logging.getLogger(__name__)

SELFTEST_TEXT = "KIOSK-SELFTEST-CARD-0001"


class CameraScanner:
    def __init__(
        self,
        config: CameraConfig,
        source: FrameSource,
        *,
        name: str = "camera",
        gone_seconds: float = 2.0,
        frozen_seconds: float = 2.0,
        backoff: tuple[float, float] = (0.5, 8.0),
        clock=time.monotonic,
    ):
        if config.fps <= 0:
            raise ValueError(f"[camera] fps must be positive, got {config.fps}")
        check_roi(config.roi)
        self.config = config
        self.source = source
        self.name = name
        self.gone_seconds = gone_seconds
        self.frozen_seconds = frozen_seconds
        self.backoff = backoff
        self._clock = clock
        self.pipeline = ScanPipeline(config.roi, config.second_opinion)
        self.dedupe = Deduper(config.dedupe_seconds, clock=clock)
        self._health = HealthTracker()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._frame_lock = threading.Lock()
        self._latest: np.ndarray | None = None
        self._latest_at = 0.0
        self._sample: bytes = b""  # three rows of the previous frame, to spot a frozen image
        self._same_since: float | None = None
        self.frames = self.dropped = self.bad_frames = self.codes = 0

    # -- public ---------------------------------------------------------------------------------
    @property
    def health(self) -> Health:
        return self._health.get()

    @property
    def sim(self) -> SimCamera | None:
        """The simulated camera, to show codes and inject faults (None for a real camera)."""
        return self.source if isinstance(self.source, SimCamera) else None

    def start(self, sink: Sink) -> None:
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("camera scanner already started")
        self._stop.clear()
        self._health.failed("starting")
        self._thread = threading.Thread(
            target=self._run, args=(sink,), name=f"{self.name}-scanner", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """End the thread; it closes the source on its way out. A read blocked in the driver delays
        this by at most the source's read timeout (OpenCV cannot be released from another thread
        mid-read); sources that can cut a wait short offer `interrupt()`."""
        self._stop.set()
        thread, self._thread = self._thread, None
        interrupt = getattr(self.source, "interrupt", None)
        if interrupt is not None:
            interrupt()
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("%s: scanner thread did not stop within %.1f s", self.name, timeout)
        else:
            self.source.close()
        self._health.failed("stopped")

    close = stop

    def selftest(self) -> tuple[str, str]:
        """Self-test of this running scanner without reopening the camera (see `live_selftest`)."""
        return live_selftest(self)

    def latest_frame(self) -> np.ndarray | None:
        """The newest frame as the source gave it (read-only; no copy), for a preview."""
        with self._frame_lock:
            return self._latest

    def latest_frame_age(self) -> float | None:
        with self._frame_lock:
            return None if self._latest is None else self._clock() - self._latest_at

    def stats(self) -> dict:
        p = self.pipeline
        return {
            "frames": self.frames,
            "dropped": self.dropped,
            "bad_frames": self.bad_frames,
            "codes": self.codes,
            "zxing_errors": p.zxing_errors,
            "second_opinions": p.second_opinions,
            "rescued_by_zbar": p.rescued,
        }

    def process(self, frame: object, now: float | None = None) -> list[Payload]:
        """One frame through the pipeline: the codes in it not reported within `dedupe_seconds`.
        Raises FrameError for a frame that is not an image the pipeline can use."""
        gray = self.pipeline.gray(frame)
        now = self._clock() if now is None else now
        self._check_frozen(gray, now)
        return [p for p in self.pipeline.decode(gray) if self.dedupe.fresh(p.bytes, now)]

    @property
    def frozen(self) -> bool:
        return self._same_since is not None and self._clock() - self._same_since >= self.frozen_seconds

    # -- the thread -----------------------------------------------------------------------------
    def _check_frozen(self, gray: np.ndarray, now: float) -> None:
        """Sensor noise changes every row of every frame; three identical rows mean a frozen image.
        Contiguous rows compare as bytes (a memcmp): a strided sample cost ten times as much."""
        h = gray.shape[0]
        sample = gray[h // 4].tobytes() + gray[h // 2].tobytes() + gray[3 * h // 4].tobytes()
        if sample == self._sample:
            if self._same_since is None:
                self._same_since = now
        else:
            self._same_since = None
            self._sample = sample

    def _run(self, sink: Sink) -> None:
        delay = self.backoff[0]
        try:
            while not self._stop.is_set():
                try:
                    self.source.open()
                except SourceError as exc:
                    self._health.failed(f"camera not available: {exc}")
                    self._stop.wait(delay)
                    delay = min(delay * 2, self.backoff[1])
                    continue
                except Exception as exc:  # a driver bug must not end the thread for good
                    log.exception("%s: opening the source failed", self.name)
                    self._health.failed(f"camera not available: {type(exc).__name__}")
                    self._stop.wait(delay)
                    delay = min(delay * 2, self.backoff[1])
                    continue
                delay = self.backoff[0]
                try:
                    self._read_frames(sink)
                finally:
                    self.source.close()
        finally:
            self.source.close()

    def _read_frames(self, sink: Sink) -> None:
        """Read until the camera is gone or stop() is called."""
        period = 1.0 / self.config.fps
        recent: deque[bool] = deque(maxlen=max(3, int(2 * self.config.fps)))
        last_good = self._clock()
        tick = last_good
        while not self._stop.is_set():
            try:
                frame = self.source.read()
            except Exception as exc:  # OpenCV or libcamera raising: treat as no frame
                log.warning("%s: read failed: %s", self.name, type(exc).__name__)
                frame = None
            now = self._clock()
            if frame is None:
                self.dropped += 1
                recent.append(False)
                if now - last_good >= self.gone_seconds:
                    self._health.failed(
                        f"no frames from {self.source.description} for {now - last_good:.1f} s"
                    )
                    return
                if self._health.get().state is not State.FAILED:
                    self._health.degraded("dropped frames")
            else:
                try:
                    new = self.process(frame, now)
                except FrameError as exc:
                    self.bad_frames += 1
                    recent.append(False)
                    self._health.degraded(f"bad frame: {exc}")
                except Exception as exc:  # a decoder bug on one frame must not end the thread
                    log.exception("%s: scanning a frame failed", self.name)
                    self.bad_frames += 1
                    recent.append(False)
                    self._health.degraded(f"frame not scanned: {type(exc).__name__}")
                else:
                    self._publish(frame, now)
                    self.frames += 1
                    last_good = now
                    recent.append(True)
                    self._post(sink, new)
                    if self.frozen:
                        self._health.degraded("camera image not changing (frozen or covered)")
                    elif all(recent):
                        h, w = frame.shape[:2]  # type: ignore[union-attr]
                        self._health.ok(f"{w}x{h} at {self.config.fps:g} fps")
            tick += period
            wait = tick - self._clock()
            if wait > 0:
                self._stop.wait(wait)
            elif wait < -period:
                tick = self._clock()  # fell behind (slow decode or slow device): do not catch up in a burst

    def _publish(self, frame: np.ndarray, now: float) -> None:
        view = frame.view()  # no copy; read-only so a preview cannot scribble on it
        view.flags.writeable = False
        with self._frame_lock:
            self._latest, self._latest_at = view, now

    def _post(self, sink: Sink, payloads: list[Payload]) -> None:
        for p in payloads:
            self.codes += 1
            try:
                sink(CodeScanned(source=self.name, text=p.text, raw=p.bytes))
            except Exception:
                log.exception("%s: the sink raised on a scanned code", self.name)  # never the payload


def open_source(config: CameraConfig) -> FrameSource:
    """The frame source `config` names: the sim, Picamera2, or OpenCV (device, file, pattern)."""
    if config.backend == "sim":
        files = config.source if is_file_source(config.source) else None
        return SimCamera(config.width, config.height, files=files)
    if config.source == "picamera2":
        return Picamera2Source(config.width, config.height, config.fps)
    return OpenCvSource(config.source, config.width, config.height, config.fps)


def open_camera(config: CameraConfig, source: FrameSource | None = None, **options) -> CameraScanner:
    """The camera scanner for `config` (not started: call `start(sink)`). `options` are the timing
    knobs of `CameraScanner` (gone_seconds, frozen_seconds, backoff)."""
    return CameraScanner(config, source if source is not None else open_source(config), **options)


def selftest(config: CameraConfig, seconds: float = 2.0) -> tuple[str, str]:
    """Frames arrive (size, rate) and, on the sim, a test card with a known text decodes."""
    try:
        scanner = open_camera(config)
    except ValueError as exc:
        return "failed", str(exc)
    source = scanner.source
    sim = scanner.sim
    try:
        source.open()
    except SourceError as exc:
        return "failed", f"camera not available: {exc}"
    try:
        if sim is not None:
            sim.show(SELFTEST_TEXT)
        frames, size, decoded, bad = 0, None, False, 0
        enough = max(5, int(config.fps))  # about a second of frames gives the rate
        start = time.monotonic()
        deadline = start + seconds
        while time.monotonic() < deadline and not (decoded if sim is not None else frames >= enough):
            frame = source.read()
            if frame is None:
                time.sleep(0.01)
                continue
            try:
                payloads = scanner.pipeline.scan(frame)
            except FrameError:
                bad += 1
                continue
            frames += 1
            size = frame.shape[1], frame.shape[0]
            decoded = decoded or any(p.bytes == SELFTEST_TEXT.encode() for p in payloads)
        elapsed = time.monotonic() - start
    finally:
        source.close()
    if not frames:
        return "failed", f"no frames from {source.description} in {seconds:g} s" + (
            f" ({bad} bad)" if bad else ""
        )
    where = f"{source.description}: {size[0]}x{size[1]}"
    if sim is not None:
        if not decoded:
            return "failed", f"{where}, test card not decoded in {frames} frames"
        return "ok", f"{where}, test card decoded"
    return _frames_verdict(config, where, size, frames / elapsed, bad)


def _frames_verdict(
    config: CameraConfig, where: str, size: tuple[int, int], rate: float, bad: int
) -> tuple[str, str]:
    """Frames arrived: degraded when some were bad, the size is not the configured one or the rate is
    under half the configured rate."""
    detail = f"{where} at {rate:.1f} fps (configured {config.width}x{config.height} at {config.fps:g})"
    if bad or size != (config.width, config.height) or rate < config.fps / 2:
        return "degraded", detail + (f", {bad} bad frames" if bad else "")
    return "ok", detail


def live_selftest(scanner: CameraScanner, seconds: float = 2.0) -> tuple[str, str]:
    """The running kiosk's camera scanner, as it runs: its thread delivers frames (counted for about a
    second: size, rate, bad frames), the newest frame is recent, and its health. Nothing is shown to
    or read from the camera beyond what the scanner thread does (on the sim no test card: it would
    reach the checkpoint as a scan)."""
    thread = scanner._thread
    if thread is None or not thread.is_alive():
        return "failed", f"camera scanner is not running ({scanner.health.reason})"
    health = scanner.health
    if health.state is State.FAILED:
        return "failed", health.reason
    config = scanner.config
    frames0, bad0, dropped0 = scanner.frames, scanner.bad_frames, scanner.dropped
    enough = max(5, int(config.fps))  # about a second of frames gives the rate, as selftest(config)
    start = time.monotonic()
    deadline = start + seconds
    while time.monotonic() < deadline and scanner.frames - frames0 < enough:
        time.sleep(0.01)
    elapsed = time.monotonic() - start
    frames = scanner.frames - frames0
    bad, dropped = scanner.bad_frames - bad0, scanner.dropped - dropped0
    latest, age = scanner.latest_frame(), scanner.latest_frame_age()
    if not frames or latest is None:
        return "failed", f"no frames from {scanner.source.description} in {elapsed:.1f} s" + (
            f" ({bad} bad, {dropped} dropped)" if bad or dropped else ""
        )
    size = latest.shape[1], latest.shape[0]
    where = f"{scanner.source.description}: {size[0]}x{size[1]}"
    status, detail = _frames_verdict(config, where, size, frames / elapsed, bad)
    detail += f", newest frame {age:.2f} s old" if age is not None else ""
    if dropped:
        status, detail = "degraded", detail + f", {dropped} dropped"
    health = scanner.health
    if health.state is State.FAILED:
        return "failed", f"{detail}; {health.reason}"
    if health.state is State.DEGRADED:
        return "degraded", f"{detail}; {health.reason}"
    return status, detail
