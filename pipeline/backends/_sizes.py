"""Paint sizes: each backend picks its own from the target's aspect ratio.

Diffusion models paint best near the area they were trained at (SD 1.5 about 512², SDXL and
FLUX about 1024²) in multiples of 8 (FLUX: 16); OpenAI-style APIs accept only a few fixed
sizes. The compositor scales the painting up to the target afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..errors import ConfigError, InvalidRequest

__all__ = ["FAMILIES", "ModelFamily", "fit_area", "model_family", "nearest_size", "parse_sizes"]


class ModelFamily:
    """A model family's natural area and the multiple its sides must be."""

    def __init__(self, name: str, side: int, multiple: int) -> None:
        self.name = name
        self.area = side * side
        self.multiple = multiple

    def __repr__(self) -> str:
        return f"ModelFamily({self.name!r})"

    def fit(self, aspect: tuple[int, int], pixel_budget: int | None) -> tuple[int, int]:
        """The paint size for a target of ``aspect``: this family's area and multiple, within
        ``pixel_budget`` (see :func:`fit_area`)."""
        return fit_area(aspect, self.area, self.multiple, pixel_budget)


FAMILIES: dict[str, ModelFamily] = {
    "sd15": ModelFamily("sd15", 512, 8),
    "sd2": ModelFamily("sd2", 768, 8),
    "sdxl": ModelFamily("sdxl", 1024, 8),
    "sd3": ModelFamily("sd3", 1024, 16),
    "flux": ModelFamily("flux", 1024, 16),
    "turbo": ModelFamily("turbo", 512, 8),
}


def model_family(name: str, variable: str = "FLYER_MODEL_FAMILY") -> ModelFamily:
    """The family called ``name``; an unknown one lists the valid ones."""
    try:
        return FAMILIES[name.strip().lower()]
    except KeyError:
        raise ConfigError(
            variable, f"unknown model family {name!r}; valid: {', '.join(FAMILIES)}"
        ) from None


def _positive(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidRequest(f"{name} must be a positive whole number, got {value!r}.",
                             field=name.replace(" ", "_"))
    return value


def fit_area(
    aspect: tuple[int, int], area: int, multiple: int = 8, budget: int | None = None
) -> tuple[int, int]:
    """(width, height), multiples of ``multiple``, with ``aspect``'s ratio and about ``area``
    pixels (at most ``budget`` when given, never under 64 pixels a side)."""
    aspect_w = _positive("width", aspect[0])
    aspect_h = _positive("height", aspect[1])
    _positive("area", area)
    _positive("multiple", multiple)
    if budget is not None:
        area = min(area, max(_positive("pixel budget", budget), 64 * 64))
    ratio = aspect_w / aspect_h
    ideal_w = math.sqrt(area * ratio)
    floor_side = max(64, multiple)

    def rounded(value: float) -> set[int]:
        low = max(floor_side, multiple * math.floor(value / multiple))
        high = max(floor_side, multiple * math.ceil(value / multiple))
        return {low, high}

    best: tuple[float, int, int] | None = None
    for w in rounded(ideal_w):
        for h in rounded(w / ratio):
            score = abs(math.log((w / h) / ratio)) + 0.5 * abs(math.log(w * h / area))
            if best is None or score < best[0]:
                best = (score, w, h)
    assert best is not None
    return best[1], best[2]


def nearest_size(aspect: tuple[int, int], sizes: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """The allowed size whose ratio is closest to ``aspect``'s (then the larger one)."""
    if not sizes:
        raise ConfigError("FLYER_OPENAI_SIZES", "no image sizes allowed")
    ratio = _positive("width", aspect[0]) / _positive("height", aspect[1])
    return min(sizes, key=lambda s: (round(abs(math.log(s[0] / s[1] / ratio)), 6), -s[0] * s[1]))


def parse_sizes(variable: str, raw: str) -> tuple[tuple[int, int], ...]:
    """``"1024x1024,1024x1536"`` as ((1024, 1024), (1024, 1536))."""
    sizes: list[tuple[int, int]] = []
    for item in (part.strip().lower() for part in raw.split(",")):
        if not item:
            continue
        width, sep, height = item.partition("x")
        try:
            size = (int(width), int(height))
        except ValueError:
            size = (0, 0)
        if not sep or size[0] <= 0 or size[1] <= 0:
            raise ConfigError(variable, f"expected sizes like 1024x1024,1536x1024, got {item!r}")
        sizes.append(size)
    if not sizes:
        raise ConfigError(variable, "expected at least one size like 1024x1024")
    return tuple(sizes)
