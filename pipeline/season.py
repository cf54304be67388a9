"""A season: flyers for many events at once, straight into a ZIP (or folders).

``generate_many(service, rows, options, sink)`` is the one run behind the UI's "Many events"
tab, Gradio's ``/generate_many`` and ``flyer-studio render-many``:

1. every row is checked as a request of its own (the same validation, the same message as the
   API); a row with a problem is reported with its row number and skipped;
2. rows whose backgrounds share a prompt (and so could come from one painting job) are painted
   together: one backend call per group of at most ``MAX_BATCH_SIZE`` images (each event's
   variants stay in one call), otherwise one call per event with its variants. Seeds differ
   across the group (the backend gives image i seed + i), so events sharing a prompt still get
   backgrounds of their own;
3. each flyer is composed and written through at once: PNG (and PDF for print formats) and its
   JSON manifest go to the sink in a folder per event; only a small thumbnail is kept, for the
   contact sheet. Nothing goes into the flyer store, so a season cannot fill it;
4. the contact sheet (``contact-sheet.jpg``) and ``report.json`` close the archive.

A failure of one row's composition or one group's painting is reported for those rows and the
run goes on; a server that is unreachable, refuses the credentials or times out ends the painting
(the remaining rows are reported, not tried one by one); cancelling ends the run.
"""

from __future__ import annotations

import json
import re
import threading
import time
import unicodedata
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from .contact_sheet import SheetCell, contact_sheet, thumbnail_jpeg
from .errors import (
    BackendAuthError,
    BackendCancelled,
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    InvalidRequest,
    RenderError,
)
from .export import encode
from .models import Flyer, FlyerRequest, FlyerSpec
from .render.compose import compose, prepare_logo
from .render.formats import Format, get_format
from .render.images import load_image
from .render.see import analyse
from .sheets import MAX_ROWS, SheetRow

if TYPE_CHECKING:
    from PIL import Image

    from .backends import GeneratedImage
    from .service import FlyerService

__all__ = [
    "MAX_SEASON_FLYERS",
    "FolderSink",
    "MadeEvent",
    "RowProblem",
    "SeasonOptions",
    "SeasonResult",
    "SeasonSink",
    "ZipSink",
    "event_folder",
    "generate_many",
]

MAX_SEASON_FLYERS = 600
"""Most flyers one run makes (rows × variants): 200 events × 3, or 120 × 5."""
_STOPPING = (BackendUnavailable, BackendAuthError, BackendTimeout)
"""Backend failures that no other row would escape: the run stops painting."""

Progress = Callable[[float, str], None]


def _noop(fraction: float, message: str) -> None:
    return None


@dataclass(frozen=True)
class SeasonOptions:
    """What every event of the run shares: picked once."""

    layout: str = "auto"
    format: str = "instagram_post"
    variants: int = 1
    font_pairing: str = "default"
    palette: tuple[str, ...] | str = ()
    logo: bytes | None = None
    seed: int = -1
    """-1: random. Otherwise the run's images take seed, seed + 1, ... in painting order."""
    negative_prompt: str = ""
    crop_marks: bool = False
    """Crop marks on the PDFs of print formats."""


class SeasonSink(Protocol):
    """Where a run's files go, as they are made. A sink may also have a ``room`` attribute:
    the bytes of flyers it still takes (None: no limit)."""

    def add(self, name: str, data: bytes) -> None:
        """Write ``data`` as ``name`` (``folder/file.ext``, made by the run: ASCII, no ``..``)."""
        ...


class ZipSink:
    """Writes each file into a ZIP archive as it comes (PNG, PDF and JPEG stored, text
    deflated). With ``max_bytes`` the run makes no event whose files would not fit in
    :attr:`room` (the report and contact sheet are always added)."""

    def __init__(self, target: IO[bytes], max_bytes: int | None = None) -> None:
        self._zip = zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED)
        self.names: list[str] = []
        self.max_bytes = max_bytes
        self.written = 0

    @property
    def room(self) -> int | None:
        """Bytes of flyers that still fit; None: no limit."""
        return None if self.max_bytes is None else max(0, self.max_bytes - self.written)

    def add(self, name: str, data: bytes) -> None:
        packed = name.endswith((".json", ".txt", ".csv"))
        self._zip.writestr(name, data,
                           compress_type=zipfile.ZIP_DEFLATED if packed else zipfile.ZIP_STORED)
        self.names.append(name)
        self.written += len(data)

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> ZipSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FolderSink:
    """Writes each file under ``root`` (folders created as needed)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def add(self, name: str, data: bytes) -> None:
        parts = Path(name).parts
        if Path(name).is_absolute() or ".." in parts or not parts:
            raise ValueError(f"not a relative file name: {name!r}")
        path = self.root.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@dataclass(frozen=True)
class RowProblem:
    """A row that was not made, and why (in the API's words)."""

    row: int
    title: str
    message: str
    field: str | None = None


@dataclass(frozen=True)
class MadeEvent:
    row: int
    title: str
    folder: str
    files: tuple[str, ...]
    layouts: tuple[str, ...]
    seeds: tuple[int | None, ...]


@dataclass
class SeasonResult:
    rows: int
    made: list[MadeEvent] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    contact_sheet: bytes | None = None
    backend_calls: int = 0
    seconds: float = 0.0
    format: str = ""
    variants: int = 1

    @property
    def flyers(self) -> int:
        return sum(len(event.layouts) for event in self.made)

    def report(self) -> dict[str, Any]:
        """The run as plain JSON data (``report.json``, the API's answer)."""
        return {
            "rows": self.rows,
            "made": len(self.made),
            "flyers": self.flyers,
            "format": self.format,
            "variants": self.variants,
            "backend_calls": self.backend_calls,
            "seconds": round(self.seconds, 2),
            "events": [
                {"row": e.row, "title": e.title, "folder": e.folder, "files": list(e.files),
                 "layouts": list(e.layouts), "seeds": list(e.seeds)}
                for e in sorted(self.made, key=lambda e: e.row)
            ],
            "problems": [
                {"row": p.row, "title": p.title, "field": p.field, "message": p.message}
                for p in sorted(self.problems, key=lambda p: p.row)
            ],
        }


def event_folder(row: SheetRow | int, title: str = "") -> str:
    """``002-late-night-jazz``: the row number, then the title in plain ASCII letters."""
    number = row if isinstance(row, int) else row.number
    folded = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")[:40].rstrip("-")
    return f"{number:03d}-{slug or 'event'}"


@dataclass(frozen=True)
class _Event:
    row: SheetRow
    request: FlyerRequest
    """Validated: the row's details and prompt with the run's options."""

    @property
    def paint_key(self) -> tuple[str, str]:
        """Events with the same key can share a painting job."""
        return (self.request.prompt or self.request.details.title, self.request.negative_prompt)


@dataclass
class _Run:
    service: FlyerService
    options: SeasonOptions
    fmt: Format
    logo: Image.Image | None
    sink: SeasonSink
    progress: Progress
    cancel: threading.Event
    total: int
    result: SeasonResult
    cells: dict[int, SheetCell] = field(default_factory=dict)
    units: float = 0.0
    images_painted: int = 0
    full: str = ""
    """Why no more events fit in the sink (empty while they do)."""

    def report(self, extra: float, message: str) -> None:
        self.progress(min(1.0, (self.units + extra) / max(1, self.total)), message)

    def stop_if_cancelled(self) -> None:
        if self.cancel.is_set():
            raise BackendCancelled("Generation cancelled.")


def _check_options(service: FlyerService, options: SeasonOptions, rows: int) -> FlyerRequest:
    """The options as a validated request (title aside), or InvalidRequest for the run."""
    if rows > MAX_ROWS:
        raise InvalidRequest(f"A run makes at most {MAX_ROWS} events, not {rows}; split the "
                             "sheet.", field="sheet")
    variants = options.variants
    if isinstance(variants, int) and rows * variants > MAX_SEASON_FLYERS:
        raise InvalidRequest(
            f"{rows} events × {variants} variants is {rows * variants} flyers; a run makes at "
            f"most {MAX_SEASON_FLYERS}. Ask for fewer variants or split the sheet.",
            field="variants")
    from .app_api import build_request

    try:
        probe = build_request({
            "title": "probe", "negative_prompt": options.negative_prompt, "seed": options.seed,
            "batch_size": variants, "layout": options.layout, "format": options.format,
            "palette": options.palette, "font_pairing": options.font_pairing})
        return service.validate(probe)
    except InvalidRequest as exc:
        if exc.field == "batch_size":
            raise InvalidRequest(str(exc).replace("Batch size", "Variants"),
                                 field="variants") from None
        raise


def _events(service: FlyerService, rows: Sequence[SheetRow], checked: FlyerRequest,
            problems: list[RowProblem]) -> list[_Event]:
    events: list[_Event] = []
    for row in rows:
        request = replace(checked, details=row.details, prompt=row.prompt)
        try:
            events.append(_Event(row, service.validate(request)))
        except InvalidRequest as exc:
            problems.append(RowProblem(row.number, row.title, str(exc), exc.field))
    return events


def _groups(events: list[_Event], variants: int, max_batch: int) -> list[list[_Event]]:
    """Events in painting jobs: those sharing a prompt together, at most ``max_batch`` images a
    job (never fewer than one event's variants), in the sheet's order of first appearance."""
    per_call = max(1, max(variants, max_batch) // variants)
    by_key: dict[tuple[str, str], list[_Event]] = {}
    for event in events:
        by_key.setdefault(event.paint_key, []).append(event)
    groups: list[list[_Event]] = []
    for same in by_key.values():
        groups += [same[i:i + per_call] for i in range(0, len(same), per_call)]
    return groups


def generate_many(
    service: FlyerService,
    rows: Sequence[SheetRow],
    options: SeasonOptions,
    sink: SeasonSink,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> SeasonResult:
    """Make every row's flyers into ``sink``; see the module docstring. Raises InvalidRequest
    for options that no row could use and BackendCancelled when cancelled; every other
    problem is a row's, in the result."""
    started = time.monotonic()
    checked = _check_options(service, options, len(rows))
    fmt = get_format(options.format)
    logo = prepare_logo(load_image(options.logo, field="logo"), fmt) if options.logo else None
    result = SeasonResult(rows=len(rows), format=fmt.name, variants=checked.batch_size)
    events = _events(service, rows, checked, result.problems)
    run = _Run(service, options, fmt, logo, sink, progress or _noop,
               cancel if cancel is not None else threading.Event(),
               total=2 * len(events) * checked.batch_size, result=result)
    run.report(0, f"{len(events)} of {len(rows)} rows ready")
    groups = _groups(events, checked.batch_size, service.settings.max_batch_size)
    stopped: BackendError | None = None
    for group in groups:
        run.stop_if_cancelled()
        if stopped is not None or run.full:
            _give_up(run, group, run.full or f"Not painted: {stopped}")
            continue
        try:
            images, info = _paint(run, group)
        except BackendCancelled:
            raise
        except BackendError as exc:
            _give_up(run, group, str(exc))
            stopped = exc if isinstance(exc, _STOPPING) else None
            continue
        variants = checked.batch_size
        for number, event in enumerate(group):
            run.stop_if_cancelled()
            if run.full:
                _give_up(run, [event], run.full, done=variants)  # painted, not composed
                continue
            _make_event(run, event, images[number * variants:(number + 1) * variants], info)
    run.stop_if_cancelled()
    _finish(run, rows)
    result.seconds = time.monotonic() - started
    sink.add("report.json", json.dumps(result.report(), indent=2, ensure_ascii=False).encode())
    run.progress(1.0, "Done")
    return result


def _give_up(run: _Run, group: list[_Event], message: str, done: int = 0) -> None:
    """Report ``group``'s rows as not made; ``done``: progress units of each already counted
    (its painting, say)."""
    for event in group:
        run.result.problems.append(RowProblem(event.row.number, event.row.title, message))
        run.units += 2 * event.request.batch_size - done


def _paint(run: _Run, group: list[_Event]) -> tuple[list[GeneratedImage], dict[str, Any]]:
    """One backend call for the group's backgrounds."""
    variants = group[0].request.batch_size
    count = len(group) * variants
    seed = run.options.seed
    if seed >= 0:
        seed = (seed + run.images_painted) % 2**32
    rows = (f"row {group[0].row.number}" if len(group) == 1
            else f"rows {', '.join(str(e.row.number) for e in group)} (one prompt)")
    request = replace(group[0].request, batch_size=count, seed=seed)
    base = run.units

    def painting(fraction: float, message: str) -> None:
        run.progress(min(1.0, (base + count * max(0.0, min(1.0, fraction / 0.8)))
                         / max(1, run.total)), f"Painting {rows}")

    run.report(0, f"Painting {rows}")
    images, _uploaded, info = run.service.paint(request, run.fmt, painting, run.cancel)
    run.result.backend_calls += 1
    run.images_painted += count
    run.units += count
    if len(images) < count:
        raise BackendError(f"The backend painted {len(images)} of {count} backgrounds.")
    return images, info


def _make_event(run: _Run, event: _Event, images: Sequence[GeneratedImage],
                info: dict[str, Any]) -> None:
    """Compose the event's variants (all, before writing any), then write each through."""
    request, row = event.request, event.row
    run.report(0, f"Composing row {row.number}: {row.title}")
    try:
        flyers = [_compose(run, request, row, image, index, info)
                  for index, image in enumerate(images)]
    except (RenderError, InvalidRequest) as exc:
        run.result.problems.append(RowProblem(row.number, row.title, str(exc),
                                              getattr(exc, "field", None)))
        run.units += len(images)
        return
    folder = event_folder(row, request.details.title)
    stem = folder.split("-", 1)[1]
    outputs: list[tuple[str, bytes]] = []
    thumbnails: list[bytes] = []
    for number, flyer in enumerate(flyers, start=1):
        run.stop_if_cancelled()
        name = f"{folder}/{stem}-{number}"
        outputs.append((f"{name}.png", encode(flyer, "png", fmt=run.fmt)))
        if run.fmt.print:
            outputs.append((f"{name}.pdf", encode(flyer, "pdf", fmt=run.fmt,
                                                  crop_marks=run.options.crop_marks)))
        manifest = json.dumps(flyer.manifest, indent=2, ensure_ascii=False).encode("utf-8")
        outputs.append((f"{name}.json", manifest))
        thumbnails.append(thumbnail_jpeg(flyer.image))
        run.units += 1
        run.report(0, f"Composing row {row.number}: {row.title}")
    room = getattr(run.sink, "room", None)
    if isinstance(room, int) and sum(len(data) for _, data in outputs) > room:
        limit = getattr(run.sink, "max_bytes", None) or 0
        run.full = (f"Not made: the ZIP reached the studio's limit for one run "
                    f"({limit / 1048576:.0f} MB); make the remaining rows in another run, "
                    "or ask for fewer variants or a smaller format.")
        _give_up(run, [event], run.full, done=2 * len(flyers))  # painted and composed
        return
    for name, data in outputs:
        run.sink.add(name, data)
    files = [name for name, _ in outputs]
    run.cells[row.number] = SheetCell(row.number, tuple(thumbnails))
    run.result.made.append(MadeEvent(
        row.number, row.title, folder, tuple(files), tuple(f.layout for f in flyers),
        tuple(image.seed for image in images)))


def _compose(run: _Run, request: FlyerRequest, row: SheetRow, generated: GeneratedImage,
             index: int, info: dict[str, Any]) -> Flyer:
    settings = run.service.settings
    provenance = {
        "prompt": request.prompt or request.details.title,
        "negative_prompt": request.negative_prompt or settings.sd_negative_prompt,
        "seed": generated.seed,
        "variant": index + 1,
        "row": row.number,
        "details": dict(vars(request.details)),
        **info,
    }
    spec = FlyerSpec(
        details=request.details, palette=request.palette, font_pairing=request.font_pairing,
        logo=run.logo, metro_logo=run.service.metro_logo, provenance=provenance,
        language=settings.language,
    )
    flyer = compose(generated.image, spec, request.layout, run.fmt,
                    subject=analyse(generated.image, faces=generated.faces))
    return replace(flyer, manifest={**flyer.manifest, "row": row.number})


def _finish(run: _Run, rows: Sequence[SheetRow]) -> None:
    made = len(run.result.made)
    if not made:
        return
    cells = [run.cells.get(row.number, SheetCell(row.number)) for row in rows]
    title = f"{made} of {len(rows)} events · {run.result.flyers} flyers · {run.fmt.label}"
    run.report(0, "Drawing the contact sheet")
    run.result.contact_sheet = contact_sheet(cells, run.result.variants,
                                             run.fmt.width / run.fmt.height, title)
    run.sink.add("contact-sheet.jpg", run.result.contact_sheet)
