"""Casts for the settings' declarations: ``cast(variable_name, raw_text) -> value``.

Each strips surrounding spaces, returns a typed value, or raises ``ConfigError`` naming the
variable with what was expected. A new setting reuses one of these where it can.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

from .declare import scrub_credentials
from .errors import ConfigError
from .render.language import check_language

__all__ = [
    "BACKEND_NAMES",
    "COMFYUI_ROLES",
    "backend_name",
    "boolean",
    "canonical_origin",
    "comfy_nodes",
    "existing_file",
    "folder",
    "image_sizes",
    "language",
    "model_family_name",
    "native_size",
    "networks",
    "non_negative_float",
    "origins",
    "parse_urls",
    "port",
    "positive_float",
    "positive_int",
    "process_count",
    "readable_file",
    "redis_prefix",
    "store_url",
    "text_value",
    "user_password",
    "whole_seconds",
]

BACKEND_NAMES = ("automatic1111", "comfyui", "openai", "hf-inference", "diffusers", "procedural")
COMFYUI_ROLES = ("prompt", "negative_prompt", "seed", "width", "height", "batch_size",
                 "checkpoint", "steps", "cfg", "sampler", "scheduler", "output")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def parse_urls(name: str, raw: str) -> tuple[str, ...]:
    """A comma-separated list of http(s) URLs (duplicates dropped)."""
    urls: list[str] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        parts = urlsplit(item)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                name, f"expected URLs like http://host:7860, got {scrub_credentials(item)!r}")
        try:
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError:
            raise ConfigError(
                name, f"the port in {scrub_credentials(item)!r} is not a number from 1 to 65535"
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


def process_count(name: str, raw: str) -> int | None:
    """A number of processes (0 or more), or ``auto`` (None: the caller decides)."""
    text = raw.strip().lower()
    if text in ("", "auto"):
        return None
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(name, f"expected a whole number or 'auto', got {raw!r}") from None
    if value < 0:
        raise ConfigError(name, f"must be 0 or more, got {value}")
    if value > 256:
        raise ConfigError(name, f"at most 256 processes, got {value}")
    return value


def non_negative_float(name: str, raw: str) -> float:
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


def model_family_name(name: str, raw: str) -> str:
    from .backends._sizes import model_family

    return model_family(raw, name).name


def existing_file(name: str, raw: str) -> Path:
    path = Path(raw.strip()).expanduser()
    if not path.is_file():
        raise ConfigError(name, f"no readable file at {str(path)!r}")
    return path


def comfy_nodes(name: str, raw: str) -> tuple[tuple[str, str], ...]:
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


def image_sizes(name: str, raw: str) -> tuple[tuple[int, int], ...]:
    from .backends._sizes import parse_sizes

    return parse_sizes(name, raw)




def positive_float(name: str, raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(name, f"expected a number, got {raw!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise ConfigError(name, f"must be a finite number greater than zero, got {raw!r}")
    return value


def boolean(name: str, raw: str) -> bool:
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


def origins(name: str, raw: str) -> tuple[str, ...]:
    found: list[str] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        origin = canonical_origin(item)
        if origin is None:
            raise ConfigError(
                name, f"expected origins like https://flyers.example.org[:port], got {item!r}"
            )
        if origin not in found:
            found.append(origin)
    return tuple(found)


def readable_file(name: str, raw: str) -> Path:
    path = Path(raw.strip()).expanduser()
    if not path.is_file():
        raise ConfigError(name, f"no readable file at {str(path)!r}")
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise ConfigError(name, f"cannot read {str(path)!r}: {exc.strerror}") from exc
    return path


def folder(name: str, raw: str) -> Path:
    """A folder that exists or can be created later (it is created when a server starts)."""
    path = Path(raw.strip()).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(name, f"{str(path)!r} is not a folder")
    return path


def user_password(name: str, raw: str) -> tuple[str, str]:
    user, sep, password = raw.partition(":")
    if not sep or not user or not password:
        raise ConfigError(name, "expected user:password (as given to the server's --api-auth)")
    return user, password


def port(name: str, raw: str) -> int:
    value = positive_int(name, raw)
    if value > 65535:
        raise ConfigError(name, f"must be a port from 1 to 65535, got {value}")
    return value


def networks(name: str, raw: str) -> tuple[str, ...]:
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


def language(name: str, raw: str) -> str:
    value = check_language(raw)
    if value is None:
        raise ConfigError(
            name, f"{raw.strip()!r} is no language with hyphenation patterns; use auto, none "
            "or a code such as de, de-CH, en, en_GB, fr, es, it, nl, pt, sv, pl, cs, ru")
    return value


def backend_name(name: str, raw: str) -> str:
    """One of :data:`BACKEND_NAMES` (lower case)."""
    backend = raw.strip().lower()
    if backend not in BACKEND_NAMES:
        raise ConfigError(name, f"unknown backend {backend!r}; valid: {', '.join(BACKEND_NAMES)}")
    return backend


def native_size(name: str, raw: str) -> int:
    """A model's native side in pixels, 256 to 2048."""
    value = positive_int(name, raw)
    if not 256 <= value <= 2048:
        raise ConfigError(name, f"must be between 256 and 2048, got {value}")
    return value


def whole_seconds(name: str, raw: str) -> float:
    """A whole number of seconds above zero, as a float."""
    return float(positive_int(name, raw))


def store_url(name: str, raw: str) -> str | None:
    """A Redis URL (``redis://``, ``rediss://``, ``unix://``); ``memory`` means the in-process
    store and gives None. Errors never quote the URL: it may hold a password."""
    value = raw.strip()
    if value.lower() in ("", "memory"):
        return None
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


def redis_prefix(name: str, raw: str) -> str:
    """The start of every Redis key: no spaces or glob characters."""
    value = raw.strip()
    if not value or any(c.isspace() or c in "*?[]" for c in value):
        raise ConfigError(name, f"{value!r}: use letters, digits, '-', '_' or ':' only")
    return value
