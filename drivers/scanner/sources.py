"""Frame sources: where camera frames come from. One small interface, so the scanner loop and the
decoder are the same for a USB camera, a video file, an image sequence, the Pi camera and the sim.

`read()` returns a frame (a numpy array: grey where the source can give it without a conversion,
else BGR as OpenCV decodes it) or None when no frame came this time (a dropped frame, a timeout, an unplugged device: OpenCV cannot
tell these apart from one read, so the scanner judges by how long frames stay away). `open()` raises
`SourceError` when the device cannot be opened. A source may also offer `interrupt()`, callable from
another thread, to end a read that is waiting (the sim does; OpenCV reads end by their timeout).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

log = logging.getLogger(__name__)


class SourceError(RuntimeError):
    """The source cannot be opened (absent device, missing file, missing library)."""


@runtime_checkable
class FrameSource(Protocol):
    description: str  # for health and logs: "camera 0", "video clip.avi", "sim camera"

    def open(self) -> None: ...

    def read(self) -> np.ndarray | None: ...

    def close(self) -> None: ...


def is_file_source(source: str) -> bool:
    """A video file or an image pattern (as opposed to a device index or "picamera2")."""
    return not source.strip().isdigit() and source != "picamera2"


class OpenCvSource:
    """`cv2.VideoCapture` of a device index ("0"), a video file (MJPG .avi, anything FFmpeg reads) or
    an image sequence ("frames/%03d.png", read with CAP_IMAGES). Files loop at their end, so a clip
    stands in for a camera that keeps delivering frames.

    MJPG (what USB cameras send at 720p) is read raw and decoded straight to grey: libjpeg then skips
    the chroma planes and the colour conversion, and the scanner needs no cvtColor. On a 640x480
    camera frame that is about 0.4 ms less per frame than OpenCV's BGR decode plus cvtColor. If the
    backend will not hand out raw packets, frames come as BGR and the pipeline converts them.
    """

    def __init__(
        self,
        source: str,
        width: int = 1280,
        height: int = 720,
        fps: float = 15.0,
        read_timeout: float = 2.0,
        loop: bool = True,
        gray: bool = True,
    ):
        self.source = source.strip()
        self.width, self.height, self.fps = width, height, fps
        self.read_timeout = read_timeout
        self.loop = loop
        self.gray = gray
        self.raw_jpeg = False  # reading raw MJPG packets and decoding them to grey
        self.is_device = self.source.isdigit()
        self.is_pattern = "%" in self.source
        kind = "camera" if self.is_device else "image sequence" if self.is_pattern else "video"
        self.description = f"{kind} {self.source}"
        self._cap: cv2.VideoCapture | None = None

    def _capture(self) -> cv2.VideoCapture:
        if self.is_device:
            cap = cv2.VideoCapture(int(self.source))
            if cap.isOpened():
                # MJPG first: uncompressed YUYV at 720p exceeds USB 2 bandwidth above ~10 fps on most
                # UVC cameras. A camera without MJPG keeps its own format.
                cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
                cap.set(cv2.CAP_PROP_FPS, self.fps)
                cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not one queued a while ago
                cap.set(cv2.CAP_PROP_READ_TIMEOUT_MSEC, self.read_timeout * 1000)  # V4L2 default: 10 s
                if self.gray:
                    self.raw_jpeg = _raw_mjpg(cap)
            return cap
        if self.is_pattern:
            folder = Path(self.source).parent
            if not folder.is_dir():
                raise SourceError(f"{self.description}: no such folder")
            return cv2.VideoCapture(self.source, cv2.CAP_IMAGES)
        if not Path(self.source).is_file():
            raise SourceError(f"{self.description}: no such file")
        cap = cv2.VideoCapture(self.source)
        if self.gray and cap.isOpened():
            self.raw_jpeg = _raw_mjpg(cap)
        return cap

    def open(self) -> None:
        self.close()
        cap = self._capture()
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"{self.description}: cannot open")
        self._cap = cap

    def read(self) -> np.ndarray | None:
        if self._cap is None:
            return None
        ok, frame = self._cap.read()
        if not ok or frame is None:
            if self.is_device or not self.loop:
                return None
            self._cap.release()  # end of the file: start it again
            self._cap = self._capture()
            ok, frame = self._cap.read()
            if not ok or frame is None:
                return None
        if self.raw_jpeg:
            return self._decode_jpeg(frame)
        return frame

    def _decode_jpeg(self, packet: np.ndarray) -> np.ndarray | None:
        if packet.ndim == 3 or (packet.ndim == 2 and packet.shape[0] > 1):
            self.raw_jpeg = False  # the backend ignored the raw setting: it decodes for us
            return packet
        if packet.size < 4 or packet.flat[0] != 0xFF or packet.flat[1] != 0xD8:
            return None  # not a JPEG: a corrupt packet is a dropped frame
        return cv2.imdecode(packet, cv2.IMREAD_GRAYSCALE)  # None for a truncated JPEG

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def _raw_mjpg(cap: cv2.VideoCapture) -> bool:
    """Switch `cap` to raw MJPG packets when it reads MJPG and its backend supports that."""
    fourcc = (int(cap.get(cv2.CAP_PROP_FOURCC)) & 0xFFFFFFFF).to_bytes(4, "little")
    if fourcc != b"MJPG":
        return False
    backend = cap.getBackendName()
    if backend == "FFMPEG":
        return bool(cap.set(cv2.CAP_PROP_FORMAT, -1))  # FFmpeg: raw packets, no decoding
    if backend == "V4L2":
        return bool(cap.set(cv2.CAP_PROP_CONVERT_RGB, 0))  # V4L2: the buffer as the camera sent it
    return False


class Picamera2Source:
    """The Pi's CSI camera through libcamera. Asks for YUV420 and hands on the Y plane: the grey image
    the decoder wants, with no colour conversion. Untested here (no Pi): kept deliberately small."""

    description = "picamera2"

    def __init__(self, width: int = 1280, height: int = 720, fps: float = 15.0):
        self.width, self.height, self.fps = width, height, fps
        self._cam = None

    def open(self) -> None:
        self.close()
        try:
            from picamera2 import Picamera2  # only on a Pi with python3-picamera2
        except ImportError:
            raise SourceError("picamera2 is not installed") from None
        try:
            cam = Picamera2()
            config = cam.create_video_configuration(
                main={"size": (self.width, self.height), "format": "YUV420"},
                controls={"FrameRate": self.fps},
                buffer_count=2,
            )
            cam.configure(config)
            cam.start()
        except Exception as exc:  # libcamera raises RuntimeError/IndexError for a missing camera
            raise SourceError(f"picamera2: {exc}") from None
        self._cam = cam

    def read(self) -> np.ndarray | None:
        if self._cam is None:
            return None
        try:
            yuv = self._cam.capture_array("main")
        except Exception as exc:
            log.warning("picamera2 capture failed: %s", exc)
            return None
        return yuv[: self.height, : self.width]  # rows beyond are U and V; columns beyond are padding

    def close(self) -> None:
        if self._cam is not None:
            try:
                self._cam.stop()
                self._cam.close()
            except Exception as exc:
                log.warning("picamera2 close failed: %s", exc)
            self._cam = None
