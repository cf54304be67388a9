"""Rules every door applies the same way, each in one place: whole numbers, the batch size,
the download kind. Used by :mod:`pipeline.app_api` (the request builder) and the service."""

from __future__ import annotations

import math

from .errors import InvalidRequest

__all__ = ["DOWNLOAD_KINDS", "check_batch_size", "download_kind", "whole_number"]

DOWNLOAD_KINDS = ("png", "jpeg", "webp", "pdf")


def whole_number(value: object, field: str, label: str) -> int:
    """``value`` (a number or its text) as an int; anything else, fractions, NaN and the
    infinities raise InvalidRequest naming the field."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value  # exact, however large (the caller checks the range)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise InvalidRequest(f"{label} must be a whole number.", field=field) from None
    if not math.isfinite(number) or not number.is_integer():
        raise InvalidRequest(f"{label} must be a whole number, not {number}.", field=field)
    return int(number)


def check_batch_size(value: object, limit: int) -> int:
    """The batch-size rule: a whole number from 1 to ``limit`` (MAX_BATCH_SIZE), else
    InvalidRequest naming ``batch_size`` (REST answers it as its 400)."""
    size = whole_number(value, "batch_size", "Batch size")
    if not 1 <= size <= limit:
        raise InvalidRequest(f"Batch size must be between 1 and {limit}, got {size}.",
                             field="batch_size")
    return size


def download_kind(kind: str) -> str:
    """The download-kind rule: png, jpeg (or jpg), webp or pdf, any case; anything else is
    InvalidRequest listing them."""
    key = (kind or "").strip().lower() if isinstance(kind, str) else ""
    key = "jpeg" if key == "jpg" else key
    if key not in DOWNLOAD_KINDS:
        raise InvalidRequest(
            f"Unknown download type {kind!r}; choose one of {', '.join(DOWNLOAD_KINDS)}.",
            field="kind",
        )
    return key
