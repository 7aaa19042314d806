"""The infrared thermometer (Melexis MLX90614 on I2C): one `Thermometer` over the real smbus2 `SMBus`,
either on /dev/i2c-N (backend "real") or on a simulated adapter with a register model of the chip
(backend "sim"; only the kernel boundary is simulated, see simbus.py).

    thermometer = open_thermometer(config.thermometer)
    reading = thermometer.measure()        # Reading(status=ok|no_person|implausible|sensor_error, body, skin, ...)
    thermometer.health                     # Health(ok|degraded|failed, reason)
    thermometer.close()
"""

from __future__ import annotations

import math

from drivers.config import ConfigError, ThermometerConfig

from .chip import Mlx90614Chip, Scenario, drift, person_visit
from .estimate import build_model
from .mlx90614 import FEVER_THRESHOLD, Reading, Status, Thermometer, ThermometerError
from .simbus import FUNCS_BCM2835, FUNCS_DESIGNWARE, SimI2cAdapter

__all__ = [
    "FEVER_THRESHOLD",
    "FUNCS_BCM2835",
    "FUNCS_DESIGNWARE",
    "Mlx90614Chip",
    "Reading",
    "Scenario",
    "SimI2cAdapter",
    "Status",
    "Thermometer",
    "ThermometerError",
    "drift",
    "open_thermometer",
    "person_visit",
    "selftest",
    "validate",
]


def validate(config: ThermometerConfig, source: str = "[thermometer]") -> None:
    """ConfigError for values the TOML types allow but the thermometer cannot use."""
    problems = []
    if not 0x03 <= config.address <= 0x77:
        problems.append(f"address must be a 7-bit device address (0x03-0x77), not {config.address:#x}")
    if config.bus < 0:
        problems.append("bus must be a bus number >= 0")
    if not 1 <= config.samples <= 100:
        problems.append(f"samples must be between 1 and 100, not {config.samples}")
    if not 0.1 <= config.emissivity <= 1.0:
        problems.append(f"emissivity must be between 0.1 and 1.0, not {config.emissivity:g}")
    if not (
        math.isfinite(config.min_skin)
        and math.isfinite(config.max_skin)
        and config.min_skin < config.max_skin
    ):
        problems.append("min_skin must be below max_skin")
    try:
        build_model(config.model, config.offset, config.linear, config.table)
    except ValueError as exc:
        problems.append(str(exc))
    if problems:
        raise ConfigError(f"{source}: " + "; ".join(problems))


def open_thermometer(
    config: ThermometerConfig | None = None,
    *,
    adapter: SimI2cAdapter | None = None,
    chip: Mlx90614Chip | None = None,
    funcs: int = FUNCS_BCM2835,
    **options,
) -> Thermometer:
    """The configured thermometer. Backend "sim": a simulated adapter (given, or a new one owned and closed
    by the thermometer) carrying `chip` (or a new factory-fresh MLX90614). `options` go to `Thermometer`."""
    config = config or ThermometerConfig()
    validate(config)
    if config.backend == "real":
        return Thermometer(config, config.bus, **options)
    owned: tuple = ()
    if adapter is None:
        # a simulated sensor as installed: already set to the configured emissivity
        chip = chip or Mlx90614Chip(config.address, emissivity=config.emissivity)
        adapter = SimI2cAdapter(config.bus, [chip], funcs=funcs)
        owned = (adapter,)
    elif chip is not None and chip not in adapter.devices:
        adapter.devices.append(chip)
    return Thermometer(config, adapter.path, simulator=adapter, owned=owned, **options)


def selftest(config: ThermometerConfig | None = None) -> tuple[str, str]:
    """("ok"|"degraded"|"failed", detail): the sensor answers with a valid PEC and a plausible ambient."""
    config = config or ThermometerConfig()
    try:
        thermometer = open_thermometer(config, monitor=False)
    except ConfigError as exc:
        return "failed", str(exc)
    try:
        return thermometer.selftest()
    finally:
        thermometer.close()
