"""`kiosk run`: the checkpoint assembled from a data directory, a policy and the device configuration.

Headless, it prints one JSON line per decision and per actuator action; with `--scenario` it plays a
scenario file into the simulated devices and exits when the last visit has been decided.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from drivers.config import DevicesConfig
from kiosk import sdnotify
from kiosk.app.hardware import Hardware, NoActuators, open_hardware
from kiosk.app.hubsync import HubSync
from kiosk.app.loop import Checkpoint, Outcome
from kiosk.app.retention import Retention
from kiosk.app.scenario import Player, Step
from kiosk.codes import KeyRing
from kiosk.policy.dcc_rules import rules_check
from kiosk.policy.policy import Policy
from kiosk.sound import KioskSound
from kiosk.sound import Player as SoundPlayer
from kiosk.store.model import Registration
from kiosk.store.registrations import RegistrationStore
from kiosk.trust.status_list import StatusList, StatusListHandle
from kiosk.trust.store import TrustStore

# which trust list vouches for each kind of decision
SOURCES_FOR = {
    "phic": ("phic-bundle",),
    "dcc": ("dsc-list",),
    "shc": ("vci-snapshot", "jwks:"),
    "status-list": ("status-list",),
}


def device_id(data_dir: Path) -> str:
    """This kiosk's id, made once per data directory (provisioning may set it)."""
    path = data_dir / "device-id"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = f"kiosk-{secrets.token_hex(4)}"
    path.write_text(value + "\n")
    return value


class TrustView:
    """Key ring and freshness of the trust store for a long-running checkpoint.

    Loaded at start and again whenever the trust store changed on disk (a `kiosk trust import`, a
    provisioning or the sync client), checked at most every `recheck` seconds; the status list is
    re-opened the same way by its handle. A reload builds the new ring aside and swaps one reference,
    so a decision in progress keeps the ring it started with.
    """

    def __init__(self, data_dir: Path, recheck: float = 1.0):
        self.data_dir = Path(data_dir)
        self.recheck = recheck
        self._list = StatusListHandle(self.data_dir, recheck)
        self._checked = -float("inf")
        self._ident: tuple | None = None
        self._lock = threading.Lock()
        self.reload()

    def _store_ident(self) -> tuple:
        ident = []
        for suffix in ("", "-wal"):
            try:
                st = os.stat(f"{self.data_dir / 'trust.sqlite'}{suffix}")
                ident.append((st.st_ino, st.st_mtime_ns, st.st_size))
            except FileNotFoundError:
                ident.append(None)
        return tuple(ident)

    def reload(self) -> None:
        """Read the trust store now (the sync client calls this after an import)."""
        with self._lock:
            ident = self._store_ident()
            with TrustStore(self.data_dir) as store:
                ring = store.keyring()
                sources = store.status()
            ring.phic_revoked = self._list.is_revoked if self._list.current() is not None else None
            self.ring, self.sources, self._ident = ring, sources, ident
            self._checked = time.monotonic()

    def _fresh(self) -> None:
        now = time.monotonic()
        if now - self._checked < self.recheck:
            return
        self._checked = now
        had_list = self.ring.phic_revoked is not None
        if self._store_ident() != self._ident or (self._list.current() is not None) != had_list:
            self.reload()

    @property
    def status_list(self) -> StatusList | None:
        return self._list.current()

    def keyring(self) -> KeyRing:
        self._fresh()
        return self.ring

    def age_hours(self, now: float, fmt: str | None) -> float | None:
        self._fresh()
        prefixes = SOURCES_FOR.get(fmt or "", ())
        signed = [s.signed_at for s in self.sources if s.name.startswith(prefixes)] if prefixes else []
        status_list = self.status_list
        if fmt == "status-list" and status_list is not None:
            signed.append(status_list.info.issued_at)
        return (now - max(signed)) / 3600 if signed else None

    def newest_signed_time(self) -> float:
        self._fresh()
        times = [s.signed_at for s in self.sources]
        status_list = self.status_list
        if status_list is not None:
            times.append(status_list.info.issued_at)
        return max(times, default=0.0)

    def status_fresh(self, now: float, policy: Policy) -> bool:
        status_list = self.status_list
        info = status_list.info if status_list is not None else None
        return (
            info is not None
            and now <= info.valid_until
            and (now - info.issued_at) / 3600 <= policy.trust_max_age_hours
        )

    def status_lookup(self, id_number: str) -> str | None:
        return self._list.lookup_id(id_number)


def make_record(store: RegistrationStore) -> Callable:
    def record(outcome: Outcome, visit) -> int:
        v, card = outcome.verification, visit.card
        return store.append(
            Registration(
                ts=outcome.at,
                method=outcome.decision.method,
                decision=outcome.decision.decision,
                reasons=tuple(outcome.decision.reasons),
                format=str(v.format) if v else None,
                issuer=v.issuer if v else None,
                code_id_hash=store.hash_code_id(v.code_id) if v and v.code_id else None,
                id_number_hash=store.hash_id_number(card.id_number) if card else None,
                masked_name=outcome.masked_name,
                masked_id=outcome.masked_id,
                colour=v.colour if v else None,
                temperature=outcome.temperature,
            )
        )

    return record


def _nudging(record: Callable, sync: HubSync) -> Callable:
    def record_and_nudge(outcome: Outcome, visit) -> int:
        seq = record(outcome, visit)
        sync.nudge()
        return seq

    return record_and_nudge


def build(
    data_dir: Path,
    policy: Policy,
    hw: Hardware,
    emit: Callable[[dict], None],
    clock: Callable[[], float] = time.time,
) -> tuple[Checkpoint, RegistrationStore]:
    trust = TrustView(data_dir)
    store = RegistrationStore(data_dir, device_id(data_dir), tz=policy.timezone)
    checkpoint = Checkpoint(
        policy=policy,
        keyring=trust.keyring,
        record=make_record(store),
        actuators=hw.gpio if hw.gpio is not None else NoActuators(),
        thermometer=hw.thermometer,
        status_lookup=trust.status_lookup,
        status_fresh=lambda now: trust.status_fresh(now, checkpoint.policy),  # the hub may swap the policy
        trust_age_hours=trust.age_hours,
        newest_signed_time=trust.newest_signed_time,
        rules=rules_check(policy, clock),
        clock=clock,
        on_outcome=lambda outcome: emit(outcome.as_dict()),
        on_action=emit,
    )
    player = SoundPlayer.open(data_dir / "sounds", volume=policy.sound_volume, muted=policy.sound_muted)
    checkpoint.trust = trust  # the window's status strip reads freshness from it
    checkpoint.sync = HubSync.start_if_enrolled(data_dir, store, checkpoint, trust, clock)
    if checkpoint.sync is not None:
        checkpoint.services.append(checkpoint.sync)
        checkpoint.clock_offset = checkpoint.sync.clock_offset
        checkpoint.record = _nudging(checkpoint.record, checkpoint.sync)
    checkpoint.sound = KioskSound(player, language="zh+en").attach(checkpoint)  # "log" backend in simulation
    checkpoint.services.append(Retention(store, lambda: checkpoint.policy, emit, clock).start())
    checkpoint.services.append(player)  # last: the sync and retention threads stop first
    return checkpoint, store


def run_scenario(
    data_dir: Path,
    policy: Policy,
    devices: DevicesConfig,
    steps: list[Step] | None,
    emit: Callable[[dict], None] | None = None,
    clock: Callable[[], float] = time.time,
) -> int:
    """Run the checkpoint; with `steps`, play them and return once the last visit is decided."""
    from kiosk.app.alarms import AlarmBoard

    emit = emit or print_json
    hw = open_hardware(devices)
    checkpoint, store = build(data_dir, policy, hw, emit, clock)
    alarms = AlarmBoard(  # door held open or forced, failed devices: the buzzer and a JSON line
        hw.gpio,
        clock=clock,
        on_alarm=lambda a: emit({"type": "alarm", "kind": a.kind, "device": a.device, "detail": a.detail}),
    )

    def sink(event) -> None:
        alarms.on_event(event)
        checkpoint.post(event)

    stop = threading.Event()
    player = Player(
        hw, steps or [], thermometer_offset=devices.thermometer.offset if devices.thermometer else 0.9
    )
    try:
        hw.start(sink)
        if hw.gpio is not None:
            hw.gpio.show(None)
        wait_ready(hw)
        sdnotify.ready()
        if steps is not None:
            threading.Thread(target=player.play, args=(stop,), name="scenario", daemon=True).start()
        quiet_since = None
        health_checked = 0.0
        while True:
            checkpoint.step()
            sdnotify.watchdog()
            if time.monotonic() - health_checked >= 1.0:
                health_checked = time.monotonic()
                alarms.update_health(hw.health())
            if steps is None:
                continue
            if player.done.is_set() and checkpoint.idle():
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > 2.5:  # nothing more arrives from the devices
                    break
            else:
                quiet_since = None
    except KeyboardInterrupt:
        pass
    finally:
        sdnotify.stopping()
        stop.set()
        checkpoint.close()
        hw.close()
        store.close()
    for error in player.errors:
        print(f"kiosk: scenario {error}", file=sys.stderr)
    return 1 if player.errors else 0


def wait_ready(hw: Hardware, timeout: float = 5.0) -> None:
    """Give simulated input devices a moment to open their ports before the first event is played."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = [str(h.state) for h in hw.health().values()]
        if all(s == "ok" for s in states):
            return
        time.sleep(0.05)


def print_json(obj: dict) -> None:
    print(json.dumps(obj, ensure_ascii=False), flush=True)
