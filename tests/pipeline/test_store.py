"""FlyerStore, the in-process store: what it adds to the protocol (tests/pipeline/
test_storage_protocol.py): equal bytes kept once, a bounded cache of encodings."""

from __future__ import annotations

import pytest

from pipeline.models import EventDetails
from pipeline.storage import RECORD_OVERHEAD, FlyerSource, StoredFlyer
from pipeline.store import FlyerStore

T0 = 1_750_000_000.0


def flyer(store: FlyerStore, flyer_id: str, background: bytes, logo: bytes | None = None,
          now: float = T0) -> StoredFlyer:
    source = FlyerSource(background=background, details=EventDetails(title="T"), palette=(),
                         font_pairing="default", logo=logo, provenance={})
    return StoredFlyer(id=flyer_id, manifest={}, layout="bottom_band", requested_layout="auto",
                       format="instagram_post", seed=1, width=1080, height=1350, source=source,
                       created_at=now, expires_at=store.expiry(now))


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        FlyerStore(max_items=0, max_bytes=1, ttl_seconds=1)
    with pytest.raises(ValueError, match="positive"):
        FlyerStore(max_items=1, max_bytes=1, ttl_seconds=1, max_encoded_bytes=-1)


def test_equal_bytes_are_kept_and_counted_once() -> None:
    """A batch's variants (and re-renders) share one background and one logo: the store keeps
    one copy, counts it once, and frees it with the last flyer that uses it."""
    store = FlyerStore(max_items=10, max_bytes=10**6, ttl_seconds=60)
    background, logo = b"b" * 50_000, b"l" * 5_000
    store.put([flyer(store, "a", bytes(background), bytes(logo)),
               flyer(store, "b", bytes(background), bytes(logo))], T0)
    assert store.nbytes(T0) == 55_000 + 2 * RECORD_OVERHEAD
    a, b = store.get("a", T0), store.get("b", T0)
    assert a.source.background is b.source.background and a.source.logo is b.source.logo
    later = flyer(store, "c", bytes(background), now=T0 + 30)  # a re-render, 30 s later
    store.put([later], T0 + 30)
    assert store.nbytes(T0 + 30) == 55_000 + 3 * RECORD_OVERHEAD
    assert store.get("c", T0 + 30).source.background is a.source.background
    # a and b expire: the logo goes, the background stays for c
    assert store.nbytes(T0 + 60) == 50_000 + RECORD_OVERHEAD
    assert store.get("c", T0 + 60).source.background == background
    assert store.nbytes(T0 + 90) == 0


def test_shared_bytes_let_more_flyers_fit() -> None:
    store = FlyerStore(max_items=10, max_bytes=60_000 + 5 * RECORD_OVERHEAD, ttl_seconds=60)
    background = b"b" * 50_000
    store.put([flyer(store, str(i), background) for i in range(5)], T0)  # 5 x 50 KB "fit"
    assert store.count(T0) == 5


def test_the_encodings_cache_is_bounded_least_recently_used_out_first() -> None:
    store = FlyerStore(max_items=10, max_bytes=10**6, ttl_seconds=60, max_encoded_bytes=2500)
    store.put([flyer(store, n, n.encode()) for n in "abc"], T0)
    made: list[str] = []

    def produce(stored: StoredFlyer) -> bytes:
        made.append(stored.id)
        return stored.id.encode() * 1000

    for n in "ab":
        store.encoded(n, "png", produce, T0)
    store.encoded("a", "png", produce, T0)  # a is now the most recently used
    store.encoded("c", "png", produce, T0)  # over budget: b goes
    assert made == ["a", "b", "c"] and store.encoded_nbytes == 2000
    store.encoded("a", "png", produce, T0)
    assert made == ["a", "b", "c"]
    assert store.encoded("b", "png", produce, T0) == b"b" * 1000  # made again, same bytes
    assert made == ["a", "b", "c", "b"] and store.encoded_nbytes <= 2500


def test_an_encoding_over_the_budget_is_returned_but_not_kept() -> None:
    store = FlyerStore(max_items=10, max_bytes=10**6, ttl_seconds=60, max_encoded_bytes=100)
    store.put([flyer(store, "a", b"a")], T0)
    assert store.encoded("a", "pdf", lambda _: b"x" * 101, T0) == b"x" * 101
    assert store.encoded_nbytes == 0
    assert store.encoded("a", "pdf", lambda _: b"y" * 101, T0) == b"y" * 101


def test_encodings_go_with_their_flyer() -> None:
    store = FlyerStore(max_items=10, max_bytes=10**6, ttl_seconds=60)
    store.put([flyer(store, "a", b"a")], T0)
    store.encoded("a", "png", lambda _: b"p" * 500, T0)
    store.put([flyer(store, "b", b"b", now=T0 + 61)], T0 + 61)  # sweeps a
    assert store.encoded_nbytes == 0

