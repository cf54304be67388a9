"""A lighter hand: gradient scrims without box edges, frosted panels on texture, colours
taken from the picture (never grey mud) and brand colours kept exactly as given."""

from __future__ import annotations

import colorsys
from itertools import pairwise

import numpy as np
import pytest
from PIL import Image

from pipeline.colours import parse_hex as rgb
from pipeline.models import EventDetails, FlyerSpec
from pipeline.render.compose import compose
from pipeline.render.formats import get_format
from pipeline.render.legibility import WHITE, Surface, contrast
from pipeline.render.tones import (
    SATURATION_MIN,
    backdrop_colour,
    deep_shade,
    pale_tint,
    panel_colour,
    picture_hue,
)

from .helpers import TEXTS, check_flyer, photo

GOLD = "#d4a017"


def _flat(colour: tuple[int, int, int], size: tuple[int, int] = (400, 500)) -> Image.Image:
    return Image.new("RGB", size, colour)


def _hsv(colour: str | tuple[int, int, int]) -> tuple[float, float, float]:
    r, g, b = rgb(colour) if isinstance(colour, str) else colour
    return colorsys.rgb_to_hsv(r / 255, g / 255, b / 255)


def whole(image: Image.Image) -> Surface:
    """The measuring surface of a canvas that is ``image`` itself."""
    return Surface.of_region(image, (0, 0, image.width, image.height), image.size)


def test_scrim_fades_out_without_a_box_edge() -> None:
    """Mid grey: neither white nor near-black text reads on it, so a scrim goes under the
    block; everywhere beyond the lines it changes gently, pixel to pixel."""
    grey = (118, 118, 118)
    flyer = compose(_flat(grey), FlyerSpec(details=TEXTS["short"]), "minimal_type",
                    get_format("400x500"))
    check_flyer(flyer.image, flyer.manifest)
    backdrops = flyer.manifest["backdrops"]
    assert [b["kind"] for b in backdrops] == ["scrim"]
    texts = [e for e in flyer.manifest["elements"] if e.get("block") == "main"]
    assert {e["treatment"] for e in texts} == {"scrim"}
    darker = 118 - np.asarray(flyer.image.convert("L"), dtype=np.float64)
    lines = [b for e in texts for b in e["line_boxes"]]
    right = max(b[2] for b in lines)
    # columns and rows that cross the scrim's fading edge but no text
    column = darker[:, min(right + 4, 399)]
    row = darker[min(b[1] for b in lines) - 6, :]
    assert darker.max() > 25  # there is a scrim
    for profile in (column, row):
        assert np.abs(np.diff(profile)).max() <= 4, "hard edge in the scrim"
    # and it really fades to nothing away from the text
    assert darker[5, 5] == 0 and darker[:, 395].max() < 2


def test_frosted_panel_on_busy_texture() -> None:
    """Gravel under the text: a frosted panel (the texture blurred, lightly tinted) rather
    than a heavy scrim, and the text measured on it."""
    flyer = compose(photo("gravel"), FlyerSpec(details=TEXTS["long"]), "minimal_type",
                    get_format("instagram_post"))
    check_flyer(flyer.image, flyer.manifest)
    (frost,) = flyer.manifest["backdrops"]
    assert frost["kind"] == "frosted" and frost["opacity"] <= 0.6
    left, top, right, bottom = frost["box"]
    texts = [e for e in flyer.manifest["elements"] if e.get("block") == "main"]
    assert {e["treatment"] for e in texts} == {"frosted"}
    # inside the card, between the lines: the gravel's texture is gone
    lines = sorted((b for e in texts for b in e["line_boxes"]), key=lambda b: b[1])
    gaps = [(a[3], b[1]) for a, b in pairwise(lines) if b[1] - a[3] > 6]
    assert gaps
    grey = np.asarray(flyer.image.convert("L"), dtype=np.float64)
    inside = np.concatenate([grey[y0 + 1:y1 - 1, left + 20:right - 20].ravel()
                             for y0, y1 in gaps])
    outside = grey[top:bottom, right + 10:right + 150]
    assert inside.std() < outside.std() / 3


def test_brand_gold_stays_gold() -> None:
    """A gold brand colour is a gold panel (exactly), a gold title where it reads; a dark
    veil is never a darkened gold (olive) but a shade of the picture."""
    spec = FlyerSpec(details=TEXTS["long"], palette=(GOLD,))
    split = compose(photo("rocket"), spec, "split_panel", get_format("instagram_post"))
    check_flyer(split.image, split.manifest)
    assert split.manifest["underlay"] == GOLD
    assert split.image.getpixel((10, 1340)) == rgb(GOLD)
    veiled = compose(photo("coffee"), spec, "minimal_type", get_format("instagram_post"))
    check_flyer(veiled.image, veiled.manifest)
    title = next(e for e in veiled.manifest["elements"] if e["role"] == "title")
    assert title["colour"] == GOLD
    gold_h, _, gold_v = _hsv(GOLD)
    for backdrop in veiled.manifest["backdrops"]:
        h, s, v = _hsv(backdrop["colour"])
        olive = abs(h - gold_h) < 0.04 and v < 0.6 * gold_v
        assert not olive, backdrop
        assert s >= SATURATION_MIN - 0.01  # a colour, not grey mud


@pytest.mark.parametrize("name", ["coffee", "rocket", "chelsea", "astronaut"])
def test_shades_from_the_picture_keep_colour(name: str) -> None:
    tone = picture_hue(whole(photo(name)))
    assert not tone.neutral
    deep, pale = deep_shade(tone), pale_tint(tone)
    assert contrast(WHITE, deep) >= 10
    assert contrast((17, 17, 20), pale) >= 12
    h, s, _ = _hsv(deep)
    assert s >= SATURATION_MIN - 0.01
    assert min(abs(h - tone.hue), 1 - abs(h - tone.hue)) < 0.03
    assert panel_colour(tone, ()) == deep


def test_grey_pictures_get_neutral_shades() -> None:
    tone = picture_hue(whole(photo("camera")))
    assert tone.neutral
    r, g, b = deep_shade(tone)
    assert r == g == b and contrast(WHITE, (r, g, b)) >= 10


def test_veils_are_the_pictures_panels_are_the_brands() -> None:
    tone = picture_hue(whole(photo("coffee")))
    assert backdrop_colour(tone, dark=True) == deep_shade(tone)
    assert backdrop_colour(tone, dark=False) == pale_tint(tone)
    assert panel_colour(tone, (GOLD, "#1d3557")) == rgb("#1d3557")  # exactly as given


def test_one_style_for_the_whole_flyer() -> None:
    """Two blocks on mid grey: one scrim covers both (no two-tone slab)."""
    details = EventDetails(title="Jazz Night", subtitle="Live at the harbour",
                           date="Sat 14 June", venue="Old Warehouse, Quay 3",
                           description="Three bands, one night.")
    flyer = compose(_flat((118, 118, 118)), FlyerSpec(details=details), "centered_poster",
                    get_format("400x500"))
    check_flyer(flyer.image, flyer.manifest)
    backdrops = flyer.manifest["backdrops"]
    assert {b["block"] for b in backdrops} == {"main", "foot"}
    assert len({(b["kind"], b["opacity"], b["colour"], tuple(b["box"]))
                for b in backdrops}) == 1


def test_percentiles_are_numpys_figures() -> None:
    """legibility.percentiles (one partition) gives np.percentile's figures for a sequence
    of percentiles exactly (computed in float64, as numpy does then), for float32 and
    float64, any shape, the ends included."""
    from pipeline.render.legibility import percentiles

    rng = np.random.default_rng(11)
    for n in (1, 2, 9, 10, 101, 4097):
        for dtype in (np.float32, np.float64):
            values = (rng.random(n) * 3).astype(dtype)
            for qs in ((10, 90), (50,), (0, 100), (33.3, 66.6, 99)):
                want = tuple(float(v) for v in np.atleast_1d(np.percentile(values, qs)))
                assert percentiles(values, qs) == want, (n, dtype, qs)
            square = values[: (n // 2) * 2].reshape(2, -1) if n > 1 else values
            assert percentiles(square, (10,)) == (float(np.percentile(square, (10,))[0]),)
    with pytest.raises(ValueError):
        percentiles(np.zeros(0), (50,))


def test_the_surfaces_remembered_contrast_follows_what_is_drawn_on_it() -> None:
    """Planning asks ``Surface.worst_contrast`` the same question several times and keeps the
    answers; each backdrop mirrored onto the surface (``blend``, ``write``) must forget
    them, or a later text would be measured against the picture it no longer sits on."""
    from pipeline.render.legibility import worst_contrast

    img = Image.new("RGB", (200, 100), (20, 20, 20))
    img.paste((235, 235, 235), (100, 0, 200, 100))
    surface = Surface.of_small(img, 1.0)
    box = (10, 10, 90, 90)
    dark = surface.worst_contrast(WHITE, box)
    assert dark == surface.worst_contrast(WHITE, box) > 10  # white text on near-black
    surface.blend(box, (250, 250, 250), 1.0)
    assert surface.worst_contrast(WHITE, box) < 1.1  # now white on white
    surface.write(*surface.region(box), np.full((80, 80, 3), 20.0, dtype=np.float32))
    assert surface.worst_contrast(WHITE, box) == pytest.approx(dark)
    fresh = worst_contrast(WHITE, surface.luminance((120, 10, 190, 90)))
    assert surface.worst_contrast(WHITE, (120, 10, 190, 90)) == fresh < 1.2
