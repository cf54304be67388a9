"""backend_health against real servers: the loopback SD server up, down, without --api, with
the wrong credentials; the offline painter; a backend with its own check() (the pool's way)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from pipeline.backends.automatic1111 import Automatic1111Backend
from pipeline.backends.procedural import ProceduralBackend
from pipeline.errors import BackendTimeout
from pipeline.health import backend_health
from tests.fake_sd import FakeSDServer


@pytest.fixture(scope="module")
def sd() -> Iterator[FakeSDServer]:
    with FakeSDServer() as server:
        yield server


def test_the_offline_painter_is_always_up() -> None:
    health = backend_health(ProceduralBackend())
    assert (health.backend, health.up, health.status, health.problem) == (
        "procedural", True, "up", "")
    assert health.checked_at > 0


@pytest.mark.parametrize(
    ("mode", "status", "fragment"),
    [
        ("ok", "up", ""),
        ("down", "unreachable", "is it running?"),
        ("no_api", "unreachable", "start it with --api"),
    ],
)
def test_a_stable_diffusion_server_in_every_state(
    sd: FakeSDServer, mode: str, status: str, fragment: str
) -> None:
    sd.mode = mode
    try:
        backend = Automatic1111Backend(sd.url, connect_timeout=2, read_timeout=2)
        health = backend_health(backend)
    finally:
        sd.mode = "ok"
    assert health.status == status and health.up is (status == "up")
    assert fragment in health.problem
    assert health.server == sd.url


def test_wrong_credentials_and_a_closed_port() -> None:
    with FakeSDServer(auth=("studio", "right-password")) as locked:
        backend = Automatic1111Backend(locked.url, auth=("studio", "wrong-password"))
        health = backend_health(backend)
        assert health.status == "refuses our credentials"
        assert "wrong-password" not in health.problem
        good = backend_health(Automatic1111Backend(locked.url,
                                                   auth=("studio", "right-password")))
        assert good.up
        url = locked.url
    gone = backend_health(Automatic1111Backend(url, connect_timeout=1, read_timeout=1))
    assert gone.status == "unreachable" and url in gone.problem


class _PoolLike:
    """A backend offering check(), as the issue-11 server pool does."""

    name = "automatic1111"
    model = "pool"
    server = "http://pool.local:7860"

    def __init__(self) -> None:
        self.checked = 0

    def check(self) -> None:
        self.checked += 1
        raise BackendTimeout("No server answered within 5 s.")

    def generate(self, *args: object) -> list[object]:
        return []

    def cancel(self) -> None:
        return None


def test_a_backend_with_its_own_check_is_asked_directly() -> None:
    pool = _PoolLike()
    health = backend_health(pool)  # type: ignore[arg-type]
    assert pool.checked == 1
    assert (health.up, health.status, health.problem, health.server) == (
        False, "not answering", "No server answered within 5 s.", "http://pool.local:7860")


def test_checks_may_run_at_once(sd: FakeSDServer) -> None:
    backend = Automatic1111Backend(sd.url)
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(backend_health(backend).up))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 8
