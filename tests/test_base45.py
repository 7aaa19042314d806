from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.codes.base45 import Base45Error, b45decode, b45encode

# RFC 9285 section 4.3 and 4.4 examples
VECTORS = [
    (b"AB", "BB8"),
    (b"Hello!!", "%69 VD92EX0"),
    (b"base-45", "UJCLQE7W581"),
    (b"ietf!", "QED8WEX0"),
    (b"", ""),
]


@pytest.mark.parametrize(("raw", "text"), VECTORS)
def test_rfc9285_vectors(raw: bytes, text: str) -> None:
    assert b45encode(raw) == text
    assert b45decode(text) == raw
    assert b45decode(text.encode()) == raw


@given(st.binary(max_size=2000))
def test_round_trip(raw: bytes) -> None:
    assert b45decode(b45encode(raw)) == raw


@pytest.mark.parametrize(
    "bad",
    ["GGW", "A", "ABCD", "ab", "::", "ZZZ", "BB8é", "BB\x00", "A B C D", "%69 VD92EX"],
)
def test_invalid_input_raises_base45error(bad: str) -> None:
    with pytest.raises(Base45Error):
        b45decode(bad)


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:abc\x00é", max_size=300))
def test_garbage_decodes_canonically_or_raises_base45error(text: str) -> None:
    """Base45 is a bijection on valid text: whatever decodes re-encodes to the same text."""
    try:
        raw = b45decode(text)
    except Base45Error:
        return
    assert b45encode(raw) == text


def test_c_decoder_is_built() -> None:
    """setup.py builds the C decoder on every supported machine (gcc and python3-dev are installed)."""
    from kiosk.codes import base45

    assert base45._c_decode is not None


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:a\x00\xff:GW", max_size=400))
def test_c_and_numpy_decoders_agree(text: str) -> None:
    from kiosk.codes import base45

    if base45._c_decode is None:
        pytest.skip("C decoder not built")
    data = text.encode("latin-1")
    try:
        expected = base45.b45decode_numpy(data)
    except Base45Error:
        with pytest.raises(Base45Error):
            b45decode(data)
        return
    assert b45decode(data) == expected


@pytest.mark.parametrize(("raw", "text"), VECTORS)
def test_numpy_decoder_vectors(raw: bytes, text: str) -> None:
    from kiosk.codes import base45

    assert base45.b45decode_numpy(text.encode()) == raw
