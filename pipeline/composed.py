"""Recently composed flyers, kept as pixels so that downloads encode them instead of composing
again: the pixels made at generation (or re-rendering) are the ones every encoding is made of.

Bounded by bytes (what the canvases hold in memory) and by a number of flyers, least recently
used first out. A miss is never an error: the service composes the flyer again from what the
store keeps (same inputs, same pixels) and puts it back. Thread-safe.

A flyer may also be kept as its PNG (``put(..., png=...)``: what a worker process sends back
for a /generate that asked for the PNG, ``renderer.Rendered``): it counts the PNG's bytes, and
``get`` decodes it (lossless: the same pixels) into a fresh image for each caller.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from dataclasses import replace

from PIL import Image

from .models import Flyer

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_ITEMS", "ComposedCache", "pixel_bytes"]

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
"""About 11 Instagram-sized flyers (5.8 MB each) or an A4 print canvas (36.5 MB, with bleed,
300 dpi) and 5 posts: the flyers of the batches being delivered now (a /generate encodes its
PNGs right after composing, a user downloads soon after seeing the gallery). Older ones
compose again when downloaded. This is RSS on top of the store's encoded bytes, held small so
that the studio with 3,000 stored flyers stays near 600 MB (bench/bench_store.py). (It was
96 MB counted at 3 bytes a pixel: 128 MB held.)"""

DEFAULT_MAX_ITEMS = 16
"""At most this many flyers, whatever their bytes: about three batches (MAX_BATCH_SIZE 5).
A flyer kept as its PNG counts its PNG's ~1.3 MB, so the byte budget alone kept ~50 of them
through the Gradio door, 64 MB for flyers that were mostly long delivered (the encodings cache
holds the same PNG objects for their PNG downloads, so at 16 this cache adds no bytes of its
own there: bench_store.py, bench/README.md "Round 8")."""

_PIXEL_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2}
"""Bytes a pixel in Pillow's own storage; every other mode (RGB included) takes 4."""


def pixel_bytes(flyer: Flyer) -> int:
    """What the flyer's canvas holds in memory: Pillow keeps RGB at 4 bytes a pixel."""
    image = flyer.image
    return image.width * image.height * _PIXEL_BYTES.get(image.mode, 4)


class ComposedCache:
    """``flyer id -> Flyer``, at most ``max_bytes`` of pixels (or of PNG, for those kept as
    their PNG) and ``max_items`` flyers."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_items: int = DEFAULT_MAX_ITEMS) -> None:
        if max_bytes < 0 or max_items < 0:
            raise ValueError("max_bytes and max_items must be >= 0")
        self.max_bytes = max_bytes
        self.max_items = max_items
        self._items: OrderedDict[str, tuple[Flyer, int, bytes | None]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def put(self, flyer_id: str, flyer: Flyer, png: bytes | None = None) -> None:
        """Keep ``flyer`` (the newest); older ones leave while over budget. A flyer larger
        than the whole budget is not kept. With ``png``, the flyer's pixels are that PNG's
        (its image is not read here: ``renderer.png_canvas``)."""
        size = len(png) if png is not None else pixel_bytes(flyer)
        with self._lock:
            old = self._items.pop(flyer_id, None)
            if old is not None:
                self._bytes -= old[1]
            if size > self.max_bytes or not self.max_items:
                return
            self._items[flyer_id] = (flyer, size, png)
            self._bytes += size
            while self._bytes > self.max_bytes or len(self._items) > self.max_items:
                _, (_, dropped, _) = self._items.popitem(last=False)
                self._bytes -= dropped

    def get(self, flyer_id: str) -> Flyer | None:
        """The flyer with its pixels: one kept as PNG is decoded into a fresh image for each
        caller (~10 ms for a post; each encoding is made once and kept by the store, so this
        is rare), and stays kept as PNG (1.1 MB, not 5.8)."""
        with self._lock:
            item = self._items.get(flyer_id)
            if item is None:
                return None
            self._items.move_to_end(flyer_id)
        flyer, _, png = item
        if png is None:
            return flyer
        decoded = Image.open(io.BytesIO(png))
        decoded.load()
        return replace(flyer, image=decoded if decoded.mode == "RGB" else decoded.convert("RGB"))

    def discard(self, flyer_id: str) -> None:
        with self._lock:
            item = self._items.pop(flyer_id, None)
            if item is not None:
                self._bytes -= item[1]

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, flyer_id: object) -> bool:
        with self._lock:
            return flyer_id in self._items

    @property
    def nbytes(self) -> int:
        with self._lock:
            return self._bytes
