"""Filled crops: when no crop of the format's ratio can hold the subject whole (a landscape
photograph's subject on a story), the picture is shown whole across its short side on a
backdrop continuing its own edge colours, it fades into it, and text keeps off the line where
the two meet."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PIL import Image

from pipeline.models import FlyerSpec
from pipeline.render.autolayout import EDGE_ENERGY, _with_edges
from pipeline.render.compose import compose
from pipeline.render.focal import crop_candidates, filled
from pipeline.render.formats import get_format
from pipeline.render.resample import FEATHER, enlarge, fill_out
from pipeline.render.score import Candidate, Cover, _grids, _seam_counts, crop_terms, seams
from pipeline.render.see import analyse

from .helpers import TEXTS, check_flyer
from .photos import CAT_EYES, photo

SPEC = FlyerSpec(details=TEXTS["short"])


def _focus_px(subject: Any, size: tuple[int, int]) -> tuple[float, ...]:
    f = subject.focus()
    return (f[0] * size[0], f[1] * size[1], f[2] * size[0], f[3] * size[1])


def test_filled_crops_only_where_no_crop_holds_the_subject() -> None:
    cat = photo("chelsea.png")
    subject = analyse(cat)
    story = get_format("story")
    crops = crop_candidates(cat.size, (story.width, story.height), subject)
    beyond = [box for box, _ in crops if filled(box, cat.size)]
    assert beyond, "a 9:16 crop of the 3:2 cat photo cuts her face: filled crops are offered"
    focus = _focus_px(subject, cat.size)
    for box in beyond:  # the whole width, the whole face, the story's ratio
        assert box[0] == 0 and box[2] == cat.width
        assert box[1] <= focus[1] and focus[3] <= box[3]
        assert abs((box[2] - box[0]) / (box[3] - box[1]) - story.width / story.height) < 1e-6
    assert crop_terms(subject, (0.0, -0.5, 1.0, 1.5), 1.0)["backdrop"] == pytest.approx(0.5)
    # the same photo in its own shape, and a portrait in a portrait format: never filled
    post = get_format("x_post")
    assert not any(filled(b, cat.size) for b, _ in
                   crop_candidates(cat.size, (post.width, post.height), subject))
    astronaut = photo("astronaut.png")
    square = get_format("instagram_post")
    assert not any(filled(b, astronaut.size) for b, _ in crop_candidates(
        astronaut.size, (square.width, square.height), analyse(astronaut)))


def test_fill_out_keeps_the_picture_sharp_on_a_calm_backdrop() -> None:
    cat = photo("chelsea.png")
    box = (0.0, -250.0, 451.0, 550.0)  # the picture 250 px down a 451 x 800 crop
    out = fill_out(cat, (540, 958), box)
    assert out.size == (540, 958) and out.mode == "RGB"
    scale = 540 / 451
    top, bottom = round(250 * scale), round(550 * scale)
    inside = enlarge(cat, (540, bottom - top), (0.0, 0.0, 451.0, 300.0))
    fade = round(FEATHER * 540)  # the picture fades into the backdrop over its edge rows
    assert np.array_equal(np.asarray(out)[top + fade:bottom - fade],
                          np.asarray(inside)[fade:-fade])

    def busy(rows: np.ndarray) -> float:
        grey = rows.astype(np.float32).mean(axis=2)
        return float(np.abs(np.diff(grey, axis=1)).mean())

    pixels = np.asarray(out)
    assert busy(pixels[: top - 4]) < 0.2 * busy(pixels[top:bottom])
    assert busy(pixels[bottom + 4:]) < 0.2 * busy(pixels[top:bottom])
    # the backdrop is the picture's own colours, not a flat fill or black
    mean_back = pixels[: top - 4].reshape(-1, 3).mean(axis=0)
    mean_cat = np.asarray(cat).reshape(-1, 3).mean(axis=0)
    assert np.abs(mean_back - mean_cat).max() < 40
    # no break at the join: the rows either side of each edge are alike (a hard paste on the
    # old blurred copy of the whole picture differed by ~36 levels a pixel here, now ~1.5)
    grey = pixels.astype(np.float32).mean(axis=2)
    for edge in (top, bottom):
        assert np.abs(grey[edge - 2] - grey[edge + 1]).mean() < 6
    # away from the picture the backdrop settles into one calm colour
    assert float(pixels[:40].astype(np.float32).std(axis=(0, 1)).max()) < 12
    with pytest.raises(ValueError):
        fill_out(cat.convert("L"), (10, 10), box)


def test_covers_across_a_filled_crops_edge_count_unless_a_band_hides_it() -> None:
    """``seam``: a card or text block across the line where the picture meets its
    backdrop counts (each), one beside it does not, a panel along the whole line hides it."""
    size = (1000, 1000)
    crop = (0.0, -0.25, 1.0, 1.25)  # the picture from 1/6 to 5/6 of the height
    lines = seams(crop)[None]
    assert lines[0, 0] == pytest.approx([1 / 6, 5 / 6]) and np.isnan(lines[0, 1]).all()
    assert np.isnan(seams((0.1, 0.1, 0.9, 0.9))).all()  # an ordinary crop shows no edge

    def count(*covers: Cover) -> float:
        candidate = Candidate("t", size, (0, 0, *size), covers)
        return float(_seam_counts(_grids(candidate, (64, 64)), lines)[0])

    card = Cover((50, 600, 500, 950), "panel", 0.85)
    text = Cover((80, 630, 470, 920), "text")
    assert count(card, text) == 2  # across the lower edge (833 px)
    assert count(Cover((50, 860, 500, 990), "text")) == 0  # wholly on the backdrop
    band = Cover((0, 600, 1000, 1000), "panel", 0.9)
    assert count(band, text) == 0  # the band hides the line
    assert count(Cover((0, 600, 1000, 700), "panel", 0.9), text) == 1  # not that line


def test_the_picture_edge_is_busy_to_the_scores() -> None:
    calm = np.zeros((64, 36), dtype=np.float32)
    assert _with_edges(calm, (0.1, 0.1, 0.9, 0.9)) is calm  # an ordinary crop: unchanged
    marked = _with_edges(calm, (0.0, -0.5, 1.0, 1.5))  # edges at 1/4 and 3/4 of the height
    rows = np.flatnonzero(marked.max(axis=1) >= EDGE_ENERGY)
    assert list(rows) == [*range(14, 19), *range(46, 51)]  # rows 16 and 48, 2 cells each side


@pytest.mark.parametrize("layout", ["auto", "headline_top", "minimal_type", "corner_card",
                                    "bottom_band"])
def test_a_story_from_a_landscape_photo_keeps_the_whole_cat(layout: str) -> None:
    cat = photo("chelsea.png")
    subject = analyse(cat)
    fmt = get_format("story")
    flyer = compose(cat, SPEC, layout, fmt, subject)
    check_flyer(flyer.image, flyer.manifest)
    record = flyer.manifest["subject"]
    crop = record["crop"]
    focus = _focus_px(subject, cat.size)
    assert crop[0] <= focus[0] + 0.5 and focus[2] <= crop[2] + 0.5
    assert crop[1] <= focus[1] + 0.5 and focus[3] <= crop[3] + 0.5
    assert record["backdrop"] > 0.3 and record["upscale"] < 2.5  # was 6.4x, cut at the eyes
    # the subject is shown as painted: nothing drawn over it (a joint scrim's box may span
    # it, as the manifest's "covered" counts, but its tint follows the text blocks)
    scale = fmt.width / (crop[2] - crop[0])
    on = [round((focus[0] - crop[0]) * scale), round((focus[1] - crop[1]) * scale),
          round((focus[2] - crop[0]) * scale), round((focus[3] - crop[1]) * scale)]
    bare = np.asarray(fill_out(cat, (fmt.width, fmt.height), tuple(crop)), dtype=np.float32)
    shown = np.asarray(flyer.image, dtype=np.float32)
    region = (slice(max(0, on[1]), on[3]), slice(max(0, on[0]), on[2]))
    assert float(np.abs(shown[region] - bare[region]).mean()) < 3.0
    # both eyes are on the canvas, and no text straddles where the photo meets its backdrop
    for ex, ey in CAT_EYES:
        y = (ey * cat.height - crop[1]) * scale
        assert 0 < (ex * cat.width - crop[0]) * scale < fmt.width and 0 < y < fmt.height
    edges = [(0 - crop[1]) * scale, (cat.height - crop[1]) * scale]
    for element in flyer.manifest["elements"]:
        if element["role"] in ("title", "subtitle", "date", "time", "venue", "metro",
                               "description", "url", "organiser", "details"):
            top, bottom = element["box"][1], element["box"][3]
            assert not any(top < edge < bottom for edge in edges), (element, edges)


def test_a_big_upload_is_shrunk_into_its_band() -> None:
    wide = photo("chelsea.png").resize((2706, 1800), Image.Resampling.BICUBIC)
    fmt = get_format("story")
    flyer = compose(wide, SPEC, "auto", fmt, analyse(wide))
    record = flyer.manifest["subject"]
    assert record["backdrop"] > 0.3 and record["upscale"] < 1.0
    check_flyer(flyer.image, flyer.manifest)


@pytest.mark.parametrize("size", [(1, 1), (50, 1), (1, 50), (3000, 20), (40, 900)])
@pytest.mark.parametrize("fmt_name", ["story", "x_post", "a4"])
def test_any_strip_or_dot_composes(size: tuple[int, int], fmt_name: str) -> None:
    """An upload of 1 px or a thin strip made np.gradient fail (a ValueError, not a clear
    answer): every picture the upload checks let through composes."""
    strip = photo("chelsea.png").resize(size, Image.Resampling.BOX)
    flyer = compose(strip, SPEC, "auto", get_format(fmt_name))
    check_flyer(flyer.image, flyer.manifest)
