"""Fixtures that run the whole studio (``create_server``) with uvicorn on a loopback port.

- ``studio_server``: procedural backend, module scope.
- ``sd_server``: a :class:`FakeSDServer` (module scope); ``studio_on_fake_sd`` is a studio whose
  backend is that server (module scope). ``fake_sd`` is function scoped: it puts the shared
  fake back in mode ``ok`` with no recorded requests before and after the test.
- ``make_studio(**env)``: a studio with custom settings for one test, e.g.
  ``make_studio(MAX_IN_MEMORY="2")`` or ``make_studio(sd=sd_server)``.

Each running studio is a :class:`RunningStudio` with ``.url`` (ends without ``/``), ``.key``,
``.service``, ``.settings``, ``.headers`` (``X-API-Key``) and ``.auth`` (for gradio_client).
Shared servers allow many failed logins so that one test's wrong keys do not lock out the next;
a test about lockout builds its own with ``make_studio(FLYER_LOGIN_MAX_FAILURES=...)``.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from pipeline.service import FlyerService
from pipeline.settings import Settings, load_settings
from studio.server import StudioServer, create_server, uvicorn_config
from tests.fake_sd import FakeSDServer

__all__ = ["RunningStudio", "run_studio", "studio_settings"]

MakeStudio = Callable[..., "RunningStudio"]


@dataclass(frozen=True)
class RunningStudio:
    url: str
    key: str
    service: FlyerService
    settings: Settings
    app: FastAPI
    sd: FakeSDServer | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key}

    @property
    def auth(self) -> tuple[str, str]:
        return ("tester", self.key)


def studio_settings(sd: FakeSDServer | None = None, **env: str) -> Settings:
    """Settings for a test studio: a fresh random key, loopback, generous login limits, the
    procedural backend (or ``sd``'s URL), and ``env`` on top (variable name -> value)."""
    values = {
        "API_MASTER_KEY": "test-" + secrets.token_urlsafe(24),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "FLYER_LOGIN_MAX_FAILURES": "1000",
        "FLYER_SD_CONNECT_TIMEOUT": "2",
        "FLYER_SD_READ_TIMEOUT": "10",
    }
    if sd is not None:
        values["STABLE_DIFUSION_INSTANCE"] = sd.url
        values["FLYER_BACKEND"] = "automatic1111"
    values.update(env)
    return load_settings(values, env_file=None)


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


@contextlib.contextmanager
def run_studio(
    settings: Settings, service: FlyerService | None = None, sd: FakeSDServer | None = None,
    after_generation: Callable[[int], None] | None = None,
) -> Iterator[RunningStudio]:
    """Run ``create_server(settings, service, after_generation=...)`` on a free loopback port
    until the block ends."""
    service = service if service is not None else FlyerService.from_settings(settings)
    app = create_server(settings, service, after_generation=after_generation)
    sock = _bound_socket()
    port = sock.getsockname()[1]
    tls = bool(settings.ssl_certfile and settings.ssl_keyfile)
    config = uvicorn_config(app, settings, log_level="warning", lifespan="on",
                            timeout_graceful_shutdown=2)
    server = StudioServer(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            try:  # a test's throwaway certificate: the health poll does not verify it
                if httpx.get(f"{url}/healthz", timeout=2, verify=not tls).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the studio did not start within 30 s")
            time.sleep(0.05)
        assert settings.api_master_key
        yield RunningStudio(url, settings.api_master_key, service, settings, app, sd)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@pytest.fixture(scope="module")
def studio_server() -> Iterator[RunningStudio]:
    with run_studio(studio_settings()) as studio:
        yield studio


@pytest.fixture(scope="module")
def sd_server() -> Iterator[FakeSDServer]:
    with FakeSDServer() as sd:
        yield sd


@pytest.fixture(scope="module")
def studio_on_fake_sd(sd_server: FakeSDServer) -> Iterator[RunningStudio]:
    with run_studio(studio_settings(sd_server), sd=sd_server) as studio:
        yield studio


@pytest.fixture
def fake_sd(sd_server: FakeSDServer) -> Iterator[FakeSDServer]:
    """The module's fake server, reset to mode ``ok`` with no recorded requests."""
    sd_server.mode = "ok"
    sd_server.delay = 0.0
    sd_server.txt2img_requests.clear()
    yield sd_server
    sd_server.mode = "ok"
    sd_server.delay = 0.0
    sd_server.txt2img_requests.clear()


@pytest.fixture
def make_studio() -> Iterator[MakeStudio]:
    """``make_studio(sd=None, service=None, **env)`` starts a studio that stops after the
    test."""
    with contextlib.ExitStack() as stack:

        def make(
            sd: FakeSDServer | None = None, service: FlyerService | None = None, **env: str
        ) -> RunningStudio:
            settings = studio_settings(sd, **env)
            return stack.enter_context(run_studio(settings, service, sd))

        yield make
