"""Organiser logos: a flat white or black background is knocked out; a logo whose background
cannot be removed is shown the same way in every layout (its own background as its plate)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pipeline.models import FlyerSpec
from pipeline.render.compose import compose, prepare_logo
from pipeline.render.formats import get_format
from pipeline.render.images import load_image
from pipeline.render.layouts import LAYOUT_NAMES
from pipeline.render.logos import knock_out

from .helpers import TEXTS, check_flyer, photo


def _jpeg_logo(ground: tuple[int, int, int] = (255, 255, 255), hole: bool = True
               ) -> Image.Image:
    """A red ring (with a hole of the background colour inside it) and a blue bar on a flat
    ground, saved as a JPEG and loaded as an upload is."""
    im = Image.new("RGB", (600, 300), ground)
    draw = ImageDraw.Draw(im)
    draw.ellipse((30, 30, 270, 270), fill=(200, 30, 40))
    if hole:
        draw.ellipse((100, 100, 200, 200), fill=ground)
    draw.rectangle((300, 90, 570, 210), fill=(20, 40, 160))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=80)
    return load_image(buf.getvalue(), field="logo")


@pytest.mark.parametrize("ground", [(255, 255, 255), (0, 0, 0)])
def test_flat_background_knocked_out(ground: tuple[int, int, int]) -> None:
    out = np.asarray(knock_out(_jpeg_logo(ground)))
    assert out.shape == (300, 600, 4)
    assert out[2, 2, 3] == 0 and out[297, 597, 3] == 0 and out[150, 285, 3] == 0
    assert out[150, 150, 3] == 255  # the hole inside the ring is not connected: kept
    assert abs(int(out[150, 150, 0]) - ground[0]) < 30
    red, blue = out[150, 50], out[150, 430]
    assert red[3] == 255 and red[0] > 170 and red[1] < 70
    assert blue[3] == 255 and blue[2] > 130 and blue[0] < 60
    rim = out[150, 22:34, 3]  # the ring's anti-aliased outer edge: partly see-through
    assert rim.min() == 0 and rim.max() == 255
    # un-mixed edge colours: no light (or dark) fringe left from the old background
    edge = out[(out[..., 3] > 40) & (out[..., 3] < 215)]
    assert edge.size and (np.abs(edge[:, :3].astype(int) - ground).max(axis=1) > 60).all()


def test_other_logos_left_alone() -> None:
    x = np.linspace(0, 255, 240, dtype=np.float32)
    gradient = Image.fromarray(np.stack([np.broadcast_to(x, (120, 240))] * 3, -1)
                               .astype(np.uint8), "RGB")
    assert np.array_equal(np.asarray(knock_out(gradient)),
                          np.asarray(gradient.convert("RGBA")))
    cutout = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    ImageDraw.Draw(cutout).ellipse((10, 10, 90, 90), fill=(255, 255, 255, 255))
    assert knock_out(cutout).tobytes() == cutout.tobytes()
    picture = photo("chelsea").resize((240, 160))
    assert (np.asarray(knock_out(picture))[..., 3] == 255).all()


@pytest.mark.parametrize("layout", LAYOUT_NAMES)
def test_white_jpeg_logo_never_boxed(layout: str) -> None:
    """The white-background JPEG on a dark photo: never its white rectangle, never a white
    box inside a dark plate. Either bare marks or one white plate."""
    fmt = get_format("instagram_post")
    spec = FlyerSpec(details=TEXTS["short"], logo=prepare_logo(_jpeg_logo(hole=False), fmt))
    flyer = compose(photo("hubble_deep_field"), spec, layout, fmt)
    check_flyer(flyer.image, flyer.manifest)
    logo = next(e for e in flyer.manifest["elements"] if e["role"] == "logo")
    assert logo["treatment"] in ("none", "plate")
    left, top, right, bottom = logo["box"]
    crop = np.asarray(flyer.image.crop((left, top, right, bottom)), dtype=np.int16)
    white = (crop.min(axis=2) > 225).mean()
    if logo["treatment"] == "none":
        assert white < 0.05
    else:  # one plate, white, the marks on it; nothing dark framing it
        assert white > 0.4 and (crop.max(axis=2) < 40).mean() < 0.01


def test_logo_with_its_own_background_is_the_same_everywhere() -> None:
    """A logo whose background is a picture cannot be knocked out: in every layout it is
    shown as it is, corners rounded, never on a second plate."""
    fmt = get_format("instagram_post")
    badge = photo("coffee").resize((300, 200))
    spec = FlyerSpec(details=TEXTS["short"], logo=prepare_logo(badge, fmt))
    seen = set()
    for layout in LAYOUT_NAMES:
        flyer = compose(photo("astronaut"), spec, layout, fmt)
        logo = next(e for e in flyer.manifest["elements"] if e["role"] == "logo")
        seen.add(logo["treatment"])
        left, top, right, bottom = logo["box"]
        shown = np.asarray(flyer.image.crop((left, top, right, bottom)), dtype=np.int16)
        wanted = np.asarray(badge.resize((right - left, bottom - top)), dtype=np.int16)
        h, w = shown.shape[:2]
        middle = (slice(h // 5, h - h // 5), slice(w // 5, w - w // 5))
        assert np.abs(shown[middle] - wanted[middle]).mean() < 12  # the picture itself
        # the corner is rounded away: it shows the picture around the logo, not the badge
        # (a flyer without the logo may be cropped differently, the subject-aware ranking
        # plans for the logo, so the corner is compared with the badge's own corner)
        corner = np.asarray(flyer.image.getpixel((left, top)), dtype=np.int16)
        assert np.abs(corner - wanted[0, 0]).max() > 12
    assert seen == {"own_background"}
