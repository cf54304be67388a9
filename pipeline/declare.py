"""One declaration per setting: the environment variable, its cast, default, help text and
whether it is a secret, written once on the dataclass field it fills.

``settings.Settings`` and each backend section in ``backend_settings`` declare their fields as

    max_batch_size: int = setting(
        "MAX_BATCH_SIZE", positive_int, 5, "Largest batch one request may ask for.",
        group=SEED)

From these declarations come the parsing (:func:`load_declared`), a repr without secrets
(:func:`redacted_repr`), the start-up log line (:func:`summary`) and the documentation
(``python -m pipeline.settings_docs`` writes ``env.example`` and the README's table).

**Adding a setting** is one entry: a field with ``setting(...)`` on ``Settings`` (or on a
backend section), then ``make settings-docs`` (a test fails until env.example and the README
agree with the declarations). A cast is ``cast(variable_name, raw_text) -> value`` and raises
``ConfigError(variable_name, problem)``; reuse one from ``settings``/``backend_settings``.
Mark anything that grants access (keys, tokens, passwords) ``secret=True``: it is then never
shown in ``repr``, logs or error messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields, is_dataclass
from typing import Any, TypeVar

from .errors import ConfigError

__all__ = [
    "SECRET_SHOWN",
    "Var",
    "declared",
    "load_declared",
    "redacted_repr",
    "scrub_credentials",
    "section",
    "setting",
    "shown_value",
    "summary",
]

T = TypeVar("T")

SECRET_SHOWN = "<secret>"
"""What stands for a configured secret wherever settings are shown."""
_VAR = "flyer_var"
_SECTION = "flyer_section"
_USERINFO = re.compile(r"([^/:@\s]*):[^@/\s]*@")


@dataclass(frozen=True)
class Var:
    """One environment variable's declaration (kept in its dataclass field's metadata)."""

    name: str
    cast: Callable[[str, str], Any]
    help: str
    """What it does, for env.example and the README (``code`` in backticks is fine)."""
    group: str
    """The heading it is listed under in env.example and the README."""
    secret: bool = False
    aliases: tuple[str, ...] = ()
    """Other names read when ``name`` is unset (first found wins); mentioned in the help."""
    example: str | None = None
    """The value env.example shows (default: the default, written as it would be typed)."""
    shown_default: str | None = None
    """The README's Default column (default: the default in backticks, or *(none)*)."""

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


def setting(name: str, cast: Callable[[str, str], Any], default: T, help: str, *,
            group: str, secret: bool = False, aliases: tuple[str, ...] = (),
            example: str | None = None, shown_default: str | None = None) -> T:
    """A dataclass field filled from the environment variable ``name`` (see the module doc)."""
    var = Var(name, cast, help, group, secret, aliases, example, shown_default)
    made: Any = field(default=default, metadata={_VAR: var})
    return made


def section(factory: Callable[[], T]) -> T:
    """A dataclass field holding a nested declared dataclass (a backend's own section)."""
    made: Any = field(default_factory=factory, metadata={_SECTION: True})
    return made


@dataclass(frozen=True)
class Declared:
    """A declared setting as found on a class: where it lives and its default."""

    path: str
    """Dotted attribute path from the top class, e.g. ``comfyui.steps``."""
    var: Var
    default: Any


def declared(cls: type, prefix: str = "") -> Iterator[Declared]:
    """Every declaration of ``cls`` and its sections, in field order."""
    for f in fields(cls):
        if f.metadata.get(_SECTION):
            yield from declared(_section_class(f), f"{prefix}{f.name}.")
        elif _VAR in f.metadata:
            default = f.default if f.default is not MISSING else None
            yield Declared(prefix + f.name, f.metadata[_VAR], default)


def _section_class(f: Field[Any]) -> type:
    factory: Any = f.default_factory
    return type(factory())


def _cast(var: Var, name: str, raw: str) -> Any:
    try:
        return var.cast(name, raw)
    except ConfigError as exc:
        if not var.secret:
            raise
        problem = exc.problem
        for text in {raw, raw.strip()} - {""}:
            problem = problem.replace(text, "***")
        raise ConfigError(exc.variable, problem) from None


def load_declared(cls: type[T], env: Mapping[str, str]) -> dict[str, Any]:
    """Keyword arguments for ``cls``: each declared variable present in ``env`` (empty values
    already dropped), cast; each section built the same way."""
    values: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        if f.metadata.get(_SECTION):
            sub_cls = _section_class(f)
            values[f.name] = sub_cls(**load_declared(sub_cls, env))
            continue
        var: Var | None = f.metadata.get(_VAR)
        if var is None:
            continue
        for name in var.names:
            if name in env:
                values[f.name] = _cast(var, name, env[name])
                break
    return values


def scrub_credentials(value: Any) -> Any:
    """``value`` with the password of any URL in it (or in a tuple of them) replaced."""
    if isinstance(value, tuple):
        return tuple(scrub_credentials(item) for item in value)
    if isinstance(value, str) and "@" in value:
        return _USERINFO.sub(r"\1:***@", value)
    return value


def shown_value(var: Var | None, value: Any) -> Any:
    """``value`` as it may be shown: secrets replaced, URL passwords scrubbed."""
    if var is not None and var.secret:
        return None if value is None else SECRET_SHOWN
    return scrub_credentials(value)


def redacted_repr(obj: Any) -> str:
    """``Class(field=value, ...)`` like a dataclass repr, without secrets."""
    parts = []
    for f in fields(obj):
        if not f.repr:
            continue
        value = getattr(obj, f.name)
        if is_dataclass(value):
            parts.append(f"{f.name}={value!r}")
            continue
        shown = shown_value(f.metadata.get(_VAR), value)
        parts.append(f"{f.name}={shown if shown == SECRET_SHOWN else repr(shown)}")
    return f"{type(obj).__name__}({', '.join(parts)})"


def summary(obj: Any) -> str:
    """``NAME=value`` for each declared setting that differs from its default (secrets shown
    as ``<secret>``): what the start-up log line says."""
    items = []
    for item in declared(type(obj)):
        value: Any = obj
        for part in item.path.split("."):
            value = getattr(value, part)
        if value != item.default:
            items.append(f"{item.var.name}={shown_value(item.var, value)}")
    return ", ".join(items) if items else "all defaults"
