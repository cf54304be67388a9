"""A season run for the web: the sheet from an upload, the ZIP into the session's folder.

The UI's "Many events" page and Gradio's ``/generate_many`` share :class:`SeasonRunner`: it reads
the sheet only from a file Gradio stored (:func:`studio.uploads.read_upload`), runs
:meth:`pipeline.service.FlyerService.generate_many` straight into a ZIP being written in the
session's folder (a ``.part`` file until the run ends: a cancelled or failed run leaves nothing),
and puts the contact sheet beside it. Pipeline errors become ``gr.Error`` through
:func:`studio.handlers.mapped_errors`, in the API's words.
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import InvalidRequest
from pipeline.season import SeasonOptions, SeasonResult, ZipSink
from pipeline.service import FlyerService
from pipeline.sheets import MAX_SHEET_BYTES, Sheet, read_sheet, template_csv

from .handlers import mapped_errors, whole_number
from .ui_files import SessionFiles
from .uploads import read_upload

__all__ = ["TEMPLATE_NAME", "SeasonOutcome", "SeasonRunner", "options_from"]

TEMPLATE_NAME = "flyer-season-template.csv"
ProgressFn = Callable[[float, str], None]


@dataclass(frozen=True)
class SeasonOutcome:
    result: SeasonResult
    zip_path: Path
    sheet_path: Path | None
    """The contact sheet (JPEG); None when no row was made."""
    ignored: tuple[str, ...]
    """Columns of the sheet that name no field."""

    def status_html(self) -> str:
        """The run for the status area: a summary line, then every row not made with its row
        number and the API's message (escaped: sheets are hostile text)."""
        r = self.result
        noun = "flyer" if r.flyers == 1 else "flyers"
        calls = "call" if r.backend_calls == 1 else "calls"
        lines = [f"<strong>{len(r.made)} of {r.rows} events</strong> · {r.flyers} {noun} · "
                 f"{r.backend_calls} painting {calls} · {r.seconds:.1f} s"]
        if self.ignored:
            lines.append("Columns not used: " + html.escape(", ".join(self.ignored)))
        text = "<br>".join(lines)
        if not r.problems:
            return f'<div class="fs-season-ok">✅ {text}</div>'
        items = "".join(
            f"<li><strong>Row {p.row}</strong>"
            + (f" ({html.escape(p.title)})" if p.title else "")
            + f" · {html.escape(p.message)}</li>"
            for p in sorted(r.problems, key=lambda p: p.row)
        )
        rows = "row" if len(r.problems) == 1 else "rows"
        return (f'<div class="fs-season-ok">{text}</div><div class="fs-error" role="alert">'
                f"⚠️ <strong>{len(r.problems)} {rows} not made</strong> (the others are in "
                f'the ZIP):<ul class="fs-problems">{items}</ul></div>')


def options_from(values: Mapping[str, Any], logo: bytes | None = None) -> SeasonOptions:
    """The run's options from plain values (the UI's pickers or the API's keywords)."""
    def text(name: str, default: str) -> str:
        value = values.get(name)
        return str(value).strip() if value not in (None, "") else default

    return SeasonOptions(
        layout=text("layout", "auto"),
        format=text("format", "instagram_post"),
        variants=whole_number(values.get("variants", 1), "variants", "Variants"),
        font_pairing=text("font_pairing", "default"),
        palette=text("palette", ""),
        logo=logo,
        seed=whole_number(values.get("seed", -1), "seed", "Seed"),
    )


def _stem(value: object) -> str:
    raw = value.get("orig_name") or value.get("path") if isinstance(value, dict) else value
    raw = getattr(raw, "path", raw)
    stem = Path(str(raw or "events")).stem
    return re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip(".-")[:60] or "events"


class SeasonRunner:
    """Season runs for one app; thread-safe (nothing but the injected service and files)."""

    def __init__(self, service: FlyerService, files: SessionFiles) -> None:
        self.service = service
        self.files = files
        space = files.space
        self.max_zip_bytes = None if space is None else space.max_bytes * 3 // 4
        """A run's ZIP takes at most three quarters of the temporary space (FLYER_TEMP_MAX_BYTES):
        rows past that are reported, not made."""

    def read(self, upload: object) -> Sheet:
        """The sheet in an uploaded file (InvalidRequest naming ``sheet`` otherwise)."""
        data = read_upload(upload, "sheet", max_bytes=MAX_SHEET_BYTES)
        if data is None:
            raise InvalidRequest("Upload a sheet of events first (CSV or XLSX; the template "
                                 "shows the columns).", field="sheet")
        return read_sheet(data)

    def check(self, upload: object) -> str:
        """The status line for a sheet the moment it is uploaded."""
        with mapped_errors():
            if read_upload(upload, "sheet", max_bytes=MAX_SHEET_BYTES) is None:
                return ""
            sheet = self.read(upload)
        count = len(sheet.rows)
        first, last = sheet.rows[0].number, sheet.rows[-1].number
        text = (f"Sheet ready · <strong>{count} event{'s' if count != 1 else ''}</strong> "
                f"(rows {first}–{last}) · columns: {html.escape(', '.join(sheet.columns))}")
        if sheet.ignored:
            text += f" · not used: {html.escape(', '.join(sheet.ignored))}"
        return text

    def template(self, session: str | None) -> Path:
        return self.files.write(session, TEMPLATE_NAME, template_csv())

    def run(self, upload: object, options: SeasonOptions, session: str | None,
            progress: ProgressFn | None = None,
            cancel: threading.Event | None = None) -> SeasonOutcome:
        """Every row's flyers into ``flyers-<sheet>.zip`` in the session's folder."""
        stem = _stem(upload)
        with mapped_errors():
            sheet = self.read(upload)
            with self.files.stream(session, f"flyers-{stem}.zip") as (handle, path), \
                    ZipSink(handle, self.max_zip_bytes) as sink:
                result = self.service.generate_many(sheet.rows, options, sink, progress, cancel)
        picture = None
        if result.contact_sheet is not None:
            picture = self.files.write(session, f"contact-sheet-{stem}.jpg",
                                       result.contact_sheet)
        return SeasonOutcome(result, path, picture, sheet.ignored)
