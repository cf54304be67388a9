"""Talk to the studio's Gradio routes the way an attacker would: raw HTTP, no gradio_client.

``logged_in(studio)`` is an ``httpx.Client`` holding a session cookie; ``event(...)`` joins the
queue with any payload and returns every message until the event completes; ``call(...)``
does the same through ``/gradio_api/call/<api_name>``; ``ui_event_inputs(...)`` builds the full
input list of a UI event (defaults from ``/config``) with some components replaced.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from tests.studio.conftest import RunningStudio

__all__ = ["call", "event", "file_data", "logged_in", "ui_dependency", "ui_event_inputs"]


@contextlib.contextmanager
def logged_in(studio: RunningStudio, timeout: float = 30.0) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=studio.url, timeout=timeout) as http:
        response = http.post("/login", data={"username": "tester", "password": studio.key})
        assert response.status_code == 200, response.text
        yield http


def file_data(path: str) -> dict[str, Any]:
    """A ``FileData`` as a client sends it, naming ``path`` on the server."""
    return {"path": path, "orig_name": "logo.png", "meta": {"_type": "gradio.FileData"}}


def ui_dependency(config: Mapping[str, Any], label: str) -> tuple[int, list[int]]:
    """``(fn_index, input ids)`` of the first event whose inputs include the component
    labelled ``label``."""
    ids = [c["id"] for c in config["components"] if c.get("props", {}).get("label") == label]
    for index, dep in enumerate(config["dependencies"]):
        if any(i in dep.get("inputs", []) for i in ids):
            return index, list(dep["inputs"])
    raise AssertionError(f"no event takes the component labelled {label!r}")


def ui_event_inputs(
    config: Mapping[str, Any], inputs: list[int], replace: Mapping[str, Any]
) -> list[Any]:
    """Default values of ``inputs`` (component ids), with those labelled in ``replace``
    swapped for the given values."""
    by_id = {c["id"]: c for c in config["components"]}
    values = []
    for component_id in inputs:
        props = by_id[component_id].get("props", {})
        label = props.get("label")
        values.append(replace[label] if label in replace else props.get("value"))
    return values


def _sse(lines: httpx.Response) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for line in lines.iter_lines():
        if line.startswith("data:"):
            try:
                messages.append(json.loads(line[5:].strip()))
            except json.JSONDecodeError:
                messages.append({"raw": line[5:].strip()})
    return messages


def event(http: httpx.Client, fn_index: int, data: list[Any]) -> tuple[str, list[dict[str, Any]]]:
    """Join the queue and read this session's stream until the event completes; returns the
    raw text of every answer and the parsed messages."""
    session = secrets.token_hex(8)
    joined = http.post(
        "/gradio_api/queue/join",
        json={"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None},
    )
    texts = [joined.text]
    if joined.status_code != 200:
        return "".join(texts), []
    messages: list[dict[str, Any]] = []
    with http.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as stream:
        for message in _sse(stream):
            messages.append(message)
            if message.get("msg") in ("process_completed", "close_stream", "unexpected_error"):
                break
    texts.extend(json.dumps(m) for m in messages)
    return "".join(texts), messages


def call(http: httpx.Client, api_name: str, data: list[Any]) -> str:
    """``POST /gradio_api/call/<api_name>`` then read the result stream; the raw text."""
    posted = http.post(f"/gradio_api/call/{api_name}", json={"data": data})
    if posted.status_code != 200:
        return posted.text
    event_id = posted.json()["event_id"]
    with http.stream("GET", f"/gradio_api/call/{api_name}/{event_id}") as stream:
        return posted.text + "".join(stream.iter_text())
