"""ProceduralBackend: deterministic, varied, palette-aware designed backgrounds."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from pipeline.backends import ImageBackend
from pipeline.backends.base import PaintRequest
from pipeline.backends.procedural import ProceduralBackend, render
from pipeline.errors import BackendCancelled, InvalidRequest


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float64)


def paint(prompt: str = "jazz night", seed: int = 1, size: tuple[int, int] = (160, 200),
          **extra: object) -> list[Image.Image]:
    palette = extra.get("palette", ())
    ProceduralBackend().generate(PaintRequest(prompt=prompt, seed=seed,
                                              palette=palette))  # type: ignore[arg-type]
    return [render(prompt, seed, size[0], size[1], palette)]  # type: ignore[arg-type]


def test_is_an_image_backend() -> None:
    backend = ProceduralBackend()
    assert isinstance(backend, ImageBackend)
    assert backend.name == "procedural" and backend.model == "procedural-v1"


def test_its_paintings_say_they_show_no_face() -> None:
    """So their analysis skips the face searches (``see.analyse(faces=False)``)."""
    painting = ProceduralBackend().generate(PaintRequest(prompt="jazz night", seed=1, count=2))
    assert [image.faces for image in painting.images] == [False, False]


def test_same_inputs_same_pixels() -> None:
    first, second = paint(seed=42)[0], paint(seed=42)[0]
    assert first.mode == "RGB" and first.size == (160, 200)
    assert np.array_equal(pixels(first), pixels(second))


def test_seeds_give_visibly_different_images() -> None:
    images = [pixels(paint(seed=s)[0]) for s in (1, 2, 3, 4, 5)]
    for i in range(len(images)):
        for j in range(i + 1, len(images)):
            assert np.abs(images[i] - images[j]).mean() > 12, (i, j)


def test_prompts_get_different_palettes() -> None:
    def mean_colour(prompt: str) -> np.ndarray:
        return np.mean([pixels(paint(prompt, s)[0]).reshape(-1, 3).mean(0) for s in (1, 2, 3)], 0)

    jazz, spring, techno = (mean_colour(p) for p in ("jazz night", "spring market", "techno rave"))
    assert np.linalg.norm(jazz - spring) > 60
    assert np.linalg.norm(spring - techno) > 60
    assert spring.mean() > jazz.mean() + 40  # spring is light and fresh, jazz deep


def test_images_are_calm_enough_for_text() -> None:
    # Not noise: neighbouring pixels are close (only a fine grain between them).
    for seed in range(1, 6):
        image = pixels(paint("summer beach", seed, (320, 400))[0])
        assert np.abs(np.diff(image, axis=1)).mean() < 6, seed


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_brand_palette_is_honoured(seed: int) -> None:
    red_blue = pixels(paint("techno rave", seed, palette=("#d01010", "#1020c0"))[0])
    r, g, b = red_blue.reshape(-1, 3).mean(0)
    assert g < 70 and max(r, b) > 90, (r, g, b)

    green = pixels(paint("jazz night", seed, palette=("#00a86b",))[0]).reshape(-1, 3).mean(0)
    assert green[1] > green[0] + 40 and green[1] > green[2], green


def test_bad_brand_colour_names_the_field() -> None:
    with pytest.raises(InvalidRequest) as caught:
        paint(palette=("#12345g",))
    assert caught.value.field == "palette"


def test_random_seed_is_reported_and_reproducible() -> None:
    backend = ProceduralBackend()
    request = PaintRequest(prompt="autumn", aspect=(96, 120), pixel_budget=96 * 120)
    batch = backend.generate(replace(request, count=2, seed=-1)).images
    first, second = batch
    assert first.seed >= 0 and second.seed == first.seed + 1
    again = backend.generate(replace(request, seed=second.seed)).images[0]
    assert again.seed == second.seed
    assert np.array_equal(pixels(again.image), pixels(second.image))


def test_batch_image_i_uses_seed_plus_i() -> None:
    batch = ProceduralBackend().generate(
        PaintRequest(prompt="market", aspect=(80, 80), pixel_budget=80 * 80, count=3, seed=10)
    ).images
    assert [g.seed for g in batch] == [10, 11, 12]
    assert np.array_equal(pixels(batch[2].image), pixels(paint("market", 12, (80, 80))[0]))


@pytest.mark.parametrize("size", [(333, 777), (1, 1), (17, 9), (1200, 61), (513, 512)])
def test_sizes_are_honoured(size: tuple[int, int]) -> None:
    for seed in range(5):  # every style
        image = paint("winter gala", seed, size)[0]
        assert image.size == size and image.mode == "RGB"


def test_progress_increases_and_ends_done() -> None:
    calls: list[tuple[float, str]] = []
    ProceduralBackend().generate(
        PaintRequest(prompt="x", aspect=(64, 64), pixel_budget=64 * 64, count=3, seed=1),
        lambda fraction, message: calls.append((fraction, message)),
    )
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and len(set(fractions)) >= 4
    assert calls[-1] == (1.0, "done")


def test_cancel_stops_the_batch() -> None:
    backend = ProceduralBackend()
    calls: list[float] = []
    cancel = threading.Event()

    def progress(fraction: float, message: str) -> None:
        calls.append(fraction)
        if 0 < fraction < 1:
            cancel.set()

    with pytest.raises(BackendCancelled):
        backend.generate(PaintRequest(prompt="x", aspect=(64, 64), count=4), progress, cancel)
    assert len([f for f in calls if 0 < f < 1]) == 1
    # A later job is not affected by the earlier cancel.
    assert len(backend.generate(PaintRequest(prompt="x")).images) == 1


def test_a_job_cancel_event_stops_that_batch() -> None:
    backend = ProceduralBackend()
    cancel = threading.Event()

    def progress(fraction: float, message: str) -> None:
        if 0 < fraction < 1:
            cancel.set()

    with pytest.raises(BackendCancelled):
        backend.generate(PaintRequest(prompt="x", aspect=(64, 64), count=4),
                         progress, cancel)
    assert len(backend.generate(PaintRequest(prompt="x")).images) == 1


@pytest.mark.parametrize(("aspect", "budget"), [((1080, 1350), None), ((1920, 1080), 300_000),
                                                ((2480, 3508), None), ((100, 100), 64 * 64)])
def test_paint_size_follows_the_aspect_within_the_budget(
    aspect: tuple[int, int], budget: int | None
) -> None:
    request = PaintRequest(prompt="x", aspect=aspect, pixel_budget=budget)
    painting = ProceduralBackend().generate(request)
    width, height = painting.size
    assert painting.images[0].image.size == (width, height)
    assert width % 8 == 0 and height % 8 == 0
    assert abs(width / height - aspect[0] / aspect[1]) < 0.03 * aspect[0] / aspect[1]
    assert width * height <= 1.06 * (budget or 512 * 512)
    assert painting.describe()["seeds_reproducible"] is True and painting.server is None
