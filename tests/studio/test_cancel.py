"""Cancelling a job through Gradio's API stops that job's work on the server, and only its own:
the Stable Diffusion server is interrupted only while it paints the cancelled job."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from gradio_client import Client

from tests.fake_sd import FakeSDServer

from .conftest import MakeStudio, RunningStudio


def _client(studio: RunningStudio, folder: Path) -> Client:
    return Client(studio.url + "/", auth=studio.auth, verbose=False, download_files=str(folder))


def _until(condition: Callable[[], bool], seconds: float, what: str) -> float:
    """Wait for ``condition``; return how long it took."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, f"timed out waiting for {what}"
        time.sleep(0.02)
    return time.monotonic() - started


def test_cancel_interrupts_its_own_job_and_not_the_next_one(
    make_studio: MakeStudio, fake_sd: FakeSDServer, tmp_path: Path
) -> None:
    studio = make_studio(sd=fake_sd)
    before = fake_sd.interrupted  # the module's fake counts interrupts across tests
    fake_sd.mode = "slow"
    fake_sd.delay = 30.0  # the first job would paint for 30 s
    mine, theirs = _client(studio, tmp_path / "mine"), _client(studio, tmp_path / "theirs")
    try:
        job = mine.submit(title="Cancel me", api_name="/generate")
        _until(lambda: len(fake_sd.txt2img_requests) == 1, 15, "the first job to paint")
        fake_sd.delay = 2.0  # what the next job will take
        other = theirs.submit(title="Keep me", api_name="/generate")
        time.sleep(0.3)  # it waits in Gradio's queue behind the first job

        started = time.monotonic()
        assert job.cancel()
        cancel_took = time.monotonic() - started
        interrupted_after = _until(lambda: fake_sd.interrupted > before, 10, "the interrupt")

        pngs, manifests = other.result(timeout=30)  # the other client's job completes...
        assert len(pngs) == 1 and manifests[0]["id"]
        assert Path(pngs[0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert fake_sd.interrupted == before + 1  # ...without being interrupted
        assert len(fake_sd.txt2img_requests) == 2
        assert cancel_took < 5 and interrupted_after < 5
        print(f"\ncancel returned in {cancel_took:.2f} s; SD interrupted "
              f"{interrupted_after:.2f} s after; the other job completed")
    finally:
        mine.close()
        theirs.close()


def test_cancelling_a_job_that_waits_for_its_turn_interrupts_nobody(
    make_studio: MakeStudio, fake_sd: FakeSDServer, tmp_path: Path
) -> None:
    # The SD server paints one job at a time: the second waits in the pool's line for the
    # first; cancelling it must not interrupt the first one's painting.
    studio = make_studio(sd=fake_sd)
    before = fake_sd.interrupted
    fake_sd.mode = "slow"
    fake_sd.delay = 3.0
    first, second = _client(studio, tmp_path / "first"), _client(studio, tmp_path / "second")
    try:
        painting = first.submit(title="Painting", api_name="/generate")
        _until(lambda: len(fake_sd.txt2img_requests) == 1, 15, "the first job to paint")
        waiting = second.submit(title="Waiting", api_name="/generate")
        time.sleep(0.5)  # started by Gradio, waiting for the SD server
        started = time.monotonic()
        assert waiting.cancel()
        assert time.monotonic() - started < 2

        pngs, _ = painting.result(timeout=30)
        assert len(pngs) == 1
        time.sleep(1.0)  # a cancelled job that went on would reach the SD server now
        assert fake_sd.interrupted == before
        assert len(fake_sd.txt2img_requests) == 1  # the cancelled job never painted
    finally:
        first.close()
        second.close()
