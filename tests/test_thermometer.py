"""MLX90614 thermometer: the real driver through the real smbus2.SMBus against the simulated adapter and
chip register model (only the kernel's ioctl boundary is simulated)."""

from __future__ import annotations

import errno
import fcntl
import os
import tempfile
import threading
import time
from collections import Counter

import pytest
import smbus2
import smbus2.smbus2 as smbus2_impl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.config import ConfigError, ThermometerConfig
from drivers.health import State
from drivers.thermometer import (
    FUNCS_BCM2835,
    FUNCS_DESIGNWARE,
    Mlx90614Chip,
    SimI2cAdapter,
    Status,
    ThermometerError,
    drift,
    open_thermometer,
    person_visit,
    selftest,
    simbus,
)
from drivers.thermometer.chip import encode_kelvin
from drivers.thermometer.estimate import LinearModel, OffsetModel, TableModel, build_model
from drivers.thermometer.mlx90614 import TA_RANGE, TOBJ_RANGE, decode
from drivers.thermometer.pec import crc8, read_word_pec, write_word_pec

PROPERTY = settings(
    derandomize=True,
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MODES = pytest.mark.parametrize(
    "funcs", [FUNCS_BCM2835, FUNCS_DESIGNWARE], ids=["kernel-pec", "software-pec"]
)


class ManualClock:
    def __init__(self, t: float = 0.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def opened():
    """open_thermometer(...) that is closed after the test."""
    things = []

    def make(config: ThermometerConfig | None = None, **kwargs):
        kwargs.setdefault("monitor", False)
        kwargs.setdefault("sample_interval", 0.01)
        thermometer = open_thermometer(config or ThermometerConfig(), **kwargs)
        things.append(thermometer)
        return thermometer

    yield make
    for thing in things:
        thing.close()


def quiet_chip(**kwargs) -> Mlx90614Chip:
    """A chip without noise, already at skin emissivity (so opening writes nothing)."""
    kwargs.setdefault("noise", 0.0)
    kwargs.setdefault("ambient_noise", 0.0)
    kwargs.setdefault("emissivity", 0.98)
    return Mlx90614Chip(**kwargs)


# --- PEC ------------------------------------------------------------------------------------------


def test_pec_known_vectors():
    assert crc8(bytes.fromhex("B407B5D23A")) == 0x30  # datasheet read of Tobj1
    assert read_word_pec(0x5A, 0x07, 0xD2, 0x3A) == 0x30
    assert crc8([0x00, 0x2E, 0x00, 0x00]) == 0x6F  # app note: erase EEPROM 0x0E via address 0
    assert write_word_pec(0x00, 0x2E, 0x5A, 0x00) == 0xE1  # app note: write 0x005A to 0x0E


@PROPERTY
@given(st.binary(max_size=40))
def test_pec_appended_checks_to_zero(data):
    assert crc8(data + bytes([crc8(data)])) == 0


def test_pec_vector_on_the_wires_through_real_smbus():
    chip = quiet_chip()
    with SimI2cAdapter(1, [chip]) as adapter, smbus2.SMBus(adapter.path) as bus:
        bus.pec = 1
        chip.inject_outliers(decode(0x3AD2))
        assert bus.read_word_data(0x5A, 0x07) == 0x3AD2
        assert chip.bus_log[-1].frames == (b"\xb4\x07", b"\xb5\xd2\x3a\x30")


def test_app_note_write_vectors_via_address_zero():
    chip = quiet_chip()
    with SimI2cAdapter(1, [chip]) as adapter, smbus2.SMBus(adapter.path) as bus:
        bus.pec = 1
        bus.write_word_data(0x00, 0x2E, 0x0000)
        time.sleep(0.01)
        bus.write_word_data(0x00, 0x2E, 0x005A)
        time.sleep(0.01)
        erase, write = chip.write_log
        assert erase.wire == bytes([0x2E, 0x00, 0x00, 0x6F]) and erase.accepted
        assert write.wire == bytes([0x2E, 0x5A, 0x00, 0xE1]) and write.accepted
        assert bus.read_word_data(0x5A, 0x2E) & 0xFF == 0x5A


# --- the kernel boundary --------------------------------------------------------------------------


def test_only_the_ioctl_is_replaced_and_real_fds_pass_through():
    with SimI2cAdapter(1, [quiet_chip()]) as adapter, smbus2.SMBus(adapter.path) as bus:
        assert type(bus) is smbus2.SMBus
        assert smbus2_impl.ioctl is simbus._sim_ioctl  # the one substituted name
        assert smbus2_impl.os is os  # open/close are the real ones
        assert bus.funcs == FUNCS_BCM2835
        with tempfile.TemporaryFile() as other:  # an fd that is not a simulated node: the real ioctl
            with pytest.raises(OSError) as info:
                smbus2_impl.ioctl(other.fileno(), simbus.I2C_FUNCS, 0)
            assert info.value.errno == errno.ENOTTY
            assert simbus._real_ioctl is fcntl.ioctl


def test_designware_adapter_has_no_kernel_pec():
    with (
        SimI2cAdapter(1, [quiet_chip()], funcs=FUNCS_DESIGNWARE) as adapter,
        smbus2.SMBus(adapter.path) as bus,
    ):
        with pytest.raises(OSError, match="SMBUS_PEC"):
            bus.pec = 1
        msgs = [smbus2.i2c_msg.write(0x5A, [0x06]), smbus2.i2c_msg.read(0x5A, 3)]
        bus.i2c_rdwr(*msgs)
        lsb, msb, pec = bytes(msgs[1])
        assert read_word_pec(0x5A, 0x06, lsb, msb) == pec


def test_kernel_errors_surface_as_in_linux():
    chip = quiet_chip()
    with SimI2cAdapter(1, [chip]) as adapter, smbus2.SMBus(adapter.path) as bus:
        chip.faults.bad_pec = 1.0
        bus.pec = 0  # without PEC a corrupted word goes through unnoticed: why the driver always uses it
        words = {bus.read_word_data(0x5A, 0x06) for _ in range(20)}
        assert len(words) > 1
        bus.pec = 1
        with pytest.raises(OSError) as info:
            bus.read_word_data(0x5A, 0x06)
        assert info.value.errno == errno.EBADMSG == 74
        chip.faults.bad_pec = 0.0
        chip.disconnect()
        with pytest.raises(OSError) as info:
            bus.read_word_data(0x5A, 0x06)
        assert info.value.errno == errno.EREMOTEIO == 121
        with pytest.raises(OSError) as info:
            bus.read_word_data(0x33, 0x06)  # nobody there
        assert info.value.errno == errno.EREMOTEIO


def test_reopened_fd_gets_a_fresh_client():
    chip = quiet_chip()
    with SimI2cAdapter(1, [chip]) as adapter:
        with smbus2.SMBus(adapter.path) as bus:
            bus.pec = 1
            bus.read_word_data(0x5A, 0x06)
            assert len(chip.bus_log[-1].frames[1]) == 1 + 3  # address + LSB MSB PEC
        with smbus2.SMBus(adapter.path) as bus:  # very likely the same fd number
            bus.read_word_data(0x5A, 0x06)
            assert len(chip.bus_log[-1].frames[1]) == 1 + 2  # PEC flag not inherited


def test_eeprom_rules_of_the_chip():
    chip = quiet_chip()
    with SimI2cAdapter(1, [chip]) as adapter, smbus2.SMBus(adapter.path) as bus:
        before = chip.eeprom[4]
        bus.write_word_data(0x5A, 0x24, 0x0000)  # no PEC: ignored
        assert chip.write_log[-1].note.startswith("no PEC") and chip.eeprom[4] == before
        bus.pec = 1
        bus.write_word_data(0x5A, 0x24, 0x1234)  # not erased first: bits only get set
        assert chip.eeprom[4] == before | 0x1234
        bus.write_word_data(0x5A, 0x24, 0x0000)  # within 5 ms of the last write: busy
        assert chip.write_log[-1].note.startswith("EEPROM busy")
        assert bus.read_word_data(0x5A, 0x24) == 0x0000  # reads during the write cycle
        time.sleep(0.01)
        bus.write_word_data(0x5A, 0x3C, 0x0000)  # ID number: factory cell
        assert not chip.write_log[-1].accepted
        bus.write_word_data(0x5A, 0x07, 0x0000)
        assert chip.write_log[-1].note == "RAM is read-only"


# --- temperatures ---------------------------------------------------------------------------------


@MODES
def test_temperatures_round_trip(opened, funcs):
    chip = quiet_chip()
    thermometer = opened(chip=chip, funcs=funcs)

    @PROPERTY
    @given(
        st.integers(0x27AD, 0x7FFF),
        st.integers(encode_kelvin(TA_RANGE[0]) + 1, encode_kelvin(TA_RANGE[1]) - 1),
    )
    def check(raw_obj, raw_amb):
        chip.set_ambient(decode(raw_amb))
        chip.inject_outliers(decode(raw_obj))
        ambient, obj = thermometer.sample()
        assert ambient == pytest.approx(raw_amb * 0.02 - 273.15, abs=1e-9)
        assert obj == pytest.approx(raw_obj * 0.02 - 273.15, abs=1e-9)

    check()
    assert encode_kelvin(decode(0x3AD2)) == 0x3AD2


@MODES
def test_measure_a_person(opened, funcs):
    chip = quiet_chip(object_temp=35.6, ambient=23.0)
    thermometer = opened(chip=chip, funcs=funcs)
    reading = thermometer.measure()
    assert reading.status is Status.OK and reading.ok
    assert reading.skin == pytest.approx(35.6, abs=0.02)
    assert reading.body == pytest.approx(36.5, abs=0.02)  # default offset model +0.9
    assert reading.ambient == pytest.approx(23.0, abs=0.02)
    assert reading.samples == reading.requested == 5
    assert not reading.fever()
    assert thermometer.health.state is State.OK
    assert thermometer.pec_mode == ("kernel" if funcs == FUNCS_BCM2835 else "software")


def test_error_flag(opened):
    chip = quiet_chip(object_temp=35.6)
    thermometer = opened(chip=chip)
    chip.faults.error_flag = True
    reading = thermometer.measure()
    assert reading.status is Status.SENSOR_ERROR and "error flag" in reading.reason
    assert reading.skin is None and reading.body is None
    assert thermometer.health.state is State.DEGRADED
    with pytest.raises(ThermometerError, match="error flag"):
        thermometer.sample()
    chip.faults.error_flag = False
    chip.faults.ambient_error_flag = True
    with pytest.raises(ThermometerError, match="error flag"):
        thermometer.ambient()
    chip.faults.ambient_error_flag = False
    assert thermometer.measure().ok
    assert thermometer.health.state is State.OK


def test_one_flagged_sample_is_outvoted(opened):
    chip = quiet_chip(object_temp=35.6)
    thermometer = opened(chip=chip)
    chip.inject_outliers(float("inf"))  # encodes as 0x7FFF: in range, outvoted by the median
    assert thermometer.measure().skin == pytest.approx(35.6, abs=0.02)


# --- emissivity -----------------------------------------------------------------------------------


def test_emissivity_written_on_open_erase_then_write(opened):
    chip = Mlx90614Chip(noise=0.0, ambient_noise=0.0)  # factory-fresh: emissivity 1.0
    thermometer = opened(ThermometerConfig(emissivity=0.98), chip=chip)
    erase, write = chip.write_log
    assert (erase.command, erase.value, erase.accepted) == (0x24, 0x0000, True)
    assert (write.command, write.value, write.accepted) == (0x24, round(65535 * 0.98), True)
    assert write.at - erase.at >= 0.005
    assert erase.wire[-1] == write_word_pec(0x5A, 0x24, 0, 0)
    assert thermometer.emissivity == pytest.approx(0.98, abs=1 / 65535)
    thermometer.close()
    again = opened(ThermometerConfig(emissivity=0.98), chip=chip)  # already right: no EEPROM wear
    assert again.emissivity == pytest.approx(0.98, abs=1 / 65535)
    assert len(chip.write_log) == 2


@MODES
def test_emissivity_set_and_read_back(opened, funcs):
    chip = quiet_chip()
    thermometer = opened(chip=chip, funcs=funcs)
    thermometer.emissivity = 0.95
    assert [(w.value, w.note) for w in chip.write_log] == [(0, "erased"), (round(65535 * 0.95), "written")]
    assert chip.write_log[1].at - chip.write_log[0].at >= 0.005
    assert thermometer.emissivity == pytest.approx(0.95, abs=1 / 65535)
    thermometer.emissivity = 0.95  # unchanged: no write
    assert len(chip.write_log) == 2
    with pytest.raises(ValueError):
        thermometer.emissivity = 1.5


def test_emissivity_changes_what_the_chip_reports(opened):
    chip = quiet_chip(object_temp=36.0, ambient=22.0)
    thermometer = opened(chip=chip)
    assert thermometer.measure().skin == pytest.approx(36.0, abs=0.02)
    thermometer.emissivity = 1.0  # wrong for skin (0.98): the chip under-reads
    assert thermometer.measure().skin < 35.9


def test_emissivity_write_that_does_not_take_is_degraded(opened):
    chip = quiet_chip()
    thermometer = opened(chip=chip)
    real_write = chip._write
    chip._write = lambda addr, data: None  # the chip acknowledges but never writes
    with pytest.raises(ThermometerError, match="did not take"):
        thermometer.emissivity = 0.9
    assert thermometer.health.state is State.DEGRADED
    chip._write = real_write


# --- median, models, classification ---------------------------------------------------------------


def test_median_rejects_an_outlier(opened):
    chip = quiet_chip(object_temp=35.8)
    thermometer = opened(chip=chip)
    chip.inject_outliers(80.0)
    reading = thermometer.measure()
    assert reading.ok and reading.skin == pytest.approx(35.8, abs=0.02)
    chip.inject_outliers(20.0, 90.0)
    assert thermometer.measure().skin == pytest.approx(35.8, abs=0.02)


def test_models_unit():
    assert OffsetModel(0.9)(35.0, 20.0) == pytest.approx(35.9)
    assert LinearModel(1.0, -0.1, 3.0)(35.0, 20.0) == pytest.approx(36.0)
    table = TableModel.from_points([[36.0, 37.2], [34.0, 36.6], [35.0, 36.9]])
    assert table(34.5, 0) == pytest.approx(36.75)
    assert table(37.0, 0) == pytest.approx(37.5)  # extended along the last segment, not clamped
    assert table(33.0, 0) == pytest.approx(36.3)
    for bad in ([[35.0, 36.0]], [[35.0, 36.0], [35.0, 36.5]], [[34.0, 37.0], [35.0, 36.0]]):
        with pytest.raises(ValueError):
            TableModel.from_points(bad)
    with pytest.raises(ValueError):
        build_model("magic", 0.9, [1, 0, 0], [])
    with pytest.raises(ValueError):
        build_model("linear", 0.9, [1, 0], [])


@pytest.mark.parametrize(
    ("config", "skin", "ambient", "body"),
    [
        (ThermometerConfig(model="offset", offset=1.1), 35.5, 22.0, 36.6),
        (ThermometerConfig(model="linear", linear=[1.0, -0.1, 3.0]), 35.5, 20.0, 36.5),
        (ThermometerConfig(model="linear", linear=[1.0, -0.1, 3.0]), 35.5, 30.0, 35.5),
        (ThermometerConfig(model="table", table=[[34.0, 36.6], [36.0, 37.2]]), 35.0, 22.0, 36.9),
    ],
    ids=["offset", "linear-warm-room", "linear-hot-room", "table"],
)
def test_each_model_through_measure(opened, config, skin, ambient, body):
    thermometer = opened(config, chip=quiet_chip(object_temp=skin, ambient=ambient))
    reading = thermometer.measure()
    assert reading.ok and reading.body == pytest.approx(body, abs=0.03)
    assert config.model in reading.reason


def test_bad_config_is_a_config_error():
    for config in (
        ThermometerConfig(model="table", table=[[35.0, 36.0]]),
        ThermometerConfig(samples=0),
        ThermometerConfig(emissivity=0.0),
        ThermometerConfig(min_skin=44.0),
        ThermometerConfig(address=0x80),
    ):
        with pytest.raises(ConfigError, match=r"\[thermometer\]"):
            open_thermometer(config)


def test_no_person_implausible_and_fever(opened):
    chip = quiet_chip(object_temp=24.0)
    thermometer = opened(chip=chip)
    reading = thermometer.measure()
    assert reading.status is Status.NO_PERSON and "move closer" in reading.reason
    assert reading.body is None and reading.skin == pytest.approx(24.0, abs=0.02)
    assert thermometer.health.state is State.OK  # not a failure
    chip.set_object(55.0)
    assert thermometer.measure().status is Status.IMPLAUSIBLE
    chip.set_object(36.8)
    reading = thermometer.measure()
    assert reading.ok and reading.body == pytest.approx(37.7, abs=0.02) and reading.fever()
    chip.set_object(36.3)
    assert not thermometer.measure().fever()
    assert thermometer.measure().as_dict()["status"] == "ok"


def test_person_steps_in_and_away(opened):
    clock = ManualClock()
    chip = quiet_chip(
        clock=clock, object_temp=person_visit(arrive=1.0, leave=3.0, skin=35.6, background=22.0)
    )
    thermometer = opened(chip=chip)
    seen = []
    for t in (0.0, 1.15, 1.5, 2.9, 3.5, 5.0):
        clock.t = t
        seen.append(thermometer.measure().status)
    assert seen == [
        Status.NO_PERSON,
        Status.NO_PERSON,
        Status.OK,
        Status.OK,
        Status.NO_PERSON,
        Status.NO_PERSON,
    ]


def test_ambient_drift_moves_the_linear_estimate(opened):
    clock = ManualClock()
    chip = quiet_chip(clock=clock, ambient=drift(20.0, 0.01), object_temp=35.5)
    thermometer = opened(ThermometerConfig(model="linear", linear=[1.0, -0.1, 3.0]), chip=chip)
    first = thermometer.measure()
    clock.t = 500.0  # the room is 5 °C warmer
    later = thermometer.measure()
    assert first.ambient == pytest.approx(20.0, abs=0.02) and later.ambient == pytest.approx(25.0, abs=0.02)
    assert first.body - later.body == pytest.approx(0.5, abs=0.03)
    assert thermometer.ambient() == pytest.approx(25.0, abs=0.02)


# --- faults ---------------------------------------------------------------------------------------


@MODES
def test_occasional_bad_pec_is_retried_and_degrades(opened, funcs):
    chip = Mlx90614Chip(object_temp=35.6, emissivity=0.98, seed=3)
    thermometer = opened(chip=chip, funcs=funcs, pec_window=1.5)
    chip.faults.bad_pec = 0.2
    readings = [thermometer.measure() for _ in range(4)]
    assert all(r.ok and r.skin == pytest.approx(35.6, abs=0.2) for r in readings)
    assert thermometer.stats["pec_errors"] > 0 and thermometer.stats["retries"] > 0
    assert thermometer.health.state is State.DEGRADED and "PEC" in thermometer.health.reason
    chip.faults.bad_pec = 0.0
    time.sleep(1.6)  # the errors age out of the window
    assert thermometer.measure().ok and thermometer.health.state is State.OK


@MODES
def test_permanent_bad_pec_is_an_error_then_recovers(opened, funcs):
    chip = quiet_chip(object_temp=35.6)
    thermometer = opened(chip=chip, funcs=funcs, pec_window=1.0)
    chip.faults.bad_pec = 1.0
    reading = thermometer.measure()
    assert reading.status is Status.SENSOR_ERROR and "PEC" in reading.reason and reading.skin is None
    assert thermometer.health.state is State.FAILED
    chip.faults.bad_pec = 0.0
    assert thermometer.measure().ok
    assert thermometer.health.state is State.DEGRADED  # recent PEC errors
    time.sleep(1.1)
    thermometer.measure()
    assert thermometer.health.state is State.OK


def test_missing_device_fails_and_recovers_by_itself(opened):
    chip = quiet_chip(object_temp=35.6)
    thermometer = opened(chip=chip, monitor=True, probe_interval=0.2)
    chip.disconnect()
    reading = thermometer.measure()
    assert reading.status is Status.SENSOR_ERROR
    health = thermometer.health
    assert health.state is State.FAILED and "121" in health.reason and "EREMOTEIO" in health.reason
    chip.connect()  # the chip answers again: the health monitor notices without anyone measuring
    deadline = time.monotonic() + 10
    while thermometer.health.state is not State.OK and time.monotonic() < deadline:
        time.sleep(0.05)
    assert thermometer.health.state is State.OK
    assert thermometer.measure().ok


def test_missing_device_at_open(opened):
    chip = quiet_chip(object_temp=35.6)
    chip.disconnect()
    thermometer = opened(chip=chip)
    assert thermometer.health.state is State.FAILED
    with pytest.raises(ThermometerError, match="EREMOTEIO"):
        thermometer.ambient()
    chip.connect()
    assert thermometer.measure().ok


def test_adapter_unplugged_and_replugged(opened):
    chip = quiet_chip(object_temp=35.6)
    thermometer = opened(chip=chip)
    adapter = thermometer.simulator
    adapter.unplug()
    reading = thermometer.measure()
    assert reading.status is Status.SENSOR_ERROR and "ENODEV" in reading.reason
    reading = thermometer.measure()  # reopen fails: the node is gone
    assert "does not exist" in reading.reason and thermometer.health.state is State.FAILED
    adapter.replug()
    assert thermometer.measure().ok and thermometer.health.state is State.OK


def test_address_claimed_by_a_kernel_driver(opened):
    chip = quiet_chip(object_temp=35.6)
    with SimI2cAdapter(1, [chip], busy_addresses={0x5A}) as adapter:
        thermometer = opened(adapter=adapter)
        assert thermometer.health.state is State.FAILED and "EBUSY" in thermometer.health.reason
        assert "kernel driver" in thermometer.measure().reason
        adapter.busy_addresses.clear()  # overlay removed
        assert thermometer.measure().ok
        thermometer.close()


def test_stuck_value_is_detected(opened):
    chip = Mlx90614Chip(object_temp=35.6, emissivity=0.98)  # with noise: a live sensor never repeats long
    thermometer = opened(chip=chip, stuck_reads=12, stuck_seconds=0.1, sample_interval=0.02)
    for _ in range(5):
        assert thermometer.measure().ok
    chip.faults.stuck = True
    statuses = [thermometer.measure() for _ in range(6)]
    assert statuses[0].ok  # the first frozen samples cannot be told from a steady reading
    assert statuses[-1].status is Status.SENSOR_ERROR and "frozen" in statuses[-1].reason
    assert thermometer.health.state is State.DEGRADED and "frozen" in thermometer.health.reason
    chip.faults.stuck = False
    assert thermometer.measure().ok and thermometer.health.state is State.OK


def test_real_backend_without_hardware(opened):
    thermometer = opened(ThermometerConfig(backend="real", bus=97))
    assert thermometer.health.state is State.FAILED and "/dev/i2c-97" in thermometer.health.reason
    reading = thermometer.measure()
    assert reading.status is Status.SENSOR_ERROR and "does not exist" in reading.reason
    with pytest.raises(ThermometerError):
        thermometer.ambient()


def test_selftest():
    status, detail = selftest(ThermometerConfig())
    assert status == "ok" and "ambient" in detail and "PEC" in detail
    status, detail = selftest(ThermometerConfig(backend="real", bus=97))
    assert status == "failed" and "/dev/i2c-97" in detail
    assert selftest(ThermometerConfig(samples=0))[0] == "failed"


# --- garbage from the kernel boundary -------------------------------------------------------------

ERRNOS = st.one_of(st.sampled_from(sorted(errno.errorcode)), st.integers(1, 4095))


def _valid_frame(word: tuple[int, int]) -> bytes:
    return bytes([word[0], word[1], read_word_pec(0x5A, 0x07, word[0], word[1])])


def _frame(data: bytes) -> bytes:
    return bytes(data[:3]).ljust(3, b"\xff")


@MODES
def test_random_wire_bytes_never_a_silent_wrong_temperature(opened, funcs):
    chip = quiet_chip(object_temp=35.6, ambient=22.0)
    thermometer = opened(
        ThermometerConfig(samples=3), chip=chip, funcs=funcs, sample_interval=0.0, stuck_reads=0
    )
    adapter = thermometer.simulator
    seen: Counter[Status] = Counter()

    @PROPERTY
    @given(
        st.one_of(
            st.binary(max_size=6),  # anything: short frames read as the idle bus (0xFF)
            st.tuples(st.integers(0, 255), st.integers(0, 255)).map(_valid_frame),  # any word, right PEC
            st.floats(20.0, 46.0).map(
                lambda t: _valid_frame(divmod(encode_kelvin(t), 256)[::-1])
            ),  # skin-ish
        )
    )
    def check(wire):
        adapter.intercept = lambda msgs: wire if msgs[0].data[:1] == b"\x07" else None
        reading = thermometer.measure()
        lsb, msb, pec = _frame(wire)
        word = lsb | msb << 8
        valid = pec == read_word_pec(0x5A, 0x07, lsb, msb) and not word & 0x8000
        valid = valid and TOBJ_RANGE[0] <= decode(word) <= TOBJ_RANGE[1]
        seen[reading.status] += 1
        if reading.skin is not None:
            assert valid and reading.skin == round(decode(word), 2)
        else:
            assert reading.status is Status.SENSOR_ERROR and not valid
        assert reading.body is None or reading.status is Status.OK

    try:
        check()
    finally:
        adapter.intercept = None
    assert seen[Status.OK] and seen[Status.SENSOR_ERROR] and seen[Status.NO_PERSON]
    assert thermometer.measure().ok


@PROPERTY
@given(ERRNOS, st.sampled_from([0x06, 0x07, None]))
def test_random_errno_values_are_errors_not_crashes(code, register):
    chip = quiet_chip(object_temp=35.6)
    thermometer = open_thermometer(
        ThermometerConfig(samples=3), chip=chip, monitor=False, sample_interval=0.0
    )
    adapter = thermometer.simulator
    try:
        assert thermometer.measure().ok
        adapter.intercept = lambda msgs: (
            code if register is None or msgs[0].data[:1] == bytes([register]) else None
        )
        reading = thermometer.measure()
        assert reading.status is Status.SENSOR_ERROR and reading.skin is None and reading.reason
        assert thermometer.health.state in (State.FAILED, State.DEGRADED)
        with pytest.raises(ThermometerError):
            thermometer.sample()
        adapter.intercept = None
        assert thermometer.measure().ok  # and it comes back
    finally:
        thermometer.close()


# --- timing, threads, closing ---------------------------------------------------------------------


def test_measure_never_spins_and_is_bounded(opened):
    thermometer = opened(
        ThermometerConfig(samples=21), chip=quiet_chip(object_temp=35.6), sample_interval=0.05
    )
    wall, cpu = time.monotonic(), time.process_time()
    reading = thermometer.measure()
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    print(f"measure of 21 samples: {wall:.3f} s wall, {cpu:.3f} s CPU")
    assert reading.ok and wall >= 0.9
    assert cpu < 0.4 * wall
    bounded = opened(
        ThermometerConfig(samples=100), chip=quiet_chip(object_temp=35.6), sample_interval=0.05, timeout=0.5
    )
    reading = bounded.measure()
    print(f"timeout 0.5 s with 100 samples asked: {reading.duration:.3f} s, {reading.samples} samples")
    assert reading.duration < 1.5 and reading.status is Status.SENSOR_ERROR and "timed out" in reading.reason


def test_idle_monitor_does_not_spin(opened):
    thermometer = opened(chip=quiet_chip(), monitor=True, probe_interval=0.2)
    cpu = time.process_time()
    time.sleep(1.5)
    used = time.process_time() - cpu
    print(f"idle 1.5 s with the health monitor probing every 0.2 s: {used:.4f} s CPU")
    assert used < 0.3
    assert thermometer.health.state is State.OK


def test_concurrent_measures_and_close(opened):
    thermometer = opened(chip=quiet_chip(object_temp=35.6), monitor=True, probe_interval=0.05)
    results = []
    threads = [threading.Thread(target=lambda: results.append(thermometer.measure())) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(results) == 3 and all(r.ok for r in results)
    started = time.monotonic()
    thermometer.close()
    assert time.monotonic() - started < 3.0
    assert not any(t.name == "thermometer-health" and t.is_alive() for t in threading.enumerate())
    assert thermometer.measure().reason == "thermometer is closed"
    assert not os.path.exists(thermometer.simulator.path)
