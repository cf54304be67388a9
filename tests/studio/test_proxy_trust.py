"""Forwarded headers, the global failure ceiling and the key's length (issue 8, item 3).

All over real HTTP through uvicorn as ``serve`` configures it (``uvicorn_config``): from
127.0.0.1 a client used to send a new ``X-Forwarded-For`` with every wrong password and was
never throttled.
"""

from __future__ import annotations

import httpx
import pytest

from pipeline.errors import ConfigError
from studio.server import create_server, uvicorn_config
from tests.studio.conftest import MakeStudio, studio_settings


def _login(http: httpx.Client, password: str, forwarded: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return http.post("/login", data={"username": "me", "password": password}, headers=headers)


def test_spoofed_forwarded_for_does_not_reset_the_throttle(make_studio: MakeStudio) -> None:
    studio = make_studio(FLYER_LOGIN_MAX_FAILURES="3", FLYER_LOGIN_LOCKOUT="120")
    with httpx.Client(base_url=studio.url, timeout=10) as http:
        for n in range(3):
            assert _login(http, "guess", f"203.0.113.{n}").status_code == 400
        locked = _login(http, studio.key, "198.51.100.77")  # a fresh header changes nothing
        assert locked.status_code == 429
        assert locked.json()["detail"] == "Too many failed logins; try again in 2 minutes."
        assert int(locked.headers["retry-after"]) > 100


def test_rest_key_guessing_with_rotating_headers_is_throttled(make_studio: MakeStudio) -> None:
    studio = make_studio(FLYER_LOGIN_MAX_FAILURES="3")
    with httpx.Client(base_url=studio.url, timeout=10) as http:
        for n in range(3):
            answer = http.get("/flyer/x", headers={"X-API-Key": "guess",
                                                   "X-Forwarded-For": f"203.0.113.{n}"})
            assert answer.status_code == 403
        answer = http.get("/flyer/x", headers={"X-API-Key": studio.key,
                                               "X-Forwarded-For": "192.0.2.1"})
        assert answer.status_code == 429
        assert "Too many failed logins" in answer.json()["detail"]


def test_listed_proxy_is_believed(make_studio: MakeStudio) -> None:
    studio = make_studio(FLYER_LOGIN_MAX_FAILURES="2", FLYER_TRUSTED_PROXIES="127.0.0.1")
    with httpx.Client(base_url=studio.url, timeout=10) as http:
        for _ in range(2):
            assert _login(http, "guess", "203.0.113.5").status_code == 400
        assert _login(http, studio.key, "203.0.113.5").status_code == 429
        assert _login(http, studio.key, "198.51.100.9").status_code == 200  # someone else


def test_global_ceiling_stops_rotating_addresses(make_studio: MakeStudio) -> None:
    studio = make_studio(FLYER_LOGIN_GLOBAL_MAX_FAILURES="4", FLYER_TRUSTED_PROXIES="127.0.0.1")
    with httpx.Client(base_url=studio.url, timeout=10) as http:
        for n in range(4):
            assert _login(http, "guess", f"203.0.113.{n}").status_code == 400
        for address in ("198.51.100.1", "198.51.100.2"):
            refused = _login(http, studio.key, address)  # even the right key, from anyone
            assert refused.status_code == 429
            assert refused.json()["detail"] == "Too many failed logins; try again in 1 minute."
        rest = http.get("/flyer/x", headers={"X-API-Key": "guess",
                                             "X-Forwarded-For": "198.51.100.3"})
        assert rest.status_code == 429


def test_uvicorn_never_falls_back_to_its_default_trust() -> None:
    plain = uvicorn_config(None, studio_settings())
    assert plain.proxy_headers is False and plain.forwarded_allow_ips == []
    listed = uvicorn_config(None, studio_settings(FLYER_TRUSTED_PROXIES="10.0.0.0/24, 10.1.2.3"))
    assert listed.proxy_headers is True
    assert listed.forwarded_allow_ips == ["10.0.0.0/24", "10.1.2.3"]


@pytest.mark.parametrize("value", ["10.0.0.1/24", "proxy.example", "10.0.0.300"])
def test_bad_trusted_proxy_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="FLYER_TRUSTED_PROXIES"):
        studio_settings(FLYER_TRUSTED_PROXIES=value)


def test_short_master_key_refuses_to_start() -> None:
    with pytest.raises(ConfigError) as raised:
        create_server(studio_settings(API_MASTER_KEY="hunter2-hunter2"))  # 15 characters
    message = str(raised.value)
    assert "API_MASTER_KEY" in message and "16" in message and "keygen" in message
    assert "hunter2" not in message
