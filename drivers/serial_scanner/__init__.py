"""Serial QR scanner module (GM65/GM861 class over UART, or a USB scanner in CDC mode): one code per
line, decoded text + terminator. `open_serial_scanner(config)` gives the driver for the configured
backend ("real": a pyserial URL; "sim": `SimulatedScannerModule` behind a real pty or loopback TCP)."""

from .framing import Drop, LineFramer, terminator_bytes
from .scanner import SOURCE, SerialScanner, decode_text, open_serial_scanner, selftest
from .sim import SimulatedScannerModule

__all__ = [
    "SOURCE",
    "Drop",
    "LineFramer",
    "SerialScanner",
    "SimulatedScannerModule",
    "decode_text",
    "open_serial_scanner",
    "selftest",
    "terminator_bytes",
]
