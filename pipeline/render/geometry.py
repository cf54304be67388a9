"""The one meaning of each box type: (left, top, right, bottom), as Pillow has it.

- :data:`Box`: canvas pixels, whole numbers (what the composer draws into).
- :data:`FracBox`: fractions of the canvas or of a picture, 0..1 (layouts' regions, subject
  boxes).
- :data:`SrcBox`: pixels of a source picture as floats (Pillow's ``resize(box=...)``, crops).
"""

from __future__ import annotations

__all__ = ["Box", "FracBox", "SrcBox"]

Box = tuple[int, int, int, int]
"""Canvas pixels (left, top, right, bottom)."""
FracBox = tuple[float, float, float, float]
"""Fractions (left, top, right, bottom) of the canvas or picture's width and height."""
SrcBox = tuple[float, float, float, float]
"""Source picture pixels (left, top, right, bottom) as floats."""
