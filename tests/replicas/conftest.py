"""Fixtures that run studio replicas for real: a ``redis-server``, two ``flyer-studio serve``
processes sharing it (FLYER_STORE_URL), and ``nginx`` in front of them with the repository's
deploy/nginx.conf, all on free loopback ports in a temporary folder.

- ``cluster``: two replicas and the load balancer, module scope, generous limits.
- ``make_cluster(**env)``: a cluster with settings of its own (e.g. ``MAX_IN_MEMORY="4"``),
  stopped after the test; each cluster writes under its own Redis key prefix, so clusters
  sharing the module's Redis do not see each other's flyers or lockouts.

Without redis-server or nginx the tests are skipped, except in CI (``CI=true``) where they fail.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.local_servers import (
    Nginx,
    RedisServer,
    Replica,
    need,
    run_nginx,
    run_redis,
    run_replicas,
)

__all__ = ["Cluster", "MakeCluster"]


@dataclass(frozen=True)
class Cluster:
    replicas: list[Replica]
    nginx: Nginx
    redis: RedisServer
    key: str
    prefix: str

    @property
    def a(self) -> Replica:
        return self.replicas[0]

    @property
    def b(self) -> Replica:
        return self.replicas[1]

    @property
    def url(self) -> str:
        """The load balancer's address."""
        return self.nginx.url

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key}

    @property
    def auth(self) -> tuple[str, str]:
        return ("tester", self.key)


MakeCluster = Callable[..., Cluster]


@contextlib.contextmanager
def start_cluster(folder: Path, redis: RedisServer, **env: str) -> Iterator[Cluster]:
    need("nginx")
    prefix = "cluster-" + secrets.token_hex(4)
    key = "test-" + secrets.token_urlsafe(24)
    settings = {
        "API_MASTER_KEY": key,
        "FLYER_STORE_URL": redis.url,
        "FLYER_REDIS_PREFIX": prefix,
        "FLYER_LOGIN_MAX_FAILURES": "1000",
        "FLYER_LOGIN_GLOBAL_MAX_FAILURES": "1000",
        **env,
    }
    with run_replicas(folder, 2, settings) as replicas, run_nginx(
        folder / "nginx", [f"127.0.0.1:{r.port}" for r in replicas]
    ) as nginx:
        yield Cluster(replicas, nginx, redis, key, prefix)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with run_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory,
            redis_server: RedisServer) -> Iterator[Cluster]:
    with start_cluster(tmp_path_factory.mktemp("cluster"), redis_server) as running:
        yield running


@pytest.fixture
def make_cluster(tmp_path: Path, redis_server: RedisServer) -> Iterator[MakeCluster]:
    with contextlib.ExitStack() as stack:
        count = iter(range(100))

        def make(**env: str) -> Cluster:
            folder = tmp_path / f"cluster-{next(count)}"
            return stack.enter_context(start_cluster(folder, redis_server, **env))

        yield make
