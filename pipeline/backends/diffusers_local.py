"""In-process diffusers backend (``pip install 'flyer-studio[diffusers]'``): paints on this
machine's GPU (or CPU), for a Hugging Face Space with ZeroGPU or a workstation without a server.

The pipeline (``FLYER_DIFFUSERS_MODEL``, a turbo model by default: 4 steps, no guidance) is
loaded once, on first use. A batch is one pipeline call with one generator per image, so image
*i* has seed *seed + i* and repaints alone with it. Progress comes from diffusers' step-end
callback; cancelling sets the pipeline's interrupt flag, so it stops between steps.

When the ``spaces`` package is present (a ZeroGPU Space), the painting function runs under
``spaces.GPU``: it takes and returns plain data (a dict in, PNG bytes out), as ZeroGPU runs it
in another process; progress is then coarse and cancel works before the GPU is granted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PIL import Image

from ..errors import (
    BackendCancelled,
    BackendError,
    BackendResponseError,
    BackendUnavailable,
    ModelNotFound,
)
from ._batch import Batch
from ._images import decode_image_bytes, png_bytes
from ._sizes import ModelFamily, model_family
from ._worker import CANCELLED
from .base import (
    Capabilities,
    GeneratedImage,
    Painting,
    PaintRequest,
    ProgressCallback,
    no_progress,
)

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["DiffusersBackend", "load_pipeline", "torch_generator"]

Loader = Callable[[str, str], Any]
"""(model id, device) -> a diffusers text-to-image pipeline."""
GeneratorFactory = Callable[[int], Any]
"""seed -> the generator object the pipeline draws that image's noise from."""


def _device(wanted: str) -> str:
    if wanted != "auto":
        return wanted
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def load_pipeline(model_id: str, device: str = "auto") -> Any:
    """``AutoPipelineForText2Image.from_pretrained(model_id)`` on ``device`` (half precision on
    a GPU), its progress bar off."""
    import torch
    from diffusers import AutoPipelineForText2Image

    where = _device(device)
    dtype = torch.float16 if where in ("cuda", "mps") else torch.float32
    pipe = AutoPipelineForText2Image.from_pretrained(model_id, torch_dtype=dtype)
    pipe = pipe.to(where)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def torch_generator(seed: int) -> Any:
    """A CPU ``torch.Generator`` seeded with ``seed``: the same noise on any device."""
    import torch

    return torch.Generator(device="cpu").manual_seed(seed)


def _translate(exc: BaseException, model_id: str) -> BackendError:
    name, text = type(exc).__name__, " ".join(str(exc).split())[:300]
    if "OutOfMemory" in name or "out of memory" in text.lower():
        return BackendResponseError(
            "The GPU ran out of memory: try a smaller batch or size, or a smaller model.")
    if isinstance(exc, ImportError):
        return BackendUnavailable(
            "The diffusers backend needs its extra: pip install 'flyer-studio[diffusers]' "
            f"({text}).")
    if isinstance(exc, OSError):
        return ModelNotFound(
            f"Cannot load the model {model_id!r} ({text}); check FLYER_DIFFUSERS_MODEL and that "
            "it is in the Hugging Face cache or reachable.")
    return BackendResponseError(f"diffusers failed painting with {model_id!r} ({name}: {text}).")


class DiffusersBackend:
    """Paints in this process with a diffusers pipeline, one batch at a time."""

    name = "diffusers"
    capabilities = Capabilities()

    def __init__(
        self,
        model_id: str = "stabilityai/sdxl-turbo",
        *,
        steps: int = 4,
        guidance: float = 0.0,
        family: ModelFamily | None = None,
        device: str = "auto",
        loader: Loader | None = None,
        generator: GeneratorFactory | None = None,
        gpu_seconds: int = 60,
        use_spaces: bool | None = None,
    ) -> None:
        self.model_id = model_id
        self.steps = steps
        self.guidance = guidance
        self.family = family or model_family("turbo")
        self.device = device
        self._loader = loader or load_pipeline
        self._generator = generator or torch_generator
        self._pipe: Any = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._gpu: Callable[[dict[str, Any]], list[bytes]] | None = None
        if use_spaces is not False:
            try:
                import spaces
            except ImportError:
                spaces = None
            if spaces is not None:
                self._gpu = spaces.GPU(duration=gpu_seconds)(self.paint_plain)

    @classmethod
    def from_settings(cls, settings: Settings) -> DiffusersBackend:
        section = settings.diffusers
        return cls(section.model, steps=section.steps, guidance=section.guidance,
                   family=model_family(settings.model_family or section.family),
                   device=section.device, gpu_seconds=section.gpu_seconds)

    @property
    def model(self) -> str:
        return self.model_id

    @property
    def server(self) -> None:
        return None

    @property
    def zero_gpu(self) -> bool:
        return self._gpu is not None

    def check(self) -> None:
        try:
            import diffusers  # noqa: F401
        except ImportError as exc:
            if self._loader is load_pipeline:
                raise _translate(exc, self.model_id) from None

    def paint_size(self, request: PaintRequest) -> tuple[int, int]:
        return self.family.fit(request.aspect, request.pixel_budget)

    def pipeline(self) -> Any:
        """The pipeline, loaded on first use and kept."""
        with self._load_lock:
            if self._pipe is None:
                try:
                    self._pipe = self._loader(self.model_id, self.device)
                except Exception as exc:  # third-party errors, translated once, here
                    raise _translate(exc, self.model_id) from None
            return self._pipe

    # --- generation -----------------------------------------------------------------------------
    def generate(
        self,
        request: PaintRequest,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> Painting:
        batch = Batch.start(self, request, progress, cancel)
        report, token = batch.report, batch.cancel
        width, height = batch.size
        first = batch.first_seed()
        seeds = [first + i for i in range(request.count)]
        job = {"prompt": request.prompt, "negative_prompt": request.negative_prompt,
               "seeds": seeds, "width": width, "height": height, "steps": self.steps,
               "guidance": self.guidance}
        batch.check_cancel()
        report(0.0, f"loading {self.model_id}" if self._pipe is None else "painting")
        self.pipeline()
        with self._run_lock:
            if self._gpu is not None:  # ZeroGPU: plain data across the process boundary
                report(0.05, "waiting for a GPU")
                pngs = self._gpu(job)
                batch.check_cancel()
                images = [decode_image_bytes(data, f"image {i + 1} from diffusers")
                          for i, data in enumerate(pngs)]
            else:
                images = self.paint(job, report, token)
        return batch.finish(
            self, [GeneratedImage(image=image, seed=seed)
                   for image, seed in zip(images, seeds, strict=False)],
            {"steps": self.steps, "guidance_scale": self.guidance, "zero_gpu": self.zero_gpu})

    def paint_plain(self, job: dict[str, Any]) -> list[bytes]:
        """The ZeroGPU entry point: a dict of plain values in, PNG bytes out."""
        return [png_bytes(image) for image in self.paint(job)]

    def paint(self, job: dict[str, Any], report: ProgressCallback = no_progress,
              cancel: threading.Event | None = None) -> list[Image.Image]:
        """One pipeline call for the whole batch; stops between steps when cancelled."""
        pipe = self.pipeline()
        steps = int(job["steps"])

        def on_step_end(pipe_: Any, step: int, timestep: Any,
                        tensors: dict[str, Any]) -> dict[str, Any]:
            report(min(0.99, (step + 1) / steps), f"step {step + 1} of {steps}")
            if cancel is not None and cancel.is_set():
                pipe_._interrupt = True  # diffusers' own flag: the loop skips the steps left
            return tensors

        try:
            result = pipe(
                prompt=job["prompt"],
                negative_prompt=job["negative_prompt"] or None,
                width=int(job["width"]),
                height=int(job["height"]),
                num_inference_steps=steps,
                guidance_scale=float(job["guidance"]),
                num_images_per_prompt=len(job["seeds"]),
                generator=[self._generator(int(seed)) for seed in job["seeds"]],
                callback_on_step_end=on_step_end,
                output_type="pil",
            )
        except Exception as exc:  # third-party errors, translated once, here
            raise _translate(exc, self.model_id) from None
        if cancel is not None and cancel.is_set():
            raise BackendCancelled(CANCELLED)
        images = list(getattr(result, "images", None) or [])
        if len(images) < len(job["seeds"]):
            raise BackendResponseError(
                f"diffusers returned {len(images)} image(s) instead of {len(job['seeds'])}.")
        return [image.convert("RGB") for image in images]
