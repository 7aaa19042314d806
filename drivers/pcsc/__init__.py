"""PC/SC contactless card reader (ISO 14443 cards identified by UID), real or simulated.

Real: the system pcscd and a USB reader (e.g. an ACR122U or any CCID contactless reader).
Sim: a private pcscd with vsmartcard's vpcd reader driver and `VirtualCard`s speaking vpcd's protocol,
so the driver runs against the real pcscd and client library, byte for byte.
"""

from drivers.pcsc.reader import ContactlessReader, open_pcsc
from drivers.pcsc.selftest import selftest
from drivers.pcsc.service import PcscdUnavailable, PrivatePcscd
from drivers.pcsc.vcard import Fault, VirtualCard

__all__ = [
    "ContactlessReader",
    "Fault",
    "PcscdUnavailable",
    "PrivatePcscd",
    "VirtualCard",
    "open_pcsc",
    "selftest",
]
