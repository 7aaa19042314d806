"""A simulated I2C adapter behind the real `smbus2.SMBus`: only the kernel boundary is replaced.

smbus2 0.6 talks to the kernel in exactly two ways (smbus2/smbus2.py):

* `SMBus.open()` does `os.open(path, os.O_RDWR)` on `/dev/i2c-N` (or any path given as a string),
  then `ioctl(fd, I2C_FUNCS, c_ulong)`;
* every transfer is `ioctl(fd, request, arg)`, where `ioctl` is the module global that
  `from fcntl import ioctl` bound in `smbus2.smbus2`: I2C_SLAVE / I2C_SLAVE_FORCE / I2C_PEC with an
  int, I2C_SMBUS with an `i2c_smbus_ioctl_data` struct (read_write u8, command u8, size u32, pointer to
  `union i2c_smbus_data`), I2C_RDWR with an `i2c_rdwr_ioctl_data` (pointer to `i2c_msg[]`, nmsgs u32).

The simulation keeps the open real: a `SimI2cAdapter` creates a regular file as its device node and the
driver passes that path to `SMBus`, so smbus2's own `os.open`/`os.close` run unchanged. For the ioctl,
`smbus2.smbus2.ioctl` is replaced (once, idempotently, only when a simulated adapter exists) by a
dispatcher: an fd whose (st_dev, st_ino) is a registered node goes to the adapter, every other fd to the
original `fcntl.ioctl`, so a real /dev/i2c-1 in the same process is unaffected. The adapter then does what
drivers/i2c/i2c-dev.c and i2c-core-smbus.c do: it decodes the struct bytes exactly as `copy_from_user`
would (native layout, pointers followed with ctypes like `copy_from_user`/`copy_to_user`), keeps a
per-open-file client (address, PEC flag) like `file->private_data`, turns SMBus calls into I2C messages
with `i2c_smbus_xfer_emulated`'s rules (PEC appended to writes, one extra byte read and checked on
reads, -EBADMSG on mismatch), and hands the messages to the simulated devices on the wires; a device
that does not acknowledge its address gives -EREMOTEIO as i2c-bcm2835 and i2c-designware do.

Per-open-file state is keyed by the file offset: a fresh `open()` starts at offset 0, and on first sight
the adapter moves the offset to a unique token with `lseek`. The offset belongs to the open file
description, exactly like the kernel's `i2c_client`, so a reopened fd number never inherits stale state.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import itertools
import os
import shutil
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import smbus2.smbus2 as _smbus2_impl

from .pec import crc8

# uapi/linux/i2c-dev.h
I2C_RETRIES = 0x0701
I2C_TIMEOUT = 0x0702
I2C_SLAVE = 0x0703
I2C_TENBIT = 0x0704
I2C_FUNCS = 0x0705
I2C_SLAVE_FORCE = 0x0706
I2C_RDWR = 0x0707
I2C_PEC = 0x0708
I2C_SMBUS = 0x0720
I2C_RDWR_IOCTL_MAX_MSGS = 42

# uapi/linux/i2c.h
I2C_M_RD = 0x0001
I2C_M_TEN = 0x0010
I2C_M_RECV_LEN = 0x0400
I2C_SMBUS_READ, I2C_SMBUS_WRITE = 1, 0
QUICK, BYTE, BYTE_DATA, WORD_DATA, PROC_CALL, BLOCK_DATA = 0, 1, 2, 3, 4, 5
I2C_BLOCK_BROKEN, BLOCK_PROC_CALL, I2C_BLOCK_DATA = 6, 7, 8
BLOCK_MAX = 32
UNION_SIZE = BLOCK_MAX + 2

# Functionality masks of the two controllers a Raspberry Pi has.
FUNC_I2C = 0x00000001
FUNC_SMBUS_PEC = 0x00000008
FUNC_SMBUS_EMUL = 0x0EFF0008
FUNCS_BCM2835 = FUNC_I2C | FUNC_SMBUS_EMUL  # Pi 0-4: i2c-bcm2835, SMBus emulated incl. PEC
# Pi 5 (RP1, i2c-designware): DW_IC_DEFAULT_FUNCTIONALITY = I2C | SMBUS_BYTE | BYTE_DATA | WORD_DATA |
# BLOCK_DATA | I2C_BLOCK, without I2C_FUNC_SMBUS_PEC
FUNCS_DESIGNWARE = FUNC_I2C | 0x00060000 | 0x00180000 | 0x00600000 | 0x03000000 | 0x0C000000

_SMBUS_IOCTL = struct.Struct("@BBIP")  # struct i2c_smbus_ioctl_data
_RDWR_IOCTL = struct.Struct("@PI")  # struct i2c_rdwr_ioctl_data
_I2C_MSG = struct.Struct("@HHHP")  # struct i2c_msg (natural alignment: pointer at offset 8 on 64-bit)


class Nack(Exception):
    """The addressed device did not acknowledge (the adapter reports -EREMOTEIO)."""


@dataclass(frozen=True, slots=True)
class Msg:
    """One I2C message of a transfer (START or repeated START, address byte, data)."""

    addr: int
    read: bool
    data: bytes = b""  # what the master writes
    length: int = 0  # how many bytes the master reads

    def address_byte(self) -> int:
        return ((self.addr << 1) | int(self.read)) & 0xFF


class I2cTarget(Protocol):
    """A simulated device on the wires."""

    def answers(self, addr: int) -> bool: ...

    def transfer(self, msgs: list[Msg]) -> list[bytes]:
        """Bytes for each read message, in order; raise `Nack` to not acknowledge."""
        ...


# A test hook at the wires: return None to let the devices answer, an errno to fail the ioctl with it,
# or bytes to be what the master clocks in for the read message (short replies read as 0xFF, the idle bus).
Intercept = Callable[[list[Msg]], "int | bytes | None"]


@dataclass(slots=True)
class _Client:
    addr: int = 0
    pec: bool = False
    tenbit: bool = False


# ---------------------------------------------------------------------------------------------------
# The ioctl dispatcher installed into smbus2.smbus2

_real_ioctl = fcntl.ioctl
_registry: dict[tuple[int, int], tuple[SimI2cAdapter, int]] = {}
_registry_lock = threading.Lock()


def _sim_ioctl(fd, request, arg=0, mutate_flag=True, /):  # noqa: ANN001 - fcntl.ioctl's signature
    if _registry:
        try:
            st = os.fstat(fd if isinstance(fd, int) else fd.fileno())
        except (OSError, AttributeError, TypeError, ValueError):
            st = None
        entry = _registry.get((st.st_dev, st.st_ino)) if st is not None else None
        if entry is not None:
            adapter, generation = entry
            return adapter._ioctl(fd, generation, request, arg, mutate_flag)
    return _real_ioctl(fd, request, arg, mutate_flag)


def _install() -> None:
    with _registry_lock:
        current = _smbus2_impl.ioctl
        if current is _sim_ioctl:
            return
        if current is not _real_ioctl:
            raise RuntimeError("smbus2.smbus2.ioctl was already replaced by something else")
        _smbus2_impl.ioctl = _sim_ioctl


def installed() -> bool:
    return _smbus2_impl.ioctl is _sim_ioctl


def _oserror(code: int) -> OSError:
    return OSError(code, os.strerror(code))


def _arg_bytes(arg) -> bytes:  # noqa: ANN001
    """The bytes the kernel would copy_from_user() at the ioctl's argument."""
    return memoryview(arg).tobytes()


# ---------------------------------------------------------------------------------------------------


class SimI2cAdapter:
    """A simulated /dev/i2c-N: a node file, the i2c-dev ioctl interface, SMBus emulation, the wires.

    `funcs` selects which controller it pretends to be (`FUNCS_BCM2835` advertises SMBus PEC,
    `FUNCS_DESIGNWARE` does not, so `SMBus.pec = 1` raises there). `bus_hz` makes each transfer take
    its time on the wires (None: instant). Faults: `unplug()` (node gone, open fds get ENODEV),
    `replug()`, `intercept` (see `Intercept`).
    """

    def __init__(
        self,
        number: int = 1,
        devices: list[I2cTarget] | None = None,
        *,
        funcs: int = FUNCS_BCM2835,
        bus_hz: float | None = 100_000.0,
        busy_addresses: set[int] | None = None,
    ):
        self.number = number
        self.funcs = funcs
        self.bus_hz = bus_hz
        self.devices: list[I2cTarget] = list(devices or [])
        self.busy_addresses = set(busy_addresses or ())  # addresses a kernel driver has claimed
        self.intercept: Intercept | None = None
        self.transfers = 0
        self._dir = tempfile.mkdtemp(prefix="sim-i2c-")
        self.path = os.path.join(self._dir, f"i2c-{number}")
        self._lock = threading.Lock()  # the bus: one transfer at a time, like i2c_lock_bus()
        self._clients: dict[int, _Client] = {}
        self._tokens = itertools.count(1)
        self._generation = 0
        self._closed = False
        _install()
        self._create_node()

    # --- the node ---------------------------------------------------------------------------------

    def _create_node(self) -> None:
        self._generation += 1
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            st = os.fstat(fd)
        finally:
            os.close(fd)
        with _registry_lock:
            _registry[(st.st_dev, st.st_ino)] = (self, self._generation)

    def unplug(self) -> None:
        """The adapter disappears: new opens fail with ENOENT, open fds get ENODEV on every ioctl."""
        with self._lock:
            if os.path.exists(self.path):
                os.unlink(self.path)
            self._generation += 1  # fds opened before now belong to a dead generation

    def replug(self) -> None:
        with self._lock:
            if not os.path.exists(self.path):
                self._create_node()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with _registry_lock:
            for key in [k for k, (a, _) in _registry.items() if a is self]:
                del _registry[key]
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> SimI2cAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def device(self, addr: int) -> I2cTarget | None:
        return next((d for d in self.devices if d.answers(addr)), None)

    # --- i2c-dev ioctl ----------------------------------------------------------------------------

    def _client(self, fd: int) -> _Client:
        pos = os.lseek(fd, 0, os.SEEK_CUR)
        client = self._clients.get(pos)
        if client is None:  # a fresh open(): i2cdev_open() allocates a client with address 0
            token = next(self._tokens)
            os.lseek(fd, token, os.SEEK_SET)
            client = self._clients[token] = _Client()
        return client

    def _ioctl(self, fd, generation: int, request: int, arg, mutate_flag: bool):  # noqa: ANN001
        if generation != self._generation or self._closed:
            raise _oserror(errno.ENODEV)  # i2cdev_ioctl(): the adapter went away
        fd = fd if isinstance(fd, int) else fd.fileno()
        client = self._client(fd)
        if request in (I2C_SLAVE, I2C_SLAVE_FORCE):
            if not isinstance(arg, int):
                raise _oserror(errno.EINVAL)
            if arg > 0x3FF or (not client.tenbit and arg > 0x7F) or arg < 0:
                raise _oserror(errno.EINVAL)
            if request == I2C_SLAVE and arg in self.busy_addresses:
                raise _oserror(errno.EBUSY)
            client.addr = arg
            return 0
        if request == I2C_TENBIT:
            client.tenbit = bool(arg)
            return 0
        if request == I2C_PEC:
            client.pec = bool(arg)  # the kernel accepts this whatever the adapter can do
            return 0
        if request in (I2C_RETRIES, I2C_TIMEOUT):
            return 0
        if request == I2C_FUNCS:
            if isinstance(arg, int):
                raise _oserror(errno.EFAULT)  # put_user() to a bad address
            size = ctypes.sizeof(ctypes.c_ulong)
            out = self.funcs.to_bytes(size, sys.byteorder)
            return self._copy_back(arg, out, mutate_flag)
        if request == I2C_SMBUS:
            if isinstance(arg, int):
                raise _oserror(errno.EFAULT)
            self._smbus(client, _arg_bytes(arg))
            return 0 if self._mutable(arg, mutate_flag) else _arg_bytes(arg)
        if request == I2C_RDWR:
            if isinstance(arg, int):
                raise _oserror(errno.EFAULT)
            count = self._rdwr(client, _arg_bytes(arg))
            return count if self._mutable(arg, mutate_flag) else _arg_bytes(arg)
        raise _oserror(errno.ENOTTY)

    @staticmethod
    def _mutable(arg, mutate_flag: bool) -> bool:  # noqa: ANN001
        return mutate_flag and not memoryview(arg).readonly

    def _copy_back(self, arg, out: bytes, mutate_flag: bool):  # noqa: ANN001
        """fcntl.ioctl semantics: a mutable buffer is written in place and 0 returned, otherwise a copy."""
        view = memoryview(arg)
        if view.nbytes < len(out):
            raise _oserror(errno.EFAULT)
        if self._mutable(arg, mutate_flag):
            (ctypes.c_char * view.nbytes).from_buffer(arg)[: len(out)] = out
            return 0
        return out + view.tobytes()[len(out) :]

    # --- I2C_SMBUS: i2cdev_ioctl_smbus() + i2c_smbus_xfer_emulated() -------------------------------

    def _smbus(self, client: _Client, raw: bytes) -> None:
        if len(raw) < _SMBUS_IOCTL.size:
            raise _oserror(errno.EFAULT)
        read_write, command, size, data_ptr = _SMBUS_IOCTL.unpack_from(raw)
        if size not in (
            QUICK,
            BYTE,
            BYTE_DATA,
            WORD_DATA,
            PROC_CALL,
            BLOCK_DATA,
            I2C_BLOCK_BROKEN,
            BLOCK_PROC_CALL,
            I2C_BLOCK_DATA,
        ):
            raise _oserror(errno.EINVAL)
        if read_write not in (I2C_SMBUS_READ, I2C_SMBUS_WRITE):
            raise _oserror(errno.EINVAL)
        if size == QUICK or (size == BYTE and read_write == I2C_SMBUS_WRITE):
            self._emulate(client, read_write, command, size, bytearray(UNION_SIZE))
            return
        if not data_ptr:
            raise _oserror(errno.EINVAL)
        datasize = 1 if size in (BYTE, BYTE_DATA) else 2 if size in (WORD_DATA, PROC_CALL) else UNION_SIZE
        temp = bytearray(UNION_SIZE)
        if size in (PROC_CALL, BLOCK_PROC_CALL, I2C_BLOCK_DATA) or read_write == I2C_SMBUS_WRITE:
            temp[:datasize] = ctypes.string_at(data_ptr, datasize)  # copy_from_user
        if size == I2C_BLOCK_BROKEN:
            size = I2C_BLOCK_DATA
            if read_write == I2C_SMBUS_READ:
                temp[0] = BLOCK_MAX
        self._emulate(client, read_write, command, size, temp)
        if size in (PROC_CALL, BLOCK_PROC_CALL) or read_write == I2C_SMBUS_READ:
            ctypes.memmove(data_ptr, bytes(temp[:datasize]), datasize)  # copy_to_user

    def _emulate(self, client: _Client, read_write: int, command: int, size: int, data: bytearray) -> None:
        addr = client.addr
        w = bytearray([command])
        read_len = 0
        num = 2 if read_write == I2C_SMBUS_READ else 1
        first_is_read = False
        if size == QUICK:
            w = bytearray()
            num, first_is_read = 1, read_write == I2C_SMBUS_READ
        elif size == BYTE:
            if read_write == I2C_SMBUS_READ:
                num, first_is_read, read_len = 1, True, 1
        elif size == BYTE_DATA:
            if read_write == I2C_SMBUS_READ:
                read_len = 1
            else:
                w.append(data[0])
        elif size == WORD_DATA:
            if read_write == I2C_SMBUS_READ:
                read_len = 2
            else:
                w += bytes((data[0], data[1]))
        elif size == PROC_CALL:
            num, read_write, read_len = 2, I2C_SMBUS_READ, 2
            w += bytes((data[0], data[1]))
        elif size == BLOCK_DATA:
            if read_write == I2C_SMBUS_READ:
                raise _oserror(errno.EOPNOTSUPP)  # I2C_M_RECV_LEN: neither Pi controller does it
            if data[0] > BLOCK_MAX:
                raise _oserror(errno.EINVAL)
            w += bytes(data[: data[0] + 1])
        elif size == BLOCK_PROC_CALL:
            raise _oserror(errno.EOPNOTSUPP)
        elif size == I2C_BLOCK_DATA:
            if data[0] > BLOCK_MAX:
                raise _oserror(errno.EINVAL)
            if read_write == I2C_SMBUS_READ:
                read_len = data[0]
            else:
                w += bytes(data[1 : data[0] + 1])
        use_pec = client.pec and size not in (QUICK, I2C_BLOCK_DATA)
        partial = 0
        if use_pec and not first_is_read:
            if num == 1:
                w.append(crc8(bytes([(addr << 1) & 0xFF]) + bytes(w)))
            else:
                partial = crc8(bytes([(addr << 1) & 0xFF]) + bytes(w))
        if use_pec and (num == 2 or first_is_read):
            read_len += 1
        if first_is_read:
            msgs = [Msg(addr, True, length=read_len)]
        elif num == 1:
            msgs = [Msg(addr, False, bytes(w))]
        else:
            msgs = [Msg(addr, False, bytes(w)), Msg(addr, True, length=read_len)]
        replies = self.transfer(msgs)
        reply = replies[-1] if msgs[-1].read else b""
        if use_pec and msgs[-1].read:
            received = crc8(bytes([msgs[-1].address_byte()]) + reply[:-1], partial)
            if received != reply[-1]:
                raise _oserror(errno.EBADMSG)  # i2c_smbus_check_pec()
        if read_write == I2C_SMBUS_READ:
            if size in (BYTE, BYTE_DATA):
                data[0] = reply[0]
            elif size in (WORD_DATA, PROC_CALL):
                data[0], data[1] = reply[0], reply[1]
            elif size == I2C_BLOCK_DATA:
                data[1 : 1 + data[0]] = reply[: data[0]]

    # --- I2C_RDWR: i2cdev_ioctl_rdwr() -------------------------------------------------------------

    def _rdwr(self, client: _Client, raw: bytes) -> int:
        if len(raw) < _RDWR_IOCTL.size:
            raise _oserror(errno.EFAULT)
        msgs_ptr, nmsgs = _RDWR_IOCTL.unpack_from(raw)
        if nmsgs > I2C_RDWR_IOCTL_MAX_MSGS:
            raise _oserror(errno.EINVAL)
        if nmsgs and not msgs_ptr:
            raise _oserror(errno.EFAULT)
        table = ctypes.string_at(msgs_ptr, _I2C_MSG.size * nmsgs) if nmsgs else b""
        msgs: list[Msg] = []
        bufs: list[tuple[int, int]] = []
        for i in range(nmsgs):
            addr, flags, length, buf_ptr = _I2C_MSG.unpack_from(table, i * _I2C_MSG.size)
            if length > 8192 or flags & I2C_M_RECV_LEN:
                raise _oserror(errno.EINVAL)
            if length and not buf_ptr:
                raise _oserror(errno.EFAULT)
            if flags & I2C_M_RD:
                msgs.append(Msg(addr, True, length=length))
            else:
                msgs.append(Msg(addr, False, ctypes.string_at(buf_ptr, length) if length else b""))
            bufs.append((buf_ptr, length))
        replies = iter(self.transfer(msgs))
        for msg, (buf_ptr, length) in zip(msgs, bufs, strict=True):
            if msg.read:
                reply = next(replies)
                if length:
                    ctypes.memmove(buf_ptr, reply[:length], length)  # copy_to_user
        return nmsgs

    # --- the wires ---------------------------------------------------------------------------------

    def transfer(self, msgs: list[Msg]) -> list[bytes]:
        """One combined transaction (repeated STARTs, one STOP): the read messages' bytes, or OSError."""
        with self._lock:
            self.transfers += 1
            if self.bus_hz:
                bits = 2 + sum(9 * (1 + (m.length if m.read else len(m.data))) + 1 for m in msgs)
                time.sleep(bits / self.bus_hz)
            hook = self.intercept
            if hook is not None:
                verdict = hook(msgs)
                if isinstance(verdict, int) and not isinstance(verdict, bool):
                    raise _oserror(verdict)
                if isinstance(verdict, bytes | bytearray):
                    return [self._fit(verdict if m is msgs[-1] else b"", m.length) for m in msgs if m.read]
            replies: list[bytes] = []
            start = 0
            while start < len(msgs):  # consecutive messages to one address go to that device together
                end = start + 1
                while end < len(msgs) and msgs[end].addr == msgs[start].addr:
                    end += 1
                group = msgs[start:end]
                device = self.device(group[0].addr)
                if device is None:
                    raise _oserror(errno.EREMOTEIO)  # address not acknowledged
                try:
                    answer = device.transfer(group)
                except Nack:
                    raise _oserror(errno.EREMOTEIO) from None
                reads = [m for m in group if m.read]
                replies += [self._fit(a, m.length) for a, m in zip(answer, reads, strict=False)]
                replies += [b"\xff" * m.length for m in reads[len(answer) :]]
                start = end
            return replies

    @staticmethod
    def _fit(data: bytes, length: int) -> bytes:
        return bytes(data[:length]).ljust(length, b"\xff")  # the bus idles high: missing bytes read 0xFF
