"""The simulated camera: a frame source inside the product, for tests, demos and CI.

It delivers what the real sources deliver: grey uint8 frames of the configured size (as `OpenCvSource`
gives for an MJPG USB camera and `Picamera2Source` for the Pi camera), or BGR frames with
`color=True` (as `VideoCapture.read` gives for other formats), or None when no frame came. What it
shows:

- an idle scene (a textured, noisy counter; a few noise variants cycle, as sensor noise does),
- codes held up to it (`show`: text or bytes rendered as QR symbols into the scene, until `hide`),
- frames pushed into it (`push`: delivered once each, in order; anything, garbage included),
- a playlist loaded from a video file or image pattern (`files`; grey unless `color`), looping.

Faults real cameras have: `unplug()` / `replug()` (reads give None, reopening fails, as OpenCV does
after a USB camera is pulled), `drop(n)` (the device returns None n times), `stall(True)` (opened but
no frames: each read waits out its timeout), `freeze(True)` (the same frame over and over).
"""

from __future__ import annotations

import threading
from collections import deque

import cv2
import numpy as np

from drivers.scanner import synth
from drivers.scanner.sources import SourceError

MAX_PLAYLIST = 900  # frames loaded from a file: one minute at 15 fps


def _readonly(frame: np.ndarray) -> np.ndarray:
    frame.flags.writeable = False
    return frame


class SimCamera:
    description = "sim camera"

    def __init__(
        self,
        width: int = 1280,
        height: int = 720,
        *,
        files: str | None = None,
        frames: list[np.ndarray] | None = None,
        read_timeout: float = 1.0,
        seed: int = 0,
        variants: int = 4,
        color: bool = False,
    ):
        self.width, self.height = width, height
        self.color = color
        self.files = files
        self.read_timeout = read_timeout
        self.seed, self.variants = seed, variants
        self._lock = threading.Condition()  # notified when a stalled read should end early
        self._background: np.ndarray | None = None  # the clean grey scene codes are drawn on
        self._idle: list[np.ndarray] = []
        self._playlist: list[np.ndarray] = [_readonly(np.ascontiguousarray(f)) for f in frames or []]
        self._held: list[np.ndarray] | None = None
        self._queue: deque[object] = deque()
        self._index = 0
        self._last: object = None
        self._open = False
        self._plugged = True
        self._drops = 0
        self._stalled = False
        self._frozen = False
        self._interrupted = False
        self.opens = 0  # successful open() calls, to watch reconnects
        self.reads = 0  # frames delivered

    # -- what the camera sees -------------------------------------------------------------------
    def _scene(self) -> np.ndarray:
        if self._background is None:
            self._background = synth.scene(self.width, self.height, self.seed, noise=0.0)
            self._idle = [
                _readonly(self._as_delivered(synth.add_noise(self._background, 5.0, self.seed + 1 + i)))
                for i in range(self.variants)
            ]
        return self._background

    def _as_delivered(self, gray: np.ndarray) -> np.ndarray:
        return synth.to_bgr(gray) if self.color else gray

    def show(
        self,
        *codes: str | bytes | np.ndarray,
        placements: list[synth.Placement] | None = None,
        blur: float = 0.0,
        noise: float = 5.0,
    ) -> None:
        """Hold codes in front of the camera until `hide()`. Each code is text, bytes (byte mode) or
        a module matrix; several codes are laid out side by side unless `placements` says where."""
        matrices = [c if isinstance(c, np.ndarray) else synth.qr_matrix(c) for c in codes]
        if placements is None:
            n = len(matrices)
            size = min(0.75, 0.95 / n * max(1.0, self.width / self.height) if n > 1 else 0.75)
            placements = [
                synth.Placement(center=((i + 0.5) / n, 0.5), size=size, angle=4.0) for i in range(n)
            ]
        background = self._scene()
        held = [
            _readonly(
                self._as_delivered(
                    synth.frame_with_codes(
                        self.width,
                        self.height,
                        list(zip(matrices, placements, strict=True)),
                        blur=blur,
                        noise=noise,
                        seed=self.seed + 1 + i,
                        background=background,
                    )
                )
            )
            for i in range(self.variants)
        ]
        with self._lock:
            self._held = held

    def show_frames(self, frames: list[np.ndarray]) -> None:
        """Hold ready-made frames (cycled) until `hide()`."""
        with self._lock:
            self._held = [_readonly(np.ascontiguousarray(f)) for f in frames]

    def hide(self) -> None:
        with self._lock:
            self._held = None

    def push(self, *frames: object) -> None:
        """Deliver these once each, in order, before going back to the held code or the idle scene."""
        with self._lock:
            self._queue.extend(frames)

    # -- faults ---------------------------------------------------------------------------------
    def unplug(self) -> None:
        with self._lock:
            self._plugged = False
            self._lock.notify_all()

    def replug(self) -> None:
        with self._lock:
            self._plugged = True

    def drop(self, n: int = 1) -> None:
        with self._lock:
            self._drops += n

    def stall(self, on: bool = True) -> None:
        with self._lock:
            self._stalled = on
            self._lock.notify_all()

    def freeze(self, on: bool = True) -> None:
        with self._lock:
            self._frozen = on

    # -- FrameSource ----------------------------------------------------------------------------
    def _load_files(self) -> None:
        cap = (
            cv2.VideoCapture(self.files, cv2.CAP_IMAGES)
            if "%" in self.files
            else cv2.VideoCapture(self.files)
        )
        frames = []
        try:
            while cap.isOpened() and len(frames) < MAX_PLAYLIST:
                ok, frame = cap.read()
                if not ok:
                    break
                if not self.color and frame.ndim == 3:
                    frame = cv2.cvtColor(
                        frame, cv2.COLOR_BGR2GRAY
                    )  # once, at load: as OpenCvSource gives MJPG
                frames.append(_readonly(frame))
        finally:
            cap.release()
        if not frames:
            raise SourceError(f"sim camera: no frames in {self.files}")
        self._playlist = frames

    def open(self) -> None:
        with self._lock:
            if not self._plugged:
                raise SourceError("sim camera: cannot open (unplugged)")
        if self.files and not self._playlist:
            self._load_files()
        if not self._playlist:
            self._scene()
        with self._lock:
            self._open = True
            self._interrupted = False
            self.opens += 1

    def read(self) -> np.ndarray | None:
        with self._lock:
            if not self._open or not self._plugged:
                return None
            if self._drops:
                self._drops -= 1
                return None
            if self._stalled:  # like a V4L2 read timing out: wait, then no frame
                self._lock.wait_for(self._stall_over, self.read_timeout)
                return None
            if self._frozen and self._last is not None:
                frame = self._last
            elif self._queue:
                frame = self._queue.popleft()
            else:
                frames = self._held or self._playlist or self._idle
                self._index += 1
                frame = frames[self._index % len(frames)]
            self._last = frame
            self.reads += 1
        return frame  # type: ignore[return-value]  # pushed garbage is delivered as it is

    def _stall_over(self) -> bool:
        return self._interrupted or not (self._stalled and self._open and self._plugged)

    def interrupt(self) -> None:
        """End a read that is waiting (the scanner is stopping); safe from any thread."""
        with self._lock:
            self._interrupted = True
            self._lock.notify_all()

    def close(self) -> None:
        with self._lock:
            self._open = False
            self._lock.notify_all()
