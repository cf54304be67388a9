"""Each backend's own section of the settings (ComfyUI, OpenAI-compatible, Hugging Face
Inference, in-process diffusers), read from the environment by :func:`load_sections`.

Neutral things (prompt, seed, batch, aspect) never live here: only what one backend needs
(its server list, workflow file, model id, provider, key...). ``settings.load_settings`` calls
this once and keeps the sections on ``Settings``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from .errors import ConfigError

__all__ = [
    "BACKEND_ENV_VARIABLES",
    "ComfyUISettings",
    "DiffusersSettings",
    "HFSettings",
    "OpenAISettings",
    "load_sections",
    "parse_urls",
    "positive_int",
    "text_value",
]

T = TypeVar("T")

COMFYUI_ROLES = ("prompt", "negative_prompt", "seed", "width", "height", "batch_size",
                 "checkpoint", "steps", "cfg", "sampler", "scheduler", "output")


@dataclass(frozen=True)
class ComfyUISettings:
    urls: tuple[str, ...] = ()
    workflow: Path | None = None
    """The user's own workflow exported in API format; None: the shipped default."""
    nodes: tuple[tuple[str, str], ...] = ()
    """role -> "node_id.input" (or "node_id" for ``output``) for the user's workflow."""
    checkpoint: str = "v1-5-pruned-emaonly.safetensors"
    family: str = "sd15"
    sampler: str = "euler"
    scheduler: str = "normal"
    steps: int = 20
    cfg: float = 7.0


@dataclass(frozen=True)
class OpenAISettings:
    urls: tuple[str, ...] = ("https://api.openai.com",)
    api_key: str | None = None
    model: str = "gpt-image-1"
    sizes: tuple[tuple[int, int], ...] = ((1024, 1024), (1024, 1536), (1536, 1024))
    max_images: int = 10
    """Most images one call may ask for (DALL·E 3 takes 1): larger batches take more calls."""


@dataclass(frozen=True)
class HFSettings:
    token: str | None = None
    model: str = "black-forest-labs/FLUX.1-schnell"
    provider: str = "auto"
    endpoints: tuple[str, ...] = ()
    """Dedicated Inference Endpoint URLs (or a compatible server); empty: the provider's."""
    family: str = "flux"
    steps: int | None = None


@dataclass(frozen=True)
class DiffusersSettings:
    model: str = "stabilityai/sdxl-turbo"
    steps: int = 4
    guidance: float = 0.0
    family: str = "turbo"
    device: str = "auto"
    gpu_seconds: int = 60
    """ZeroGPU: seconds asked for one batch (``spaces.GPU(duration=...)``)."""


BACKEND_ENV_VARIABLES: dict[str, str] = {
    "FLYER_SD_UPSCALER": "AUTOMATIC1111 upscaler used when a print target is over 2x the painting",
    "FLYER_MODEL_FAMILY": "sd15, sd2, sdxl, sd3, flux or turbo: sets the paint size (all backends)",
    "FLYER_POOL_HEALTH_INTERVAL": "Seconds between health checks of each server in a list",
    "FLYER_COMFYUI_URL": "Comma-separated ComfyUI server URLs (e.g. http://127.0.0.1:8188)",
    "FLYER_COMFYUI_WORKFLOW": "Your own ComfyUI workflow, exported in API format (JSON file)",
    "FLYER_COMFYUI_NODES": "Which node takes which input in your workflow: prompt=6.text,...",
    "FLYER_COMFYUI_CHECKPOINT": "Checkpoint file the default ComfyUI workflow loads",
    "FLYER_COMFYUI_SAMPLER": "ComfyUI sampler name (euler, dpmpp_2m...)",
    "FLYER_COMFYUI_SCHEDULER": "ComfyUI scheduler name (normal, karras...)",
    "FLYER_COMFYUI_STEPS": "Sampling steps in the default ComfyUI workflow",
    "FLYER_COMFYUI_CFG": "CFG scale in the default ComfyUI workflow",
    "FLYER_OPENAI_URL": "Comma-separated base URLs of OpenAI-compatible image APIs",
    "FLYER_OPENAI_API_KEY": "Bearer key for the OpenAI-compatible API (else OPENAI_API_KEY)",
    "OPENAI_API_KEY": "Fallback bearer key for the OpenAI-compatible API",
    "FLYER_OPENAI_MODEL": "Image model name at the OpenAI-compatible API",
    "FLYER_OPENAI_SIZES": "Sizes the API accepts, e.g. 1024x1024,1024x1536,1536x1024",
    "FLYER_OPENAI_MAX_IMAGES": "Most images one call may ask for (1 for DALL-E 3)",
    "HF_TOKEN": "Hugging Face token (a Space secret) for Hugging Face Inference",
    "FLYER_HF_MODEL": "Model id on Hugging Face Inference (text-to-image)",
    "FLYER_HF_PROVIDER": "Inference provider: auto, hf-inference, fal-ai, replicate, together...",
    "FLYER_HF_ENDPOINT": "Comma-separated Inference Endpoint URLs (instead of a provider)",
    "FLYER_HF_STEPS": "Inference steps sent to Hugging Face Inference (default: the model's)",
    "FLYER_DIFFUSERS_MODEL": "Model id or folder for the in-process diffusers backend",
    "FLYER_DIFFUSERS_STEPS": "Inference steps for the in-process diffusers backend",
    "FLYER_DIFFUSERS_GUIDANCE": "Guidance scale for the in-process diffusers backend",
    "FLYER_DIFFUSERS_DEVICE": "auto, cuda, mps or cpu for the in-process diffusers backend",
    "FLYER_DIFFUSERS_GPU_SECONDS": "ZeroGPU seconds asked for one batch",
    "SPACE_ID": "Set by Hugging Face Spaces; with HF_TOKEN and no server, picks hf-inference",
}


def parse_urls(name: str, raw: str) -> tuple[str, ...]:
    """A comma-separated list of http(s) URLs (duplicates dropped)."""
    urls: list[str] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        parts = urlsplit(item)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(name, f"expected URLs like http://host:7860, got {item!r}")
        try:
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError:
            raise ConfigError(
                name, f"the port in {item!r} is not a number from 1 to 65535"
            ) from None
        url = item.rstrip("/")
        if url not in urls:
            urls.append(url)
    if not urls:
        raise ConfigError(name, "expected at least one URL")
    return tuple(urls)


def positive_int(name: str, raw: str) -> int:
    """A whole number above zero, or a ConfigError naming the variable."""
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(name, f"expected a whole number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(name, f"must be greater than zero, got {value}")
    return value


def _float(name: str, raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(name, f"expected a number, got {raw!r}") from None
    if not 0 <= value < float("inf"):
        raise ConfigError(name, f"must be a finite number, zero or more, got {raw!r}")
    return value


def text_value(name: str, raw: str) -> str:
    """The value without surrounding spaces."""
    return raw.strip()


def _family(name: str, raw: str) -> str:
    from .backends._sizes import model_family

    return model_family(raw, name).name


def _file(name: str, raw: str) -> Path:
    path = Path(raw.strip()).expanduser()
    if not path.is_file():
        raise ConfigError(name, f"no readable file at {str(path)!r}")
    return path


def _nodes(name: str, raw: str) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        role, sep, target = (piece.strip() for piece in item.partition("="))
        if not sep or role not in COMFYUI_ROLES or not target:
            raise ConfigError(
                name, f"expected role=node.input pairs (roles: {', '.join(COMFYUI_ROLES)}), "
                f"got {item!r}"
            )
        if role != "output" and "." not in target:
            raise ConfigError(name, f"{role} needs node_id.input_name, got {target!r}")
        pairs.append((role, target))
    return tuple(pairs)


def _sizes(name: str, raw: str) -> tuple[tuple[int, int], ...]:
    from .backends._sizes import parse_sizes

    return parse_sizes(name, raw)


def load_sections(env: Mapping[str, str]) -> dict[str, object]:
    """The backend sections (and the few backend-wide values) from ``env`` (empty values
    already dropped): keys are ``Settings`` field names."""

    def get(name: str, cast: Callable[[str, str], T], default: T) -> T:
        return cast(name, env[name]) if name in env else default

    comfy = ComfyUISettings()
    comfyui = ComfyUISettings(
        urls=get("FLYER_COMFYUI_URL", parse_urls, comfy.urls),
        workflow=get("FLYER_COMFYUI_WORKFLOW", _file, None),
        nodes=get("FLYER_COMFYUI_NODES", _nodes, comfy.nodes),
        checkpoint=get("FLYER_COMFYUI_CHECKPOINT", text_value, comfy.checkpoint),
        family=get("FLYER_MODEL_FAMILY", _family, comfy.family),
        sampler=get("FLYER_COMFYUI_SAMPLER", text_value, comfy.sampler),
        scheduler=get("FLYER_COMFYUI_SCHEDULER", text_value, comfy.scheduler),
        steps=get("FLYER_COMFYUI_STEPS", positive_int, comfy.steps),
        cfg=get("FLYER_COMFYUI_CFG", _float, comfy.cfg),
    )
    if comfyui.nodes and comfyui.workflow is None:
        raise ConfigError("FLYER_COMFYUI_NODES", "maps nodes of FLYER_COMFYUI_WORKFLOW; set it too")
    oa = OpenAISettings()
    openai = OpenAISettings(
        urls=get("FLYER_OPENAI_URL", parse_urls, oa.urls),
        api_key=get("FLYER_OPENAI_API_KEY", text_value, get("OPENAI_API_KEY", text_value, None)),
        model=get("FLYER_OPENAI_MODEL", text_value, oa.model),
        sizes=get("FLYER_OPENAI_SIZES", _sizes, oa.sizes),
        max_images=get("FLYER_OPENAI_MAX_IMAGES", positive_int, oa.max_images),
    )
    hf_defaults = HFSettings()
    hf = HFSettings(
        token=get("HF_TOKEN", text_value, None),
        model=get("FLYER_HF_MODEL", text_value, hf_defaults.model),
        provider=get("FLYER_HF_PROVIDER", text_value, hf_defaults.provider),
        endpoints=get("FLYER_HF_ENDPOINT", parse_urls, ()),
        family=get("FLYER_MODEL_FAMILY", _family, hf_defaults.family),
        steps=get("FLYER_HF_STEPS", positive_int, None),
    )
    df = DiffusersSettings()
    diffusers = DiffusersSettings(
        model=get("FLYER_DIFFUSERS_MODEL", text_value, df.model),
        steps=get("FLYER_DIFFUSERS_STEPS", positive_int, df.steps),
        guidance=get("FLYER_DIFFUSERS_GUIDANCE", _float, df.guidance),
        family=get("FLYER_MODEL_FAMILY", _family, df.family),
        device=get("FLYER_DIFFUSERS_DEVICE", text_value, df.device),
        gpu_seconds=get("FLYER_DIFFUSERS_GPU_SECONDS", positive_int, df.gpu_seconds),
    )
    values: dict[str, object] = {
        "comfyui": comfyui, "openai": openai, "hf": hf, "diffusers": diffusers,
        "space_id": get("SPACE_ID", text_value, None),
    }
    if "FLYER_SD_UPSCALER" in env:
        values["sd_upscaler"] = env["FLYER_SD_UPSCALER"].strip()
    if "FLYER_MODEL_FAMILY" in env:
        values["model_family"] = _family("FLYER_MODEL_FAMILY", env["FLYER_MODEL_FAMILY"])
    if "FLYER_POOL_HEALTH_INTERVAL" in env:
        values["pool_health_interval"] = float(positive_int("FLYER_POOL_HEALTH_INTERVAL",
                                                    env["FLYER_POOL_HEALTH_INTERVAL"]))
    return values
