"""compose(): QR decodes from the final flyer, logos of every mode, errors, determinism, auto."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import zxingcpp
from PIL import Image

from pipeline.errors import InvalidRequest, RenderError
from pipeline.models import EventDetails, FlyerSpec
from pipeline.render.compose import compose
from pipeline.render.formats import FORMATS, get_format
from pipeline.render.layouts import LAYOUT_NAMES

from .helpers import TEXTS, background, check_flyer, logo_image

URL = "https://example.org/events/summer-jazz-2025?ref=flyer"
GOLDEN = Path(__file__).with_name("golden")


@pytest.mark.parametrize("fmt_name", [*FORMATS, "400x400"])
def test_qr_decodes_from_final_flyer(fmt_name: str) -> None:
    details = EventDetails(title="Jazz Night", date="Sat 14 June", venue="Quay 3", url=URL)
    flyer = compose(background("noise", 320, 400), FlyerSpec(details=details), "minimal_type",
                    get_format(fmt_name))
    texts = [r.text for r in zxingcpp.read_barcodes(flyer.image)]
    assert URL in texts
    qr = next(e for e in flyer.manifest["elements"] if e["role"] == "qr")
    fmt = get_format(fmt_name)
    side = qr["box"][2] - qr["box"][0]
    if fmt.print:
        assert side / fmt.dpi * 25.4 >= 15  # at least 15 mm printed
    check_flyer(flyer.image, flyer.manifest)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "L", "LA", "CMYK"])
def test_logo_every_mode(mode: str) -> None:
    spec = FlyerSpec(details=TEXTS["short"], logo=logo_image(mode), metro_logo=logo_image(mode))
    flyer = compose(background("dusk"), spec, "headline_top", get_format("400x500"))
    check_flyer(flyer.image, flyer.manifest)
    logo = next(e for e in flyer.manifest["elements"] if e["role"] == "logo")
    left, top, right, bottom = logo["box"]
    assert abs((right - left) / (bottom - top) - 2.0) < 0.1  # aspect kept (logo is 240x120)
    crop = np.asarray(flyer.image.crop((left, top, right, bottom)), dtype=np.int16)
    red = (crop[..., 0] > 150) & (crop[..., 1] < 90)
    if mode in ("L", "LA"):
        h, w = red.shape  # the plate's rounded corners show the background: look inside
        assert not red[h // 5:h - h // 5, w // 5:w - w // 5].any()
    else:
        assert red.mean() > 0.1  # the red disc is really there
    metro = next(e for e in flyer.manifest["elements"] if e["role"] == "metro")
    lb = metro["logo_box"]
    assert lb[3] - lb[1] <= metro["size"] and lb[3] - lb[1] >= 0.8 * metro["size"]


def test_transparent_logo_composited_over_background() -> None:
    spec = FlyerSpec(details=TEXTS["short"], logo=logo_image("RGBA"))
    flyer = compose(background("light"), spec, "headline_top", get_format("400x500"))
    logo = next(e for e in flyer.manifest["elements"] if e["role"] == "logo")
    assert logo["treatment"] == "none"
    _, top, right, _ = logo["box"]
    corner = flyer.image.getpixel((right - 2, top + 2))  # transparent corner shows the background
    assert isinstance(corner, tuple) and min(corner) > 180


def test_metro_without_logo_gets_a_drawn_roundel() -> None:
    flyer = compose(background("dusk"), FlyerSpec(details=TEXTS["short"]), "headline_top",
                    get_format("400x500"))
    metro = next(e for e in flyer.manifest["elements"] if e["role"] == "metro")
    assert metro["text"] == "Bastille" and metro["logo_treatment"] == "roundel"
    left, top, right, bottom = metro["logo_box"]
    assert metro["box"][0] <= left and right <= metro["box"][2]  # the element box covers it
    assert 0.8 * metro["size"] <= bottom - top <= metro["size"]
    assert metro["logo_contrast"] >= metro["threshold"]
    colour = tuple(int(metro["colour"][i:i + 2], 16) for i in (1, 3, 5))
    crop = np.asarray(flyer.image.crop((left, top, right, bottom)), dtype=np.int16)
    ink = (np.abs(crop - np.array(colour)).sum(axis=-1) < 40).mean()
    assert 0.25 < ink < 0.75  # a disc in the text colour with an "M" knocked out of it


def test_too_long_text_names_the_field() -> None:
    details = EventDetails(title="Jazz", description=" ".join(["improvisation"] * 40))
    with pytest.raises(RenderError) as err:
        compose(background("dusk"), FlyerSpec(details=details), "centered_poster",
                get_format("400x400"))
    assert err.value.field == "description"
    assert "description is too long" in str(err.value) and "characters" in str(err.value)


def test_unknown_layout_and_pairing() -> None:
    spec = FlyerSpec(details=TEXTS["short"])
    with pytest.raises(InvalidRequest) as err:
        compose(background("dusk"), spec, "diagonal", get_format("400x500"))
    assert err.value.field == "layout" and "headline_top" in str(err.value)
    bad = FlyerSpec(details=TEXTS["short"], font_pairing="comic")
    with pytest.raises(InvalidRequest) as err:
        compose(background("dusk"), bad, "headline_top", get_format("400x500"))
    assert err.value.field == "font_pairing" and "default" in str(err.value)


def test_deterministic_and_json_manifest() -> None:
    spec = FlyerSpec(details=TEXTS["rtl"], logo=logo_image("P"), palette=("#e63946",),
                     provenance={"seed": 3, "backend": "procedural"})
    a = compose(background("noise"), spec, "auto", get_format("480x600"))
    b = compose(background("noise"), spec, "auto", get_format("480x600"))
    assert a.image.tobytes() == b.image.tobytes()
    assert a.manifest == b.manifest
    text = json.dumps(a.manifest)
    assert a.manifest["provenance"] == {"seed": 3, "backend": "procedural"}
    assert "calm_scores" in a.manifest["layout_reason"] and "layout" in text


def test_auto_picks_the_calm_bottom() -> None:
    flyer = compose(background("busy_top", 320, 400), FlyerSpec(details=TEXTS["short"]),
                    "auto", get_format("400x500"))
    reason = flyer.manifest["layout_reason"]
    assert reason["chosen"] == flyer.layout
    assert set(reason["calm_scores"]) == set(LAYOUT_NAMES)
    for el in flyer.manifest["elements"]:
        if el["role"] in ("title", "subtitle", "date", "description"):
            assert (el["box"][1] + el["box"][3]) / 2 > 250, (flyer.layout, el)


@pytest.mark.parametrize("pairing", ["default", "classic", "bold_display", "condensed",
                                     "friendly"])
def test_pairings_render(pairing: str) -> None:
    spec = FlyerSpec(details=TEXTS["long"], font_pairing=pairing)
    flyer = compose(background("dusk"), spec, "corner_card", get_format("480x600"))
    assert flyer.manifest["fonts"]["pairing"] == pairing
    check_flyer(flyer.image, flyer.manifest)


def test_cover_fit_no_bars_no_distortion() -> None:
    bg = Image.new("RGB", (200, 100), (200, 0, 0))
    bg.paste((0, 0, 200), (0, 0, 20, 100))  # a blue strip at the left edge
    flyer = compose(bg, FlyerSpec(details=EventDetails(title="x")), "minimal_type",
                    get_format("400x500"))
    arr = np.asarray(flyer.image).astype(int)
    # the crop may keep the strip or leave it out, but never bars or a stretched picture:
    # the canvas is 5x the source's height, so a kept strip is 5 x 20 px wide (6.25 x 20
    # when the crop zooms in to 0.8)
    row = arr[5]
    blue = int(((row[:, 2] > 150) & (row[:, 0] < 60)).sum())
    assert blue == 0 or min(abs(blue - 100), abs(blue - 125)) <= 2, blue
    assert not (arr.sum(axis=2) == 0).all(axis=0).any()  # no black column
    assert not (arr.sum(axis=2) == 0).all(axis=1).any()  # no black row


GOLDEN_CASES = {
    "headline_top_short": ("headline_top", "short", "dusk"),
    "split_panel_rtl": ("split_panel", "rtl", "light"),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_golden(name: str) -> None:
    layout, kind, bg = GOLDEN_CASES[name]
    spec = FlyerSpec(details=TEXTS[kind], logo=logo_image("RGBA"), palette=("#264653",))
    img = compose(background(bg), spec, layout, get_format("400x500")).image
    path = GOLDEN / f"{name}.png"
    if os.environ.get("UPDATE_GOLDEN") == "1" or not path.exists():
        img.save(path, optimize=True)
    want = np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)
    got = np.asarray(img, dtype=np.int16)
    assert want.shape == got.shape
    assert float(np.abs(want - got).mean()) < 2.0, "regenerate with UPDATE_GOLDEN=1 if intended"
