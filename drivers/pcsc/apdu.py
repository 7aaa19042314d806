"""The few APDUs the kiosk sends to a contactless reader, and strict parsing of their answers.

PC/SC Part 3 defines pseudo-APDUs with class FF that the *reader* answers itself: `FF CA 00 00 00`
returns the UID it learnt during anticollision (ISO 14443-3), `FF CA 01 00 00` the historical bytes
of the ATS (ISO 14443-4 cards only). Answers end with the status word; 90 00 is success.
"""

from __future__ import annotations

GET_UID = bytes.fromhex("FFCA000000")
GET_ATS = bytes.fromhex("FFCA010000")
SW_OK = b"\x90\x00"
UID_LENGTHS = (4, 7, 10)  # ISO 14443-3 single, double and triple size UIDs


class UidError(ValueError):
    """The reader's answer to GET UID is not a usable UID; the message is a short English reason."""


def sw_text(sw: bytes) -> str:
    return sw.hex(" ").upper()


def parse_uid_response(response: bytes) -> bytes:
    """The UID in a GET UID answer (`UID... 90 00`); `UidError` for anything else.

    Strict on purpose: a kiosk that identifies people by UID must not accept a truncated answer,
    a failure status with data, or a UID of a length no ISO 14443 card has.
    """
    if not response:
        raise UidError("no answer from the card (empty response)")
    if len(response) < 2:
        raise UidError(f"answer too short ({len(response)} bytes, no status word)")
    data, sw = response[:-2], response[-2:]
    if sw != SW_OK:
        raise UidError(f"reader refused GET UID (status {sw_text(sw)})")
    if len(data) not in UID_LENGTHS:
        raise UidError(f"implausible UID length {len(data)} (expected 4, 7 or 10 bytes)")
    return bytes(data)


def is_random_uid(uid: bytes) -> bool:
    """A single-size UID starting with 08 is a random ID (ISO 14443-3): it changes on every tap and
    cannot identify a card."""
    return len(uid) == 4 and uid[0] == 0x08


def atr_checksum(body: bytes) -> int:
    """TCK: XOR of every ATR byte after TS, so that T0..TCK XOR to zero."""
    tck = 0
    for b in body[1:]:
        tck ^= b
    return tck


def contactless_atr(standard: int = 0x03, card_name: int = 0x0001) -> bytes:
    """The ATR a PC/SC reader builds for an ISO 14443-3 storage card (PC/SC Part 3, 3.1.3.2.3):
    RID A0 00 00 03 06, `standard` (03 = ISO 14443A part 3), `card_name` (0001 = MIFARE Classic 1K)."""
    body = bytes.fromhex("3B8F8001804F0CA000000306") + bytes([standard]) + card_name.to_bytes(2, "big")
    body += b"\x00\x00\x00\x00"
    return body + bytes([atr_checksum(body)])


def iso14443_4_atr(historical: bytes) -> bytes:
    """The ATR a PC/SC reader builds for an ISO 14443-4 (T=CL) card from its ATS historical bytes."""
    if len(historical) > 15:
        raise ValueError("at most 15 historical bytes")
    body = bytes([0x3B, 0x80 | len(historical), 0x80, 0x01]) + historical
    return body + bytes([atr_checksum(body)])
