"""``flyer-studio serve`` in a subprocess: it prints where to go and how to log in, and a
generated key exactly once when none is configured."""

from __future__ import annotations

import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import gradio as gr
import httpx
import pytest
from fastapi import FastAPI
from gradio_client import Client
from starlette.routing import Mount

from pipeline.settings import load_settings
from studio.server import login_hint, server_url
from tests.studio.conftest import RunningStudio, run_studio, studio_settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.url = f"http://127.0.0.1:{port}"
        self.lines: queue.Queue[str] = queue.Queue()
        self.stdout: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.stdout):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"{text!r} not printed; got {self.stdout!r}")
            with suppress(queue.Empty):
                self.stdout.append(self.lines.get(timeout=0.2))

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("the studio never answered /healthz")


@contextmanager
def serving(tmp_path: Path, **env: str) -> Iterator[Served]:
    port = free_port()
    environ = {
        k: v
        for k, v in os.environ.items()
        if k != "API_MASTER_KEY" and not k.startswith(("FLYER_", "GRADIO_", "STABLE_"))
    }
    environ.update(
        GRADIO_SERVER_PORT=str(port),
        GRADIO_SERVER_NAME="127.0.0.1",
        PYTHONUNBUFFERED="1",
        **env,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "studio.cli", "serve"],
        cwd=tmp_path,  # no .env there
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield Served(process, port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def stderr_of(served: Served) -> str:
    served.process.terminate()
    served.process.wait(timeout=15)
    assert served.process.stderr is not None
    return served.process.stderr.read()


def test_serve_without_a_key_prints_a_generated_one_once(tmp_path: Path) -> None:
    with serving(tmp_path) as served:
        served.wait_for("Flyer Studio on")
        served.wait_for("password: the API_MASTER_KEY")
        served.wait_healthy()
        printed = "".join(served.stdout)
        keys = re.findall(r"^\s+([A-Za-z0-9_-]{43})$", printed, flags=re.MULTILINE)
        assert len(keys) == 1, printed
        key = keys[0]
        assert printed.count(key) == 1
        assert f"Flyer Studio on {served.url}/" in printed
        login = httpx.post(served.url + "/login", data={"username": "me", "password": key})
        assert login.status_code == 200
        wrong = httpx.post(served.url + "/login", data={"username": "me", "password": "x"})
        assert wrong.status_code == 400
        logs = stderr_of(served)
        assert "login accepted" in logs  # the log is there, without the key
        assert key not in logs


def test_serve_with_a_key_never_prints_it(tmp_path: Path) -> None:
    key = "configured-" + "k" * 30
    with serving(tmp_path, API_MASTER_KEY=key) as served:
        served.wait_for("password: the API_MASTER_KEY")
        served.wait_healthy()
        response = httpx.get(served.url + "/flyer/x", headers={"X-API-Key": key})
        assert response.status_code == 404
        printed = "".join(served.stdout)
        assert key not in printed and "generated key" not in printed
        assert key not in stderr_of(served)


def test_url_and_hint() -> None:
    settings = load_settings(
        {"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "8080"}, env_file=None
    )
    assert server_url(settings) == "http://localhost:8080/"
    assert "any name" in login_hint() and "API_MASTER_KEY" in login_hint()


@pytest.mark.parametrize(("host", "shown"), [("127.0.0.1", "127.0.0.1"), ("::1", "[::1]")])
def test_url_shows_the_host(host: str, shown: str) -> None:
    settings = load_settings({"GRADIO_SERVER_NAME": host}, env_file=None)
    assert server_url(settings) == f"http://{shown}:7860/"


def mounted_blocks(app: FastAPI) -> gr.Blocks:
    mounts = [route for route in app.routes if isinstance(route, Mount) and route.path == ""]
    assert len(mounts) == 1
    blocks: gr.Blocks = mounts[0].app.get_blocks()  # type: ignore[attr-defined]
    return blocks


def test_queue_and_cache_are_configured(studio_server: RunningStudio) -> None:
    blocks = mounted_blocks(studio_server.app)
    assert blocks._queue.max_size == studio_server.settings.queue_size
    assert blocks.delete_cache is not None
    assert blocks.delete_cache[1] == studio_server.settings.store_ttl_seconds


def test_gradio_queue_polls_gently_and_keeps_no_analytics_it_does_not_show(
    studio_server: RunningStudio,
) -> None:
    """studio.server.quiet_queue sets two private attributes of Gradio's queue: this is their
    canary (an upgrade that renames them fails here, not silently)."""
    import inspect

    from gradio.queueing import Queue

    from studio.server import QUEUE_POLL_SECONDS

    assert "self.sleep_when_free" in inspect.getsource(Queue.start_processing)
    assert "self.ANAYLTICS_CACHE_FREQUENCY" in inspect.getsource(Queue.compute_analytics_summary)
    blocks = mounted_blocks(studio_server.app)
    queue = blocks._queue
    assert queue.sleep_when_free == QUEUE_POLL_SECONDS
    assert not blocks.enable_monitoring
    assert queue.ANAYLTICS_CACHE_FREQUENCY >= queue.ANALYTICS_MAX_EVENTS
    client = Client(studio_server.url, auth=studio_server.auth, verbose=False)
    client.predict(title="Jazz", batch_size=1, api_name="/generate")
    assert queue.events_recorded >= 1  # the event went through the queue ...
    assert queue.cached_event_analytics_summary == {"functions": {}}  # ... no summary rebuilt


def test_gradio_cache_files_are_deleted_at_shutdown() -> None:
    settings = studio_settings()
    with run_studio(settings) as studio:
        client = Client(studio.url, auth=studio.auth, verbose=False)
        client.predict(title="Jazz", batch_size=1, api_name="/generate")
        blocks = mounted_blocks(studio.app)
        cached = [Path(p) for group in blocks.temp_file_sets for p in group]
        assert cached and all(p.exists() for p in cached)
    assert not [p for p in cached if p.exists()]


def test_serve_deletes_its_temporary_folder_when_terminated(tmp_path: Path) -> None:
    key = "configured-" + "t" * 30
    temp = tmp_path / "temp"
    with serving(tmp_path, API_MASTER_KEY=key, FLYER_TEMP_DIR=str(temp)) as served:
        served.wait_healthy()
        client = Client(served.url, auth=("me", key), verbose=False,
                        download_files=str(tmp_path / "client"))
        try:
            client.predict(title="Jazz", api_name="/generate")
        finally:
            client.close()
        [own] = list((temp / "flyer-studio").iterdir())
        assert [p for p in own.rglob("*") if p.is_file()]  # the PNG it served lives there
        served.process.terminate()  # SIGTERM, as `docker stop` sends
        served.process.wait(timeout=15)  # uvicorn shuts down gracefully, then re-raises it
    assert list(temp.iterdir()) == []


def test_serve_warns_when_the_stable_diffusion_server_is_unreachable(tmp_path: Path) -> None:
    gone = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    key = "configured-" + "k" * 30
    with serving(tmp_path, API_MASTER_KEY=key, STABLE_DIFUSION_INSTANCE=gone,
                 FLYER_SD_CONNECT_TIMEOUT="1") as served:
        served.wait_for("Flyer Studio on")
        served.wait_healthy()
        printed = "".join(served.stdout)
        warning = printed.split("Flyer Studio on")[0]
        assert f"WARNING: the image backend at {gone} is unreachable" in warning
        assert "Stable Diffusion server not reachable" in warning
        assert "the header shows when it is back" in warning
        assert "The automatic1111 backend at" in stderr_of(served)  # the log says it too


def test_serve_says_nothing_when_the_server_answers(tmp_path: Path) -> None:
    from tests.fake_sd import FakeSDServer

    with FakeSDServer() as sd, serving(tmp_path, API_MASTER_KEY="configured-" + "k" * 30,
                                       STABLE_DIFUSION_INSTANCE=sd.url) as served:
        served.wait_for("Flyer Studio on")
        served.wait_healthy()
        assert "WARNING" not in "".join(served.stdout)
