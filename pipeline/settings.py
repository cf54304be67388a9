"""Settings, read once at start from the environment and an optional ``.env`` file.

``load_settings(environ)`` takes a plain mapping (tests pass a dict); the real environment wins
over ``.env``. Every value is cast explicitly and a bad one raises :class:`ConfigError` naming
the variable. The seed's variable names are kept verbatim, misspelling included.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from dotenv import dotenv_values

from .backend_settings import (
    BACKEND_ENV_VARIABLES,
    ComfyUISettings,
    DiffusersSettings,
    HFSettings,
    OpenAISettings,
    load_sections,
    parse_urls,
    positive_int,
    text_value,
)
from .errors import ConfigError
from .render.language import check_language

__all__ = ["ENV_VARIABLES", "Settings", "canonical_origin", "load_settings"]

T = TypeVar("T")

DEFAULT_NEGATIVE_PROMPT = (
    "text, letters, words, watermark, signature, logo, blurry, lowres, jpeg artifacts, "
    "deformed, ugly, cropped"
)


@dataclass(frozen=True)
class Settings:
    """Everything the studio and the pipeline are configured with."""

    # --- the seed's variables -------------------------------------------------------------
    sd_instances: tuple[str, ...] = ()
    """Base URLs of AUTOMATIC1111 / Forge / SD.Next servers (STABLE_DIFUSION_INSTANCE, a
    comma-separated list): several make a pool."""
    max_in_memory: int = 3000
    max_batch_size: int = 5
    metro_path: Path | None = None
    test_end_to_end: bool = False
    api_master_key: str | None = None
    # --- image backend ----------------------------------------------------------------------
    backend: str = "procedural"
    sd_auth: tuple[str, str] | None = None
    sd_connect_timeout: float = 10.0
    sd_read_timeout: float = 120.0
    """Read timeout for a batch of one; scaled by the batch size."""
    sd_steps: int = 25
    sd_cfg_scale: float = 7.0
    sd_sampler: str = "DPM++ 2M"
    sd_negative_prompt: str = DEFAULT_NEGATIVE_PROMPT
    sd_native_size: int = 512
    sd_concurrency: int = 1
    # --- typesetting --------------------------------------------------------------------------
    language: str = "auto"
    """The events' language for hyphenation (``de``, ``en_GB``...), ``none``, or ``auto``:
    guessed from each flyer's texts."""
    sd_upscaler: str | None = None
    model_family: str | None = None
    """FLYER_MODEL_FAMILY: overrides every backend's paint size (sd15, sdxl, flux...)."""
    pool_health_interval: float = 30.0
    space_id: str | None = None
    """SPACE_ID, set by Hugging Face Spaces."""
    # --- each backend's own section (pipeline.backend_settings) -----------------------------
    comfyui: ComfyUISettings = field(default_factory=ComfyUISettings)
    openai: OpenAISettings = field(default_factory=OpenAISettings)
    hf: HFSettings = field(default_factory=HFSettings)
    diffusers: DiffusersSettings = field(default_factory=DiffusersSettings)
    # --- store, queue and login -------------------------------------------------------------
    store_ttl_seconds: int = 3600
    store_max_bytes: int = 1024 * 1024 * 1024
    queue_size: int = 16
    queue_max_wait_seconds: float = 300.0
    """A job that waited longer than this for its turn is refused as busy (Gradio and REST)."""
    login_max_failures: int = 5
    login_window_seconds: int = 60
    login_lockout_seconds: int = 300
    login_global_max_failures: int = 60
    """Failed key checks per minute across all addresses before every attempt gets 429."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses/networks whose X-Forwarded-For is believed; empty: none."""
    # --- browser sessions ---------------------------------------------------------------------
    session_idle_seconds: int = 7200
    """A login ends after this long without a request."""
    session_max_seconds: int = 43200
    """A login ends this long after it began, however active."""
    allowed_origins: tuple[str, ...] = ()
    """Other web origins (``scheme://host[:port]``) allowed credentialed requests."""
    # --- serving ----------------------------------------------------------------------------
    server_name: str = "127.0.0.1"
    server_port: int = 7860
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    # --- temporary files --------------------------------------------------------------------
    temp_dir: Path | None = None
    """Parent of each server's temporary folder (None: the system's temporary folder)."""
    temp_max_bytes: int = 512 * 1024 * 1024
    # --- health and agents ------------------------------------------------------------------
    health_interval_seconds: float = 30.0
    """How often the backend's health is checked (the header shows the last answer)."""
    mcp_enabled: bool = False
    """Serve the MCP endpoint ``/mcp`` for agents (behind the master key)."""
    # --- replicas -----------------------------------------------------------------------------
    store_url: str | None = field(default=None, repr=False)
    """FLYER_STORE_URL: ``redis://[:password@]host:port/db`` (or ``rediss://``, ``unix://``)
    keeps flyers and the login counters in that Redis, shared by every replica; None: in this
    process. Not in repr: it may hold a password."""
    redis_prefix: str = "flyer-studio"
    """FLYER_REDIS_PREFIX: start of every key the studio writes in Redis."""

    @property
    def sd_instance(self) -> str | None:
        """The first AUTOMATIC1111 server's URL, or None."""
        return self.sd_instances[0] if self.sd_instances else None


# Every variable Settings reads: name -> one-line meaning. env.example is checked against it.
ENV_VARIABLES: dict[str, str] = {
    "STABLE_DIFUSION_INSTANCE": "URL(s), comma-separated, of AUTOMATIC1111/Forge/SD.Next servers",
    "STABLE_DIFFUSION_INSTANCE": "Correctly spelled alias of STABLE_DIFUSION_INSTANCE",
    "MAX_IN_MEMORY": "Most flyers kept at once; when full of live ones, new work gets a 503",
    "MAX_BATCH_SIZE": "Largest batch one request may ask for",
    "METRO_PATH": "Image file of the city's metro logo, drawn beside the metro station",
    "TEST_END_TO_END": "true to run the end-to-end tests against STABLE_DIFUSION_INSTANCE",
    "API_MASTER_KEY": "The master key: login password, X-API-Key for REST",
    "FLYER_BACKEND": "automatic1111, comfyui, openai, hf-inference, diffusers or procedural",
    "FLYER_SD_AUTH": "user:password for a server started with --api-auth",
    "FLYER_SD_CONNECT_TIMEOUT": "Seconds to wait for a connection to the server",
    "FLYER_SD_READ_TIMEOUT": "Seconds to wait for one image; multiplied by the batch size",
    "FLYER_SD_STEPS": "Sampling steps",
    "FLYER_SD_CFG_SCALE": "Classifier-free guidance scale",
    "FLYER_SD_SAMPLER": "Sampler name as the server spells it",
    "FLYER_SD_NEGATIVE_PROMPT": "Negative prompt used when the user gives none",
    "FLYER_SD_NATIVE_SIZE": "Model's native side in pixels: 512 (SD 1.5) or 1024 (SDXL)",
    "FLYER_SD_CONCURRENCY": "Generations sent to the server at once (they run one at a time)",
    "FLYER_LANGUAGE": "Language of the events' texts for hyphenation (de, en, fr...), none or auto",
    "FLYER_STORE_TTL": "Seconds a flyer stays downloadable",
    "FLYER_STORE_MAX_BYTES": "Most bytes the flyer store may hold",
    "FLYER_QUEUE_SIZE": "Most requests waiting in Gradio's queue before 'busy'",
    "FLYER_QUEUE_MAX_WAIT": "Seconds a job may wait for its turn before it is refused as busy",
    "FLYER_LOGIN_MAX_FAILURES": "Failed logins per address allowed within the window",
    "FLYER_LOGIN_WINDOW": "Seconds over which failed logins are counted",
    "FLYER_LOGIN_LOCKOUT": "Seconds an address is refused after too many failures",
    "FLYER_LOGIN_GLOBAL_MAX_FAILURES": "Failed key checks per minute from all addresses together",
    "FLYER_TRUSTED_PROXIES": "Reverse proxies (IPs/networks) whose X-Forwarded-For is trusted",
    "FLYER_SESSION_IDLE": "Seconds a browser login lasts without a request",
    "FLYER_SESSION_MAX": "Seconds a browser login lasts at most, however active",
    "FLYER_ALLOWED_ORIGINS": "Comma-separated other origins (https://host[:port]) that may call in",
    "GRADIO_SERVER_NAME": "Address to listen on (Hugging Face Spaces sets it)",
    "GRADIO_SERVER_PORT": "Port to listen on (Hugging Face Spaces sets it)",
    "FLYER_SSL_CERTFILE": "TLS certificate (PEM) to serve HTTPS directly",
    "FLYER_SSL_KEYFILE": "TLS private key (PEM) matching FLYER_SSL_CERTFILE",
    "FLYER_TEMP_DIR": "Folder under which each server keeps its temporary files",
    "FLYER_TEMP_MAX_BYTES": "Most bytes of temporary files (previews, downloads, uploads)",
    "FLYER_HEALTH_INTERVAL": "Seconds between checks that the image backend can paint",
    "FLYER_MCP": "true to serve the MCP endpoint /mcp for agents (needs the master key)",
    "FLYER_STORE_URL": "redis://host:port/db: flyers and login counters shared by replicas",
    "FLYER_REDIS_PREFIX": "Start of every key the studio writes in Redis",
    **BACKEND_ENV_VARIABLES,
}

BACKEND_NAMES = ("automatic1111", "comfyui", "openai", "hf-inference", "diffusers", "procedural")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _positive_float(name: str, raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(name, f"expected a number, got {raw!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise ConfigError(name, f"must be a finite number greater than zero, got {raw!r}")
    return value


def _bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(name, f"expected true or false, got {raw!r}")


_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_origin(value: str) -> str | None:
    """``value`` as a web origin ``scheme://host[:port]`` (lower case, default port dropped), or
    None when it is not an http(s) origin (a path, credentials, ``null``, a bad port...)."""
    parts = urlsplit(value.strip())
    scheme = parts.scheme.lower()
    if (
        scheme not in _DEFAULT_PORTS
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or "@" in parts.netloc
    ):
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _origins(name: str, raw: str) -> tuple[str, ...]:
    origins: list[str] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        origin = canonical_origin(item)
        if origin is None:
            raise ConfigError(
                name, f"expected origins like https://flyers.example.org[:port], got {item!r}"
            )
        if origin not in origins:
            origins.append(origin)
    return tuple(origins)


def _readable_file(name: str, raw: str) -> Path:
    path = Path(raw.strip()).expanduser()
    if not path.is_file():
        raise ConfigError(name, f"no readable file at {str(path)!r}")
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise ConfigError(name, f"cannot read {str(path)!r}: {exc.strerror}") from exc
    return path


def _folder(name: str, raw: str) -> Path:
    """A folder that exists or can be created later (it is created when a server starts)."""
    path = Path(raw.strip()).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(name, f"{str(path)!r} is not a folder")
    return path


def _auth(name: str, raw: str) -> tuple[str, str]:
    user, sep, password = raw.partition(":")
    if not sep or not user or not password:
        raise ConfigError(name, "expected user:password (as given to the server's --api-auth)")
    return user, password


def _port(name: str, raw: str) -> int:
    value = positive_int(name, raw)
    if value > 65535:
        raise ConfigError(name, f"must be a port from 1 to 65535, got {value}")
    return value


def _networks(name: str, raw: str) -> tuple[str, ...]:
    items = tuple(item.strip() for item in raw.split(",") if item.strip())
    for item in items:
        if item == "*":
            continue
        try:
            ipaddress.ip_network(item)
        except ValueError:
            raise ConfigError(
                name, f"{item!r} is not an IP address or network (e.g. 10.0.0.5, 10.0.0.0/24)"
            ) from None
    return items


def _store_url(name: str, raw: str) -> str:
    """A Redis URL; ``memory`` (or empty) means the in-process store and gives no value."""
    value = raw.strip()
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(name, f"expected redis://host:port/db, rediss://... or unix:///path "
                                f"(or memory), got a {scheme or 'schemeless'} URL")
    try:
        parts.port  # noqa: B018 (raises on a port that is not a number in range)
    except ValueError:
        raise ConfigError(name, "the port is not a number from 1 to 65535") from None
    if scheme != "unix" and not parts.hostname:
        raise ConfigError(name, "the URL names no host (redis://host:6379/0)")
    if scheme == "unix" and not parts.path:
        raise ConfigError(name, "the URL names no socket path (unix:///run/redis.sock)")
    return value


def _prefix(name: str, raw: str) -> str:
    value = raw.strip()
    if any(c.isspace() or c in "*?[]" for c in value):
        raise ConfigError(name, f"{value!r}: use letters, digits, '-', '_' or ':' only")
    return value


def _language(name: str, raw: str) -> str:
    value = check_language(raw)
    if value is None:
        raise ConfigError(
            name, f"{raw.strip()!r} is no language with hyphenation patterns; use auto, none "
            "or a code such as de, de-CH, en, en_GB, fr, es, it, nl, pt, sv, pl, cs, ru")
    return value
def _choose_backend(env: Mapping[str, str], values: Mapping[str, object]) -> str:
    """FLYER_BACKEND, checked; else the first configured server kind; else, on a Space with
    HF_TOKEN, Hugging Face Inference; else the offline generator."""
    backend = env.get("FLYER_BACKEND", "").strip().lower()
    if backend:
        if backend not in BACKEND_NAMES:
            raise ConfigError(
                "FLYER_BACKEND", f"unknown backend {backend!r}; valid: {', '.join(BACKEND_NAMES)}"
            )
        if backend == "automatic1111" and "sd_instances" not in values:
            raise ConfigError(
                "STABLE_DIFUSION_INSTANCE", "FLYER_BACKEND=automatic1111 needs the server's URL"
            )
        if backend == "comfyui" and "FLYER_COMFYUI_URL" not in env:
            raise ConfigError("FLYER_COMFYUI_URL", "FLYER_BACKEND=comfyui needs the server's URL")
        return backend
    if "sd_instances" in values:
        return "automatic1111"
    if "FLYER_COMFYUI_URL" in env:
        return "comfyui"
    if "SPACE_ID" in env and "HF_TOKEN" in env:
        return "hf-inference"
    return "procedural"


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

    values: dict[str, object] = {}

    def take(name: str, field: str, cast: Callable[[str, str], T]) -> None:
        if name in env:
            values[field] = cast(name, env[name])

    for name in ("STABLE_DIFFUSION_INSTANCE", "STABLE_DIFUSION_INSTANCE"):  # seed's wins
        take(name, "sd_instances", parse_urls)
    take("MAX_IN_MEMORY", "max_in_memory", positive_int)
    take("MAX_BATCH_SIZE", "max_batch_size", positive_int)
    take("METRO_PATH", "metro_path", _readable_file)
    take("TEST_END_TO_END", "test_end_to_end", _bool)
    take("API_MASTER_KEY", "api_master_key", text_value)
    take("FLYER_SD_AUTH", "sd_auth", _auth)
    take("FLYER_SD_CONNECT_TIMEOUT", "sd_connect_timeout", _positive_float)
    take("FLYER_SD_READ_TIMEOUT", "sd_read_timeout", _positive_float)
    take("FLYER_SD_STEPS", "sd_steps", positive_int)
    take("FLYER_SD_CFG_SCALE", "sd_cfg_scale", _positive_float)
    take("FLYER_SD_SAMPLER", "sd_sampler", text_value)
    take("FLYER_SD_NEGATIVE_PROMPT", "sd_negative_prompt", text_value)
    take("FLYER_SD_NATIVE_SIZE", "sd_native_size", positive_int)
    take("FLYER_SD_CONCURRENCY", "sd_concurrency", positive_int)
    take("FLYER_LANGUAGE", "language", _language)
    take("FLYER_STORE_TTL", "store_ttl_seconds", positive_int)
    take("FLYER_STORE_MAX_BYTES", "store_max_bytes", positive_int)
    take("FLYER_QUEUE_SIZE", "queue_size", positive_int)
    take("FLYER_QUEUE_MAX_WAIT", "queue_max_wait_seconds", _positive_float)
    take("FLYER_LOGIN_MAX_FAILURES", "login_max_failures", positive_int)
    take("FLYER_LOGIN_WINDOW", "login_window_seconds", positive_int)
    take("FLYER_LOGIN_LOCKOUT", "login_lockout_seconds", positive_int)
    take("FLYER_LOGIN_GLOBAL_MAX_FAILURES", "login_global_max_failures", positive_int)
    take("FLYER_TRUSTED_PROXIES", "trusted_proxies", _networks)
    take("FLYER_SESSION_IDLE", "session_idle_seconds", positive_int)
    take("FLYER_SESSION_MAX", "session_max_seconds", positive_int)
    take("FLYER_ALLOWED_ORIGINS", "allowed_origins", _origins)
    take("GRADIO_SERVER_NAME", "server_name", text_value)
    take("GRADIO_SERVER_PORT", "server_port", _port)
    take("FLYER_SSL_CERTFILE", "ssl_certfile", _readable_file)
    take("FLYER_SSL_KEYFILE", "ssl_keyfile", _readable_file)
    take("FLYER_TEMP_DIR", "temp_dir", _folder)
    take("FLYER_TEMP_MAX_BYTES", "temp_max_bytes", positive_int)
    take("FLYER_HEALTH_INTERVAL", "health_interval_seconds", _positive_float)
    take("FLYER_MCP", "mcp_enabled", _bool)
    if env.get("FLYER_STORE_URL", "").strip().lower() != "memory":
        take("FLYER_STORE_URL", "store_url", _store_url)
    take("FLYER_REDIS_PREFIX", "redis_prefix", _prefix)

    native = values.get("sd_native_size")
    if isinstance(native, int) and not 256 <= native <= 2048:
        raise ConfigError("FLYER_SD_NATIVE_SIZE", f"must be between 256 and 2048, got {native}")
    if ("ssl_certfile" in values) != ("ssl_keyfile" in values):
        missing = "FLYER_SSL_KEYFILE" if "ssl_certfile" in values else "FLYER_SSL_CERTFILE"
        raise ConfigError(missing, "TLS needs both FLYER_SSL_CERTFILE and FLYER_SSL_KEYFILE")

    values.update(load_sections(env))
    values["backend"] = _choose_backend(env, values)

    known = {f.name for f in fields(Settings)}
    assert set(values) <= known
    return Settings(**values)  # type: ignore[arg-type]
