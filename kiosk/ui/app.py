"""The checkpoint with its window: the loop on its own thread, the screen refreshed by a Qt timer.

    loop thread:  Checkpoint.step() forever (devices post events; the thermometer measures in a worker)
    UI thread:    every 50 ms  screen.render(checkpoint.view, status)   (a LoopState is replaced, never
                  mutated, so reading `checkpoint.view` from here always sees a whole state)

Neither thread waits on the other: the UI only reads `checkpoint.view` and device health; the loop never
touches a widget. `run_with_window` mirrors `kiosk.app.run.run_scenario` (same building blocks, same
exit rule: the scenario played and the loop idle for 2.5 s), and also ends when the window is closed.
Hardware and store are always closed. The guard console (kiosk/ui/guard.py) opens on F12 or a long
press on the status strip.
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

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication, QMainWindow, QStackedWidget, QWidget

from kiosk import sdnotify
from kiosk.app.loop import Checkpoint
from kiosk.policy.policy import Policy
from kiosk.ui.guard import GuardActions, GuardConsole
from kiosk.ui.traveller import Freshness, StatusInfo, TravellerScreen

TICK_MS = 50
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
) -> StatusInfo:
    """What the status strip shows.

    `trust` is a kiosk.app.run.TrustView (age_hours, newest_signed_time, status_list). Keys: the worst
    freshness among the accepted formats that have a trust list (missing when none has one). List: the
    status list's age, stale once past its own valid_until. Clock: the decision rule's (`clock.untrusted`).
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
        keys=keys,
        status_list=status_list,
        clock_ok=now + policy.clock_skew_seconds >= trust.newest_signed_time(),
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
    """The traveller screen (and, behind a PIN, the guard console), refreshed from the checkpoint.

    `status` is called on every tick and must be cheap and non-blocking (see `status_info`).
    `finished` (optional) is polled each tick: when it returns True the window closes. `closing` is
    emitted once when the window closes, for whatever reason.
    """

    closing = Signal()

    def __init__(
        self,
        checkpoint: Checkpoint,
        status: Callable[[], StatusInfo],
        *,
        guard: GuardConsole | None = None,
        finished: Callable[[], bool] | None = None,
        language: str = "zh",
        tick_ms: int = TICK_MS,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.checkpoint = checkpoint
        self.status = status
        self.finished = finished
        self.ticks = 0
        self.render_errors = 0
        self._closed = False
        self.setWindowTitle("Health-code checkpoint")
        self.screen_ = TravellerScreen(language)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.screen_)
        self.guard = guard
        if guard is not None:
            self.stack.addWidget(guard)
            guard.closed.connect(self.show_traveller)
        self.setCentralWidget(self.stack)
        self.long_press = _LongPress(self.screen_.strip, self.show_guard)
        self.timer = QTimer(self)
        self.timer.setInterval(tick_ms)
        self.timer.timeout.connect(self.tick)
        self.timer.start()
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
        if check_finished and self.finished is not None and self.finished():
            self.close()

    def show_guard(self) -> None:
        if self.guard is not None and self.stack.currentWidget() is not self.guard:
            self.guard.lock()
            self.stack.setCurrentWidget(self.guard)
            self.guard.pin_edit.setFocus()

    def show_traveller(self) -> None:
        if self.guard is not None:
            self.guard.lock()
        self.stack.setCurrentWidget(self.screen_)

    def toggle_guard(self) -> None:
        if self.guard is not None and self.stack.currentWidget() is self.guard:
            self.show_traveller()
        else:
            self.show_guard()

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        if event.key() == Qt.Key.Key_F12:  # reaches here from any child that does not take F12
            self.toggle_guard()
            event.accept()
            return
        super().keyPressEvent(event)

    def closeEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        self.timer.stop()
        if not self._closed:
            self._closed = True
            self.closing.emit()
        super().closeEvent(event)


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
    language: str = "zh",
    full_screen: bool = False,
    max_seconds: float | None = None,
) -> int:
    """`kiosk.app.run.run_scenario` with the screen: same arguments, same return value.

    With `steps`, returns once they are played and the loop has been idle for 2.5 s; always returns when
    the window is closed (or after `max_seconds`, for tests). Hardware and store are always closed.
    """
    from kiosk.app.hardware import open_hardware
    from kiosk.app.run import build, print_json, wait_ready
    from kiosk.app.scenario import Player

    emit = emit or print_json
    app = QApplication.instance() or QApplication(sys.argv[:1])
    hw = open_hardware(devices)
    checkpoint, store = build(data_dir, policy, hw, emit, clock)
    trust = checkpoint.trust
    stop = threading.Event()
    player = Player(
        hw, steps or [], thermometer_offset=devices.thermometer.offset if devices.thermometer else 0.9
    )
    loop = LoopThread(checkpoint)
    window: KioskWindow | None = None
    restore: Callable[[], None] = lambda: None  # noqa: E731
    signalled: list[BaseException] = []
    try:
        hw.start(checkpoint.post)
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

        actions = GuardActions(store, hw.gpio, actor="guard", emit=emit)
        guard = GuardConsole(store, actions, guard_pin_hash, language=language, clock=clock)
        window = KioskWindow(
            checkpoint,
            lambda: status_info(trust, policy, clock(), hw.health()),
            guard=guard,
            finished=finished,
            language=language,
        )
        window.closing.connect(app.quit)
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
        app.exec()
    except KeyboardInterrupt:
        pass
    finally:
        restore()
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
