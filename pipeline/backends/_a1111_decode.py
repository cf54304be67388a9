"""Decoding an AUTOMATIC1111-compatible txt2img answer: base64 images and their seeds from the
``info`` JSON; a malformed answer is a BackendResponseError."""

from __future__ import annotations

import json

import httpx

from ..errors import BackendResponseError
from ._images import decode_base64_image
from .base import GeneratedImage

__all__ = ["decode_images", "seeds"]


def decode_images(response: httpx.Response, count: int, seed: int,
                  where: str) -> list[GeneratedImage]:
    """The batch's ``count`` images from the txt2img ``response`` of the server at ``where``."""
    try:
        body = response.json()
    except ValueError:
        raise BackendResponseError(
            f"The Stable Diffusion server at {where} did not answer with JSON; "
            "is the URL really an AUTOMATIC1111/Forge/SD.Next server?"
        ) from None
    images = body.get("images") if isinstance(body, dict) else None
    if not isinstance(images, list):
        raise BackendResponseError(
            f"The Stable Diffusion server at {where} answered without images."
        )
    if len(images) < count:
        raise BackendResponseError(
            f"The Stable Diffusion server at {where} returned {len(images)} image(s) "
            f"instead of {count}; try again or lower the batch size."
        )
    found = seeds(body.get("info"), count, seed)
    return [
        GeneratedImage(
            image=decode_base64_image(
                encoded, f"image {index + 1} from the Stable Diffusion server at {where}"
            ),
            seed=found[index],
        )
        for index, encoded in enumerate(images[:count])
    ]


def seeds(info: object, count: int, seed: int) -> list[int | None]:
    """The seed of each image, from ``info``'s ``all_seeds`` or ``seed``; else the asked ones
    (None when a random seed was asked and the server did not say which it used)."""
    fallback: list[int | None] = [seed + i if seed >= 0 else None for i in range(count)]
    try:
        parsed = json.loads(info) if isinstance(info, str) else info
    except ValueError:
        return fallback
    if not isinstance(parsed, dict):
        return fallback
    all_seeds = parsed.get("all_seeds")
    if isinstance(all_seeds, list) and len(all_seeds) >= count:
        try:
            return [int(value) for value in all_seeds[:count]]
        except (TypeError, ValueError):
            return fallback
    first = parsed.get("seed")
    if isinstance(first, int) and first >= 0:
        return [first + i for i in range(count)]
    return fallback
