"""The player: a result tone, then the spoken prompt, through ALSA, without ever blocking the caller.

`play()` only queues: a worker thread renders the sound (tone + prompt, scaled by the volume) and pipes
it to `aplay -q -`. A newer `play()` cancels the sound in progress (the previous person's result must not
talk over the next one's). With no sound card (simulation, CI, a dev laptop) the "log" backend records
what would have been played instead: `{"device": "speaker", "action": kind, "prompt": name, ...}`.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from kiosk.sound.prompts import normalise_language, prompt_path
from kiosk.sound.tones import KINDS, SAMPLE_RATE, read_wav, resample, to_wav, tone_samples

log = logging.getLogger("kiosk.sound")

BACKENDS = ("alsa", "log")
DEFAULT_PROMPT = {"pass": "pass", "stop": "stop", "refer": "wait_staff"}
GAP_SECONDS = 0.12  # between the tone and the prompt, and between two languages
CARDS = Path("/proc/asound/cards")
LOG_KEEP = 256  # sounds kept by the log backend


def alsa_present(cards: Path = CARDS) -> bool:
    """Whether ALSA lists a sound card ("--- no soundcards ---" or an absent /proc/asound: none)."""
    try:
        text = cards.read_text(errors="replace").strip()
    except OSError:
        return False
    return bool(text) and "no soundcards" not in text


def choose_backend(cards: Path = CARDS) -> str:
    """ "alsa" when `aplay` exists and ALSA has a card, else "log". KIOSK_SOUND_BACKEND overrides."""
    forced = os.environ.get("KIOSK_SOUND_BACKEND", "").strip().lower()
    if forced in BACKENDS:
        return forced
    return "alsa" if shutil.which("aplay") and alsa_present(cards) else "log"


def prompt_for(kind: str, reasons: list[str] | tuple[str, ...] = ()) -> str:
    """The prompt for a result: fever has its own; otherwise pass / stop / wait for staff."""
    if "temperature.fever" in reasons and kind != "pass":
        return "fever"
    return DEFAULT_PROMPT.get(kind, "wait_staff")


def _languages(language: str) -> list[str]:
    """ "zh", "en", or both in order ("zh+en", "en+zh", "both" = zh then en)."""
    if language in ("both", "bilingual"):
        return ["zh", "en"]
    out: list[str] = []
    for part in str(language).split("+"):
        lang = normalise_language(part.strip())
        if lang not in out:
            out.append(lang)
    return out or ["zh"]


class Player:
    def __init__(
        self,
        sounds_dir: str | Path | None = None,
        backend: str | None = None,
        *,
        volume: int = 80,
        muted: bool = False,
        sink: Callable[[dict], None] | None = None,
        device: str | None = None,
        aplay: str = "aplay",
    ):
        self.backend = backend or choose_backend()
        if self.backend not in BACKENDS:
            raise ValueError(
                f"unknown sound backend {self.backend!r} (expected one of {', '.join(BACKENDS)})"
            )
        self.sounds_dir = Path(sounds_dir) if sounds_dir is not None else None
        self._volume = 80
        self.volume = volume
        self.muted = muted
        self.sink = sink  # log backend: also called with each entry (e.g. the scenario's emit)
        self.device = device  # ALSA PCM for aplay -D (None: the default device)
        self.aplay = aplay
        # log backend: the latest sounds that would have been played, in order (bounded: a kiosk in
        # simulation runs for days)
        self.log: collections.deque[dict] = collections.deque(maxlen=LOG_KEEP)
        self.errors = 0  # alsa backend: sounds that failed to play (never raised to the caller)
        self._lock = threading.Lock()
        self._generation = 0
        self._queue: queue.Queue = queue.Queue(maxsize=4)
        self._proc: subprocess.Popen | None = None
        self._worker: threading.Thread | None = None
        self._closed = False
        self._cache: dict[Path, tuple[float, np.ndarray]] = {}  # prompt file -> (mtime, samples)

    @classmethod
    def open(cls, sounds_dir: str | Path | None, **kwargs: Any) -> Player:
        """A player on the best backend for this machine (see `choose_backend`)."""
        return cls(sounds_dir, choose_backend(), **kwargs)

    # --- volume and mute ---

    @property
    def volume(self) -> int:
        return self._volume

    @volume.setter
    def volume(self, value: int) -> None:
        self._volume = max(0, min(100, int(value)))

    def mute(self) -> None:
        self.muted = True
        self.cancel()

    def unmute(self) -> None:
        self.muted = False

    # --- playing ---

    def play(self, kind: str, language: str = "zh", prompt: str | None = None) -> None:
        """Queue the tone for `kind` ("pass"/"stop"/"refer") and its prompt; returns at once."""
        if kind not in KINDS:
            log.warning("sound: unknown result %r, nothing played", kind)
            return
        self._submit(kind, language, prompt or DEFAULT_PROMPT[kind])

    def say(self, prompt: str, language: str = "zh") -> None:
        """Queue a prompt alone, without a tone (e.g. "show_code"); returns at once."""
        self._submit(None, language, prompt)

    def _submit(self, kind: str | None, language: str, prompt: str | None) -> None:
        if self.muted or self._closed:
            return
        langs = _languages(language)
        paths = [prompt_path(prompt, lang, self.sounds_dir) for lang in langs] if prompt else []
        if self.backend == "log":
            entry = {
                "type": "actuator",
                "device": "speaker",
                "action": kind or "say",
                "prompt": prompt,
                "language": "+".join(langs),
                "spoken": any(p is not None for p in paths),  # False: tone only (prompt file missing)
                "volume": self._volume,
            }
            self.log.append(entry)
            log.info("sound (not played): %s", entry)
            if self.sink is not None:
                try:
                    self.sink(entry)
                except Exception:  # a logging sink must not break the checkpoint
                    log.exception("sound: log sink failed")
            return
        with self._lock:
            self._generation += 1
            item = (self._generation, kind, [p for p in paths if p is not None])
            while True:  # a newer result supersedes anything still waiting
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
            self._queue.put_nowait(item)
            self._kill_locked()
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="sound", daemon=True)
                self._worker.start()

    def cancel(self) -> None:
        """Stop the sound in progress and drop any waiting one."""
        with self._lock:
            self._generation += 1
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
            self._kill_locked()

    def busy(self) -> bool:
        """Whether a sound is waiting or playing (alsa backend)."""
        with self._lock:
            return not self._queue.empty() or self._proc is not None

    def close(self, timeout: float = 1.0) -> None:
        self._closed = True
        self.cancel()
        worker = self._worker
        if worker is not None:
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(None)
            worker.join(timeout)

    # --- rendering ---

    def render(self, kind: str | None, language: str = "zh", prompt: str | None = None) -> bytes | None:
        """The WAV that would play: the tone, then the prompt(s) found; None when muted."""
        if self.muted:
            return None
        if prompt is None and kind is not None:
            prompt = DEFAULT_PROMPT.get(kind)
        paths = (
            [prompt_path(prompt, lang, self.sounds_dir) for lang in _languages(language)] if prompt else []
        )
        return self._render(kind, [p for p in paths if p is not None])

    def _render(self, kind: str | None, paths: list[Path]) -> bytes:
        gap = np.zeros(int(GAP_SECONDS * SAMPLE_RATE), dtype=np.float32)
        parts: list[np.ndarray] = [tone_samples(kind)] if kind is not None else []
        for path in paths:
            speech = self._prompt_samples(path)
            if speech is not None:
                if parts:
                    parts.append(gap)
                parts.append(speech)
        samples = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
        return to_wav(samples, SAMPLE_RATE, self._volume)

    def _prompt_samples(self, path: Path) -> np.ndarray | None:
        try:
            mtime = path.stat().st_mtime
            cached = self._cache.get(path)
            if cached is not None and cached[0] == mtime:
                return cached[1]
            samples, rate = read_wav(path)
            samples = resample(samples, rate, SAMPLE_RATE)
            self._cache[path] = (mtime, samples)
            return samples
        except Exception as exc:  # a damaged prompt (wave.Error, EOFError, ...): tone only
            log.warning("sound: cannot read prompt %s: %s", path, exc)
            return None

    # --- the ALSA worker ---

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            generation, kind, paths = item
            try:
                if generation != self._generation:
                    continue
                data = self._render(kind, paths)
                self._aplay(data, generation)
            except Exception:  # never let the sound thread die
                self.errors += 1
                log.exception("sound: playing %s failed", kind)

    def _aplay(self, data: bytes, generation: int) -> None:
        cmd = [self.aplay, "-q"] + (["-D", self.device] if self.device else []) + ["-"]
        with self._lock:
            if generation != self._generation:
                return
            proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            self._proc = proc
        try:
            try:
                proc.stdin.write(data)
                proc.stdin.close()
            except (BrokenPipeError, OSError, ValueError):
                pass  # cancelled (killed) while writing, or aplay failed early
            seconds = len(data) / (2 * SAMPLE_RATE)
            try:
                proc.wait(timeout=seconds + 5.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.returncode not in (0, -9, -15) and generation == self._generation:
                self.errors += 1
                err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
                log.warning("sound: aplay exited %s: %s", proc.returncode, err)
        finally:
            if proc.stderr:
                proc.stderr.close()
            with self._lock:
                if self._proc is proc:
                    self._proc = None

    def _kill_locked(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(OSError):
                proc.terminate()


class KioskSound:
    """Wires a Player to the checkpoint: the buzzer action plays the result's tone and prompt.

    `on_outcome` runs just before the actuators, so the reasons (fever) are known when the buzzer sounds.
    """

    def __init__(self, player: Player, language: str = "zh"):
        self.player = player
        self.language = language
        self._reasons: list[str] = []

    def on_outcome(self, outcome: Any) -> None:
        decision = getattr(outcome, "decision", None)
        self._reasons = list(getattr(decision, "reasons", []) or [])

    def on_action(self, action: dict) -> None:
        if action.get("device") != "buzzer":
            return
        kind = str(action.get("action"))
        self.player.play(kind, self.language, prompt_for(kind, self._reasons))
        self._reasons = []

    def attach(self, checkpoint: Any) -> KioskSound:
        """Chain onto a Checkpoint's existing on_outcome / on_action callbacks (they still run first)."""
        outcome_before, action_before = checkpoint.on_outcome, checkpoint.on_action

        def on_outcome(outcome: Any) -> None:
            outcome_before(outcome)
            self.on_outcome(outcome)

        def on_action(action: dict) -> None:
            action_before(action)
            try:
                self.on_action(action)
            except Exception:  # sound is never a reason to stop the checkpoint
                log.exception("sound: hook failed")

        checkpoint.on_outcome, checkpoint.on_action = on_outcome, on_action
        return self
