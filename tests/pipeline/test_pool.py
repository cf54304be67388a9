"""ServerPool over loopback AUTOMATIC1111 fakes: least-busy dispatch, one job per server,
failover when a server dies mid-request, health checks, and the message when none is healthy."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from pipeline.backends import PaintRequest, ServerPool, start_job
from pipeline.backends.automatic1111 import Automatic1111Backend
from pipeline.backends.pool import waiting_message
from pipeline.errors import BackendCancelled, BackendUnavailable, Busy
from tests.fake_sd import FakeSDServer

REQUEST = PaintRequest(prompt="jazz", aspect=(1, 1), count=2, seed=5, pixel_budget=64 * 64)


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as c:
        yield c


def closed_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def pool_of(urls: list[str], client: httpx.Client, **kwargs: Any) -> ServerPool:
    return ServerPool([Automatic1111Backend(url, client=client, poll_interval=0.05)
                       for url in urls], **kwargs)


def test_jobs_go_to_the_least_busy_server_one_at_a_time(client: httpx.Client) -> None:
    with ExitStack() as stack:
        fakes = [stack.enter_context(FakeSDServer(mode="slow", delay=0.6)) for _ in range(3)]
        pool = stack.enter_context(pool_of([f.url for f in fakes], client))
        started = time.monotonic()
        jobs = [start_job(pool, REQUEST) for _ in range(3)]
        paintings = [job.result(10) for job in jobs]
        elapsed = time.monotonic() - started
    assert [len(f.txt2img_requests) for f in fakes] == [1, 1, 1]
    assert sorted(p.server for p in paintings) == sorted(f.url for f in fakes)
    assert elapsed < 1.5, elapsed
    assert pool.slots == 3


def test_a_fourth_job_waits_for_a_free_server(client: httpx.Client) -> None:
    with FakeSDServer(mode="slow", delay=0.4) as sd, pool_of([sd.url], client) as pool:
        started = time.monotonic()
        jobs = [start_job(pool, REQUEST) for _ in range(2)]
        for job in jobs:
            job.result(10)
        assert time.monotonic() - started >= 0.75  # one after the other on one server
        assert len(sd.txt2img_requests) == 2


def test_a_server_killed_mid_request_loses_no_job(client: httpx.Client) -> None:
    with ExitStack() as stack:
        fakes = [stack.enter_context(FakeSDServer(mode="slow", delay=0.8)) for _ in range(2)]
        pool = stack.enter_context(pool_of([f.url for f in fakes], client))
        jobs = [start_job(pool, REQUEST) for _ in range(2)]
        while not all(f.txt2img_requests for f in fakes):
            time.sleep(0.02)
        fakes[0].kill()
        paintings = [job.result(10) for job in jobs]
    assert all(len(p.images) == 2 for p in paintings)
    assert {p.server for p in paintings} == {fakes[1].url}
    status = {s["server"]: s for s in pool.status()}
    assert status[fakes[0].url]["healthy"] is False and status[fakes[0].url]["problem"]
    assert status[fakes[1].url]["served"] == 2


def test_dead_servers_are_skipped_and_revived_by_health_checks(client: httpx.Client) -> None:
    with (FakeSDServer() as good, FakeSDServer(mode="no_api") as broken,
          pool_of([broken.url, good.url], client, health_interval=0.1) as pool):
        pool.check()  # one healthy is enough
        assert [s["healthy"] for s in pool.status()] == [False, True]
        assert pool.generate(REQUEST).server == good.url
        assert broken.txt2img_requests == []
        broken.mode = "ok"
        deadline = time.monotonic() + 3
        while not pool.status()[0]["healthy"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.status()[0]["healthy"] is True


def test_none_healthy_names_every_server(client: httpx.Client) -> None:
    urls = [closed_url(), closed_url()]
    with pool_of(urls, client) as pool:
        with pytest.raises(BackendUnavailable) as caught:
            pool.generate(REQUEST)
        message = str(caught.value)
        assert all(url in message for url in urls) and "not reachable" in message
        with pytest.raises(BackendUnavailable, match="None of the 2"):
            pool.check()


def test_waiting_for_a_server_is_cancellable_and_bounded(client: httpx.Client) -> None:
    with FakeSDServer(mode="slow", delay=5) as sd:
        pool = pool_of([sd.url], client, max_wait=0.6)
        first = start_job(pool, REQUEST)
        while not sd.txt2img_requests:
            time.sleep(0.02)
        waiting = start_job(pool, REQUEST)
        time.sleep(0.1)
        waiting.cancel()  # it waits for its turn: nothing to interrupt
        with pytest.raises(BackendCancelled):
            waiting.result(2)
        assert len(sd.txt2img_requests) == 1 and sd.interrupted == 0
        started = time.monotonic()
        with pytest.raises(Busy, match="busy"):
            pool.generate(REQUEST)
        assert 0.5 < time.monotonic() - started < 2
        first.cancel()  # it paints: its server job is interrupted
        with pytest.raises(BackendCancelled):
            first.result(10)
        assert sd.interrupted == 1


def test_waiting_jobs_are_told_their_place_and_served_first_come(
    client: httpx.Client,
) -> None:
    with FakeSDServer(mode="slow", delay=0.6) as sd, pool_of([sd.url], client) as pool:
        first = start_job(pool, REQUEST)
        while not sd.txt2img_requests:
            time.sleep(0.02)
        told: dict[str, list[str]] = {"second": [], "third": []}
        jobs = []
        for name in ("second", "third"):
            request = PaintRequest(prompt=name, aspect=(1, 1), count=1, seed=1,
                                   pixel_budget=64 * 64)
            jobs.append(start_job(pool, request,
                                  progress=lambda f, m, name=name: told[name].append(m)))
            while pool.waiting < len(jobs):
                time.sleep(0.01)
        assert pool.waiting == 2
        for job in (first, *jobs):
            job.result(10)
    assert [r["prompt"] for r in sd.txt2img_requests[1:]] == ["second", "third"]
    assert waiting_message(0) in told["second"]  # next in line
    assert told["third"][:2] == [waiting_message(1), waiting_message(0)]  # then moved up
    assert pool.waiting == 0


def test_the_line_is_bounded_and_a_job_past_it_is_refused_at_once(
    client: httpx.Client,
) -> None:
    with FakeSDServer(mode="slow", delay=1.0) as sd:
        pool = pool_of([sd.url], client, max_waiting=1)
        first = start_job(pool, REQUEST)
        while not sd.txt2img_requests:
            time.sleep(0.02)
        second = start_job(pool, REQUEST)
        while pool.waiting < 1:
            time.sleep(0.01)
        started = time.monotonic()
        with pytest.raises(Busy, match=r"moment. \(The line .* is full: 1 waiting"):
            pool.generate(REQUEST)
        assert time.monotonic() - started < 0.5  # at once, not after max_wait
        first.result(10)
        second.result(10)
        assert len(sd.txt2img_requests) == 2 and pool.waiting == 0
        pool.generate(REQUEST)  # the line is free again
