"""The verifier's view of trust: keys by kid and revocation look-ups, held in memory.

`kiosk.trust` builds a `KeyRing` from its SQLite store; tests and benchmarks build one directly.
The verifier only reads it, so verification stays free of I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kiosk.codes.model import Format
from kiosk.crypto.keys import VerifyKey


@dataclass(frozen=True, slots=True)
class TrustedKey:
    format: Format
    kid: bytes  # raw kid bytes (SHC: the ASCII of the thumbprint string)
    key: VerifyKey
    issuer: str  # PHIC iss region code, DCC country, SHC iss URL
    source: str = ""  # the trust source that vouches for it
    not_before: int | None = None
    not_after: int | None = None
    usages: frozenset[str] | None = None  # PHIC code types, DCC v/t/r; None = unrestricted
    source_valid_until: int | None = None  # the vouching list's own expiry
    name: str | None = None  # issuer's display name


@dataclass(slots=True)
class KeyRing:
    _keys: dict[tuple[Format, bytes], list[TrustedKey]] = field(default_factory=dict)
    # SHC revocation lists: kid -> {rid: cut-off NumericDate or None for "all"}
    shc_rids: dict[str, dict[str, int | None]] = field(default_factory=dict)
    # PHIC revoked code ids (cti); a callable so a large on-disk status list can answer.
    phic_revoked: Callable[[bytes], bool] | None = None

    def add(self, key: TrustedKey) -> None:
        self._keys.setdefault((key.format, key.kid), []).append(key)

    def extend(self, keys: Iterable[TrustedKey]) -> None:
        for key in keys:
            self.add(key)

    def keys(self, fmt: Format, kid: bytes | None) -> list[TrustedKey]:
        if kid is None:
            return []
        return self._keys.get((fmt, kid), [])

    def __len__(self) -> int:
        return sum(len(v) for v in self._keys.values())

    def shc_revoked(self, kid: str, rid: str, nbf: float | None) -> bool | None:
        """True/False when a revocation list exists for the kid, None when there is none."""
        rids = self.shc_rids.get(kid)
        if rids is None:
            return None
        if rid not in rids:
            return False
        cutoff = rids[rid]
        return cutoff is None or nbf is None or nbf < cutoff

    def phic_is_revoked(self, cti: bytes) -> bool | None:
        return None if self.phic_revoked is None else self.phic_revoked(cti)
