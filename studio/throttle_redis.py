"""RedisLoginThrottle: the failed-login and failed-key counters shared by every replica.

The same rules as :class:`studio.auth.LoginThrottle` (``max_failures`` per address within
``window_s`` lock it out for ``lockout_s``; ``global_max_failures`` from all addresses within
``global_window_s`` lock every attempt out until the oldest leaves the window), kept in Redis
so that a lockout earned on one replica holds on all of them. Each check-and-change is one Lua
script timed by Redis's own clock (``TIME``), so replicas on different machines agree.

Keys (under ``{prefix}:throttle:``): ``fail:{address}`` a sorted set of failure times,
``lock:{address}`` a key that lives ``lockout_s``, ``recent`` the global window. Every key
expires with its window, so memory stays bounded without a table of addresses. When Redis
cannot be reached the throttle fails closed: every attempt is refused as locked out for a
minute (a studio that cannot count failures must not let guessing go uncounted), and the
problem is logged (never the URL's password).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator

import redis

__all__ = ["UNREACHABLE_LOCKOUT_S", "RedisLoginThrottle"]

logger = logging.getLogger(__name__)

UNREACHABLE_LOCKOUT_S = 60.0
"""How long attempts are refused for when Redis cannot be asked (then asked again)."""

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

# KEYS: fail, lock, recent. ARGV: global_max (0: none), global_window -> seconds locked
_LOCKED_FOR = _NOW + """
local mine = redis.call('PTTL', KEYS[2])
local left = 0
if mine > 0 then left = mine / 1000 end
local limit = tonumber(ARGV[1])
if limit > 0 then
  local window = tonumber(ARGV[2])
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - window)
  if redis.call('ZCARD', KEYS[3]) >= limit then
    local oldest = redis.call('ZRANGE', KEYS[3], -limit, -limit, 'WITHSCORES')
    local everyone = tonumber(oldest[2]) + window - now
    if everyone > left then left = everyone end
  end
end
return tostring(left)
"""

# KEYS: fail, lock, recent. ARGV: max_failures, window, lockout, global_max, global_window,
# unique member -> 1 when this failure locks the address out
_RECORD_FAILURE = _NOW + """
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZADD', KEYS[1], now, ARGV[6])
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
local limit = tonumber(ARGV[4])
if limit > 0 then
  local gwindow = tonumber(ARGV[5])
  redis.call('ZADD', KEYS[3], now, ARGV[6])
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - gwindow)
  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -(limit + 1))
  redis.call('PEXPIRE', KEYS[3], math.ceil(gwindow * 1000))
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], '1', 'PX', math.ceil(tonumber(ARGV[3]) * 1000))
  return 1
end
return 0
"""


class RedisLoginThrottle:
    """Counts failed attempts per client address, and across all addresses, in Redis: one
    lockout for every replica that shares the Redis and the prefix."""

    def __init__(
        self,
        client: redis.Redis,
        max_failures: int,
        window_s: float,
        lockout_s: float,
        global_max_failures: int | None = None,
        global_window_s: float = 60.0,
        prefix: str = "flyer-studio",
        location: str = "redis",
    ) -> None:
        if max_failures < 1 or window_s <= 0 or lockout_s <= 0:
            raise ValueError("max_failures, window_s and lockout_s must be > 0")
        if global_max_failures is not None and (global_max_failures < 1 or global_window_s <= 0):
            raise ValueError("global_max_failures and global_window_s must be > 0")
        self.max_failures = max_failures
        self.window_s = float(window_s)
        self.lockout_s = float(lockout_s)
        self.global_max_failures = global_max_failures
        self.global_window_s = float(global_window_s)
        self.location = location
        self._redis = client
        self._prefix = f"{prefix}:throttle"
        self._locked_for = client.register_script(_LOCKED_FOR)
        self._record_failure = client.register_script(_RECORD_FAILURE)

    def __repr__(self) -> str:
        return (f"RedisLoginThrottle({self.location}, max_failures={self.max_failures}, "
                f"lockout_s={self.lockout_s})")

    def _keys(self, address: str) -> list[str]:
        return [f"{self._prefix}:fail:{address}", f"{self._prefix}:lock:{address}",
                f"{self._prefix}:recent"]

    @contextlib.contextmanager
    def _logged(self, doing: str) -> Iterator[None]:
        try:
            yield
        except redis.RedisError as exc:
            logger.error("login throttle: Redis at %s failed while %s (%s): refusing logins",
                         self.location, doing, type(exc).__name__)
            raise

    def __len__(self) -> int:
        """Addresses with failures in the window or a lockout running."""
        addresses: set[bytes] = set()
        with self._logged("counting addresses"):
            for kind in ("fail", "lock"):
                start = f"{self._prefix}:{kind}:".encode()
                for key in self._redis.scan_iter(match=start.decode() + "*", count=500):
                    addresses.add(bytes(key)[len(start):])
        return len(addresses)

    def locked_for(self, address: str) -> float:
        """Seconds ``address`` stays locked out (by its own failures or by the global
        ceiling); 0 when it may try. While Redis cannot be asked: a minute (fail closed)."""
        try:
            with self._logged("checking a lockout"):
                left = self._locked_for(
                    keys=self._keys(address),
                    args=[self.global_max_failures or 0, self.global_window_s])
        except redis.RedisError:
            return UNREACHABLE_LOCKOUT_S
        return max(0.0, float(left))

    def record_failure(self, address: str) -> bool:
        """Count one failed attempt; True when it locks ``address`` out."""
        try:
            with self._logged("counting a failed login"):
                locked = self._record_failure(
                    keys=self._keys(address),
                    args=[self.max_failures, self.window_s, self.lockout_s,
                          self.global_max_failures or 0, self.global_window_s,
                          uuid.uuid4().hex])
        except redis.RedisError:
            return False
        return bool(locked)

    def record_success(self, address: str) -> None:
        """A successful attempt forgets the address's earlier failures."""
        with contextlib.suppress(redis.RedisError), self._logged("forgetting failures"):
            self._redis.delete(*self._keys(address)[:2])
