"""Real photographs shipped inside scikit-image's wheel (the test extra), with the regions a
person would draw around their subjects, as fractions (left, top, right, bottom)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import Image

__all__ = ["ASTRONAUT_FACE", "CAMERAMAN_FACE", "CAT_EYES", "CAT_FACE", "photo"]

ASTRONAUT_FACE = (0.33, 0.10, 0.56, 0.37)
"""Eileen Collins' face, hair to chin, in astronaut.png (512 x 512)."""
CAMERAMAN_FACE = (0.30, 0.12, 0.49, 0.34)
"""The cameraman's face (three-quarter view) in camera.png (512 x 512)."""
CAT_FACE = (0.22, 0.15, 0.88, 0.98)
"""Chelsea's face, eyes to muzzle, in chelsea.png (451 x 300)."""
CAT_EYES = ((0.38, 0.40), (0.70, 0.46))
"""The centres of her eyes."""


@lru_cache(maxsize=16)
def _load(name: str) -> Image.Image:
    import skimage.data

    path = Path(skimage.data.__file__).parent / name
    return Image.open(path).convert("RGB")


def photo(name: str) -> Image.Image:
    """A copy of the bundled photograph ``name`` (e.g. 'astronaut.png') as RGB."""
    return _load(name).copy()
