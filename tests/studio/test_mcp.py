"""The MCP endpoint through the ``mcp`` package's own client over HTTP, against the running
studio: tools listed, a flyer made and fetched, the key required (X-API-Key or Bearer), wrong
keys counted by the login throttle, and 404 while FLYER_MCP is off."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client
from mcp.types import CallToolResult, EmbeddedResource, ImageContent, TextContent
from PIL import Image

from .conftest import MakeStudio, RunningStudio

T = TypeVar("T")
Session = Callable[[ClientSession], Awaitable[T]]


def with_session(url: str, headers: dict[str, str], use: Session[T]) -> T:
    """Open an MCP session on ``url``/mcp, initialise it and run ``use`` in it."""
    async def run() -> T:
        async with streamablehttp_client(url + "/mcp", headers=headers, timeout=30) as (
                read, write, _), ClientSession(read, write) as session:
            await session.initialize()
            return await use(session)

    return asyncio.run(run())


def text_of(result: CallToolResult) -> str:
    first = result.content[0]
    assert isinstance(first, TextContent)
    return first.text


@pytest.fixture(scope="module")
def mcp_studio() -> Any:
    from .conftest import run_studio, studio_settings

    with run_studio(studio_settings(FLYER_MCP="true")) as studio:
        yield studio


def test_an_agent_lists_the_tools_and_makes_a_flyer(mcp_studio: RunningStudio) -> None:
    async def use(session: ClientSession) -> dict[str, Any]:
        tools = await session.list_tools()
        made = await session.call_tool("generate", {
            "title": "Agent Jazz Night", "date": "Fri 14 March", "venue": "Le Caveau",
            "url": "https://example.org/jazz", "variants": 2, "format": "a5"})
        flyer_id = json.loads(text_of(made))["flyers"][0]["id"]
        png = await session.call_tool("download", {"flyer_id": flyer_id, "kind": "png"})
        pdf = await session.call_tool("download", {"flyer_id": flyer_id, "kind": "pdf"})
        story = await session.call_tool("rerender", {"flyer_id": flyer_id, "format": "story",
                                                     "title": "Agent Jazz, again"})
        formats = await session.call_tool("list_formats", {})
        return {"tools": [t.name for t in tools.tools], "made": made, "png": png, "pdf": pdf,
                "story": story, "formats": formats, "schema": {
                    t.name: t.inputSchema for t in tools.tools}}

    got = with_session(mcp_studio.url, {"Authorization": f"Bearer {mcp_studio.key}"}, use)
    assert got["tools"] == ["generate", "rerender", "download", "list_layouts", "list_formats",
                            "list_pairings"]
    assert got["schema"]["generate"]["required"] == ["title"]
    made: CallToolResult = got["made"]
    assert not made.isError
    facts = json.loads(text_of(made))["flyers"]
    assert len(facts) == 2 and facts[0]["format"] == "a5"
    assert facts[0]["rest_url"] == f"/flyer/{facts[0]['id']}"
    previews = [c for c in made.content if isinstance(c, ImageContent)]
    assert len(previews) == 2 and previews[0].mimeType == "image/jpeg"
    with Image.open(io.BytesIO(base64.b64decode(previews[0].data))) as preview:
        assert preview.format == "JPEG"
    stored = mcp_studio.service.get(facts[0]["id"])  # a real stored flyer, like the UI's
    assert stored.source.details.title == "Agent Jazz Night"
    png = got["png"].content[1]
    assert isinstance(png, ImageContent) and png.mimeType == "image/png"
    with Image.open(io.BytesIO(base64.b64decode(png.data))) as image:
        assert image.format == "PNG" and image.size == (stored.width, stored.height)
    pdf = got["pdf"].content[1]
    assert isinstance(pdf, EmbeddedResource)
    assert base64.b64decode(pdf.resource.blob).startswith(b"%PDF")  # type: ignore[union-attr]
    story = json.loads(text_of(got["story"]))["flyers"][0]
    assert story["format"] == "story" and story["id"] != facts[0]["id"]
    assert any(f["name"] == "a4" for f in got["formats"].structuredContent["result"])


def test_x_api_key_works_too_and_errors_are_in_the_apis_words(
    mcp_studio: RunningStudio
) -> None:
    async def use(session: ClientSession) -> list[CallToolResult]:
        return [await session.call_tool("generate", {"title": "  "}),
                await session.call_tool("download", {"flyer_id": "nope"}),
                await session.call_tool("generate", {"title": "T", "variants": 50})]

    untitled, unknown, too_many = with_session(mcp_studio.url,
                                               {"X-API-Key": mcp_studio.key}, use)
    assert untitled.isError and text_of(untitled) == "Title is required: give the event a name."
    assert unknown.isError and text_of(unknown).startswith("No flyer with id 'nope'")
    assert too_many.isError and "Batch size must be between 1 and 5" in text_of(too_many)


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong-key-0123456789"},
                                     {"Authorization": "Bearer wrong-key-0123456789"},
                                     {"Authorization": "Basic d3Jvbmc6a2V5"}],
                         ids=["none", "wrong x-api-key", "wrong bearer", "basic"])
def test_the_client_is_refused_without_the_key(mcp_studio: RunningStudio,
                                               headers: dict[str, str]) -> None:
    async def use(session: ClientSession) -> None:
        return None

    with pytest.raises(BaseException) as caught:  # the SDK raises an ExceptionGroup
        with_session(mcp_studio.url, headers, use)
    assert "401" in repr(caught.value)
    raw = httpx.post(mcp_studio.url + "/mcp", headers=headers,
                     json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert raw.status_code == 401
    assert raw.headers["www-authenticate"].startswith("Bearer")
    assert "tools" not in raw.text


def test_wrong_keys_count_in_the_login_throttle(make_studio: MakeStudio) -> None:
    studio = make_studio(FLYER_MCP="true", FLYER_LOGIN_MAX_FAILURES="2")
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    for _ in range(2):
        wrong = httpx.post(studio.url + "/mcp", json=body,
                           headers={"Authorization": "Bearer not-the-key-at-all"})
        assert wrong.status_code == 401
    locked = httpx.post(studio.url + "/mcp", json=body, headers={"X-API-Key": studio.key})
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    login = httpx.post(studio.url + "/login", data={"username": "me", "password": studio.key})
    assert login.status_code == 429  # the same counter as the login form and REST


def test_off_unless_enabled(studio_server: RunningStudio) -> None:
    assert not studio_server.settings.mcp_enabled
    for headers in ({}, {"X-API-Key": studio_server.key}):
        for method in ("GET", "POST", "DELETE"):
            answer = httpx.request(method, studio_server.url + "/mcp", headers=headers)
            assert answer.status_code == 404
            assert "FLYER_MCP=true" in answer.json()["detail"]

    async def use(session: ClientSession) -> None:
        return None

    with pytest.raises(BaseException) as caught:
        with_session(studio_server.url, {"X-API-Key": studio_server.key}, use)
    assert "Session terminated" in repr(caught.value)  # how the SDK reads a 404


def test_no_route_answers_strangers_with_mcp_on(mcp_studio: RunningStudio) -> None:
    """The route sweep's promise, for the app with the MCP endpoint mounted."""
    from .test_route_sweep import STRANGERS

    for headers, cookies in STRANGERS.values():
        with httpx.Client(base_url=mcp_studio.url, headers=headers, cookies=cookies) as http:
            for method in ("GET", "POST", "DELETE"):
                answer = http.request(method, "/mcp", json={"jsonrpc": "2.0", "id": 1,
                                                            "method": "tools/list"})
                assert answer.status_code == 401, (method, answer.text)
