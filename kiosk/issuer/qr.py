"""QR symbols for minted codes: PHIC text is all QR-alphanumeric, ECC level M as FORMATS.md asks."""

from __future__ import annotations

from pathlib import Path

import segno


def make_qr(text: str) -> segno.QRCode:
    return segno.make_qr(text, error="m", boost_error=False)


def write_png(text: str, path: str | Path, scale: int = 6) -> None:
    make_qr(text).save(str(path), kind="png", scale=scale, border=4)
