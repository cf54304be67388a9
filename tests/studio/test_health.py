"""The studio watches its backend: checked at start and every FLYER_HEALTH_INTERVAL seconds in
the lifespan's background task, against the loopback SD server going down and coming back."""

from __future__ import annotations

import time

from pipeline.health import Health
from studio.health import HealthMonitor
from studio.server import backend_warning
from tests.fake_sd import FakeSDServer

from .conftest import MakeStudio


def _wait(monitor: HealthMonitor, status: str, timeout: float = 15.0) -> Health:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        latest = monitor.latest
        if latest is not None and latest.status == status:
            return latest
        time.sleep(0.05)
    raise AssertionError(f"health never became {status!r}; last: {monitor.latest!r}")


def test_the_monitor_follows_the_server_down_and_up(make_studio: MakeStudio) -> None:
    with FakeSDServer(mode="down") as sd:
        studio = make_studio(sd=sd, FLYER_HEALTH_INTERVAL="0.2")
        monitor: HealthMonitor = studio.app.state.health
        down = _wait(monitor, "unreachable")  # checked at start, without anyone asking
        assert not down.up and down.server == sd.url
        sd.mode = "ok"
        up = _wait(monitor, "up")
        assert up.checked_at > down.checked_at
        sd.mode = "no_api"
        assert "start it with --api" in _wait(monitor, "unreachable").problem


def test_the_offline_painter_is_up_from_the_start(make_studio: MakeStudio) -> None:
    studio = make_studio()
    assert _wait(studio.app.state.health, "up").backend == "procedural"


def test_a_check_that_raises_counts_as_down() -> None:
    def broken() -> Health:
        raise RuntimeError("boom")

    monitor = HealthMonitor(broken, "automatic1111")
    health = monitor.refresh()
    assert (health.up, health.status, health.problem) == (False, "not working", "boom")
    assert monitor.fresh(60) is health  # recent enough: no second check


def test_the_start_up_warning() -> None:
    assert backend_warning(Health("procedural", True)) == ""
    down = Health("automatic1111", False, "unreachable", "Not reachable; is it running?",
                  server="http://sd:7860")
    assert backend_warning(down).startswith(
        "WARNING: the image backend at http://sd:7860 is unreachable: Not reachable;")
