"""Synthetic camera frames: a textured scene, QR symbols placed in it with rotation, perspective, blur
and noise. Used by the simulated camera, the self-test card, the benchmarks and the tests.

Everything is deterministic for a given seed, so a failing detection can be reproduced.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import segno

QUIET = 4  # modules of quiet zone around a symbol (ISO 18004)


def scene(width: int, height: int, seed: int = 0, noise: float = 6.0) -> np.ndarray:
    """A grey scene that looks like a camera pointed at a kiosk counter: smooth shading, edges of
    objects, a printed sign and sensor noise. No QR symbol in it."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 220, (max(2, height // 24), max(2, width // 24)), dtype=np.uint8)
    img = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(30):
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p2 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.rectangle(img, p1, p2, int(rng.integers(0, 256)), int(rng.integers(1, 5)))
        cv2.line(img, p1, p2, int(rng.integers(0, 256)), int(rng.integers(1, 3)))
    scale = width / 640
    cv2.putText(
        img, "PLEASE SHOW YOUR CODE", (width // 12, height // 8), cv2.FONT_HERSHEY_SIMPLEX, scale, 25, 2
    )
    return add_noise(img, noise, rng)


def add_noise(img: np.ndarray, sigma: float, rng: np.random.Generator | int = 0) -> np.ndarray:
    if sigma <= 0:
        return img
    if isinstance(rng, int):
        rng = np.random.default_rng(rng)
    noisy = img.astype(np.int16) + rng.normal(0.0, sigma, img.shape).astype(np.int16)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def qr_matrix(data: str | bytes, *, encoding: str | None = None, eci: bool = False) -> np.ndarray:
    """The module matrix (True = dark) of a QR symbol, ECC level M like the kiosk's own codes.
    `str` goes through `kiosk.issuer.qr.make_qr` (PHIC text), `bytes` in byte mode as they are."""
    if isinstance(data, bytes):
        qr = segno.make_qr(data, error="m", boost_error=False, mode="byte")
    elif encoding is not None or eci:
        qr = segno.make_qr(data, error="m", boost_error=False, encoding=encoding, eci=eci)
    else:
        from kiosk.issuer.qr import make_qr

        qr = make_qr(data)
    return np.asarray(qr.matrix, dtype=bool)


def render_symbol(matrix: np.ndarray, module_px: int, light: int = 245, dark: int = 20) -> np.ndarray:
    """The symbol with its quiet zone, `module_px` pixels per module, as a grey image."""
    padded = np.pad(matrix, QUIET, constant_values=False)
    img = np.where(padded, np.uint8(dark), np.uint8(light))
    return np.kron(img, np.ones((module_px, module_px), dtype=np.uint8))


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a symbol lands in a frame. `size` is the side of the symbol including its quiet zone as a
    fraction of the frame's shorter side; `tilt` (0..~0.3) pulls one edge in like a phone held at an
    angle; `center` is in fractions of the frame."""

    center: tuple[float, float] = (0.5, 0.5)
    size: float = 0.8
    angle: float = 0.0
    tilt: float = 0.0


def place(frame: np.ndarray, symbol: np.ndarray, where: Placement) -> np.ndarray:
    """Warp `symbol` (grey) into a copy of `frame` (grey) as `where` says, anti-aliased."""
    h, w = frame.shape[:2]
    side = where.size * min(w, h)
    cx, cy = where.center[0] * w, where.center[1] * h
    half = side / 2
    corners = np.array([[-half, -half], [half, -half], [half, half], [-half, half]], dtype=np.float64)
    if where.tilt:
        corners[1:3, 1] *= 1.0 - where.tilt  # right edge shorter: seen from the left
        corners[1:3, 0] *= 1.0 - where.tilt / 2
    theta = np.deg2rad(where.angle)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    dst = (corners @ rot.T + [cx, cy]).astype(np.float32)
    sh, sw = symbol.shape
    src = np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(symbol, m, (w, h), flags=cv2.INTER_AREA, borderValue=0)
    mask = cv2.warpPerspective(np.full_like(symbol, 255), m, (w, h), flags=cv2.INTER_AREA, borderValue=0)
    alpha = mask.astype(np.float32) / 255.0
    out = frame.astype(np.float32) * (1.0 - alpha) + warped.astype(np.float32) * alpha
    return out.astype(np.uint8)


def degrade(img: np.ndarray, *, blur: float = 0.0, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """Defocus blur (Gaussian sigma in pixels) then sensor noise (sigma in grey levels)."""
    if blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    return add_noise(img, noise, seed)


def frame_with_codes(
    width: int,
    height: int,
    codes: list[tuple[np.ndarray, Placement]],
    *,
    blur: float = 0.0,
    noise: float = 4.0,
    seed: int = 0,
    background: np.ndarray | None = None,
) -> np.ndarray:
    """A grey frame showing each (matrix, placement) in `codes` over a scene."""
    frame = scene(width, height, seed, noise=0.0) if background is None else background
    for matrix, where in codes:
        modules = matrix.shape[0] + 2 * QUIET
        px = max(2, int(np.ceil(where.size * min(width, height) / modules)) * 2)  # supersample, then shrink
        frame = place(frame, render_symbol(matrix, px), where)
    return degrade(frame, blur=blur, noise=noise, seed=seed + 1)


def to_bgr(gray: np.ndarray) -> np.ndarray:
    """A 3-channel frame as OpenCV's `VideoCapture.read` returns it."""
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)


def phic_like_text(length: int, seed: int = 0) -> str:
    """PHIC-shaped text of exactly `length` characters: a prefix then Base45 of random bytes."""
    from kiosk.codes.base45 import b45encode

    rng = np.random.default_rng(seed)
    body = b45encode(rng.bytes(length))
    return ("PHIC1:" + body)[:length]


def random_bytes(length: int, seed: int = 0) -> bytes:
    """Arbitrary bytes including NUL and non-UTF-8 sequences."""
    data = bytearray(np.random.default_rng(seed).bytes(length))
    data[:4] = b"\xff\xfe\x00\x80"  # never valid UTF-8
    return bytes(data)
