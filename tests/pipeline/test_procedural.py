"""ProceduralBackend: deterministic, varied, palette-aware designed backgrounds."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image

from pipeline.backends import ImageBackend
from pipeline.backends.base import GenerationParams
from pipeline.backends.procedural import ProceduralBackend
from pipeline.errors import BackendCancelled, InvalidRequest


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float64)


def paint(prompt: str = "jazz night", seed: int = 1, size: tuple[int, int] = (160, 200),
          **extra: object) -> list[Image.Image]:
    params = GenerationParams(prompt=prompt, width=size[0], height=size[1], seed=seed,
                              **extra)  # type: ignore[arg-type]
    return [g.image for g in ProceduralBackend().generate(params)]


def test_is_an_image_backend() -> None:
    backend = ProceduralBackend()
    assert isinstance(backend, ImageBackend)
    assert backend.name == "procedural" and backend.model == "procedural-v1"


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
    batch = backend.generate(GenerationParams(prompt="autumn", width=96, height=120,
                                              batch_size=2, seed=-1))
    first, second = batch
    assert first.seed >= 0 and second.seed == first.seed + 1
    again = backend.generate(GenerationParams(prompt="autumn", width=96, height=120,
                                              seed=second.seed))[0]
    assert again.seed == second.seed
    assert np.array_equal(pixels(again.image), pixels(second.image))


def test_batch_image_i_uses_seed_plus_i() -> None:
    batch = ProceduralBackend().generate(
        GenerationParams(prompt="market", width=80, height=80, batch_size=3, seed=10)
    )
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
        GenerationParams(prompt="x", width=64, height=64, batch_size=3, seed=1),
        lambda fraction, message: calls.append((fraction, message)),
    )
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and len(set(fractions)) >= 4
    assert calls[-1] == (1.0, "done")


def test_cancel_stops_the_batch() -> None:
    backend = ProceduralBackend()
    calls: list[float] = []

    def progress(fraction: float, message: str) -> None:
        calls.append(fraction)
        if 0 < fraction < 1:
            backend.cancel()

    with pytest.raises(BackendCancelled):
        backend.generate(GenerationParams(prompt="x", width=64, height=64, batch_size=4),
                         progress)
    assert len([f for f in calls if 0 < f < 1]) == 1
    # A later job is not affected by the earlier cancel.
    assert len(backend.generate(GenerationParams(prompt="x", width=64, height=64))) == 1


def test_a_job_cancel_event_stops_that_batch() -> None:
    backend = ProceduralBackend()
    cancel = threading.Event()

    def progress(fraction: float, message: str) -> None:
        if 0 < fraction < 1:
            cancel.set()

    with pytest.raises(BackendCancelled):
        backend.generate(GenerationParams(prompt="x", width=64, height=64, batch_size=4),
                         progress, cancel)
    assert len(backend.generate(GenerationParams(prompt="x", width=64, height=64))) == 1
