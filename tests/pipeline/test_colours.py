"""The one hex-colour parser: brand colours, the procedural painter and the composer all read
hex codes through ``pipeline.colours``."""

from __future__ import annotations

import pytest

from pipeline.backends._palette import palette_for, unit_rgb
from pipeline.colours import hex_colour, parse_hex
from pipeline.errors import InvalidRequest
from pipeline.models import normalise_palette


@pytest.mark.parametrize("text", ["#1a2B3c", "1a2b3c", " #1A2B3C ", "#1a2b3c"])
def test_six_digits_with_or_without_hash(text: str) -> None:
    assert parse_hex(text) == (0x1A, 0x2B, 0x3C)


def test_three_digits_double_each() -> None:
    assert parse_hex("#fa0") == (255, 170, 0)
    assert hex_colour(parse_hex("#FA0")) == "#ffaa00"


@pytest.mark.parametrize("text", ["", "#12345", "#1234567", "#ggg000", "red", "#12 345"])
def test_anything_else_is_refused_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidRequest, match="not a hex code like #1a2b3c") as caught:
        parse_hex(text, field="colour_2", label="Second colour")
    assert caught.value.field == "colour_2" and "Second colour" in str(caught.value)


def test_every_reader_agrees() -> None:
    assert normalise_palette("#ABC, 102030") == ("#aabbcc", "#102030")
    assert unit_rgb("#ff0000") == (1.0, 0.0, 0.0)
    assert palette_for("", ("#abc",)).base == unit_rgb("#aabbcc")
    for reader in (normalise_palette, lambda c: palette_for("", (c,))):
        with pytest.raises(InvalidRequest, match="'#12' is not a hex code"):
            reader("#12")
