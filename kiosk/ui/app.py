"""The checkpoint with its window: the loop on its own thread, the screen refreshed by a Qt timer.

    loop thread:  Checkpoint.step() forever (devices post events; the thermometer measures in a worker)
    UI thread:    every 50 ms  screen.render(checkpoint.view, status)   (a LoopState is replaced, never
                  mutated, so reading `checkpoint.view` from here always sees a whole state)

Neither thread waits on the other: the UI only reads `checkpoint.view` and device health; the loop never
touches a widget. `run_with_window` mirrors `kiosk.app.run.run_scenario` (same building blocks, same
exit rule: the scenario played and the loop idle for 2.5 s), and also ends when the window is closed.
Hardware and store are always closed. The guard console (kiosk/ui/guard.py) opens on F12 or a long
press on the status strip; the technician screens (kiosk/ui/technician.py) on Shift+F12 or from the guard
console's PIN page. A second, slower timer shows the camera's latest frame in the idle page's aiming frame
(downscaled, about 7 per second, only while the traveller screen is idle). Door and device alarms
(kiosk/ui/alarms.py) reach the guard console through a tee on the devices' event sink.
"""

from __future__ import annotations

import datetime as dt
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import QEvent, QEventLoop, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication, QMainWindow, QStackedWidget, QWidget

from kiosk import sdnotify
from kiosk.app.alarms import AlarmBoard
from kiosk.app.loop import Checkpoint
from kiosk.policy.policy import Policy
from kiosk.ui.guard import GuardActions, GuardConsole
from kiosk.ui.sources import EventLog, SyncStateCache
from kiosk.ui.technician import TechnicianDeps, TechnicianScreen
from kiosk.ui.traveller import Freshness, StatusInfo, TravellerScreen

TICK_MS = 50
FRAME_MS = 140  # camera preview: about 7 frames a second
PREVIEW_WIDTH = 320  # frames are downscaled (by striding) to about this width before conversion
STALE_FRAME_SECONDS = 2.0
LONG_PRESS_MS = 2000
QUIET_SECONDS = 2.5  # as run_scenario: nothing more arrives from the devices
HEARTBEAT_SECONDS = 5.0  # the loop thread must have stepped this recently for a watchdog ping
KEY_FORMATS = ("phic", "dcc", "shc")


# --- the status strip, from the trust view, the clock rule and device health ---


def freshness(age_hours: float | None, policy: Policy) -> Freshness:
    if age_hours is None:
        return "missing"
    if age_hours > policy.trust_max_age_hours:
        return "stale"
    if age_hours > policy.trust_warn_age_hours:
        return "warning"
    return "ok"


_RANK = {"ok": 0, "warning": 1, "stale": 2}


def status_info(
    trust: Any,
    policy: Policy,
    now: float,
    health: dict[str, Any] | None = None,
    *,
    online: bool = False,
    last_sync: dt.datetime | None = None,
    sync_blocked: bool = False,
    clock_ok: bool | None = None,
) -> StatusInfo:
    """What the status strip shows.

    `trust` is a kiosk.app.run.TrustView (age_hours, newest_signed_time, status_list). Keys: the worst
    freshness among the accepted formats that have a trust list (missing when none has one). List: the
    status list's age, stale once past its own valid_until. Clock: the decision rule's (`clock.untrusted`):
    `clock_ok` from `Checkpoint.clock_trusted` (which also weighs the hub's clock), else worked out here.
    Faults: devices whose health is not ok.
    """
    levels = [freshness(trust.age_hours(now, fmt), policy) for fmt in policy.formats if fmt in KEY_FORMATS]
    present = [level for level in levels if level != "missing"]
    keys: Freshness = max(present, key=_RANK.__getitem__) if present else "missing"
    status_list: Freshness = freshness(trust.age_hours(now, "status-list"), policy)
    info = getattr(getattr(trust, "status_list", None), "info", None)
    if info is not None and now > info.valid_until:
        status_list = "stale"
    faults = tuple(name for name, h in (health or {}).items() if str(getattr(h, "state", h)) != "ok")
    return StatusInfo(
        site=policy.site,
        now=dt.datetime.fromtimestamp(now, ZoneInfo(policy.timezone)),
        online=online,
        last_sync=last_sync,
        sync_blocked=sync_blocked,
        keys=keys,
        status_list=status_list,
        clock_ok=clock_ok
        if clock_ok is not None
        else now + policy.clock_skew_seconds >= trust.newest_signed_time(),
        faults=faults,
    )


# --- the loop thread ---


class LoopThread:
    """Runs `checkpoint.step()` on its own thread until stopped; `heartbeat` is the last step's time."""

    def __init__(self, checkpoint: Checkpoint):
        self.checkpoint = checkpoint
        self.stop_event = threading.Event()
        self.heartbeat = time.monotonic()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="checkpoint", daemon=True)

    def start(self) -> LoopThread:
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            while not self.stop_event.is_set():
                self.checkpoint.step()
                self.heartbeat = time.monotonic()
        except BaseException as exc:  # reported by the window (it quits), never swallowed silently
            self.error = exc
            print(f"kiosk: checkpoint loop failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        finally:
            self.checkpoint.close()

    def alive(self) -> bool:
        return self.thread.is_alive() and time.monotonic() - self.heartbeat < HEARTBEAT_SECONDS

    def stop(self, timeout: float = 2.0) -> None:
        self.stop_event.set()
        if self.thread.is_alive() and threading.current_thread() is not self.thread:
            self.thread.join(timeout)


# --- the window ---


class _LongPress(QObject):
    """Calls `fire` when the watched widget is pressed (mouse or touch) for `ms` without release."""

    def __init__(self, widget: QWidget, fire: Callable[[], None], ms: int = LONG_PRESS_MS):
        super().__init__(widget)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(ms)
        self.timer.timeout.connect(fire)
        widget.installEventFilter(self)
        for child in widget.findChildren(QWidget):
            child.installEventFilter(self)
        widget.setAttribute(Qt.WidgetAttribute.WA_AcceptTouchEvents, True)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        kind = event.type()
        if kind in (QEvent.Type.MouseButtonPress, QEvent.Type.TouchBegin):
            self.timer.start()
        elif kind in (QEvent.Type.MouseButtonRelease, QEvent.Type.TouchEnd, QEvent.Type.TouchCancel):
            self.timer.stop()
        return False


class KioskWindow(QMainWindow):
    """The traveller screen (and, behind PINs, the guard console and the technician screens), refreshed
    from the checkpoint.

    `status` is called on every tick and must be cheap and non-blocking (see `status_info`).
    `finished` (optional) is polled each tick: when it returns True the window closes. `closing` is
    emitted once when the window closes, for whatever reason. `frame_source` (optional) returns the
    camera's latest frame (or None) without waiting; `alarms` and `health` feed the guard console's
    alarm banner.
    """

    closing = Signal()

    def __init__(
        self,
        checkpoint: Checkpoint,
        status: Callable[[], StatusInfo],
        *,
        guard: GuardConsole | None = None,
        technician: TechnicianScreen | None = None,
        finished: Callable[[], bool] | None = None,
        language: str = "zh",
        tick_ms: int = TICK_MS,
        frame_source: Callable[[], Any] | None = None,
        frame_ms: int = FRAME_MS,
        alarms: AlarmBoard | None = None,
        health: Callable[[], dict] | None = None,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.checkpoint = checkpoint
        self.status = status
        self.finished = finished
        self.frame_source = frame_source
        self.alarms = alarms
        self.health = health
        self.ticks = 0
        self.frames = 0
        self.render_errors = 0
        self._closed = False
        self._last_frame: Any = None
        self.setWindowTitle("Health-code checkpoint")
        self.screen_ = TravellerScreen(language)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.screen_)
        self.guard = guard
        if guard is not None:
            self.stack.addWidget(guard)
            guard.closed.connect(self.show_traveller)
            guard.technician_requested.connect(self.show_technician)
        self.technician = technician
        if technician is not None:
            self.stack.addWidget(technician)
            technician.closed.connect(self.show_traveller)
        self.setCentralWidget(self.stack)
        self.long_press = _LongPress(self.screen_.strip, self.show_guard)
        self.timer = QTimer(self)
        self.timer.setInterval(tick_ms)
        self.timer.timeout.connect(self.tick)
        self.timer.start()
        self.frame_timer = QTimer(self)
        self.frame_timer.setInterval(frame_ms)
        self.frame_timer.timeout.connect(self.show_frame)
        if frame_source is not None:
            self.frame_timer.start()
        self.tick(check_finished=False)

    @property
    def traveller(self) -> TravellerScreen:
        return self.screen_

    def tick(self, check_finished: bool = True) -> None:
        self.ticks += 1
        try:
            self.screen_.render(self.checkpoint.view, self.status())
        except Exception as exc:  # a bad status must not stop the screen: show the state without it
            self.render_errors += 1
            if self.render_errors == 1:
                print(f"kiosk: screen: {type(exc).__name__}: {exc}", file=sys.stderr)
            self.screen_.render(self.checkpoint.view)
        if self.alarms is not None:
            try:
                if self.health is not None:
                    self.alarms.update_health(self.health())
                if self.guard is not None:
                    self.guard.show_alarms(self.alarms.alarms())
            except Exception as exc:
                self.render_errors += 1
                if self.render_errors == 1:
                    print(f"kiosk: alarms: {type(exc).__name__}: {exc}", file=sys.stderr)
        if check_finished and self.finished is not None and self.finished():
            self.close()

    def show_frame(self) -> None:
        """The camera's latest frame into the idle page's preview (only while it is on screen)."""
        screen = self.screen_
        if self.frame_source is None or self.stack.currentWidget() is not screen:
            return
        if screen.pages.currentWidget() is not screen.idle:
            return
        try:
            frame = self.frame_source()
        except Exception:
            frame = None
        if frame is self._last_frame:
            return
        self._last_frame = frame
        if frame is not None and hasattr(frame, "shape") and len(frame.shape) >= 2:
            step = max(1, int(frame.shape[1]) // PREVIEW_WIDTH)
            frame = frame[::step, ::step]
        try:
            screen.set_frame(frame)
            self.frames += frame is not None
        except Exception:  # an odd frame (wrong shape or type) is skipped, not fatal
            screen.set_frame(None)

    def _show(self, widget: QWidget | None) -> None:
        if widget is None:
            return
        for other in (self.guard, self.technician):
            if other is not None and other is not widget:
                other.lock()
        if self.stack.currentWidget() is not widget:
            widget.lock()  # type: ignore[attr-defined]
            self.stack.setCurrentWidget(widget)
            widget.pin_edit.setFocus()  # type: ignore[attr-defined]

    def show_guard(self) -> None:
        self._show(self.guard)

    def show_technician(self) -> None:
        self._show(self.technician)

    def show_traveller(self) -> None:
        for other in (self.guard, self.technician):
            if other is not None:
                other.lock()
        self.stack.setCurrentWidget(self.screen_)

    def toggle_guard(self) -> None:
        if self.guard is not None and self.stack.currentWidget() is self.guard:
            self.show_traveller()
        else:
            self.show_guard()

    def toggle_technician(self) -> None:
        if self.technician is not None and self.stack.currentWidget() is self.technician:
            self.show_traveller()
        else:
            self.show_technician()

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        if event.key() == Qt.Key.Key_F12:  # reaches here from any child that does not take F12
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self.toggle_technician()
            else:
                self.toggle_guard()
            event.accept()
            return
        super().keyPressEvent(event)

    def closeEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        self.timer.stop()
        self.frame_timer.stop()
        if not self._closed:
            self._closed = True
            self.closing.emit()
        super().closeEvent(event)


def camera_frames(camera: Any) -> Callable[[], Any] | None:
    """The preview's frame source for a CameraScanner: its latest frame, None once older than 2 s."""
    latest = getattr(camera, "latest_frame", None)
    if latest is None:
        return None
    age = getattr(camera, "latest_frame_age", None)

    def frame() -> Any:
        if age is not None:
            seconds = age()
            if seconds is None or seconds > STALE_FRAME_SECONDS:
                return None
        return latest()

    return frame


def sync_status(cache: SyncStateCache, tz: str) -> tuple[bool, dt.datetime | None, bool]:
    """(online, last successful sync, blocked) for the status strip, from DATA_DIR/sync-state.json."""
    state = cache.get()
    last = dt.datetime.fromtimestamp(state.last_success, ZoneInfo(tz)) if state.last_success else None
    return state.online, last, state.blocked


# --- kiosk run / kiosk demo with the window ---


def qt_available() -> bool:
    """Whether a window can be shown: a display (X11/Wayland), or an explicit QT_QPA_PLATFORM."""
    import os

    return bool(
        os.environ.get("QT_QPA_PLATFORM") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


def run_with_window(
    data_dir: Path,
    policy: Policy,
    devices: Any,
    steps: list | None,
    emit: Callable[[dict], None] | None = None,
    clock: Callable[[], float] = time.time,
    *,
    guard_pin_hash: str | None = None,
    technician_pin_hash: str | None = None,
    devices_path: str | Path | None = None,
    language: str = "zh",
    full_screen: bool = False,
    max_seconds: float | None = None,
) -> int:
    """`kiosk.app.run.run_scenario` with the screen: same arguments, same return value.

    With `steps`, returns once they are played and the loop has been idle for 2.5 s; always returns when
    the window is closed (or after `max_seconds`, for tests). Hardware and store are always closed.
    PINs not given come from the policy (`guard_pin_hash`, `technician_pin_hash`); `devices_path` is the
    device configuration file the technician's calibration writes to.
    """
    from kiosk.app.hardware import open_hardware
    from kiosk.app.run import build, print_json, wait_ready
    from kiosk.app.scenario import Player

    emit_out = emit or print_json
    events = EventLog(tz=ZoneInfo(policy.timezone))

    def emit(line: dict) -> None:
        events.add_event(line)
        emit_out(line)

    if guard_pin_hash is None:
        guard_pin_hash = getattr(policy, "guard_pin_hash", "") or None
    if technician_pin_hash is None:
        technician_pin_hash = getattr(policy, "technician_pin_hash", "") or None
    QApplication.instance() or QApplication(sys.argv[:1])
    hw = open_hardware(devices)
    checkpoint, store = build(data_dir, policy, hw, emit, clock)
    alarms = AlarmBoard(
        hw.gpio,
        clock=clock,
        on_alarm=lambda a: emit({"type": "alarm", "kind": a.kind, "device": a.device, "detail": a.detail}),
    )

    def sink(event: Any) -> None:
        alarms.on_event(event)  # door held open / forced: the guard console's alarm
        checkpoint.post(event)

    sync_cache = SyncStateCache(data_dir)
    trust = checkpoint.trust
    stop = threading.Event()
    player = Player(
        hw, steps or [], thermometer_offset=devices.thermometer.offset if devices.thermometer else 0.9
    )
    loop = LoopThread(checkpoint)
    window: KioskWindow | None = None
    restore: Callable[[], None] = lambda: None  # noqa: E731
    signalled: list[BaseException] = []
    events.attach_logging()
    try:
        hw.start(sink)
        if hw.gpio is not None:
            hw.gpio.show(None)
        wait_ready(hw)
        quiet: dict[str, float | None] = {"since": None}
        started = time.monotonic()

        def finished() -> bool:
            if loop.alive():
                sdnotify.watchdog()  # both threads alive: the UI ticks and the loop steps
            if loop.thread.ident is not None and not loop.thread.is_alive():
                return True  # the loop failed (reported on stderr)
            if max_seconds is not None and time.monotonic() - started > max_seconds:
                return True
            if steps is None:
                return False
            if player.done.is_set() and checkpoint.idle():
                quiet["since"] = quiet["since"] or time.monotonic()
                return time.monotonic() - quiet["since"] > QUIET_SECONDS
            quiet["since"] = None
            return False

        actions = GuardActions(
            store, hw.gpio, actor="guard", emit=emit, checkpoint=checkpoint, alarms=alarms, clock=clock
        )
        guard = GuardConsole(store, actions, guard_pin_hash, language=language, clock=clock)
        technician = TechnicianScreen(
            TechnicianDeps(
                data_dir=data_dir,
                policy=policy,
                devices=devices,
                devices_path=Path(devices_path) if devices_path else None,
                hardware=hw,
                store=store,
                events=events,
                trust_reload=getattr(trust, "reload", None),
                clock=clock,
            ),
            technician_pin_hash,
            language=language,
        )

        def status() -> StatusInfo:
            online, last_sync, sync_blocked = sync_status(sync_cache, policy.timezone)
            current = checkpoint.policy  # the hub may publish a new policy while the kiosk runs
            now = clock()
            return status_info(
                trust,
                current,
                now,
                hw.health(),
                online=online,
                last_sync=last_sync,
                sync_blocked=sync_blocked,
                clock_ok=checkpoint.clock_trusted(now),
            )

        window = KioskWindow(
            checkpoint,
            status,
            guard=guard,
            technician=technician,
            finished=finished,
            language=language,
            frame_source=camera_frames(hw.camera) if hw.camera is not None else None,
            alarms=alarms,
            health=hw.health,
        )
        # a local event loop, not app.exec()/app.quit(): quitting the application's own loop leaves Qt
        # refusing every later event loop in the process (tests, and a window opened again)
        events_loop = QEventLoop()
        window.closing.connect(events_loop.quit)
        restore = _on_signals(window, signalled)
        loop.start()
        sdnotify.ready()
        if steps is not None:
            threading.Thread(target=player.play, args=(stop,), name="scenario", daemon=True).start()
        if full_screen:
            window.showFullScreen()
        else:
            window.resize(1280, 800)
            window.show()
        events_loop.exec()
    except KeyboardInterrupt:
        pass
    finally:
        restore()
        events.detach_logging()
        sdnotify.stopping()
        stop.set()
        loop.stop()
        checkpoint.close()
        if window is not None:
            window.timer.stop()
            window.close()
            window.deleteLater()
        hw.close()
        store.close()
    for error in player.errors:
        print(f"kiosk: scenario {error}", file=sys.stderr)
    for exc in signalled:
        if isinstance(exc, SystemExit):
            raise exc  # SIGTERM: exit 128+signum as headless does, after hardware and store are closed
    return 1 if player.errors or loop.error is not None else 0


def _on_signals(window: QWidget, signalled: list[BaseException]) -> Callable[[], None]:
    """SIGINT/SIGTERM/SIGHUP close the window (the Qt loop would otherwise not see them); the handler
    installed before (drivers.gpio.failsafe: relays off first) still runs. Returns the undo."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: Any) -> None:
        before = previous.get(signum)
        try:
            if callable(before) and before is not signal.default_int_handler:
                before(signum, frame)
        except (SystemExit, KeyboardInterrupt) as exc:
            signalled.append(exc)
        finally:
            window.close()

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        previous[signum] = signal.signal(signum, handler)

    def restore() -> None:
        for signum, before in previous.items():
            signal.signal(signum, before)

    return restore
