"""Decoding an AUTOMATIC1111-compatible txt2img answer: base64 images, resized to the asked
size, and their seeds from the ``info`` JSON; a malformed answer is a BackendResponseError."""

from __future__ import annotations

import base64
import binascii
import io
import json

import httpx
from PIL import Image

from ..errors import BackendResponseError
from .base import GeneratedImage, GenerationParams

__all__ = ["decode_image", "decode_images", "seeds"]


def decode_images(response: httpx.Response, params: GenerationParams,
                  where: str) -> list[GeneratedImage]:
    """The batch's images from the txt2img ``response`` of the server at ``where``."""
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
    if len(images) < params.batch_size:
        raise BackendResponseError(
            f"The Stable Diffusion server at {where} returned {len(images)} image(s) "
            f"instead of {params.batch_size}; try again or lower the batch size."
        )
    found = seeds(body.get("info"), params)
    result = []
    for index, encoded in enumerate(images[: params.batch_size]):
        image = decode_image(encoded, index, where)
        if image.size != (params.width, params.height):
            image = image.resize((params.width, params.height), Image.Resampling.LANCZOS)
        result.append(GeneratedImage(image=image, seed=found[index]))
    return result


def decode_image(encoded: object, index: int, where: str) -> Image.Image:
    """One base64 image (optionally a ``data:`` URL) as RGB."""
    problem = f"image {index + 1} from the Stable Diffusion server at {where}"
    if not isinstance(encoded, str):
        raise BackendResponseError(f"The {problem} is not base64 text.")
    if encoded.startswith("data:"):
        encoded = encoded.partition(",")[2]
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise BackendResponseError(f"The {problem} is not valid base64.") from None
    try:
        with Image.open(io.BytesIO(raw)) as opened:
            opened.load()
            return opened.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        raise BackendResponseError(f"The {problem} could not be decoded as an image.") from None


def seeds(info: object, params: GenerationParams) -> list[int]:
    """The seed of each image, from ``info``'s ``all_seeds`` or ``seed``; else the asked ones."""
    count = params.batch_size
    fallback = [params.seed + i if params.seed >= 0 else -1 for i in range(count)]
    try:
        parsed = json.loads(info) if isinstance(info, str) else info
    except ValueError:
        return fallback
    if not isinstance(parsed, dict):
        return fallback
    all_seeds = parsed.get("all_seeds")
    if isinstance(all_seeds, list) and len(all_seeds) >= count:
        try:
            return [int(seed) for seed in all_seeds[:count]]
        except (TypeError, ValueError):
            return fallback
    seed = parsed.get("seed")
    if isinstance(seed, int) and seed >= 0:
        return [seed + i for i in range(count)]
    return fallback
