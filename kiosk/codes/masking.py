"""Masking of names and ID numbers for screens, logs and storage.

Idempotent: masking an already masked value leaves it unchanged, so the verifier can mask again
whatever an issuer sent (defence in depth against issuers that forget).
"""

from __future__ import annotations


def mask_name(name: str) -> str:
    """张三 -> 张*, 张小三 -> 张*三, 欧阳小明 -> 欧**明; Latin names keep each word's first letter."""
    name = name.strip()
    if not name:
        return ""
    if name.isascii():
        return " ".join(w[0] + "*" * (len(w) - 1) for w in name.replace(",", " ").split() if w)
    if len(name) == 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_id(number: str) -> str:
    """440301199001011234 -> 440301********1234: region code and last four stay, the birth date goes."""
    number = number.strip()
    if len(number) <= 4:
        return "*" * len(number)
    if len(number) >= 15:
        return number[:6] + "*" * (len(number) - 10) + number[-4:]
    return "*" * (len(number) - 4) + number[-4:]
