"""The store protocol: where flyers live between generation and download.

:class:`FlyerStorage` is the small interface the service talks to; ``pipeline.store.FlyerStore``
is the in-process implementation (the default), and a shared one (Redis, for replicas) is one
more implementation of the same protocol. ``tests/pipeline/test_storage_protocol.py`` checks the
semantics below against every implementation; a new one joins by adding a fixture parameter.

Semantics every implementation keeps:

Time
    The store never reads a clock. Every call whose answer depends on time takes ``now``: seconds
    since the epoch from the service's clock (``FlyerService.now``). A flyer is *live* while
    ``now < flyer.expires_at``; ``expiry(now)`` gives the ``expires_at`` of a flyer stored at
    ``now`` (``now`` plus the store's time to live). Expired flyers are invisible (``get``
    raises :class:`NotFound`) and their room is free again. A store shared by several processes
    needs their clocks in step (NTP).

Bounded, refused when full, all or nothing
    At most ``max_items`` live flyers holding at most ``max_bytes`` (their ``nbytes``).
    ``ensure_room(count, now)`` raises :class:`StoreFull` when ``count`` more flyers would not
    fit now: the service calls it *before painting*, so a full studio refuses at once instead
    of after a minute of Stable Diffusion. It reserves nothing; ``put`` checks again.
    ``put(flyers, now)`` stores every flyer or none: when they do not all fit it raises
    ``StoreFull`` and nothing changes. Nothing already stored is ever evicted, replaced or
    changed to make room: putting an id that is live raises ``ValueError`` and stores nothing.
    ``get`` gives a copy: changing the flyer (its manifest) changes nothing stored.

Encode once
    ``encoded(flyer_id, key, produce, now)`` returns a derived encoding of a live flyer (a
    download such as ``"png"`` or ``"pdf+marks"``, the ``"preview"`` JPEG): the first call
    runs ``produce(flyer)``; concurrent callers for the same ``(flyer_id, key)`` in one process
    wait for it and get the same bytes instead of encoding again. Encodings are a cache with
    its own byte budget (least recently used first out): they never count against
    ``max_bytes`` and never push a flyer out, and when one has been dropped the next call
    produces it again (from the same flyer, so the same bytes). ``produce`` is not called for a
    flyer that is not live (:class:`NotFound`).

Duplicate bytes
    Flyers of one batch or re-renders of one flyer share their background, logo and analysis.
    An implementation may keep such bytes once; ``nbytes`` then counts them once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from .models import EventDetails

__all__ = ["RECORD_OVERHEAD", "FlyerSource", "FlyerStorage", "StoredFlyer"]

RECORD_OVERHEAD = 2048
"""Bytes a stored flyer is counted for besides its blobs (manifest, ids, bookkeeping)."""


@dataclass(frozen=True)
class FlyerSource:
    """What it takes to compose the flyer again: no second Stable Diffusion call."""

    background: bytes
    """The background, encoded: a painted one at its painted size (JPEG q93, 4:4:4),
    an uploaded one as the user's file. Generation composes from these bytes decoded, so
    re-renders and downloads give the pixels generation gave."""
    details: EventDetails
    palette: tuple[str, ...]
    font_pairing: str
    logo: bytes | None
    provenance: dict[str, Any]
    subject: bytes | None = None
    """What the background shows (``Subject.encode()``: saliency grid and boxes, a few KB),
    analysed once when the flyer was made and reused by every re-render."""

    @property
    def blobs(self) -> tuple[bytes, ...]:
        """The byte strings this source holds (a store may keep equal ones once)."""
        return tuple(b for b in (self.background, self.logo, self.subject) if b)

    @property
    def nbytes(self) -> int:
        return sum(len(b) for b in self.blobs)


@dataclass(frozen=True)
class StoredFlyer:
    """One stored flyer: what it is (ids, layout, format, manifest) and its source. Its
    encodings (preview, downloads) are not part of it: see ``FlyerStorage.encoded``."""

    id: str
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
        return self.source.nbytes + RECORD_OVERHEAD

    def live(self, now: float) -> bool:
        return now < self.expires_at


@runtime_checkable
class FlyerStorage(Protocol):
    """Bounded, expiring, thread-safe storage of flyers keyed by id (semantics: module doc)."""

    def expiry(self, now: float) -> float:
        """``expires_at`` for a flyer stored at ``now``."""
        ...

    def ensure_room(self, count: int, now: float, nbytes: int = 0) -> None:
        """Raise StoreFull if ``count`` more flyers (``nbytes`` more bytes) cannot be stored
        now. Reserves nothing."""
        ...

    def put(self, flyers: Sequence[StoredFlyer], now: float) -> None:
        """Store all of ``flyers`` or none (StoreFull; ValueError for an id already live)."""
        ...

    def get(self, flyer_id: str, now: float) -> StoredFlyer:
        """The live flyer ``flyer_id``, or NotFound."""
        ...

    def encoded(self, flyer_id: str, key: str, produce: Callable[[StoredFlyer], bytes],
                now: float) -> bytes:
        """The encoding ``key`` of a live flyer: produced once, then reused while cached."""
        ...

    def count(self, now: float) -> int:
        """Live flyers."""
        ...

    def contains(self, flyer_id: str, now: float) -> bool:
        """Whether ``flyer_id`` is live."""
        ...

    def nbytes(self, now: float) -> int:
        """Bytes held by live flyers (encodings not counted)."""
        ...
