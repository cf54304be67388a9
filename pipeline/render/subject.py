"""What a picture shows, as plain data: a saliency map and boxes (faces, main objects).

A :class:`Subject` describes the *source* background: boxes are fractions ``(left, top, right,
bottom)`` of the source image and the saliency map (float32, 0 calm .. 1 the subject) covers the
whole source on a small grid. ``reframe`` gives the same subject as seen through a crop, so code
that places things on a canvas asks the same questions in canvas fractions:

* ``covered(boxes)``: the share of the salient mass under the union of ``boxes``;
* ``face_share(boxes)``: the share of the faces' area under them (``1 - face_share([crop])`` is
  how much of the faces a crop cuts off);
* ``focus()``: the box a crop must keep whole (the faces with hair and chin, else the main
  object).

It is stored with a flyer (``encode``/``decode``: a uint8 grid and rounded boxes, a few KB) so
that re-renders reuse it; ``see.analyse`` builds it. This module needs numpy only.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .geometry import FracBox

__all__ = [
    "HEADROOM",
    "FracBox",
    "Subject",
    "box_weights",
    "quantise",
    "resample",
    "resample_many",
]

_VERSION = 1
_FACE_SAMPLES = 16
"""Sample points per side when measuring how much of a face a set of boxes covers."""
HEADROOM = 0.65
"""How far above a detected face its head ends (hair and a little air), in face heights:
the astronaut's hair rises 0.53 of her face box above it."""
_MIN_MASS = 0.01
"""Salient mass (mean saliency) below which a picture has no subject to cover."""


def quantise(values: np.ndarray) -> np.ndarray:
    """Saliency as it is stored: 1/255 steps, float32 (encode/decode round-trips exactly)."""
    steps = np.clip(np.round(values * 255.0), 0, 255).astype(np.uint8)
    return _from_uint8(steps)


def _from_uint8(steps: np.ndarray) -> np.ndarray:
    out: np.ndarray = steps.astype(np.float32) / np.float32(255.0)
    return out


def _shares(edges: np.ndarray, n: int) -> np.ndarray:
    """(k, m, n): for each of k rows of m + 1 edges (cell units, clipped to [0, n]), the
    share of each of the n cells in each span, divided by the span (0 for an empty one)."""
    at = np.clip(edges, 0.0, float(n))
    lo, hi = at[:, :-1, None], at[:, 1:, None]
    cells = np.arange(n, dtype=np.float64)
    share = np.minimum(hi, cells + 1.0)
    share -= np.maximum(lo, cells)
    np.maximum(share, 0.0, out=share)
    span = hi - lo
    share /= np.where(span > 0, span, np.inf)
    return share


def resample_many(grid: np.ndarray, crops: Sequence[FracBox], size: tuple[int, int]
                  ) -> np.ndarray:
    """``grid`` (h, w) as seen through each of ``crops`` (fractions of the grid), on grids
    of ``size`` (width, height): (len(crops), height, width), each cell the exact area
    average of the cells it spans (0 for a span wholly outside the grid). Area averaging is
    separable: per crop a row matrix times the grid times a column matrix, all crops in two
    batched products."""
    width, height = size
    h, w = grid.shape
    boxes = np.asarray(crops, dtype=np.float64).reshape(-1, 4)
    steps_x = np.arange(width + 1, dtype=np.float64) / width
    steps_y = np.arange(height + 1, dtype=np.float64) / height
    xs = (boxes[:, 0:1] + (boxes[:, 2:3] - boxes[:, 0:1]) * steps_x) * w  # (k, width + 1)
    ys = (boxes[:, 1:2] + (boxes[:, 3:4] - boxes[:, 1:2]) * steps_y) * h  # (k, height + 1)
    rows = _shares(ys, h)  # (k, height, h)
    cols = _shares(xs, w).transpose(0, 2, 1)  # (k, w, width)
    values = grid.astype(np.float64)
    # the cheaper order of the two products
    out = (rows @ values) @ cols if height * w <= h * width else rows @ (values @ cols)
    result: np.ndarray = out.astype(np.float32)
    return result


def resample(grid: np.ndarray, crop: FracBox, size: tuple[int, int]) -> np.ndarray:
    """``grid`` (h, w) as seen through ``crop``: ``resample_many`` for one crop."""
    out: np.ndarray = resample_many(grid, [crop], size)[0]
    return out


def _cover_1d(lo: float, hi: float, n: int) -> np.ndarray:
    """Share of each of ``n`` cells on [0, 1] inside [lo, hi]."""
    edges = np.arange(n + 1, dtype=np.float64) / n
    out: np.ndarray = np.clip(np.minimum(hi, edges[1:]) - np.maximum(lo, edges[:-1]), 0.0,
                              None) * n
    return out


def box_weights(boxes: Iterable[FracBox], shape: tuple[int, int]) -> np.ndarray:
    """(h, w) share of each cell of a grid of ``shape`` under the union of ``boxes``
    (partly covered cells count their covered share; overlaps are not counted twice)."""
    free = np.ones(shape, dtype=np.float64)
    for box in boxes:
        cover = np.outer(_cover_1d(box[1], box[3], shape[0]), _cover_1d(box[0], box[2], shape[1]))
        free *= 1.0 - np.clip(cover, 0.0, 1.0)
    out: np.ndarray = 1.0 - free
    return out


def _clip(box: FracBox) -> FracBox | None:
    left, top = max(0.0, box[0]), max(0.0, box[1])
    right, bottom = min(1.0, box[2]), min(1.0, box[3])
    if right - left <= 1e-6 or bottom - top <= 1e-6:
        return None
    return (left, top, right, bottom)


def _moved(boxes: tuple[FracBox, ...], crop: FracBox) -> tuple[FracBox, ...]:
    """``boxes`` in the fractions of ``crop``, clipped to it (those outside dropped)."""
    left, top = crop[0], crop[1]
    w, h = crop[2] - crop[0], crop[3] - crop[1]
    moved = (_clip(((b[0] - left) / w, (b[1] - top) / h, (b[2] - left) / w, (b[3] - top) / h))
             for b in boxes)
    return tuple(b for b in moved if b is not None)


def _round(box: FracBox) -> FracBox:
    return (round(box[0], 4), round(box[1], 4), round(box[2], 4), round(box[3], 4))


@dataclass(frozen=True, eq=False)
class Subject:
    """Saliency (float32 (h, w), 0..1, the whole picture) plus faces and main objects as
    fractions of the picture. Read-only; build it with ``see.analyse`` or ``decode``."""

    saliency: np.ndarray
    faces: tuple[FracBox, ...] = ()
    objects: tuple[FracBox, ...] = ()
    extent: FracBox | None = None
    """With no face, how far the main object reaches: ``objects[0]`` grown over the structure
    joined to it (a motorcycle's wheels, a cup's rim; ``see``). Crops try to keep it whole
    (``score.crop_terms``' ``part``); the focus stays ``objects[0]``. None when unknown."""
    _mass: float = field(init=False, repr=False, default=0.0)

    def __post_init__(self) -> None:
        if self.saliency.ndim != 2 or min(self.saliency.shape) < 1:
            raise ValueError("saliency must be a non-empty 2-D grid")
        if self.saliency.dtype != np.float32 or self.saliency.flags.writeable:
            grid = self.saliency.astype(np.float32, copy=True)
            grid.setflags(write=False)
            object.__setattr__(self, "saliency", grid)
        object.__setattr__(self, "_mass", float(self.saliency.mean()))

    @classmethod
    def blank(cls, shape: tuple[int, int] = (1, 1)) -> Subject:
        """A picture with nothing in it to keep clear (nothing measured, nothing seen)."""
        return cls(np.zeros(shape, dtype=np.float32))

    # -- measures -------------------------------------------------------------------------
    @property
    def mass(self) -> float:
        """Mean saliency: ~0 for a calm gradient, ~0.1-0.3 for a photo with a subject."""
        return self._mass

    def covered(self, boxes: Iterable[FracBox], level: float | None = None) -> float:
        """Share (0..1) of the salient mass under the union of ``boxes``; 0 when the
        picture has no salient mass at all. With ``level``: the share of the salient
        *area*, the cells whose saliency is at least ``level``, instead."""
        if level is not None:
            salient = (self.saliency >= level).astype(np.float64)
            area = float(salient.sum())
            if area == 0:
                return 0.0
            return float((box_weights(boxes, self.saliency.shape) * salient).sum() / area)
        if self.mass < _MIN_MASS:
            return 0.0
        boxes = list(boxes)
        if len(boxes) == 1:  # one rectangle's weights are separable: rows @ grid @ columns
            box = boxes[0]
            h, w = self.saliency.shape
            rows = np.clip(_cover_1d(box[1], box[3], h), 0.0, 1.0)
            cols = np.clip(_cover_1d(box[0], box[2], w), 0.0, 1.0)
            return float(rows @ self.saliency.astype(np.float64) @ cols / self.saliency.sum())
        weights = box_weights(boxes, self.saliency.shape)
        return float((weights * self.saliency).sum() / self.saliency.sum())

    def face_share(self, boxes: Iterable[FracBox]) -> float:
        """Share (0..1) of the faces' total area under the union of ``boxes`` (0 when no
        face was found), measured on a 16 x 16 sample of each face."""
        if not self.faces:
            return 0.0
        rects = np.asarray(list(boxes), dtype=np.float64).reshape(-1, 4)
        unit = (np.arange(_FACE_SAMPLES, dtype=np.float64) + 0.5) / _FACE_SAMPLES
        hits, total = 0.0, 0.0
        for f in self.faces:
            xs = f[0] + (f[2] - f[0]) * unit
            ys = f[1] + (f[3] - f[1]) * unit
            inx = (xs[None, :] >= rects[:, 0:1]) & (xs[None, :] <= rects[:, 2:3])  # (n, 16)
            iny = (ys[None, :] >= rects[:, 1:2]) & (ys[None, :] <= rects[:, 3:4])
            hit = (iny[:, :, None] & inx[:, None, :]).any(axis=0)  # (16, 16)
            area = (f[2] - f[0]) * (f[3] - f[1])
            hits += area * float(np.count_nonzero(hit)) / hit.size
            total += area
        return hits / total if total > 0 else 0.0

    def heads(self) -> tuple[FracBox, ...]:
        """Each face grown to take in hair, ears and chin with a little air (the detector's
        box is eyebrows to mouth; hair rises about half a face above it, ``HEADROOM``): what
        text and panels keep clear of and what a crop keeps whole."""
        grown = (_clip((f[0] - 0.25 * (f[2] - f[0]), f[1] - HEADROOM * (f[3] - f[1]),
                        f[2] + 0.25 * (f[2] - f[0]), f[3] + 0.3 * (f[3] - f[1])))
                 for f in self.faces)
        return tuple(b for b in grown if b is not None)

    def focus(self) -> FracBox | None:
        """The box to keep whole: the heads (``heads``), else the main object with a margin;
        None for a picture with no subject."""
        boxes = list(self.heads())
        if not boxes and self.objects:
            o = self.objects[0]
            mx, my = 0.08 * (o[2] - o[0]), 0.08 * (o[3] - o[1])
            boxes = [(o[0] - mx, o[1] - my, o[2] + mx, o[3] + my)]
        if not boxes:
            return None
        return _clip((min(b[0] for b in boxes), min(b[1] for b in boxes),
                      max(b[2] for b in boxes), max(b[3] for b in boxes)))

    def reframe_many(self, crops: Sequence[FracBox], size: tuple[int, int]) -> list[Subject]:
        """``reframe`` for several crops at once (one resampling pass)."""
        grids = resample_many(self.saliency, crops, size)
        return [Subject(grid, _moved(self.faces, crop), _moved(self.objects, crop),
                        self._extent_in(crop))
                for grid, crop in zip(grids, crops, strict=True)]

    def _extent_in(self, crop: FracBox) -> FracBox | None:
        """The extent in the fractions of ``crop``, *not* clipped to it: a crop that cuts
        the object off still knows how big it is (``score``'s ``object`` is a share of the
        whole object, so cutting it away never looks like keeping it clear)."""
        if self.extent is None:
            return None
        e, left, top = self.extent, crop[0], crop[1]
        w, h = crop[2] - crop[0], crop[3] - crop[1]
        return ((e[0] - left) / w, (e[1] - top) / h, (e[2] - left) / w, (e[3] - top) / h)

    def reframe(self, crop: FracBox, size: tuple[int, int]) -> Subject:
        """This subject as seen through ``crop`` (fractions of the picture), on a grid of
        ``size`` (width, height): boxes become fractions of the crop, clipped to it (the
        extent is not clipped: see ``_extent_in``)."""
        return self.reframe_many([crop], size)[0]

    # -- storing ----------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """The boxes for a manifest (the grid stays with the stored flyer)."""
        return {
            "faces": [list(_round(b)) for b in self.faces],
            "objects": [list(_round(b)) for b in self.objects],
            "extent": list(_round(self.extent)) if self.extent is not None else None,
            "focus": list(_round(f)) if (f := self.focus()) is not None else None,
            "salient_mass": round(self.mass, 4),
            "grid": [int(self.saliency.shape[1]), int(self.saliency.shape[0])],
        }

    def encode(self, extent: bool = True) -> bytes:
        """Compact bytes (JSON: the saliency as base64 uint8, boxes rounded): a few KB.
        ``extent`` False leaves the extent out (as subjects were stored before it was
        measured)."""
        steps = np.clip(np.round(self.saliency * 255.0), 0, 255).astype(np.uint8)
        data: dict[str, Any] = {
            "v": _VERSION,
            "w": int(steps.shape[1]),
            "h": int(steps.shape[0]),
            "saliency": base64.b64encode(steps.tobytes()).decode("ascii"),
            "faces": [list(_round(b)) for b in self.faces],
            "objects": [list(_round(b)) for b in self.objects],
        }
        if extent and self.extent is not None:
            data["extent"] = list(_round(self.extent))
        return json.dumps(data, separators=(",", ":")).encode("ascii")

    @classmethod
    def decode(cls, data: bytes) -> Subject:
        """The subject ``encode`` wrote; ValueError if ``data`` is not one."""
        try:
            raw = json.loads(data)
            if raw.get("v") != _VERSION:
                raise ValueError(f"unknown subject version {raw.get('v')!r}")
            w, h = int(raw["w"]), int(raw["h"])
            steps = np.frombuffer(base64.b64decode(raw["saliency"], validate=True),
                                  dtype=np.uint8)
            grid = _from_uint8(steps.reshape(h, w))
            faces = tuple(_box(b) for b in raw["faces"])
            objects = tuple(_box(b) for b in raw["objects"])
            extent = _box(raw["extent"]) if raw.get("extent") is not None else None
        except (KeyError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
            raise ValueError(f"not a stored subject: {exc}") from exc
        return cls(grid, faces, objects, extent)


def _box(raw: Any) -> FracBox:
    if not (isinstance(raw, list) and len(raw) == 4):
        raise ValueError(f"a box is four numbers, not {raw!r}")
    left, top, right, bottom = (float(v) for v in raw)
    if not (0 <= left < right <= 1 and 0 <= top < bottom <= 1):
        raise ValueError(f"box {raw!r} is not inside the picture")
    return (left, top, right, bottom)
