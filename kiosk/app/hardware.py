"""Opening the kiosk's devices from the device configuration and wiring them to the checkpoint.

Input devices get the checkpoint's `post` as their sink; the gate I/O becomes the checkpoint's
actuators; the thermometer is measured by the checkpoint's worker. A device that fails to open is
reported by its health and the kiosk runs on without it (a decision then says why, e.g.
`temperature.unavailable`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drivers.config import DevicesConfig


@dataclass
class Hardware:
    camera: Any = None
    serial_scanner: Any = None
    thermometer: Any = None
    id_reader: Any = None
    pcsc: Any = None
    gpio: Any = None
    inputs: list = field(default_factory=list)

    def start(self, sink: Callable) -> None:
        for device in self.inputs:
            device.start(sink)
        if self.gpio is not None:
            self.gpio.start(sink)  # the door contact's events

    def health(self) -> dict[str, Any]:
        names = ("camera", "serial_scanner", "thermometer", "id_reader", "pcsc", "gpio")
        return {n: getattr(self, n).health for n in names if getattr(self, n) is not None}

    def close(self) -> None:
        for device in (*self.inputs, self.thermometer, self.gpio):
            if device is None:
                continue
            with contextlib.suppress(Exception):  # closing must reach every device, relay last
                (getattr(device, "stop", None) or device.close)()
            with contextlib.suppress(Exception):
                device.close()


def open_hardware(config: DevicesConfig) -> Hardware:
    hw = Hardware()
    if config.camera is not None:
        from drivers.scanner.camera import open_camera

        hw.camera = open_camera(config.camera)
        hw.inputs.append(hw.camera)
    if config.serial_scanner is not None:
        from drivers.serial_scanner import open_serial_scanner

        hw.serial_scanner = open_serial_scanner(config.serial_scanner)
        hw.inputs.append(hw.serial_scanner)
    if config.id_reader is not None:
        from drivers.idcard import open_id_reader

        hw.id_reader = open_id_reader(config.id_reader)
        hw.inputs.append(hw.id_reader)
    if config.pcsc is not None:
        from drivers.pcsc import open_pcsc

        hw.pcsc = open_pcsc(config.pcsc)
        hw.inputs.append(hw.pcsc)
    if config.thermometer is not None:
        from drivers.thermometer import open_thermometer

        hw.thermometer = open_thermometer(config.thermometer)
    if config.gpio is not None:
        from drivers.gpio import open_gpio

        hw.gpio = open_gpio(config.gpio)
    return hw


class NoActuators:
    """For a kiosk without gate I/O (a desk verifier): actions are only reported."""

    def pulse_gate(self) -> None:
        pass

    def show(self, colour: str | None) -> None:
        pass

    def beep(self, pattern: str) -> None:
        pass
