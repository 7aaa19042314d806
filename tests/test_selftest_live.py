"""The self-test of the running kiosk's own devices: tested through the open driver objects the kiosk
holds (kiosk.app.hardware.Hardware), never opened a second time, the gate never pulsed.

Every device is the real driver on its simulated backend, opened as `kiosk run` opens them
(`open_hardware` on a sim DevicesConfig, then `start`). The PC/SC reader needs pyscard, pcscd and
vsmartcard-vpcd (as tests/test_pcsc.py); without them the kiosk here has no contactless reader.
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

from drivers.config import DevicesConfig, PcscConfig, SerialScannerConfig
from drivers.events import CardFault, CodeScanned, ContactlessCard, IdCardRead
from drivers.gpio import selftest as gpio_selftest
from drivers.health import State
from kiosk import selftest
from kiosk.app.hardware import open_hardware

try:
    import smartcard  # noqa: F401

    from drivers.pcsc.service import find_pcscd, find_vpcd_library

    HAVE_PCSC = find_pcscd() is not None and find_vpcd_library() is not None
except ImportError:
    HAVE_PCSC = False


def wait_until(predicate, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def states(pin) -> list:
    return [s.state for s in pin.states]


def sim_devices() -> DevicesConfig:
    """Every device the kiosk can have, on its simulated backend (as kiosk/app/demo.py builds it)."""
    config = DevicesConfig()  # camera, thermometer, id_reader, gpio
    config.serial_scanner = SerialScannerConfig(backend="sim")
    config.pcsc = PcscConfig(backend="sim") if HAVE_PCSC else None
    config.gpio.pulse_seconds = 0.5
    return config


@pytest.fixture
def kiosk():
    """The kiosk's hardware, open and started, every device healthy; the sink collects its events."""
    config = sim_devices()
    fitted = [n for n in selftest.SELFTESTS if getattr(config, n) is not None]
    assert all(getattr(config, n).backend == "sim" for n in fitted)
    hw = open_hardware(config)
    events: list = []
    hw.start(events.append)
    try:
        assert wait_until(
            lambda: set(hw.health()) == set(fitted) and all(h.state is State.OK for h in hw.health().values())
        ), hw.health()
        yield SimpleNamespace(hw=hw, config=config, fitted=fitted, events=events)
    finally:
        hw.close()


def scans(events: list) -> list:
    """What reached the checkpoint as a code or a card (a self-test must add nothing here)."""
    return [e for e in events if isinstance(e, CodeScanned | IdCardRead | ContactlessCard | CardFault)]


# --- today's false failure ----------------------------------------------------------------------


def test_module_selftest_of_the_held_gpio_fails_in_use_and_the_live_one_is_ok(kiosk):
    hw, config = kiosk.hw, kiosk.config
    relay = hw.gpio.pin_factory.pin(config.gpio.relay_pin)
    before = states(relay)
    status, detail = gpio_selftest(config.gpio, pin_factory=hw.gpio.pin_factory)  # opens the pins again
    assert status == "failed"
    assert "GPIO17" in detail and "in use" in detail and "the kiosk service, holds it" in detail
    assert hw.gpio.health.state is State.OK and states(relay) == before  # the kiosk's gate is untouched

    result = selftest.run_one("gpio", config.gpio, live=hw.gpio)
    assert result["status"] == "ok", result
    assert "gate relay GPIO17 (active-low) de-energised, not pulsed" in result["detail"]


# --- every live device ----------------------------------------------------------------------------


def test_live_selftest_of_every_device_is_ok_without_opening_it_again(kiosk):
    hw, config = kiosk.hw, kiosk.config
    camera_opens = hw.camera.sim.opens
    serial_opens = hw.serial_scanner.stats["opens"]
    id_opens = hw.id_reader.stats["opens"]
    chip = hw.thermometer.simulator.devices[0]
    results = {}
    for name in kiosk.fitted:
        results[name] = selftest.run_one(name, getattr(config, name), live=getattr(hw, name))
    assert {n: r["status"] for n, r in results.items()} == dict.fromkeys(kiosk.fitted, "ok"), results
    detail = {n: r["detail"] for n, r in results.items()}

    assert detail["camera"].startswith("sim camera: 1280x720 at ")
    assert "(configured 1280x720 at 15)" in detail["camera"] and "newest frame" in detail["camera"]
    assert detail["serial_scanner"].startswith(f"{hw.serial_scanner.url} open at 9600 baud")
    assert (
        f"ambient {chip.ambient_at():.1f} °C, emissivity 0.980, PEC checked by the kernel"
        == (detail["thermometer"])
    )
    assert detail["id_reader"].startswith("SAM status 90, SAM id ")
    assert "door contact GPIO24 reads closed" in detail["gpio"] and "0 gate pulse(s)" in detail["gpio"]
    if HAVE_PCSC:
        assert detail["pcsc"] == f"reader {hw.pcsc.reader_name} present, followed by the kiosk"

    # nothing was opened a second time, and nothing reached the checkpoint as a scan or a card
    assert hw.camera.sim.opens == camera_opens
    assert hw.serial_scanner.stats["opens"] == serial_opens
    assert hw.id_reader.stats["opens"] == id_opens
    assert scans(kiosk.events) == []
    assert all(h.state is State.OK for h in hw.health().values()), hw.health()


def test_run_one_without_a_live_selftest_keeps_the_module_selftest(kiosk):
    """`live` without a `selftest()` (or None): the driver's selftest(config), as before."""
    config = kiosk.config
    for live in (None, object()):
        result = selftest.run_one("thermometer", config.thermometer, live=live)
        assert result["status"] == "ok" and result["detail"].startswith("ambient ")
    # the gpio's module-level self-test on its own (sim) pins pulses a gate of its own
    result = selftest.run_one("gpio", config.gpio)
    assert result["status"] == "ok" and "pulsed" in result["detail"] and "door opened" in result["detail"]
    assert kiosk.hw.gpio.pulses == 0  # not the kiosk's


# --- the thermometer, with faults -------------------------------------------------------------------


def test_live_thermometer_with_injected_faults_reports_why(kiosk):
    hw, config = kiosk.hw, kiosk.config
    chip = hw.thermometer.simulator.devices[0]

    def run() -> dict:
        return selftest.run_one("thermometer", config.thermometer, live=hw.thermometer)

    chip.faults.ambient_error_flag = True
    result = run()
    assert result["status"] == "failed"
    assert result["detail"] == "sensor error flag set on the ambient temperature"
    chip.faults.ambient_error_flag = False
    assert run()["status"] == "ok"

    chip.faults.bad_pec = 1.0  # every frame corrupted on the wires
    result = run()
    assert result["status"] == "failed"
    assert result["detail"] == "PEC mismatch reading 0x06 on every attempt (electrical noise or wiring)"
    assert hw.thermometer.health.state is State.FAILED
    chip.faults.bad_pec = 0.0
    result = run()  # readable again, but the PEC errors of the last minute still count
    assert result["status"] == "degraded"
    assert "PEC error(s) in the last 60 s, recovered by retry" in result["detail"]

    chip.disconnect()
    result = run()
    assert result["status"] == "failed" and "no answer from the sensor at 0x5A" in result["detail"]
    chip.connect()


# --- the gate is never pulsed --------------------------------------------------------------------------


def test_gpio_live_selftest_never_pulses_the_relay(kiosk):
    hw, config = kiosk.hw, kiosk.config
    gate = hw.gpio
    pins = {
        n: gate.pin_factory.pin(p)
        for n, p in (
            ("relay", config.gpio.relay_pin),
            ("green", config.gpio.green_pin),
            ("red", config.gpio.red_pin),
        )
    }
    assert gate.show("green")
    before = {n: states(p) for n, p in pins.items()}
    for _ in range(3):
        result = selftest.run_one("gpio", config.gpio, live=gate)
        assert result["status"] == "ok", result
        assert "de-energised, not pulsed" in result["detail"] and "green lit" in result["detail"]
    assert {n: states(p) for n, p in pins.items()} == before  # no pin changed, not even for a moment
    assert gate.pulses == 0 and gate.last_pulse is None and not gate.relay_active
    assert not [e for e in kiosk.events if getattr(e, "kind", None) == "opened"]

    # during a pulse of the checkpoint's own, the self-test reads it and does not extend or end it
    assert gate.pulse_gate(1.0)
    energised = states(pins["relay"])
    result = selftest.run_one("gpio", config.gpio, live=gate)
    assert result["status"] == "ok" and "energised (a gate pulse is running)" in result["detail"]
    assert "1 gate pulse(s)" in result["detail"]
    assert states(pins["relay"]) == energised and gate.relay_active
    assert gate.wait_relay_idle(5.0) and gate.pulses == 1


# --- a hung device ------------------------------------------------------------------------------------------


def test_a_hung_live_selftest_is_cut_at_the_time_limit(kiosk):
    """The thermometer's bus hangs in the middle of a transfer (the adapter never completes it)."""
    hw, config = kiosk.hw, kiosk.config
    adapter = hw.thermometer.simulator
    release = threading.Event()
    entered = threading.Event()

    def hang(msgs):
        entered.set()
        release.wait(30)
        return None  # then the transfer goes through as normal

    adapter.intercept = hang
    try:
        started = time.monotonic()
        result = selftest.run_one("thermometer", config.thermometer, limit=0.5, live=hw.thermometer)
        took = time.monotonic() - started
        assert entered.is_set()  # it really was stuck on the bus
        assert result == {"name": "thermometer", "status": "failed", "detail": "no answer within 0.5 s"}
        assert 0.45 <= took < 1.5
    finally:
        adapter.intercept = None
        release.set()
    assert wait_until(
        lambda: selftest.run_one("thermometer", config.thermometer, live=hw.thermometer)["status"] == "ok"
    )


# --- the technician screen -------------------------------------------------------------------------


def test_technician_screen_tests_the_live_devices(qtbot, kiosk, tmp_path):
    pytest.importorskip("pytestqt")
    from PySide6.QtCore import Qt

    from kiosk.policy.policy import Policy
    from kiosk.ui.guard import hash_pin
    from kiosk.ui.technician import TechnicianDeps, TechnicianScreen

    pin = "975310"
    hw, config = kiosk.hw, kiosk.config
    relay = hw.gpio.pin_factory.pin(config.gpio.relay_pin)
    relay_before = states(relay)
    camera_opens = hw.camera.sim.opens
    screen = TechnicianScreen(
        TechnicianDeps(
            data_dir=tmp_path,
            policy=Policy(site="North gate"),
            devices=config,
            hardware=hw,  # no `selftest=`: the screen's default runner
            journal=lambda: None,
            usb_lister=lambda: [],
        ),
        hash_pin(pin, salt=b"kiosk-tech-salt!", iterations=1000),
        language="en",
    )
    qtbot.addWidget(screen)
    screen.resize(800, 480)
    screen.show()
    for digit in pin:
        qtbot.mouseClick(screen.keys[digit], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(screen.keys["enter"], Qt.MouseButton.LeftButton)
    assert screen.unlocked
    qtbot.mouseClick(screen.menu_buttons["selftest"], Qt.MouseButton.LeftButton)
    assert list(screen.selftest_rows) == kiosk.fitted
    qtbot.mouseClick(screen.selftest_run, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not screen.selftest_worker.running, timeout=30000)

    assert {n: r["status"] for n, r in screen.selftest_results.items()} == dict.fromkeys(kiosk.fitted, "ok")
    rows = screen.selftest_rows
    assert all(row.badge.text() == "Working" for row in rows.values())
    assert screen.selftest_status.text() == f"All {len(kiosk.fitted)} devices OK"
    assert "de-energised, not pulsed" in rows["gpio"].detail.text()  # the live gate, not a second one
    assert "newest frame" in rows["camera"].detail.text()
    assert rows["thermometer"].detail.text().startswith("ambient ")
    assert rows["id_reader"].detail.text().startswith("SAM status 90")
    assert states(relay) == relay_before and hw.gpio.pulses == 0
    assert hw.camera.sim.opens == camera_opens
    assert scans(kiosk.events) == []
