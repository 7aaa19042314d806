"""Benchmarks of the camera scan pipeline for `kiosk bench`, each against bare zxing-cpp on the same
grey frame. The pipeline gets the frame as the kiosk's sources deliver it: grey (an MJPG USB camera
decoded straight to luma, the Pi camera's Y plane, the sim), so the figure covers the frame checks,
region of interest, the frozen-image check, the second-opinion bookkeeping and de-duplication:
everything the scanner thread does per frame apart from waiting for the camera.

`scan.idle_frame_640x480_bgr` is the same idle frame handed over as BGR, the path for a camera whose
frames OpenCV decodes to colour (YUYV): it adds one cvtColor, the one conversion that path needs.
"""

from __future__ import annotations

import cv2
import zxingcpp

from drivers.config import CameraConfig
from drivers.scanner import synth
from drivers.scanner.camera import CameraScanner
from drivers.scanner.sim import SimCamera
from kiosk.bench import Case

_QR = zxingcpp.BarcodeFormat.QRCode
BASELINE = "bare zxingcpp.read_barcodes (grey frame)"


def _scanner(width: int, height: int) -> CameraScanner:
    config = CameraConfig(backend="sim", width=width, height=height)
    return CameraScanner(config, SimCamera(width, height))


def _case(name: str, frame) -> Case:
    scanner = _scanner(frame.shape[1], frame.shape[0])
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame.copy()
    return Case(
        name,
        lambda: scanner.process(frame),
        BASELINE,
        lambda: zxingcpp.read_barcodes(gray, formats=_QR),
    )


def idle_frame(width: int, height: int, seed: int = 7):
    """A grey camera frame of a busy scene with no code in it."""
    return synth.scene(width, height, seed, noise=6.0)


def code_frame(width: int = 1280, height: int = 720, length: int = 600, seed: int = 7):
    """A grey camera frame with a `length`-byte PHIC-like code, slightly turned and tilted."""
    matrix = synth.qr_matrix(synth.phic_like_text(length, seed))
    where = synth.Placement(center=(0.5, 0.5), size=0.8, angle=12.0, tilt=0.1)
    return synth.frame_with_codes(width, height, [(matrix, where)], blur=0.8, noise=5.0, seed=seed)


def bench_cases() -> list[Case]:
    return [
        _case("scan.idle_frame_640x480", idle_frame(640, 480)),
        _case("scan.idle_frame_1280x720", idle_frame(1280, 720)),
        _case("scan.decode_frame_1280x720", code_frame()),
        _case("scan.idle_frame_640x480_bgr", synth.to_bgr(idle_frame(640, 480))),
    ]
