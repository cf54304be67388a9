"""The fault modes every loopback fake shares (tests/fake_http.py) behave the same in each fake:
real HTTP against each one, through httpx."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.fake_comfyui import FakeComfyUI
from tests.fake_hf import MODEL, FakeHFEndpoint
from tests.fake_http import FakeHTTPServer
from tests.fake_openai import FakeOpenAI
from tests.fake_sd import FakeSDServer

KEY = "sk-fake-0123"
AUTH = ("artist", "pa55")

Case = tuple[FakeHTTPServer, str, dict[str, Any], httpx.Client]
"""(the fake, its generation route, a body for it, a client with the right credentials)."""

# name -> (the fake, wanting credentials; its generation route; a body; Basic (else bearer))
FAKES: dict[str, tuple[Callable[[], FakeHTTPServer], str, dict[str, Any], bool]] = {
    "a1111": (lambda: FakeSDServer(auth=AUTH), "/sdapi/v1/txt2img", {"prompt": "x"}, True),
    "comfyui": (lambda: FakeComfyUI(auth=AUTH), "/prompt", {"prompt": {}}, True),
    "openai": (lambda: FakeOpenAI(key=KEY), "/v1/images/generations",
               {"model": "dall-e-2", "prompt": "x", "n": 2, "size": "256x256"}, False),
    "hf": (lambda: FakeHFEndpoint(key=KEY), f"/models/{MODEL}", {"inputs": "x"}, False),
}


@pytest.fixture(params=sorted(FAKES))
def fake(request: pytest.FixtureRequest) -> Iterator[Case]:
    make, route, body, basic = FAKES[request.param]
    auth = httpx.BasicAuth(*AUTH) if basic else None
    headers = {} if basic else {"Authorization": f"Bearer {KEY}"}
    with make() as server, httpx.Client(base_url=server.url, auth=auth, headers=headers,
                                        timeout=5) as client:
        yield server, route, body, client


def test_unknown_mode_names_the_fake_and_the_valid_ones(fake: Case) -> None:
    server = fake[0]
    with pytest.raises(ValueError, match=f"unknown {type(server).__name__} mode 'nope'") as caught:
        server.mode = "nope"
    assert "garbage" in str(caught.value) and server.mode == "ok"


def test_missing_credentials_are_refused_with_401(fake: Case) -> None:
    server, route, body, _ = fake
    with httpx.Client(base_url=server.url, timeout=5) as anonymous:
        assert anonymous.post(route, json=body).status_code == 401


def test_garbage_is_a_web_page_with_200(fake: Case) -> None:
    server, route, body, client = fake
    server.mode = "garbage"
    response = client.post(route, json=body)
    assert response.status_code == 200 and response.headers["content-type"] == "text/html"
    assert b"<html>" in response.content
    assert server.requests[-1]["path"] == route  # every request is recorded


def test_down_answers_nothing_then_the_fault_table_answers(fake: Case) -> None:
    server, route, body, client = fake
    server.mode = "down"
    with pytest.raises(httpx.RemoteProtocolError):
        client.post(route, json=body)
    server.mode = "error500"
    assert client.post(route, json=body).status_code == 500


def test_kill_closes_the_port(fake: Case) -> None:
    server, route, body, client = fake
    server.kill()
    with pytest.raises(httpx.ConnectError):
        client.post(route, json=body)
