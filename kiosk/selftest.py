"""`kiosk selftest`: each configured device checks itself; a hung device cannot hang the test.

Each driver package provides `selftest(config) -> (status, detail)`; this module only runs them, each
in its own thread with a time limit, and reports `{"devices": [{"name", "status", "detail"}]}`.
Inside the running kiosk the devices are already open: `run_one(..., live=device)` runs the open
device's own `selftest()` method instead (same thread and time limit).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import threading
from collections.abc import Callable

from drivers.config import DevicesConfig

# device section in the configuration -> "module:function" of its self-test
SELFTESTS = {
    "camera": "drivers.scanner.camera:selftest",
    "serial_scanner": "drivers.serial_scanner:selftest",
    "thermometer": "drivers.thermometer:selftest",
    "id_reader": "drivers.idcard:selftest",
    "pcsc": "drivers.pcsc:selftest",
    "gpio": "drivers.gpio:selftest",
}
TIME_LIMIT = 20.0  # seconds per device


def _resolve(target: str) -> Callable:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _run_one(name: str, config: object, limit: float, live: object = None) -> dict:
    outcome: dict = {"name": name, "status": "failed", "detail": f"no answer within {limit:g} s"}
    check = getattr(live, "selftest", None)

    def work() -> None:
        try:
            status, detail = check() if callable(check) else _resolve(SELFTESTS[name])(config)
            outcome.update(status=str(status), detail=str(detail))
        except Exception as exc:  # a self-test that crashes is a failed device, reported, not raised
            outcome.update(status="failed", detail=f"self-test error: {type(exc).__name__}: {exc}")

    thread = threading.Thread(target=work, name=f"selftest-{name}", daemon=True)
    thread.start()
    thread.join(limit)
    return outcome


def run_one(name: str, config: object, limit: float = TIME_LIMIT, live: object = None) -> dict:
    """One device's self-test under the time limit (the technician screen runs them one by one).

    `live`: the open device object the running kiosk holds (`Hardware.<name>`). When it has a
    `selftest()` method, that runs instead of the driver's `selftest(config)`: the device is tested
    through the instance already open, never opened a second time (GPIO pins, a serial port opened
    exclusively, the camera and the I2C bus are the kiosk's), and the gate is never pulsed."""
    return _run_one(name, config, limit, live)


def run(config: DevicesConfig, *, sim: bool = False, limit: float = TIME_LIMIT) -> list[dict]:
    """Self-test every fitted device, in configuration order; `sim` forces simulated backends."""
    results = []
    for name in SELFTESTS:
        device = getattr(config, name)
        if device is None:
            continue
        if sim:
            device = dataclasses.replace(device, backend="sim")
        results.append(_run_one(name, device, limit))
    return results


def run_cli(config: DevicesConfig, *, sim: bool, as_json: bool) -> int:
    results = run(config, sim=sim)
    if as_json:
        print(json.dumps({"devices": results}, ensure_ascii=False))
    else:
        width = max((len(r["name"]) for r in results), default=6) + 2
        for r in results:
            print(f"{r['name']:<{width}} {r['status'].upper():<9} {r['detail']}")
    return 0 if results and all(r["status"] == "ok" for r in results) else 1
