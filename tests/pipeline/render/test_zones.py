"""Platform safe zones: formats carry them as data and nothing is drawn inside them."""

from __future__ import annotations

import pytest

from pipeline.models import FlyerSpec
from pipeline.render.compose import compose
from pipeline.render.formats import FORMATS, get_format, list_formats
from pipeline.render.layouts import LAYOUT_NAMES

from .helpers import TEXTS, background, check_flyer, logo_image


def _overlap(a: list[int], b: list[int] | tuple[int, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_story_zones_are_data() -> None:
    story = get_format("story")
    assert (story.width, story.height) == (1080, 1920)
    assert story.zone_boxes == [(0, 0, 1080, 250), (0, 1670, 1080, 1920)]
    assert all(z.why for z in story.zones)  # each says what covers it
    left, top, right, bottom = story.safe_box
    assert top >= 250 and bottom <= 1670 and left == story.safe and right == 1080 - story.safe
    listed = next(f for f in list_formats() if f["name"] == "story")
    assert [z["px"] for z in listed["zones"]] == [250, 250]  # type: ignore[index]


@pytest.mark.parametrize("name", [n for n in FORMATS if n != "story"])
def test_other_formats_only_keep_a_margin(name: str) -> None:
    fmt = get_format(name)
    assert fmt.zones == ()
    s = fmt.safe
    assert fmt.safe_box == (s, s, fmt.width - s, fmt.height - s)


@pytest.mark.parametrize("kind", ["long", "rtl"])
@pytest.mark.parametrize("layout", LAYOUT_NAMES)
def test_story_elements_avoid_the_zones(layout: str, kind: str) -> None:
    """Every layout × the story format: text, metro icon, QR code and logo boxes in the
    manifest stay out of the top and bottom bands."""
    fmt = get_format("story")
    spec = FlyerSpec(details=TEXTS[kind], logo=logo_image("RGBA"),
                     metro_logo=logo_image("RGBA"))
    flyer = compose(background("dusk", 270, 480), spec, layout, fmt)
    zones = flyer.manifest["format"]["zones"]
    assert zones == [[0, 0, 1080, 250], [0, 1670, 1080, 1920]]
    roles = {e["role"] for e in flyer.manifest["elements"]}
    assert {"title", "qr", "logo", "metro"} <= roles
    for el in flyer.manifest["elements"]:
        for box in [el["box"], el.get("logo_box"), *el.get("line_boxes", [])]:
            if box is None:
                continue
            for zone in zones:
                assert not _overlap(box, zone), (layout, el["role"], box, zone)
    check_flyer(flyer.image, flyer.manifest)
