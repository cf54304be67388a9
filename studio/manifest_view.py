"""The selected flyer's manifest, readable: a short table of what matters to a person (layout
and why, format, seed, fonts, colours and measured contrast, what the painter was, warnings),
then the whole manifest as JSON for whoever wants every detail."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["manifest_markdown"]

EMPTY = "Select a flyer to see how it was made."


def _cell(value: object) -> str:
    return html.escape(str(value), quote=False).replace("|", "\\|").replace("\n", " ")


def _rows(m: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    reason = m.get("layout_reason") or {}
    why = reason.get("why") if isinstance(reason, dict) else None
    rows.append(("Layout", f"{m.get('layout', '?')}" + (f" ({why})" if why else "")))
    fmt = m.get("format") or {}
    if isinstance(fmt, dict):
        rows.append(("Format", f"{fmt.get('label') or fmt.get('name', '?')} · "
                               f"{fmt.get('width', '?')}×{fmt.get('height', '?')} px"))
    source = m.get("background") or m.get("painter") or {}
    if isinstance(source, dict) and source:
        painter = ", ".join(f"{k} {v}" for k, v in source.items()
                            if k in ("backend", "model", "server", "seed") and v not in (None, ""))
        if painter:
            rows.append(("Background", painter))
    fonts = m.get("fonts") or {}
    if isinstance(fonts, dict) and fonts:
        rows.append(("Fonts", f"{fonts.get('pairing', '')}: {fonts.get('title', '')} / "
                              f"{fonts.get('body', '')}"))
    for element in m.get("elements") or []:
        if not isinstance(element, dict) or "text" not in element:
            continue
        if element.get("role") == "qr":
            rows.append(("QR code", str(element["text"])))
            continue
        if "size" not in element:
            continue
        contrast = element.get("contrast")
        measured = f", contrast {contrast:.1f}:1" if isinstance(contrast, (int, float)) else ""
        rows.append((str(element.get("role", "")).capitalize(),
                     f"{element['text']} ({element.get('size', '?')} px, "
                     f"{element.get('colour', '')}{measured})"))
    for warning in m.get("warnings") or []:
        rows.append(("⚠️ Warning", str(warning)))
    return rows


def manifest_markdown(manifest: Mapping[str, Any] | None) -> str:
    """A Markdown table of the manifest's main facts, then the full JSON in a code block."""
    if not manifest:
        return EMPTY
    table = ["| Detail | Value |", "|---|---|"]
    table += [f"| **{_cell(k)}** | {_cell(v)} |" for k, v in _rows(manifest)]
    full = json.dumps(manifest, indent=2, ensure_ascii=False, default=str)
    return "\n".join(table) + "\n\n<details><summary>Everything (JSON)</summary>\n\n" \
        + "```json\n" + full + "\n```\n\n</details>"
