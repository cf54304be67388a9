"""Each backend's own section of the settings (ComfyUI, OpenAI-compatible, Hugging Face
Inference, in-process diffusers).

Neutral things (prompt, seed, batch, aspect) never live here: only what one backend needs
(its server list, workflow file, model id, provider, key...). Every field is declared once with
:func:`~pipeline.declare.setting` (variable, cast, default, help, secret); ``Settings`` holds
one of each section and ``settings.load_settings`` fills them. The sections' ``family`` is not
a variable of its own: FLYER_MODEL_FAMILY sets it in all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .casts import (
    COMFYUI_ROLES,
    comfy_nodes,
    existing_file,
    image_sizes,
    non_negative_float,
    parse_urls,
    positive_int,
    text_value,
)
from .declare import redacted_repr, setting

__all__ = [
    "ComfyUISettings",
    "DiffusersSettings",
    "HFSettings",
    "OpenAISettings",
    "parse_urls",
    "positive_int",
    "text_value",
]

COMFYUI = "ComfyUI (FLYER_BACKEND=comfyui)"
OPENAI = "OpenAI-compatible images (FLYER_BACKEND=openai)"
HF = "Hugging Face Inference (FLYER_BACKEND=hf-inference)"
DIFFUSERS = "In-process diffusers (FLYER_BACKEND=diffusers; pip install '.[diffusers]')"


@dataclass(frozen=True, repr=False)
class ComfyUISettings:
    urls: tuple[str, ...] = setting(
        "FLYER_COMFYUI_URL", parse_urls, (),
        "Comma-separated ComfyUI server URLs (`python main.py --listen`; default port 8188), "
        "e.g. `http://127.0.0.1:8188`.", group=COMFYUI)
    workflow: Path | None = setting(
        "FLYER_COMFYUI_WORKFLOW", existing_file, None,
        "Your own workflow exported with \"Save (API Format)\" (a JSON file). Empty: the shipped "
        "default workflow (checkpoint loader, KSampler, VAE decode, save image).", group=COMFYUI)
    nodes: tuple[tuple[str, str], ...] = setting(
        "FLYER_COMFYUI_NODES", comfy_nodes, (),
        "For your own workflow: which node takes which input, as `role=node_id.input` pairs, "
        "e.g. `prompt=6.text,seed=3.seed,width=5.width,output=9`. Roles: "
        + ", ".join(COMFYUI_ROLES) + " (`output`=node_id of the image output).", group=COMFYUI)
    checkpoint: str = setting(
        "FLYER_COMFYUI_CHECKPOINT", text_value,
        "v1-5-pruned-emaonly.safetensors",
        "Checkpoint file (in ComfyUI's models/checkpoints) the default workflow loads.",
        group=COMFYUI)
    family: str = "sd15"
    """Set from FLYER_MODEL_FAMILY when given."""
    sampler: str = setting(
        "FLYER_COMFYUI_SAMPLER", text_value, "euler",
        "ComfyUI sampler name in the default workflow (`euler`, `dpmpp_2m`...).", group=COMFYUI)
    scheduler: str = setting(
        "FLYER_COMFYUI_SCHEDULER", text_value, "normal",
        "ComfyUI scheduler name in the default workflow (`normal`, `karras`...).",
        group=COMFYUI)
    steps: int = setting(
        "FLYER_COMFYUI_STEPS", positive_int, 20,
        "Sampling steps in the default workflow.", group=COMFYUI)
    cfg: float = setting(
        "FLYER_COMFYUI_CFG", non_negative_float, 7.0,
        "CFG scale in the default workflow.", group=COMFYUI)

    def __repr__(self) -> str:
        return redacted_repr(self)


@dataclass(frozen=True, repr=False)
class OpenAISettings:
    urls: tuple[str, ...] = setting(
        "FLYER_OPENAI_URL", parse_urls, ("https://api.openai.com",),
        "Base URL(s) of OpenAI-compatible image APIs, comma-separated (LocalAI: "
        "`http://127.0.0.1:8080`); `/v1/images/generations` is added.", group=OPENAI)
    api_key: str | None = setting(
        "FLYER_OPENAI_API_KEY", text_value, None,
        "Bearer key for the OpenAI-compatible API; `OPENAI_API_KEY` is read when this is unset.",
        group=OPENAI, secret=True, aliases=("OPENAI_API_KEY",))
    model: str = setting(
        "FLYER_OPENAI_MODEL", text_value, "gpt-image-1",
        "Image model name at the API (`dall-e-3`: also set FLYER_OPENAI_MAX_IMAGES=1).",
        group=OPENAI)
    sizes: tuple[tuple[int, int], ...] = setting(
        "FLYER_OPENAI_SIZES", image_sizes,
        ((1024, 1024), (1024, 1536), (1536, 1024)),
        "Sizes the API accepts; the studio asks for the one closest to the flyer's shape "
        "(`dall-e-3`: 1024x1024,1024x1792,1792x1024).", group=OPENAI,
        example="1024x1024,1024x1536,1536x1024")
    max_images: int = setting(
        "FLYER_OPENAI_MAX_IMAGES", positive_int, 10,
        "Most images one call may ask for (1 for `dall-e-3`); larger batches take several "
        "calls.", group=OPENAI)

    def __repr__(self) -> str:
        return redacted_repr(self)


@dataclass(frozen=True, repr=False)
class HFSettings:
    token: str | None = setting(
        "HF_TOKEN", text_value, None,
        "Hugging Face token for Hugging Face Inference (on a Space: a secret named HF_TOKEN).",
        group=HF, secret=True)
    model: str = setting(
        "FLYER_HF_MODEL", text_value, "black-forest-labs/FLUX.1-schnell",
        "Text-to-image model id on Hugging Face Inference.", group=HF)
    provider: str = setting(
        "FLYER_HF_PROVIDER", text_value, "auto",
        "Inference provider: `auto`, `hf-inference`, `fal-ai`, `replicate`, `together`...",
        group=HF)
    endpoints: tuple[str, ...] = setting(
        "FLYER_HF_ENDPOINT", parse_urls, (),
        "Dedicated Inference Endpoint URL(s) (or a compatible server), comma-separated, "
        "instead of a provider.", group=HF)
    family: str = "flux"
    """Set from FLYER_MODEL_FAMILY when given."""
    steps: int | None = setting(
        "FLYER_HF_STEPS", positive_int, None,
        "Inference steps (empty: the model's default; FLUX.1-schnell wants about 4).",
        group=HF, shown_default="model's")

    def __repr__(self) -> str:
        return redacted_repr(self)


@dataclass(frozen=True, repr=False)
class DiffusersSettings:
    model: str = setting(
        "FLYER_DIFFUSERS_MODEL", text_value, "stabilityai/sdxl-turbo",
        "Model id on the Hub (downloaded once into the Hugging Face cache) or a local folder, "
        "for the in-process diffusers backend.", group=DIFFUSERS)
    steps: int = setting(
        "FLYER_DIFFUSERS_STEPS", positive_int, 4,
        "Inference steps for the in-process diffusers backend.", group=DIFFUSERS)
    guidance: float = setting(
        "FLYER_DIFFUSERS_GUIDANCE", non_negative_float, 0.0,
        "Guidance scale for the in-process diffusers backend.", group=DIFFUSERS)
    family: str = "turbo"
    """Set from FLYER_MODEL_FAMILY when given."""
    device: str = setting(
        "FLYER_DIFFUSERS_DEVICE", text_value, "auto",
        "`auto` (cuda, then mps, then cpu), `cuda`, `mps` or `cpu`.", group=DIFFUSERS)
    gpu_seconds: int = setting(
        "FLYER_DIFFUSERS_GPU_SECONDS", positive_int, 60,
        "On a ZeroGPU Space: seconds of GPU asked for one batch (`spaces.GPU(duration=...)`).",
        group=DIFFUSERS)

    def __repr__(self) -> str:
        return redacted_repr(self)
