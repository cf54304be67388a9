"""Focal crops: which part of the source picture a canvas (or the picture part of a canvas)
shows, chosen around the subject instead of the centre.

A crop always has the target's aspect ratio, so the picture is never stretched or barred; at
``zoom`` 1 it is the largest such box (a cover crop), smaller zooms crop tighter. Boxes are in
source pixels ``(left, top, right, bottom)`` as floats (Pillow's ``resize(box=...)``).
``focal_box`` places the subject's focus (faces first, then the main object) at the centre of a
region of the target, as far as the picture allows, and keeps it whole when it fits;
``crop_candidates`` is the small set the layout search scores.

When even the largest crop must cut the focus (a landscape photograph's subject on a story,
a tall one on a banner), or the main object's extent (``Subject.extent``: a motorcycle with its
wheels on an X post), the candidates also include *filled* crops: boxes of the target's
ratio that hold the whole picture across its short side and reach beyond the picture along
the other, at the start, middle or end; ``resample.fill_out`` paints what lies beyond in
the picture's own edge colours, into which the picture fades. They cost their share of
backdrop (``score.crop_terms``), so they win only where the subject would otherwise be cut.
"""

from __future__ import annotations

from .geometry import FracBox, SrcBox
from .subject import Subject

__all__ = [
    "WHOLE",
    "ZOOMS",
    "SrcBox",
    "crop_candidates",
    "filled",
    "focal_box",
    "fractions",
    "upscale",
]

WHOLE: FracBox = (0.0, 0.0, 1.0, 1.0)
ZOOMS = (1.0, 0.8)
"""Crop sizes tried, as a share of the cover crop's side (0.8: 1.25x closer)."""
POSITIONS = 7
"""Positions tried along a free axis at zoom 1 (3 per axis when zoomed in)."""
REGIONS: tuple[FracBox, ...] = (WHOLE, (0.0, 0.0, 1.0, 0.5), (0.0, 0.5, 1.0, 1.0),
                                (0.0, 0.0, 0.5, 1.0), (0.5, 0.0, 1.0, 1.0))
"""Target regions the focus is also centred in (whole, top, bottom, left, right half)."""
FILL_POSITIONS = 17
"""Positions of the picture along a filled crop (start to end)."""
MIN_BACKDROP = 0.08
"""Least backdrop on a side of a filled crop's picture, as a share of the crop, if any."""


def _size(src: tuple[int, int], target: tuple[int, int], zoom: float) -> tuple[float, float]:
    ratio = target[0] / target[1]
    if src[0] / src[1] > ratio:
        w, h = ratio * src[1], float(src[1])
    else:
        w, h = float(src[0]), src[0] / ratio
    return w * zoom, h * zoom


def _place(keep: list[tuple[float, float]], length: float, span: float, want: float) -> float:
    """The start of a ``length`` window in [0, span] at ``want``, moved as little as needed
    to hold the first of the ``keep`` intervals that fits (the focus with hair and chin,
    else the bare faces) whole."""
    start = want
    for lo, hi in keep:
        if hi - lo <= length:
            start = min(max(start, hi - length), lo)
            break
    return min(max(start, 0.0), span - length)


def focal_box(src: tuple[int, int], target: tuple[int, int], subject: Subject,
              region: FracBox = WHOLE, zoom: float = 1.0) -> SrcBox:
    """The crop that puts the subject's focus at the centre of ``region`` (fractions of the
    target) as nearly as the picture allows, keeping the focus whole when it fits (else the
    bare faces); a centred crop for a picture without a subject."""
    w, h = _size(src, target, zoom)
    focus = subject.focus()
    if focus is None:
        left, top = (src[0] - w) * 0.5, (src[1] - h) * 0.5
        return (left, top, left + w, top + h)
    boxes = [focus]
    if subject.faces:
        boxes.append((min(f[0] for f in subject.faces), min(f[1] for f in subject.faces),
                      max(f[2] for f in subject.faces), max(f[3] for f in subject.faces)))
    xs = [(b[0] * src[0], b[2] * src[0]) for b in boxes]
    ys = [(b[1] * src[1], b[3] * src[1]) for b in boxes]
    rx, ry = (region[0] + region[2]) / 2, (region[1] + region[3]) / 2
    left = _place(xs, w, src[0], (xs[0][0] + xs[0][1]) / 2 - rx * w)
    top = _place(ys, h, src[1], (ys[0][0] + ys[0][1]) / 2 - ry * h)
    return (left, top, left + w, top + h)


def _spread(free: float, count: int) -> list[float]:
    if free <= 0.5:
        return [max(0.0, free) * 0.5]
    return [free * i / (count - 1) for i in range(count)]


def _fill_crops(src: tuple[int, int], target: tuple[int, int], subject: Subject
                ) -> list[SrcBox]:
    """Filled crops (beyond the picture) when the largest crop cannot hold the focus whole,
    or the main object's extent (``Subject.extent``); none otherwise."""
    focus = subject.focus()
    if focus is None:
        return []
    w, h = _size(src, target, 1.0)
    if all((b[2] - b[0]) * src[0] <= w + 0.5 and (b[3] - b[1]) * src[1] <= h + 0.5
           for b in (focus, subject.extent) if b is not None):
        return []
    ratio = target[0] / target[1]
    if src[0] / src[1] > ratio:  # wide picture, tall target: the picture spans the width
        tall = src[0] / ratio
        return [(0.0, top, float(src[0]), top + tall)
                for top in _fill_starts(src[1] - tall, tall)]
    wide = src[1] * ratio  # tall picture, wide target: it spans the height
    return [(left, 0.0, left + wide, float(src[1])) for left in _fill_starts(src[0] - wide, wide)]


def _fill_starts(free: float, length: float) -> list[float]:
    """``FILL_POSITIONS`` starts from 0 to ``free`` (negative: the crop is longer than the
    picture), leaving out those that would leave a sliver of backdrop (under
    ``MIN_BACKDROP`` of the crop) on one side: it looks like a mistake."""
    starts = [free * i / (FILL_POSITIONS - 1) for i in range(FILL_POSITIONS)]
    least = MIN_BACKDROP * length
    return [s for s in starts if all(gap < 0.5 or gap >= least for gap in (-s, s - free))]


def filled(box: SrcBox, src: tuple[int, int]) -> float:
    """The share of ``box`` that lies beyond a picture of ``src`` (0 for an ordinary crop;
    with ``src`` (1, 1), of a crop in fractions of the picture)."""
    area = (box[2] - box[0]) * (box[3] - box[1])
    if area <= 0:
        return 0.0
    iw = max(0.0, min(box[2], src[0]) - max(box[0], 0.0))
    ih = max(0.0, min(box[3], src[1]) - max(box[1], 0.0))
    return max(0.0, 1.0 - iw * ih / area)


def crop_candidates(src: tuple[int, int], target: tuple[int, int],
                    subject: Subject) -> list[tuple[SrcBox, float]]:
    """(crop, zoom) pairs worth scoring: positions spread along the free axes at each zoom,
    plus the focus centred in the whole target and in each half, plus the filled crops when
    no crop can hold the focus. Deterministic order."""
    out: dict[tuple[float, ...], tuple[SrcBox, float]] = {}

    def add(box: SrcBox, zoom: float) -> None:
        key = tuple(round(v, 1) for v in box)
        out.setdefault(key, (box, zoom))

    for zoom in ZOOMS:
        w, h = _size(src, target, zoom)
        count = POSITIONS if zoom == 1.0 else 3
        for top in _spread(src[1] - h, count):
            for left in _spread(src[0] - w, count):
                add((left, top, left + w, top + h), zoom)
        if subject.focus() is not None:
            for region in REGIONS:
                add(focal_box(src, target, subject, region, zoom), zoom)
    for box in _fill_crops(src, target, subject):
        add(box, 1.0)
    return list(out.values())


def fractions(box: SrcBox, src: tuple[int, int]) -> FracBox:
    """A source-pixel box as fractions of the source."""
    return (box[0] / src[0], box[1] / src[1], box[2] / src[0], box[3] / src[1])


def upscale(box: SrcBox, target: tuple[int, int]) -> float:
    """How much the crop is enlarged to fill ``target`` (below 1: reduced)."""
    return target[0] / max(1e-9, box[2] - box[0])
