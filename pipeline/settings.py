"""Settings, read once at start from the environment and an optional ``.env`` file.

``load_settings(environ)`` takes a plain mapping (tests pass a dict); the real environment wins
over ``.env``. Every field of :class:`Settings` (and of each backend section) is declared once,
with :func:`~pipeline.declare.setting`: variable name, cast, default, help text, secret or not.
Parsing, ``repr``, the start-up log line, ``env.example`` and the README's table all come from
those declarations. A bad value raises :class:`ConfigError` naming the variable. The seed's
variable names are kept verbatim, misspelling included.

To add a setting: add one field below (or to a section in ``backend_settings``) with
``setting(NAME, cast, default, help, group=...)`` (casts live in ``pipeline.casts``; mark keys,
tokens and passwords ``secret=True``), then run ``make settings-docs`` to rewrite env.example
and the README's table. Checks that involve several variables go in ``_check``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from .backend_settings import HF as HF_GROUP
from .backend_settings import ComfyUISettings, DiffusersSettings, HFSettings, OpenAISettings
from .casts import (
    BACKEND_NAMES,
    backend_name,
    boolean,
    canonical_origin,
    folder,
    model_family_name,
    native_size,
    networks,
    origins,
    parse_urls,
    port,
    positive_float,
    positive_int,
    process_count,
    readable_file,
    text_value,
    user_password,
    whole_seconds,
)
from .casts import (
    language as language_code,
)
from .casts import redis_prefix as key_prefix
from .casts import store_url as redis_url
from .declare import declared, load_declared, redacted_repr, section, setting
from .errors import ConfigError

__all__ = [
    "BACKEND_NAMES",
    "ENV_VARIABLES",
    "Settings",
    "canonical_origin",
    "load_settings",
]

DEFAULT_NEGATIVE_PROMPT = (
    "text, letters, words, watermark, signature, logo, blurry, lowres, jpeg artifacts, "
    "deformed, ugly, cropped"
)

SEED = "The original service's variables (names kept verbatim, misspelling included)"
BACKEND = "Image backend"
TYPESETTING = "Typesetting"
STORE = "Store, queue and login"
SERVING = "Serving"
TEMP = "Temporary files"
HEALTH = "Health and agents"
REPLICAS = "Replicas"


@dataclass(frozen=True, repr=False)
class Settings:
    """Everything the studio and the pipeline are configured with (see the module doc)."""

    # --- the seed's variables -------------------------------------------------------------
    sd_instances: tuple[str, ...] = setting(
        "STABLE_DIFUSION_INSTANCE", parse_urls, (),
        "URL of an AUTOMATIC1111 / Forge / SD.Next server started with `--api`; a "
        "comma-separated list makes a [pool](#several-servers-behind-one-studio) (least-busy "
        "dispatch, failover, health checks). Empty: the offline generator. The original "
        "service's spelling; `STABLE_DIFFUSION_INSTANCE` works too.",
        group=SEED, aliases=("STABLE_DIFFUSION_INSTANCE",))
    max_in_memory: int = setting(
        "MAX_IN_MEMORY", positive_int, 3000,
        "Most flyers kept at once. When full of live ones, new work is refused with \"service "
        "unavailable, try again later\" and nothing stored is lost.", group=SEED)
    max_batch_size: int = setting(
        "MAX_BATCH_SIZE", positive_int, 5, "Largest batch one request may ask for.", group=SEED)
    metro_path: Path | None = setting(
        "METRO_PATH", readable_file, None,
        "Image of the city's metro logo, drawn beside the metro station line.", group=SEED)
    test_end_to_end: bool = setting(
        "TEST_END_TO_END", boolean, False,
        "`true` runs the end-to-end tests against `STABLE_DIFUSION_INSTANCE`.", group=SEED)
    api_master_key: str | None = setting(
        "API_MASTER_KEY", text_value, None,
        "The master key: login password in the UI, `gradio_client` auth, `X-API-Key` for REST. "
        "Empty: a key is generated at start and printed once (`flyer-studio keygen` writes a "
        "lasting one into .env).", group=SEED, secret=True, shown_default="*(generated)*")
    # --- image backend ----------------------------------------------------------------------
    backend: str = setting(
        "FLYER_BACKEND", backend_name, "procedural",
        "`automatic1111`, `comfyui`, `openai`, `hf-inference`, `diffusers` or `procedural`. "
        "Default: `automatic1111` when `STABLE_DIFUSION_INSTANCE` is set, else `comfyui` when "
        "`FLYER_COMFYUI_URL` is set, else `hf-inference` on a Space with `HF_TOKEN`, else "
        "`procedural` (offline). See [Backends](#backends).",
        group=BACKEND, example="", shown_default="auto")
    model_family: str | None = setting(
        "FLYER_MODEL_FAMILY", model_family_name, None,
        "`sd15`, `sd2`, `sdxl`, `sd3`, `flux` or `turbo`: the paint size every backend uses "
        "(SD 1.5 ≈ 512², SDXL/FLUX ≈ 1024², FLUX/SD3 in multiples of 16). Empty: each "
        "backend's default (FLYER_SD_NATIVE_SIZE for AUTOMATIC1111, sd15 for ComfyUI, flux for "
        "Hugging Face, turbo for diffusers).", group=BACKEND, shown_default="per backend")
    sd_auth: tuple[str, str] | None = setting(
        "FLYER_SD_AUTH", user_password, None,
        "`user:password` for a server started with `--api-auth`.", group=BACKEND, secret=True)
    sd_connect_timeout: float = setting(
        "FLYER_SD_CONNECT_TIMEOUT", positive_float, 10.0,
        "Seconds to wait for a connection to the server.", group=BACKEND)
    sd_read_timeout: float = setting(
        "FLYER_SD_READ_TIMEOUT", positive_float, 120.0,
        "Seconds to wait per image; multiplied by the batch size.", group=BACKEND)
    sd_steps: int = setting(
        "FLYER_SD_STEPS", positive_int, 25, "Sampling steps.", group=BACKEND)
    sd_cfg_scale: float = setting(
        "FLYER_SD_CFG_SCALE", positive_float, 7.0, "Classifier-free guidance scale.",
        group=BACKEND)
    sd_sampler: str = setting(
        "FLYER_SD_SAMPLER", text_value, "DPM++ 2M", "Sampler, as the server spells it.",
        group=BACKEND)
    sd_negative_prompt: str = setting(
        "FLYER_SD_NEGATIVE_PROMPT", text_value, DEFAULT_NEGATIVE_PROMPT,
        "Negative prompt used when the user gives none (the default keeps text and watermarks "
        "out).", group=BACKEND, example="", shown_default="text, watermark…")
    sd_native_size: int = setting(
        "FLYER_SD_NATIVE_SIZE", native_size, 512,
        "Model's native side: 512 for SD 1.5, 1024 for SDXL. Backgrounds are painted at the "
        "target's aspect ratio near this area and scaled up.", group=BACKEND)
    sd_upscaler: str | None = setting(
        "FLYER_SD_UPSCALER", text_value, None,
        "AUTOMATIC1111 upscaler (e.g. `R-ESRGAN 4x+`) asked for a sharper background when a "
        "print target is more than twice the painted size. Empty: the studio scales up itself.",
        group=BACKEND)
    pool_health_interval: float = setting(
        "FLYER_POOL_HEALTH_INTERVAL", whole_seconds, 30.0,
        "Seconds between health checks of each server when a URL setting lists several.",
        group=BACKEND)
    # --- each backend's own section (pipeline.backend_settings) -----------------------------
    comfyui: ComfyUISettings = section(ComfyUISettings)
    openai: OpenAISettings = section(OpenAISettings)
    hf: HFSettings = section(HFSettings)
    space_id: str | None = setting(
        "SPACE_ID", text_value, None,
        "Set by Hugging Face Spaces: with `HF_TOKEN` and no server configured, `hf-inference` "
        "is used.", group=HF_GROUP)
    diffusers: DiffusersSettings = section(DiffusersSettings)
    # --- typesetting --------------------------------------------------------------------------
    language: str = setting(
        "FLYER_LANGUAGE", language_code, "auto",
        "Language of the events' texts, for hyphenating words too long for a line (`de`, "
        "`de-CH`, `en`, `fr`, `nl`…); `none` never hyphenates; `auto` guesses it from each "
        "flyer's texts (script, common words, letters such as ä or ñ).", group=TYPESETTING)
    render_processes: int | None = setting(
        "FLYER_RENDER_PROCESSES", process_count, None,
        "Worker processes that compose flyers (see the picture, lay out, ink, encode), so "
        "that composing uses every core: `auto` gives the studio server one per usable core "
        "(a container's CPU quota counted; at most 8) when there are two or more; the CLI and "
        "scripts compose in their own process. Each adds about 40 MB. `0` composes in the "
        "server's process (less memory, about a quarter less throughput on 2 cores).",
        group=TYPESETTING, shown_default="auto", example="")
    # --- store, queue and login -------------------------------------------------------------
    store_ttl_seconds: int = setting(
        "FLYER_STORE_TTL", positive_int, 3600, "Seconds a flyer stays downloadable.",
        group=STORE)
    store_max_bytes: int = setting(
        "FLYER_STORE_MAX_BYTES", positive_int, 1024 * 1024 * 1024,
        "Most bytes the flyer store may hold (1 GiB).", group=STORE)
    queue_size: int = setting(
        "FLYER_QUEUE_SIZE", positive_int, 16,
        "Generations waiting in line for a server (every door together: UI, Gradio API, REST, "
        "MCP) before the next is told the studio is busy. Each server paints one job at a "
        "time (the offline generator four); the line is told its place.", group=STORE)
    queue_max_wait_seconds: float = setting(
        "FLYER_QUEUE_MAX_WAIT", positive_float, 300.0,
        "Seconds a job may wait for its turn (behind a slow Stable Diffusion server) before it "
        "is refused with \"The studio is busy; try again in a moment.\" (UI, Gradio API and "
        "REST alike; REST answers 503 `Service Overload`).", group=STORE)
    login_max_failures: int = setting(
        "FLYER_LOGIN_MAX_FAILURES", positive_int, 5,
        "Failed logins allowed per client address within the window…", group=STORE)
    login_window_seconds: int = setting(
        "FLYER_LOGIN_WINDOW", positive_int, 60, "…of this many seconds…", group=STORE)
    login_lockout_seconds: int = setting(
        "FLYER_LOGIN_LOCKOUT", positive_int, 300,
        "…after which that address gets 429 for this many seconds.", group=STORE)
    login_global_max_failures: int = setting(
        "FLYER_LOGIN_GLOBAL_MAX_FAILURES", positive_int, 60,
        "Failed key checks per minute from all addresses together; past it every attempt gets "
        "429 until the minute is over (rotating addresses cannot brute-force the key).",
        group=STORE)
    trusted_proxies: tuple[str, ...] = setting(
        "FLYER_TRUSTED_PROXIES", networks, (),
        "Reverse proxies (IPs or networks, comma-separated, e.g. `127.0.0.1` or `10.0.0.0/24`) "
        "whose `X-Forwarded-For` is believed. Empty: the header is ignored and the connecting "
        "address counts.", group=STORE)
    session_idle_seconds: int = setting(
        "FLYER_SESSION_IDLE", positive_int, 7200,
        "A browser login ends after this many seconds without a request…", group=STORE)
    session_max_seconds: int = setting(
        "FLYER_SESSION_MAX", positive_int, 43200,
        "…and at the latest this many seconds after it began; the user logs in again.",
        group=STORE)
    allowed_origins: tuple[str, ...] = setting(
        "FLYER_ALLOWED_ORIGINS", origins, (),
        "Other web origins (`https://host[:port]`, comma-separated) allowed to call the studio "
        "from a logged-in browser. Requests from any other site are refused with 403.",
        group=STORE)
    # --- serving ----------------------------------------------------------------------------
    server_name: str = setting(
        "GRADIO_SERVER_NAME", text_value, "127.0.0.1",
        "Address to listen on (Docker and Spaces set `0.0.0.0`).", group=SERVING)
    server_port: int = setting(
        "GRADIO_SERVER_PORT", port, 7860, "Port to listen on.", group=SERVING)
    ssl_certfile: Path | None = setting(
        "FLYER_SSL_CERTFILE", readable_file, None,
        "PEM certificate: serve HTTPS directly (or use a reverse proxy).", group=SERVING)
    ssl_keyfile: Path | None = setting(
        "FLYER_SSL_KEYFILE", readable_file, None,
        "Its private key (PEM), matching FLYER_SSL_CERTFILE.", group=SERVING)
    # --- temporary files --------------------------------------------------------------------
    temp_dir: Path | None = setting(
        "FLYER_TEMP_DIR", folder, None,
        "Where each running server makes its one folder for temporary files: previews, "
        "downloads and Gradio's uploads and cache. The folder is deleted when the server "
        "stops.", group=TEMP, shown_default="system temp folder")
    temp_max_bytes: int = setting(
        "FLYER_TEMP_MAX_BYTES", positive_int, 512 * 1024 * 1024,
        "Most bytes that folder may hold (512 MiB); beyond it the oldest files are deleted "
        "first. Keep it well above the largest batch's downloads.", group=TEMP)
    # --- health and agents ------------------------------------------------------------------
    health_interval_seconds: float = setting(
        "FLYER_HEALTH_INTERVAL", positive_float, 30.0,
        "Seconds between checks that the image backend can paint (`GET /sdapi/v1/options` on "
        "a Stable Diffusion server). The header shows the last answer, e.g. \"Stable Diffusion "
        "· unreachable\"; `flyer-studio serve` warns at start when the server cannot be "
        "reached.", group=HEALTH)
    mcp_enabled: bool = setting(
        "FLYER_MCP", boolean, False,
        "`true` serves an MCP endpoint at `/mcp` so that assistants can make flyers (see [For "
        "agents: MCP](#for-agents-mcp)). Every request needs the master key as `X-API-Key` or "
        "`Authorization: Bearer`; wrong keys count as failed logins. Needs the `mcp` extra "
        "(`pip install 'flyer-studio[mcp]'`; the Docker image has it).",
        group=HEALTH)
    # --- replicas -----------------------------------------------------------------------------
    store_url: str | None = setting(
        "FLYER_STORE_URL", redis_url, None,
        "`redis://[:password@]host:port/db` (or `rediss://`, `unix://`): flyers and the login "
        "counters live in that Redis, shared by every replica (see [More than one machine]"
        "(#more-than-one-machine)). Empty or `memory`: in this process.",
        group=REPLICAS, secret=True, shown_default="*(in process)*")
    redis_prefix: str = setting(
        "FLYER_REDIS_PREFIX", key_prefix, "flyer-studio",
        "Start of every key the studio writes in Redis.", group=REPLICAS)

    @property
    def sd_instance(self) -> str | None:
        """The first AUTOMATIC1111 server's URL, or None."""
        return self.sd_instances[0] if self.sd_instances else None

    def __repr__(self) -> str:
        return redacted_repr(self)


ENV_VARIABLES: dict[str, str] = {
    name: item.var.help for item in declared(Settings) for name in item.var.names
}
"""Every variable Settings reads (aliases included): name -> help text."""


def _choose_backend(env: Mapping[str, str], values: Mapping[str, Any]) -> str:
    """FLYER_BACKEND (already checked); else the first configured server kind; else, on a
    Space with HF_TOKEN, Hugging Face Inference; else the offline generator."""
    backend = values.get("backend")
    comfy: ComfyUISettings = values["comfyui"]
    if backend is not None:
        if backend == "automatic1111" and "sd_instances" not in values:
            raise ConfigError(
                "STABLE_DIFUSION_INSTANCE", "FLYER_BACKEND=automatic1111 needs the server's URL"
            )
        if backend == "comfyui" and not comfy.urls:
            raise ConfigError("FLYER_COMFYUI_URL", "FLYER_BACKEND=comfyui needs the server's URL")
        return str(backend)
    if "sd_instances" in values:
        return "automatic1111"
    if comfy.urls:
        return "comfyui"
    if "space_id" in values and values["hf"].token:
        return "hf-inference"
    return "procedural"


def _check(env: Mapping[str, str], values: dict[str, Any]) -> None:
    """The checks that involve several variables; fills in what follows from others."""
    if ("ssl_certfile" in values) != ("ssl_keyfile" in values):
        missing = "FLYER_SSL_KEYFILE" if "ssl_certfile" in values else "FLYER_SSL_CERTFILE"
        raise ConfigError(missing, "TLS needs both FLYER_SSL_CERTFILE and FLYER_SSL_KEYFILE")
    if values["comfyui"].nodes and values["comfyui"].workflow is None:
        raise ConfigError("FLYER_COMFYUI_NODES", "maps nodes of FLYER_COMFYUI_WORKFLOW; set it too")
    family = values.get("model_family")
    if family is not None:  # one model family for every backend's section
        for name in ("comfyui", "hf", "diffusers"):
            values[name] = replace(values[name], family=family)
    values["backend"] = _choose_backend(env, values)


def load_settings(
    environ: Mapping[str, str] | None = None,
    env_file: str | os.PathLike[str] | None = ".env",
) -> Settings:
    """Build :class:`Settings` from ``environ`` (default ``os.environ``) over ``env_file``.

    Values in ``environ`` win over the file. Empty values count as unset.
    """
    merged: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ if environ is None else environ)
    env = {k: v for k, v in merged.items() if v is not None and v.strip() != ""}

    values = load_declared(Settings, env)
    _check(env, values)
    assert set(values) <= {f.name for f in fields(Settings)}
    return Settings(**values)
