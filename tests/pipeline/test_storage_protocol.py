"""The FlyerStorage protocol's semantics, checked against every implementation.

A new implementation (Redis, for replicas) joins by adding one parameter to ``make_store``:
a factory ``(max_items, max_bytes, ttl_seconds) -> FlyerStorage`` that starts empty. The
semantics are spelled out in ``pipeline/storage.py``.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pipeline.errors import NotFound, StoreFull
from pipeline.models import EventDetails
from pipeline.storage import RECORD_OVERHEAD, FlyerSource, FlyerStorage, StoredFlyer
from pipeline.store import FlyerStore

Factory = Callable[[int, int, float], FlyerStorage]
T0 = 1_750_000_000.0  # seconds since the epoch: the service's clock, not the store's


def memory(max_items: int, max_bytes: int, ttl_seconds: float) -> FlyerStorage:
    return FlyerStore(max_items=max_items, max_bytes=max_bytes, ttl_seconds=ttl_seconds)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on loopback (skipped where none is installed, never in CI)."""
    from tests.local_servers import run_redis

    with run_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture(params=["memory", "redis"])
def make_store(request: pytest.FixtureRequest) -> Iterator[Factory]:
    if request.param == "memory":
        yield memory
        return
    from pipeline.store_redis import RedisFlyerStore

    url = request.getfixturevalue("redis_url")
    made: list[RedisFlyerStore] = []

    def redis_store(max_items: int, max_bytes: int, ttl_seconds: float) -> FlyerStorage:
        store = RedisFlyerStore.from_url(url, max_items=max_items, max_bytes=max_bytes,
                                         ttl_seconds=ttl_seconds,
                                         prefix="conformance-" + secrets.token_hex(6))
        made.append(store)
        return store

    yield redis_store
    for store in made:
        store.clear()
        store.close()


def flyer(store: FlyerStorage, flyer_id: str, now: float = T0, *, background: bytes = b"bg",
          title: str = "T") -> StoredFlyer:
    source = FlyerSource(
        background=background, details=EventDetails(title=title, venue="Blue Room"),
        palette=("#112233",), font_pairing="default", logo=None,
        provenance={"seed": 7, "prompt": "jazz"}, subject=b'{"v":1}',
    )
    return StoredFlyer(
        id=flyer_id, manifest={"id": flyer_id, "layout": "bottom_band", "elements": [{"a": 1}]},
        layout="bottom_band", requested_layout="auto", format="instagram_post", seed=1,
        width=1080, height=1350, source=source, created_at=now, expires_at=store.expiry(now),
    )


def test_implements_the_protocol(make_store: Factory) -> None:
    assert isinstance(make_store(3, 10**6, 60), FlyerStorage)


def test_what_is_put_is_what_is_got(make_store: Factory) -> None:
    store = make_store(3, 10**6, 60)
    original = flyer(store, "a", background=bytes(range(256)) * 40, title="Jazz Night")
    store.put([original], T0)
    got = store.get("a", T0 + 1)
    assert got == original
    assert got.source.background == original.source.background
    assert got.manifest == original.manifest and got.source.details.title == "Jazz Night"
    assert store.contains("a", T0) and not store.contains("b", T0)
    assert store.count(T0) == 1


def test_what_is_got_is_a_copy(make_store: Factory) -> None:
    store = make_store(3, 10**6, 60)
    store.put([flyer(store, "a")], T0)
    got = store.get("a", T0)
    got.manifest["elements"].append({"b": 2})
    got.source.provenance["seed"] = 8
    again = store.get("a", T0)
    assert again.manifest["elements"] == [{"a": 1}] and again.source.provenance["seed"] == 7


def test_expiry_is_now_plus_the_time_to_live(make_store: Factory) -> None:
    store = make_store(3, 10**6, 60)
    assert store.expiry(T0) == T0 + 60
    assert store.expiry(T0 + 10) == T0 + 70


def test_full_store_refuses_the_whole_batch_and_keeps_what_it_has(make_store: Factory) -> None:
    store = make_store(3, 10**6, 60)
    store.put([flyer(store, "a"), flyer(store, "b")], T0)
    with pytest.raises(StoreFull, match="try again later"):
        store.put([flyer(store, "c"), flyer(store, "d")], T0)  # all or nothing
    assert not store.contains("c", T0) and not store.contains("d", T0)
    assert store.count(T0) == 2
    assert store.get("a", T0).id == "a" and store.get("b", T0).id == "b"
    with pytest.raises(StoreFull):
        store.ensure_room(2, T0)
    store.ensure_room(1, T0)  # reserves nothing: one more still fits
    store.ensure_room(1, T0)
    store.put([flyer(store, "c")], T0)
    with pytest.raises(StoreFull):
        store.ensure_room(1, T0)


def test_byte_budget_is_enforced(make_store: Factory) -> None:
    store = make_store(100, 10_000 + 2 * RECORD_OVERHEAD, 60)
    store.put([flyer(store, "a", background=b"x" * 4000)], T0)
    with pytest.raises(StoreFull):
        store.put([flyer(store, "b", background=b"y" * 7000)], T0)
    with pytest.raises(StoreFull):
        store.ensure_room(1, T0, nbytes=7000)
    assert store.contains("a", T0) and not store.contains("b", T0)
    store.put([flyer(store, "b", background=b"y" * 5000)], T0)
    assert store.nbytes(T0) >= 9000


def test_entries_expire_by_the_time_they_are_given(make_store: Factory) -> None:
    store = make_store(1, 10**6, 60)
    store.put([flyer(store, "a")], T0)
    assert store.get("a", T0 + 59.9).id == "a"  # the store reads no clock of its own
    with pytest.raises(NotFound, match="expired"):
        store.get("a", T0 + 60)
    assert not store.contains("a", T0 + 60) and store.count(T0 + 60) == 0
    assert store.nbytes(T0 + 60) == 0
    store.put([flyer(store, "b", T0 + 61)], T0 + 61)  # its room is free again
    assert store.count(T0 + 61) == 1 and store.nbytes(T0 + 61) > 0
    assert store.get("b", T0 + 61).id == "b"


def test_unknown_id_is_not_found(make_store: Factory) -> None:
    store = make_store(1, 10**6, 60)
    with pytest.raises(NotFound, match="never existed or it has expired"):
        store.get("nope", T0)


def test_a_live_id_is_never_replaced(make_store: Factory) -> None:
    store = make_store(5, 10**6, 60)
    store.put([flyer(store, "a", title="First")], T0)
    with pytest.raises(ValueError, match="new and distinct"):
        store.put([flyer(store, "b"), flyer(store, "a", title="Second")], T0)
    with pytest.raises(ValueError, match="new and distinct"):
        store.put([flyer(store, "c"), flyer(store, "c")], T0)
    assert store.get("a", T0).source.details.title == "First"
    assert store.count(T0) == 1 and not store.contains("b", T0)


def test_an_encoding_is_produced_once_even_under_concurrency(make_store: Factory) -> None:
    store = make_store(5, 10**6, 60)
    store.put([flyer(store, "a")], T0)
    calls: list[str] = []
    started = threading.Event()

    def produce(stored: StoredFlyer) -> bytes:
        calls.append(stored.id)
        started.wait(1.0)  # hold the others at the gate until all have asked
        return b"PNG" * 100

    results: list[bytes] = []
    threads = [threading.Thread(target=lambda: results.append(
        store.encoded("a", "png", produce, T0))) for _ in range(8)]
    for t in threads:
        t.start()
    started.set()
    for t in threads:
        t.join()
    assert calls == ["a"] and results == [b"PNG" * 100] * 8
    assert store.encoded("a", "png", produce, T0 + 1) == b"PNG" * 100  # reused later too
    assert calls == ["a"]


def test_each_flyer_and_key_is_its_own_encoding(make_store: Factory) -> None:
    store = make_store(5, 10**6, 60)
    store.put([flyer(store, "a"), flyer(store, "b")], T0)

    def produce(kind: str) -> Callable[[StoredFlyer], bytes]:
        return lambda stored: f"{stored.id}:{kind}".encode()

    assert store.encoded("a", "png", produce("png"), T0) == b"a:png"
    assert store.encoded("a", "pdf", produce("pdf"), T0) == b"a:pdf"
    assert store.encoded("b", "png", produce("png"), T0) == b"b:png"
    assert store.encoded("a", "png", produce("other"), T0) == b"a:png"


def test_no_encoding_for_a_flyer_that_is_not_live(make_store: Factory) -> None:
    store = make_store(5, 10**6, 60)
    store.put([flyer(store, "a")], T0)
    calls: list[str] = []

    def produce(stored: StoredFlyer) -> bytes:
        calls.append(stored.id)
        return b"data"

    with pytest.raises(NotFound):
        store.encoded("nope", "png", produce, T0)
    with pytest.raises(NotFound):
        store.encoded("a", "png", produce, T0 + 60)
    assert calls == []


def test_a_failed_encoding_is_not_kept(make_store: Factory) -> None:
    store = make_store(5, 10**6, 60)
    store.put([flyer(store, "a")], T0)

    def broken(_: StoredFlyer) -> bytes:
        raise RuntimeError("encoder failed")

    with pytest.raises(RuntimeError, match="encoder failed"):
        store.encoded("a", "png", broken, T0)
    assert store.encoded("a", "png", lambda _: b"good", T0) == b"good"


def test_encodings_do_not_count_against_the_flyers_budget(make_store: Factory) -> None:
    store = make_store(10, 4 * (1000 + RECORD_OVERHEAD) + 100, 60)  # + the analyses
    store.put([flyer(store, "a", background=b"a" * 1000)], T0)
    before = store.nbytes(T0)
    assert store.encoded("a", "png", lambda _: b"p" * 5000, T0) == b"p" * 5000
    assert store.nbytes(T0) == before
    store.put([flyer(store, n, background=n.encode() * 1000) for n in "bcd"], T0)
    assert store.count(T0) == 4


def test_concurrent_puts_never_exceed_the_limit(make_store: Factory) -> None:
    store = make_store(10, 10**7, 60)
    refused = racing_puts(lambda n: store, lambda s, i: flyer(s, i), lambda: T0)
    assert store.count(T0) == 10 and refused == 20


def racing_puts(store_of: Callable[[int], Any], make: Callable[[Any, str], StoredFlyer],
                now: Callable[[], float]) -> int:
    """Six writers at once, each putting five flyers one by one into ``store_of(writer)``
    (one store, or one replica each); how many puts were refused as full."""
    refused: list[int] = []

    def worker(n: int) -> None:
        store = store_of(n)
        for i in range(5):
            try:
                store.put([make(store, f"{n}-{i}")], now())
            except StoreFull:
                refused.append(1)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(refused)
