"""FlyerStore: the one place flyers live between generation and download.

Bounded by count (``MAX_IN_MEMORY``) and by bytes, entries expire after a time to live, and it is
safe to share between threads. Entries hold *encoded* data only (a JPEG preview, the background
as PNG or the uploaded file, downloads encoded once on first request), never raw pixels.

When the store is full of live entries a new batch is refused whole with :class:`StoreFull`;
nothing already stored is evicted or touched.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import NotFound, StoreFull
from .models import EventDetails

__all__ = ["FlyerSource", "FlyerStore", "StoredFlyer"]


@dataclass(frozen=True)
class FlyerSource:
    """What it takes to compose the flyer again: no second Stable Diffusion call."""

    background: bytes
    """The background, encoded (PNG for generated ones, the uploaded file otherwise)."""
    details: EventDetails
    palette: tuple[str, ...]
    font_pairing: str
    logo: bytes | None
    provenance: dict[str, Any]
    subject: bytes | None = None
    """What the background shows (``Subject.encode()``: saliency grid and boxes, a few KB),
    analysed once when the flyer was made and reused by every re-render."""

    @property
    def nbytes(self) -> int:
        return len(self.background) + len(self.logo or b"") + len(self.subject or b"")


@dataclass(frozen=True)
class StoredFlyer:
    id: str
    preview_jpeg: bytes
    manifest: dict[str, Any]
    layout: str
    """The layout the flyer was composed with (never 'auto': the one auto picked)."""
    requested_layout: str
    format: str
    seed: int
    width: int
    height: int
    source: FlyerSource = field(repr=False)
    created_at: float = 0.0
    expires_at: float = 0.0

    @property
    def nbytes(self) -> int:
        return len(self.preview_jpeg) + self.source.nbytes + 2048


@dataclass
class _Entry:
    flyer: StoredFlyer
    encoded: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def nbytes(self) -> int:
        return self.flyer.nbytes + sum(len(v) for v in self.encoded.values())


class FlyerStore:
    """Thread-safe, bounded, expiring store of flyers keyed by id."""

    def __init__(
        self,
        max_items: int,
        max_bytes: int,
        ttl_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_items <= 0 or max_bytes <= 0 or ttl_seconds <= 0:
            raise ValueError("store limits must be positive")
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    # -- bookkeeping ------------------------------------------------------------------------
    def now(self) -> float:
        return self._clock()

    def expiry(self) -> float:
        """The expiry time for an entry created now."""
        return self._clock() + self.ttl_seconds

    def _sweep_locked(self) -> int:
        now = self._clock()
        dead = [key for key, e in self._entries.items() if e.flyer.expires_at <= now]
        for key in dead:
            self._bytes -= self._entries.pop(key).nbytes
        return len(dead)

    def _full_message(self) -> str:
        return (
            f"The studio is full ({len(self._entries)} flyers kept, limit {self.max_items}): "
            "service unavailable, try again later when older flyers have expired."
        )

    def ensure_room(self, count: int, nbytes: int = 0) -> None:
        """Raise StoreFull now if ``count`` more flyers cannot fit (checked again on put)."""
        with self._lock:
            self._sweep_locked()
            if len(self._entries) + count > self.max_items or self._bytes + nbytes > self.max_bytes:
                raise StoreFull(self._full_message())

    # -- the API ----------------------------------------------------------------------------
    def put(self, flyers: Sequence[StoredFlyer]) -> None:
        """Store all of ``flyers`` or none of them."""
        entries = [_Entry(f) for f in flyers]
        size = sum(e.nbytes for e in entries)
        with self._lock:
            self._sweep_locked()
            if len(self._entries) + len(entries) > self.max_items or (
                self._bytes + size > self.max_bytes
            ):
                raise StoreFull(self._full_message())
            for entry in entries:
                self._entries[entry.flyer.id] = entry
            self._bytes += size

    def _entry(self, flyer_id: str) -> _Entry:
        with self._lock:
            entry = self._entries.get(flyer_id)
            if entry is None or entry.flyer.expires_at <= self._clock():
                raise NotFound(
                    f"No flyer with id {flyer_id!r}: it never existed or it has expired. "
                    "Generate it again."
                )
            return entry

    def get(self, flyer_id: str) -> StoredFlyer:
        return self._entry(flyer_id).flyer

    def encoded(self, flyer_id: str, key: str, produce: Callable[[StoredFlyer], bytes]) -> bytes:
        """The download ``key`` of a flyer, produced on first request and kept (encode once).

        If keeping it would overflow the byte budget it is returned without being kept.
        """
        entry = self._entry(flyer_id)
        with entry.lock:  # one encoder per entry; others wait and reuse its bytes
            cached = entry.encoded.get(key)
            if cached is not None:
                return cached
            data = produce(entry.flyer)
            with self._lock:
                if flyer_id in self._entries and self._bytes + len(data) <= self.max_bytes:
                    entry.encoded[key] = data
                    self._bytes += len(data)
            return data

    def __len__(self) -> int:
        with self._lock:
            self._sweep_locked()
            return len(self._entries)

    def __contains__(self, flyer_id: object) -> bool:
        if not isinstance(flyer_id, str):
            return False
        try:
            self._entry(flyer_id)
        except NotFound:
            return False
        return True

    @property
    def nbytes(self) -> int:
        with self._lock:
            return self._bytes
