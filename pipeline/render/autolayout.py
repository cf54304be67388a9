"""Plan the picture and the layout together: every layout (``auto``) or the named one, each
with the focal crops worth trying, scored by ``score.score`` plus what the crop costs; the
lowest total wins. Scores use the layouts' regions before any text is fitted (an upper bound
of what the flyer covers), so the background can start resizing at once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from .focal import SrcBox, crop_candidates, fractions
from .formats import Format
from .geometry import Box
from .layouts import LAYOUT_NAMES, Layout, get_layout
from .score import Candidate, crop_terms, grid_size, planned, score, total
from .subject import Subject, integral, resample_many

__all__ = ["Choice", "choose_layout", "edge_energy", "rank_layouts"]

ENERGY_SIDE = 96


def edge_energy(image: Image.Image,
                box: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """Gradient magnitude of a small greyscale copy of ``image`` (or of its ``box``, the
    region a canvas is cover-fitted from), values ~0 calm .. ~0.3 very busy."""
    src = box if box is not None else (0.0, 0.0, float(image.width), float(image.height))
    w, h = src[2] - src[0], src[3] - src[1]
    scale = ENERGY_SIDE / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = image
    if scale < 1:  # area average first: a big upload is never converted whole
        small = small.resize(size, Image.Resampling.BOX, box=src, reducing_gap=2.0)
    elif box is not None:
        small = small.crop((round(src[0]), round(src[1]), round(src[2]), round(src[3])))
    small = small.convert("L") if small.mode != "L" else small
    grey = np.asarray(small, dtype=np.float32) / 255.0
    gy, gx = np.gradient(grey)
    out: np.ndarray = np.hypot(gx, gy)
    return out


@dataclass(frozen=True)
class Choice:
    """The layout, the source crop (px), where the picture lies on the canvas, and why."""

    layout: Layout
    crop: SrcBox
    zoom: float
    picture: Box
    terms: dict[str, float]
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    reason: dict[str, object] = field(default_factory=dict)


@dataclass
class _Views:
    """The subject and the edge energy as each crop shows them, all crops of one grid
    resampled in one pass, plus what each crop costs."""

    subject: Subject
    energy: np.ndarray
    size: tuple[int, int]
    table: np.ndarray
    seen: dict[tuple[SrcBox, tuple[int, int]], tuple[Subject, np.ndarray]] = field(
        default_factory=dict)
    costs: dict[tuple[SrcBox, float], dict[str, float]] = field(default_factory=dict)

    def prepare(self, crops: Sequence[SrcBox], grid: tuple[int, int]) -> None:
        todo = [c for c in crops if (c, grid) not in self.seen]
        if not todo:
            return
        fracs = [fractions(c, self.size) for c in todo]
        subjects = self.subject.reframe_many(fracs, grid)
        energies = resample_many(self.energy, fracs, grid, self.table)
        for crop, seen, surface in zip(todo, subjects, energies, strict=True):
            self.seen[(crop, grid)] = (seen, surface)

    def get(self, crop: SrcBox, grid: tuple[int, int]) -> tuple[Subject, np.ndarray]:
        self.prepare([crop], grid)
        return self.seen[(crop, grid)]

    def cost(self, crop: SrcBox, zoom: float) -> dict[str, float]:
        key = (crop, zoom)
        if key not in self.costs:
            self.costs[key] = crop_terms(self.subject, fractions(crop, self.size), zoom)
        return self.costs[key]


def _best_crop(candidate: Candidate, views: _Views,
               crops: Sequence[tuple[SrcBox, float]]) -> tuple[float, SrcBox, float,
                                                             dict[str, float]]:
    grid = grid_size(candidate.picture)
    views.prepare([c for c, _ in crops], grid)
    best: tuple[float, SrcBox, float, dict[str, float]] | None = None
    for crop, zoom in crops:
        seen, surface = views.get(crop, grid)
        terms = views.cost(crop, zoom) | score(candidate, seen, surface)
        terms["penalty"] = candidate.penalty
        value = total(terms)
        if best is None or value < best[0] - 1e-9:
            best = (value, crop, zoom, terms)
    assert best is not None, "crop_candidates always offers a crop"
    return best


def rank_layouts(background: Image.Image, fmt: Format, subject: Subject,
                 content: Mapping[str, str], names: Sequence[str] | None = None
                 ) -> list[Choice]:
    """Every layout among ``names`` (all layouts: ``auto``) with its best crop for this
    background and what the flyer holds (``content``: each filled text role's text, 'qr'
    and 'logo' when it has them), best first. Each choice carries every layout's terms
    (``scores``) and the reason it would be picked."""
    auto = names is None
    pool = tuple(LAYOUT_NAMES if names is None else names)
    energy = edge_energy(background)
    views = _Views(subject, energy, background.size, integral(energy))
    crops_for: dict[tuple[int, int], list[tuple[SrcBox, float]]] = {}
    found: dict[str, tuple[float, SrcBox, float, dict[str, float]]] = {}
    pictures: dict[str, Box] = {}
    for name in pool:
        candidate = planned(get_layout(name), fmt, content)
        pic = pictures[name] = candidate.picture
        target = (pic[2] - pic[0], pic[3] - pic[1])
        if target not in crops_for:
            crops_for[target] = crop_candidates(background.size, target, subject)
        found[name] = _best_crop(candidate, views, crops_for[target])
    order = sorted(pool, key=lambda n: (round(found[n][0], 5), n))
    scores = {n: {k: round(v, 4) for k, v in found[n][3].items()} | {"total": round(found[n][0], 4)}
              for n in pool}
    out = []
    for rank, name in enumerate(order):
        _, crop, zoom, terms = found[name]
        reason: dict[str, object]
        if auto:
            reason = {
                "mode": "auto",
                "chosen": name,
                "why": "its text, panels, QR code and logo cover the least of the picture's "
                       "subject (faces first, whatever a panel's opacity) and sit on the "
                       "calmest part of it; the crop is chosen with it (layout_scores holds "
                       "every term)",
                "calm_scores": {n: round(found[n][0], 5) for n in pool},
            }
            if rank:
                reason["skipped"] = list(order[:rank])
        else:
            reason = {"mode": "fixed", "chosen": name, "why": "requested by name"}
        out.append(Choice(get_layout(name), crop, zoom, pictures[name], terms, scores, reason))
    return out


def choose_layout(background: Image.Image, fmt: Format, subject: Subject,
                  content: Mapping[str, str], names: Sequence[str] | None = None) -> Choice:
    """The best (layout, crop) among ``names`` (all layouts: ``auto``): ``rank_layouts``'
    first."""
    return rank_layouts(background, fmt, subject, content, names)[0]
