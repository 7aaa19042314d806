"""kiosk.sound: the result tones, the espeak-ng prompts and the non-blocking player."""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import sys
import time
import wave
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from kiosk.sound import player as player_mod
from kiosk.sound.player import LOG_KEEP, KioskSound, Player, alsa_present, choose_backend, prompt_for
from kiosk.sound.prompts import PROMPTS, build_prompts, file_name, normalise_language, prompt_path
from kiosk.sound.tones import KINDS, SAMPLE_RATE, duration, read_wav, to_wav, tone_samples, tone_wav

ROOT = Path(__file__).resolve().parents[1]
needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None,
    reason="espeak-ng not installed (apt-get install espeak-ng): spoken prompts cannot be built",
)


def _bursts(samples: np.ndarray, rate: int = SAMPLE_RATE) -> list[tuple[float, float]]:
    """(start, end) seconds of each sounding stretch, from a 10 ms RMS envelope."""
    win = int(0.01 * rate)
    n = len(samples) // win
    env = np.sqrt((samples[: n * win].reshape(n, win) ** 2).mean(axis=1))
    on = env > 0.1 * env.max()
    out, start = [], None
    for i, v in enumerate(on):
        if v and start is None:
            start = i
        elif not v and start is not None:
            out.append((start * 0.01, i * 0.01))
            start = None
    if start is not None:
        out.append((start * 0.01, n * 0.01))
    return out


def _peak_hz(samples: np.ndarray, rate: int = SAMPLE_RATE) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[spectrum.argmax()])


# --- tones ---


@pytest.mark.parametrize("kind", KINDS)
def test_tone_is_a_16bit_mono_wav_of_the_right_length(kind):
    data = tone_wav(kind)
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getcomptype()) == (
            1,
            2,
            SAMPLE_RATE,
            "NONE",
        )
        seconds = w.getnframes() / w.getframerate()
    assert seconds == pytest.approx(duration(kind), abs=2 / SAMPLE_RATE)
    assert 0.2 < seconds < 1.0  # short: the next person is already scanning


@pytest.mark.parametrize("kind", KINDS)
def test_tone_fades_in_and_out(kind):
    samples, _ = read_wav(tone_wav(kind))
    assert abs(samples[0]) < 0.01 and abs(samples[-1]) < 0.01
    assert np.abs(samples).max() > 0.3
    # no clicks: no sample-to-sample jump bigger than the loudest sine step (880..1320 Hz, second harmonic)
    assert np.abs(np.diff(samples)).max() < 0.4


def test_the_three_tones_differ_in_rhythm():
    counts = {kind: len(_bursts(tone_samples(kind))) for kind in KINDS}
    assert counts == {"pass": 1, "stop": 3, "refer": 2}
    stop_len = np.mean([b - a for a, b in _bursts(tone_samples("stop"))])
    refer_len = np.mean([b - a for a, b in _bursts(tone_samples("refer"))])
    assert refer_len > 2 * stop_len  # refer's beeps are long, stop's are short


def test_the_three_tones_differ_in_pitch():
    peaks = {kind: _peak_hz(tone_samples(kind)) for kind in KINDS}
    assert peaks["stop"] < peaks["refer"] < 900 < max(peaks["pass"], 1000)
    assert peaks["stop"] == pytest.approx(330, abs=10)
    assert peaks["refer"] == pytest.approx(587, abs=10)
    # pass rises: the second half is higher than the first
    s = tone_samples("pass")
    first, second = s[: int(0.1 * SAMPLE_RATE)], s[int(0.15 * SAMPLE_RATE) :]
    assert _peak_hz(first) == pytest.approx(880, abs=15)
    assert _peak_hz(second) == pytest.approx(1320, abs=15)


def test_the_tone_wavs_are_different_bytes_and_spectra():
    spectra = {}
    for kind in KINDS:
        s = tone_samples(kind)[: int(0.3 * SAMPLE_RATE)]
        spec = np.abs(np.fft.rfft(s, n=8192))
        spectra[kind] = spec / np.linalg.norm(spec)
    for a in KINDS:
        for b in KINDS:
            if a < b:
                assert float(spectra[a] @ spectra[b]) < 0.3, (a, b)
    assert len({tone_wav(k) for k in KINDS}) == 3


def test_volume_scales_the_samples():
    full, _ = read_wav(tone_wav("stop", volume=100))
    half, _ = read_wav(tone_wav("stop", volume=50))
    zero, _ = read_wav(tone_wav("stop", volume=0))
    assert np.abs(half).max() == pytest.approx(0.25 * np.abs(full).max(), rel=0.01)
    assert not zero.any()
    assert np.abs(read_wav(tone_wav("stop", volume=150))[0]).max() == np.abs(full).max()  # clamped


def test_unknown_tone_is_an_error():
    with pytest.raises(ValueError, match="unknown tone"):
        tone_samples("beep")


def test_to_wav_clips_instead_of_wrapping():
    samples, _ = read_wav(to_wav(np.array([2.0, -2.0, 0.5], dtype=np.float32)))
    assert samples[0] > 0.99 and samples[1] < -0.99 and samples[2] == pytest.approx(0.5, abs=1e-3)


# --- prompts ---


@pytest.fixture(scope="module")
def sounds(tmp_path_factory):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (apt-get install espeak-ng): spoken prompts cannot be built")
    out = tmp_path_factory.mktemp("sounds")
    written = build_prompts(out)
    assert len(written) == 2 * len(PROMPTS)
    return out


@needs_espeak
@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("name", list(PROMPTS))
def test_prompts_are_valid_wavs_of_plausible_length(sounds, name, language):
    path = prompt_path(name, language, sounds)
    assert path is not None and path.name == f"{name}.{language}.wav"
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        rate = w.getframerate()
        seconds = w.getnframes() / rate
    assert rate in (16000, 22050, 44100, 48000)
    assert 0.3 < seconds < 6.0, seconds
    samples, _ = read_wav(path)
    assert np.sqrt(np.mean(samples**2)) > 0.01  # speech, not silence


@needs_espeak
def test_chinese_and_english_prompts_differ(sounds):
    for name in PROMPTS:
        zh = (sounds / file_name(name, "zh")).read_bytes()
        en = (sounds / file_name(name, "en")).read_bytes()
        assert zh != en


@needs_espeak
def test_prompts_module_entry_point(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "kiosk.sound.prompts", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.split()) == 2 * len(PROMPTS)
    assert prompt_path("fever", "zh", tmp_path / "out") is not None


def test_prompts_entry_point_usage_and_missing_espeak(tmp_path, monkeypatch, capsys):
    from kiosk.sound import prompts

    assert prompts.main([]) == 2
    monkeypatch.setattr(prompts, "espeak", lambda: None)
    assert prompts.main([str(tmp_path)]) == 1
    assert "espeak-ng" in capsys.readouterr().err
    with pytest.raises(RuntimeError, match="espeak-ng"):
        build_prompts(tmp_path)


def test_prompt_path_missing_is_none(tmp_path):
    assert prompt_path("pass", "zh", tmp_path) is None
    assert prompt_path("pass", "zh", tmp_path / "absent") is None
    assert prompt_path("pass", "zh", None) is None
    (tmp_path / "pass.en.wav").write_bytes(b"")  # empty: not a prompt
    assert prompt_path("pass", "en", tmp_path) is None


def test_language_names():
    assert [normalise_language(x) for x in ("zh", "zh_CN", "zh-Hans", "cmn", "en", "en_GB", "fr", "")] == [
        "zh",
        "zh",
        "zh",
        "zh",
        "en",
        "en",
        "zh",
        "zh",
    ]


# --- rendering ---


@needs_espeak
def test_render_is_tone_then_prompt(sounds):
    p = Player(sounds, backend="log", volume=100)
    tone_only, _ = read_wav(Player(None, backend="log", volume=100).render("pass", "zh"))
    both, rate = read_wav(p.render("pass", "zh"))
    speech, _ = read_wav(sounds / "pass.zh.wav")
    assert rate == SAMPLE_RATE
    assert len(both) == len(tone_only) + int(player_mod.GAP_SECONDS * SAMPLE_RATE) + len(speech)
    assert np.allclose(both[: len(tone_only)], tone_only, atol=1e-4)
    bilingual, _ = read_wav(p.render("pass", "zh+en"))
    assert len(bilingual) > len(both)


def test_render_falls_back_to_the_tone_when_a_prompt_is_missing_or_damaged(tmp_path):
    (tmp_path / "stop.zh.wav").write_bytes(b"RIFF" + b"\0" * 100)  # damaged
    p = Player(tmp_path, backend="log", volume=100)
    samples, _ = read_wav(p.render("stop", "zh"))
    assert len(samples) == len(tone_samples("stop"))
    samples, _ = read_wav(p.render("refer", "en"))  # missing
    assert len(samples) == len(tone_samples("refer"))


def test_player_volume_and_mute_in_render():
    p = Player(None, backend="log", volume=100)
    loud = np.abs(read_wav(p.render("refer"))[0]).max()
    p.volume = 50
    assert np.abs(read_wav(p.render("refer"))[0]).max() == pytest.approx(0.25 * loud, rel=0.01)
    p.volume = 250
    assert p.volume == 100
    p.volume = -3
    assert p.volume == 0
    assert not read_wav(p.render("refer"))[0].any()
    p.mute()
    assert p.render("refer") is None
    p.unmute()
    assert p.render("refer") is not None


# --- the log backend ---


def test_log_backend_records_the_sequence(tmp_path):
    seen = []
    p = Player(tmp_path, backend="log", sink=seen.append)
    p.play("pass", "zh")
    p.play("stop", "en")
    p.play("refer", "zh+en", prompt="fever")
    p.say("show_code", "en")
    assert [(e["action"], e["prompt"], e["language"]) for e in p.log] == [
        ("pass", "pass", "zh"),
        ("stop", "stop", "en"),
        ("refer", "fever", "zh+en"),
        ("say", "show_code", "en"),
    ]
    assert all(e["device"] == "speaker" and e["spoken"] is False for e in p.log)  # no prompt files here
    assert seen == list(p.log)


@needs_espeak
def test_log_backend_says_whether_the_prompt_was_found(sounds):
    p = Player(sounds, backend="log")
    p.play("pass", "zh")
    p.play("pass", "zh", prompt="no_such_prompt")
    assert [e["spoken"] for e in p.log] == [True, False]


def test_log_backend_muted_records_nothing_and_a_bad_sink_is_harmless():
    def bad(entry):
        raise RuntimeError("sink down")

    p = Player(None, backend="log", muted=True, sink=bad)
    p.play("pass")
    assert list(p.log) == []
    p.unmute()
    p.play("pass")
    p.play("nonsense")  # unknown result: ignored, not raised
    assert [e["action"] for e in p.log] == ["pass"]


def test_log_backend_never_blocks():
    p = Player(None, backend="log")
    start = time.monotonic()
    for i in range(100):
        p.play(KINDS[i % 3], "zh")
    assert time.monotonic() - start < 0.5
    assert len(p.log) == 100
    for _ in range(LOG_KEEP):
        p.play("pass")
    assert len(p.log) == LOG_KEEP and p.log[-1]["action"] == "pass"  # bounded: days in simulation


# --- the alsa backend, with a fake aplay ---


@pytest.fixture
def fake_aplay(tmp_path):
    """An `aplay` that saves what it is given, notes its pid, then plays for `FAKE_SECONDS` seconds."""
    out = tmp_path / "aplay"
    out.mkdir()
    script = tmp_path / "aplay.sh"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$*" > "{out}/args.$$"\n'
        f'cat > "{out}/$$.wav"\n'
        f'echo $$ >> "{out}/started"\n'
        'exec sleep "${FAKE_SECONDS:-0}"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return SimpleNamespace(path=str(script), out=out)


def _wait(cond, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False


def _started(fake) -> list[str]:
    f = fake.out / "started"
    return f.read_text().split() if f.exists() else []


def test_alsa_backend_pipes_the_wav_to_aplay(fake_aplay, monkeypatch):
    monkeypatch.setenv("FAKE_SECONDS", "0")
    p = Player(None, backend="alsa", aplay=fake_aplay.path, device="plughw:0", volume=100)
    try:
        p.play("stop", "zh")
        assert _wait(lambda: len(_started(fake_aplay)) == 1 and not p.busy())
    finally:
        p.close()
    pid = _started(fake_aplay)[0]
    assert (fake_aplay.out / f"{pid}.wav").read_bytes() == tone_wav("stop", volume=100)
    assert (fake_aplay.out / f"args.{pid}").read_text().split() == ["-q", "-D", "plughw:0", "-"]
    assert p.errors == 0


def test_alsa_backend_never_blocks_and_a_new_result_cancels_the_old(fake_aplay, monkeypatch):
    monkeypatch.setenv("FAKE_SECONDS", "30")
    p = Player(None, backend="alsa", aplay=fake_aplay.path)
    try:
        start = time.monotonic()
        for i in range(100):
            p.play(KINDS[i % 3], "zh")
        assert time.monotonic() - start < 0.5  # returns at once, while aplay "plays" for 30 s
        assert _wait(lambda: len(_started(fake_aplay)) >= 1)
        first = _started(fake_aplay)[0]
        p.play("pass", "en")  # the next person's result
        assert _wait(lambda: len(_started(fake_aplay)) >= 2 and _started(fake_aplay)[-1] != first)
        assert _wait(lambda: not os.path.exists(f"/proc/{first}") or _zombie(first)), (
            "old sound not cancelled"
        )
        last = _started(fake_aplay)[-1]
        assert (fake_aplay.out / f"{last}.wav").read_bytes() == tone_wav("pass", volume=80)
        assert len(_started(fake_aplay)) < 10  # superseded results were dropped, not queued up
    finally:
        p.close()
    assert _wait(
        lambda: all(not os.path.exists(f"/proc/{pid}") or _zombie(pid) for pid in _started(fake_aplay))
    )


def _zombie(pid: str) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def test_alsa_backend_muted_runs_no_aplay(fake_aplay):
    p = Player(None, backend="alsa", aplay=fake_aplay.path, muted=True)
    try:
        p.play("pass")
        time.sleep(0.2)
    finally:
        p.close()
    assert _started(fake_aplay) == []


def test_alsa_backend_survives_a_missing_or_failing_aplay(tmp_path):
    p = Player(None, backend="alsa", aplay=str(tmp_path / "no-aplay"))
    try:
        p.play("pass")
        assert _wait(lambda: p.errors == 1)
        p.play("stop")  # the worker is still alive
        assert _wait(lambda: p.errors == 2)
    finally:
        p.close()
    failing = tmp_path / "fail.sh"
    failing.write_text("#!/bin/sh\ncat >/dev/null\necho 'no such device' >&2\nexit 1\n")
    failing.chmod(0o755)
    p = Player(None, backend="alsa", aplay=str(failing))
    try:
        p.play("refer")
        assert _wait(lambda: p.errors == 1)
    finally:
        p.close()


# --- choosing the backend ---


def test_choose_backend(tmp_path, monkeypatch):
    monkeypatch.delenv("KIOSK_SOUND_BACKEND", raising=False)
    cards = tmp_path / "cards"
    assert alsa_present(cards) is False  # no /proc/asound at all
    cards.write_text("--- no soundcards ---\n")
    assert alsa_present(cards) is False
    cards.write_text(" 0 [vc4hdmi0       ]: vc4-hdmi - vc4-hdmi-0\n")
    assert alsa_present(cards) is True
    monkeypatch.setattr(player_mod.shutil, "which", lambda name: "/usr/bin/aplay")
    assert choose_backend(cards) == "alsa"
    monkeypatch.setattr(player_mod.shutil, "which", lambda name: None)
    assert choose_backend(cards) == "log"
    monkeypatch.setenv("KIOSK_SOUND_BACKEND", "alsa")
    assert choose_backend(cards) == "alsa"
    with pytest.raises(ValueError, match="backend"):
        Player(None, backend="pulse")


# --- wiring to the checkpoint ---


def _outcome(decision: str, reasons: list[str]):
    return SimpleNamespace(decision=SimpleNamespace(decision=decision, reasons=reasons))


def test_prompt_for():
    assert prompt_for("pass") == "pass"
    assert prompt_for("stop") == "stop"
    assert prompt_for("refer") == "wait_staff"
    assert prompt_for("stop", ["temperature.fever"]) == "fever"
    assert prompt_for("refer", ["code.green", "temperature.fever"]) == "fever"


def test_kiosk_sound_hook_plays_the_buzzer_result():
    emitted = []
    checkpoint = SimpleNamespace(on_outcome=lambda o: emitted.append("outcome"), on_action=emitted.append)
    p = Player(None, backend="log")
    KioskSound(p, language="en").attach(checkpoint)
    # what Checkpoint._decide/_actuate call, in order
    checkpoint.on_outcome(_outcome("deny", ["temperature.fever"]))
    checkpoint.on_action({"type": "actuator", "device": "lamp", "action": "red"})
    checkpoint.on_action({"type": "actuator", "device": "buzzer", "action": "stop"})
    checkpoint.on_outcome(_outcome("pass", ["code.green"]))
    checkpoint.on_action({"type": "actuator", "device": "gate", "action": "pulse"})
    checkpoint.on_action({"type": "actuator", "device": "buzzer", "action": "pass"})
    checkpoint.on_action({"type": "actuator", "device": "buzzer", "action": "refer"})
    assert [(e["action"], e["prompt"], e["language"]) for e in p.log] == [
        ("stop", "fever", "en"),
        ("pass", "pass", "en"),
        ("refer", "wait_staff", "en"),
    ]
    assert emitted[0] == "outcome" and len(emitted) == 7  # the existing callbacks still run


def test_kiosk_sound_hook_on_a_real_checkpoint():
    from kiosk.app.loop import Checkpoint
    from kiosk.policy.policy import Policy

    p = Player(None, backend="log")
    checkpoint = Checkpoint(
        policy=Policy(),
        keyring=lambda: None,
        record=lambda outcome, visit: 1,
        actuators=SimpleNamespace(pulse_gate=lambda: None, show=lambda c: None, beep=lambda pattern: None),
    )
    KioskSound(p, "zh").attach(checkpoint)
    for decision, reasons in (("pass", ["code.green"]), ("deny", ["temperature.fever"]), ("refer", [])):
        out = _outcome(decision, reasons)
        checkpoint.on_outcome(out)
        checkpoint._actuate(out, 0.0)
    assert [(e["action"], e["prompt"]) for e in p.log] == [
        ("pass", "pass"),
        ("stop", "fever"),
        ("refer", "wait_staff"),
    ]
    checkpoint.close()
