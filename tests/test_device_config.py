"""The device configuration file: defaults, every section, and clear errors for bad files."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.config import ConfigError, DevicesConfig, load, parse

FULL = """
[camera]
backend = "real"
source = "/dev/video0"
fps = 10
roi = [0.1, 0.1, 0.8, 0.8]

[serial_scanner]
backend = "sim"
url = "socket://127.0.0.1:7000"
terminator = "\\r\\n"

[thermometer]
backend = "real"
bus = 1
address = 0x5A
model = "linear"
linear = [1.02, 0.05, 0.3]

[id_reader]
url = "/dev/ttyUSB1"

[pcsc]
reader = "ACS"

[gpio]
relay_active_high = true
door_pin = false
"""


def test_defaults_are_all_simulated() -> None:
    config = load(None)
    assert isinstance(config, DevicesConfig)
    assert config.camera.backend == config.thermometer.backend == config.gpio.backend == "sim"
    assert config.serial_scanner is None and config.pcsc is None  # not fitted unless configured


def test_a_full_file(tmp_path) -> None:
    path = tmp_path / "devices.toml"
    path.write_text(FULL.replace("door_pin = false", "door_pin = 25"))
    config = load(path)
    assert (
        config.camera.backend == "real" and config.camera.fps == 10.0 and isinstance(config.camera.fps, float)
    )
    assert config.camera.roi == [0.1, 0.1, 0.8, 0.8]
    assert config.serial_scanner.terminator == "\r\n"
    assert config.thermometer.address == 0x5A and config.thermometer.linear == [1.02, 0.05, 0.3]
    assert config.id_reader.url == "/dev/ttyUSB1" and config.id_reader.backend == "sim"
    assert config.pcsc.reader == "ACS"
    assert config.gpio.relay_active_high is True and config.gpio.door_pin == 25


def test_a_device_can_be_marked_not_fitted() -> None:
    assert parse("camera = false\n").camera is None
    assert parse("[gpio]\ndoor_pin = false\n").gpio.door_pin is None  # no door contact wired


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[camera\n", "not valid TOML"),
        ("[printer]\n", "unknown section(s) printer"),
        ("[camera]\nbackend = 'usb'\n", 'backend must be "real" or "sim"'),
        ("[camera]\nfps = 'fast'\n", "[camera] fps: expected float"),
        ("[camera]\nframerate = 10\n", "unknown key(s) framerate"),
        ("[thermometer]\naddress = true\n", "[thermometer] address: expected int"),
        ("[gpio]\ndoor_pin = 'left'\n", "[gpio] door_pin: expected int | None"),
        ("[camera]\nroi = [0, 'a']\n", "[camera] roi: expected a list of numbers"),
        ("camera = 3\n", "[camera] must be a table"),
        ("[thermometer]\ntable = [[30, 36.5], [31]]\n", "[thermometer] table"),
    ],
)
def test_bad_files_give_clear_errors(text, message) -> None:
    with pytest.raises(ConfigError) as err:
        parse(text, "site.toml")
    assert message in str(err.value) and "site.toml" in str(err.value)


def test_unreadable_files(tmp_path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "missing.toml")
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe[camera]")
    with pytest.raises(ConfigError, match="UTF-8"):
        load(tmp_path / "bin.toml")


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.text(max_size=300))
def test_random_text_is_a_config_or_a_config_error(text: str) -> None:
    """Garbage never escapes as another exception type."""
    try:
        config = parse(text)
    except ConfigError as exc:
        assert str(exc)
        return
    assert isinstance(config, DevicesConfig)
