"""FLYER_QUEUE_MAX_WAIT: a job that waited too long for its turn is refused as busy, through
Gradio's API and REST alike, while the job ahead of it completes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from tests.fake_sd import FakeSDServer

from .conftest import MakeStudio, RunningStudio

BUSY = "The studio is busy; try again in a moment."


def _client(studio: RunningStudio, folder: Path) -> Client:
    return Client(studio.url + "/", auth=studio.auth, verbose=False, download_files=str(folder))


def _wait_for_painting(sd: FakeSDServer, count: int = 1) -> None:
    deadline = time.monotonic() + 15
    while len(sd.txt2img_requests) < count:
        assert time.monotonic() < deadline, "the first job never reached the SD server"
        time.sleep(0.02)


def test_a_job_waiting_too_long_is_told_the_studio_is_busy(
    make_studio: MakeStudio, fake_sd: FakeSDServer, tmp_path: Path
) -> None:
    studio = make_studio(sd=fake_sd, FLYER_QUEUE_MAX_WAIT="1")
    fake_sd.mode = "slow"
    fake_sd.delay = 3.0
    first, second = _client(studio, tmp_path / "a"), _client(studio, tmp_path / "b")
    try:
        running = first.submit(title="First", api_name="/generate")
        _wait_for_painting(fake_sd)
        started = time.monotonic()
        with pytest.raises(AppError) as caught:
            second.predict(title="Second", api_name="/generate")
        refused_after = time.monotonic() - started
        assert BUSY in str(caught.value) and "Traceback" not in str(caught.value)
        pngs, manifests = running.result(timeout=30)
        assert len(pngs) == 1 and manifests[0]["id"]
        assert len(fake_sd.txt2img_requests) == 1  # the refused job never painted
        print(f"\nsecond job refused after {refused_after:.1f} s (limit 1 s, job ahead 3 s)")
    finally:
        first.close()
        second.close()


def test_rest_uses_the_same_limit(make_studio: MakeStudio, fake_sd: FakeSDServer) -> None:
    studio = make_studio(sd=fake_sd, FLYER_QUEUE_MAX_WAIT="1")
    fake_sd.mode = "slow"
    fake_sd.delay = 3.0
    body = {"prompt": "jazz", "size": [1080, 1350], "details": {"title": "Jazz"}}
    answers: list[httpx.Response] = []

    def post() -> None:
        answers.append(httpx.post(studio.url + "/flyer", json=body, headers=studio.headers,
                                  timeout=30))

    worker = threading.Thread(target=post)
    worker.start()
    _wait_for_painting(fake_sd)
    started = time.monotonic()
    refused = httpx.post(studio.url + "/flyer", json=body, headers=studio.headers, timeout=30)
    waited = time.monotonic() - started
    worker.join(timeout=30)
    assert refused.status_code == 503 and refused.json() == {"detail": "Service Overload"}
    assert 0.8 < waited < 2.5  # refused after FLYER_QUEUE_MAX_WAIT, not after the job ahead
    assert answers and answers[0].status_code == 200, answers
