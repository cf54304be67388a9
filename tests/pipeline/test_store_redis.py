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
from pipeline.store import FlyerSource, FlyerStore, StoredFlyer
from pipeline.store_redis import RedisFlyerStore
from tests.local_servers import RedisServer, free_port, run_redis


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


def flyer(store: RedisFlyerStore | FlyerStore, flyer_id: str, preview: bytes = b"jpeg",
          logo: bytes | None = None) -> StoredFlyer:
    source = FlyerSource(
        background=b"png" * 10, details=EventDetails(title="T", venue="Salle Pleyel"),
        palette=("#112233", "#ffeedd"), font_pairing="default", logo=logo,
        provenance={"prompt": "jazz", "seed": 7, "sizes": [1, 2]}, subject=b"\x00\x01grid",
    )
    return StoredFlyer(
        id=flyer_id, preview_jpeg=preview, manifest={"layout": "bottom_band", "texts": []},
        layout="bottom_band", requested_layout="auto", format="instagram_post", seed=1,
        width=1080, height=1350, source=source, created_at=store.now(),
        expires_at=store.expiry(),
    )


def test_a_flyer_put_by_one_replica_is_read_whole_by_another(
    redis_server: RedisServer, prefix: str
) -> None:
    a, b = replica(redis_server, prefix), replica(redis_server, prefix)
    made = flyer(a, "x1", logo=b"\x89PNGlogo")
    a.put([made])
    got = b.get("x1")
    assert got == made  # every field, the source's bytes, palette and details included
    assert "x1" in b and "nope" not in b and 3 not in b
    assert len(b) == 1 and b.nbytes == made.nbytes == a.nbytes


def test_full_store_refuses_on_every_replica_and_keeps_what_it_has(
    redis_server: RedisServer, prefix: str
) -> None:
    a, b = replica(redis_server, prefix), replica(redis_server, prefix)
    a.put([flyer(a, "a")])
    b.put([flyer(b, "b")])
    with pytest.raises(StoreFull, match=r"full \(2 flyers kept, limit 3\).*try again later"):
        a.put([flyer(a, "c"), flyer(a, "d")])  # all or nothing
    assert "c" not in b and len(b) == 2
    assert a.get("b").id == "b" and b.get("a").id == "a"
    for store in (a, b):
        with pytest.raises(StoreFull):
            store.ensure_room(2)
        store.ensure_room(1)
    b.put([flyer(b, "c")])
    for store in (a, b):
        with pytest.raises(StoreFull):
            store.ensure_room(1)


def test_byte_budget_holds_across_replicas(redis_server: RedisServer, prefix: str) -> None:
    a = replica(redis_server, prefix, max_items=100, max_bytes=10_000)
    b = replica(redis_server, prefix, max_items=100, max_bytes=10_000)
    a.put([flyer(a, "a", preview=b"x" * 4000)])
    with pytest.raises(StoreFull):
        b.put([flyer(b, "b", preview=b"x" * 6000)])
    with pytest.raises(StoreFull):
        b.ensure_room(1, nbytes=6000)
    assert "a" in b and "b" not in a


def test_entries_expire_by_redis_and_free_room(redis_server: RedisServer, prefix: str) -> None:
    a = replica(redis_server, prefix, max_items=1, ttl_seconds=0.6)
    b = replica(redis_server, prefix, max_items=1, ttl_seconds=0.6)
    a.put([flyer(a, "a")])
    assert b.get("a").id == "a"
    with pytest.raises(StoreFull):
        b.put([flyer(b, "b")])
    time.sleep(0.8)
    with pytest.raises(NotFound, match="expired"):
        b.get("a")
    assert "a" not in a
    b.put([flyer(b, "b")])  # the expired one no longer counts, by count or by bytes
    assert len(a) == 1 and a.nbytes == b.get("b").nbytes
    client = redis.Redis.from_url(redis_server.url)
    assert client.pttl(f"{prefix}:flyer:b") > 0  # Redis itself expires the data


def test_unknown_id_is_not_found(redis_server: RedisServer, prefix: str) -> None:
    store = replica(redis_server, prefix)
    with pytest.raises(NotFound, match="'nope'"):
        store.get("nope")
    with pytest.raises(NotFound):
        store.encoded("nope", "png", lambda _: b"never")


def test_downloads_are_encoded_once_across_replicas(redis_server: RedisServer,
                                                    prefix: str) -> None:
    stores = [replica(redis_server, prefix, max_items=5) for _ in range(4)]
    stores[0].put([flyer(stores[0], "a")])
    calls: list[int] = []
    before = stores[0].nbytes

    def produce(stored: StoredFlyer) -> bytes:
        assert stored.id == "a"
        calls.append(1)
        time.sleep(0.3)  # long enough for every other replica to be waiting
        return b"PNG" * 100

    results: list[bytes] = []
    threads = [
        threading.Thread(
            target=lambda s=s: results.append(s.encoded("a", "png", produce)))  # type: ignore[misc]
        for s in stores for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and set(results) == {b"PNG" * 100} and len(results) == 12
    assert stores[3].nbytes == before + 300  # kept once, counted once
    assert stores[2].encoded("a", "png", produce) == b"PNG" * 100 and len(calls) == 1


def test_an_encoding_over_the_budget_is_returned_not_kept(redis_server: RedisServer,
                                                         prefix: str) -> None:
    a = replica(redis_server, prefix, max_bytes=3000)
    a.put([flyer(a, "a")])
    big = b"P" * 5000
    assert a.encoded("a", "pdf", lambda _: big) == big
    assert a.nbytes < 3000
    assert a.encoded("a", "pdf", lambda _: b"again") == b"again"  # not kept: made again


def test_encoder_that_fails_leaves_nothing_behind(redis_server: RedisServer,
                                                 prefix: str) -> None:
    a, b = replica(redis_server, prefix), replica(redis_server, prefix)
    a.put([flyer(a, "a")])

    def broken(_: StoredFlyer) -> bytes:
        raise RuntimeError("encoder crashed")

    with pytest.raises(RuntimeError):
        a.encoded("a", "png", broken)
    start = time.monotonic()
    assert b.encoded("a", "png", lambda _: b"ok") == b"ok"  # the lock was released at once
    assert time.monotonic() - start < 2


def test_concurrent_puts_from_many_replicas_never_exceed_the_limit(
    redis_server: RedisServer, prefix: str
) -> None:
    stores = [replica(redis_server, prefix, max_items=10) for _ in range(6)]
    refused: list[int] = []

    def worker(n: int) -> None:
        store = stores[n]
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
    assert len(stores[0]) == 10 and len(refused) == 20


def test_nothing_is_lost_when_a_replica_goes_away(redis_server: RedisServer,
                                                 prefix: str) -> None:
    a = replica(redis_server, prefix)
    a.put([flyer(a, "kept")])
    a.encoded("kept", "png", lambda _: b"encoded by a")
    a._redis.close()
    del a
    b = replica(redis_server, prefix)
    assert b.get("kept").id == "kept"
    assert b.encoded("kept", "png", lambda _: b"made again") == b"encoded by a"


def test_an_unreachable_redis_is_a_clear_503_error_without_the_password() -> None:
    url = f"redis://:s3cret-pass@127.0.0.1:{free_port()}/0"
    store = RedisFlyerStore.from_url(url, max_items=3, max_bytes=10**6, ttl_seconds=60)
    assert "s3cret" not in repr(store)
    with pytest.raises(StoreUnavailable, match="cannot be reached") as caught:
        store.ensure_room(1)
    assert isinstance(caught.value, StoreFull)  # every door answers 503
    assert "s3cret" not in str(caught.value) and "127.0.0.1" in str(caught.value)


def test_a_password_protected_redis(tmp_path: Path) -> None:
    with run_redis(tmp_path, password="pw-" + secrets.token_hex(8)) as server:
        wrong = RedisFlyerStore.from_url(server.url, max_items=3, max_bytes=10**6,
                                         ttl_seconds=60)
        with pytest.raises(StoreUnavailable, match="AuthenticationError"):
            len(wrong)


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


def test_the_same_id_put_again_is_replaced_not_counted_twice(redis_server: RedisServer,
                                                            prefix: str) -> None:
    a = replica(redis_server, prefix)
    a.put([flyer(a, "x", preview=b"a" * 100)])
    again = flyer(a, "x", preview=b"b" * 300)
    a.put([again])
    assert len(a) == 1 and a.nbytes == again.nbytes
    assert a.get("x").preview_jpeg == b"b" * 300
