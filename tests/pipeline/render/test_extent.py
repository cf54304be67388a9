"""The main object's extent: the motorcycle with its wheels, not only its red tank. Measured
on real photographs (``see``), stored with the subject, scored (``part``: cut off by the crop;
``object``: under text or panels), and in the finished flyers: the whole motorcycle in every
format ``auto`` makes."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.models import FlyerSpec
from pipeline.render.autolayout import _seed
from pipeline.render.compose import compose
from pipeline.render.focal import crop_candidates, filled
from pipeline.render.formats import get_format
from pipeline.render.score import Candidate, Cover, CropStack, crop_terms, score, score_many
from pipeline.render.see import analyse
from pipeline.render.subject import Subject

from .helpers import TEXTS, background, check_flyer
from .photos import photo

MOTORCYCLE = (0.16, 0.17, 0.93, 0.90)
"""The motorcycle in motorcycle_left.png (741 x 500), rear tyre to front tyre, mirror to the
tyres' contact with the floor, as a person would draw it."""
FORMATS = ("instagram_post", "story", "x_post", "a4", "instagram_square")


def _inside(box: tuple[float, ...], outer: tuple[float, ...], slack: float) -> bool:
    return (box[0] >= outer[0] - slack and box[1] >= outer[1] - slack
            and box[2] <= outer[2] + slack and box[3] <= outer[3] + slack)


def test_the_motorcycle_reaches_its_wheels() -> None:
    """The salient core is the red tank and engine; the extent takes in the dark tyres on
    the grey floor (hardly salient) and stays off the shelves behind."""
    subject = analyse(photo("motorcycle_left.png"))
    core, extent = subject.objects[0], subject.extent
    assert extent is not None
    assert core[3] < 0.7  # the core stops above the wheels' lower half...
    assert extent[3] >= 0.85 and extent[0] <= MOTORCYCLE[0] + 0.02  # ...the extent does not
    assert extent[2] >= 0.85
    assert _inside(core, extent, 0.0)
    assert extent[1] >= 0.1  # not up to the top shelf
    assert subject.extent == analyse(photo("motorcycle_left.png")).extent  # deterministic


@pytest.mark.parametrize("name", ["astronaut.png", "camera.png", "hubble_deep_field.jpg",
                                  "moon.png", "gravel.png", "brick.png"])
def test_no_extent_for_people_or_textures(name: str) -> None:
    """People have their own boxes (faces, the body under them); a texture or a star field
    has no object standing out, so nothing is kept whole on its behalf."""
    assert analyse(photo(name)).extent is None


def test_no_extent_on_a_calm_painting() -> None:
    assert analyse(background("dusk")).extent is None


def test_the_extent_is_stored_reframed_and_left_out_of_the_seed() -> None:
    subject = analyse(photo("motorcycle_left.png"))
    back = Subject.decode(subject.encode())
    assert back.extent == subject.extent and back.objects == subject.objects
    older = Subject.decode(subject.encode(extent=False))  # stored before it was measured
    assert older.extent is None and older.objects == subject.objects
    # the flyers' seeded pick among close layouts stays what it was
    fmt = get_format("x_post")
    assert _seed(subject, fmt, {"title": "x"}) == _seed(older, fmt, {"title": "x"})
    assert subject.describe()["extent"] == list(subject.extent or ())
    # through a crop: fractions of the crop, not clipped (how far the object reaches)
    view = subject.reframe((0.0, 0.5, 1.0, 1.0), (32, 32))
    extent = subject.extent
    assert extent is not None and view.extent is not None
    assert view.extent[1] == pytest.approx((extent[1] - 0.5) / 0.5) and view.extent[1] < 0


def _object_subject() -> Subject:
    """A small salient core (the focus) in a wide extent."""
    sal = np.zeros((40, 64), dtype=np.float32)
    sal[16:24, 28:36] = 1.0
    return Subject(sal, (), ((0.44, 0.4, 0.56, 0.6),), (0.1, 0.2, 0.9, 0.8))


def test_part_counts_the_extent_left_out_of_the_crop() -> None:
    subject = _object_subject()
    assert crop_terms(subject, (0.0, 0.0, 1.0, 1.0), 1.0)["part"] == 0.0
    half = crop_terms(subject, (0.5, 0.0, 1.0, 1.0), 1.0)["part"]
    assert half == pytest.approx(0.5)
    no_extent = Subject(subject.saliency, (), subject.objects)
    assert crop_terms(no_extent, (0.5, 0.0, 1.0, 1.0), 1.0)["part"] == 0.0


def test_object_counts_covers_over_the_extent_whatever_its_saliency() -> None:
    """A card over the faint part of the object (no salient mass under it) still counts;
    one beside the object does not; the bounds count, as for faces."""
    subject = _object_subject()
    size = (640, 400)
    energy = np.zeros(subject.saliency.shape)

    def terms(*covers: Cover, bounds: tuple[Cover, ...] | None = None) -> dict[str, float]:
        return score(Candidate("t", size, (0, 0, *size), covers, bounds=bounds),
                     subject, energy)

    faint = Cover((64, 80, 256, 320), "panel", 0.9)  # 3/8 of the extent, no saliency
    hit = terms(faint)
    assert hit["occ"] == 0.0 and hit["object"] == pytest.approx(0.375, abs=0.03)
    assert terms(Cover((600, 0, 640, 60), "text"))["object"] == 0.0
    reach = terms(Cover((600, 0, 640, 60), "text"), bounds=(faint,))
    assert reach["object"] == pytest.approx(hit["object"])
    # score_many agrees with score, crop by crop
    stack = CropStack.of([subject], [energy])
    candidate = Candidate("t", size, (0, 0, *size), (faint,))
    assert score_many(candidate, stack)["object"][0] == pytest.approx(hit["object"])


def test_filled_crops_are_offered_when_only_the_extent_cannot_fit() -> None:
    """The focus fits a square crop of a wide picture; the extent does not: filled crops
    (the picture whole, a backdrop around it) join the candidates."""
    subject = _object_subject()
    src, square = (1000, 400), (600, 600)
    crops = crop_candidates(src, square, subject)
    assert any(filled(c, src) > 0 for c, _ in crops)
    narrow = Subject(subject.saliency, (), subject.objects, (0.4, 0.3, 0.6, 0.7))
    assert not any(filled(c, src) > 0 for c, _ in crop_candidates(src, square, narrow))


@pytest.mark.parametrize("fmt_name", FORMATS)
def test_auto_shows_the_whole_motorcycle(fmt_name: str) -> None:
    """In every format, auto's flyer keeps (nearly) all of the motorcycle in the picture
    and its text and panels off it: a wheel cut off, or a card over the tyres, was what
    auto did while it saw only the tank."""
    bike = photo("motorcycle_left.png")
    flyer = compose(bike, FlyerSpec(details=TEXTS["short"]), "auto", get_format(fmt_name),
                    subject=analyse(bike))
    check_flyer(flyer.image, flyer.manifest)
    terms = flyer.manifest["layout_scores"][flyer.layout]
    assert terms["part"] <= 0.2, terms  # at most a sliver of the extent cut off
    assert terms["object"] <= 0.1, terms  # and (nearly) nothing laid over it
