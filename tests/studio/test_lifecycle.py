"""The studio's lifespan: what a server opens at start it closes when it stops (HTTP clients,
a server pool's health thread, the composing processes, the shared worker threads, the
temporary folder), and the settings it logs at start hold no secret."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gradio_client import Client

from pipeline.backends import PaintRequest, ServerPool
from pipeline.errors import BackendUnavailable
from pipeline.executor import work_pool
from pipeline.renderer import ProcessRenderer, process_running
from pipeline.service import FlyerService
from tests.fake_sd import FakeSDServer
from tests.studio.conftest import RunningStudio, run_studio, studio_settings

SECRETS = {
    "API_MASTER_KEY": "lifecycle-master-key-2c9f41",
    "FLYER_SD_AUTH": "painter:sd-pass-8e31d",
    "HF_TOKEN": "hf_lifecycle_token_77",
    "OPENAI_API_KEY": "sk-lifecycle-key-19",
}


def _threads(fragment: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if fragment in t.name and t.is_alive()]


@pytest.fixture
def two_servers() -> Iterator[tuple[FakeSDServer, FakeSDServer]]:
    auth = ("painter", "sd-pass-8e31d")
    with FakeSDServer(auth=auth) as first, FakeSDServer(auth=auth) as second:
        yield first, second


def test_shutdown_closes_clients_threads_and_temporary_files(
    tmp_path: Path, two_servers: tuple[FakeSDServer, FakeSDServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    first, second = two_servers
    parent = tmp_path / "temp"
    settings = studio_settings(
        STABLE_DIFUSION_INSTANCE=f"{first.url},{second.url}", FLYER_BACKEND="automatic1111",
        FLYER_POOL_HEALTH_INTERVAL="1", FLYER_TEMP_DIR=str(parent), MAX_BATCH_SIZE="3",
        FLYER_RENDER_PROCESSES="2", **SECRETS)
    service = FlyerService.from_settings(settings)
    renderer = service.renderer
    assert isinstance(renderer, ProcessRenderer) and renderer.processes == 2
    pool = service.backend
    assert isinstance(pool, ServerPool) and len(pool.members) == 2
    clients: list[httpx.Client] = [m.backend.http.client for m in pool.members]  # type: ignore[attr-defined]

    caplog.set_level(logging.INFO)
    with run_studio(settings, service) as studio:
        assert _threads(f"{pool.name}-pool-health"), "the lifespan starts the pool's checks"
        client = Client(studio.url + "/", auth=studio.auth, verbose=False,
                        download_files=str(tmp_path / "client"))
        try:
            pngs, manifests = client.predict(title="Closing Night", batch_size=3,
                                             api_name="/generate")
            pdf = client.predict(flyer_id=manifests[0]["id"], kind="pdf", api_name="/download")
        finally:
            client.close()
        assert len(pngs) == 3 and Path(pdf).stat().st_size > 0
        assert len(first.txt2img_requests) + len(second.txt2img_requests) == 1  # one batch
        workers = renderer.pids()
        assert len(workers) == 2 and all(process_running(pid) for pid in workers)  # composed there
        assert any(path.is_file() for path in parent.rglob("*"))  # previews and downloads
        assert not any(c.is_closed for c in clients)

    # Stopped: every HTTP client closed, the health thread and the worker threads joined,
    # the composing processes ended, the temporary folder (sessions, uploads, Gradio's
    # cache) gone.
    assert all(c.is_closed for c in clients)
    deadline = time.monotonic() + 10
    while any(process_running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(process_running(pid) for pid in workers)
    assert _threads(f"{pool.name}-pool-health") == []
    assert work_pool().running is False and _threads("flyer-work") == []
    assert list(parent.iterdir()) == []
    with pytest.raises(BackendUnavailable, match="shutting down"):
        service.backend.generate(PaintRequest(prompt="after", count=1))

    # The settings were logged once at start, secrets masked; no secret in any log line.
    [line] = [r.getMessage() for r in caplog.records
              if r.getMessage().startswith("Flyer Studio settings:")]
    assert "API_MASTER_KEY=<secret>" in line and "FLYER_SD_AUTH=<secret>" in line
    assert "HF_TOKEN=<secret>" in line and "FLYER_OPENAI_API_KEY=<secret>" in line
    assert "MAX_BATCH_SIZE=3" in line
    for secret in ("lifecycle-master-key-2c9f41", "sd-pass-8e31d", "hf_lifecycle_token_77",
                   "sk-lifecycle-key-19"):
        assert secret not in caplog.text
        assert secret not in repr(studio.settings) and secret not in str(studio.settings)


def _make_flyer(studio: RunningStudio) -> None:
    payload = {"prompt": "warm lights", "size": [1080, 1350], "batch_size": 1,
               "details": {"title": "Shared threads", "date": "Friday 14 March"}}
    answer = httpx.post(f"{studio.url}/flyer", json=payload, headers=studio.headers, timeout=60)
    assert answer.status_code == 200, answer.text


def test_the_shared_pool_stops_with_the_last_server() -> None:
    """Two studios in one process share the worker threads: stopping one leaves them to the
    other; stopping the last joins them. (Composing in the server's process: its threads
    resize and encode.)"""
    here = {"FLYER_RENDER_PROCESSES": "0"}
    with run_studio(studio_settings(**here)) as one:
        with run_studio(studio_settings(**here)) as two:
            _make_flyer(one)
            _make_flyer(two)
            assert work_pool().running
        assert work_pool().running  # still held by the first studio
        _make_flyer(one)
    assert work_pool().running is False and _threads("flyer-work") == []
