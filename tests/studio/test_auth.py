"""The master key guards every route; failed logins lock an address out; the key is never logged."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator

import httpx
import pytest
from gradio_client import Client

from studio.auth import KeyChecker, LoginThrottle, lockout_message
from tests.studio.conftest import MakeStudio, RunningStudio

KEY = "s3cret-Key-ÄÖ"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- KeyChecker ---------------------------------------------------------------------------------


def test_key_checker_accepts_any_user_name_with_the_key() -> None:
    check = KeyChecker(KEY)
    assert check("me", KEY)
    assert check("Somebody Else", KEY)


@pytest.mark.parametrize(
    ("user", "password"),
    [("", KEY), ("   ", KEY), ("me", ""), ("me", KEY + "x"), ("me", KEY[:-1]), ("me", KEY.upper())],
)
def test_key_checker_refuses(user: str, password: str) -> None:
    assert not KeyChecker(KEY)(user, password)


def test_key_checker_hides_the_key() -> None:
    check = KeyChecker(KEY)
    assert KEY not in repr(check) and KEY not in str(check)
    assert check.matches(KEY) and not check.matches(None) and not check.matches("")
    with pytest.raises(ValueError):
        KeyChecker("")


# --- LoginThrottle ------------------------------------------------------------------------------


def test_throttle_locks_after_max_failures_then_releases() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(max_failures=5, window_s=60, lockout_s=300, clock=clock)
    for _ in range(4):
        assert not throttle.record_failure("10.0.0.1")
    assert throttle.locked_for("10.0.0.1") == 0
    assert throttle.record_failure("10.0.0.1")
    assert throttle.locked_for("10.0.0.1") == pytest.approx(300)
    assert throttle.locked_for("10.0.0.2") == 0  # other addresses are not affected
    clock.now += 299
    assert throttle.locked_for("10.0.0.1") == pytest.approx(1)
    clock.now += 2
    assert throttle.locked_for("10.0.0.1") == 0


def test_throttle_counts_only_failures_within_the_window() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(max_failures=3, window_s=60, lockout_s=300, clock=clock)
    for _ in range(10):  # one failure every 31 s: never 3 within 60 s
        assert not throttle.record_failure("a")
        clock.now += 31
    assert throttle.locked_for("a") == 0


def test_throttle_success_forgets_failures() -> None:
    throttle = LoginThrottle(max_failures=3, window_s=60, lockout_s=300, clock=FakeClock())
    throttle.record_failure("a")
    throttle.record_failure("a")
    throttle.record_success("a")
    assert not throttle.record_failure("a")
    assert not throttle.record_failure("a")


def test_throttle_memory_is_bounded() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(
        max_failures=5, window_s=60, lockout_s=300, clock=clock, max_addresses=100
    )
    for i in range(1000):
        throttle.record_failure(f"10.0.{i // 256}.{i % 256}")
    assert len(throttle) <= 100
    clock.now += 61  # all failures out of the window: pruned on the next new address
    for i in range(100):
        throttle.record_failure(f"10.9.0.{i}")
    assert len(throttle) <= 100


def test_throttle_is_thread_safe() -> None:
    throttle = LoginThrottle(max_failures=800, window_s=600, lockout_s=60)
    locks: list[bool] = []

    def hammer() -> None:
        for _ in range(100):
            if throttle.record_failure("a"):
                locks.append(True)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert locks == [True]  # exactly the 800th failure locked the address
    assert throttle.locked_for("a") > 0


def test_lockout_message_says_when_to_retry() -> None:
    assert lockout_message(300) == (
        "Too many failed logins; try again in 5 minutes."
    )
    assert "1 minute." in lockout_message(10)


# --- every route needs the key -------------------------------------------------------------------

GRADIO_GETS = [
    "/config",
    "/gradio_api/info",
    "/gradio_api/openapi.json",
    "/gradio_api/file=/etc/hostname",
    "/gradio_api/queue/data?session_hash=abc",
    "/gradio_api/call/generate/abc",
]
GRADIO_POSTS = [
    ("/gradio_api/call/generate", {"data": []}),
    ("/gradio_api/queue/join", {"data": [], "fn_index": 0, "session_hash": "abc"}),
    ("/gradio_api/run/generate", {"data": []}),
]


@pytest.fixture(params=["no cookie", "forged cookie"])
def stranger(
    request: pytest.FixtureRequest, studio_server: RunningStudio
) -> Iterator[httpx.Client]:
    cookies = {}
    if request.param == "forged cookie":
        cookies = {"access-token": studio_server.key, "access-token-unsecure": "abc"}
    with httpx.Client(base_url=studio_server.url, cookies=cookies, timeout=10) as client:
        yield client


@pytest.mark.parametrize("path", GRADIO_GETS)
def test_gradio_get_routes_refuse_strangers(stranger: httpx.Client, path: str) -> None:
    response = stranger.get(path)
    assert response.status_code in (401, 403), (path, response.status_code, response.text[:200])


@pytest.mark.parametrize(("path", "body"), GRADIO_POSTS)
def test_gradio_post_routes_refuse_strangers(
    stranger: httpx.Client, path: str, body: dict[str, object]
) -> None:
    response = stranger.post(path, json=body)
    assert response.status_code in (401, 403), (path, response.status_code, response.text[:200])


def test_upload_refuses_strangers(stranger: httpx.Client) -> None:
    response = stranger.post(
        "/gradio_api/upload", files={"files": ("a.png", b"\x89PNG", "image/png")}
    )
    assert response.status_code in (401, 403)


def test_page_shows_only_the_login_form_to_strangers(
    stranger: httpx.Client, studio_server: RunningStudio
) -> None:
    page = stranger.get("/")
    assert page.status_code == 200
    assert '"auth_required":true' in page.text.replace(" ", "")
    logged_in = httpx.Client(base_url=studio_server.url, timeout=10)
    with logged_in:
        assert logged_in.post(
            "/login", data={"username": "me", "password": studio_server.key}
        ).is_success
        full = logged_in.get("/config")
        assert full.status_code == 200 and full.json().get("components")


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}, {"X-API-Key": ""}])
def test_rest_routes_refuse_strangers(
    studio_server: RunningStudio, headers: dict[str, str]
) -> None:
    body = {"prompt": "p", "size": [1080, 1350], "batch_size": 1, "details": {"title": "T"}}
    with httpx.Client(base_url=studio_server.url, headers=headers, timeout=10) as client:
        assert client.post("/flyer", json=body).status_code == 403
        assert client.get("/flyer/anything").status_code == 403


def test_fastapi_docs_are_not_exposed(studio_server: RunningStudio) -> None:
    for path in ("/docs", "/redoc", "/openapi.json"):
        response = httpx.get(studio_server.url + path, timeout=10)
        assert response.status_code in (401, 403, 404), path
        assert "/flyer" not in response.text


def test_healthz_answers_without_the_key(studio_server: RunningStudio) -> None:
    response = httpx.get(studio_server.url + "/healthz", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


# --- logging in ----------------------------------------------------------------------------------


def test_gradio_client_logs_in_with_any_user_name_and_the_key(studio_server: RunningStudio) -> None:
    client = Client(studio_server.url, auth=("anyone at all", studio_server.key), verbose=False)
    assert "/generate" in client.view_api(print_info=False, return_format="dict")["named_endpoints"]


@pytest.mark.parametrize("auth", [("me", "wrong key"), ("", "KEY")])
def test_gradio_client_refused(studio_server: RunningStudio, auth: tuple[str, str]) -> None:
    user, password = auth
    password = studio_server.key if password == "KEY" else password
    with pytest.raises(Exception, match=r"(?i)login|credential"):
        Client(studio_server.url, auth=(user, password), verbose=False)


def test_failed_logins_lock_out_only_that_address(make_studio: MakeStudio) -> None:
    studio = make_studio(FLYER_LOGIN_MAX_FAILURES="3", FLYER_LOGIN_LOCKOUT="120")
    wrong = {"username": "me", "password": "guess"}
    right = {"username": "me", "password": studio.key}

    def client(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=studio.app, client=(address, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://studio")

    async def attack() -> None:
        async with client("203.0.113.7") as attacker, client("198.51.100.9") as other:
            for _ in range(3):
                assert (await attacker.post("/login", data=wrong)).status_code == 400
            locked = await attacker.post("/login", data=right)  # even the right key: locked out
            assert locked.status_code == 429
            assert locked.json()["detail"] == (
                "Too many failed logins; try again in 2 minutes."
            )
            assert int(locked.headers["retry-after"]) > 100
            rest = await attacker.get("/flyer/x", headers={"X-API-Key": studio.key})
            assert rest.status_code == 429
            assert (await other.post("/login", data=right)).status_code == 200
            assert (await other.get("/healthz")).status_code == 200

    asyncio.run(attack())

    # over real HTTP, loopback is one address: three wrong keys on REST lock /login too
    with httpx.Client(base_url=studio.url, timeout=10) as real:
        for _ in range(3):
            assert real.get("/flyer/x", headers={"X-API-Key": "guess"}).status_code == 403
        response = real.post("/login", data=right)
        assert response.status_code == 429
        assert "Too many failed logins" in response.json()["detail"]


def test_the_key_never_reaches_logs_or_answers(
    make_studio: MakeStudio, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    for name in ("studio", "pipeline", "gradio", "uvicorn", "uvicorn.access", "fastapi"):
        caplog.set_level(logging.DEBUG, logger=name)
    studio = make_studio()
    key = studio.key
    bodies: list[str] = []
    with httpx.Client(base_url=studio.url, timeout=60) as http:
        bodies.append(http.post("/login", data={"username": "me", "password": key + "x"}).text)
        bodies.append(http.post("/login", data={"username": key, "password": "x"}).text)
        bodies.append(http.post("/login", data={"username": "me", "password": key}).text)
        bodies.append(http.get("/flyer/nope", headers={"X-API-Key": key + "x"}).text)
        bodies.append(http.get("/flyer/nope", headers={"X-API-Key": key}).text)
        body = {"prompt": "p", "size": [512, 512], "batch_size": 1, "details": {"title": "Jazz"}}
        ok = http.post("/flyer", json=body, headers={"X-API-Key": key})
        assert ok.status_code == 200
        bad = dict(body, details={"title": ""})
        bodies.append(http.post("/flyer", json=bad, headers={"X-API-Key": key}).text)
    messages = [r.getMessage() for r in caplog.records]
    assert any("login refused" in m for m in messages) and any(
        "login accepted" in m for m in messages
    )
    assert not [m for m in messages if key in m]
    out, err = capfd.readouterr()
    assert key not in out and key not in err
    assert not [b for b in bodies if key in b]
