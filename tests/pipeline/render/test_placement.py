"""Placement search: layouts say where their blocks may go (anchors, mirroring) as data, auto
and named layouts pick the placement that keeps the subject clear, every placement stays out
of the platform's zones, and the search's scores are the score function's."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from pipeline.models import FlyerSpec
from pipeline.render.autolayout import _Views, edge_energy, rank_layouts
from pipeline.render.compose import compose
from pipeline.render.fitting import fit_layout
from pipeline.render.focal import crop_candidates
from pipeline.render.fonts import get_pairing, list_pairings
from pipeline.render.formats import get_format
from pipeline.render.layouts import (
    LAYOUT_DIR,
    LAYOUT_NAMES,
    TEXT_ROLES,
    Arrangement,
    get_layout,
    load_layout,
)
from pipeline.render.score import CropStack, grid_size, planned, score, score_many
from pipeline.render.see import analyse
from pipeline.render.subject import Subject

from .helpers import TEXTS, background, check_flyer
from .photos import ASTRONAUT_FACE, photo
from .test_focal import meets, on_canvas

SPEC = FlyerSpec(details=TEXTS["short"])
ORIENTED = {"portrait": "instagram_post", "square": "instagram_square", "landscape": "x_post"}


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("name", LAYOUT_NAMES)
def test_every_arrangement_is_a_whole_layout(name: str) -> None:
    layout = get_layout(name)
    for orientation, fmt_name in ORIENTED.items():
        fmt = get_format(fmt_name)
        arrangements = layout.arrangements(fmt)
        assert arrangements[0] == Arrangement()  # the layout as drawn comes first
        assert len(set(arrangements)) == len(arrangements)
        assert layout.arranged(fmt, Arrangement()) is layout
        for arrangement in arrangements:
            variant = layout.arranged(fmt, arrangement).variant(fmt)
            held = sorted(r for b in variant.blocks for r in b.roles)
            assert held == sorted(TEXT_ROLES), (orientation, arrangement)
            boxes = [b.box for b in variant.blocks] + [variant.qr.box, variant.logo.box]
            for i, a in enumerate(boxes):
                assert all(0 <= v <= 1 for v in a)
                for b in boxes[i + 1:]:
                    assert not _overlap(a, b), (name, orientation, arrangement, a, b)
            moved = dict(arrangement.moves)
            for block in variant.blocks:
                assert block.anchor == moved.get(block.id, layout.variant(fmt).blocks[
                    [b.id for b in layout.variant(fmt).blocks].index(block.id)].anchor)
    # the layouts that have anchors or may be mirrored say so in their data
    raw = json.loads((LAYOUT_DIR / f"{name}.json").read_text())
    declared = any(v.get("mirror") or any(b.get("anchors") for b in v["blocks"])
                   for v in raw["variants"].values())
    tried = max(len(layout.arrangements(get_format(f))) for f in ORIENTED.values())
    assert declared == (tried > 1)


def _write(tmp_path: Path, change: dict[str, object]) -> Path:
    raw = json.loads((LAYOUT_DIR / "minimal_type.json").read_text())
    raw["variants"]["portrait"]["blocks"][0].update(change)
    path = tmp_path / "minimal_type.json"
    path.write_text(json.dumps(raw))
    return path


def test_bad_anchor_data_is_refused_clearly(tmp_path: Path) -> None:
    # an anchor that runs into the QR code's region
    bad = {"anchors": [{"name": "low", "box": [0.2, 0.5, 0.9, 1.0], "valign": "bottom"}]}
    with pytest.raises(ValueError, match=r"portrait: regions 'main at low' and 'qr' overlap"):
        load_layout(_write(tmp_path, bad))
    twice = {"anchor": "top", "anchors": [{"name": "top", "box": [0, 0.1, 0.7, 0.5]}]}
    with pytest.raises(ValueError, match="anchor names must differ"):
        load_layout(_write(tmp_path, twice))
    outside = {"anchors": [{"name": "top", "box": [0, 0.1, 1.2, 0.5]}]}
    with pytest.raises(ValueError, match=r"anchors\[0\]: box"):
        load_layout(_write(tmp_path, outside))
    with pytest.raises(ValueError, match="has no anchor 'nowhere'; it has bottom, top"):
        get_layout("minimal_type").variant(get_format("instagram_post")).blocks[0].at("nowhere")


def test_mirrored_placement_is_used_when_the_subject_is_on_the_text_side() -> None:
    """A face at the left edge, where corner_card's card sits: the card moves to the
    right (mirrored), nothing touches the face, and the manifest says so."""
    face = (0.03, 0.3, 0.2, 0.6)
    grid = np.zeros((64, 51), dtype=np.float32)
    grid[19:39, 1:11] = 1.0
    given = Subject(grid, faces=(face,), objects=(face,))
    bg = background("dusk", 512, 640)
    for layout in ("corner_card", "minimal_type"):
        flyer = compose(bg, SPEC, layout, get_format("instagram_post"), subject=given)
        check_flyer(flyer.image, flyer.manifest)
        m = flyer.manifest
        assert m["placement"]["mirrored"] is True, (layout, m["placement"])
        assert m["layout_reason"]["placement"] == m["placement"]
        assert m["subject"]["covered"]["faces"] == 0.0
        box = on_canvas(face, m, bg.size)
        for thing in m["elements"] + m["panels"]:
            assert not meets(box, thing["box"]), (layout, thing, box)
        home = compose(bg, SPEC, layout, get_format("instagram_post"))  # no subject: as drawn
        assert home.manifest["placement"] == {"mirrored": False, "anchors": {}}


FIVE = ("instagram_post", "story", "x_post", "a4", "instagram_square")


@pytest.mark.parametrize("fmt_name", FIVE)
@pytest.mark.parametrize("layout", LAYOUT_NAMES)
def test_named_layouts_keep_the_face_clear_and_visible(layout: str, fmt_name: str) -> None:
    """Every layout, named, over the astronaut: no text, QR code, logo, card or band on her
    face (a scrim's soft edge may reach it), and the detector still finds the face in the
    finished flyer. The centred poster, as drawn, puts its title on her face: its title
    block moves."""
    image = photo("astronaut.png")
    subject = analyse(image)
    fmt = get_format(fmt_name)
    flyer = compose(image, SPEC, layout, fmt, subject=subject)
    m = flyer.manifest
    assert m["layout"] == layout and m["layout_reason"]["mode"] == "fixed"
    face = on_canvas(subject.faces[0], m, image.size)
    for thing in m["elements"] + [p for p in m["panels"] if p["kind"] != "scrim"]:
        assert not meets(face, thing["box"]), (m["placement"], thing)
    if layout == "centered_poster":
        as_drawn = planned(get_layout(layout), fmt, {"title": "x" * 30, "qr": "x"})
        assert any(meets(face, c.box) for c in as_drawn.bounds or ())
        assert m["placement"]["anchors"] == {"main": "low"}
    want = on_canvas(ASTRONAUT_FACE, m, image.size)
    assert face_seen(flyer.image, want), want


def face_seen(image: Image.Image, want: tuple[float, float, float, float]) -> bool:
    """Whether the face detector finds a face meeting ``want`` (canvas px) in ``image``: in
    the whole flyer, or, as a person would look closer, in the part around ``want`` (three
    faces wide and high). The cascade is borderline on a face cut by the canvas's edge: one
    grey level of resampling can flip it on the whole, downscaled flyer."""
    def found_in(part: Image.Image, left: float, top: float) -> bool:
        return any(meets((left + f[0] * part.width, top + f[1] * part.height,
                          left + f[2] * part.width, top + f[3] * part.height), want)
                   for f in analyse(part).faces)

    if found_in(image, 0, 0):
        return True
    w, h = want[2] - want[0], want[3] - want[1]
    box = (round(want[0] - w), round(want[1] - h), round(want[2] + w), round(want[3] + h))
    inside = (max(0, box[0]), max(0, box[1]), min(image.width, box[2]),
              min(image.height, box[3]))
    # where the face runs off the canvas (a forehead cut by the top edge), the edge rows
    # are repeated so that the detector's window still fits
    part = cv2.copyMakeBorder(np.asarray(image.crop(inside)), inside[1] - box[1],
                              box[3] - inside[3], inside[0] - box[0], box[2] - inside[2],
                              cv2.BORDER_REPLICATE)
    return found_in(Image.fromarray(part), box[0], box[1])


@pytest.mark.parametrize("name", LAYOUT_NAMES)
def test_no_placement_enters_the_story_zones(name: str) -> None:
    """Every arrangement of every layout, fitted for the story format with long texts and a
    QR code: text, metro icon, QR code and logo region stay out of the top and bottom bands."""
    fmt = get_format("story")
    layout = get_layout(name)
    details = TEXTS["long"]
    texts = {r: getattr(details, r) for r in TEXT_ROLES if getattr(details, r)}
    pairing = get_pairing(list_pairings()[0]["name"])
    zones = fmt.zone_boxes
    assert zones
    for arrangement in layout.arrangements(fmt):
        fitted = fit_layout(layout.arranged(fmt, arrangement), fmt, texts, (), pairing, None,
                            None, details.url)
        boxes = [item.box for items in fitted.placed.values() for item in items]
        boxes += [fitted.logo_region, *fitted.regions.values()]
        if fitted.qr is not None:
            boxes.append(fitted.qr.box)
        for box in boxes:
            for zone in zones:
                assert not _overlap(box, zone), (name, arrangement, box, zone)


def test_score_many_gives_the_terms_of_score_for_every_crop() -> None:
    image = photo("camera.png")
    subject = analyse(image)
    fmt = get_format("instagram_post")
    layout = get_layout("minimal_type")
    energy = edge_energy(image)
    views = _Views(subject, energy, image.size)
    content = {"title": "Open air cinema", "date": "Fri", "qr": "https://example.org"}
    for arrangement in layout.arrangements(fmt):
        candidate = planned(layout.arranged(fmt, arrangement), fmt, content)
        crops = crop_candidates(image.size, (fmt.width, fmt.height), subject)
        grid = grid_size(candidate.picture)
        views.prepare([c for c, _ in crops], grid)
        seen = [views.get(c, grid) for c, _ in crops]
        many = score_many(candidate, CropStack.of([s for s, _ in seen], [e for _, e in seen]))
        for i, (view, surface) in enumerate(seen):
            one = score(candidate, view, surface)
            for key, value in one.items():
                assert many[key][i] == pytest.approx(value, abs=1e-6), (key, i)


def test_the_search_prunes_and_records_what_it_did() -> None:
    """On a calm picture the layout as drawn is already as good as a placement can be, so
    the others are not scored (pruned by the cheap bound); the manifest records it."""
    bg = background("dusk", 512, 640)
    subject = analyse(bg)
    content = {"title": "Jazz", "date": "Fri", "qr": "https://example.org"}
    ranked = rank_layouts(bg, get_format("instagram_post"), subject, content, ("minimal_type",))
    search = ranked[0].reason["search"]
    assert search["placements_pruned"] >= 1  # type: ignore[index]
    assert search["placements_scored"] + search["placements_pruned"] == len(  # type: ignore[index]
        get_layout("minimal_type").arrangements(get_format("instagram_post")))
    assert ranked[0].placement == Arrangement()


def test_rtl_titles_only_search_unmirrored_placements() -> None:
    """A right-to-left title mirrors the layout itself; the search does not mirror it back."""
    image = photo("astronaut.png")
    subject = analyse(image)
    content = {"title": "ليلة الجاز", "qr": "https://example.org"}
    for choice in rank_layouts(image, get_format("instagram_post"), subject, content,
                               mirror=True):
        assert choice.placement.mirror is False


def test_auto_varies_only_among_close_choices_that_keep_faces_clear() -> None:
    image = photo("astronaut.png")
    subject = analyse(image)
    for fmt_name in ("instagram_post", "story", "x_post", "a4", "instagram_square"):
        flyer = compose(image, SPEC, "auto", get_format(fmt_name), subject=subject)
        m = flyer.manifest
        assert m["subject"]["covered"]["faces"] == 0.0
        scores = m["layout_scores"]
        close = m["layout_reason"].get("close", [flyer.layout])
        assert flyer.layout in close
        best = min(s["total"] for s in scores.values())
        for name in close:
            assert scores[name]["faces"] == 0.0 and scores[name]["total"] <= best + 0.1 + 1e-6
    # a calm picture: several layouts are close, and which one wins varies with the event
    calm = set()
    bg = background("dusk", 512, 640)
    for title in ("Jazz Night", "Open Air Cinema", "Poetry Slam", "Harbour Market"):
        spec = FlyerSpec(details=replace(TEXTS["short"], title=title))
        flyer = compose(bg, spec, "auto", get_format("instagram_post"))
        assert flyer.layout in flyer.manifest["layout_reason"]["close"]
        again = compose(bg, spec, "auto", get_format("instagram_post"))
        assert again.layout == flyer.layout  # the same inputs, the same choice
        calm.add(flyer.layout)
    assert len(calm) >= 2, calm


def test_the_astronaut_keeps_her_hair() -> None:
    """The crop keeps the whole head: her hair starts 3 % below the top of the photograph,
    above the detector's face box by half a face; neither auto nor split_panel (which
    re-frames her into its picture half) cuts into it. (A named layout may trim the hair
    when that is the only way to keep her face clear of its text.)"""
    image = photo("astronaut.png")
    subject = analyse(image)
    hair_top = 0.03 * image.height
    for fmt_name in ("instagram_post", "story", "x_post", "a4", "instagram_square"):
        for layout in ("auto", "split_panel"):
            flyer = compose(image, SPEC, layout, get_format(fmt_name), subject=subject)
            crop = flyer.manifest["subject"]["crop"]
            assert crop[1] <= hair_top, (fmt_name, layout, crop)


def test_face_seen_needs_the_face_uncovered() -> None:
    """The check above fails for a flyer whose face is covered, closer look or not."""
    image = photo("astronaut.png")
    flyer = compose(image, SPEC, "bottom_band", get_format("instagram_post"),
                    subject=analyse(image))
    want = on_canvas(ASTRONAUT_FACE, flyer.manifest, image.size)
    assert face_seen(flyer.image, want)
    covered = flyer.image.copy()
    ImageDraw.Draw(covered).rectangle(want, fill=(120, 60, 40))
    assert not face_seen(covered, want)
