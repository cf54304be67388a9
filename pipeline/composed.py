"""Recently composed flyers, kept as pixels so that downloads encode them instead of composing
again: the pixels made at generation (or re-rendering) are the ones every encoding is made of.

Bounded by bytes, least recently used first out. A canvas is kept as its packed pixels (3 bytes
a pixel for RGB: Pillow's own image holds 4) and becomes an image again when asked for (a
copy: ~1 ms for a post, ~5 for an A4 page, against 40-120 ms to compose it); the bytes counted
are the bytes held. A miss is never an error: the service composes the flyer again from what the
store keeps (same inputs, same pixels) and puts it back. Thread-safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from PIL import Image

from .models import Flyer

__all__ = ["DEFAULT_MAX_BYTES", "ComposedCache", "pixel_bytes"]

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
"""About 15 Instagram-sized flyers (4.4 MB packed) or 2 A4 print canvases (27 MB, with bleed,
300 dpi): the flyers of the batches being delivered now (a /generate encodes its PNGs right
after composing, a user downloads soon after seeing the gallery). Older ones compose again
when downloaded. This is RSS on top of the store's encoded bytes: with 3,000 stored flyers
the studio's whole RSS is held to 600 MB (bench/bench_store.py), so this stays small."""


def pixel_bytes(flyer: Flyer) -> int:
    """What the flyer's canvas takes packed (the bytes this cache holds for it)."""
    image = flyer.image
    return image.width * image.height * len(image.getbands())


class _Packed:
    """A flyer with its canvas as packed bytes."""

    __slots__ = ("data", "format", "layout", "manifest", "mode", "size")

    def __init__(self, flyer: Flyer) -> None:
        self.data = flyer.image.tobytes()
        self.mode, self.size = flyer.image.mode, flyer.image.size
        self.manifest, self.layout, self.format = flyer.manifest, flyer.layout, flyer.format

    def flyer(self) -> Flyer:
        image = Image.frombytes(self.mode, self.size, self.data)
        return Flyer(image=image, manifest=self.manifest, layout=self.layout,
                     format=self.format)


class ComposedCache:
    """``flyer id -> Flyer``, at most ``max_bytes`` of pixels."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, tuple[_Packed, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def put(self, flyer_id: str, flyer: Flyer) -> None:
        """Keep ``flyer`` (the newest); older ones leave while over budget. A flyer larger
        than the whole budget is not kept."""
        size = pixel_bytes(flyer)
        packed = _Packed(flyer) if size <= self.max_bytes else None  # outside the lock
        with self._lock:
            old = self._items.pop(flyer_id, None)
            if old is not None:
                self._bytes -= old[1]
            if packed is None:
                return
            self._items[flyer_id] = (packed, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped

    def get(self, flyer_id: str) -> Flyer | None:
        """The flyer (its canvas a fresh image: callers may draw on it), or None."""
        with self._lock:
            item = self._items.get(flyer_id)
            if item is None:
                return None
            self._items.move_to_end(flyer_id)
        return item[0].flyer()  # unpacked outside the lock

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
