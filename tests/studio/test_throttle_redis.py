"""RedisLoginThrottle against a real redis-server: LoginThrottle's rules, shared by every
replica (two throttle objects with their own connections stand for two processes); and what
``serve`` says at start about the shared store."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterator

import pytest

from pipeline.service import FlyerService
from pipeline.settings import load_settings
from pipeline.store_redis import redis_client, redis_location
from studio.auth import LoginThrottle
from studio.server import login_throttle, store_warning
from studio.throttle_redis import UNREACHABLE_LOCKOUT_S, RedisLoginThrottle
from tests.local_servers import RedisServer, free_port, run_redis


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with run_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def prefix() -> str:
    return "test-" + secrets.token_hex(6)


def replica(server: RedisServer, prefix: str, **rules: float) -> RedisLoginThrottle:
    options: dict[str, float] = {"max_failures": 3, "window_s": 60, "lockout_s": 300, **rules}
    return RedisLoginThrottle(redis_client(server.url), prefix=prefix, **options)  # type: ignore[arg-type]


def test_failures_on_two_replicas_add_up_to_one_lockout(redis_server: RedisServer,
                                                       prefix: str) -> None:
    a, b = replica(redis_server, prefix), replica(redis_server, prefix)
    assert a.record_failure("10.0.0.1") is False
    assert b.record_failure("10.0.0.1") is False
    assert a.locked_for("10.0.0.1") == 0 == b.locked_for("10.0.0.1")
    assert b.record_failure("10.0.0.1") is True  # the third, wherever it happened
    for throttle in (a, b):
        assert 299 < throttle.locked_for("10.0.0.1") <= 300
        assert throttle.locked_for("10.0.0.2") == 0  # other addresses carry on
    assert len(a) == 1


def test_failures_leave_the_window(redis_server: RedisServer, prefix: str) -> None:
    a = replica(redis_server, prefix, window_s=0.5)
    b = replica(redis_server, prefix, window_s=0.5)
    a.record_failure("10.0.0.1")
    b.record_failure("10.0.0.1")
    time.sleep(0.7)
    assert a.record_failure("10.0.0.1") is False  # the first two left the window
    assert len(b) == 1


def test_the_lockout_ends(redis_server: RedisServer, prefix: str) -> None:
    a = replica(redis_server, prefix, max_failures=1, lockout_s=0.5)
    assert a.record_failure("10.0.0.1") is True
    assert a.locked_for("10.0.0.1") > 0
    time.sleep(0.7)
    assert a.locked_for("10.0.0.1") == 0 and len(a) == 0  # nothing left in Redis


def test_success_forgets_earlier_failures(redis_server: RedisServer, prefix: str) -> None:
    a, b = replica(redis_server, prefix), replica(redis_server, prefix)
    a.record_failure("10.0.0.1")
    a.record_failure("10.0.0.1")
    b.record_success("10.0.0.1")
    assert a.record_failure("10.0.0.1") is False


def test_global_ceiling_across_replicas_and_addresses(redis_server: RedisServer,
                                                      prefix: str) -> None:
    rules: dict[str, float] = {"max_failures": 100, "global_max_failures": 6,
                               "global_window_s": 60}
    a, b = replica(redis_server, prefix, **rules), replica(redis_server, prefix, **rules)
    for n in range(5):
        (a, b)[n % 2].record_failure(f"10.0.1.{n}")  # rotating addresses, both replicas
    assert a.locked_for("192.0.2.9") == 0
    b.record_failure("10.0.1.99")
    for throttle in (a, b):
        assert 59 < throttle.locked_for("192.0.2.9") <= 60  # everyone, until the oldest ages


def test_prefixes_keep_studios_apart(redis_server: RedisServer, prefix: str) -> None:
    a = replica(redis_server, prefix, max_failures=1)
    other = replica(redis_server, prefix + "-other", max_failures=1)
    a.record_failure("10.0.0.1")
    assert a.locked_for("10.0.0.1") > 0 and other.locked_for("10.0.0.1") == 0


def test_unreachable_redis_fails_closed_and_logs_no_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"
    throttle = RedisLoginThrottle(redis_client(url, timeout_s=1), max_failures=3, window_s=60,
                                  lockout_s=300, location=redis_location(url))
    with caplog.at_level(logging.ERROR):
        assert throttle.locked_for("10.0.0.1") == UNREACHABLE_LOCKOUT_S
        assert throttle.record_failure("10.0.0.1") is False
        throttle.record_success("10.0.0.1")
    assert "refusing logins" in caplog.text and "127.0.0.1" in caplog.text
    assert "hunter2" not in caplog.text and "hunter2" not in repr(throttle)


def test_settings_pick_the_throttle(redis_server: RedisServer, prefix: str) -> None:
    local = login_throttle(load_settings({}, env_file=None))
    assert isinstance(local, LoginThrottle)
    shared = login_throttle(load_settings(
        {"FLYER_STORE_URL": redis_server.url, "FLYER_REDIS_PREFIX": prefix,
         "FLYER_LOGIN_MAX_FAILURES": "2"}, env_file=None))
    assert isinstance(shared, RedisLoginThrottle) and shared.max_failures == 2
    shared.record_failure("10.0.0.7")
    assert replica(redis_server, prefix, max_failures=2).record_failure("10.0.0.7") is True


def test_serve_warns_at_start_when_redis_is_down(redis_server: RedisServer) -> None:
    down = f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"
    service = FlyerService.from_settings(load_settings({"FLYER_STORE_URL": down},
                                                       env_file=None))
    warning = store_warning(service)
    assert warning.startswith("WARNING: The flyer store (redis://127.0.0.1:")
    assert "503" in warning and "hunter2" not in warning
    up = FlyerService.from_settings(load_settings({"FLYER_STORE_URL": redis_server.url},
                                                  env_file=None))
    assert store_warning(up) == ""
    assert store_warning(FlyerService.from_settings(load_settings({}, env_file=None))) == ""
