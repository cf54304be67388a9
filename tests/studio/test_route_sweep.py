"""Every route the running app exposes refuses strangers (issue 8, item 6).

The routes are read from the app at run time (our FastAPI routes, the REST router, and every
route of the mounted Gradio app), not from a list kept by hand: a route added by us or by a
Gradio upgrade is swept automatically. Each is called without credentials and with a wrong
key (header, bogus session cookies); only the few public routes below may answer 2xx, and each
of those is checked for what it is allowed to say.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.routing import Mount

from tests.studio.conftest import RunningStudio

ENDPOINT_NAMES = ("download_zip", "rerender", "/generate", "parameter_name", "pairings")


def _login_page(response: httpx.Response) -> bool:
    text = response.text
    return "auth_required" in text and not any(name in text for name in ENDPOINT_NAMES)


def _static(response: httpx.Response) -> bool:
    """Front-end code and icons, the same for everyone: never JSON about this studio."""
    kind = response.headers.get("content-type", "")
    return not kind.startswith("application/json") or not any(
        name in response.text for name in ENDPOINT_NAMES
    )


PUBLIC: dict[str, Callable[[httpx.Response], bool]] = {
    "/healthz": lambda r: r.json() == {"status": "ok"},
    "/": _login_page,
    "/svelte/{path:path}": _static,
    "/static/{path:path}": _static,
    "/assets/{path:path}": _static,
    "/favicon.ico": _static,
    "/theme.css": _static,
    "/gradio_api/theme.css": _static,
    "/robots.txt": _static,
    "/manifest.json": _static,
    "/pwa_icon": _static,
    "/pwa_icon/{size}": _static,
}
"""Routes a stranger may get a 2xx from, with what the answer must satisfy."""

PARAMS = {
    "path_or_url": "/etc/hostname",
    "url_path": "http://127.0.0.1:9/x",
    "api_name": "generate",
    "session_hash": "abc",
    "event_id": "abc",
    "ext": "ts",
    "component_id": "1",
    "size": "192",
}


def _routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for route in routes:
        if isinstance(route, Mount):
            yield from _routes(list(route.routes), prefix + route.path)
        elif hasattr(route, "original_router"):  # FastAPI's included routers
            context = getattr(route, "include_context", None)
            yield from _routes(list(route.original_router.routes),
                               prefix + (getattr(context, "prefix", "") or ""))
        elif hasattr(route, "path"):
            for method in sorted(getattr(route, "methods", None) or {"GET"}):
                yield prefix + route.path, method


def _url(template: str) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        return PARAMS.get(name, "x")

    return re.sub(r"\{([^}]+)\}", fill, template)


def _all_routes(studio: RunningStudio) -> list[tuple[str, str]]:
    found = sorted(set(_routes(list(studio.app.routes))))
    assert len(found) > 40, "the sweep found too few routes: is the Gradio app mounted?"
    return found


STRANGERS = {
    "no credentials": ({}, {}),
    "wrong key": (
        {"X-API-Key": "wrong-key-0123456789abcdef", "Authorization": "Bearer wrong"},
        {"access-token": "forged", "access-token-unsecure": "forged"},
    ),
}


@pytest.mark.parametrize("who", list(STRANGERS))
def test_no_route_answers_strangers_with_data(studio_server: RunningStudio, who: str) -> None:
    headers, cookies = STRANGERS[who]
    answered: list[str] = []
    with httpx.Client(base_url=studio_server.url, timeout=10, headers=headers,
                      cookies=cookies) as http:
        for template, method in _all_routes(studio_server):
            url = _url(template)
            body = {"data": [], "fn_index": 0, "session_hash": "abc"} if method == "POST" else None
            response = http.request(method, url, json=body)
            if response.status_code < 200 or response.status_code >= 300:
                assert response.status_code < 500, f"{method} {url}: {response.status_code}"
                continue
            check = PUBLIC.get(template)
            if check is None or (method != "HEAD" and not check(response)):
                answered.append(f"{method} {template} -> {response.status_code} "
                                f"{response.text[:120]!r}")
    assert not answered, "routes answered a stranger:\n" + "\n".join(answered)


def test_the_public_list_stays_small(studio_server: RunningStudio) -> None:
    """A public route that disappears from the app is dropped from the list too."""
    templates = {template for template, _ in _all_routes(studio_server)}
    assert set(PUBLIC) <= templates
