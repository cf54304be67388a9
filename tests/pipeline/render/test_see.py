"""see.analyse on real photographs: it finds the faces and the main subject, never invents a
face, and is deterministic; a Subject measures, reframes and round-trips through the store."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from pipeline.render import see
from pipeline.render.see import analyse
from pipeline.render.subject import Subject, box_weights, resample

from .helpers import background
from .photos import ASTRONAUT_FACE, CAMERAMAN_FACE, CAT_EYES, CAT_FACE, photo


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_finds_the_astronauts_face() -> None:
    subject = analyse(photo("astronaut.png"))
    assert len(subject.faces) == 1
    assert iou(subject.faces[0], ASTRONAUT_FACE) > 0.5, subject.faces
    # the person under the face is the first object, and the map is brightest on the face
    person = subject.objects[0]
    assert person[1] <= ASTRONAUT_FACE[1] + 0.05 and person[3] > 0.8
    h, w = subject.saliency.shape
    face = subject.saliency[int(0.15 * h):int(0.3 * h), int(0.38 * w):int(0.5 * w)]
    assert float(face.mean()) > 0.9 > float(subject.saliency.mean()) * 2


def test_finds_the_cameramans_face_in_three_quarter_view() -> None:
    subject = analyse(photo("camera.png"))
    assert any(iou(f, CAMERAMAN_FACE) > 0.3 for f in subject.faces), subject.faces


def test_finds_the_cats_face() -> None:
    """No cascade knows a close-up cat (OpenCV's cat-face cascades miss this one): her face
    is the main salient object, holding both eyes."""
    subject = analyse(photo("chelsea.png"))
    assert subject.faces == ()
    main = subject.objects[0]
    assert iou(main, CAT_FACE) > 0.25, main
    for x, y in CAT_EYES:
        assert main[0] <= x <= main[2] and main[1] <= y <= main[3], (main, (x, y))
    focus = subject.focus()
    assert focus is not None and focus[0] <= main[0] and main[2] <= focus[2]


@pytest.mark.parametrize("name", ["coffee.png", "rocket.jpg", "motorcycle_left.png",
                                  "hubble_deep_field.jpg", "moon.png"])
def test_no_face_where_there_is_none(name: str) -> None:
    subject = analyse(photo(name))
    assert subject.faces == ()
    assert subject.objects  # each has a subject all the same


@pytest.mark.parametrize("kind", ["dusk", "light"])
def test_a_calm_background_has_no_subject(kind: str) -> None:
    subject = analyse(background(kind, 512, 640))
    assert subject.faces == () and subject.objects == () and subject.focus() is None
    assert subject.mass < 0.02


def test_deterministic_compact_and_sane_speed() -> None:
    image = photo("astronaut.png")
    first = analyse(image)
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        again = analyse(image)
        runs.append(time.perf_counter() - start)
    assert again.encode() == first.encode()
    assert min(runs) < 2.0  # ~40 ms on two cores; only a gross regression fails this
    data = first.encode()
    assert len(data) < 8000
    back = Subject.decode(data)
    assert back.encode() == data and back.faces == first.faces
    assert np.array_equal(back.saliency, first.saliency)


def test_each_thread_searches_with_its_own_cascade() -> None:
    """OpenCV's CascadeClassifier keeps its working buffers in the instance, so two threads
    must never search with the same one (the profile passes run on the pool while the
    caller's thread looks for frontal faces, and requests analyse side by side)."""
    mine = see._cascade("profileface")
    assert see._cascade("profileface") is mine  # loaded once per thread
    theirs: list[object] = []
    thread = threading.Thread(target=lambda: theirs.append(see._cascade("profileface")))
    thread.start()
    thread.join()
    assert theirs and theirs[0] is not mine


def _searches(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The cascades ``see._detect`` runs from now on (profiles included)."""
    names: list[str] = []
    detect = see._detect

    def spy(grey: np.ndarray, name: str, flip: bool = False, neighbours: int = 3) -> list:
        names.append(name)
        return detect(grey, name, flip, neighbours)

    monkeypatch.setattr(see, "_detect", spy)
    return names


def test_a_busy_picture_is_searched_by_lbp_a_calm_one_by_haar(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Haar's frontal cascade costs ~40 ms on a photograph and ~3 on a calm background, the
    LBP cascade ~15-20 on either: each picture gets the cheaper one, and both find the face."""
    portrait = photo("astronaut.png")
    calm = background("dusk", 512, 640)
    assert see._busy(np.asarray(see._shrink(portrait, see.FACE_SIDE).convert("L"))) > see.BUSY
    assert see._busy(np.asarray(see._shrink(calm, see.FACE_SIDE).convert("L"))) < see.BUSY
    names = _searches(monkeypatch)
    subject = analyse(portrait)
    assert see.LBP in names and "frontalface_alt2" not in names
    assert len(subject.faces) == 1 and iou(subject.faces[0], ASTRONAUT_FACE) > 0.5
    names.clear()
    analyse(calm)
    assert "frontalface_alt2" in names and see.LBP not in names
    # a flat colour round a portrait: Haar finds it as it always did
    names.clear()
    framed = Image.new("RGB", (1100, 1100), (60, 60, 70))
    framed.paste(portrait, (294, 294))
    subject = analyse(framed)
    assert "frontalface_alt2" in names and see.LBP not in names
    face = tuple((v * 512 + 294) / 1100 for v in ASTRONAUT_FACE)
    assert len(subject.faces) == 1 and iou(subject.faces[0], face) > 0.5


def test_a_crowd_is_searched_once_not_face_by_face(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sixteen faces: more LBP hits than MAX_CONFIRMS, so Haar searches the whole picture
    once (as before the LBP cascade) instead of confirming sixteen big faces one by one."""
    face = photo("astronaut.png").crop((160, 50, 290, 190))
    crowd = Image.new("RGB", (130 * 4, 140 * 4))
    for i in range(4):
        for j in range(4):
            crowd.paste(face, (130 * i, 140 * j))
    confirms: list[object] = []
    confirm = see._confirmed
    monkeypatch.setattr(see, "_confirmed", lambda *a: confirms.append(a) or confirm(*a))
    names = _searches(monkeypatch)
    subject = analyse(crowd)
    assert see.LBP in names and "frontalface_alt2" in names and not confirms
    assert len(subject.faces) == 16


def test_an_lbp_hit_counts_only_where_haar_confirms_a_face() -> None:
    grey = np.asarray(see._shrink(photo("astronaut.png"), see.LBP_SIDE).convert("L"))
    face = see._confirmed(grey, (0.33, 0.12, 0.54, 0.33))  # her face, as LBP boxes it
    assert face is not None and iou(face, ASTRONAUT_FACE) > 0.5
    assert face[3] - face[1] < 0.2  # Haar's own box: brow to chin
    assert see._confirmed(grey, (0.78, 0.05, 0.97, 0.24)) is None  # the shuttle model
    assert see._confirmed(grey, (0.0, 0.0, 0.02, 0.02)) is None  # too small for a face


def test_no_second_face_beside_a_portrait_on_a_flat_colour() -> None:
    """The LBP cascade, asked for every hit, also finds one beside her face; looked for
    again around it, Haar's cascade saw a face there when it needed only 2 neighbours."""
    canvas = Image.new("RGB", (600, 900), (60, 60, 70))
    canvas.paste(photo("astronaut.png"), (0, 900 - 512))
    subject = analyse(canvas)
    face = (178 / 600, (388 + 66) / 900, 274 / 600, (388 + 162) / 900)
    assert len(subject.faces) == 1, subject.faces
    assert iou(subject.faces[0], face) > 0.5


def test_analyses_side_by_side_agree_with_one_at_a_time() -> None:
    names = ["astronaut.png", "camera.png", "chelsea.png", "coffee.png"]
    alone = {name: analyse(photo(name)).encode() for name in names}
    with ThreadPoolExecutor(8) as threads:
        together = list(threads.map(lambda n: (n, analyse(photo(n)).encode()), names * 4))
    assert all(data == alone[name] for name, data in together)


def test_a_big_upload_is_analysed_small() -> None:
    big = photo("astronaut.png").resize((3000, 3000), Image.Resampling.BICUBIC)
    subject = analyse(big)
    assert max(subject.saliency.shape) <= 64
    assert iou(subject.faces[0], ASTRONAUT_FACE) > 0.5


@pytest.mark.parametrize("data", [b"", b"{}", b'{"v": 1, "w": 2, "h": 2, "saliency": "AAA=",'
                                   b' "faces": [], "objects": []}', b"\x89PNG"])
def test_decode_refuses_what_it_did_not_write(data: bytes) -> None:
    with pytest.raises(ValueError):
        Subject.decode(data)


def test_measures_on_a_drawn_subject() -> None:
    grid = np.zeros((40, 40), dtype=np.float32)
    grid[10:30, 20:40] = 1.0  # the right half, middle rows
    subject = Subject(grid, faces=((0.6, 0.3, 0.8, 0.5),))
    assert subject.covered([(0.5, 0.0, 1.0, 1.0)]) == pytest.approx(1.0)
    assert subject.covered([(0.5, 0.0, 0.75, 1.0)]) == pytest.approx(0.5)
    assert subject.covered([(0.0, 0.0, 0.5, 1.0)]) == pytest.approx(0.0)
    assert subject.face_share([(0.0, 0.0, 0.7, 1.0)]) == pytest.approx(0.5)
    assert subject.face_share([(0.0, 0.0, 0.5, 1.0), (0.9, 0, 1, 1)]) == 0.0
    # seen through the right half, the face moves to the crop's own fractions
    seen = subject.reframe((0.5, 0.0, 1.0, 1.0), (20, 40))
    assert seen.faces[0] == pytest.approx((0.2, 0.3, 0.6, 0.5))
    assert seen.covered([(0.0, 0.0, 1.0, 1.0)]) == pytest.approx(1.0)
    weights = box_weights([(0.0, 0.0, 0.5, 1.0), (0.25, 0.0, 0.75, 1.0)], (4, 4))
    assert weights.sum() == pytest.approx(12.0)  # the union, overlap counted once


def test_resample_is_an_exact_area_average() -> None:
    grid = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert np.allclose(resample(grid, (0.0, 0.0, 1.0, 1.0), (4, 3)), grid)
    assert resample(grid, (0.0, 0.0, 1.0, 1.0), (1, 1))[0, 0] == pytest.approx(grid.mean())
    # a quarter-cell window inside cell (1, 2)
    assert resample(grid, (0.5, 0.34, 0.7, 0.6), (1, 1))[0, 0] == pytest.approx(6.0)


def _area_average(grid: np.ndarray, crop: tuple[float, float, float, float],
                  size: tuple[int, int]) -> np.ndarray:
    """The brute-force reference: every output cell the area average of the grid cells its
    window covers (the window clipped to the grid; 0 when nothing of it is inside)."""
    h, w = grid.shape
    out = np.zeros((size[1], size[0]))
    for j in range(size[1]):
        for i in range(size[0]):
            x0 = crop[0] + (crop[2] - crop[0]) * i / size[0]
            x1 = crop[0] + (crop[2] - crop[0]) * (i + 1) / size[0]
            y0 = crop[1] + (crop[3] - crop[1]) * j / size[1]
            y1 = crop[1] + (crop[3] - crop[1]) * (j + 1) / size[1]
            total = area = 0.0
            for r in range(h):
                for c in range(w):
                    dx = min(x1 * w, c + 1) - max(x0 * w, c)
                    dy = min(y1 * h, r + 1) - max(y0 * h, r)
                    if dx > 0 and dy > 0:
                        total += grid[r, c] * dx * dy
                        area += dx * dy
            out[j, i] = total / area if area > 0 else 0.0
    return out


def test_resample_many_matches_a_brute_force_area_average() -> None:
    from pipeline.render.subject import resample_many

    rng = np.random.default_rng(3)
    grid = rng.random((7, 9)).astype(np.float32)
    crops = [(0.0, 0.0, 1.0, 1.0), (0.13, 0.2, 0.71, 0.93), (-0.2, 0.1, 0.5, 1.3),
             (0.9, 0.9, 1.4, 1.2), (1.1, 0.0, 1.5, 0.5)]  # the last wholly outside
    for size in ((5, 4), (11, 13)):
        many = resample_many(grid, crops, size)
        assert many.shape == (len(crops), size[1], size[0]) and many.dtype == np.float32
        for crop, got in zip(crops, many, strict=True):
            assert np.allclose(got, _area_average(grid, crop, size), atol=1e-6), (crop, size)


def test_the_saliency_planes_give_the_same_maps_as_the_whole_array() -> None:
    """``_border_contrast`` and ``_centre_surround`` sum colour distances over three planes
    (faster than over an (h, w, 3) array's last axis): the same values as the plain
    formulas, bit for bit."""
    rng = np.random.default_rng(5)
    lab = (rng.random((37, 53, 3)) * [100, 60, 60] - [0, 30, 30]).astype(np.float32)
    h, w = lab.shape[:2]
    b = max(2, round(0.05 * min(h, w)))
    dists = []
    for side in (lab[:b], lab[-b:], lab[:, :b], lab[:, -b:]):
        pixels = side.reshape(-1, 3)
        mean = pixels.mean(axis=0)
        spread = float(np.sqrt(((pixels - mean) ** 2).sum(axis=1).mean())) + 6.0
        dists.append(np.sqrt(((lab - mean) ** 2).sum(axis=2)) / spread)
    assert np.array_equal(see._border_contrast(lab), np.sort(np.stack(dists), axis=0)[1])
    plain = np.sqrt((lab ** 2).sum(axis=2))
    assert np.array_equal(np.sqrt(see._squares([lab[..., 0], lab[..., 1], lab[..., 2]])), plain)


def test_a_picture_known_to_show_no_face_skips_the_searches_and_loses_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``faces=False`` (the offline painter's pictures, ``GeneratedImage.faces``): the same
    saliency and objects as the full analysis where there is no face to find, and no face
    search at all (so a face that were there would not be found: only painters that cannot
    paint one say so)."""
    from pipeline.backends.procedural import render as paint

    for prompt, seed in (("neon jazz club", 3), ("forest dawn", 7), ("retro poster", 11)):
        painting = paint(prompt, seed, 456, 568)
        assert analyse(painting, faces=False).encode() == analyse(painting).encode()
    searched: list[str] = []
    real = see._detect
    monkeypatch.setattr(see, "_detect", lambda *a, **k: searched.append(a[1]) or real(*a, **k))
    portrait = analyse(photo("astronaut.png"), faces=False)
    assert searched == [] and portrait.faces == ()
    assert float(portrait.saliency.max()) > 0.3  # the saliency is still measured
