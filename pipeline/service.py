"""FlyerService: the one rendering pipeline behind the UI, the Gradio API, REST and the CLI.

request → backend (one call per batch) → compose each image → store → previews and downloads.
Re-rendering a stored flyer reuses its background: no second Stable Diffusion call.
"""

from __future__ import annotations

import io
import json
import secrets
import threading
import time
import zipfile
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import httpx
from PIL import Image

from . import catalogue
from .backends import (
    GeneratedImage,
    ImageBackend,
    PaintRequest,
    close_backend,
    create_backend,
    open_backend,
)
from .composed import DEFAULT_MAX_BYTES, ComposedCache
from .errors import BackendCancelled, ConfigError, InvalidRequest
from .export import encode, extension, media_type, preview_jpeg
from .models import (
    EventDetails,
    Flyer,
    FlyerRequest,
    FlyerSpec,
    check_text,
    normalise_palette,
)
from .render.compose import compose, prepare_logo
from .render.fonts import get_pairing
from .render.formats import Format, get_format
from .render.images import FIELD_LABELS, load_image
from .render.layouts import LAYOUT_NAMES, get_layout
from .renderer import (
    InlineRenderer,
    Rendered,
    Renderer,
    RenderJob,
    compose_stored,
    make_renderer,
)
from .rules import check_batch_size, download_kind
from .settings import Settings
from .storage import FlyerSource, FlyerStorage, StoredFlyer
from .store import ENCODED_BUDGET, FlyerStore

if TYPE_CHECKING:
    from .season import SeasonOptions, SeasonResult, SeasonSink
    from .sheets import SheetRow

__all__ = ["Download", "FlyerService", "Progress", "check_image", "compose_stored",
           "flyer_from_manifest"]

Progress = Callable[[float, str], None]
MAX_ZIP_FLYERS = 100
"""Most flyers in one ZIP (ids repeated in a request count once)."""
_BACKEND_SHARE = 0.8  # fraction of the progress bar given to painting


@dataclass(frozen=True)
class Download:
    data: bytes
    filename: str
    media_type: str


def _noop(fraction: float, message: str) -> None:
    return None


def _stop_if_cancelled(cancel: threading.Event) -> None:
    if cancel.is_set():
        raise BackendCancelled("Generation cancelled.")


def _as_json(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` as JSON gives it back (tuples become lists): how a store keeps a manifest."""
    out: dict[str, Any] = json.loads(json.dumps(data))
    return out


def _given(data: bytes) -> Callable[[StoredFlyer], bytes]:
    """An encoding's producer that already has its bytes (made from the composition at hand)."""
    return lambda _: data


def check_image(data: bytes, field: str) -> tuple[str, int, int]:
    """Decode an uploaded image (``field``: logo or background) as generation will: its label
    for messages, its width and height; InvalidRequest naming the field if it cannot be used."""
    image = load_image(data, field=field)
    return FIELD_LABELS.get(field, field), image.width, image.height


def _check_layout(name: str) -> str:
    """'auto' or a known layout's name; an unknown one raises InvalidRequest listing them."""
    key = (name or "auto").strip().lower()
    return key if key == "auto" else get_layout(key).name


def _check_pairing(name: str) -> str:
    return get_pairing(name).name


def flyer_from_manifest(
    manifest: dict[str, Any],
    background: Image.Image,
    *,
    logo: Image.Image | None = None,
    metro_logo: Image.Image | None = None,
) -> Flyer:
    """Compose a flyer again from its manifest (as saved beside it) and its background.

    Same manifest, same background and logos: same pixels (the background is analysed again,
    which gives the same subject).
    """
    try:
        provenance = dict(manifest["provenance"])
        details = EventDetails(**provenance["details"])
        palette = tuple(manifest["palette"])
        pairing = manifest["fonts"]["pairing"]
        layout = manifest["layout"]
        fmt = get_format(manifest["format"]["name"])
        language = str((manifest.get("language") or {}).get("code") or "auto")
    except (KeyError, TypeError) as exc:
        raise InvalidRequest(
            f"This manifest lacks {exc}; use the JSON file saved beside the flyer.",
            field="manifest",
        ) from exc
    spec = FlyerSpec(
        details=details.validated(),
        palette=normalise_palette(palette),
        font_pairing=_check_pairing(pairing),
        logo=prepare_logo(logo, fmt) if logo is not None else None,
        metro_logo=metro_logo,
        provenance=provenance,
        language=language,
    )
    return compose(background.convert("RGB"), spec, _check_layout(layout), fmt)


def _open_store(settings: Settings) -> FlyerStorage:
    """The store FLYER_STORE_URL names: this process's (default) or a Redis shared by every
    replica (the ``redis`` package is imported only then)."""
    if settings.store_url is None:
        return FlyerStore(
            max_items=settings.max_in_memory,
            max_bytes=settings.store_max_bytes,
            ttl_seconds=settings.store_ttl_seconds,
            # previews and downloads: a cache beside the flyers, at most a 16th of their budget
            max_encoded_bytes=min(ENCODED_BUDGET, settings.store_max_bytes // 16),
        )
    try:
        from .store_redis import RedisFlyerStore
    except ImportError as exc:
        raise ConfigError(
            "FLYER_STORE_URL",
            "a Redis store needs the redis package: pip install 'flyer-studio[redis]'",
        ) from exc
    return RedisFlyerStore.from_url(
        settings.store_url,
        max_items=settings.max_in_memory,
        max_bytes=settings.store_max_bytes,
        ttl_seconds=settings.store_ttl_seconds,
        prefix=settings.redis_prefix,
    )  # encodings: their own budget in Redis (shared by every replica)


class FlyerService:
    """Generates, stores, re-renders and exports flyers. Thread-safe."""

    def __init__(
        self,
        settings: Settings,
        backend: ImageBackend,
        store: FlyerStorage,
        metro_logo: Image.Image | None = None,
        composed_max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], float] = time.time,
        renderer: Renderer | None = None,
    ) -> None:
        self.settings = settings
        self.renderer: Renderer = renderer if renderer is not None else InlineRenderer()
        """Where flyers are composed: here (the default) or in worker processes
        (``from_settings``: FLYER_RENDER_PROCESSES; see ``pipeline.renderer``)."""
        self.backend = backend
        self.store = store
        self.metro_logo = metro_logo
        self.composed = ComposedCache(composed_max_bytes)
        """The pixels of recent flyers: downloads encode them rather than compose again."""
        self._compositions = 0
        self._count_lock = threading.Lock()
        self._clock = clock

    def now(self) -> float:
        """The service's clock (seconds since the epoch): the store never reads one itself."""
        return self._clock()

    @classmethod
    def from_settings(
        cls, settings: Settings, client: httpx.Client | None = None, *, server: bool = False
    ) -> FlyerService:
        """The service the settings describe. FLYER_RENDER_PROCESSES ``auto`` composes in
        worker processes (one per core) for a ``server``; a script or the CLI composes in
        its own process unless the setting gives a number. (Worker processes import the
        caller's main module: a script that makes them needs ``if __name__ == "__main__":``.)"""
        backend = create_backend(settings.backend, settings, client)
        store = _open_store(settings)
        metro = None
        if settings.metro_path is not None:
            metro = load_image(settings.metro_path.read_bytes(), field="METRO_PATH")
        return cls(settings, backend, store, metro_logo=metro,
                   renderer=make_renderer(settings.render_processes if server or
                                          settings.render_processes is not None else 0))

    # -- lifecycle (the studio's lifespan; a script may use ``with service:``) ---------------
    def open(self) -> None:
        """Start what the backend runs in the background (a server pool's health checks)
        and the composing processes."""
        open_backend(self.backend)
        self.renderer.open()

    def close(self) -> None:
        """Close the backend: its HTTP clients and health thread. Idempotent; painting
        afterwards fails with BackendUnavailable (re-rendering stored flyers still works).
        A shared store's connections are closed too (they reopen if it is used again), and
        the composing processes stopped (they start again if a flyer is composed)."""
        close_backend(self.backend)
        self.renderer.close()
        closing = getattr(self.store, "close", None)
        if callable(closing):
            closing()

    def __enter__(self) -> FlyerService:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def compositions(self) -> int:
        """Flyers composed since start (generation, re-render, a download's cache miss)."""
        with self._count_lock:
            return self._compositions

    def _composed_one(self) -> None:
        with self._count_lock:
            self._compositions += 1

    def _keep(self, stored: StoredFlyer, flyer: Flyer, png: bytes | None = None) -> None:
        """Keep the pixels the flyer was made with, under the id (and manifest) it is stored
        with, for its downloads; ``png``: they came back as this PNG (``Rendered``)."""
        self.composed.put(stored.id, replace(flyer, manifest=stored.manifest), png)

    # -- the backend ------------------------------------------------------------------------
    def backend_status(self) -> dict[str, Any]:
        """Which backend, model and servers paint, and how each server is doing (for the
        authenticated /healthz detail); never a credential."""
        status = getattr(self.backend, "status", None)
        servers = status() if callable(status) else [
            {"server": self.backend.server, "healthy": True}]
        return {"backend": self.backend.name, "model": self.backend.model, "servers": servers,
                "capabilities": vars(self.backend.capabilities)}

    # -- catalogues -------------------------------------------------------------------------
    def list_layouts(self) -> list[dict[str, Any]]:
        return catalogue.layouts()

    def list_formats(self) -> list[dict[str, Any]]:
        return catalogue.formats()

    def list_pairings(self) -> list[dict[str, Any]]:
        return catalogue.pairings()

    # -- generation -------------------------------------------------------------------------
    def _validate(self, request: FlyerRequest) -> FlyerRequest:
        batch_size = check_batch_size(request.batch_size, self.settings.max_batch_size)
        if len(request.prompt) > 2000 or len(request.negative_prompt) > 2000:
            raise InvalidRequest("The prompt is too long: keep it under 2000 characters.",
                                 field="prompt")
        check_text(request.prompt, "prompt", "Prompt", multiline=True)
        check_text(request.negative_prompt, "negative_prompt", "Negative prompt", multiline=True)
        seed = request.seed
        if not isinstance(seed, int) or not -1 <= seed < 2**32:
            raise InvalidRequest(
                f"Seed must be -1 (random) or a whole number from 0 to {2**32 - 1}.", field="seed"
            )
        return replace(
            request,
            batch_size=batch_size,
            details=request.details.validated(),
            prompt=request.prompt.strip(),
            negative_prompt=request.negative_prompt.strip(),
            layout=_check_layout(request.layout),
            palette=normalise_palette(request.palette),
            font_pairing=_check_pairing(request.font_pairing),
        )

    def _paint(
        self, request: FlyerRequest, fmt: Format, progress: Progress, cancel: threading.Event
    ) -> tuple[list[GeneratedImage], bytes | None, dict[str, Any]]:
        if request.background is not None:
            image = load_image(request.background, field="background").convert("RGB")
            progress(_BACKEND_SHARE, "Using your background")
            upload: dict[str, Any] = {
                "backend": "upload", "model": None, "server": None,
                "generated_size": list(image.size),
            }
            return [GeneratedImage(image, seed=0)] * request.batch_size, request.background, upload
        left, top, right, bottom = fmt.trim_box  # paint the trimmed page's aspect ratio
        params = PaintRequest(
            prompt=request.prompt or request.details.title,
            negative_prompt=request.negative_prompt or self.settings.sd_negative_prompt,
            aspect=(right - left, bottom - top),
            pixel_budget=(right - left) * (bottom - top),
            count=request.batch_size,
            seed=request.seed,
            palette=request.palette,
        )

        def painting(fraction: float, message: str) -> None:
            progress(max(0.0, min(1.0, fraction)) * _BACKEND_SHARE, message)

        result = self.backend.generate(params, painting, cancel)
        return result.images, None, result.describe()

    def generate(
        self,
        request: FlyerRequest,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
        encodings: Sequence[str] = ("preview",),
    ) -> list[StoredFlyer]:
        """Paint ``request.batch_size`` backgrounds in one backend call and compose each.
        ``encodings``: what the caller will want at once, made with the composition (by the
        renderer: another process may do it): "preview" (the JPEG a gallery or a REST GET
        shows) and download kinds (e.g. "png"). Any other is made from the kept pixels (or
        composed again) when it is asked for.

        Setting ``cancel`` (from any thread) stops this job: the backend stops painting it (a
        Stable Diffusion server is interrupted only while it paints this job) and the service
        stops between stages with BackendCancelled, storing nothing.
        """
        report = progress or _noop
        stop = cancel if cancel is not None else threading.Event()
        request = self._validate(request)
        encodings = tuple(dict.fromkeys(kind if kind == "preview" else download_kind(kind)
                                        for kind in encodings))
        fmt = get_format(request.format)
        logo_image = (
            prepare_logo(load_image(request.logo, field="logo"), fmt) if request.logo else None
        )
        self.store.ensure_room(request.batch_size, self.now())
        _stop_if_cancelled(stop)
        report(0.0, "Painting backgrounds")
        images, uploaded, info = self._paint(request, fmt, report, stop)
        used: list[str] = []

        jobs: dict[int, RenderJob] = {}

        def job(index: int, subject: bytes | None = None) -> RenderJob:
            generated = images[index]
            provenance = {
                "prompt": request.prompt or request.details.title,
                "negative_prompt": request.negative_prompt or self.settings.sd_negative_prompt,
                "seed": generated.seed,
                "variant": index + 1,
                "details": {k: v for k, v in vars(request.details).items()},
                **info,
            }
            source = FlyerSource(
                background=uploaded or b"",
                details=request.details,
                palette=request.palette,
                font_pairing=request.font_pairing,
                logo=request.logo,
                provenance=provenance,
                subject=subject,
            )
            jobs[index] = RenderJob(
                source, self._variant_layout(request, uploaded is not None, used), fmt.name,
                self.settings.language, self.metro_logo,
                # variants of one uploaded picture differ by layout: auto's next best
                avoid=tuple(used) if uploaded is not None else (),
                painting=None if uploaded is not None else generated.image,
                logo=logo_image, encodings=encodings, faces=generated.faces)
            return jobs[index]

        def one_by_one() -> Generator[Rendered, None, None]:
            # variants of an upload: each avoids the layouts before it, and reuses the
            # analysis of the first (the picture is the same)
            subject: bytes | None = None
            for index in range(len(images)):
                rendered = self._render_one(job(index, subject), count=False)
                subject = rendered.subject
                yield rendered

        results = one_by_one() if uploaded is not None else \
            self.renderer.run([job(index) for index in range(len(images))])
        flyers: list[tuple[StoredFlyer, dict[str, bytes]]] = []
        made: list[Rendered] = []
        try:
            for index in range(len(images)):
                _stop_if_cancelled(stop)
                report(
                    _BACKEND_SHARE + (1 - _BACKEND_SHARE) * index / len(images),
                    f"Composing flyer {index + 1} of {len(images)}",
                )
                rendered = next(results)
                self._composed_one()
                flyer = rendered.flyer
                used.append(flyer.layout)
                made_by = jobs[index]
                seed = images[index].seed
                source = replace(made_by.source, background=rendered.background,
                                 subject=rendered.subject)
                flyers.append((self._record(flyer, source, made_by.layout,
                                            seed if seed is not None else -1),
                               rendered.encoded))
                made.append(rendered)
        finally:
            results.close()  # a cancelled or failed batch composes no more
        _stop_if_cancelled(stop)
        self._put(flyers)
        for (stored, _), rendered in zip(flyers, made, strict=True):
            self._keep(stored, rendered.flyer, rendered.png_pixels)
        report(1.0, "Done")
        return [stored for stored, _ in flyers]

    def _put(self, flyers: Sequence[tuple[StoredFlyer, dict[str, bytes]]]) -> None:
        """Store the flyers (all or none) and the encodings made with them (their previews,
        and what the door asked for) in the encodings cache."""
        now = self.now()
        self.store.put([stored for stored, _ in flyers], now)
        for stored, encoded in flyers:
            for kind, data in encoded.items():
                self.store.encoded(stored.id, kind, _given(data), now)

    @staticmethod
    def _variant_layout(request: FlyerRequest, uploaded: bool, used: list[str]) -> str:
        """The layout of the next variant. With the user's own background every variant shares
        the same picture, so variants after the first differ by layout instead."""
        if not uploaded or not used or request.layout == "auto":
            return request.layout  # auto passes over the used layouts itself (compose avoid)
        unused = [name for name in LAYOUT_NAMES if name not in used]
        return unused[0] if unused else LAYOUT_NAMES[len(used) % len(LAYOUT_NAMES)]

    def _record(self, flyer: Flyer, source: FlyerSource, requested: str, seed: int,
                **extra: Any) -> StoredFlyer:
        """The flyer as stored (manifest and provenance as JSON reads them back, so what
        generation returns equals what the store gives later)."""
        flyer_id = secrets.token_urlsafe(12)
        manifest = _as_json({"id": flyer_id, **flyer.manifest, **extra})
        source = replace(source, provenance=_as_json(source.provenance))
        now = self.now()
        return StoredFlyer(
            id=flyer_id,
            manifest=manifest,
            layout=flyer.layout,
            requested_layout=requested,
            format=flyer.format,
            seed=seed,
            width=flyer.image.width,
            height=flyer.image.height,
            source=source,
            created_at=now,
            expires_at=self.store.expiry(now),
        )

    # -- re-rendering and export ------------------------------------------------------------
    def rerender(
        self,
        flyer_id: str,
        *,
        details: EventDetails | None = None,
        layout: str | None = None,
        format: str | None = None,
        palette: tuple[str, ...] | str | None = None,
        font_pairing: str | None = None,
    ) -> StoredFlyer:
        """A new flyer from a stored one's background, with changes. No backend call."""
        old = self.get(flyer_id)
        source = replace(
            old.source,
            details=details.validated() if details is not None else old.source.details,
            palette=normalise_palette(palette) if palette is not None else old.source.palette,
            font_pairing=_check_pairing(font_pairing) if font_pairing else old.source.font_pairing,
        )
        new_layout = _check_layout(layout) if layout else old.requested_layout
        fmt = get_format(format) if format else get_format(old.format)
        self.store.ensure_room(1, self.now())
        rendered = self._render_one(RenderJob(source, new_layout, fmt.name,
                                              self.settings.language, self.metro_logo))
        flyer = rendered.flyer
        stored = self._record(flyer, source, new_layout, old.seed, rerendered_from=flyer_id)
        self._put([(stored, rendered.encoded)])
        self._keep(stored, flyer, rendered.png_pixels)
        return stored

    def _render_one(self, job: RenderJob, count: bool = True) -> Rendered:
        """One flyer composed by the renderer (counted as one composition with ``count``)."""
        results = self.renderer.run([job])
        try:
            rendered = next(results)
        finally:
            results.close()
        if count:
            self._composed_one()
        return rendered

    def get(self, flyer_id: str) -> StoredFlyer:
        return self.store.get(flyer_id, self.now())

    def stored_count(self) -> int:
        """Flyers kept now (expired ones not counted)."""
        return self.store.count(self.now())

    def preview(self, flyer_id: str) -> bytes:
        """The flyer's preview JPEG (made at generation; composed again if the encodings cache
        has dropped it since)."""
        return self.store.encoded(flyer_id, "preview",
                                  lambda stored: preview_jpeg(self.composed_flyer(stored)),
                                  self.now())

    def composed_flyer(self, stored: StoredFlyer) -> Flyer:
        """The stored flyer's pixels: those it was made with while the cache keeps them,
        otherwise composed again from its source (same inputs, same pixels) and kept."""
        flyer = self.composed.get(stored.id)
        if flyer is None:
            flyer = self._render_one(RenderJob(stored.source, stored.layout, stored.format,
                                               self.settings.language, self.metro_logo,
                                               encodings=())).flyer
            self._keep(stored, flyer)
            flyer = replace(flyer, manifest=stored.manifest)
        return flyer

    def download(self, flyer_id: str, kind: str, *, crop_marks: bool = False) -> Download:
        """The flyer encoded as ``kind`` (png, jpeg, webp, pdf): encoded once from the pixels
        made at generation (see :meth:`composed_flyer`), then reused."""
        key = download_kind(kind)
        marks = bool(crop_marks and key == "pdf")

        def produce(stored: StoredFlyer) -> bytes:
            return encode(self.composed_flyer(stored), key, crop_marks=marks)

        stored = self.get(flyer_id)
        data = self.store.encoded(flyer_id, f"{key}{'+marks' if marks else ''}", produce,
                                  self.now())
        name = f"flyer-{stored.format}-{stored.id[:8]}.{extension(key)}"
        return Download(data=data, filename=name, media_type=media_type(key))

    def download_zip(self, flyer_ids: list[str], kind: str = "png") -> Download:
        """Several flyers (and their manifests) in one ZIP archive."""
        if not flyer_ids:
            raise InvalidRequest("There is nothing to download yet: generate flyers first.")
        flyer_ids = list(dict.fromkeys(str(i) for i in flyer_ids))
        if len(flyer_ids) > MAX_ZIP_FLYERS:
            raise InvalidRequest(
                f"A ZIP holds at most {MAX_ZIP_FLYERS} flyers; you asked for {len(flyer_ids)}. "
                "Download them in several parts.", field="flyer_ids"
            )
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
            for number, flyer_id in enumerate(flyer_ids, start=1):
                item = self.download(flyer_id, kind)
                archive.writestr(f"flyer-{number}.{extension(kind)}", item.data)
                archive.writestr(
                    f"flyer-{number}.json", json.dumps(self.get(flyer_id).manifest, indent=2)
                )
        return Download(buffer.getvalue(), "flyers.zip", "application/zip")

    # -- many events (pipeline/season.py) ---------------------------------------------------
    def validate(self, request: FlyerRequest) -> FlyerRequest:
        """``request`` checked and cleaned as ``generate`` does, or InvalidRequest naming the
        field (the same message the UI and the API show)."""
        return self._validate(request)

    def paint(
        self,
        request: FlyerRequest,
        fmt: Format,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> tuple[list[GeneratedImage], bytes | None, dict[str, Any]]:
        """``request.batch_size`` backgrounds for ``fmt`` in one backend call: nothing composed,
        nothing stored. Returns the images, the uploaded background (if any) and the
        manifest's painting facts."""
        return self._paint(request, fmt, progress or _noop,
                           cancel if cancel is not None else threading.Event())

    def generate_many(
        self,
        rows: Sequence[SheetRow],
        options: SeasonOptions,
        sink: SeasonSink,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> SeasonResult:
        """Flyers for many events, written through to ``sink`` (a ZIP or folders), never
        stored; see :func:`pipeline.season.generate_many`."""
        from .season import generate_many

        return generate_many(self, rows, options, sink, progress, cancel)
