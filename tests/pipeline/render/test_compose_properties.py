"""Every layout × text kind × orientation: placement, overlap and contrast hold."""

from __future__ import annotations

import pytest

from pipeline.models import FlyerSpec
from pipeline.render.compose import compose
from pipeline.render.formats import get_format
from pipeline.render.layouts import LAYOUT_NAMES

from .helpers import TEXTS, background, check_flyer, logo_image

FORMATS = ("400x500", "480x480", "640x360")


@pytest.mark.parametrize("fmt_name", FORMATS)
@pytest.mark.parametrize("layout", LAYOUT_NAMES)
@pytest.mark.parametrize("kind", sorted(TEXTS))
def test_layout_table(kind: str, layout: str, fmt_name: str) -> None:
    bg = background("dusk" if kind in ("short", "rtl", "emoji") else "light")
    spec = FlyerSpec(details=TEXTS[kind], logo=logo_image("RGBA"),
                     metro_logo=logo_image("RGBA"), palette=("#ff6600",) if kind == "cjk" else ())
    flyer = compose(bg, spec, layout, get_format(fmt_name))
    assert flyer.layout == layout
    check_flyer(flyer.image, flyer.manifest)
    roles = {e["role"] for e in flyer.manifest["elements"]}
    expected = {r for r in ("title", "subtitle", "date", "time", "venue", "metro", "description",
                            "organiser") if getattr(TEXTS[kind], r)}
    assert expected <= roles
    if kind == "emoji":
        assert any("emoji" in w for w in flyer.manifest["warnings"])
        title = next(e for e in flyer.manifest["elements"] if e["role"] == "title")
        assert "🎉" not in title["text"] and "Party" in title["text"]


@pytest.mark.parametrize("layout", LAYOUT_NAMES)
def test_busy_background_still_legible(layout: str) -> None:
    flyer = compose(background("noise"), FlyerSpec(details=TEXTS["long"]), layout,
                    get_format("480x600"))
    check_flyer(flyer.image, flyer.manifest)
    treatments = {e["treatment"] for e in flyer.manifest["elements"] if e["role"] != "qr"}
    assert treatments & {"scrim", "frosted", "panel"}


@pytest.mark.parametrize("fmt_name", ["a5", "instagram_post", "x_post"])
def test_full_size_inside_safe_area(fmt_name: str) -> None:
    fmt = get_format(fmt_name)
    spec = FlyerSpec(details=TEXTS["long"], logo=logo_image("RGBA"), palette=("#1d3557",
                                                                             "#e9c46a"))
    flyer = compose(background("dusk", 512, 640), spec, "bottom_band", fmt)
    check_flyer(flyer.image, flyer.manifest)
    # print: the background reaches into the bleed (no white frame)
    corner = flyer.image.getpixel((1, 1))
    assert isinstance(corner, tuple) and corner != (255, 255, 255)
