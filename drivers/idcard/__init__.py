"""Resident ID card reader: a SAM module (GA 467 "SAM_A") on a serial port, and its simulator.

reader = open_id_reader(config)      # config.backend "real" or "sim"
reader.start(sink)                   # posts IdCardRead / CardFault / CardRemoved
reader.health                        # drivers.health.Health
reader.close()
"""

from .fields import CardDataError, CardFields, Layout, id_check_digit, id_number_valid
from .reader import (
    BadReply,
    CardRead,
    IdCardError,
    IdCardReader,
    NoReply,
    PortError,
    SamError,
    open_id_reader,
    selftest,
)
from .sim import Fault, SamSimulator, sample_card

__all__ = [
    "BadReply",
    "CardDataError",
    "CardFields",
    "CardRead",
    "Fault",
    "IdCardError",
    "IdCardReader",
    "Layout",
    "NoReply",
    "PortError",
    "SamError",
    "SamSimulator",
    "id_check_digit",
    "id_number_valid",
    "open_id_reader",
    "sample_card",
    "selftest",
]
