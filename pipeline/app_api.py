"""The application API every door calls: the UI's handlers, the Gradio API, REST, the CLI, MCP.

Plain values in, pipeline objects out, no Gradio. A door parses its own wire format into a
``{field: value}`` mapping (field names are :data:`REQUEST_FIELDS`) and calls
:meth:`FlyerApp.generate`; :func:`build_request` is the one place a :class:`FlyerRequest` is
made from such a mapping (whole numbers, seed, format, palette and text coerced the same way
for every door). The batch-size rule is :func:`check_batch_size`, the download-kind rule
:func:`download_kind` (both in :mod:`pipeline.rules`, used by this API and the service).

Jobs: :meth:`FlyerApp.open_job` registers a cancel event under an owner (a UI session, an MCP
call...); :meth:`FlyerApp.cancel` sets it, for one job or for all of one owner's, and the
service and the backend stop that job (and no other) between stages or while it waits for a
server.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidRequest
from .models import FIELD_LIMITS, EventDetails, FlyerRequest, normalise_palette
from .rules import check_batch_size, download_kind, whole_number
from .service import Download, FlyerService, Progress
from .store import StoredFlyer

__all__ = [
    "DETAIL_FIELDS",
    "REQUEST_FIELDS",
    "RERENDER_FIELDS",
    "FlyerApp",
    "Job",
    "build_request",
    "check_batch_size",
    "download_kind",
    "whole_number",
]

DETAIL_FIELDS: tuple[str, ...] = tuple(FIELD_LIMITS)
"""The event's text fields, in the form's order."""

_DEFAULTS: dict[str, Any] = {
    "prompt": "", "negative_prompt": "", "seed": -1, "batch_size": 1, "layout": "auto",
    "format": "instagram_post", "palette": (), "font_pairing": "default",
}
REQUEST_FIELDS: tuple[str, ...] = (*DETAIL_FIELDS, *_DEFAULTS)
"""What :func:`build_request` reads; anything else in its mapping is refused."""

RERENDER_FIELDS: tuple[str, ...] = (*DETAIL_FIELDS, "layout", "format", "palette",
                                    "font_pairing")
"""What a re-render may change; a field left out or None keeps the flyer's value."""

_LABELS = {"prompt": "Prompt", "negative_prompt": "Negative prompt", "layout": "Layout",
           "format": "Format", "font_pairing": "Font pairing",
           **{name: label for name, (label, _) in FIELD_LIMITS.items()}}


def _text(fields: Mapping[str, Any], name: str) -> str:
    value = fields.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidRequest(f"{_LABELS[name]} must be text.", field=name)
    return value


def _choice(fields: Mapping[str, Any], name: str) -> str:
    """A name picked from a list (layout, format, pairing): blank means the default."""
    return _text(fields, name).strip() or str(_DEFAULTS[name])


def _palette(value: object) -> tuple[str, ...]:
    """'#a,#b', a list of hex codes, or nothing -> up to three '#rrggbb'."""
    return normalise_palette(value)


def _check_names(fields: Mapping[str, Any], known: tuple[str, ...]) -> None:
    unknown = sorted(str(name) for name in fields if name not in known)
    if unknown:
        raise InvalidRequest(
            f"Unknown field{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"known: {', '.join(known)}.", field=unknown[0],
        )


def build_request(fields: Mapping[str, Any], *, logo: bytes | None = None,
                  background: bytes | None = None) -> FlyerRequest:
    """The one request builder: ``fields`` (names from :data:`REQUEST_FIELDS`, plain values:
    text, numbers or their text, a palette as '#a,#b' or a list) as a :class:`FlyerRequest`.
    A missing field takes its default, as does None for a text or a choice (a number given
    as None is refused: it is no number); the service validates the rest."""
    _check_names(fields, REQUEST_FIELDS)
    return FlyerRequest(
        details=EventDetails(**{name: _text(fields, name) for name in DETAIL_FIELDS}),
        prompt=_text(fields, "prompt"),
        negative_prompt=_text(fields, "negative_prompt"),
        seed=whole_number(fields.get("seed", -1), "seed", "Seed"),
        batch_size=whole_number(fields.get("batch_size", 1), "batch_size", "Batch size"),
        layout=_choice(fields, "layout"),
        format=_choice(fields, "format"),
        palette=_palette(fields.get("palette")),
        font_pairing=_choice(fields, "font_pairing"),
        logo=logo or None,
        background=background or None,
    )


@dataclass(eq=False)
class Job:
    """One running generation: its owner and its cancel event."""

    owner: str
    cancel: threading.Event = field(default_factory=threading.Event)


class FlyerApp:
    """Generate, re-render, download, catalogues and cancel, over one :class:`FlyerService`.
    Thread-safe; one per studio, shared by every door."""

    def __init__(self, service: FlyerService,
                 after_generation: Callable[[int], None] | None = None) -> None:
        self.service = service
        self._after_generation = after_generation
        """Called with the batch size in the generating thread once each generation has ended
        (succeeded or not): the studio gives its heap back to the system there
        (``studio.memory``)."""
        self._lock = threading.Lock()
        self._jobs: dict[str, set[Job]] = {}

    # -- requests -------------------------------------------------------------------------------
    @property
    def max_batch_size(self) -> int:
        return self.service.settings.max_batch_size

    @property
    def painting_jobs(self) -> int:
        """Most generations in flight at once that the backend's pool can take: one per server
        slot plus its line (FLYER_QUEUE_SIZE). A door that runs jobs in threads bounds them by
        this: a thread past it would only be refused by the pool as busy."""
        slots = getattr(self.service.backend, "slots", 1)
        return (slots if isinstance(slots, int) else 1) + self.service.settings.queue_size

    def check_batch_size(self, value: object) -> int:
        return check_batch_size(value, self.max_batch_size)

    def request(self, fields: Mapping[str, Any], *, logo: bytes | None = None,
                background: bytes | None = None) -> FlyerRequest:
        """:func:`build_request`, with the batch-size rule applied at once."""
        request = build_request(fields, logo=logo, background=background)
        self.check_batch_size(request.batch_size)
        return request

    # -- generation -----------------------------------------------------------------------------
    def generate(self, fields: Mapping[str, Any], *, logo: bytes | None = None,
                 background: bytes | None = None, progress: Progress | None = None,
                 cancel: threading.Event | None = None,
                 encodings: Sequence[str] = ("preview",)) -> list[StoredFlyer]:
        """Paint and compose ``fields["batch_size"]`` flyers (see
        :meth:`FlyerService.generate`); ``cancel``: a job's event (:meth:`open_job`);
        ``encodings``: what the door will fetch at once, made with the flyers ("preview",
        download kinds)."""
        request = self.request(fields, logo=logo, background=background)
        try:
            return self.service.generate(request, progress=progress, cancel=cancel,
                                         encodings=encodings)
        finally:
            if self._after_generation is not None:
                self._after_generation(request.batch_size)

    def rerender(self, flyer_id: str, changes: Mapping[str, Any]) -> StoredFlyer:
        """A new flyer from a stored one's background (no painting) with ``changes`` (names
        from :data:`RERENDER_FIELDS`); a field left out or None keeps its value."""
        _check_names(changes, RERENDER_FIELDS)
        given = {name: changes.get(name) for name in DETAIL_FIELDS}
        details = None
        if any(value is not None for value in given.values()):
            old = self.service.get(flyer_id).source.details
            details = EventDetails(**{
                name: getattr(old, name) if value is None else _text(given, name)
                for name, value in given.items()})
        palette = changes.get("palette")
        return self.service.rerender(
            flyer_id,
            details=details,
            layout=_text(changes, "layout").strip() or None,
            format=_text(changes, "format").strip() or None,
            palette=None if palette is None else _palette(palette),
            font_pairing=_text(changes, "font_pairing").strip() or None,
        )

    def get(self, flyer_id: str) -> StoredFlyer:
        return self.service.get(flyer_id)

    def download(self, flyer_id: str, kind: str = "png", *, crop_marks: bool = False) -> Download:
        return self.service.download(flyer_id, kind, crop_marks=crop_marks)

    def download_zip(self, flyer_ids: list[str], kind: str = "png") -> Download:
        return self.service.download_zip(flyer_ids, kind)

    # -- catalogues -----------------------------------------------------------------------------
    def layouts(self) -> list[dict[str, Any]]:
        return self.service.list_layouts()

    def formats(self) -> list[dict[str, Any]]:
        return self.service.list_formats()

    def pairings(self) -> list[dict[str, Any]]:
        return self.service.list_pairings()

    # -- jobs -----------------------------------------------------------------------------------
    @contextmanager
    def open_job(self, owner: str | None) -> Iterator[Job]:
        """A cancellable job for ``owner`` while the block runs (a UI session, ...)."""
        job = Job(owner or "")
        with self._lock:
            self._jobs.setdefault(job.owner, set()).add(job)
        try:
            yield job
        finally:
            with self._lock:
                jobs = self._jobs.get(job.owner, set())
                jobs.discard(job)
                if not jobs:
                    self._jobs.pop(job.owner, None)

    def cancel(self, job: Job | str | None) -> int:
        """Cancel one job, or every running job of an owner (a session); return how many.
        Without an owner: none. Only those jobs stop: a Stable Diffusion server is interrupted
        only while it paints one of them."""
        if isinstance(job, Job):
            job.cancel.set()
            return 1
        if not job:
            return 0
        with self._lock:
            jobs = list(self._jobs.get(job, ()))
        for each in jobs:
            each.cancel.set()
        return len(jobs)

    def running(self, owner: str | None) -> int:
        with self._lock:
            return len(self._jobs.get(owner or "", ()))
