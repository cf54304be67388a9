"""The "Many events" page: a sheet of events in, a contact sheet and a ZIP out.

Left: the template, the sheet, what every flyer shares (layout, format, variants, fonts, logo)
and the buttons. Right: the status area (the run's summary and every row not made, with its row
number and the API's message), the contact sheet and the ZIP. The run is
:class:`studio.season_run.SeasonRunner`'s, the same as Gradio's ``/generate_many``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import gradio as gr
from gradio.events import Dependency

from pipeline.settings import Settings
from pipeline.sheets import MAX_ROWS, SHEET_FIELDS

from .handlers import StudioHandlers, mapped_errors
from .jobs import Jobs
from .queue_wait import QueueWait
from .season_run import SeasonRunner, options_from
from .ui_api import PAINTING_CONCURRENCY_ID
from .ui_status import stays
from .uploads import read_upload

__all__ = ["SeasonPage", "build_season_page", "wire_season_page"]

_PAIR_MIN = 200
_READY = "Upload a sheet of events, then **Make every flyer**."


@dataclass(frozen=True)
class SeasonPage:
    template: gr.DownloadButton
    sheet: gr.File
    form: dict[str, Any]
    """layout, format, variants, font_pairing, logo."""
    run: gr.Button
    cancel: gr.Button
    status: gr.Markdown
    contact_sheet: gr.Image
    archive: gr.File


def _choices(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(str(item["label"]), str(item["name"])) for item in items]


def build_season_page(settings: Settings, layouts: list[dict[str, Any]],
                      formats: list[dict[str, Any]], pairings: list[dict[str, Any]]) -> SeasonPage:
    """The page's components, laid out. Must be called inside a Blocks/Tab context."""
    form: dict[str, Any] = {}
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=300, elem_id="fs-season-controls"):
            gr.Markdown(
                f"One flyer (or a few variants) for every row of a spreadsheet, up to "
                f"{MAX_ROWS} events. The first row names the columns: "
                f"{', '.join(f'`{name}`' for name in SHEET_FIELDS)}. Only `title` is required.",
                elem_classes=["fs-season-intro"],
            )
            template = gr.DownloadButton("Download the template (CSV)", variant="secondary",
                                         size="md", elem_id="fs-season-template")
            sheet = gr.File(label="Events sheet (CSV or XLSX)", file_types=[".csv", ".xlsx"],
                            type="filepath", elem_id="fs-season-sheet", height=110)
            with gr.Group():
                with gr.Row():
                    form["format"] = gr.Dropdown(_choices(formats), value="instagram_post",
                                                 label="Format", min_width=_PAIR_MIN, scale=3)
                    form["variants"] = gr.Slider(1, settings.max_batch_size, value=1, step=1,
                                                 label="Variants", min_width=_PAIR_MIN,
                                                 scale=2)
                with gr.Row():
                    form["layout"] = gr.Dropdown(_choices(layouts), value="auto", label="Layout",
                                                 min_width=_PAIR_MIN)
                    form["font_pairing"] = gr.Dropdown(_choices(pairings), value="default",
                                                       label="Font pairing", min_width=_PAIR_MIN)
            with gr.Accordion("Organiser logo on every flyer", open=False):
                form["logo"] = gr.Image(label="Organiser logo", type="filepath",
                                        sources=["upload"], height=110,
                                        elem_id="fs-season-logo")
            with gr.Row():
                run = gr.Button("Make every flyer", variant="primary", size="lg", scale=3,
                                elem_id="fs-season-run")
                cancel = gr.Button("Cancel", variant="stop", size="lg", scale=1,
                                   elem_id="fs-season-cancel")
        with gr.Column(scale=7, min_width=300, elem_id="fs-season-results"):
            status = gr.Markdown(_READY, elem_id="fs-season-status")
            archive = gr.File(label="Every flyer: a folder per event (ZIP)", interactive=False,
                              elem_id="fs-season-zip", visible=False, height=80)
            contact_sheet = gr.Image(label="Contact sheet", type="filepath", format="jpeg",
                                     interactive=False, elem_id="fs-season-contact",
                                     buttons=["fullscreen", "download"], height=560)
    return SeasonPage(template, sheet, form, run, cancel, status, contact_sheet, archive)


def wire_season_page(page: SeasonPage, demo: gr.Blocks, service_runner: SeasonRunner,
                     jobs: Jobs, settings: Settings) -> Dependency:
    """Connect the page's events; every one is private (scripts use /generate_many). Returns
    the run's event (for what should follow it)."""
    private: dict[str, Any] = {"api_visibility": "private"}
    wait = QueueWait(settings.queue_max_wait_seconds)
    hidden = gr.File(value=None, visible=False)

    def session_of(request: gr.Request | None) -> str | None:
        return request.session_hash if request is not None else None

    def on_load(request: gr.Request) -> str:
        return str(service_runner.template(session_of(request)))

    @stays(1, 3, {0: None, 2: hidden})  # a refused file leaves the picker empty
    def on_sheet(value: Any) -> tuple[Any, ...]:
        if value is None:
            return gr.skip(), _READY, hidden
        return gr.skip(), service_runner.check(value), hidden

    @stays(1, 2, {0: None})  # a refused logo leaves the picker empty
    def on_logo(value: Any) -> tuple[Any, ...]:
        return gr.skip(), StudioHandlers.check_upload(value, "logo")

    @stays(1, 3, {2: hidden})
    async def on_run(data: dict[Any, Any], request: gr.Request,
                     progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        with mapped_errors():
            wait.check(request)
            values = {name: data[component] for name, component in page.form.items()}
            logo = read_upload(values.pop("logo"), "logo")
            options = options_from(values, logo)
        upload, session = data[page.sheet], session_of(request)

        def report(fraction: float, message: str) -> None:
            progress(fraction, desc=message)

        def work(cancel: threading.Event) -> Any:
            return service_runner.run(upload, options, session, report, cancel)

        outcome = await jobs.run(session, work)
        picture = str(outcome.sheet_path) if outcome.sheet_path is not None else None
        return (picture, outcome.status_html(),
                gr.File(value=str(outcome.zip_path), visible=True))

    def on_cancel(request: gr.Request) -> None:
        jobs.cancel(session_of(request))

    demo.load(on_load, None, page.template, show_progress="hidden", **private)
    page.sheet.upload(on_sheet, inputs=[page.sheet],
                      outputs=[page.sheet, page.status, page.archive], preprocess=False,
                      show_progress="hidden", **private)
    page.sheet.clear(lambda: (_READY, hidden), None, [page.status, page.archive],
                     queue=False, show_progress="hidden", **private)
    page.form["logo"].upload(on_logo, inputs=[page.form["logo"]],
                             outputs=[page.form["logo"], page.status], preprocess=False,
                             show_progress="hidden", **private)
    running = page.run.click(
        on_run, inputs={page.sheet, *page.form.values()},
        outputs=[page.contact_sheet, page.status, page.archive],
        concurrency_limit=jobs.app.painting_jobs,
        concurrency_id=PAINTING_CONCURRENCY_ID,  # the server pool gates each painting
        show_progress_on=[page.contact_sheet], **private,
    )
    page.cancel.click(on_cancel, None, None, cancels=[running], queue=False, **private)
    return running
