"""Imported by the composing processes' fork server only (``renderer.PRELOAD``).

It composes one small flyer, so that what every composition loads on first use (fonts, layouts,
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
from .models import EventDetails
from .renderer import RenderJob, render
from .storage import FlyerSource


def _warm() -> None:
    try:
        _compose_one()
    except Exception:  # only a head start: each worker loads what it needs anyway
        logging.getLogger(__name__).warning("the composing processes' warm-up failed",
                                            exc_info=True)
    work_pool().shutdown(wait=True)
    gc.collect()
    gc.freeze()


def _compose_one() -> None:
    one_opencv_thread()
    source = FlyerSource(background=b"", details=EventDetails(title="Warm", venue="Here",
                                                               url="https://example.org"),
                         palette=(), font_pairing="default", logo=None, provenance={})
    painting = Image.linear_gradient("L").convert("RGB").resize((160, 200))
    render(RenderJob(source, "auto", "instagram_post", painting=painting,
                     encodings=("preview", "png")))


_warm()
