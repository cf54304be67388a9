"""DiffusersBackend through a real diffusers StableDiffusionPipeline with tiny random weights,
built from configs here (as diffusers' own tests do), on CPU. Needs torch, diffusers and
transformers: run ``make test-diffusers`` (a separate virtual environment); skipped elsewhere.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")
transformers = pytest.importorskip("transformers")

from pipeline.backends.base import PaintRequest  # noqa: E402
from pipeline.backends.diffusers_local import DiffusersBackend  # noqa: E402
from pipeline.errors import BackendCancelled  # noqa: E402

REQUEST = PaintRequest(prompt="jazz night", aspect=(4, 5), count=2, seed=7,
                       negative_prompt="text", pixel_budget=64 * 80)


def tiny_tokenizer(folder: Path) -> Any:
    """A CLIP tokenizer over single letters (no merges), written to ``folder``."""
    letters = list("abcdefghijklmnopqrstuvwxyz,.!")
    tokens = ["<|startoftext|>", "<|endoftext|>", *letters, *(c + "</w>" for c in letters)]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return transformers.CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"),
                                      model_max_length=77)


def tiny_pipeline(folder: Path) -> Any:
    torch.manual_seed(0)
    unet = diffusers.UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=16, in_channels=4,
        out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32,
        norm_num_groups=16)
    vae = diffusers.AutoencoderKL(
        block_out_channels=[16, 32], in_channels=3, out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"], latent_channels=4,
        norm_num_groups=16)
    text_encoder = transformers.CLIPTextModel(transformers.CLIPTextConfig(
        bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=32, intermediate_size=37,
        layer_norm_eps=1e-05, num_attention_heads=4, num_hidden_layers=2, vocab_size=100))
    scheduler = diffusers.DDIMScheduler(beta_start=0.00085, beta_end=0.012,
                                        beta_schedule="scaled_linear", clip_sample=False,
                                        set_alpha_to_one=False, steps_offset=1)
    pipe = diffusers.StableDiffusionPipeline(
        unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tiny_tokenizer(folder),
        scheduler=scheduler, safety_checker=None, feature_extractor=None,
        requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> DiffusersBackend:
    pipe = tiny_pipeline(tmp_path_factory.mktemp("tokenizer"))
    return DiffusersBackend("tiny-random-sd", steps=3, guidance=2.0, device="cpu",
                            loader=lambda model_id, device: pipe, use_spaces=False)


def test_paints_a_batch_with_seeds_per_image(backend: DiffusersBackend) -> None:
    calls: list[str] = []
    painting = backend.generate(REQUEST, lambda fraction, message: calls.append(message))
    assert [g.seed for g in painting.images] == [7, 8]
    width, height = backend.paint_size(REQUEST)
    assert all(g.image.size == (width, height) and g.image.mode == "RGB"
               for g in painting.images)
    assert [m for m in calls if m.startswith("step")] == ["step 1 of 3", "step 2 of 3",
                                                          "step 3 of 3"]
    # image 2 (seed 8) repaints alone with seed 8; a different seed paints something else
    alone = backend.generate(PaintRequest(prompt="jazz night", aspect=(4, 5), seed=8,
                                          negative_prompt="text", pixel_budget=64 * 80))
    second, again = (np.asarray(i.image, dtype=float) for i in (painting.images[1],
                                                                 alone.images[0]))
    assert np.abs(second - again).max() <= 2
    first = np.asarray(painting.images[0].image, dtype=float)
    assert np.abs(first - second).mean() > 1


def test_cancel_stops_between_steps(backend: DiffusersBackend) -> None:
    cancel = threading.Event()
    steps: list[str] = []

    def progress(fraction: float, message: str) -> None:
        if message.startswith("step"):
            steps.append(message)
            cancel.set()

    with pytest.raises(BackendCancelled):
        backend.generate(REQUEST, progress, cancel)
    assert steps == ["step 1 of 3"]
