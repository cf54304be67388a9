"""DiffusersBackend driven through a pipeline double with diffusers' call signature (CI has no
torch). The real thing — a tiny random-weights StableDiffusionPipeline — runs in
``make test-diffusers`` (tests/diffusers_tiny/), in a separate virtual environment."""

from __future__ import annotations

import random
import sys
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pipeline.backends import ServerPool, create_backend
from pipeline.backends.base import PaintRequest
from pipeline.backends.diffusers_local import DiffusersBackend
from pipeline.errors import BackendCancelled, BackendResponseError, ModelNotFound
from pipeline.settings import load_settings

REQUEST = PaintRequest(prompt="jazz night", aspect=(4, 5), count=3, seed=42,
                       negative_prompt="text")


@dataclass
class Output:
    images: list[Image.Image]


class PipelineDouble:
    """Same call signature and interrupt behaviour as a diffusers text-to-image pipeline:
    each image's colour comes from its own generator, steps run the step-end callback, and
    ``_interrupt`` makes the loop skip the steps left (as diffusers' loop does)."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.steps_run = 0
        self.fail = fail
        self._interrupt = False

    def __call__(self, prompt: str | list[str] | None = None, height: int | None = None,
                 width: int | None = None, num_inference_steps: int = 50,
                 guidance_scale: float = 7.5, negative_prompt: str | None = None,
                 num_images_per_prompt: int = 1, generator: Any = None,
                 output_type: str = "pil", callback_on_step_end: Any = None,
                 **kwargs: Any) -> Output:
        self.calls.append({"prompt": prompt, "height": height, "width": width,
                           "steps": num_inference_steps, "guidance": guidance_scale,
                           "negative_prompt": negative_prompt, "n": num_images_per_prompt,
                           "generators": len(generator)})
        if self.fail is not None:
            raise self.fail
        self._interrupt = False
        colours = [tuple(g.randrange(256) for _ in range(3)) for g in generator]
        for step in range(num_inference_steps):
            if self._interrupt:
                continue
            self.steps_run += 1
            if callback_on_step_end is not None:
                callback_on_step_end(self, step, 999 - step, {})
        assert width is not None and height is not None
        return Output([Image.new("RGB", (width, height), c) for c in colours])


def backend(pipe: PipelineDouble, **kwargs: Any) -> DiffusersBackend:
    loads: list[str] = kwargs.pop("loads", [])

    def loader(model_id: str, device: str) -> PipelineDouble:
        loads.append(model_id)
        return pipe

    return DiffusersBackend("tiny/model", loader=loader, generator=random.Random,
                            use_spaces=kwargs.pop("use_spaces", False), **kwargs)


def test_one_call_per_batch_with_a_generator_per_image() -> None:
    pipe, loads = PipelineDouble(), []
    diffusers = backend(pipe, steps=3, guidance=1.5, loads=loads)
    painting = diffusers.generate(REQUEST)
    again = diffusers.generate(PaintRequest(prompt="jazz night", aspect=(4, 5), seed=43))
    assert loads == ["tiny/model"]  # loaded once
    call = pipe.calls[0]
    assert (call["n"], call["generators"], call["steps"], call["guidance"]) == (3, 3, 3, 1.5)
    assert call["negative_prompt"] == "text" and call["width"] % 8 == 0
    assert [g.seed for g in painting.images] == [42, 43, 44]
    # image 2 of the batch (seed 43) repaints alone with seed 43
    assert np.array_equal(np.asarray(painting.images[1].image), np.asarray(again.images[0].image))
    assert painting.server is None and painting.describe()["zero_gpu"] is False


def test_progress_per_step_and_cancel_between_steps() -> None:
    pipe = PipelineDouble()
    calls: list[tuple[float, str]] = []
    backend(pipe, steps=4).generate(REQUEST, lambda f, m: calls.append((f, m)))
    assert [m for _, m in calls if m.startswith("step")] == [f"step {i} of 4" for i in (1, 2, 3, 4)]
    cancel = threading.Event()
    pipe.steps_run = 0

    def progress(fraction: float, message: str) -> None:
        if message == "step 2 of 10":
            cancel.set()

    with pytest.raises(BackendCancelled):
        backend(pipe, steps=10).generate(REQUEST, progress, cancel)
    assert pipe.steps_run == 2  # stopped between steps


def test_errors_are_translated() -> None:
    oom = type("OutOfMemoryError", (RuntimeError,), {})("CUDA out of memory")
    with pytest.raises(BackendResponseError, match="out of memory"):
        backend(PipelineDouble(fail=oom)).generate(REQUEST)

    def missing(model_id: str, device: str) -> None:
        raise OSError(f"{model_id} is not a local folder and is not a valid model identifier")

    with pytest.raises(ModelNotFound, match="FLYER_DIFFUSERS_MODEL"):
        DiffusersBackend("nobody/nothing", loader=missing, use_spaces=False).generate(REQUEST)


def test_under_zero_gpu_the_function_takes_and_returns_plain_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "stubs"))
    import spaces  # the stand-in in tests/stubs

    try:
        spaces.CALLS.clear()
        diffusers = backend(PipelineDouble(), use_spaces=None, gpu_seconds=33)
        assert diffusers.zero_gpu
        painting = diffusers.generate(REQUEST)
        assert spaces.CALLS == [33] and len(painting.images) == 3
        assert painting.describe()["zero_gpu"] is True
    finally:
        sys.modules.pop("spaces", None)


def test_settings_select_it_in_a_pool() -> None:
    settings = load_settings({"FLYER_BACKEND": "diffusers",
                              "FLYER_DIFFUSERS_MODEL": "some/model"}, env_file=None)
    pool = create_backend(settings.backend, settings)
    assert isinstance(pool, ServerPool) and pool.model == "some/model"
