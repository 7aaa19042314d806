"""Gate relay, green/red lamps, buzzer and door contact over gpiozero.

`open_gpio(config)` returns a `GateIO`: backend "real" uses gpiozero's default pin factory (lgpio on
a Pi: `LGPIOFactory`, the only one that works on a Pi 5), "sim" a private `SimFactory` (a
`MockFactory`; `MockPWMPin` for a passive buzzer) with a `SimBoard` playing the door. The kiosk loop calls `pulse_gate()`, `show("green"|"red"|None)`,
`beep("pass"|"stop"|"refer"|"alarm")` and `silence()`, none of which block; `start(sink)` watches the
door and hands `DoorEvent`s ("opened", "forced", "held_open", "closed") to the sink.

Fail-safe or fail-secure. The driver de-energises the relay whenever it stops: `close()`, an
`atexit` hook (normal exit and uncaught exceptions), `install_signal_handlers()` for SIGTERM/SIGHUP,
and a pulse always ends on the driver's own thread even if the caller hangs. What it cannot cover:
SIGKILL, a kernel panic or a power cut. On power loss the coil loses power, so the relay rests
de-energised. After SIGKILL the line is released by the kernel: stock Raspberry Pi kernels keep a
released output driving its last level (set `strict_gpiod` so released lines return to inputs, and
run `force_relay_off` from the unit's ExecStopPost), and while the Pi boots the pin is an
input with its default pull until the kiosk claims it (for an active-low board on GPIO17,
`gpio=17=op,dh` in config.txt holds it off from the firmware stage). So wire the gate for what a de-energised relay should
mean. Fail-secure (relay NO contact into the gate controller's "open" input, or an electric strike
that needs power to unlock): a crash or power cut leaves the gate locked, which is right for a
checkpoint, and egress then must not depend on the kiosk: a mechanical free-egress handle or
push-bar on the secure side. Fail-safe (a maglock powered through the relay's NC contact, or a
turnstile that frees on power loss): a power cut frees the passage for evacuation, and a kiosk crash
leaves it locked but powered. Either way fire egress is the fire-alarm panel's and the break-glass
unit's job, wired in series with the lock power independently of the Pi; the kiosk relay is never a
life-safety device. Verify on site: with the relay wire pulled off the Pi pin the gate must be in
its safe state.
"""

from __future__ import annotations

import warnings
from typing import Any

from gpiozero.pins.mock import MockFactory

from drivers.config import GpioConfig

from .buzzer import PATTERNS, Pattern
from .door import DoorLogic
from .failsafe import handle_signal, install_signal_handlers, relays_off
from .gate import GateIO
from .selftest import selftest
from .sim import SimBoard, SimFactory

__all__ = [
    "PATTERNS",
    "DoorLogic",
    "GateIO",
    "Pattern",
    "SimBoard",
    "SimFactory",
    "force_relay_off",
    "handle_signal",
    "install_signal_handlers",
    "open_gpio",
    "relays_off",
    "selftest",
]


def _default_factory() -> tuple[Any, str]:
    """gpiozero's default pin factory, or (None, why not). Its fallback warnings become the reason."""
    from gpiozero import Device

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            Device.ensure_pin_factory()
            return Device.pin_factory, ""
        except Exception as exc:
            tried = "; ".join(str(w.message) for w in caught)
            detail = f" ({tried})" if tried else ""
            return (
                None,
                f"no GPIO pin factory: {exc}{detail}; on a Raspberry Pi install lgpio (python3-lgpio)",
            )


def open_gpio(
    config: GpioConfig | None = None,
    *,
    pin_factory: Any = None,
    **options: Any,
) -> GateIO:
    """A `GateIO` for `config`. Never raises for hardware trouble; see `.health`.

    `pin_factory` overrides the backend's factory (tests share one `MockFactory` between devices);
    `options` go to `GateIO` (clock, door_grace_seconds, door_stuck_seconds, reopen_backoff)."""
    config = config or GpioConfig()
    own = False
    error = ""
    if pin_factory is None:
        if config.backend == "sim":
            pin_factory, own = SimFactory(), True
        else:
            pin_factory, error = _default_factory()
    sim = None
    if config.backend == "sim" and isinstance(pin_factory, MockFactory):
        sim = SimBoard(pin_factory, config, door_open_high=bool(config.door_open_high))
    return GateIO(
        config,
        pin_factory,
        sim=sim,
        own_factory=own,
        factory_error=error,
        **options,
    )


def force_relay_off(config: GpioConfig | None = None, *, pin_factory: Any = None) -> tuple[bool, str]:
    """Claim only the relay pin, drive it de-energised and release it: for systemd's ExecStopPost,
    which runs after every stop of the service, including SIGKILL and crashes."""
    from gpiozero import OutputDevice

    config = config or GpioConfig()
    if pin_factory is None:
        if config.backend == "sim":
            return True, "simulated relay: nothing to do"
        pin_factory, error = _default_factory()
        if pin_factory is None:
            return False, error
    try:
        relay = OutputDevice(
            config.relay_pin,
            active_high=config.relay_active_high,
            initial_value=False,
            pin_factory=pin_factory,
        )
    except Exception as exc:
        return False, f"gate relay (GPIO{config.relay_pin}) could not be claimed: {exc}"
    relay.off()
    relay.close()
    return True, f"gate relay (GPIO{config.relay_pin}) de-energised"
