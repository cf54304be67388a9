"""``build_app(service, settings)``: the Flyer Studio web UI as a ``gr.Blocks``.

Nothing launches at import and nothing lives at module level: the service is injected, shared
helpers are created per app, and per-user data (the current batch's ids, the selected one)
lives in ``gr.State``. The UI's own events are private; scripts use the keyword-friendly
endpoints of :mod:`studio.ui_api`. Mount it with ``gr.mount_gradio_app(app, blocks, path="/",
auth=..., **studio.theme.mount_options())``; the queue is configured by whoever mounts it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import gradio as gr
from gradio.events import Dependency

from pipeline.app_api import FlyerApp
from pipeline.health import Health
from pipeline.service import FlyerService
from pipeline.settings import Settings

from .handlers import CUSTOM_FORMAT, BatchView, StudioHandlers, mapped_errors
from .health import HealthMonitor
from .manifest_view import manifest_markdown
from .queue_wait import QueueWait
from .season_run import SeasonRunner
from .theme import HEADER_CSS, header_html
from .ui_api import (
    COMPOSE_CONCURRENCY,
    COMPOSE_CONCURRENCY_ID,
    PAINTING_CONCURRENCY_ID,
    register_api,
)
from .ui_files import SessionFiles
from .ui_layout import Controls, Results, build_controls, build_results
from .ui_season import build_season_page, wire_season_page
from .ui_status import error_status, stays
from .uploads import GuardedBlocks

__all__ = ["build_app", "delete_cache_for", "error_status", "stays"]

_CLICK_DOWNLOAD_JS = """
() => { setTimeout(() => {
  const link = document.querySelector('#fs-export-file a[download], #fs-export-file a[href]');
  if (link) link.click();
}, 50); }
"""


def delete_cache_for(settings: Settings) -> tuple[int, int]:
    """Gradio's ``delete_cache=(every, age)``: its copies of our files live as long as flyers."""
    age = settings.store_ttl_seconds
    return (max(60, min(3600, age // 2)), age)


def _session(request: gr.Request | None) -> str | None:
    return request.session_hash if request is not None else None


def build_app(service: FlyerService, settings: Settings,
              files: SessionFiles | None = None, health: HealthMonitor | None = None,
              *, app: FlyerApp | None = None) -> gr.Blocks:
    """The studio UI plus Gradio's API endpoints for scripts, both over ``app`` (the
    application API; default: one over ``service``). Previews and downloads are written with
    ``files`` (default: a fresh temporary folder); the header shows ``health``'s last answer
    (on every page load and after each run)."""
    if files is None:
        files = SessionFiles(max_age_seconds=float(settings.store_ttl_seconds))
    app = app if app is not None else FlyerApp(service)
    handlers = StudioHandlers(app, files)
    layouts, formats = app.layouts(), app.formats()

    with GuardedBlocks(title="Flyer Studio", delete_cache=delete_cache_for(settings)) as demo:
        ids = gr.State([])
        selected = gr.State(None)
        servers = len(getattr(service.backend, "members", ())) or 1
        unknown = health is not None and service.backend.name != "procedural"
        header = gr.HTML(header_html(service.backend.name, settings.max_batch_size,
                                     checking=unknown, servers=servers),
                         css_template=HEADER_CSS, js_on_load=None, elem_id="fs-header-block")
        with gr.Tabs(elem_id="fs-pages"):
            with gr.Tab("One event", id="one", elem_id="fs-page-one"), \
                    gr.Row(equal_height=False):
                with gr.Column(scale=5, min_width=300, elem_id="fs-controls"):
                    controls = build_controls(settings, layouts, formats, app.pairings())
                with gr.Column(scale=7, min_width=300, elem_id="fs-results"):
                    results = build_results(layouts, formats)
            with gr.Tab("Many events", id="many", elem_id="fs-page-many"):
                season = build_season_page(settings, layouts, formats, app.pairings())
        generating = _wire(handlers, controls, results, ids, selected, settings)
        running = wire_season_page(season, demo, SeasonRunner(service, files), handlers.jobs,
                                   settings)
        if health is not None:
            _wire_header(demo, header, health, settings, after=(generating, running),
                         servers=servers)
        register_api(app, settings, files, handlers.jobs)
    return demo


def _wire_header(demo: gr.Blocks, header: gr.HTML, health: HealthMonitor, settings: Settings,
                 after: tuple[Dependency, ...], servers: int = 1) -> None:
    """The header's badge says how the backend is doing: the monitor's last answer on every
    page load, a fresh check after each run. No timer: a page that polls would keep its login
    alive forever (FLYER_SESSION_IDLE); the server checks on its own."""
    def badge(known: Health | None) -> str:
        return header_html(settings.backend, settings.max_batch_size, known,
                           checking=known is None, servers=servers)

    options: dict[str, Any] = {"queue": False, "show_progress": "hidden",
                               "api_visibility": "private"}
    demo.load(lambda: badge(health.latest), None, header, **options)
    for event in after:
        event.then(lambda: badge(health.refresh()), None, header, **options)


def _wire(handlers: StudioHandlers, controls: Controls, results: Results, ids: gr.State,
          selected: gr.State, settings: Settings) -> Dependency:
    """Connect buttons to handlers. Every UI event is private: scripts use studio.ui_api.
    Returns the Generate button's event."""
    form: dict[str, Any] = {**controls.form, **results.form}
    by_component = {component: name for name, component in form.items()}
    view_outputs = [results.gallery, results.status, results.manifest, ids, selected,
                    results.export_file]

    wait = QueueWait(settings.queue_max_wait_seconds)

    def admit(request: gr.Request) -> None:
        """Refuse a job that waited in the queue longer than FLYER_QUEUE_MAX_WAIT."""
        with mapped_errors():
            wait.check(request)

    def values_of(data: dict[Any, Any]) -> dict[str, Any]:
        return {by_component[c]: v for c, v in data.items() if c in by_component}

    def show(view: BatchView) -> tuple[Any, ...]:
        index = view.ids.index(view.selected) if view.selected in view.ids else None
        return (gr.Gallery(value=view.gallery, selected_index=index), view.status,
                manifest_markdown(view.manifest), view.ids, view.selected,
                gr.File(value=None, visible=False))

    hidden_file = gr.File(value=None, visible=False)
    view_stays = stays(1, len(view_outputs), {5: hidden_file})

    @view_stays
    async def on_generate(data: dict[Any, Any], request: gr.Request,
                          progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        admit(request)
        values, session = values_of(data), _session(request)

        def report(fraction: float, message: str) -> None:
            progress(fraction, desc=message)

        def work(cancel: threading.Event) -> BatchView:
            return handlers.generate(values, session, report, cancel)

        return show(await handlers.jobs.run(session, work))  # Cancel stops this job only

    @view_stays
    def on_rerender(data: dict[Any, Any], request: gr.Request) -> tuple[Any, ...]:
        admit(request)
        values = values_of(data)
        return show(handlers.rerender(values, data[ids], data[selected], _session(request)))

    @stays(0, 4, {3: hidden_file})
    def on_select(current: list[str], evt: gr.SelectData, request: gr.Request) -> tuple[Any, ...]:
        index = evt.index if isinstance(evt.index, int) else None
        view = handlers.select(current, index, _session(request))
        return (view.status, manifest_markdown(view.manifest), view.selected,
                gr.File(value=None, visible=False))

    def exporter(kind: str) -> Any:
        @stays(1, 2, {0: hidden_file})
        def on_export(flyer_id: str | None, current: list[str], crop_marks: bool,
                      request: gr.Request) -> Any:
            admit(request)
            if kind == "zip":
                path = handlers.export_zip(current, _session(request))
            else:
                path = handlers.export(flyer_id, kind, _session(request), bool(crop_marks),
                                       current)
            return gr.File(value=str(path), visible=True), gr.skip()

        on_export.__name__ = f"export_{kind}"
        return on_export

    def on_cancel(request: gr.Request) -> None:
        handlers.cancel(_session(request))
        gr.Info("Generation cancelled.")

    private: dict[str, Any] = {"api_visibility": "private"}
    generating = controls.generate.click(  # the server pool gates painting (ui_api)
        on_generate, inputs={*form.values()}, outputs=view_outputs,
        concurrency_limit=handlers.app.painting_jobs, concurrency_id=PAINTING_CONCURRENCY_ID,
        show_progress_on=[results.gallery], **private,
    )
    controls.cancel.click(on_cancel, None, None, cancels=[generating], queue=False, **private)
    results.rerender.click(
        on_rerender, inputs={*form.values(), ids, selected}, outputs=view_outputs,
        concurrency_limit=COMPOSE_CONCURRENCY, concurrency_id=COMPOSE_CONCURRENCY_ID,
        show_progress_on=[results.gallery], **private,
    )
    results.gallery.select(
        on_select, inputs=[ids],
        outputs=[results.status, results.manifest, selected, results.export_file],
        show_progress="hidden", **private,
    )
    for button, kind in ((results.export_png, "png"), (results.export_pdf, "pdf"),
                         (results.export_zip, "zip")):
        button.click(
            exporter(kind), inputs=[selected, ids, results.crop_marks],
            outputs=[results.export_file, results.status], concurrency_limit=COMPOSE_CONCURRENCY,
            concurrency_id=COMPOSE_CONCURRENCY_ID, show_progress="minimal", **private,
        ).success(None, js=_CLICK_DOWNLOAD_JS, **private)

    def uploader(field: str) -> Callable[..., Any]:
        @stays(1, 2, {0: None})  # a refused file leaves the picker empty
        def on_upload(value: Any) -> tuple[Any, ...]:
            return gr.skip(), handlers.check_upload(value, field)

        return on_upload

    for field in ("logo", "background"):
        form[field].upload(uploader(field), inputs=[form[field]],
                           outputs=[form[field], results.status], preprocess=False,
                           show_progress="hidden", **private)

    form["random_seed"].change(
        lambda random: gr.Number(interactive=not random), form["random_seed"], form["seed"],
        queue=False, show_progress="hidden", **private,
    )
    for picker, size in (("format", "custom_size"), ("rerender_format", "rerender_custom_size")):
        form[picker].change(
            lambda choice: gr.Textbox(visible=choice == CUSTOM_FORMAT), form[picker], form[size],
            queue=False, show_progress="hidden", **private,
        )
    return generating
