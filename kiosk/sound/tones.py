"""The three result tones, synthesised with numpy as 16-bit mono WAV.

They differ in rhythm as well as pitch, so they stay distinct for someone who cannot tell pitches apart
and in a noisy hall:

    pass   one rising two-note chime       (880 Hz then 1320 Hz, joined)          ~0.32 s
    stop   three low short beeps           (330 Hz, 0.10 s on / 0.08 s off)       ~0.46 s
    refer  two mid long beeps              (587 Hz, 0.30 s on / 0.15 s off)       ~0.75 s

Every note has a short raised-cosine fade in and out (no clicks).
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np

SAMPLE_RATE = 22050  # espeak-ng's rate, so a tone and a prompt join without resampling
AMPLITUDE = 0.6  # of full scale at volume 100: loud, with headroom
FADE_SECONDS = 0.005

# kind -> notes: (frequency Hz or 0 for silence, seconds)
TONES: dict[str, list[tuple[float, float]]] = {
    "pass": [(880.0, 0.12), (1320.0, 0.20)],
    "stop": [(330.0, 0.10), (0.0, 0.08), (330.0, 0.10), (0.0, 0.08), (330.0, 0.10)],
    "refer": [(587.0, 0.30), (0.0, 0.15), (587.0, 0.30)],
}
KINDS = tuple(TONES)


def duration(kind: str) -> float:
    return sum(seconds for _, seconds in TONES[kind])


def _note(freq: float, seconds: float, rate: int) -> np.ndarray:
    n = int(round(seconds * rate))
    if freq <= 0:
        return np.zeros(n, dtype=np.float32)
    t = np.arange(n, dtype=np.float64) / rate
    # a little second harmonic: audible on a small speaker that cannot reproduce low fundamentals
    note = np.sin(2 * np.pi * freq * t) + 0.25 * np.sin(4 * np.pi * freq * t)
    note /= 1.25
    fade = min(int(FADE_SECONDS * rate), n // 2)
    if fade:
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, fade))
        note[:fade] *= ramp
        note[-fade:] *= ramp[::-1]
    return note.astype(np.float32)


def tone_samples(kind: str, rate: int = SAMPLE_RATE) -> np.ndarray:
    """The tone as float32 samples in [-1, 1] (at volume 100)."""
    if kind not in TONES:
        raise ValueError(f"unknown tone {kind!r} (expected one of {', '.join(KINDS)})")
    return np.concatenate([_note(f, s, rate) for f, s in TONES[kind]]) * np.float32(AMPLITUDE)


def scale(samples: np.ndarray, volume: int) -> np.ndarray:
    """Scale float samples by volume 0-100 (a perceptual, squared curve: 50 is about a quarter power)."""
    v = max(0, min(100, int(volume))) / 100.0
    return (samples * np.float32(v * v)).astype(np.float32)


def to_wav(samples: np.ndarray, rate: int = SAMPLE_RATE, volume: int = 100) -> bytes:
    """Float samples in [-1, 1] -> 16-bit mono WAV bytes, scaled by volume 0-100."""
    pcm = np.clip(scale(np.asarray(samples, dtype=np.float32), volume), -1.0, 1.0)
    pcm16 = np.round(pcm * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm16.tobytes())
    return buf.getvalue()


def tone_wav(kind: str, volume: int = 100, rate: int = SAMPLE_RATE) -> bytes:
    return to_wav(tone_samples(kind, rate), rate, volume)


def read_wav(source: bytes | str | Path) -> tuple[np.ndarray, int]:
    """A 16-bit PCM WAV (bytes or a file) -> float32 mono samples in [-1, 1] and the sample rate."""
    handle = io.BytesIO(source) if isinstance(source, bytes | bytearray) else open(source, "rb")  # noqa: SIM115
    with handle, wave.open(handle, "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"only 16-bit WAV is supported (got {8 * w.getsampwidth()}-bit)")
        channels, rate = w.getnchannels(), w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1)
    return data.astype(np.float32), rate


def resample(samples: np.ndarray, rate: int, to_rate: int) -> np.ndarray:
    """Linear resampling (good enough for speech prompts; they are made at SAMPLE_RATE anyway)."""
    if rate == to_rate or len(samples) == 0:
        return samples
    n = int(round(len(samples) * to_rate / rate))
    x = np.linspace(0.0, len(samples) - 1, n)
    return np.interp(x, np.arange(len(samples)), samples).astype(np.float32)
