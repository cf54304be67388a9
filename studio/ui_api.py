"""Gradio's API for scripts: keyword-friendly endpoints registered with ``gr.api``.

::

    client = Client(url, auth=("me", KEY))
    pngs, manifests = client.predict(title="Jazz Night", prompt="neon saxophone",
                                     batch_size=3, api_name="/generate")
    png, pdf, manifest = client.predict(flyer_id=manifests[0]["id"], format="a4",
                                        api_name="/rerender")

Every parameter but ``title`` (and ``flyer_id``) is optional. Files go in with
``gradio_client.handle_file(path)`` and come back as local paths. Errors reach the client as
``AppError`` with the same clear message the UI shows. Must be called inside a Blocks context.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import gradio as gr
from gradio.data_classes import FileData

from pipeline.app_api import DETAIL_FIELDS, FlyerApp
from pipeline.errors import InvalidRequest
from pipeline.settings import Settings

from .handlers import mapped_errors
from .jobs import Jobs
from .queue_wait import QueueWait
from .season_run import SeasonRunner, options_from
from .ui_files import SessionFiles
from .uploads import read_upload

__all__ = ["API_PROGRESS", "COMPOSE_CONCURRENCY", "COMPOSE_CONCURRENCY_ID",
           "PAINTING_CONCURRENCY_ID", "ApiProgress", "register_api"]

COMPOSE_CONCURRENCY_ID = "compose"
COMPOSE_CONCURRENCY = 4
"""Re-renders and downloads (CPU work, no painting) running at once, UI and API together."""
PAINTING_CONCURRENCY_ID = "painting"
"""The UI's and the API's painting events. The backend's server pool is their gate (one job per
server slot, a bounded line told its place, FLYER_QUEUE_MAX_WAIT); Gradio only bounds their
worker threads at what the pool can take (``FlyerApp.painting_jobs``), so it never holds back
a job the pool would run."""

ApiProgress = gr.Request | None
"""The annotation of a ``gr.api`` function's progress parameter. ``gr.api`` builds the
endpoint's inputs from the annotations and skips ``gr.Request`` ones; Gradio then injects its
progress tracker into any parameter whose *default* is a ``gr.Progress`` (that check comes
before the annotation's). So ``progress: ApiProgress = API_PROGRESS`` is no API input, and
gradio_client callers see the progress (``job.status().progress_data``) as the UI does.
tests/studio/test_gradio_api.py checks this against the installed Gradio."""
API_PROGRESS: Any = gr.Progress()


def _upload(value: object, field: str) -> bytes | None:
    """Bytes of a file sent with ``handle_file``. Plain strings are refused: a script must
    upload its file, it cannot name one on the server."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        label = "Logo" if field == "logo" else "Background"
        raise InvalidRequest(
            f"{label}: send the file with gradio_client.handle_file(path).", field=field
        )
    return read_upload(value, field)


def _file(files: SessionFiles, session: str | None, filename: str, data: bytes) -> FileData:
    return FileData(path=str(files.write(session, filename, data)), orig_name=filename)


def _reporter(progress: Any) -> Callable[[float, str], None]:
    def report(fraction: float, message: str) -> None:
        if isinstance(progress, gr.Progress):
            progress(fraction, desc=message)

    return report


def register_api(app: FlyerApp, settings: Settings, files: SessionFiles,
                 jobs: Jobs | None = None) -> None:
    """Add /generate, /generate_many, /season_template, /rerender, /download, /download_zip,
    /layouts, /formats, /pairings: thin adapters over ``app``.

    Cancelling a /generate job (``job.cancel()`` in gradio_client) stops its work on the server;
    ``jobs`` (shared with the UI's Cancel button) tracks them."""
    running = jobs if jobs is not None else Jobs(app)
    print_formats = {str(f["name"]) for f in app.formats() if f.get("print")}
    wait = QueueWait(settings.queue_max_wait_seconds)  # refuses jobs that waited too long
    seasons = SeasonRunner(app.service, files)

    def png_of(flyer_id: str, session: str | None) -> dict[str, Any]:
        item = app.download(flyer_id, "png")
        return _file(files, session, item.filename, item.data).model_dump()

    async def generate(
        title: str,
        subtitle: str = "",
        date: str = "",
        time: str = "",
        venue: str = "",
        metro: str = "",
        description: str = "",
        url: str = "",
        organiser: str = "",
        prompt: str = "",
        negative_prompt: str = "",
        seed: int = -1,
        batch_size: int = 1,
        layout: str = "auto",
        format: str = "instagram_post",
        palette: str = "",
        font_pairing: str = "default",
        logo: FileData | None = None,
        background: FileData | None = None,
        request: gr.Request | None = None,
        progress: ApiProgress = API_PROGRESS,
    ) -> tuple[list[FileData], list[dict[str, Any]]]:
        """Paint a batch of backgrounds in one call and compose a flyer on each.
        Returns the flyers as PNG files and their manifests (each with its "id")."""
        session = request.session_hash if request is not None else None
        fields = {"title": title, "subtitle": subtitle, "date": date, "time": time,
                  "venue": venue, "metro": metro, "description": description, "url": url,
                  "organiser": organiser, "prompt": prompt, "negative_prompt": negative_prompt,
                  "seed": seed, "batch_size": batch_size, "layout": layout, "format": format,
                  "palette": palette, "font_pairing": font_pairing}
        with mapped_errors():
            wait.check(request)

        def work(cancel: threading.Event) -> tuple[list[FileData], list[dict[str, Any]]]:
            with mapped_errors():
                flyers = app.generate(fields, logo=_upload(logo, "logo"),
                                      background=_upload(background, "background"),
                                      progress=_reporter(progress), cancel=cancel,
                                      # this door answers PNGs: no preview JPEG
                                      encodings=("png",))
                pngs = [png_of(f.id, session) for f in flyers]
            return pngs, [f.manifest for f in flyers]  # type: ignore[return-value]

        return await running.run(session, work)

    def rerender(
        flyer_id: str,
        layout: str | None = None,
        format: str | None = None,
        title: str | None = None,
        subtitle: str | None = None,
        date: str | None = None,
        time: str | None = None,
        venue: str | None = None,
        metro: str | None = None,
        description: str | None = None,
        url: str | None = None,
        organiser: str | None = None,
        palette: str | None = None,
        font_pairing: str | None = None,
        export: str = "auto",
        request: gr.Request | None = None,
    ) -> tuple[FileData, FileData | None, dict[str, Any]]:
        """Compose a stored flyer again (its background is reused: no new painting) in another
        layout, format or wording. Fields left out keep their value. export: auto (PDF too for
        print formats), png, or pdf. Returns the PNG, the PDF (or None) and the manifest."""
        session = request.session_hash if request is not None else None
        changes = {**dict(zip(DETAIL_FIELDS, (title, subtitle, date, time, venue, metro,
                                              description, url, organiser), strict=True)),
                   "layout": layout, "format": format, "palette": palette,
                   "font_pairing": font_pairing}
        with mapped_errors():
            wait.check(request)
            if export not in ("auto", "png", "pdf"):
                raise InvalidRequest(
                    f"Unknown export {export!r}; choose auto, png or pdf.", field="export"
                )
            flyer = app.rerender(flyer_id, changes)
            png = png_of(flyer.id, session)
            pdf = None
            if export == "pdf" or (export == "auto" and flyer.format in print_formats):
                item = app.download(flyer.id, "pdf")
                pdf = _file(files, session, item.filename, item.data).model_dump()
        return png, pdf, flyer.manifest  # type: ignore[return-value]

    def download(
        flyer_id: str, kind: str = "png", crop_marks: bool = False,
        request: gr.Request | None = None,
    ) -> FileData:
        """One flyer as png, jpeg, webp or pdf (crop_marks for print PDFs)."""
        session = request.session_hash if request is not None else None
        with mapped_errors():
            wait.check(request)
            item = app.download(flyer_id, kind, crop_marks=bool(crop_marks))
        return _file(files, session, item.filename, item.data).model_dump()  # type: ignore[return-value]

    def download_zip(
        flyer_ids: list[str], kind: str = "png", request: gr.Request | None = None
    ) -> FileData:
        """Several flyers and their manifests in one ZIP archive."""
        session = request.session_hash if request is not None else None
        with mapped_errors():
            wait.check(request)
            item = app.download_zip(list(flyer_ids or []), kind)
        return _file(files, session, item.filename, item.data).model_dump()  # type: ignore[return-value]

    async def generate_many(
        sheet: FileData,
        variants: int = 1,
        layout: str = "auto",
        format: str = "instagram_post",
        font_pairing: str = "default",
        palette: str = "",
        logo: FileData | None = None,
        seed: int = -1,
        request: gr.Request | None = None,
    ) -> tuple[FileData, FileData | None, dict[str, Any]]:
        """Flyers for every event of a CSV or XLSX sheet (send it with handle_file; one row per
        event, the first row names the columns: title, subtitle, date, time, venue, metro,
        description, url, organiser, prompt). Returns a ZIP with one folder per event (PNG, PDF
        for print formats, JSON manifest), the contact sheet (JPEG, or None when no row was
        made) and the report: rows, made, flyers, events, and problems (row, field, message)."""
        session = request.session_hash if request is not None else None
        with mapped_errors():
            wait.check(request)
            if sheet is None or isinstance(sheet, str):
                raise InvalidRequest("Sheet: send the file with gradio_client.handle_file(path).",
                                     field="sheet")
            options = options_from({"variants": variants, "layout": layout, "format": format,
                                    "font_pairing": font_pairing, "palette": palette,
                                    "seed": seed}, _upload(logo, "logo"))

        def work(cancel: threading.Event) -> tuple[Any, Any, dict[str, Any]]:
            outcome = seasons.run(sheet, options, session, cancel=cancel)
            archive = FileData(path=str(outcome.zip_path), orig_name=outcome.zip_path.name)
            picture = None if outcome.sheet_path is None else FileData(
                path=str(outcome.sheet_path), orig_name=outcome.sheet_path.name)
            report = {**outcome.result.report(), "ignored_columns": list(outcome.ignored)}
            return archive.model_dump(), picture and picture.model_dump(), report

        return await running.run(session, work)

    def season_template(request: gr.Request | None = None) -> FileData:
        """An example sheet (CSV) with every column /generate_many reads."""
        session = request.session_hash if request is not None else None
        path = seasons.template(session)
        return FileData(path=str(path), orig_name=path.name).model_dump()  # type: ignore[return-value]

    def layouts() -> list[dict[str, Any]]:
        """The layouts ("auto" first), each with name and label."""
        return app.layouts()

    def formats() -> list[dict[str, Any]]:
        """The named formats with their pixel sizes; custom sizes are written like 1200x628."""
        return app.formats()

    def pairings() -> list[dict[str, Any]]:
        """The font pairings, each with name and label."""
        return app.pairings()

    for painting in (generate, generate_many):  # the server pool gates them (one per server)
        gr.api(painting, api_name=painting.__name__, concurrency_limit=app.painting_jobs,
               concurrency_id=PAINTING_CONCURRENCY_ID)
    gr.api(season_template, api_name="season_template", queue=False)
    composing: list[Callable[..., Any]] = [rerender, download, download_zip]
    for fn in composing:
        gr.api(fn, api_name=fn.__name__, concurrency_limit=COMPOSE_CONCURRENCY,
               concurrency_id=COMPOSE_CONCURRENCY_ID)
    for catalogue in (layouts, formats, pairings):
        gr.api(catalogue, api_name=catalogue.__name__, queue=False)
