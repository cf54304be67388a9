"""Foreign web origins are refused; over HTTPS the cookies are Secure and HSTS is sent."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gradio_client import Client

from studio.web_guard import HSTS_VALUE, secure_cookie
from tests.studio.conftest import MakeStudio, RunningStudio, run_studio, studio_settings

EVIL = "https://evil.example"
PUBLIC_HOST = "flyers.example.org"  # the studio as a public host name (Gradio trusts localhost)


def _preflight(origin: str, host: str | None = None) -> dict[str, str]:
    headers = {"Origin": origin, "Access-Control-Request-Method": "POST"}
    if host:
        headers["Host"] = host
    return headers


@pytest.fixture
def session(studio_server: RunningStudio) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=studio_server.url, timeout=20) as client:
        assert client.post("/login", data={"username": "me", "password": studio_server.key})
        yield client


# --- foreign origins ----------------------------------------------------------------------------


@pytest.mark.parametrize("host", [None, PUBLIC_HOST])
@pytest.mark.parametrize("path", ["/config", "/login", "/gradio_api/queue/join", "/flyer"])
def test_foreign_preflight_gets_no_cors_grant(
    studio_server: RunningStudio, host: str | None, path: str
) -> None:
    response = httpx.options(studio_server.url + path, headers=_preflight(EVIL, host), timeout=20)
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-credentials" not in response.headers
    assert response.status_code == 403


@pytest.mark.parametrize("host", [None, PUBLIC_HOST])
@pytest.mark.parametrize("origin", [EVIL, "null", "http://127.0.0.1:1", "https://127.0.0.1"])
def test_foreign_origin_cannot_read_config_even_with_a_session(
    session: httpx.Client, host: str | None, origin: str
) -> None:
    headers = {"Origin": origin} | ({"Host": host} if host else {})
    response = session.get("/config", headers=headers)
    assert response.status_code == 403
    assert "components" not in response.text and "access-control-allow-origin" not in (
        response.headers
    )
    assert session.get("/config").status_code == 200  # the session itself is fine


def test_foreign_origin_cannot_log_in_or_queue(studio_server: RunningStudio) -> None:
    with httpx.Client(base_url=studio_server.url, timeout=20, headers={"Origin": EVIL}) as evil:
        login = evil.post("/login", data={"username": "me", "password": studio_server.key})
        assert login.status_code == 403 and not login.headers.get_list("set-cookie")
        join = evil.post("/gradio_api/queue/join", json={"data": [], "fn_index": 0})
        assert join.status_code == 403


def test_same_origin_requests_work(studio_server: RunningStudio) -> None:
    with httpx.Client(base_url=studio_server.url, timeout=20) as client:
        own = {"Origin": studio_server.url}
        assert client.post(
            "/login", data={"username": "me", "password": studio_server.key}, headers=own
        ).is_success
        assert client.get("/config", headers=own).json()["components"]
        public = {"Host": PUBLIC_HOST, "Origin": f"http://{PUBLIC_HOST}"}
        assert client.get("/config", headers=public).status_code == 200
        # behind a TLS proxy the browser's origin is https; the proxy says so
        proxied = public | {"Origin": f"https://{PUBLIC_HOST}", "X-Forwarded-Proto": "https"}
        assert client.get("/config", headers=proxied).status_code == 200
        unproxied = public | {"Origin": f"https://{PUBLIC_HOST}"}
        assert client.get("/config", headers=unproxied).status_code == 403


def test_listed_origin_gets_credentialed_cors(make_studio: MakeStudio) -> None:
    listed = "https://intranet.example:8443"
    studio = make_studio(FLYER_ALLOWED_ORIGINS=f" {listed}/ , https://other.example")
    for host in (None, PUBLIC_HOST):
        pre = httpx.options(studio.url + "/config", headers=_preflight(listed, host), timeout=20)
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == listed
        assert pre.headers["access-control-allow-credentials"] == "true"
        evil = httpx.options(studio.url + "/config", headers=_preflight(EVIL, host), timeout=20)
        assert "access-control-allow-origin" not in evil.headers
    with httpx.Client(base_url=studio.url, timeout=20, headers={"Origin": listed}) as client:
        assert client.post("/login", data={"username": "me", "password": studio.key}).is_success
        config = client.get("/config")
        assert config.status_code == 200 and config.json()["components"]
        assert config.headers["access-control-allow-origin"] == listed


def test_clients_without_origin_are_not_affected(studio_server: RunningStudio) -> None:
    client = Client(studio_server.url, auth=studio_server.auth, verbose=False)
    assert "/generate" in client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    response = httpx.get(studio_server.url + "/flyer/none", headers=studio_server.headers)
    assert response.status_code == 404


# --- HTTPS --------------------------------------------------------------------------------------


def test_secure_cookie_flags() -> None:
    gradio = "access-token-unsecure-x=abc; HttpOnly; Path=/; SameSite=lax"
    assert secure_cookie(gradio) == (
        "access-token-unsecure-x=abc; Path=/; Secure; HttpOnly; SameSite=Lax"
    )
    assert secure_cookie("access-token-x=v; httponly; Path=/; SameSite=none; Secure") == (
        "access-token-x=v; Path=/; Secure; HttpOnly; SameSite=Lax"
    )
    assert secure_cookie("other=1; Path=/; SameSite=strict") == (
        "other=1; Path=/; SameSite=strict; Secure"
    )


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 (made with the openssl command)."""
    if shutil.which("openssl") is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but the openssl command is missing")
        pytest.skip("the openssl command is missing (apt-get install openssl)")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert),
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return cert, key


@pytest.fixture(scope="module")
def tls_studio(certificate: tuple[Path, Path]) -> Iterator[RunningStudio]:
    cert, key = certificate
    settings = studio_settings(FLYER_SSL_CERTFILE=str(cert), FLYER_SSL_KEYFILE=str(key))
    with run_studio(settings) as studio:
        yield studio


def _tls_client(studio: RunningStudio, cert: Path) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(cert))
    return httpx.Client(base_url=studio.url, verify=context, timeout=30)


def test_tls_cookies_are_secure_and_httponly(
    tls_studio: RunningStudio, certificate: tuple[Path, Path]
) -> None:
    assert tls_studio.url.startswith("https://")
    with _tls_client(tls_studio, certificate[0]) as client:
        login = client.post("/login", data={"username": "me", "password": tls_studio.key})
        assert login.status_code == 200
        cookies = login.headers.get_list("set-cookie")
        assert len(cookies) == 2
        for cookie in cookies:
            flags = {part.strip().lower() for part in cookie.split(";")[1:]}
            assert {"secure", "httponly", "samesite=lax"} <= flags, cookie
        assert login.headers["strict-transport-security"] == HSTS_VALUE
        assert client.get("/config").status_code == 200  # Secure cookies travel over TLS
        logout = client.post("/logout", headers={"Origin": tls_studio.url}, follow_redirects=False)
        assert logout.status_code == 303
        for cookie in logout.headers.get_list("set-cookie"):
            assert "Max-Age=0" in cookie and "Secure" in cookie
        assert client.get("/config").status_code == 401


@pytest.mark.parametrize("path", ["/", "/healthz", "/config", "/flyer/none", "/logout"])
def test_tls_responses_carry_hsts(
    tls_studio: RunningStudio, certificate: tuple[Path, Path], path: str
) -> None:
    with _tls_client(tls_studio, certificate[0]) as client:
        response = client.get(path, headers={"Origin": EVIL} if path == "/config" else {})
    assert response.headers["strict-transport-security"] == HSTS_VALUE


def test_gradio_client_works_over_tls(tls_studio: RunningStudio) -> None:
    client = Client(tls_studio.url, auth=tls_studio.auth, verbose=False, ssl_verify=False)
    assert "/generate" in client.view_api(print_info=False, return_format="dict")["named_endpoints"]


def test_plain_http_sends_no_hsts(studio_server: RunningStudio) -> None:
    assert "strict-transport-security" not in httpx.get(studio_server.url + "/healthz").headers
