"""Spoken prompts in Mandarin and English, generated at build time with espeak-ng.

    python -m kiosk.sound.prompts OUT_DIR      # writes OUT_DIR/<name>.<zh|en>.wav

The kiosk looks for them in the data directory's `sounds/`; a missing file means "tone only", never an
error. espeak-ng is a build dependency (apt package `espeak-ng`), not a runtime one.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

# name -> {language: text}
PROMPTS: dict[str, dict[str, str]] = {
    "pass": {"zh": "请通行", "en": "Please pass"},
    "stop": {"zh": "禁止通行", "en": "Stop"},
    "wait_staff": {"zh": "请等待工作人员", "en": "Please wait for staff"},
    "show_code": {"zh": "请出示健康码", "en": "Show your health code"},
    "fever": {"zh": "体温异常，请稍候", "en": "Temperature too high"},
}
VOICES = {"zh": "cmn", "en": "en"}
LANGUAGES = tuple(VOICES)
SPEED_WPM = 150  # espeak-ng's default is 175: a little slower for a noisy entrance


def normalise_language(language: str) -> str:
    """ "zh", "zh_CN", "zh-Hans", "cmn" -> "zh"; "en_GB" -> "en"; anything else -> "zh"."""
    lang = (language or "").lower().replace("_", "-")
    if lang.startswith(("zh", "cmn")):
        return "zh"
    if lang.startswith("en"):
        return "en"
    return "zh"


def file_name(name: str, language: str) -> str:
    return f"{name}.{normalise_language(language)}.wav"


def prompt_path(name: str, language: str, base_dir: str | Path | None) -> Path | None:
    """The prompt's WAV in `base_dir` (the data directory's `sounds/`), or None when it is not there."""
    if base_dir is None:
        return None
    path = Path(base_dir) / file_name(name, language)
    try:
        return path if path.is_file() and path.stat().st_size > 44 else None
    except OSError:
        return None


def espeak() -> str | None:
    return shutil.which("espeak-ng")


def build_prompts(
    out_dir: str | Path, names: list[str] | None = None, languages: tuple[str, ...] = LANGUAGES
) -> list[Path]:
    """Generate every prompt in every language into `out_dir`; returns the files written.

    Raises RuntimeError when espeak-ng is missing or fails (a build step should fail loudly).
    """
    exe = espeak()
    if exe is None:
        raise RuntimeError("espeak-ng not found: install the `espeak-ng` package to build the spoken prompts")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names or list(PROMPTS):
        for language in languages:
            target = out / file_name(name, language)
            tmp = target.with_suffix(".tmp.wav")
            cmd = [exe, "-v", VOICES[language], "-s", str(SPEED_WPM), "-w", str(tmp), PROMPTS[name][language]]
            result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            if result.returncode != 0 or not tmp.is_file():
                tmp.unlink(missing_ok=True)
                raise RuntimeError(f"espeak-ng failed for {name}/{language}: {result.stderr.strip()}")
            tmp.replace(target)  # atomic: the kiosk never sees half a file
            written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print("usage: python -m kiosk.sound.prompts OUT_DIR", file=sys.stderr)
        return 2
    try:
        written = build_prompts(args[0])
    except RuntimeError as exc:
        print(f"kiosk.sound.prompts: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
