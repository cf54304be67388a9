"""RedisFlyerStore: the flyer store shared by every studio replica (``FLYER_STORE_URL=redis://``).

One implementation of :class:`pipeline.storage.FlyerStorage` (the semantics are spelled out
there and checked by ``tests/pipeline/test_storage_protocol.py``), kept in one Redis so that a
flyer made on one replica is served by any other and survives the replica:

- **Bounded across replicas** by count (``MAX_IN_MEMORY``) and bytes. The accounting is an
  index (sorted set: id -> expiry time), a size per id (hash) and a byte total (counter), and
  every check-and-change runs as one Lua script, so two replicas cannot both take the last
  place. A batch that does not fit is refused whole with :class:`StoreFull`; nothing stored is
  touched.
- **Expiry**: the store never reads a clock; every call takes ``now`` from the service. Each
  flyer is one hash that Redis deletes ``expires_at - now`` seconds after it is stored
  (``PEXPIRE``), and the scripts sweep expired ids out of the accounting against the ``now``
  they are given; a flyer whose ``expires_at`` has passed is not found even before Redis has
  deleted it. Replicas' clocks must be in step (NTP), as the protocol says.
- **Encoded once across replicas**: a download or preview is produced under a Redis lock per
  ``(id, kind)`` (redis-py's :class:`redis.lock.Lock`); the replica holding it encodes and keeps
  the bytes in the flyer's hash (so they expire with it), the others wait and reuse them. A
  replica that dies while encoding leaves a lock that expires after ``lock_timeout`` seconds.
  Encodings have their own byte budget (``max_encoded_bytes``) and never count against the
  flyers' one; one that would overflow it is returned without being kept.

What is kept is plain data: the flyer's fields as JSON and its encoded images as bytes (no
pickle: a shared Redis must not be able to run code in the studio). Redis must not evict keys
on its own (``maxmemory-policy noeviction``, its default): the store keeps the bound itself.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from typing import Any
from urllib.parse import urlsplit

import redis
from redis.exceptions import LockError

from .errors import NotFound, StoreFull, StoreUnavailable
from .models import EventDetails
from .storage import RECORD_OVERHEAD, FlyerSource, StoredFlyer

__all__ = ["DEFAULT_PREFIX", "RedisFlyerStore", "redis_client", "redis_location"]

DEFAULT_PREFIX = "flyer-studio"
"""Start of every key the studio writes (FLYER_REDIS_PREFIX): several studios can share one
Redis with different prefixes."""

DEFAULT_ENCODED_BYTES = 256 * 1024 * 1024
"""Encodings (previews, downloads) kept across replicas at most: a cache beside the flyers."""

_FIELDS = (b"meta", b"background", b"logo", b"subject")
_ENCODED = "enc:"

# Drops expired ids from the accounting. KEYS[1] index, KEYS[2] sizes, KEYS[3] byte total,
# KEYS[4] encodings' sizes, KEYS[5] encodings' byte total; the last ARGV is the service's now.
_SWEEP = """
local function now_s() return tonumber(ARGV[#ARGV]) end
local function sweep(now)
  local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
  for _, id in ipairs(dead) do
    local size = tonumber(redis.call('HGET', KEYS[2], id) or '0')
    redis.call('DECRBY', KEYS[3], size)
    redis.call('HDEL', KEYS[2], id)
    local enc = tonumber(redis.call('HGET', KEYS[4], id) or '0')
    redis.call('DECRBY', KEYS[5], enc)
    redis.call('HDEL', KEYS[4], id)
  end
  if #dead > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now) end
end
local function total() return tonumber(redis.call('GET', KEYS[3]) or '0') end
local function encoded_total() return tonumber(redis.call('GET', KEYS[5]) or '0') end
"""
_ACCOUNTS = 5

# ARGV: count, nbytes, max_items, max_bytes -> {fits (0/1), kept count}
_ENSURE_ROOM = _SWEEP + """
sweep(now_s())
local kept = redis.call('ZCARD', KEYS[1])
local bytes = total() + tonumber(ARGV[2])
if kept + tonumber(ARGV[1]) > tonumber(ARGV[3]) or bytes > tonumber(ARGV[4]) then
  return {0, kept}
end
return {1, kept}
"""

# KEYS[6..]: each flyer's hash. ARGV: max_items, max_bytes, then per flyer
# id, size, expires_at, ttl_ms, meta, background, logo, subject; now
# -> {1 stored | 0 full | -1 an id is live already, kept count}
_PUT = _SWEEP + """
sweep(now_s())
local n = #KEYS - 5
local size = 0
for i = 1, n do
  local a = 2 + (i - 1) * 8
  if redis.call('ZSCORE', KEYS[1], ARGV[a + 1]) then return {-1, redis.call('ZCARD', KEYS[1])} end
  size = size + tonumber(ARGV[a + 2])
end
local kept = redis.call('ZCARD', KEYS[1])
if kept + n > tonumber(ARGV[1]) or total() + size > tonumber(ARGV[2]) then
  return {0, kept}
end
for i = 1, n do
  local a = 2 + (i - 1) * 8
  local key, id, bytes = KEYS[5 + i], ARGV[a + 1], tonumber(ARGV[a + 2])
  redis.call('DEL', key)
  redis.call('HSET', key, 'meta', ARGV[a + 5], 'background', ARGV[a + 6], 'logo', ARGV[a + 7],
             'subject', ARGV[a + 8])
  redis.call('PEXPIRE', key, math.max(1, math.floor(tonumber(ARGV[a + 4]))))
  redis.call('ZADD', KEYS[1], ARGV[a + 3], id)
  redis.call('HSET', KEYS[2], id, bytes)
  redis.call('INCRBY', KEYS[3], bytes)
end
return {1, kept + n}
"""

# KEYS[6]: the flyer's hash. ARGV: id, field, data, max_encoded_bytes, now -> 1 when kept
_KEEP_ENCODED = _SWEEP + """
sweep(now_s())
if redis.call('EXISTS', KEYS[6]) == 0 or not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end
if redis.call('HEXISTS', KEYS[6], ARGV[2]) == 1 then return 0 end
local size = string.len(ARGV[3])
if encoded_total() + size > tonumber(ARGV[4]) then return 0 end
redis.call('HSET', KEYS[6], ARGV[2], ARGV[3])
redis.call('HINCRBY', KEYS[4], ARGV[1], size)
redis.call('INCRBY', KEYS[5], size)
return 1
"""

# ARGV: now -> {kept count, bytes}
_COUNT = _SWEEP + """
sweep(now_s())
return {redis.call('ZCARD', KEYS[1]), total()}
"""


def redis_location(url: str) -> str:
    """``url`` without credentials, for messages and logs: ``redis://host:port/db``."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def redis_client(url: str, timeout_s: float = 5.0) -> redis.Redis:
    """A client for ``url`` (``redis://``, ``rediss://`` or ``unix://``) that answers bytes.

    Connecting is lazy: a Redis that is down shows up on first use as
    :class:`StoreUnavailable` (the store) or a logged refusal (the throttle).
    """
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        health_check_interval=30,
        retry_on_timeout=True,
    )


def _meta(flyer: StoredFlyer) -> bytes:
    source = flyer.source
    return json.dumps(
        {
            "id": flyer.id,
            "manifest": flyer.manifest,
            "layout": flyer.layout,
            "requested_layout": flyer.requested_layout,
            "format": flyer.format,
            "seed": flyer.seed,
            "width": flyer.width,
            "height": flyer.height,
            "created_at": flyer.created_at,
            "expires_at": flyer.expires_at,
            "details": asdict(source.details),
            "palette": list(source.palette),
            "font_pairing": source.font_pairing,
            "provenance": source.provenance,
            "has_logo": source.logo is not None,
            "has_subject": source.subject is not None,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")


def _flyer(values: list[bytes | None]) -> StoredFlyer:
    meta_raw, background, logo, subject = values
    assert meta_raw is not None
    meta: dict[str, Any] = json.loads(meta_raw)
    source = FlyerSource(
        background=background or b"",
        details=EventDetails(**meta["details"]),
        palette=tuple(meta["palette"]),
        font_pairing=meta["font_pairing"],
        logo=logo if meta["has_logo"] else None,
        provenance=meta["provenance"],
        subject=subject if meta["has_subject"] else None,
    )
    return StoredFlyer(
        id=meta["id"],
        manifest=meta["manifest"],
        layout=meta["layout"],
        requested_layout=meta["requested_layout"],
        format=meta["format"],
        seed=int(meta["seed"]),
        width=int(meta["width"]),
        height=int(meta["height"]),
        source=source,
        created_at=float(meta["created_at"]),
        expires_at=float(meta["expires_at"]),
    )


class RedisFlyerStore:
    """Bounded, expiring store of flyers keyed by id, shared through Redis; thread-safe (the
    client's connection pool) and safe across processes and machines (Lua scripts, locks)."""

    def __init__(
        self,
        client: redis.Redis,
        max_items: int,
        max_bytes: int,
        ttl_seconds: float,
        prefix: str = DEFAULT_PREFIX,
        lock_timeout: float = 30.0,
        location: str = "redis",
        max_encoded_bytes: int = DEFAULT_ENCODED_BYTES,
    ) -> None:
        if min(max_items, max_bytes, ttl_seconds, lock_timeout, max_encoded_bytes) <= 0:
            raise ValueError("store limits must be positive")
        if not prefix or any(c.isspace() for c in prefix):
            raise ValueError("the key prefix must be non-empty and without spaces")
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.max_encoded_bytes = max_encoded_bytes
        self.ttl_seconds = ttl_seconds
        self.prefix = prefix
        self.lock_timeout = lock_timeout
        self.location = location
        self._redis = client
        self._accounts = [f"{prefix}:index", f"{prefix}:sizes", f"{prefix}:bytes",
                          f"{prefix}:encoded-sizes", f"{prefix}:encoded-bytes"]
        assert len(self._accounts) == _ACCOUNTS
        self._ensure_room = client.register_script(_ENSURE_ROOM)
        self._put = client.register_script(_PUT)
        self._keep = client.register_script(_KEEP_ENCODED)
        self._count = client.register_script(_COUNT)

    @classmethod
    def from_url(
        cls, url: str, max_items: int, max_bytes: int, ttl_seconds: float,
        prefix: str = DEFAULT_PREFIX, max_encoded_bytes: int = DEFAULT_ENCODED_BYTES,
    ) -> RedisFlyerStore:
        return cls(redis_client(url), max_items, max_bytes, ttl_seconds, prefix,
                   location=redis_location(url), max_encoded_bytes=max_encoded_bytes)

    def __repr__(self) -> str:
        return (f"RedisFlyerStore({self.location}, prefix={self.prefix!r}, "
                f"max_items={self.max_items}, max_bytes={self.max_bytes})")

    def close(self) -> None:
        """Close the client's connections (the studio's lifespan calls it at shutdown)."""
        with contextlib.suppress(redis.RedisError):
            self._redis.close()

    def _key(self, flyer_id: str) -> str:
        return f"{self.prefix}:flyer:{flyer_id}"

    @contextlib.contextmanager
    def _talking(self) -> Iterator[None]:
        """Redis's errors as the pipeline's: the store cannot be reached, try again later."""
        try:
            yield
        except redis.RedisError as exc:
            raise StoreUnavailable(
                f"The flyer store ({self.location}) cannot be reached "
                f"({type(exc).__name__}): service unavailable, try again in a moment."
            ) from exc

    def _full_message(self, kept: int) -> str:
        return (
            f"The studio is full ({kept} flyers kept, limit {self.max_items}): "
            "service unavailable, try again later when older flyers have expired."
        )

    # -- the protocol -----------------------------------------------------------------------
    def expiry(self, now: float) -> float:
        """``expires_at`` for a flyer stored at ``now``."""
        return now + self.ttl_seconds

    def ensure_room(self, count: int, now: float, nbytes: int = 0) -> None:
        """Raise StoreFull now if ``count`` more flyers cannot fit (checked again on put)."""
        with self._talking():
            fits, kept = self._ensure_room(
                keys=self._accounts,
                args=[count, nbytes + count * RECORD_OVERHEAD, self.max_items, self.max_bytes,
                      repr(now)])
        if not fits:
            raise StoreFull(self._full_message(int(kept)))

    def put(self, flyers: Sequence[StoredFlyer], now: float) -> None:
        """Store all of ``flyers`` or none of them (one script: atomic across replicas)."""
        if not flyers:
            return
        if len({f.id for f in flyers}) != len(flyers):
            raise ValueError("flyer ids must be new and distinct: a batch names one twice")
        args: list[Any] = [self.max_items, self.max_bytes]
        for flyer in flyers:
            source = flyer.source
            ttl_ms = (flyer.expires_at - now) * 1000
            args += [flyer.id, flyer.nbytes, repr(flyer.expires_at), repr(ttl_ms),
                     _meta(flyer), source.background, source.logo or b"",
                     source.subject or b""]
        args.append(repr(now))
        keys = self._accounts + [self._key(f.id) for f in flyers]
        with self._talking():
            stored, kept = self._put(keys=keys, args=args)
        if int(stored) < 0:
            raise ValueError("flyer ids must be new and distinct: one is stored already")
        if not int(stored):
            raise StoreFull(self._full_message(int(kept)))

    def _not_found(self, flyer_id: str) -> NotFound:
        return NotFound(
            f"No flyer with id {flyer_id!r}: it never existed or it has expired. "
            "Generate it again."
        )

    def get(self, flyer_id: str, now: float) -> StoredFlyer:
        with self._talking():
            values: list[Any] = self._redis.hmget(self._key(flyer_id), _FIELDS)
        if values[0] is None:
            raise self._not_found(flyer_id)
        flyer = _flyer(values)
        if not flyer.live(now):
            raise self._not_found(flyer_id)
        return flyer

    def encoded(self, flyer_id: str, key: str, produce: Callable[[StoredFlyer], bytes],
                now: float) -> bytes:
        """The encoding ``key`` of a live flyer, produced on first request and kept (encode
        once, whichever replica asks first; the others wait for its lock and reuse the bytes).
        One that would overflow the encodings' budget is returned without being kept."""
        field = _ENCODED + key
        flyer = self.get(flyer_id, now)  # NotFound before waiting for anyone
        with self._talking():
            cached: Any = self._redis.hget(self._key(flyer_id), field)
        if cached is not None:
            return bytes(cached)
        lock = self._redis.lock(
            f"{self.prefix}:encoding:{flyer_id}:{key}",
            timeout=self.lock_timeout,
            sleep=0.02,
            blocking_timeout=self.lock_timeout + 5,
        )
        with self._talking():
            held = lock.acquire()
        try:
            with self._talking():
                cached = self._redis.hget(self._key(flyer_id), field)
            if cached is not None:
                return bytes(cached)
            data = produce(flyer)
            with self._talking():
                self._keep(keys=[*self._accounts, self._key(flyer_id)],
                           args=[flyer_id, field, data, self.max_encoded_bytes, repr(now)])
            return data
        finally:
            if held:
                with contextlib.suppress(LockError, redis.RedisError):
                    lock.release()  # an expired lock (slow encode) is someone else's now

    def _counts(self, now: float) -> tuple[int, int]:
        with self._talking():
            kept, total = self._count(keys=self._accounts, args=[repr(now)])
        return int(kept), int(total)

    def count(self, now: float) -> int:
        return self._counts(now)[0]

    def contains(self, flyer_id: str, now: float) -> bool:
        try:
            self.get(flyer_id, now)
        except NotFound:
            return False
        return True

    def nbytes(self, now: float) -> int:
        return self._counts(now)[1]

    def clear(self) -> None:
        """Delete every flyer and the accounting of this store (not the login counters)."""
        with self._talking():
            names: list[Any] = list(self._accounts)
            for pattern in ("flyer:*", "encoding:*"):
                names += self._redis.scan_iter(match=f"{self.prefix}:{pattern}", count=500)
            for start in range(0, len(names), 500):
                self._redis.delete(*names[start:start + 500])
