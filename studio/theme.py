"""The studio's look: a Gradio theme, a little CSS and the header.

In Gradio 6 the theme and CSS belong to ``launch()`` / ``gr.mount_gradio_app()``, not to
``gr.Blocks()``; whoever mounts the app passes ``**mount_options()``.
"""

from __future__ import annotations

import html
from typing import Any

import gradio as gr

from pipeline.health import Health

__all__ = [
    "HEADER_CSS",
    "STUDIO_CSS",
    "header_html",
    "mount_options",
    "studio_theme",
]


HEADER_CSS = """
#fs-header { display: flex; align-items: center; justify-content: space-between;
  gap: 16px; padding: 14px 20px; margin-bottom: 4px; border-radius: 14px;
  background: linear-gradient(120deg, #1e1b4b 0%, #4338ca 55%, #db2777 100%); color: #fff; }
#fs-header .fs-brand { display: flex; align-items: center; gap: 12px; }
#fs-header .fs-logo { width: 38px; height: 38px; border-radius: 10px; display: grid;
  place-items: center; background: rgba(255,255,255,.16); font-weight: 700; font-size: 18px; }
#fs-header h1 { margin: 0; font-size: 22px; line-height: 1.1; color: #fff; letter-spacing: -.01em; }
#fs-header p { margin: 2px 0 0; font-size: 13px; opacity: .85; color: #fff; }
#fs-header .fs-badge { font-size: 12px; padding: 4px 10px; border-radius: 999px;
  background: rgba(255,255,255,.16); color: #fff; white-space: nowrap; }
#fs-header .fs-logo { flex: none; }
#fs-header .fs-badge.fs-badge-down { background: #fbbf24; color: #1c1917; font-weight: 600; }
#fs-header .fs-badge.fs-badge-checking { opacity: .75; }
@media (max-width: 640px) {
  #fs-header { flex-direction: column; align-items: flex-start; gap: 10px; padding: 12px 14px; }
  #fs-header h1 { font-size: 20px; }
  #fs-header .fs-badge { white-space: normal; }
}
"""
"""The header's own CSS (scoped to it by gr.HTML, so it applies however the app is mounted)."""

STUDIO_CSS = """
.gradio-container { max-width: min(1440px, 100%) !important; min-width: 0 !important;
  margin: 0 auto !important; }
.fs-section-title { margin: 2px 0 -4px 2px !important; font-size: 12px !important;
  font-weight: 600 !important; letter-spacing: .06em; text-transform: uppercase; opacity: .7; }
#fs-controls { gap: 10px; }
#fs-results { gap: 10px; }
#fs-generate { min-height: 48px; font-size: 16px; }
#fs-status { min-height: 24px; font-size: 14px; }
#fs-manifest td:first-child, #fs-manifest th:first-child { white-space: nowrap !important;
  word-break: normal !important; overflow-wrap: normal !important; min-width: 7.5em; }
#fs-status .fs-error, #fs-season-status .fs-error { background: #fef2f2;
  border: 1px solid #fecaca; color: #991b1b; padding: 8px 12px; border-radius: 8px; }
#fs-season-status { min-height: 24px; font-size: 14px; }
#fs-season-status .fs-error { margin-top: 8px; }
#fs-season-status .fs-problems { margin: 4px 0 0; padding-left: 20px; }
#fs-season-run { min-height: 48px; font-size: 16px; }
#fs-season-contact img { object-fit: contain; }
#fs-gallery { border-radius: 12px; }
/* Gradio's preview blurs the thumbnail grid behind it into a smudge: a calm backdrop instead */
#fs-gallery .preview { backdrop-filter: none !important;
  background: var(--background-fill-secondary) !important; }
#fs-export-file { max-height: 120px; }
footer { opacity: .6; }
/* phones: nothing wider than the screen, buttons big enough for a thumb */
.gradio-container img, .gradio-container canvas { max-width: 100%; }
@media (max-width: 640px) {
  .gradio-container { padding-left: 8px !important; padding-right: 8px !important; }
  #fs-export-png, #fs-export-pdf, #fs-export-zip, #fs-rerender, #fs-cancel,
  #fs-season-template, #fs-season-cancel { min-height: 48px; }
  #fs-season-contact { height: 340px !important; }
  #fs-gallery { height: 420px !important; }
}
/* keyboard users see where they are */
.gradio-container :is(button, input, textarea, select, [role="tab"], [tabindex]):focus-visible {
  outline: 3px solid #6366f1 !important; outline-offset: 2px; }
"""


def studio_theme() -> gr.themes.Base:
    """Indigo on slate, rounded, compact: a design tool rather than a form."""
    return gr.themes.Soft(
        primary_hue=gr.themes.colors.indigo,
        secondary_hue=gr.themes.colors.pink,
        neutral_hue=gr.themes.colors.slate,
        radius_size=gr.themes.sizes.radius_md,
        spacing_size=gr.themes.sizes.spacing_md,
        text_size=gr.themes.sizes.text_md,
        font=(gr.themes.LocalFont("IBM Plex Sans"), "ui-sans-serif", "system-ui", "sans-serif"),
        font_mono=(gr.themes.LocalFont("IBM Plex Mono"), "ui-monospace", "monospace"),
    ).set(
        block_label_background_fill="transparent",
        block_title_background_fill="transparent",
        block_label_text_color="*neutral_600",
        block_title_text_color="*neutral_700",
        block_label_padding="0",
        block_title_padding="0",
        block_title_text_weight="600",
        block_label_text_weight="600",
        button_primary_background_fill="linear-gradient(90deg, *primary_600, *secondary_500)",
        button_primary_background_fill_hover="linear-gradient(90deg, *primary_500, *secondary_400)",
        button_primary_text_color="white",
    )


def header_html(backend: str, max_batch_size: int, health: Health | None = None,
                checking: bool = False, servers: int = 1) -> str:
    """The header strip: product name, what it does, and which painter is connected (how many
    servers) and how it is doing (``health``; ``checking`` while the first check runs)."""
    painter = {
        "automatic1111": "Stable Diffusion",
        "comfyui": "ComfyUI",
        "openai": "OpenAI-compatible images",
        "hf-inference": "Hugging Face Inference",
        "diffusers": "diffusers (on this machine)",
        "procedural": "Offline painter",
    }.get(backend, backend)
    if servers > 1:
        painter += f" × {servers} servers"
    state, title = "", ""
    if checking:
        badge, state = f"{painter} · checking…", " fs-badge-checking"
    elif health is not None and not health.up:
        badge, state = f"⚠ {painter} · {health.status}", " fs-badge-down"
        title = f' title="{html.escape(health.problem)}"'
    else:
        badge = f"{painter} · up to {max_batch_size} variants"
    return (
        '<div id="fs-header"><div class="fs-brand"><div class="fs-logo">F</div><div>'
        "<h1>Flyer Studio</h1>"
        "<p>Event flyers that stay legible: paint a background, compose the details, "
        "export for social or print.</p></div></div>"
        f'<span class="fs-badge{state}" role="status"{title}>{html.escape(badge)}</span>'
        "</div>"
    )


def mount_options() -> dict[str, Any]:
    """Keyword arguments for ``gr.mount_gradio_app`` (or ``Blocks.launch``)."""
    return {"theme": studio_theme(), "css": STUDIO_CSS}
