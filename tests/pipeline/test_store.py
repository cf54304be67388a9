"""FlyerStore: bounded by count and bytes, expiring, all-or-nothing puts, thread-safe."""

from __future__ import annotations

import threading

import pytest

from pipeline.errors import NotFound, StoreFull
from pipeline.models import EventDetails
from pipeline.store import FlyerSource, FlyerStore, StoredFlyer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def flyer(store: FlyerStore, flyer_id: str, preview: bytes = b"jpeg") -> StoredFlyer:
    source = FlyerSource(
        background=b"png", details=EventDetails(title="T"), palette=(), font_pairing="default",
        logo=None, provenance={},
    )
    return StoredFlyer(
        id=flyer_id, preview_jpeg=preview, manifest={}, layout="bottom_band",
        requested_layout="auto", format="instagram_post", seed=1, width=1080, height=1350,
        source=source, created_at=store.now(), expires_at=store.expiry(),
    )


def test_full_store_refuses_and_keeps_what_it_has() -> None:
    store = FlyerStore(max_items=3, max_bytes=10**6, ttl_seconds=60)
    store.put([flyer(store, "a"), flyer(store, "b")])
    with pytest.raises(StoreFull, match="try again later"):
        store.put([flyer(store, "c"), flyer(store, "d")])  # all or nothing
    assert "c" not in store and len(store) == 2
    assert store.get("a").id == "a" and store.get("b").id == "b"
    with pytest.raises(StoreFull):
        store.ensure_room(2)
    store.ensure_room(1)


def test_byte_budget_is_enforced() -> None:
    store = FlyerStore(max_items=100, max_bytes=10_000, ttl_seconds=60)
    store.put([flyer(store, "a", preview=b"x" * 4000)])
    with pytest.raises(StoreFull):
        store.put([flyer(store, "b", preview=b"x" * 6000)])
    assert "a" in store


def test_entries_expire_and_free_room() -> None:
    clock = Clock()
    store = FlyerStore(max_items=1, max_bytes=10**6, ttl_seconds=60, clock=clock)
    store.put([flyer(store, "a")])
    clock.now += 59
    assert store.get("a").id == "a"
    clock.now += 2
    with pytest.raises(NotFound, match="expired"):
        store.get("a")
    store.put([flyer(store, "b")])
    assert len(store) == 1 and store.nbytes > 0


def test_unknown_id_is_not_found() -> None:
    store = FlyerStore(max_items=1, max_bytes=10**6, ttl_seconds=60)
    with pytest.raises(NotFound):
        store.get("nope")


def test_downloads_are_encoded_once_even_under_concurrency() -> None:
    store = FlyerStore(max_items=5, max_bytes=10**6, ttl_seconds=60)
    store.put([flyer(store, "a")])
    calls: list[int] = []

    def produce(_: StoredFlyer) -> bytes:
        calls.append(1)
        return b"PNG" * 100

    results: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: results.append(store.encoded("a", "png", produce)))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(set(results)) == 1 and len(results) == 8


def test_concurrent_puts_never_exceed_the_limit() -> None:
    store = FlyerStore(max_items=10, max_bytes=10**7, ttl_seconds=60)
    refused: list[int] = []

    def worker(n: int) -> None:
        for i in range(5):
            try:
                store.put([flyer(store, f"{n}-{i}")])
            except StoreFull:
                refused.append(1)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store) == 10 and len(refused) == 20
