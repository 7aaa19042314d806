"""Shared fixtures: the outside corpora (referenced in place), issuer keys and key rings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"


def corpus(*parts: str) -> Path:
    """A path inside ../shared/corpora, skipping the test when the corpora are not there."""
    path = CORPORA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"outside corpus not present: {path}")
    return path


@pytest.fixture(scope="session")
def es256_issuer():
    from kiosk.issuer import keys

    return keys.generate("es256", "440000")


@pytest.fixture(scope="session")
def sm2_issuer():
    from kiosk.crypto import sm2
    from kiosk.issuer import keys

    if not sm2.available():
        pytest.skip("system OpenSSL 3 with SM2 not available")
    return keys.generate("sm2", "110000")


@pytest.fixture(scope="session")
def root_key():
    from kiosk.issuer import keys

    return keys.generate("es256", "", root=True)
