"""Skin -> body temperature estimates. The MLX90614 sees forehead skin, which runs about 0.5 °C or more
below oral temperature and follows the room; these models turn the skin median (and the ambient) into a
screening estimate. Which model and which numbers is a site decision (`[thermometer] model`), ideally
fitted against a clinical thermometer at the site.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Protocol

MODELS = ("offset", "linear", "table")


class SkinToBody(Protocol):
    def __call__(self, skin: float, ambient: float) -> float: ...

    def describe(self) -> str: ...


@dataclass(frozen=True, slots=True)
class OffsetModel:
    """body = skin + offset"""

    offset: float

    def __call__(self, skin: float, ambient: float) -> float:
        return skin + self.offset

    def describe(self) -> str:
        return f"offset: body = skin {self.offset:+.2f}"


@dataclass(frozen=True, slots=True)
class LinearModel:
    """body = a*skin + b*ambient + c (b < 0 compensates cold rooms cooling the forehead)."""

    a: float
    b: float
    c: float

    def __call__(self, skin: float, ambient: float) -> float:
        return self.a * skin + self.b * ambient + self.c

    def describe(self) -> str:
        return f"linear: body = {self.a:g}*skin {self.b:+g}*ambient {self.c:+g}"


@dataclass(frozen=True, slots=True)
class TableModel:
    """Piecewise-linear through (skin, body) points, extended beyond the ends along the end segments
    (clamping would flatten a fever above the last point into the last point's value)."""

    skins: tuple[float, ...]
    bodies: tuple[float, ...]

    @classmethod
    def from_points(cls, points: list[list[float]] | list[tuple[float, float]]) -> TableModel:
        rows = sorted((float(s), float(b)) for s, b in points)
        if len(rows) < 2:
            raise ValueError("table needs at least two [skin, body] points")
        if not all(math.isfinite(v) for row in rows for v in row):
            raise ValueError("table values must be finite numbers")
        skins = tuple(s for s, _ in rows)
        bodies = tuple(b for _, b in rows)
        if any(s2 <= s1 for s1, s2 in zip(skins, skins[1:], strict=False)):
            raise ValueError("table skin values must be distinct")
        if any(b2 < b1 for b1, b2 in zip(bodies, bodies[1:], strict=False)):
            raise ValueError("table body values must not decrease as skin increases")
        return cls(skins, bodies)

    def __call__(self, skin: float, ambient: float) -> float:
        i = bisect.bisect_right(self.skins, skin)
        i = min(max(i, 1), len(self.skins) - 1)  # segment [i-1, i]; end segments extend outward
        s0, s1 = self.skins[i - 1], self.skins[i]
        b0, b1 = self.bodies[i - 1], self.bodies[i]
        return b0 + (b1 - b0) * (skin - s0) / (s1 - s0)

    def describe(self) -> str:
        return f"table: {len(self.skins)} points, skin {self.skins[0]:g}..{self.skins[-1]:g} °C"


def build_model(model: str, offset: float, linear: list[float], table: list[list[float]]) -> SkinToBody:
    """The configured model; ValueError with a plain reason when the numbers do not make one."""
    if model == "offset":
        if not math.isfinite(offset):
            raise ValueError("offset must be a finite number")
        return OffsetModel(float(offset))
    if model == "linear":
        if len(linear) != 3 or not all(math.isfinite(v) for v in linear):
            raise ValueError("linear must be three finite numbers [a, b, c]: body = a*skin + b*ambient + c")
        return LinearModel(*(float(v) for v in linear))
    if model == "table":
        return TableModel.from_points(table)
    raise ValueError(f"model must be one of {', '.join(MODELS)}, not {model!r}")
