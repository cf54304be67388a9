"""Flyer Studio's front ends: the Gradio UI and API, the seed's REST contract, the CLI.

The only package that imports gradio.
"""

from __future__ import annotations

__all__: list[str] = []
