"""Flyer Studio's rendering pipeline: a plain library (it never imports gradio)."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
