"""Login sessions end (idle, absolute, logout, restart with another key); the login page does not
describe the API."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace

import httpx
import pytest
from fastapi import FastAPI

from studio.server import create_server
from studio.sessions import Sessions, blank_api_info
from tests.studio.conftest import MakeStudio, RunningStudio, run_studio, studio_settings

ENDPOINTS = ("generate", "rerender", "download_zip")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeGradio:
    """Stands in for Gradio's ``App``: a token table and a cookie id."""

    tokens: dict[str, str] = field(default_factory=dict)
    cookie_id: str = "cid"


def login(gradio: FakeGradio, sessions: Sessions, token: str) -> None:
    gradio.tokens[token] = "me"  # what Gradio's /login does...
    sessions.begin(token)  # ...and what SessionMiddleware records


# --- Sessions -----------------------------------------------------------------------------------


def test_session_ends_after_idle_time_and_leaves_gradio() -> None:
    clock, gradio = FakeClock(), FakeGradio()
    sessions = Sessions(idle_s=100, max_s=1000, clock=clock)
    sessions.attach(gradio)
    login(gradio, sessions, "t")
    for _ in range(5):  # activity keeps it alive past the idle time
        clock.now += 90
        assert sessions.check("t")
    clock.now += 101
    assert not sessions.check("t")
    assert "t" not in gradio.tokens and len(sessions) == 0
    assert not sessions.check("t")


def test_session_ends_at_its_maximum_however_active() -> None:
    clock, gradio = FakeClock(), FakeGradio()
    sessions = Sessions(idle_s=100, max_s=250, clock=clock)
    sessions.attach(gradio)
    login(gradio, sessions, "t")
    clock.now += 90
    assert sessions.check("t")
    clock.now += 90
    assert sessions.check("t")
    clock.now += 90  # 270 s after login, 90 s after the last request
    assert not sessions.check("t")
    assert "t" not in gradio.tokens


def test_tokens_not_handed_out_by_a_login_are_revoked() -> None:
    gradio = FakeGradio(tokens={"planted": "me"})
    sessions = Sessions(idle_s=100, max_s=1000, clock=FakeClock())
    sessions.attach(gradio)
    assert not sessions.check("planted")
    assert gradio.tokens == {}


def test_a_new_login_sweeps_ended_sessions() -> None:
    clock, gradio = FakeClock(), FakeGradio()
    sessions = Sessions(idle_s=100, max_s=1000, clock=clock)
    sessions.attach(gradio)
    for i in range(50):
        login(gradio, sessions, f"old{i}")
    clock.now += 200
    login(gradio, sessions, "new")
    assert len(sessions) == 1 and list(gradio.tokens) == ["new"]


def test_token_is_read_like_gradio_reads_it() -> None:
    sessions = Sessions(idle_s=1, max_s=1)
    sessions.attach(FakeGradio(cookie_id="X"))
    assert sessions.cookie_names == ("access-token-X", "access-token-unsecure-X")
    assert sessions.token_of({"access-token-X": "a", "access-token-unsecure-X": "b"}) == "a"
    assert sessions.token_of({"access-token-unsecure-X": "b"}) == "b"
    assert sessions.token_of({"access-token-Y": "c"}) is None
    with pytest.raises(ValueError):
        Sessions(idle_s=0, max_s=1)


def test_blank_api_info_replaces_only_the_description() -> None:
    page = (
        b'<script>window.gradio_config = {"a":1};</script><script>window.gradio_api_info = '
        b'{"named_endpoints":{"/generate":{"x":"\\u003c/script\\u003e"}}};</script><p>ok</p>'
    )
    out = blank_api_info(page)
    assert b"/generate" not in out and b'{"a":1}' in out and out.endswith(b"<p>ok</p>")


# --- the running studio -------------------------------------------------------------------------


@contextlib.contextmanager
def _logged_in(studio: RunningStudio) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=studio.url, timeout=20) as client:
        assert client.post("/login", data={"username": "me", "password": studio.key}).is_success
        yield client


def _embedded(page: str, name: str) -> object:
    match = re.search(rf"window\.{name} = (.*?);</script>", page, re.DOTALL)
    assert match, name
    return json.loads(match.group(1))


@pytest.mark.parametrize("cookie", ["none", "forged"])
def test_login_page_does_not_describe_the_api(studio_server: RunningStudio, cookie: str) -> None:
    path = "/"
    cookies = {"access-token-unsecure-x": "forged"} if cookie == "forged" else {}
    with httpx.Client(base_url=studio_server.url, cookies=cookies, timeout=20) as stranger:
        # Gradio's run-history page used to embed the API too; the session gate refuses it
        assert stranger.get("/gradio_api/runs").status_code == 401
        page = stranger.get(path)
    assert page.status_code == 200
    assert '"auth_required":true' in page.text
    api_info = _embedded(page.text, "gradio_api_info")
    assert api_info == {"named_endpoints": {}, "unnamed_endpoints": {}}
    config = _embedded(page.text, "gradio_config")
    assert isinstance(config, dict)
    assert config["dependencies"] == [] and config["components"] == []
    for name in ENDPOINTS:
        assert name not in page.text, name
    assert "parameter_name" not in page.text
    head = httpx.head(studio_server.url + path, timeout=20)
    assert head.status_code == 200 and head.content == b""


def test_logged_in_page_still_describes_the_api(studio_server: RunningStudio) -> None:
    with _logged_in(studio_server) as client:
        page = client.get("/")
    assert "/generate" in json.dumps(_embedded(page.text, "gradio_api_info"))


def test_get_logout_is_refused_and_keeps_the_session(studio_server: RunningStudio) -> None:
    with _logged_in(studio_server) as client:
        response = client.get("/logout", follow_redirects=False)
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"
        assert not response.headers.get_list("set-cookie")
        assert client.get("/config").status_code == 200


def test_post_logout_ends_the_session(studio_server: RunningStudio) -> None:
    with _logged_in(studio_server) as client:
        cookies = dict(client.cookies)
        response = client.post(
            "/logout", headers={"Origin": studio_server.url}, follow_redirects=False
        )
        assert response.status_code == 303 and response.headers["location"] == "/"
        cleared = response.headers.get_list("set-cookie")
        assert len(cleared) == 2 and all("Max-Age=0" in c for c in cleared)
        assert not client.cookies
    with httpx.Client(base_url=studio_server.url, cookies=cookies, timeout=20) as replay:
        assert replay.get("/config").status_code == 401
        assert '"auth_required":true' in replay.get("/").text


def test_foreign_page_cannot_log_you_out(studio_server: RunningStudio) -> None:
    with _logged_in(studio_server) as client:
        refused = client.post("/logout", headers={"Origin": "https://evil.example"})
        assert refused.status_code == 403
        assert client.get("/config").status_code == 200


@dataclass
class Studio:
    """The whole studio app (no uvicorn) whose sessions run on a fake clock."""

    app: FastAPI
    client: httpx.AsyncClient

    @property
    def key(self) -> str:
        key = self.app.state.settings.api_master_key
        assert isinstance(key, str)
        return key

    @property
    def gradio_tokens(self) -> dict[str, str]:
        tokens = self.app.state.sessions.gradio.tokens
        assert isinstance(tokens, dict)
        return tokens


def _on_fake_clock(
    clock: FakeClock, call: Callable[[Studio], Awaitable[None]], **env: str
) -> None:
    app = create_server(studio_settings(**env), clock=clock)

    async def run() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://studio") as client:
            await call(Studio(app, client))

    asyncio.run(run())


def test_idle_session_is_revoked_and_its_cookies_cleared() -> None:
    clock = FakeClock()

    async def call(studio: Studio) -> None:
        client = studio.client
        await client.post("/login", data={"username": "me", "password": studio.key})
        token = next(iter(client.cookies.values()))
        assert token in studio.gradio_tokens
        for _ in range(3):
            clock.now += 500
            assert (await client.get("/config")).status_code == 200
        clock.now += 601
        cookies = dict(client.cookies)
        expired = await client.get("/config")
        assert expired.status_code == 401
        cleared = expired.headers.get_list("set-cookie")
        assert {c.split("=", 1)[0] for c in cleared} == set(cookies)
        assert all("Max-Age=0" in c for c in cleared)
        assert token not in studio.gradio_tokens
        client.cookies.update(cookies)  # replaying the old cookie does not help
        assert (await client.get("/config")).status_code == 401
        assert '"auth_required":true' in (await client.get("/")).text

    _on_fake_clock(clock, call, FLYER_SESSION_IDLE="600", FLYER_SESSION_MAX="100000")


def test_active_session_ends_at_its_maximum() -> None:
    clock = FakeClock()

    async def call(studio: Studio) -> None:
        client = studio.client
        await client.post("/login", data={"username": "me", "password": studio.key})
        for _ in range(5):
            clock.now += 500
            assert (await client.get("/config")).status_code == 200
        clock.now += 600  # 3100 s after login, 600 s after the last request
        assert (await client.get("/config")).status_code == 401
        assert not studio.gradio_tokens

    _on_fake_clock(clock, call, FLYER_SESSION_IDLE="1000", FLYER_SESSION_MAX="3000")


def test_session_maximum_on_a_real_server(make_studio: MakeStudio) -> None:
    studio = make_studio(FLYER_SESSION_MAX="1")
    with _logged_in(studio) as client:
        assert client.get("/config").status_code == 200
        time.sleep(1.3)
        assert client.get("/config").status_code == 401


def test_restart_with_a_new_key_refuses_old_cookies() -> None:
    settings = studio_settings()
    with run_studio(settings) as first, _logged_in(first) as client:
        assert client.get("/config").status_code == 200
        old = dict(client.cookies)
    token = next(iter(old.values()))
    renewed = replace(settings, api_master_key="test-" + secrets.token_urlsafe(24))
    with run_studio(renewed) as second:
        with httpx.Client(base_url=second.url, cookies=old, timeout=20) as replay:
            assert replay.get("/config").status_code == 401
            assert '"auth_required":true' in replay.get("/").text
            old_key = {"username": "me", "password": settings.api_master_key}
            assert replay.post("/login", data=old_key).status_code == 400
        with _logged_in(second) as fresh:  # the old token under the new server's cookie names
            names = list(fresh.cookies)
        forged = dict.fromkeys(names, token)
        with httpx.Client(base_url=second.url, cookies=forged, timeout=20) as replay:
            assert replay.get("/config").status_code == 401
