"""Thin handlers behind the studio's buttons: build a typed request, call the service, map errors.

Handlers know nothing about components: they take plain values (a ``{field name: value}``
mapping for the form) and return plain data (:class:`BatchView`); ``studio.app`` wires them to
components. Pipeline errors become ``gr.Error`` only through :func:`studio.errors.to_gr_error`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.app_api import DETAIL_FIELDS, FlyerApp, build_request, whole_number
from pipeline.errors import FlyerError, InvalidRequest, NotFound
from pipeline.models import FlyerRequest, normalise_palette
from pipeline.service import check_image
from pipeline.storage import StoredFlyer

from .errors import to_gr_error
from .jobs import Jobs
from .ui_files import SessionFiles
from .uploads import read_upload

__all__ = [
    "CUSTOM_FORMAT",
    "DETAIL_FIELDS",
    "BatchView",
    "StudioHandlers",
    "details_from",
    "fields_from",
    "format_from",
    "mapped_errors",
    "palette_from",
    "request_from",
    "whole_number",
]

CUSTOM_FORMAT = "custom"
"""The format picker's choice that means "use the custom WxH box"."""

ProgressFn = Callable[[float, str], None]


@contextmanager
def mapped_errors() -> Iterator[None]:
    """Turn pipeline errors raised inside the block into clear ``gr.Error``s."""
    try:
        yield
    except FlyerError as exc:
        raise to_gr_error(exc) from exc


def _text(values: Mapping[str, Any], name: str) -> str:
    value = values.get(name)
    return "" if value is None else str(value)


def details_from(values: Mapping[str, Any]) -> dict[str, str]:
    """The event details typed into the form, by field name."""
    return {name: _text(values, name) for name in DETAIL_FIELDS}


def palette_from(values: Mapping[str, Any]) -> tuple[str, ...]:
    """Brand colours from the pickers when "use brand colours" is ticked, duplicates dropped."""
    if not values.get("use_palette"):
        return ()
    picked = [_text(values, f"colour_{i}").strip() for i in (1, 2, 3)]
    unique = list(dict.fromkeys(c.lower() for c in picked if c))
    return normalise_palette(unique)


def format_from(values: Mapping[str, Any], key: str = "format",
                size_key: str = "custom_size") -> str:
    """A named format, or the custom ``WxH`` box when the picker says custom."""
    chosen = _text(values, key).strip() or "instagram_post"
    if chosen != CUSTOM_FORMAT:
        return chosen
    size = _text(values, size_key).strip()
    if not size:
        raise InvalidRequest("Custom size: type a size like 1200x628.", field="format")
    return size


def fields_from(values: Mapping[str, Any]) -> dict[str, Any]:
    """The form's values as the application API's request fields (seed -1 when "random" is
    ticked, the custom size, the ticked brand colours)."""
    fixed = not values.get("random_seed", True)
    return {
        **details_from(values),
        "prompt": _text(values, "prompt"),
        "negative_prompt": _text(values, "negative_prompt"),
        "seed": values.get("seed") if fixed else -1,
        "batch_size": values.get("batch_size", 1),
        "layout": _text(values, "layout"),
        "format": format_from(values),
        "palette": palette_from(values),
        "font_pairing": _text(values, "font_pairing"),
    }


def request_from(values: Mapping[str, Any]) -> FlyerRequest:
    """The whole form as a :class:`FlyerRequest`, through the one request builder."""
    return build_request(fields_from(values), logo=read_upload(values.get("logo"), "logo"),
                         background=read_upload(values.get("background"), "background"))


@dataclass(frozen=True)
class BatchView:
    """What the results column shows."""

    ids: list[str]
    selected: str | None
    gallery: list[tuple[str, str]]
    manifest: dict[str, Any] | None
    status: str


class StudioHandlers:
    """The UI's actions for one app. Shared by every session; per-user data stays in gr.State."""

    def __init__(self, app: FlyerApp, files: SessionFiles) -> None:
        self.app = app
        self.service = app.service
        self.files = files
        self._layout_labels = {d["name"]: str(d["label"]) for d in app.layouts()}
        self._format_labels = {d["name"]: str(d["label"]) for d in app.formats()}
        self.jobs = Jobs(app)

    # -- views --------------------------------------------------------------------------------
    def _caption(self, number: int, flyer: StoredFlyer) -> str:
        layout = self._layout_labels.get(flyer.layout, flyer.layout)
        return f"{number} · {layout} · seed {flyer.seed}"

    def _view(self, ids: Sequence[str], selected: str | None, session: str | None,
              status: str) -> BatchView:
        live: list[StoredFlyer] = []
        for flyer_id in ids:
            try:
                live.append(self.app.get(flyer_id))
            except NotFound:
                continue  # expired: drop it from the gallery
        gallery = [
            (str(self.files.write(session, f"preview-{f.id}.jpg", self.service.preview(f.id))),
             self._caption(n, f))
            for n, f in enumerate(live, start=1)
        ]
        kept = [f.id for f in live]
        chosen = selected if selected in kept else (kept[0] if kept else None)
        manifest = next((f.manifest for f in live if f.id == chosen), None)
        return BatchView(kept, chosen, gallery, manifest, status)

    @staticmethod
    def warnings(flyers: Sequence[StoredFlyer]) -> str:
        """The composer's warnings (e.g. emoji it had to leave out), once each, for the status."""
        found = dict.fromkeys(str(w) for f in flyers for w in f.manifest.get("warnings", []))
        return "".join(f"\n\n⚠️ {w}" for w in found)

    def describe(self, flyer: StoredFlyer) -> str:
        fmt = self._format_labels.get(flyer.format, flyer.format)
        size = f"{flyer.width}×{flyer.height}"
        return fmt if size in fmt else f"{fmt} · {size} px"  # named formats carry their size

    # -- actions ------------------------------------------------------------------------------
    def generate(self, values: Mapping[str, Any], session: str | None,
                 progress: ProgressFn, cancel: threading.Event | None = None) -> BatchView:
        """Generate a batch; setting ``cancel`` stops this job (see :class:`studio.jobs.Jobs`,
        which runs it)."""
        started = time.monotonic()
        with mapped_errors():
            flyers = self.app.generate(
                fields_from(values), logo=read_upload(values.get("logo"), "logo"),
                background=read_upload(values.get("background"), "background"),
                progress=progress, cancel=cancel)
        took = time.monotonic() - started
        noun = "flyer" if len(flyers) == 1 else "flyers"
        status = f"**{len(flyers)} {noun}** · {self.describe(flyers[0])} · {took:.1f} s"
        status += self.warnings(flyers)
        return self._view([f.id for f in flyers], flyers[0].id, session, status)

    def rerender(self, values: Mapping[str, Any], ids: Sequence[str], selected: str | None,
                 session: str | None) -> BatchView:
        """Re-compose the selected flyer with the form's current wording, colours and fonts
        and the chosen layout/format; it joins the gallery as a new variant."""
        with mapped_errors():
            if not selected:
                raise InvalidRequest("Select a flyer in the gallery first.")
            layout = _text(values, "rerender_layout") or None
            fmt = _text(values, "rerender_format") or None
            if fmt == "keep":
                fmt = None
            elif fmt == CUSTOM_FORMAT:
                fmt = format_from(values, "rerender_format", "rerender_custom_size")
            flyer = self.app.rerender(selected, {
                **details_from(values),
                "layout": None if layout == "keep" else layout,
                "format": fmt,
                "palette": palette_from(values) if values.get("use_palette") else None,
                "font_pairing": _text(values, "font_pairing") or None,
            })
        status = f"**Re-rendered** without repainting · {self.describe(flyer)}"
        status += self.warnings([flyer])
        return self._view([*ids, flyer.id], flyer.id, session, status)

    def select(self, ids: Sequence[str], index: int | None, session: str | None) -> BatchView:
        if index is None or not 0 <= index < len(ids):
            return self._view(ids, None, session, "")
        with mapped_errors():
            flyer = self.app.get(ids[index])
        status = f"Selected **{index + 1}** · {self.describe(flyer)}"
        return self._view(ids, ids[index], session, status)

    def export(self, selected: str | None, kind: str, session: str | None,
               crop_marks: bool = False, ids: Sequence[str] = ()) -> Path:
        """The selected flyer as a file named ``flyer-<format>-<n>.<ext>``, ``n`` its place in
        the gallery (``ids``), so the variants of a batch download under distinct names."""
        with mapped_errors():
            if not selected:
                raise InvalidRequest("Select a flyer in the gallery first.")
            item = self.app.download(selected, kind, crop_marks=crop_marks)
            flyer = self.app.get(selected)
        number = list(ids).index(selected) + 1 if selected in ids else 1
        name = f"flyer-{flyer.format}-{number}{Path(item.filename).suffix}"
        return self.files.write(session, name, item.data)

    def export_zip(self, ids: Sequence[str], session: str | None) -> Path:
        with mapped_errors():
            item = self.app.download_zip(list(ids), "png")
        return self.files.write(session, item.filename, item.data)

    @staticmethod
    def check_upload(value: object, field: str) -> str:
        """Read and decode an image the moment it is uploaded, so a bad file is refused with a
        plain message now, not at Generate. Returns the status line for a good one."""
        with mapped_errors():
            data = read_upload(value, field)
            if data is None:
                return ""
            label, width, height = check_image(data, field)
        return f"{label} ready · {width}×{height} px"

    def cancel(self, session: str | None) -> None:
        """Stop this session's generations, and only them: each job has its own cancel event,
        and the Stable Diffusion server is interrupted only while it paints one of them."""
        self.jobs.cancel(session)
