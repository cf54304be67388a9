"""Every element legible, every time: busy real photographs (gravel, grass, the Hubble deep
field) and the procedural backgrounds, every layout. The manifest's measured contrast of each
text element and of the metro icon reaches its threshold, and so do the final pixels."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pipeline.backends.base import PaintRequest
from pipeline.backends.procedural import STYLES, ProceduralBackend
from pipeline.models import FlyerSpec
from pipeline.render.compose import compose
from pipeline.render.formats import get_format
from pipeline.render.layouts import LAYOUT_NAMES
from pipeline.render.legibility import NORMAL_TEXT, pixel_luminance

from .helpers import TEXTS, check_flyer, logo_image, photo


def _metro_icon(grey: int) -> Image.Image:
    """A metro sign whose ink sits at mid luminance: a grey disc with a lighter letter."""
    icon = Image.new("RGBA", (96, 96), (0, 0, 0, 0))
    draw = ImageDraw.Draw(icon)
    draw.ellipse((0, 0, 95, 95), fill=(grey, grey, grey, 255))
    draw.rectangle((30, 24, 66, 72), fill=(min(255, grey + 40),) * 3 + (255,))
    return icon


def _check_all(flyer_image: Image.Image, manifest: dict[str, object]) -> None:
    check_flyer(flyer_image, manifest)  # type: ignore[arg-type]
    for el in manifest["elements"]:  # type: ignore[attr-defined]
        if el["role"] not in ("qr", "logo"):
            assert el["contrast"] >= el["threshold"], el
        if el["role"] == "metro":
            assert el["logo_contrast"] >= el["logo_threshold"] >= el["threshold"], el


@pytest.mark.parametrize("name", ["gravel", "grass", "hubble_deep_field"])
@pytest.mark.parametrize("layout", LAYOUT_NAMES)
def test_busy_photos(layout: str, name: str) -> None:
    spec = FlyerSpec(details=TEXTS["long"], logo=logo_image("RGBA"))
    flyer = compose(photo(name), spec, layout, get_format("instagram_post"))
    _check_all(flyer.image, flyer.manifest)


@pytest.mark.parametrize("layout", ["minimal_type", "headline_top", "centered_poster"])
def test_busy_photo_story(layout: str) -> None:
    spec = FlyerSpec(details=TEXTS["short"], logo=logo_image("RGB"))
    flyer = compose(photo("grass"), spec, layout, get_format("story"))
    _check_all(flyer.image, flyer.manifest)


@pytest.mark.parametrize("style", range(len(STYLES)))
@pytest.mark.parametrize("layout", LAYOUT_NAMES)
def test_procedural_backgrounds(layout: str, style: int) -> None:
    request = PaintRequest(prompt="neon jazz club at night", aspect=(256, 320), seed=style,
                           pixel_budget=256 * 320)
    (generated,) = ProceduralBackend().generate(request).images
    flyer = compose(generated.image, FlyerSpec(details=TEXTS["long"]), layout,
                    get_format("400x500"))
    _check_all(flyer.image, flyer.manifest)


@pytest.mark.parametrize("grey", [110, 120, 130])
@pytest.mark.parametrize("name", ["gravel", "grass"])
def test_mid_grey_metro_icon_reaches_aa(name: str, grey: int) -> None:
    """A metro icon whose ink is mid-luminance has no plate colour at 4.5:1 in near-black
    (it tops out at ~4.35:1): it must get one that does, measured on its own box."""
    ink = float(np.median(pixel_luminance(np.array([[grey, grey, grey]], dtype=np.uint8))))
    assert 0.12 < ink < 0.25
    spec = FlyerSpec(details=TEXTS["long"], metro_logo=_metro_icon(grey))
    flyer = compose(photo(name), spec, "minimal_type", get_format("instagram_post"))
    _check_all(flyer.image, flyer.manifest)
    metro = next(e for e in flyer.manifest["elements"] if e["role"] == "metro")
    assert metro["threshold"] == NORMAL_TEXT
    assert metro["logo_contrast"] >= NORMAL_TEXT
