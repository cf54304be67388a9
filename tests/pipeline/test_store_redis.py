"""RedisFlyerStore against a real redis-server: FlyerStore's guarantees, held across "replicas"
(several store objects with their own connections, as separate processes would have)."""

from __future__ import annotations

import io
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from PIL import Image, ImageChops

from pipeline.errors import NotFound, StoreFull, StoreUnavailable
from pipeline.models import EventDetails, FlyerRequest
from pipeline.service import FlyerService
from pipeline.settings import load_settings
from pipeline.storage import FlyerSource, StoredFlyer
from pipeline.store import FlyerStore
from pipeline.store_redis import RedisFlyerStore
from tests.local_servers import RedisServer, free_port, run_redis
from tests.pipeline.test_storage_protocol import racing_puts


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with run_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


def replica(server: RedisServer, prefix: str, **limits: float) -> RedisFlyerStore:
    """A store as one replica holds it: its own client and connection pool."""
    options = {"max_items": 3, "max_bytes": 10**6, "ttl_seconds": 60.0, **limits}
    return RedisFlyerStore.from_url(server.url, prefix=prefix, **options)  # type: ignore[arg-type]


@pytest.fixture
def prefix() -> str:
    return "test-" + secrets.token_hex(6)


def now() -> float:
    """The service's clock (tests with Redis's own expiry need real time)."""
    return time.time()


def flyer(store: RedisFlyerStore | FlyerStore, flyer_id: str, size: int = 30,
          logo: bytes | None = None) -> StoredFlyer:
    source = FlyerSource(
        background=b"p" * size, details=EventDetails(title="T", venue="Salle Pleyel"),
        palette=("#112233", "#ffeedd"), font_pairing="default", logo=logo,
        provenance={"prompt": "jazz", "seed": 7, "sizes": [1, 2]}, subject=b"\x00\x01grid",
    )
    return StoredFlyer(
        id=flyer_id, manifest={"layout": "bottom_band", "texts": []},
        layout="bottom_band", requested_layout="auto", format="instagram_post", seed=1,
        width=1080, height=1350, source=source, created_at=now(),
        expires_at=store.expiry(now()),
    )


def test_a_flyer_put_by_one_replica_is_read_whole_by_another(
    redis_server: RedisServer, prefix: str
) -> None:
    a, b = replica(redis_server, prefix), replica(redis_server, prefix)
    made = flyer(a, "x1", logo=b"\x89PNGlogo")
    a.put([made], now())
    got = b.get("x1", now())
    assert got == made  # every field, the source's bytes, palette and details included
    assert b.contains("x1", now()) and not b.contains("nope", now())
    assert b.count(now()) == 1 and b.nbytes(now()) == made.nbytes == a.nbytes(now())


def test_full_store_refuses_on_every_replica_and_keeps_what_it_has(
    redis_server: RedisServer, prefix: str
) -> None:
    a, b = replica(redis_server, prefix), replica(redis_server, prefix)
    a.put([flyer(a, "a")], now())
    b.put([flyer(b, "b")], now())
    with pytest.raises(StoreFull, match=r"full \(2 flyers kept, limit 3\).*try again later"):
        a.put([flyer(a, "c"), flyer(a, "d")], now())  # all or nothing
    assert not b.contains("c", now()) and b.count(now()) == 2
    assert a.get("b", now()).id == "b" and b.get("a", now()).id == "a"
    for store in (a, b):
        with pytest.raises(StoreFull):
            store.ensure_room(2, now())
        store.ensure_room(1, now())
    b.put([flyer(b, "c")], now())
    for store in (a, b):
        with pytest.raises(StoreFull):
            store.ensure_room(1, now())


def test_byte_budget_holds_across_replicas(redis_server: RedisServer, prefix: str) -> None:
    a = replica(redis_server, prefix, max_items=100, max_bytes=10_000)
    b = replica(redis_server, prefix, max_items=100, max_bytes=10_000)
    a.put([flyer(a, "a", size=4000)], now())
    with pytest.raises(StoreFull):
        b.put([flyer(b, "b", size=6000)], now())
    with pytest.raises(StoreFull):
        b.ensure_room(1, now(), nbytes=6000)
    assert b.contains("a", now()) and not a.contains("b", now())


def test_entries_expire_by_redis_and_free_room(redis_server: RedisServer, prefix: str) -> None:
    a = replica(redis_server, prefix, max_items=1, ttl_seconds=0.6)
    b = replica(redis_server, prefix, max_items=1, ttl_seconds=0.6)
    a.put([flyer(a, "a")], now())
    assert b.get("a", now()).id == "a"
    with pytest.raises(StoreFull):
        b.put([flyer(b, "b")], now())
    time.sleep(0.8)
    with pytest.raises(NotFound, match="expired"):
        b.get("a", now())
    assert not a.contains("a", now())
    b.put([flyer(b, "b")], now())  # the expired one no longer counts, by count or by bytes
    assert a.count(now()) == 1 and a.nbytes(now()) == b.get("b", now()).nbytes
    client = redis.Redis.from_url(redis_server.url)
    assert client.pttl(f"{prefix}:flyer:b") > 0  # Redis itself expires the data


def test_unknown_id_is_not_found(redis_server: RedisServer, prefix: str) -> None:
    store = replica(redis_server, prefix)
    with pytest.raises(NotFound, match="'nope'"):
        store.get("nope", now())
    with pytest.raises(NotFound):
        store.encoded("nope", "png", lambda _: b"never", now())


def test_downloads_are_encoded_once_across_replicas(redis_server: RedisServer,
                                                    prefix: str) -> None:
    stores = [replica(redis_server, prefix, max_items=5) for _ in range(4)]
    stores[0].put([flyer(stores[0], "a")], now())
    calls: list[int] = []
    before = stores[0].nbytes(now())

    def produce(stored: StoredFlyer) -> bytes:
        assert stored.id == "a"
        calls.append(1)
        time.sleep(0.3)  # long enough for every other replica to be waiting
        return b"PNG" * 100

    results: list[bytes] = []
    threads = [
        threading.Thread(
            target=lambda s=s: results.append(s.encoded("a", "png", produce, now())))  # type: ignore[misc]
        for s in stores for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and set(results) == {b"PNG" * 100} and len(results) == 12
    assert stores[3].nbytes(now()) == before  # encodings never count against the flyers' budget
    assert stores[2].encoded("a", "png", produce, now()) == b"PNG" * 100 and len(calls) == 1


def test_an_encoding_over_the_budget_is_returned_not_kept(redis_server: RedisServer,
                                                         prefix: str) -> None:
    a = replica(redis_server, prefix, max_encoded_bytes=3000)
    a.put([flyer(a, "a")], now())
    big = b"P" * 5000
    assert a.encoded("a", "pdf", lambda _: big, now()) == big
    assert a.encoded("a", "pdf", lambda _: b"again", now()) == b"again"  # not kept: made again
    assert a.encoded("a", "png", lambda _: b"small", now()) == b"small"
    assert a.encoded("a", "png", lambda _: b"other", now()) == b"small"  # kept


def test_encoder_that_fails_leaves_nothing_behind(redis_server: RedisServer,
                                                 prefix: str) -> None:
    a, b = replica(redis_server, prefix), replica(redis_server, prefix)
    a.put([flyer(a, "a")], now())

    def broken(_: StoredFlyer) -> bytes:
        raise RuntimeError("encoder crashed")

    with pytest.raises(RuntimeError):
        a.encoded("a", "png", broken, now())
    start = time.monotonic()
    assert b.encoded("a", "png", lambda _: b"ok", now()) == b"ok"  # the lock was released at once
    assert time.monotonic() - start < 2


def test_concurrent_puts_from_many_replicas_never_exceed_the_limit(
    redis_server: RedisServer, prefix: str
) -> None:
    stores = [replica(redis_server, prefix, max_items=10) for _ in range(6)]
    refused = racing_puts(lambda n: stores[n], lambda s, i: flyer(s, i), now)
    assert stores[0].count(now()) == 10 and refused == 20


def test_nothing_is_lost_when_a_replica_goes_away(redis_server: RedisServer,
                                                 prefix: str) -> None:
    a = replica(redis_server, prefix)
    a.put([flyer(a, "kept")], now())
    a.encoded("kept", "png", lambda _: b"encoded by a", now())
    a._redis.close()
    del a
    b = replica(redis_server, prefix)
    assert b.get("kept", now()).id == "kept"
    assert b.encoded("kept", "png", lambda _: b"made again", now()) == b"encoded by a"


def test_an_unreachable_redis_is_a_clear_503_error_without_the_password() -> None:
    url = f"redis://:s3cret-pass@127.0.0.1:{free_port()}/0"
    store = RedisFlyerStore.from_url(url, max_items=3, max_bytes=10**6, ttl_seconds=60)
    assert "s3cret" not in repr(store)
    with pytest.raises(StoreUnavailable, match="cannot be reached") as caught:
        store.ensure_room(1, now())
    assert isinstance(caught.value, StoreFull)  # every door answers 503
    assert "s3cret" not in str(caught.value) and "127.0.0.1" in str(caught.value)


def test_a_password_protected_redis(tmp_path: Path) -> None:
    with run_redis(tmp_path, password="pw-" + secrets.token_hex(8)) as server:
        wrong = RedisFlyerStore.from_url(server.url, max_items=3, max_bytes=10**6,
                                         ttl_seconds=60)
        with pytest.raises(StoreUnavailable, match="AuthenticationError"):
            wrong.count(now())


def test_service_on_redis_makes_the_same_downloads_as_in_memory(
    redis_server: RedisServer, prefix: str
) -> None:
    """Compose is pure: the flyer kept as JSON and bytes in Redis renders the same files."""
    env = {"FLYER_STORE_URL": redis_server.url, "FLYER_REDIS_PREFIX": prefix}
    on_redis = FlyerService.from_settings(load_settings(env, env_file=None))
    in_memory = FlyerService.from_settings(load_settings({}, env_file=None))
    assert isinstance(on_redis.store, RedisFlyerStore)
    assert isinstance(in_memory.store, FlyerStore)
    request = FlyerRequest(details=EventDetails(title="Jazz night", venue="Le Duc"),
                           prompt="jazz", format="instagram_post", seed=42)
    made = on_redis.generate(request)[0]
    twin = in_memory.generate(request)[0]
    assert (made.layout, made.seed, made.width) == (twin.layout, twin.seed, twin.width)
    ours = Image.open(io.BytesIO(on_redis.download(made.id, "png").data))
    theirs = Image.open(io.BytesIO(in_memory.download(twin.id, "png").data))
    assert ours.size == theirs.size
    assert ImageChops.difference(ours.convert("RGB"), theirs.convert("RGB")).getbbox() is None
    assert on_redis.download(made.id, "pdf").data.startswith(b"%PDF")
    again = FlyerService.from_settings(load_settings(env, env_file=None))  # another replica
    assert again.download(made.id, "png").data == on_redis.download(made.id, "png").data
    rerendered = again.rerender(made.id, layout="headline_top")
    assert on_redis.get(rerendered.id).layout == "headline_top"


def test_a_live_id_is_never_replaced_on_any_replica(redis_server: RedisServer,
                                                      prefix: str) -> None:
    a, b = replica(redis_server, prefix), replica(redis_server, prefix)
    first = flyer(a, "x", size=100)
    a.put([first], now())
    with pytest.raises(ValueError, match="new and distinct"):
        b.put([flyer(b, "y"), flyer(b, "x", size=300)], now())
    assert a.count(now()) == 1 and a.nbytes(now()) == first.nbytes
    assert a.get("x", now()) == first and not a.contains("y", now())
