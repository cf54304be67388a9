"""Imported by the composing processes' fork server only (``renderer.PRELOAD``).

It caps the allocator's arenas (``ARENAS``, inherited by every worker forked from it) and
composes one small flyer, so that what every composition loads on first use (fonts, layouts,
the face detectors, the codecs) is loaded once, before the workers are forked from this process
and share those pages instead of each loading its own; then it stops the threads that
composition started (a process forked while other threads run would inherit their locks but not
the threads) and freezes the garbage collector's view of the loaded objects, so that collections
in a worker do not write to (and so copy) the shared pages.
"""

from __future__ import annotations

import gc
import logging

from PIL import Image

from .executor import one_opencv_thread, work_pool
from .heap import glibc, limit_arenas
from .models import EventDetails
from .renderer import RenderJob, render
from .storage import FlyerSource

ARENAS = 1
"""Allocator arenas a composing process may use. glibc gives each new thread its own arena
(up to 8 per core) and keeps the pages freed in each: the fork server's warm-up and every
worker's threads (the work pool, OpenCV's callers) each kept a few MB that ``malloc_trim``
could not give back between live blocks. With at most two, 3,000 flyers through the Gradio
door held 720.5 MB in the server with its composing processes, not 770.0, with varied texts
(665.7, not 705.0, with one text; bench/README.md "Round 6"). With one, a worker's pool
thread (``renderer.worker_threads``) allocates from the worker's own heap: the two workers
held 79.6-82.9 MB instead of 108.6 with one pool thread each, as little as with no pool
thread (81.3), at the same speed (bench/README.md "Round 8"). The server's own heap has its
policy (``studio/memory.py``)."""


def _warm() -> None:
    if not limit_arenas(ARENAS):  # before any thread: the workers forked from here inherit it
        logging.getLogger(__name__).info("the composing processes keep glibc's arenas")
    try:
        _compose_one()
    except Exception:  # only a head start: each worker loads what it needs anyway
        logging.getLogger(__name__).warning("the composing processes' warm-up failed",
                                            exc_info=True)
    work_pool().shutdown(wait=True)
    gc.collect()
    gc.freeze()
    libc = glibc()
    if libc is not None:  # what the warm-up freed goes back before any worker is forked
        libc.malloc_trim(0)


def _compose_one() -> None:
    one_opencv_thread()
    source = FlyerSource(background=b"", details=EventDetails(title="Warm", venue="Here",
                                                               url="https://example.org"),
                         palette=(), font_pairing="default", logo=None, provenance={})
    painting = Image.linear_gradient("L").convert("RGB").resize((160, 200))
    render(RenderJob(source, "auto", "instagram_post", painting=painting,
                     encodings=("preview", "png")))


_warm()
