"""Score a layout candidate against what the picture shows.

``score(candidate, subject, surface) -> dict of terms`` is the one function the layout search
(and any later placement search) ranks by. ``subject`` and ``surface`` are the picture *as the
candidate shows it*: ``Subject.reframe(crop)`` and the edge energy resampled over the same crop
(``subject.resample``), on the same small grid. The terms, in PosterLayout's words where they
have one:

* ``faces``: share of the heads' area (``Subject.heads``: each face with hair and chin)
  under anything (text, panel, card, band, scrim, QR, logo), whatever the panel's opacity:
  an opaque card over a face hides it just as well;
  measured against the candidate's ``bounds`` when its covers are estimates, so a face kept
  clear here stays clear once the text is fitted; ``faces_likely`` measures the same against
  the estimated covers (it ranks the placements where no bound keeps the faces clear);
* ``object``: share of the main object's extent (``Subject.extent``: the object with its
  faint parts, a motorcycle's tyres on a grey floor) under anything, measured against the
  bounds like ``faces``: what ``occ`` misses where the object is hardly salient;
* ``occ``: share of the salient mass under anything (Occ); it counts in the total in
  proportion to the picture's ``presence`` (``crop_terms``: how much subject the picture has
  at all, its mean saliency over ``PRESENCE_FULL``, at most 1): covering half of a faint glow
  matters less than covering half of a person;
* ``rea``: mean edge energy under text, damped by the opacity of a panel under it (Rea: the
  calm-background term auto used before, kept);
* ``hidden``: share of the canvas the picture does not fill (a split layout's colour half:
  the subject is shown smaller; without it a split layout would always win);
* ``uti``: share of the non-salient area used (Uti, higher is better; reported, not ranked);
* ``seam``: on a filled crop (``focal``: the picture whole, its edge colours continued
  beyond), how many covers straddle the line where the picture meets its backdrop
  (``resample.fill_out`` fades one into the other, so a card across the join no longer shows
  a hard line through it, but one wholly on either side still sits better): light, so it
  only decides between near equals; a panel along the whole line (a band) hides it and
  counts none.

``crop_terms`` adds what the crop itself costs (faces cut off, salient mass left out, the
object's extent cut off (``part``), zooming in, moving off centre); ``object`` and ``part``,
like ``occ`` and ``lost``, count in proportion to the picture's presence; ``moved`` counts
how far a placement strays from the layout as drawn (mirrored, blocks at other anchors: a move
must earn its keep) and ``squeeze`` how much more its title must shrink than as drawn
(``Candidate.shrink``: a placement that dodges the subject by squeezing the title pays for
it); ``total`` weighs them all (lower is better). ``overlap`` and ``alignment`` (Ove, Ali)
measure a finished flyer's elements for benchmarks and manifests.

``score_many`` gives the same terms for one candidate over many crops at once (a
:class:`CropStack`: every crop's view of the picture flattened into rows, so each term is one
matrix-vector product); the placement search scores every layout × placement × crop with it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from .estimate import estimate_fit
from .focal import filled
from .formats import Format
from .geometry import Box
from .layouts import Layout, Variant, pixel_box
from .subject import FracBox, Subject, box_weights

__all__ = [
    "WEIGHTS",
    "Candidate",
    "Cover",
    "CropStack",
    "alignment",
    "crop_terms",
    "grid_size",
    "overlap",
    "picture_box",
    "planned",
    "score",
    "score_many",
    "seams",
    "total",
]

GRID_SIDE = 64
"""Long side (cells) of the grid a candidate is scored on."""
PAD = 0.03
"""Padding around a block's text (panels, cards, scrims), as a share of the short side."""
QR_SHARE = 0.2
"""Largest QR side as a share of the canvas's short side (as ``paint.place_qr``)."""
WEIGHTS: dict[str, float] = {
    "faces": 20.0,   # a face under anything loses to any placement that keeps it clear
    "faces_likely": 10.0,  # where none can, the least likely cover
    "cut": 40.0,     # cutting a face off is worse still than covering it
    "trim": 3.0,     # trimming the hair or chin: only to keep the face itself clear
    "object": 0.7,   # the main object's extent under anything (bounds): its faint parts too
    "occ": 1.0,
    "rea": 3.0,
    "lost": 1.0,
    "part": 0.7,     # the main object's extent cut off by the crop (its faint parts too)
    "hidden": 0.6,   # showing the picture smaller (a split layout) is a real cost too
    "zoom": 1.0,
    "shift": 1.0,
    "backdrop": 0.3,  # a filled crop's painted margin: only to keep the whole subject
    "seam": 0.02,    # per cover across a filled crop's picture edge: off it where it can
    "penalty": 1.0,  # the layout's own auto_penalty
    "moved": 0.02,   # per change from the layout as drawn (mirror, a block at another anchor)
    "squeeze": 0.5,  # the title set smaller than in the layout as drawn
}
PRESENCE_FULL = 0.1
"""Mean saliency from which a picture's subject counts in full (a portrait: ~0.3)."""
ZOOM_COST = 0.1
SHIFT_COST = 0.05
SEAM_TOLERANCE = 0.02
"""How far (a share of the picture's side) a cover may reach past a picture edge unnoticed."""
SEAM_SPAN = 0.98
"""A panel along at least this share of a picture edge hides it (a band)."""


@dataclass(frozen=True)
class Cover:
    """Something drawn over the picture: ``kind`` is 'text', 'panel', 'scrim', 'qr' or
    'logo'; ``weight`` counts a text block twice for the title (Rea)."""

    box: Box
    kind: str
    opacity: float = 1.0
    weight: float = 1.0


@dataclass(frozen=True)
class Candidate:
    """A layout as placed on a canvas of ``size``: where the picture lies (``picture``, the
    whole canvas unless an opaque panel takes a side), what covers it (``covers``: where the
    text, panels, QR code and logo are, or are estimated to be) and, when the covers are
    estimates, how far they could reach at most (``bounds``: faces are kept clear of
    these)."""

    layout: str
    size: tuple[int, int]
    picture: Box
    covers: tuple[Cover, ...]
    penalty: float = 0.0
    bounds: tuple[Cover, ...] | None = None
    shrink: float = 0.0
    """How much the title must shrink to fit its block (estimated; 0: its largest size)."""


def picture_box(variant: Variant, fmt: Format) -> Box:
    """The part of the canvas the picture fills: all of it, less any opaque solid panel that
    spans a whole side (split_panel's colour half)."""
    left, top, right, bottom = 0, 0, fmt.width, fmt.height
    for p in variant.panels:
        if p.style != "solid" or p.opacity < 0.999:
            continue
        a = p.area
        box = pixel_box(a, (0, 0, fmt.width, fmt.height))
        if a[0] <= 0.001 and a[2] >= 0.999:
            if a[1] <= 0.001:
                top = max(top, box[3])
            elif a[3] >= 0.999:
                bottom = min(bottom, box[1])
        elif a[1] <= 0.001 and a[3] >= 0.999:
            if a[0] <= 0.001:
                left = max(left, box[2])
            elif a[2] >= 0.999:
                right = min(right, box[0])
    if right - left < 16 or bottom - top < 16:
        return (0, 0, fmt.width, fmt.height)
    return (left, top, right, bottom)


def _grow(box: Box, by: int, size: tuple[int, int]) -> Box:
    return (max(0, box[0] - by), max(0, box[1] - by), min(size[0], box[2] + by),
            min(size[1], box[3] + by))


def _qr_box(region: Box, align: str, valign: str, short: int) -> Box:
    side = min(region[2] - region[0], region[3] - region[1], round(QR_SHARE * short))
    x = {"left": region[0], "center": (region[0] + region[2] - side) // 2,
         "right": region[2] - side}[align]
    y = {"top": region[1], "center": (region[1] + region[3] - side) // 2,
         "bottom": region[3] - side}[valign]
    return (x, y, x + side, y + side)


def planned(layout: Layout, fmt: Format, content: Mapping[str, str],
            mirror: bool = False) -> Candidate:
    """The candidate as far as it is known before any text is fitted. ``content``: the text
    of each role the flyer fills, plus 'qr' (the link) and 'logo' when it has them;
    ``mirror``: the layout flipped left to right (a right-to-left title).

    ``covers`` estimate where the text will sit (``estimate.estimate_block``) with cards and
    bands around it; ``bounds`` are the most anything could cover: each block's whole
    region plus the padding, bands from the region's top, the QR code's and logo's regions.
    """
    variant = layout.variant(fmt, mirror)
    size = (fmt.width, fmt.height)
    short = min(size)
    pad = round(PAD * short)
    canvas = (0, 0, size[0], size[1])
    card = {p.block for p in variant.panels if p.style == "card"}
    covers: list[Cover] = []
    bounds: list[Cover] = []
    shrink = 0.0
    guess: dict[str, Box] = {}
    region: dict[str, Box] = {}
    for block in variant.blocks:
        if not any(content.get(r) for r in block.roles):
            continue
        box = pixel_box(block.box, fmt.safe_box)
        region[block.id] = _grow(box, pad, size)
        if block.id in card:
            box = (box[0] + pad, box[1] + pad, box[2] - pad, box[3] - pad)
        fit = estimate_fit(block, box, dict(content), layout.styles, short)
        found = None if fit is None else fit[0]
        weight = 2.0 if "title" in block.roles else 1.0
        if fit is not None and found is not None:
            if "title" in block.roles and content.get("title"):
                shrink = 1.0 - fit[1]
            guess[block.id] = found
            covers.append(Cover(found, "text", 1.0, weight))
        bounds.append(Cover(region[block.id], "text", 1.0, weight))
    qr = None
    if content.get("qr"):
        qr = _qr_box(pixel_box(variant.qr.box, fmt.safe_box), variant.qr.align,
                     variant.qr.valign, short)
    for p in variant.panels:
        if p.style == "solid":
            area = pixel_box(p.area, canvas)
            covers.append(Cover(area, "panel", p.opacity))
            bounds.append(Cover(area, "panel", p.opacity))
        elif p.block in guess:
            g, r = guess[p.block], region[p.block]
            if p.style == "card":
                covers.append(Cover(_grow(g, pad, size), "panel", p.opacity))
                bounds.append(Cover(r, "panel", p.opacity))
            else:
                top = min(g[1], qr[1]) if qr is not None and qr[3] > g[1] else g[1]
                covers.append(Cover((0, max(0, top - pad), size[0], size[1]), "panel",
                                    p.opacity))
                bounds.append(Cover((0, r[1], size[0], size[1]), "panel", p.opacity))
    if qr is not None:
        covers.append(Cover(qr, "qr"))
        bounds.append(Cover(pixel_box(variant.qr.box, fmt.safe_box), "qr"))
    if content.get("logo"):
        logo = pixel_box(variant.logo.box, fmt.safe_box)
        covers.append(Cover(logo, "logo"))
        bounds.append(Cover(logo, "logo"))
    return Candidate(layout.name, size, picture_box(variant, fmt), tuple(covers),
                     layout.auto_penalty, tuple(bounds), round(shrink, 4))


def grid_size(picture: Box) -> tuple[int, int]:
    """The scoring grid (width, height) for a picture box: long side ``GRID_SIDE``."""
    w, h = picture[2] - picture[0], picture[3] - picture[1]
    scale = GRID_SIDE / max(w, h)
    return (max(1, round(w * scale)), max(1, round(h * scale)))


def _in_picture(box: Box, picture: Box) -> FracBox | None:
    w, h = picture[2] - picture[0], picture[3] - picture[1]
    left = max(0.0, (box[0] - picture[0]) / w)
    top = max(0.0, (box[1] - picture[1]) / h)
    right = min(1.0, (box[2] - picture[0]) / w)
    bottom = min(1.0, (box[3] - picture[1]) / h)
    if right <= left or bottom <= top:
        return None
    return (left, top, right, bottom)


def _area(box: FracBox) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


@lru_cache(maxsize=256)
def _weights(boxes: tuple[FracBox, ...], shape: tuple[int, int]) -> np.ndarray:
    out = box_weights(boxes, shape)
    out.setflags(write=False)
    return out


def _contains(outer: Box, inner: Box) -> bool:
    return (outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2]
            and outer[3] >= inner[3])


@dataclass(frozen=True)
class _Grids:
    covered: np.ndarray
    reach: np.ndarray
    rea: np.ndarray
    hidden: float
    area: float
    boxes: np.ndarray
    """The covers in fractions of the picture, (m, 4): left, top, right, bottom."""
    panel: np.ndarray
    """Which covers are panels (bands, cards, scrims), (m,)."""


@lru_cache(maxsize=64)
def _grids(candidate: Candidate, shape: tuple[int, int]) -> _Grids:
    """What a candidate covers on a picture grid of ``shape``: the covers, their bounds, and
    the weights that turn an energy grid into Rea (each text box's mean energy, damped by a
    panel under it, averaged by area, the title twice). Independent of the crop, so each
    candidate is rasterised once however many crops are scored."""

    def grid(covers: tuple[Cover, ...]) -> np.ndarray:
        boxes = tuple(b for c in covers if (b := _in_picture(c.box, candidate.picture)))
        return _weights(boxes, shape)

    covered = grid(candidate.covers)
    reach = covered if candidate.bounds is None else grid(candidate.bounds)
    panels = [c for c in candidate.covers if c.kind in ("panel", "scrim")]
    rea = np.zeros(shape, dtype=np.float64)
    weight_sum = 0.0
    for c in candidate.covers:
        if c.kind != "text":
            continue
        damp = max((p.opacity for p in panels if _contains(p.box, c.box)), default=0.0)
        area = float((c.box[2] - c.box[0]) * (c.box[3] - c.box[1])) * c.weight
        weight_sum += area
        frac = _in_picture(c.box, candidate.picture)
        if frac is not None:
            cells = _weights((frac,), shape)
            rea += cells * ((1.0 - damp) * area / max(1e-9, float(cells.sum())))
    if weight_sum:
        rea /= weight_sum
    rea.setflags(write=False)
    pic = candidate.picture
    hidden = 1.0 - (pic[2] - pic[0]) * (pic[3] - pic[1]) / (candidate.size[0] * candidate.size[1])
    inside = [(f, c.kind in ("panel", "scrim")) for c in candidate.covers
              if (f := _in_picture(c.box, pic)) is not None]
    boxes = np.asarray([f for f, _ in inside], dtype=np.float64).reshape(-1, 4)
    panel = np.asarray([p for _, p in inside], dtype=bool)
    return _Grids(covered, reach, rea, hidden, float(covered.sum()), boxes, panel)


def seams(crop: FracBox) -> np.ndarray:
    """Where a crop (fractions of the picture) shows the picture's edges: ``[[top, bottom],
    [left, right]]`` as fractions of the crop, NaN for an edge outside it (every edge of an
    ordinary crop; ``focal``'s filled crops reach beyond one or two)."""
    out = np.full((2, 2), np.nan)
    for axis, (lo, hi) in enumerate(((crop[1], crop[3]), (crop[0], crop[2]))):
        for i, edge in enumerate((0.0, 1.0)):
            if lo < edge < hi:
                out[axis, i] = (edge - lo) / (hi - lo)
    return out


def _seam_counts(g: _Grids, lines: np.ndarray) -> np.ndarray:
    """Per crop, the covers straddling one of its picture edges (``lines``: (n, 2, 2) from
    :func:`seams`), unless a panel along the whole edge hides it there."""
    counts = np.zeros(lines.shape[0])
    if not g.boxes.size:
        return counts
    b = g.boxes
    tol = SEAM_TOLERANCE
    for axis, (lo, hi, a0, a1) in enumerate(((b[:, 1], b[:, 3], b[:, 0], b[:, 2]),
                                             (b[:, 0], b[:, 2], b[:, 1], b[:, 3]))):
        along = g.panel & (a0 <= 1.0 - SEAM_SPAN) & (a1 >= SEAM_SPAN)
        for i in range(2):
            at = lines[:, axis, i][:, None]
            with np.errstate(invalid="ignore"):
                across = (lo[None, :] < at - tol) & (hi[None, :] > at + tol)
            hidden = (across & along[None, :]).any(axis=1)
            counts += np.where(hidden, 0.0, across.sum(axis=1))
    return counts


def score(candidate: Candidate, subject: Subject, surface: np.ndarray,
          crop: FracBox = (0.0, 0.0, 1.0, 1.0)) -> dict[str, float]:
    """The candidate's terms (see the module docstring). ``subject`` and ``surface`` (edge
    energy, same grid) describe the picture as it lies in ``candidate.picture``; ``crop``
    (fractions of the picture) is where it came from (a filled crop reaches beyond it)."""
    shape = subject.saliency.shape
    g = _grids(candidate, (int(shape[0]), int(shape[1])))
    sal = subject.saliency
    mass = subject.mass * sal.size
    under = float((g.covered * sal).sum())
    occ = under / mass if subject.mass >= 0.01 else 0.0
    faces = likely = 0.0
    if subject.faces:
        face_cells = _weights(subject.heads(), shape)
        area = max(1e-9, float(face_cells.sum()))
        faces = float((g.reach * face_cells).sum()) / area
        likely = float((g.covered * face_cells).sum()) / area
    obj = 0.0
    if subject.extent is not None:
        cells = _weights((subject.extent,), shape)
        obj = float((g.reach * cells).sum()) / max(1e-9, _area(subject.extent) * sal.size)
    uti = (g.area - under) / max(1e-9, sal.size - mass)
    rea = float((g.rea * surface).sum())
    seam = float(_seam_counts(g, seams(crop)[None])[0])
    return {"faces": faces, "faces_likely": likely, "object": obj, "occ": occ, "rea": rea,
            "hidden": g.hidden, "uti": uti, "seam": seam}


@dataclass(frozen=True)
class CropStack:
    """Many crops' views of one picture on one grid, for ``score_many``: per crop (rows)
    the saliency and the edge energy, flattened, the heads' cell weights and area, the
    salient mass, where the picture's edges lie (``seams``), the main object's extent (its
    cell weights, and in ``extent_area`` its whole area in cells, cut off by the crop or not)."""

    shape: tuple[int, int]
    saliency: np.ndarray
    energy: np.ndarray
    heads: np.ndarray
    head_area: np.ndarray
    mass: np.ndarray
    seams: np.ndarray
    extent: np.ndarray
    extent_area: np.ndarray

    @classmethod
    def of(cls, views: Sequence[Subject], surfaces: Sequence[np.ndarray],
           crops: Sequence[FracBox] | None = None) -> CropStack:
        """The stack of ``views`` (``Subject.reframe`` of each crop, one grid) and the
        edge energy (``surfaces``) resampled over the same ``crops`` (fractions of the
        picture; ordinary crops when not given)."""
        shape = (int(views[0].saliency.shape[0]), int(views[0].saliency.shape[1]))
        sal = np.stack([v.saliency.reshape(-1) for v in views]).astype(np.float64)
        energy = np.stack([s.reshape(-1) for s in surfaces]).astype(np.float64)
        heads = np.zeros_like(sal)
        extent = np.zeros_like(sal)
        whole = np.zeros(len(views))  # each view's whole extent, cells (cut off or not)
        for i, v in enumerate(views):
            if v.faces:
                heads[i] = _weights(v.heads(), shape).reshape(-1)
            if v.extent is not None:
                extent[i] = _weights((v.extent,), shape).reshape(-1)
                whole[i] = _area(v.extent) * sal.shape[1]
        mass = np.asarray([v.mass for v in views], dtype=np.float64)
        lines = (np.stack([seams(c) for c in crops]) if crops is not None
                 else np.full((len(views), 2, 2), np.nan))
        return cls(shape, sal, energy, heads, heads.sum(axis=1), mass, lines, extent, whole)


def score_many(candidate: Candidate, stack: CropStack) -> dict[str, np.ndarray]:
    """``score``'s terms for every crop of ``stack`` at once (arrays, one value a crop)."""
    g = _grids(candidate, stack.shape)
    covered = g.covered.reshape(-1)
    size = covered.size
    under = stack.saliency @ covered
    mass = stack.mass * size
    occ = np.where(stack.mass >= 0.01, under / np.maximum(mass, 1e-12), 0.0)
    area = np.maximum(stack.head_area, 1e-9)
    has = stack.head_area > 0
    faces = np.where(has, (stack.heads @ g.reach.reshape(-1)) / area, 0.0)
    likely = np.where(has, (stack.heads @ covered) / area, 0.0)
    reach = g.reach.reshape(-1)
    obj = np.where(stack.extent_area > 0,
                   (stack.extent @ reach) / np.maximum(stack.extent_area, 1e-9), 0.0)
    uti = (g.area - under) / np.maximum(1e-9, size - mass)
    rea = stack.energy @ g.rea.reshape(-1)
    hidden = np.full(len(stack.mass), g.hidden)
    return {"faces": faces, "faces_likely": likely, "object": obj, "occ": occ, "rea": rea,
            "hidden": hidden, "uti": uti, "seam": _seam_counts(g, stack.seams)}


def _share_inside(boxes: Sequence[FracBox], crop: FracBox) -> float:
    """The share of the boxes' total area inside ``crop`` (exact: one rectangle)."""
    inside = area = 0.0
    for b in boxes:
        w = max(0.0, min(b[2], crop[2]) - max(b[0], crop[0]))
        h = max(0.0, min(b[3], crop[3]) - max(b[1], crop[1]))
        inside += w * h
        area += (b[2] - b[0]) * (b[3] - b[1])
    return inside / area if area > 0 else 1.0


def crop_terms(subject: Subject, crop: FracBox, zoom: float) -> dict[str, float]:
    """What a crop costs before anything is placed: ``cut`` (share of the faces' area left
    out), ``trim`` (share of the heads' area left out: hair, chin; far cheaper than a face
    cut or covered, dearer than moving the crop when that costs nothing else), ``lost``
    (share of the salient mass left out), ``part`` (share of the main object's extent left
    out), ``zoom`` (closer crops cost resolution and context), ``shift`` (off centre, so calm
    pictures keep the centre) and ``backdrop`` (the share of a filled crop beyond the
    picture: ``focal``); with the picture's ``presence`` (see ``occ``)."""
    cx, cy = (crop[0] + crop[2]) / 2, (crop[1] + crop[3]) / 2
    return {
        "presence": min(1.0, subject.mass / PRESENCE_FULL),
        "cut": 1.0 - _share_inside(subject.faces, crop) if subject.faces else 0.0,
        "trim": 1.0 - _share_inside(subject.heads(), crop) if subject.faces else 0.0,
        "lost": 1.0 - subject.covered([crop]) if subject.mass >= 0.01 else 0.0,
        "part": (1.0 - _share_inside((subject.extent,), crop)
                 if subject.extent is not None else 0.0),
        "zoom": ZOOM_COST * (1.0 / zoom - 1.0),
        "shift": SHIFT_COST * math.hypot(cx - 0.5, cy - 0.5),
        "backdrop": filled(crop, (1, 1)),  # the crop in fractions of the picture
    }


_BY_PRESENCE = ("occ", "lost", "object", "part")
"""Terms about the picture's subject, which count in proportion to its ``presence``."""


def total(terms: Mapping[str, Any]) -> Any:
    """The weighted sum of ``terms`` (lower is better), ``_BY_PRESENCE``'s terms scaled by
    ``presence``; terms without a weight (uti, presence) only inform. Works on numbers and,
    term by term, on arrays (``score_many``)."""
    presence = terms.get("presence", 1.0)
    return sum(WEIGHTS[k] * v * (presence if k in _BY_PRESENCE else 1.0)
               for k, v in terms.items() if k in WEIGHTS)


def overlap(boxes: Sequence[Box]) -> float:
    """Ove: mean over pairs of the overlap as a share of the smaller box (0: none)."""
    pairs = [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:]]
    if not pairs:
        return 0.0
    shares = []
    for a, b in pairs:
        iw = max(0, min(a[2], b[2]) - max(a[0], b[0]))
        ih = max(0, min(a[3], b[3]) - max(a[1], b[1]))
        small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
        shares.append(iw * ih / small if small > 0 else 0.0)
    return float(np.mean(shares))


def alignment(boxes: Sequence[Box], size: tuple[int, int]) -> float:
    """Ali (as in LayoutGAN++ / PosterLayout): for each element the smallest distance of its
    left, centre or right edge (top, middle, bottom) to another element's, in canvas
    fractions, as -log(1 - d); the mean (0: every element lines up with another)."""
    if len(boxes) < 2:
        return 0.0
    w, h = size
    values = []
    for i, a in enumerate(boxes):
        best = 1.0
        for j, b in enumerate(boxes):
            if i == j:
                continue
            xs = (abs(a[0] - b[0]), abs((a[0] + a[2]) - (b[0] + b[2])) / 2, abs(a[2] - b[2]))
            ys = (abs(a[1] - b[1]), abs((a[1] + a[3]) - (b[1] + b[3])) / 2, abs(a[3] - b[3]))
            best = min(best, min(xs) / w, min(ys) / h)
        values.append(-math.log(max(1e-9, 1.0 - best)))
    return float(np.mean(values))
