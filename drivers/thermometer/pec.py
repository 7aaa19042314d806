"""SMBus Packet Error Code: CRC-8, polynomial x^8 + x^2 + x + 1 (0x07), initial value 0, no reflection.

For an MLX90614 read-word the PEC covers [addr<<1, command, addr<<1|1, LSB, MSB]; for a write-word
[addr<<1, command, LSB, MSB]. Known vectors: B4 07 B5 D2 3A -> 0x30 (datasheet read of Tobj1),
00 2E 00 00 -> 0x6F and 00 2E 5A 00 -> 0xE1 (application note: erase/write EEPROM 0x0E via address 0).
"""

from __future__ import annotations

from collections.abc import Iterable


def _table() -> tuple[int, ...]:
    rows = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
        rows.append(crc)
    return tuple(rows)


_TABLE = _table()


def crc8(data: Iterable[int], crc: int = 0) -> int:
    """CRC-8/SMBus of `data`, continuing from `crc` (so a PEC can be built up message by message)."""
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF]
    return crc


def read_word_pec(address: int, command: int, lsb: int, msb: int) -> int:
    """The PEC a device sends after the two data bytes of a read-word (with repeated start)."""
    return crc8((address << 1, command, (address << 1) | 1, lsb, msb))


def write_word_pec(address: int, command: int, lsb: int, msb: int) -> int:
    """The PEC a master appends to a write-word."""
    return crc8((address << 1, command, lsb, msb))
