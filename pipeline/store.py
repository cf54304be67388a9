"""FlyerStore: the in-process :class:`~pipeline.storage.FlyerStorage` (the default).

Bounded by count (``MAX_IN_MEMORY``) and by bytes, entries expire after a time to live, and it
is safe to share between threads. Entries hold *encoded* data only (the background as a
high-quality JPEG at its painted size or the uploaded file, the logo file, the subject
analysis), never raw pixels; equal byte strings (one background under a batch's variants and
their re-renders, one logo) are kept once and counted once, and the manifest and provenance are
kept as compressed JSON (``get`` unpacks them: ~0.1 ms). Previews and downloads live in a
separate, bounded cache of encodings (least recently used out first).

When the store is full of live entries a new batch is refused whole with :class:`StoreFull`;
nothing already stored is evicted or touched. The store never reads a clock: the service
passes ``now`` (see ``pipeline.storage``).
"""

from __future__ import annotations

import json
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import NotFound, StoreFull
from .storage import RECORD_OVERHEAD, FlyerSource, FlyerStorage, StoredFlyer

__all__ = ["ENCODED_BUDGET", "FlyerSource", "FlyerStorage", "FlyerStore", "StoredFlyer"]

ENCODED_BUDGET = 32 * 1024 * 1024
"""Default byte budget of the encodings cache (previews, PNG/PDF downloads)."""


def _pack(data: object) -> bytes:
    """JSON-ready data as compact bytes (a manifest: ~26 KB of Python objects, ~2 KB packed)."""
    return zlib.compress(json.dumps(data, separators=(",", ":")).encode("utf-8"), 1)


def _unpack(data: bytes) -> Any:
    return json.loads(zlib.decompress(data))


@dataclass(frozen=True)
class _Kept:
    """A stored flyer as this store keeps it: its manifest and provenance packed, its byte
    strings shared with other flyers; ``flyer`` holds empty dicts in their place."""

    flyer: StoredFlyer
    manifest: bytes
    provenance: bytes

    def unpacked(self) -> StoredFlyer:
        source = replace(self.flyer.source, provenance=_unpack(self.provenance))
        return replace(self.flyer, manifest=_unpack(self.manifest), source=source)


@dataclass
class _Blob:
    data: bytes
    refs: int = 0


@dataclass
class _Gate:
    """One (flyer, encoding) being produced: later callers wait on ``lock`` and reuse ``data``."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0
    data: bytes | None = None


def not_found(flyer_id: str) -> NotFound:
    return NotFound(
        f"No flyer with id {flyer_id!r}: it never existed or it has expired. Generate it again."
    )


class FlyerStore:
    """Thread-safe, bounded, expiring store of flyers keyed by id, in this process."""

    def __init__(
        self,
        max_items: int,
        max_bytes: int,
        ttl_seconds: float,
        max_encoded_bytes: int = ENCODED_BUDGET,
    ) -> None:
        if max_items <= 0 or max_bytes <= 0 or ttl_seconds <= 0 or max_encoded_bytes < 0:
            raise ValueError("store limits must be positive")
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.ttl_seconds = ttl_seconds
        self.max_encoded_bytes = max_encoded_bytes
        self._entries: dict[str, _Kept] = {}
        self._blobs: dict[bytes, _Blob] = {}
        self._bytes = 0
        self._encoded: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._encoded_bytes = 0
        self._gates: dict[tuple[str, str], _Gate] = {}
        self._lock = threading.Lock()

    # -- bookkeeping (call with the lock held) ------------------------------------------------
    def _sweep(self, now: float) -> None:
        dead = {key for key, kept in self._entries.items() if not kept.flyer.live(now)}
        if not dead:
            return
        for key in dead:
            flyer = self._entries.pop(key).flyer
            self._bytes -= RECORD_OVERHEAD
            for blob in flyer.source.blobs:
                kept = self._blobs[blob]
                kept.refs -= 1
                if kept.refs == 0:
                    del self._blobs[blob]
                    self._bytes -= len(blob)
        for slot in [slot for slot in self._encoded if slot[0] in dead]:
            self._encoded_bytes -= len(self._encoded.pop(slot))

    def _refuse(self, count: int, nbytes: int) -> None:
        if len(self._entries) + count > self.max_items or self._bytes + nbytes > self.max_bytes:
            raise StoreFull(
                f"The studio is full ({len(self._entries)} flyers kept, limit "
                f"{self.max_items}): service unavailable, try again later when older flyers "
                "have expired."
            )

    def _live(self, flyer_id: str, now: float) -> _Kept:
        kept = self._entries.get(flyer_id)
        if kept is None or not kept.flyer.live(now):
            raise not_found(flyer_id)
        return kept

    def _keep(self, slot: tuple[str, str], data: bytes) -> None:
        if slot[0] not in self._entries or len(data) > self.max_encoded_bytes:
            return
        old = self._encoded.pop(slot, None)
        if old is not None:
            self._encoded_bytes -= len(old)
        while self._encoded and self._encoded_bytes + len(data) > self.max_encoded_bytes:
            self._encoded_bytes -= len(self._encoded.popitem(last=False)[1])
        self._encoded[slot] = data
        self._encoded_bytes += len(data)

    # -- the protocol -------------------------------------------------------------------------
    def expiry(self, now: float) -> float:
        return now + self.ttl_seconds

    def ensure_room(self, count: int, now: float, nbytes: int = 0) -> None:
        with self._lock:
            self._sweep(now)
            self._refuse(count, nbytes + count * RECORD_OVERHEAD)

    def put(self, flyers: Sequence[StoredFlyer], now: float) -> None:
        packed = [(_pack(f.manifest), _pack(f.source.provenance)) for f in flyers]
        with self._lock:
            self._sweep(now)
            ids = [flyer.id for flyer in flyers]
            taken = [i for i in ids if i in self._entries]
            if taken or len(set(ids)) != len(ids):
                raise ValueError(f"flyer ids must be new and distinct: {taken or ids}")
            fresh: dict[bytes, bytes] = {}
            for flyer in flyers:
                for blob in flyer.source.blobs:
                    if blob not in self._blobs:
                        fresh.setdefault(blob, blob)
            self._refuse(len(flyers), sum(map(len, fresh)) + RECORD_OVERHEAD * len(flyers))
            for flyer, (manifest, provenance) in zip(flyers, packed, strict=True):
                source = replace(self._interned(flyer.source), provenance={})
                self._entries[flyer.id] = _Kept(replace(flyer, manifest={}, source=source),
                                                manifest, provenance)
            self._bytes += sum(map(len, fresh)) + RECORD_OVERHEAD * len(flyers)

    def _interned(self, source: FlyerSource) -> FlyerSource:
        """``source`` holding the store's copy of each byte string (counted once)."""

        def intern(data: bytes | None) -> bytes | None:
            if not data:
                return data
            kept = self._blobs.get(data)
            if kept is None:
                kept = self._blobs[data] = _Blob(data)
            kept.refs += 1
            return kept.data

        background = intern(source.background)
        return replace(source, background=background if background is not None else b"",
                       logo=intern(source.logo), subject=intern(source.subject))

    def get(self, flyer_id: str, now: float) -> StoredFlyer:
        with self._lock:
            kept = self._live(flyer_id, now)
        return kept.unpacked()

    def encoded(self, flyer_id: str, key: str, produce: Callable[[StoredFlyer], bytes],
                now: float) -> bytes:
        slot = (flyer_id, key)
        with self._lock:
            kept = self._live(flyer_id, now)
            cached = self._encoded.get(slot)
            if cached is not None:
                self._encoded.move_to_end(slot)
                return cached
            gate = self._gates.setdefault(slot, _Gate())
            gate.users += 1
        try:
            with gate.lock:  # one producer per (flyer, key); the others wait and reuse
                if gate.data is None:
                    gate.data = produce(kept.unpacked())
                    with self._lock:
                        self._keep(slot, gate.data)
                return gate.data
        finally:
            with self._lock:
                gate.users -= 1
                if gate.users == 0:
                    del self._gates[slot]

    def count(self, now: float) -> int:
        with self._lock:
            self._sweep(now)
            return len(self._entries)

    def contains(self, flyer_id: str, now: float) -> bool:
        with self._lock:
            kept = self._entries.get(flyer_id)
            return kept is not None and kept.flyer.live(now)

    def nbytes(self, now: float) -> int:
        with self._lock:
            self._sweep(now)
            return self._bytes

    @property
    def encoded_nbytes(self) -> int:
        """Bytes in the encodings cache (at most ``max_encoded_bytes``)."""
        with self._lock:
            return self._encoded_bytes
