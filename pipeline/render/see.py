"""See the picture: ``analyse(image) -> Subject`` (faces, main objects, a saliency map).

Everything ships inside the opencv-python-headless wheel or this package; nothing is
downloaded at run time:

* faces: frontal faces (``_frontal``) with OpenCV's Haar ``frontalface_alt2`` (``cv2.data``) on
  a copy of ``FACE_SIDE``² px where the picture is calm (its first stages drop flat windows at
  once), and where it is busy, OpenCV's LBP cascade (``cascades/``, the copy scikit-image's
  wheel ships) on an ``LBP_SIDE``² copy, each of its hits confirmed by the Haar cascade;
  profiles (both directions) with Haar's ``profileface`` on a ``PROFILE_SIDE``² copy;
* saliency, on a ``SALIENCY_SIDE`` copy in CIELAB: contrast against the picture's borders (what
  differs from the background), centre-surround colour contrast and the spectral residual of
  the lightness (Hou & Zhang 2007), a mild centre prior; each face and the body under it are
  made salient outright;
* objects: the people under the faces, then the biggest connected salient regions; with no
  face, the main object's *extent*: its box grown over the structure joined to it that stands
  out from its surroundings (``_figure``: edge density above what the nearest borders have),
  so a motorcycle's dark tyres on a grey floor belong to it although they are hardly salient.

Chosen after measuring (bench/bench_layout.py, bench/README.md): scikit-image's own
``Cascade`` found the same faces 4-5x slower than OpenCV running Haar's (OpenCV runs its LBP
cascade 2-3x faster than Haar's); OpenCV's saliency module (contrib) and MediaPipe (no face
model inside the wheel) were not needed. Deterministic: the same picture gives the same boxes
(sorted) and the same quantised map.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import cv2
import numpy as np
from PIL import Image

from ..executor import work_pool
from .subject import FracBox, Subject, quantise

__all__ = ["FACE_SIDE", "GRID_SIDE", "PROFILE_SIDE", "SALIENCY_SIDE", "analyse"]

FACE_SIDE = 256
"""Frontal faces are looked for on a copy of FACE_SIDE² pixels (256 x 256 for a square,
341 x 192 for 16:9: the short side keeps its share of the work), or of ``LBP_SIDE``² pixels
on a busy picture."""
LBP_SIDE = 320
"""The LBP cascade's copy: its hits are coarser than Haar's, so it needs more pixels (on the
recall set of bench/README.md, on its own with 2 neighbours, it found 117 of 324 faces at
256 px and 207 at 320)."""
BUSY = 0.3
"""Share of textured face-sized windows (``_busy``) from which a picture is busy: Haar's
frontal search costs ~2 ms + ~40 ms times that share, LBP's and its checks ~15-25 ms."""
PROFILE_SIDE = 160
"""Profile faces are looked for on a copy of PROFILE_SIDE² pixels (they are costlier)."""
SALIENCY_SIDE = 96
"""The saliency is computed on a copy of SALIENCY_SIDE² pixels."""
GRID_SIDE = 64
"""Long side (cells) of the stored saliency grid."""
MIN_FACE = 0.07
"""Smallest face looked for, as a share of the picture's short side."""
_WINDOW = 20  # the Haar cascades' window, px
MAX_CONFIRMS = 8
"""At most this many LBP hits are confirmed one by one (~1-5 ms each, by their size); with
more (a crowd, a wall of posters) Haar searches the whole picture once instead (~40 ms)."""
_TEXTURED = 8.0  # grey levels: a window with a standard deviation over this is textured
LBP = "lbp_frontalface"
_LBP_FILE = "lbpcascade_frontalface.xml"
_OBJECT_LEVEL = 0.45
_MAX_OBJECTS = 3
FIGURE_LEVEL = 0.1
"""Edge density (share of edge pixels, blurred) above what the nearest borders predict, from
which a cell joined to the main object counts as part of it (``_extent_of``)."""
_FIGURE_TRIM = 3.0  # percent of the grown object's cells left out on each side (thin bridges)
SUBJECT_LEVEL = 0.25
"""Mean saliency in the main object's box from which it is an object with an extent (the
bench's photographed objects: 0.29-0.34; textures and star fields, whose "object" is only
where the salient specks are densest: 0.07-0.18)."""


_LOCAL = threading.local()


def _cascade(name: str) -> cv2.CascadeClassifier:
    """This thread's own copy of the ``name`` cascade (``LBP``: ours, in ``cascades/``; any
    other: OpenCV's ``haarcascade_{name}.xml``): ``detectMultiScale`` keeps its
    working buffers in the classifier, so one instance must not run on two threads at once
    (opencv/opencv#4287); each thread loads its copy once (a few ms)."""
    cascades: dict[str, cv2.CascadeClassifier] = _LOCAL.__dict__.setdefault("cascades", {})
    cascade = cascades.get(name)
    if cascade is None:
        if name == LBP:
            path = os.path.join(os.path.dirname(__file__), "cascades", _LBP_FILE)
        else:
            folder = cv2.data.haarcascades  # type: ignore[attr-defined]  # not in the stubs
            path = os.path.join(folder, f"haarcascade_{name}.xml")
        cascade = cv2.CascadeClassifier(path)
        if cascade.empty():  # pragma: no cover - a broken OpenCV install
            raise RuntimeError(f"OpenCV's {name} cascade is missing ({path})")
        cascades[name] = cascade
    return cascade


def _shrink(image: Image.Image, side: int) -> Image.Image:
    """``image`` reduced to about ``side``² pixels (never enlarged)."""
    scale = side / (image.width * image.height) ** 0.5
    if scale >= 1:
        return image
    size = (max(8, round(image.width * scale)), max(8, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BOX, reducing_gap=2.0)


def _detect(grey: np.ndarray, name: str, flip: bool = False,
            neighbours: int = 3) -> list[FracBox]:
    h, w = grey.shape
    smallest = max(_WINDOW, round(MIN_FACE * min(h, w)))
    if min(h, w) < smallest:
        return []
    src = np.ascontiguousarray(grey[:, ::-1]) if flip else grey
    found = _cascade(name).detectMultiScale(src, scaleFactor=1.2, minNeighbors=neighbours,
                                            minSize=(smallest, smallest))
    return _fractions(found, (w, h), flip=flip)


def _fractions(found: Sequence[Sequence[int]], size: tuple[int, int],
               offset: tuple[int, int] = (0, 0), flip: bool = False) -> list[FracBox]:
    """OpenCV's (x, y, w, h) hits, found ``offset`` px into a ``size`` picture (mirrored
    when ``flip``), as fractions of the picture."""
    w, h = size
    out = []
    for x, y, fw, fh in (tuple(int(v) for v in r) for r in found):
        left = offset[0] + (w - x - fw if flip else x)
        top = offset[1] + y
        out.append((left / w, top / h, (left + fw) / w, (top + fh) / h))
    return out


def _profiles(side: np.ndarray) -> list[FracBox]:
    return _detect(side, "profileface") + _detect(side, "profileface", flip=True)


def _busy(grey: np.ndarray) -> float:
    """Share of the face-sized windows of ``grey`` that are textured: the windows Haar's
    frontal cascade has to look into (bench/README.md, "Choosing the subject detector")."""
    values = grey.astype(np.float32)
    mean = cv2.boxFilter(values, -1, (_WINDOW, _WINDOW))
    spread = cv2.boxFilter(values * values, -1, (_WINDOW, _WINDOW)) - mean * mean
    return float(np.mean(spread > _TEXTURED ** 2))


def _confirmed(grey: np.ndarray, box: FracBox) -> FracBox | None:
    """The face Haar's frontal cascade finds on ``box`` (of about its size, looking half a
    face around it, and overlapping it), or None. Its box, not LBP's: Haar's boxes are
    tighter (brow to chin), the same as a calm picture's."""
    h, w = grey.shape
    side = (box[2] - box[0]) * w
    grow = 0.5 * side
    left, top = max(0, int(box[0] * w - grow)), max(0, int(box[1] * h - grow))
    right, bottom = min(w, int(box[2] * w + grow)), min(h, int(box[3] * h + grow))
    around = np.ascontiguousarray(grey[top:bottom, left:right])
    smallest, largest = max(_WINDOW, int(0.6 * side)), int(1.6 * side) + 1
    if min(around.shape) < smallest:
        return None
    found = _cascade("frontalface_alt2").detectMultiScale(
        around, scaleFactor=1.1, minNeighbors=4, minSize=(smallest, smallest),
        maxSize=(largest, largest))
    best = max(_fractions(found, (w, h), (left, top)), key=lambda face: _iou(box, face),
               default=None)
    return best if best is not None and _iou(box, best) >= 0.3 else None


def _frontal(image: Image.Image, grey: np.ndarray) -> list[FracBox]:
    """Frontal faces of ``image``, whose ``FACE_SIDE``² grey copy is ``grey``.

    On a calm picture, Haar's cascade on ``grey``: it drops flat windows at its first stage.
    On a busy one, where it would look into every window (~40 ms on a photograph), the LBP
    cascade (~15 ms) proposes faces on an ``LBP_SIDE``² copy, one hit being enough, and
    Haar's cascade confirms each around it (~1 ms each; past ``MAX_CONFIRMS`` hits, Haar
    searches the whole ``grey`` instead) and gives its box. On 324 placements
    of two portraits on textures, Haar alone found 207 faces and 1 false one, this 228 and
    none; on flat colours both 207 and none (bench/README.md, "Choosing the subject
    detector")."""
    if _busy(grey) < BUSY:
        return _detect(grey, "frontalface_alt2")
    large = np.asarray(_shrink(image, LBP_SIDE).convert("L"))
    proposed = _detect(large, LBP, neighbours=1)
    if len(proposed) > MAX_CONFIRMS:  # a crowd: one search of the whole picture is cheaper
        return _detect(grey, "frontalface_alt2")
    found = [_confirmed(large, box) for box in proposed]
    return [face for face in found if face is not None]


def _iou(a: FracBox, b: FracBox) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _faces(frontal: list[FracBox], profiles: list[FracBox]) -> tuple[FracBox, ...]:
    """Frontal faces, then the profiles that are not one of them, sorted."""
    faces = list(frontal)
    for found in profiles:
        if all(_iou(found, f) < 0.25 for f in faces):
            faces.append(found)
    rounded = {tuple(round(v, 4) for v in f) for f in faces}
    return tuple(sorted((float(b[0]), float(b[1]), float(b[2]), float(b[3])) for b in rounded))


def _lab(rgb: np.ndarray) -> np.ndarray:
    out: np.ndarray = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    return out


def _border_contrast(lab: np.ndarray) -> np.ndarray:
    """How far each pixel's colour is from the picture's borders (in units of each border's
    own spread): the second-nearest border counts, as one side may run through the
    subject."""
    h, w = lab.shape[:2]
    b = max(2, round(0.05 * min(h, w)))
    sides = (lab[:b], lab[-b:], lab[:, :b], lab[:, -b:])
    planes = [np.asarray(p) for p in cv2.split(lab)]
    dists = []
    for side in sides:
        pixels = side.reshape(-1, 3)
        mean = pixels.mean(axis=0)
        spread = float(np.sqrt(((pixels - mean) ** 2).sum(axis=1).mean())) + 6.0
        dists.append(np.sqrt(_squares(planes, mean)) / spread)
    # the second smallest of the four, per pixel
    d0, d1, d2, d3 = dists
    low, high = np.minimum(d0, d1), np.maximum(d0, d1)
    low2, high2 = np.minimum(d2, d3), np.maximum(d2, d3)
    out: np.ndarray = np.minimum(np.maximum(low, low2), np.minimum(high, high2))
    return out


def _squares(planes: Sequence[np.ndarray],
             centre: Sequence[float] = (0.0, 0.0, 0.0)) -> np.ndarray:
    """Per pixel, the squared distance of three colour planes from ``centre``: the same sums
    as ``((image - centre) ** 2).sum(axis=2)`` on an (h, w, 3) image, whose 3-value inner
    loops made it ~5x slower."""
    a, b, c = (plane - offset for plane, offset in zip(planes, centre, strict=True))
    out: np.ndarray = a * a + b * b + c * c
    return out


def _centre_surround(lab: np.ndarray) -> np.ndarray:
    """Colour difference between each pixel's neighbourhood and its wider surround, at two
    scales; faded out over the outer 6 px, where the blur's mirrored border makes a smooth
    gradient look like an edge."""
    h, w = lab.shape[:2]
    out = np.zeros((h, w), dtype=np.float32)
    for inner, outer in ((1.0, 4.0), (2.0, 8.0)):
        diff = cv2.GaussianBlur(lab, (0, 0), inner) - cv2.GaussianBlur(lab, (0, 0), outer)
        out += np.sqrt(_squares([np.asarray(p) for p in cv2.split(diff)]))
    ramp_y = np.clip(np.minimum(np.arange(h), np.arange(h)[::-1]) / 6.0, 0.0, 1.0)
    ramp_x = np.clip(np.minimum(np.arange(w), np.arange(w)[::-1]) / 6.0, 0.0, 1.0)
    faded: np.ndarray = out * np.outer(ramp_y, ramp_x).astype(np.float32)
    return faded


def _spectral_residual(lightness: np.ndarray) -> np.ndarray:
    """Hou & Zhang's spectral residual on a 64-px copy, mirrored at the edges first so the
    FFT's wrap-around does not make the borders of a gradient look salient."""
    h, w = lightness.shape
    scale = 64 / max(h, w)
    sw, sh = max(8, round(w * scale)), max(8, round(h * scale))
    small = cv2.resize(lightness, (sw, sh), interpolation=cv2.INTER_AREA)
    py, px = sh // 2, sw // 2
    padded = np.pad(small, ((py, py), (px, px)), mode="reflect")
    spectrum = np.fft.fft2(padded)
    log_amp = np.log(np.abs(spectrum) + 1e-3)
    residual = log_amp - cv2.blur(log_amp, (3, 3))
    back = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    back = cv2.GaussianBlur(back.astype(np.float32), (0, 0), 2.0)[py:py + sh, px:px + sw]
    out: np.ndarray = cv2.resize(np.ascontiguousarray(back), (w, h),
                                 interpolation=cv2.INTER_LINEAR)
    return out


def _scaled(values: np.ndarray, floor: float) -> np.ndarray:
    """Values over their 99th percentile (at least ``floor``, so a calm picture stays calm)."""
    top = max(float(np.percentile(values, 99)), floor)
    out: np.ndarray = np.clip(values / top, 0.0, 1.0)
    return out


def _ellipse(shape: tuple[int, int], box: FracBox) -> np.ndarray:
    h, w = shape
    ys = (np.arange(h, dtype=np.float32)[:, None] + 0.5) / h
    xs = (np.arange(w, dtype=np.float32)[None, :] + 0.5) / w
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    rx, ry = max(1e-3, (box[2] - box[0]) / 2), max(1e-3, (box[3] - box[1]) / 2)
    out: np.ndarray = ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1.0
    return out


def _person(face: FracBox) -> FracBox:
    """Where the body under a face probably is (head and shoulders, then the torso)."""
    fw, fh = face[2] - face[0], face[3] - face[1]
    cx = (face[0] + face[2]) / 2
    return (max(0.0, cx - 1.7 * fw), max(0.0, face[1] - 0.3 * fh),
            min(1.0, cx + 1.7 * fw), min(1.0, face[3] + 3.2 * fh))


def _contrast(image: Image.Image) -> np.ndarray:
    """How much each pixel of a ``SALIENCY_SIDE`` copy stands out, 0-1, before faces."""
    rgb = np.asarray(_shrink(image, SALIENCY_SIDE).convert("RGB"))
    lab = _lab(rgb)
    h, w = lab.shape[:2]
    border = cv2.GaussianBlur(_border_contrast(cv2.GaussianBlur(lab, (0, 0), 1.5)), (0, 0), 2.0)
    local = cv2.GaussianBlur(_centre_surround(lab), (0, 0), 2.0)
    spectral = _spectral_residual(lab[..., 0])
    local_top = float(np.percentile(local, 99))
    mix = (0.5 * _scaled(border, 3.0) + 0.25 * _scaled(local, 12.0)
           + 0.25 * _scaled(spectral, 1e-9) * min(1.0, local_top / 12.0))
    ys = (np.arange(h, dtype=np.float32)[:, None] + 0.5) / h - 0.5
    xs = (np.arange(w, dtype=np.float32)[None, :] + 0.5) / w - 0.5
    centre = np.exp(-(xs ** 2 + ys ** 2) / (2 * 0.3 ** 2))
    mix = mix * (0.55 + 0.45 * centre)
    # relative to the picture's typical level: a smooth gradient lifts every pixel alike
    floor = max(0.15, float(np.median(mix)))
    out: np.ndarray = np.clip((mix - floor) / 0.6, 0.0, 1.0)
    return out


def _saliency(contrast: np.ndarray, faces: tuple[FracBox, ...]) -> np.ndarray:
    """The stored grid: the contrast, each face and the body under it made salient."""
    h, w = contrast.shape
    sal = contrast
    for face in faces:
        fw, fh = face[2] - face[0], face[3] - face[1]
        body = _person(face)
        torso = (body[0] + 0.1 * (body[2] - body[0]), face[3], body[2] - 0.1 * (body[2] - body[0]),
                 min(1.0, face[3] + 4.0 * fh))
        sal = np.where(_ellipse((h, w), torso), np.maximum(sal, 0.6), sal)
        head = (face[0] - 0.2 * fw, face[1] - 0.35 * fh, face[2] + 0.2 * fw, face[3] + 0.2 * fh)
        sal = np.where(_ellipse((h, w), head), 1.0, sal)
    grid = cv2.resize(sal.astype(np.float32), _grid_size(w, h), interpolation=cv2.INTER_AREA)
    return quantise(grid)


def _grid_size(w: int, h: int) -> tuple[int, int]:
    scale = GRID_SIDE / max(w, h)
    return (max(1, round(w * scale)), max(1, round(h * scale)))


def _middle_box(sal: np.ndarray) -> list[FracBox]:
    """The box holding the middle 80 % of the salient mass along each axis: the main
    subject when it has several parts (a cat's eyes and nose) or no face."""
    weight = sal.astype(np.float64) ** 2
    total = float(weight.sum())
    if total < 1e-6 * sal.size:
        return []
    box = []
    for axis in (0, 1):  # columns then rows
        cum = np.cumsum(weight.sum(axis=axis)) / total
        n = cum.size
        box.append((int(np.searchsorted(cum, 0.1)) / n, (int(np.searchsorted(cum, 0.9)) + 1) / n))
    (left, right), (top, bottom) = box
    return [(left, top, min(1.0, right), min(1.0, bottom))]


def _figure(grey: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Per cell of a ``shape`` grid, how much busier the picture is there than its nearest
    borders are along the same column or row (Canny edge density, 0-1, each border weighted
    by the inverse square of its distance). Structure on a calm floor (wheels, a cup's rim)
    stands out; clutter that runs into a busy border (shelves) does not."""
    h, w = shape
    edges = cv2.Canny(grey, 60, 150).astype(np.float32) / 255.0
    density = cv2.resize(cv2.GaussianBlur(edges, (0, 0), 3.0), (w, h),
                         interpolation=cv2.INTER_AREA)
    b = max(2, round(0.06 * min(h, w)))

    def along(profile: np.ndarray, sigma: float) -> np.ndarray:
        out: np.ndarray = cv2.GaussianBlur(profile[None].astype(np.float32), (0, 0), sigma)[0]
        return out

    top = along(density[:b].mean(axis=0), 0.1 * w)[None, :]
    bottom = along(density[-b:].mean(axis=0), 0.1 * w)[None, :]
    left = along(density[:, :b].mean(axis=1), 0.1 * h)[:, None]
    right = along(density[:, -b:].mean(axis=1), 0.1 * h)[:, None]
    ys = np.arange(h, dtype=np.float32)[:, None] + 0.5
    xs = np.arange(w, dtype=np.float32)[None, :] + 0.5
    near = [1.0 / (d + 2.0) ** 2 for d in (ys, h - ys, xs, w - xs)]
    expected = ((near[0] * top + near[1] * bottom + near[2] * left + near[3] * right)
                / (near[0] + near[1] + near[2] + near[3]))
    out: np.ndarray = np.clip(density - expected, 0.0, None)
    return out


def _extent_of(box: FracBox, sal: np.ndarray, figure: np.ndarray) -> FracBox:
    """``box`` (the main object) widened to the cells joined to its salient core through
    cells that stand out (``figure`` >= ``FIGURE_LEVEL``), their extent trimmed by
    ``_FIGURE_TRIM`` % on each side; never smaller than ``box``."""
    h, w = sal.shape
    inside = np.zeros((h, w), dtype=bool)
    inside[_cells((h, w), box)] = True
    core = (sal >= _OBJECT_LEVEL) & inside
    if not core.any():
        return box
    allowed = ((figure >= FIGURE_LEVEL) | core).astype(np.uint8)
    _count, labels = cv2.connectedComponents(allowed, connectivity=8)
    ys, xs = np.nonzero(np.isin(labels, np.unique(labels[core])))
    lo, hi = _FIGURE_TRIM, 100.0 - _FIGURE_TRIM
    return (round(min(box[0], float(np.percentile(xs, lo)) / w), 4),
            round(min(box[1], float(np.percentile(ys, lo)) / h), 4),
            round(max(box[2], (float(np.percentile(xs, hi)) + 1) / w), 4),
            round(max(box[3], (float(np.percentile(ys, hi)) + 1) / h), 4))


def _subject(sal: np.ndarray, faces: tuple[FracBox, ...], grey: np.ndarray) -> Subject:
    """The subject of a picture whose saliency grid is ``sal``; ``grey``: its
    ``FACE_SIDE``² grey copy (for the main object's extent, measured only without faces and
    for an object that stands out: ``SUBJECT_LEVEL``)."""
    objects = _objects(sal, faces)
    extent = None
    if objects and not faces and _mean_in(sal, objects[0]) >= SUBJECT_LEVEL:
        extent = _extent_of(objects[0], sal, _figure(grey, sal.shape))
    return Subject(sal, faces, objects, extent)


def _cells(shape: tuple[int, int], box: FracBox) -> tuple[slice, slice]:
    h, w = shape
    return (slice(int(box[1] * h), int(np.ceil(box[3] * h))),
            slice(int(box[0] * w), int(np.ceil(box[2] * w))))


def _mean_in(sal: np.ndarray, box: FracBox) -> float:
    return float(sal[_cells(sal.shape, box)].mean())


def _objects(sal: np.ndarray, faces: tuple[FracBox, ...]) -> tuple[FracBox, ...]:
    """The people under the faces first, then the biggest salient regions (by mass)."""
    h, w = sal.shape
    people = [_person(f) for f in faces]
    mask = (sal >= _OBJECT_LEVEL).astype(np.uint8)
    # parts a few cells apart (a cat's two eyes) make one object
    joined = cv2.dilate(mask, np.ones((9, 9), np.uint8))
    count, labels = cv2.connectedComponents(joined, connectivity=8)
    labels = np.where(mask > 0, labels, 0)
    regions = []
    for label in range(1, count):
        mass = float(sal[labels == label].sum())
        ys, xs = np.nonzero(labels == label)
        if xs.size == 0:
            continue
        box = (max(0, int(xs.min()) - 1) / w, max(0, int(ys.min()) - 1) / h,
               min(w, int(xs.max()) + 2) / w, min(h, int(ys.max()) + 2) / h)
        regions.append((-round(mass, 3), box))
    regions.sort()
    biggest = -regions[0][0] if regions else 0.0
    kept = [b for m, b in regions if -m >= 0.15 * biggest][:_MAX_OBJECTS]
    main = [] if people or not kept else _middle_box(sal)
    found = people + main + [b for b in kept
                             if all(_iou(b, p) < 0.5 for p in people + main)]
    return tuple((round(b[0], 4), round(b[1], 4), round(b[2], 4), round(b[3], 4))
                 for b in found[:_MAX_OBJECTS + len(people)])


def analyse(image: Image.Image, faces: bool = True) -> Subject:
    """Faces, main objects and saliency of ``image`` (any mode, any size); without
    ``faces``, the saliency and objects of a picture known to show no face (the offline
    painter's: ``GeneratedImage.faces``), without the face searches.

    The searches are independent and OpenCV drops the GIL while it works: the two profile
    passes run on the shared pool (``pipeline.executor``; a leaf task) while this thread
    looks for frontal faces and measures the contrast, so on two idle cores a photograph
    takes ~40-45 ms of wall time for ~70 ms of CPU (bench/README.md, "Choosing the subject
    detector"). Under load the CPU is the same either way."""
    small = _shrink(image, FACE_SIDE)  # shrunk once: a big upload is never converted whole
    small = small if small.mode == "RGB" else small.convert("RGB")
    grey = np.asarray(small.convert("L"))
    if not faces:
        return _subject(_saliency(_contrast(small), ()), (), grey)
    side = np.asarray(_shrink(small, PROFILE_SIDE).convert("L"))
    profiles = work_pool().submit(_profiles, side)
    try:
        frontal = _frontal(image, grey)
        contrast = _contrast(small)
    finally:
        found = profiles.result()
    found_faces = _faces(frontal, found)
    return _subject(_saliency(contrast, found_faces), found_faces, grey)
