"""The studio's components, laid out: controls on the left, results on the right.

Nothing here handles events; ``studio.app`` wires them. Form components are returned in a
``{field name: component}`` mapping so handlers receive values by name, never by list order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from pipeline.models import FIELD_LIMITS
from pipeline.settings import Settings

from .handlers import CUSTOM_FORMAT
from .manifest_view import EMPTY as EMPTY_MANIFEST

__all__ = ["EXAMPLES", "Controls", "Results", "build_controls", "build_results"]

KEEP = "keep"
LIMITS = {name: limit for name, (_, limit) in FIELD_LIMITS.items()}
"""Most characters per field: the browser stops typing there (the service checks again)."""
PAIR_MIN = 200
"""Smallest width of a field that sits beside another: on a phone the pair stacks."""

EXAMPLES: list[dict[str, str]] = [
    {
        "title": "Late Night Jazz",
        "subtitle": "The Blue Quartet live",
        "date": "Friday 14 March",
        "time": "21:00",
        "venue": "Le Caveau, 12 rue des Lombards",
        "metro": "Châtelet",
        "description": "Two sets of modern jazz in a vaulted cellar. Free entry before 21:30.",
        "url": "https://example.org/jazz",
        "organiser": "Caveau Music Club",
        "prompt": "moody jazz club, neon saxophone silhouette, deep blue and magenta haze",
    },
    {
        "title": "Spring Book Fair",
        "subtitle": "200 publishers · readings · kids' corner",
        "date": "5–7 April",
        "time": "10:00–19:00",
        "venue": "Parc de la Villette, Grande Halle",
        "metro": "Porte de Pantin",
        "description": "Meet the authors, swap books and hear readings all weekend.",
        "url": "https://example.org/bookfair",
        "organiser": "Lire Ensemble",
        "prompt": "stacks of colourful books under blossoming cherry trees, watercolour",
    },
    {
        "title": "Community Clean-up",
        "subtitle": "Bring gloves, we bring coffee",
        "date": "Sunday 21 April",
        "time": "09:30",
        "venue": "Canal Saint-Martin, Quai de Valmy",
        "metro": "République",
        "description": "Two hours to make the canal shine, then a picnic together.",
        "url": "",
        "organiser": "Voisins du Canal",
        "prompt": "sunny canal with trees and bicycles, flat vector illustration, fresh greens",
    },
]
EXAMPLE_FIELDS = ("title", "subtitle", "date", "time", "venue", "metro", "description", "url",
                  "organiser", "prompt")


@dataclass(frozen=True)
class Controls:
    form: dict[str, Any]
    """Field name -> component: everything generate and re-render read."""
    generate: gr.Button
    cancel: gr.Button


@dataclass(frozen=True)
class Results:
    gallery: gr.Gallery
    status: gr.Markdown
    rerender: gr.Button
    export_png: gr.Button
    export_pdf: gr.Button
    export_zip: gr.Button
    crop_marks: gr.Checkbox
    export_file: gr.File
    manifest: gr.Markdown
    form: dict[str, Any]
    """The re-render pickers, merged into the controls' form by the app."""


def _choices(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(str(item["label"]), str(item["name"])) for item in items]


def _title(text: str) -> None:
    gr.Markdown(text, elem_classes=["fs-section-title"])


def _event_tab(f: dict[str, Any]) -> None:
    with gr.Tab("Event", elem_id="fs-tab-event"), gr.Group():
        f["title"] = gr.Textbox(label="Title", placeholder="Late Night Jazz", max_lines=1,
                                elem_id="fs-title", max_length=LIMITS["title"])
        f["subtitle"] = gr.Textbox(label="Subtitle", placeholder="Line-up, tagline…", max_lines=1,
                                   max_length=LIMITS["subtitle"])
        with gr.Row():  # pairs stack below PAIR_MIN * 2 (phones)
            f["date"] = gr.Textbox(label="Date", placeholder="Friday 14 March", max_lines=1,
                                   min_width=PAIR_MIN, max_length=LIMITS["date"])
            f["time"] = gr.Textbox(label="Time", placeholder="21:00", max_lines=1,
                                   min_width=PAIR_MIN, max_length=LIMITS["time"])
        with gr.Row():
            f["venue"] = gr.Textbox(label="Venue", placeholder="Name, address", max_lines=1,
                                    min_width=PAIR_MIN, max_length=LIMITS["venue"])
            f["metro"] = gr.Textbox(label="Metro station", placeholder="Châtelet", max_lines=1,
                                    min_width=PAIR_MIN, max_length=LIMITS["metro"])
        f["description"] = gr.Textbox(label="Description", lines=2, max_lines=5,
                                      placeholder="One or two sentences about the event",
                                      max_length=LIMITS["description"],
                                      info=f"Up to {LIMITS['description']} characters.")
        with gr.Row():
            f["url"] = gr.Textbox(label="Link (QR code)", placeholder="https://…", max_lines=1,
                                  min_width=PAIR_MIN, max_length=LIMITS["url"])
            f["organiser"] = gr.Textbox(label="Organiser", max_lines=1, min_width=PAIR_MIN,
                                        max_length=LIMITS["organiser"])


def _artwork_tab(f: dict[str, Any]) -> None:
    with gr.Tab("Artwork", elem_id="fs-tab-artwork"), gr.Group():
        f["prompt"] = gr.Textbox(
            label="Background prompt", lines=3, max_lines=5,
            placeholder="What the background shows: mood, colours, style (no text needed)",
        )
        f["negative_prompt"] = gr.Textbox(
            label="Negative prompt", lines=1, max_lines=3,
            placeholder="Leave empty for the studio's default",
        )
        with gr.Row(equal_height=True):
            f["random_seed"] = gr.Checkbox(label="Random seed", value=True, scale=1)
            f["seed"] = gr.Number(label="Seed", value=1234, precision=0, minimum=0,
                                  interactive=False, scale=2)
        f["background"] = gr.Image(label="Own background (skips painting)", type="filepath",
                                   sources=["upload"], height=160)


def _design_tab(
    f: dict[str, Any], layouts: list[dict[str, Any]], formats: list[dict[str, Any]],
    pairings: list[dict[str, Any]],
) -> None:
    with gr.Tab("Design", elem_id="fs-tab-design"), gr.Group():
        with gr.Row():
            f["layout"] = gr.Dropdown(_choices(layouts), value="auto", label="Layout",
                                      min_width=PAIR_MIN)
            f["format"] = gr.Dropdown(
                [*_choices(formats), ("Custom size…", CUSTOM_FORMAT)],
                value="instagram_post", label="Format", min_width=PAIR_MIN,
            )
        f["custom_size"] = gr.Textbox(label="Custom size (width × height px)",
                                      placeholder="1200x628", visible=False, max_lines=1)
        f["font_pairing"] = gr.Dropdown(_choices(pairings), value="default", label="Font pairing")
        with gr.Row(equal_height=True):
            f["use_palette"] = gr.Checkbox(label="Use brand colours", value=False, scale=2,
                                           min_width=120)
            f["colour_1"] = gr.ColorPicker(value="#1e1b4b", label="Primary", scale=1,
                                           min_width=70)
            f["colour_2"] = gr.ColorPicker(value="#db2777", label="Secondary", scale=1,
                                           min_width=70)
            f["colour_3"] = gr.ColorPicker(value="#facc15", label="Accent", scale=1,
                                           min_width=70)
        f["logo"] = gr.Image(label="Organiser logo", type="filepath", sources=["upload"],
                             elem_id="fs-logo",
                             height=120)


def build_controls(
    settings: Settings,
    layouts: list[dict[str, Any]],
    formats: list[dict[str, Any]],
    pairings: list[dict[str, Any]],
) -> Controls:
    """The left column. Must be called inside a Blocks/Column context."""
    f: dict[str, Any] = {}
    with gr.Tabs(elem_id="fs-tabs"):
        _event_tab(f)
        _artwork_tab(f)
        _design_tab(f, layouts, formats, pairings)
    f["batch_size"] = gr.Slider(1, settings.max_batch_size, value=min(3, settings.max_batch_size),
                                step=1, label="Variants")
    with gr.Row():
        generate = gr.Button("Generate flyers", variant="primary", size="lg", scale=3,
                             elem_id="fs-generate")
        cancel = gr.Button("Cancel", variant="stop", size="lg", scale=1, elem_id="fs-cancel")
    gr.Examples(
        examples=[[ex[name] for name in EXAMPLE_FIELDS] for ex in EXAMPLES],
        inputs=[f[name] for name in EXAMPLE_FIELDS],
        example_labels=[ex["title"] for ex in EXAMPLES],
        label="Start from an example",
        elem_id="fs-examples",
        cache_examples=False,
        api_visibility="private",
    )
    return Controls(form=f, generate=generate, cancel=cancel)


def build_results(layouts: list[dict[str, Any]], formats: list[dict[str, Any]]) -> Results:
    """The right column. Must be called inside a Blocks/Column context."""
    gallery = gr.Gallery(
        label="Variants", columns=5, height=640, object_fit="contain", allow_preview=True,
        preview=True, interactive=False, format="jpeg", elem_id="fs-gallery",
        buttons=["fullscreen"],
    )
    status = gr.Markdown("Fill in the event, then **Generate flyers**.", elem_id="fs-status")
    form: dict[str, Any] = {}
    _title("Export the selected flyer")
    with gr.Row(equal_height=True):
        export_png = gr.Button("PNG", variant="secondary", size="md", elem_id="fs-export-png",
                               scale=1, min_width=90)
        export_pdf = gr.Button("Print PDF", variant="secondary", size="md",
                               elem_id="fs-export-pdf", scale=1, min_width=110)
        export_zip = gr.Button("All variants (ZIP)", variant="secondary", size="md",
                               elem_id="fs-export-zip", scale=1, min_width=150)
        crop_marks = gr.Checkbox(label="Crop marks on PDF", value=False, scale=1,
                                 min_width=150, container=False)
    _title("Re-render the selected flyer with the current wording — no repainting")
    with gr.Row(equal_height=True):
        form["rerender_layout"] = gr.Dropdown(
            [("Keep current", KEEP), *_choices(layouts)], value=KEEP, label="Layout",
            scale=2, min_width=160,
        )
        form["rerender_format"] = gr.Dropdown(
            [("Keep current", KEEP), *_choices(formats), ("Custom size…", CUSTOM_FORMAT)],
            value=KEEP, label="Format", scale=2, min_width=160,
        )
        rerender = gr.Button("Re-render", elem_id="fs-rerender", scale=1, min_width=120)
    form["rerender_custom_size"] = gr.Textbox(
        label="Custom size (width × height px)", placeholder="1200x628", visible=False,
        max_lines=1,
    )
    export_file = gr.File(label="Your download", interactive=False, elem_id="fs-export-file",
                          visible=False)
    with gr.Accordion("How the selected flyer was made", open=False):
        manifest = gr.Markdown(EMPTY_MANIFEST, elem_id="fs-manifest")
    return Results(gallery, status, rerender, export_png, export_pdf, export_zip, crop_marks,
                   export_file, manifest, form)
