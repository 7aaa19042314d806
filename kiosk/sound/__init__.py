"""The kiosk's sound: result tones (synthesised), spoken prompts (espeak-ng, built once) and a player.

from kiosk.sound import Player, KioskSound
player = Player.open(data_dir / "sounds")        # "alsa" on a device with a sound card, else "log"
player.play("pass", "zh")                        # never blocks; a newer result cancels this one
"""

from __future__ import annotations

import importlib
from typing import Any

# Lazy exports: `python -m kiosk.sound.prompts` must not find its module already imported by the package.
_EXPORTS = {
    "KINDS": "tones",
    "SAMPLE_RATE": "tones",
    "read_wav": "tones",
    "to_wav": "tones",
    "tone_samples": "tones",
    "tone_wav": "tones",
    "PROMPTS": "prompts",
    "build_prompts": "prompts",
    "prompt_path": "prompts",
    "KioskSound": "player",
    "Player": "player",
    "choose_backend": "player",
    "prompt_for": "player",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"kiosk.sound.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'kiosk.sound' has no attribute {name!r}")
