"""Where flyers are composed: on the calling thread, or in worker processes.

Composition (see the picture, rank layouts × crops, fit and ink the text, encode the preview) is
about half Python that holds the GIL. In one server process, requests composing side by side
then take turns on the GIL: measured on the 2-core machine with 8 REST clients, the server's
threads left a quarter of both cores idle (``bench/README.md``, "Speed of the doors, round 4"),
and on a machine with more cores one process would still compose on about two. So a server
composes in worker processes, one per usable core (``FLYER_RENDER_PROCESSES``), and keeps the
doors, the painters, the store and the encodings cache in its own.

A job is plain data (:class:`RenderJob`: the stored background's bytes or the painting's pixels,
the event's details, the layout and format), and so is its answer (:class:`Rendered`: the flyer's
pixels and manifest, the background and analysis to store, the encodings asked for). The same
function, :func:`render`, runs in either place, so a flyer's pixels never depend on where it was
composed.

Workers are forked from a fork server that has imported the pipeline and composed one flyer
(``pipeline/_forkserver.py``; forking the server itself, which runs threads, is unsafe). A
worker that dies (killed, out of memory) fails only the jobs it held, with
:class:`~pipeline.errors.Busy` ("try again"), and so does one stuck past
:data:`JOB_TIMEOUT` (it is killed); the pool is started again for the next job.
:meth:`ProcessRenderer.close` stops the workers (the lifespan calls it through
``FlyerService.close``); a worker whose server was killed ends by itself within a second.
"""

from __future__ import annotations

import contextlib
import io
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Generator, Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, Protocol

from PIL import Image

from .errors import Busy
from .executor import machine_workers, one_opencv_thread, work_pool
from .export import encode, preview_jpeg
from .heap import glibc
from .models import Flyer, FlyerSpec
from .pixels import raw_bytes
from .render.compose import compose, prepare_logo
from .render.formats import Format, get_format
from .render.images import load_image
from .render.see import analyse
from .render.subject import Subject
from .storage import FlyerSource

__all__ = ["InlineRenderer", "ProcessRenderer", "RenderJob", "Rendered", "Renderer",
           "compose_stored", "make_renderer", "process_running", "render", "worker_threads"]

log = logging.getLogger(__name__)

BACKGROUND_QUALITY = 93
"""JPEG quality of a stored painted background (4:4:4, optimised Huffman tables): about 66 KB
for the procedural painter's grainy 456x568 px instead of 310 KB as PNG, ~5 ms to encode
instead of 40; a flyer composed on it is within 43 dB PSNR of one composed on the painting
itself. The optimised tables (a second pass over the coefficients) make it 8.5 % smaller than
the standard ones (71.8 KB over 24 paintings: ~18 MB of 3,000 stored flyers) for ~2.3 ms more
to encode, and decode to the same pixels."""


@dataclass(frozen=True)
class RenderJob:
    """One flyer to compose, as plain data (it crosses to a worker process pickled).

    ``painting``: a freshly painted background; it is stored as JPEG (``Rendered.background``)
    and the flyer is composed from that JPEG decoded, as re-renders will read it, while the
    analysis looks at the painting itself. Without it, ``source.background`` is decoded (an
    upload, or a stored flyer's background) and ``source.subject`` is the stored analysis
    (None: analysed here). ``logo``: the organiser's logo already prepared for ``format``
    (once per request); else ``source.logo`` is decoded and prepared here. ``encodings``:
    what to encode from this very composition ("preview": the preview JPEG; else a download
    kind, e.g. "png")."""

    source: FlyerSource
    layout: str
    format: str
    language: str = "auto"
    metro_logo: Image.Image | None = None
    avoid: tuple[str, ...] = ()
    painting: Image.Image | None = None
    logo: Image.Image | None = None
    encodings: tuple[str, ...] = ("preview",)
    faces: bool = True
    """Whether ``painting`` may show faces (``GeneratedImage.faces``): without, its analysis
    skips the face searches."""

    def __reduce__(self) -> tuple[Any, ...]:
        return _job, (self.source, self.layout, self.format, self.language,
                      _packed(self.metro_logo), self.avoid, _packed(self.painting),
                      _packed(self.logo), self.encodings, self.faces)


def _packed(image: Image.Image | None) -> tuple[str, tuple[int, int], bytes] | None:
    """An image as plain pickle-ready data. Pillow's own pickling of a 1080×1350 canvas costs
    ~15 ms of CPU; its raw bytes ~2 (and a memory copy to pickle)."""
    if image is None:
        return None
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA")
    return image.mode, image.size, raw_bytes(image)


def _unpacked(packed: tuple[str, tuple[int, int], bytes] | None) -> Image.Image | None:
    return None if packed is None else Image.frombytes(*packed)


def _job(source: FlyerSource, layout: str, fmt: str, language: str,
         metro_logo: tuple[str, tuple[int, int], bytes] | None, avoid: tuple[str, ...],
         painting: tuple[str, tuple[int, int], bytes] | None,
         logo: tuple[str, tuple[int, int], bytes] | None,
         encodings: tuple[str, ...], faces: bool = True) -> RenderJob:
    return RenderJob(source, layout, fmt, language, _unpacked(metro_logo), avoid,
                     _unpacked(painting), _unpacked(logo), encodings, faces)


def _rendered(image: tuple[str, tuple[int, int], bytes] | None, manifest: dict[str, Any],
              layout: str, fmt: str, background: bytes, subject: bytes,
              encoded: dict[str, bytes]) -> Rendered:
    if image is None:  # the PNG holds the pixels: read when first needed (png_canvas)
        return Rendered(Flyer(png_canvas(encoded["png"]), manifest, layout, fmt), background,
                        subject, encoded, canvas_is_png=True)
    canvas = _unpacked(image)
    assert canvas is not None
    return Rendered(Flyer(canvas, manifest, layout, fmt), background, subject, encoded)


def png_canvas(png: bytes) -> Image.Image:
    """A flyer's canvas from its PNG, not decoded yet: its size and mode are read from the
    header, its pixels on first use. One thread at a time may read its pixels (the composed
    cache hands out decoded copies: ``ComposedCache.get``)."""
    return Image.open(io.BytesIO(png))


@dataclass(frozen=True)
class Rendered:
    """What a job made: the flyer, the background and analysis as they are stored, and the
    encodings it asked for.

    A job that asked for the PNG comes back from a worker without its pixels: the PNG holds
    them losslessly, so ``flyer.image`` is the PNG not decoded yet (``canvas_is_png``). A
    post's pixels are 4.4 MB against a 1.1 MB PNG: sending them cost the gradio_client door
    ~15 ms of CPU a flyer (pickled, piped and unpacked), for downloads that are rare after a
    /generate (which hands out that PNG)."""

    flyer: Flyer
    background: bytes
    subject: bytes
    encoded: dict[str, bytes] = field(default_factory=dict)
    canvas_is_png: bool = False

    @property
    def png_pixels(self) -> bytes | None:
        """The PNG that holds the flyer's pixels, when it came back as that PNG."""
        return self.encoded["png"] if self.canvas_is_png else None

    def __reduce__(self) -> tuple[Any, ...]:
        flyer = self.flyer
        pixels = None if "png" in self.encoded else _packed(flyer.image)
        return _rendered, (pixels, flyer.manifest, flyer.layout, flyer.format,
                           self.background, self.subject, self.encoded)


def stored_background(image: Image.Image) -> bytes:
    """A painted background as the store keeps it: at its painted size, JPEG q93 without
    chroma subsampling (no visible loss once composed; generation composes from these very
    bytes, so re-renders and downloads match it pixel for pixel)."""
    buffer = io.BytesIO()
    _rgb(image).save(buffer, format="JPEG", quality=BACKGROUND_QUALITY, subsampling=0,
                     optimize=True)
    return buffer.getvalue()


def decoded_background(kept: bytes) -> Image.Image:
    """The pixels of a background just stored (:func:`stored_background`'s JPEG) as every
    later read of it decodes them (``load_image``: same decoder, same pixels), without its
    checks and copies for uploads: no second parse to verify, no EXIF pass, no copy."""
    opened = Image.open(io.BytesIO(kept))  # not closed: closing drops the decoded pixels
    opened.load()  # (the bytes are in memory: no file stays open)
    return _rgb(opened)


def _rgb(image: Image.Image) -> Image.Image:
    """``image`` in RGB: itself when it already is (``convert`` would copy it)."""
    return image if image.mode == "RGB" else image.convert("RGB")


def stored_subject(source: FlyerSource) -> Subject | None:
    """The analysis kept with the flyer (None: compose analyses the background again)."""
    if source.subject is None:
        return None
    try:
        return Subject.decode(source.subject)
    except ValueError:
        return None


def render(job: RenderJob) -> Rendered:
    """Compose ``job``'s flyer and encode what it asks for: the same function in this process
    and in a worker."""
    fmt = get_format(job.format)
    source = job.source
    subject: Subject | None = None
    if job.painting is not None:
        kept = stored_background(job.painting)
        background = decoded_background(kept)
        analysis = analyse(job.painting, faces=job.faces).encode()
    else:
        kept = source.background
        background = _rgb(load_image(kept, field="background"))
        subject = stored_subject(source)
        analysis = source.subject if subject is not None and source.subject else \
            analyse(background).encode()
    if subject is None:  # a new analysis: composed from it as stored, like re-renders
        subject = Subject.decode(analysis)
    logo = job.logo
    if logo is None and source.logo:
        logo = prepare_logo(load_image(source.logo, field="logo"), fmt)
    spec = FlyerSpec(details=source.details, palette=source.palette,
                     font_pairing=source.font_pairing, logo=logo, metro_logo=job.metro_logo,
                     provenance=source.provenance, language=job.language)
    flyer = compose(background, spec, job.layout, fmt, subject=subject, avoid=job.avoid)
    encoded = {kind: preview_jpeg(flyer) if kind == "preview" else encode(flyer, kind)
               for kind in job.encodings}
    return Rendered(flyer=flyer, background=kept, subject=analysis, encoded=encoded)


def compose_stored(source: FlyerSource, layout: str, fmt: Format,
                   metro_logo: Image.Image | None, language: str = "auto") -> Flyer:
    """Compose a flyer from what the store keeps (re-renders and downloads): the background
    and its stored analysis, so nothing is painted or analysed again; ``language``:
    FLYER_LANGUAGE."""
    job = RenderJob(source, layout, fmt.name, language, metro_logo, encodings=())
    return render(job).flyer


class Renderer(Protocol):
    """Runs render jobs; ``run`` yields their results in the jobs' order."""

    processes: int

    def run(self, jobs: Sequence[RenderJob]) -> Generator[Rendered, None, None]: ...

    def open(self) -> None: ...

    def close(self) -> None: ...


class InlineRenderer:
    """Composes on the calling thread, one job after the other (as each result is asked for,
    so a caller that stops early composes no more)."""

    processes = 0

    def run(self, jobs: Sequence[RenderJob]) -> Generator[Rendered, None, None]:
        for job in jobs:
            yield render(job)

    def open(self) -> None:
        return None

    def close(self) -> None:
        return None


TRIM_EVERY = 5
"""A composing process gives its heap's free pages back to the system (``malloc_trim``)
after every this many flyers, as the studio's process does (``studio/memory.py``)."""


class _Worker:
    """This process's state when it is a composing worker."""

    libc: Any | None = None
    jobs = 0


def worker_threads(processes: int, cores: int | None = None) -> int:
    """Threads of a composing worker's own pool (``executor.work_pool``): its share of the
    usable cores, at least one. With one worker per core (the default), one thread: a
    photograph's analysis searches profile faces there while its own thread searches frontal
    ones (~32 ms instead of ~51 one after the other, on the idle 2-core machine), and the
    PNG's deflate slices queue on it. A pool as large as the machine's cores (two threads
    here, as before) made no more flyers a second with 8 clients than one thread or none
    (bench/README.md "Round 8")."""
    share = (machine_workers() if cores is None else cores) // max(1, processes)
    return max(1, share)


def _start_worker(server: int, threads: int = 1) -> None:
    one_opencv_thread()  # the worker's own threads are its cores' share already
    work_pool().resize(threads)
    _Worker.libc = glibc()
    threading.Thread(target=_exit_with, args=(server,), name="flyer-render-watch",
                     daemon=True).start()


def _render_in_worker(job: RenderJob) -> Rendered:
    try:
        return render(job)
    finally:
        _Worker.jobs += 1
        if _Worker.libc is not None and _Worker.jobs % TRIM_EVERY == 0:
            _Worker.libc.malloc_trim(0)


def _exit_with(server: int, every: float = 1.0) -> None:
    """End this worker once the server process is gone (killed, crashed): an idle worker
    waits on its job queue and would otherwise outlive it."""
    while process_running(server):
        time.sleep(every)
    os._exit(0)


def process_running(pid: int) -> bool:
    """Whether process ``pid`` runs (on Linux, a zombie has ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's: it exists
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:  # no /proc (not Linux)
        return True


def _ready() -> bool:
    return True


JOB_TIMEOUT = 120.0
"""Seconds a composition may take in a worker (an A4 page from a 4,000-px upload takes about
one on 2 cores) before its worker is killed and the job answered "try again"."""

PRELOAD = ["pipeline._forkserver"]
"""What the fork server imports once, so that each worker starts with it loaded."""


class ProcessRenderer:
    """Composes in ``processes`` worker processes. All the jobs of a ``run`` start at once
    (a batch's flyers compose side by side); results come back in order. Thread-safe."""

    def __init__(self, processes: int, job_timeout: float = JOB_TIMEOUT) -> None:
        if processes < 1:
            raise ValueError(f"a process renderer needs at least one process, not {processes}")
        self.processes = processes
        self.job_timeout = job_timeout
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self.fallback = False
        """True once worker processes could not be started here (no POSIX semaphores, no
        fork): jobs are then composed on the calling thread, as with 0 processes."""

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(PRELOAD)
                self._pool = ProcessPoolExecutor(self.processes, mp_context=context,
                                                 initializer=_start_worker,
                                                 initargs=(os.getpid(),
                                                           worker_threads(self.processes)))
            return self._pool

    def open(self) -> None:
        """Start the workers now (the fork server imports the pipeline once, ~1-2 s), so that
        the first flyer does not wait for them. Where processes cannot be started, say so
        once and compose on the calling thread instead."""
        try:
            pool = self._executor()
            for job in [pool.submit(_ready) for _ in range(self.processes)]:
                job.result(timeout=120)
            log.info("composing in %d worker processes (FLYER_RENDER_PROCESSES)", self.processes)
        except (OSError, ImportError, NotImplementedError, BrokenProcessPool,
                TimeoutError) as exc:
            log.warning("cannot start composing processes (%s: %s); composing in the "
                        "server's process", type(exc).__name__, exc)
            self.close()
            self.fallback = True

    def run(self, jobs: Sequence[RenderJob]) -> Generator[Rendered, None, None]:
        if self.fallback:
            yield from InlineRenderer().run(jobs)
            return
        pool = self._executor()
        futures: list[Future[Rendered]] = []
        try:
            futures = [pool.submit(_render_in_worker, job) for job in jobs]
            for future in futures:
                yield future.result(timeout=self.job_timeout)
        except (BrokenProcessPool, CancelledError) as exc:
            self._restart(pool)
            raise Busy("A composing process stopped unexpectedly; try again.") from exc
        except TimeoutError as exc:  # a worker stuck (a decoder looping on a crafted file)
            self._restart(pool, kill=True)
            raise Busy(f"Composing a flyer took longer than {self.job_timeout:g} s, so it "
                       "was stopped; try again, or with a smaller picture.") from exc
        finally:
            for future in futures:  # a caller that stops early (cancelled, an error)
                future.cancel()

    def pids(self) -> list[int]:
        """The worker processes' ids now (none before the first job or after ``close``)."""
        with self._lock:
            pool = self._pool
        # the executor keeps its live workers by pid (CPython's ProcessPoolExecutor, 3.9+)
        return sorted(getattr(pool, "_processes", None) or {}) if pool is not None else []

    def _restart(self, broken: ProcessPoolExecutor, kill: bool = False) -> None:
        """Replace a pool whose worker died (or, with ``kill``, is stuck: its workers are
        killed, failing the other jobs they hold with Busy too); the next job starts new
        workers."""
        with self._lock:
            if self._pool is broken:
                self._pool = None
        pids = sorted(getattr(broken, "_processes", None) or {}) if kill else []
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        log.warning("a composing process %s; starting new ones",
                    "was stuck" if kill else "stopped unexpectedly")
        broken.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the workers (after the jobs they hold). A later job starts new ones."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


AUTO_MAX = 8
"""Most worker processes ``auto`` starts (each adds ~40 MB; beyond 8 cores, run replicas or
set FLYER_RENDER_PROCESSES)."""


def make_renderer(processes: int | None) -> Renderer:
    """``processes`` workers; None: one per usable core (at most :data:`AUTO_MAX`) where there
    are two or more, else composing on the request's thread (0)."""
    count = processes if processes is not None else min(machine_workers(), AUTO_MAX)
    if count == 0 or (processes is None and count < 2):
        return InlineRenderer()
    return ProcessRenderer(count)
