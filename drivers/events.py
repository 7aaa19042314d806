"""What input devices report. Each input driver runs its own thread and hands these to a `Sink`
(any callable), so a slow or dead device never blocks the kiosk's loop."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


def _now() -> float:
    return time.monotonic()


@dataclass(frozen=True, slots=True)
class CodeScanned:
    """A code read by a camera or serial scanner. `raw` is what signatures cover."""

    source: str  # device name, e.g. "camera" or "serial_scanner"
    text: str
    raw: bytes
    at: float = field(default_factory=_now)

    def __repr__(self) -> str:  # the payload is personal data: logs get its size only
        return f"CodeScanned(source={self.source!r}, bytes={len(self.raw)})"


@dataclass(frozen=True, slots=True)
class IdCardRead:
    """A resident ID card (or permit) read by the SAM reader. Holds the full number in memory only:
    the kiosk masks or hashes it before it is shown or stored."""

    source: str
    name: str
    sex: str
    nation: str
    birth: str  # YYYYMMDD
    address: str
    id_number: str
    authority: str
    valid_from: str
    valid_to: str  # YYYYMMDD or 长期
    card_type: str  # "resident", "foreign_permanent", "hk_macau_taiwan"
    photo: bytes = b""  # opaque WLT bytes, never decoded or stored
    english_name: str = ""  # foreign permanent residence cards carry both names
    at: float = field(default_factory=_now)

    def __repr__(self) -> str:  # never print the personal data in logs
        return f"IdCardRead(source={self.source!r}, card_type={self.card_type!r})"


@dataclass(frozen=True, slots=True)
class CardFault:
    """A card was presented but could not be read; `forgery_suspected` for SAM authentication failures."""

    source: str
    reason: str
    forgery_suspected: bool = False
    at: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class ContactlessCard:
    """A contactless card (ISO 14443) put on the PC/SC reader, by its UID."""

    source: str
    uid: bytes
    atr: bytes = b""
    at: float = field(default_factory=_now)

    def __repr__(self) -> str:  # a UID identifies a person: logs get its length only
        return f"ContactlessCard(source={self.source!r}, uid_len={len(self.uid)})"


@dataclass(frozen=True, slots=True)
class CardRemoved:
    source: str
    at: float = field(default_factory=_now)


@dataclass(frozen=True, slots=True)
class DoorEvent:
    """Door sensor: "opened", "closed", "held_open" (open too long after a pass), "forced" (opened
    without a gate pulse)."""

    source: str
    kind: str
    at: float = field(default_factory=_now)


Event = CodeScanned | IdCardRead | CardFault | ContactlessCard | CardRemoved | DoorEvent
Sink = Callable[[Event], None]
