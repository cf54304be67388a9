"""Every door goes one path: the UI's handler, the Gradio API, REST, MCP and the CLI each pass
the event's title through the one request builder (``pipeline.app_api.build_request``) to the
one service call, and on to the pixels' manifest. gradio_client's /generate composes each flyer
once and reports its progress as the UI does; one gate per server for every door, with each
waiting job told its place in line."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio_client import Client
from mcp import ClientSession

import pipeline.app_api
from pipeline.app_api import FlyerApp
from pipeline.backends.pool import waiting_message
from pipeline.models import FlyerRequest
from studio.cli import main as cli_main
from studio.handlers import StudioHandlers
from studio.ui_files import SessionFiles
from tests.fake_sd import FakeSDServer

from .conftest import MakeStudio, RunningStudio, run_studio, studio_settings
from .test_mcp import text_of, with_session


def _client(studio: RunningStudio, folder: Path) -> Client:
    return Client(studio.url + "/", auth=studio.auth, verbose=False, download_files=str(folder))


def _until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The titles the one request builder saw, in order (it still builds the request)."""
    seen: list[str] = []
    real = pipeline.app_api.build_request

    def spy(fields: Mapping[str, Any], **files: Any) -> FlyerRequest:
        seen.append(str(fields.get("title")))
        return real(fields, **files)

    monkeypatch.setattr(pipeline.app_api, "build_request", spy)
    yield seen


def test_every_door_passes_the_title_through_the_one_builder(
    built: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with run_studio(studio_settings(FLYER_MCP="true")) as studio:
        service = studio.service

        def made(title: str, ids: list[str]) -> None:  # the builder saw it, the flyer says it
            assert built[-1] == title, (title, built)
            assert ids and all(service.get(i).source.details.title == title for i in ids)

        # the UI's Generate handler (UI events are private: driven as the button does)
        handlers = StudioHandlers(FlyerApp(service), SessionFiles(max_age_seconds=60))
        view = handlers.generate({"title": "Door UI", "random_seed": True, "batch_size": 1},
                                 "session-ui", lambda f, m: None)
        made("Door UI", view.ids)
        # the Gradio API
        client = _client(studio, tmp_path / "api")
        try:
            _pngs, manifests = client.predict(title="Door API", api_name="/generate")
        finally:
            client.close()
        assert manifests[0]["provenance"]["details"]["title"] == "Door API"
        made("Door API", [m["id"] for m in manifests])
        # REST
        answer = httpx.post(studio.url + "/flyer", headers=studio.headers, timeout=60, json={
            "prompt": "p", "size": [1080, 1350], "details": {"title": "Door REST"}})
        assert answer.status_code == 200, answer.text
        made("Door REST", [u.rsplit("/", 1)[1] for u in answer.json()["flyers_uris"]])

        # MCP
        async def use(session: ClientSession) -> Any:
            return await session.call_tool("generate", {"title": "Door MCP"})

        result = with_session(studio.url, studio.headers, use)
        assert not result.isError
        made("Door MCP", [f["id"] for f in json.loads(text_of(result))["flyers"]])
    # the CLI (in this process, with its own service)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FLYER_BACKEND", "procedural")
    assert cli_main(["render", "--title", "Door CLI", "--out", str(tmp_path / "cli")]) == 0
    assert built[-1] == "Door CLI"
    manifest = json.loads((tmp_path / "cli" / "flyer-1.json").read_text())
    assert manifest["provenance"]["details"]["title"] == "Door CLI"
    assert built == ["Door UI", "Door API", "Door REST", "Door MCP", "Door CLI"]


def test_no_door_builds_a_request_itself() -> None:
    """The studio never constructs FlyerRequest or EventDetails: only the builder does."""
    studio = Path(__file__).resolve().parents[2] / "studio"
    offenders = [f"{path.name}:{number}" for path in sorted(studio.glob("*.py"))
                 for number, line in enumerate(path.read_text().splitlines(), start=1)
                 if "FlyerRequest(" in line or "EventDetails(" in line]
    assert offenders == []


def test_gradio_client_generate_composes_once_and_reports_progress(
    make_studio: MakeStudio, tmp_path: Path
) -> None:
    studio = make_studio()
    service = studio.service
    client = _client(studio, tmp_path)
    try:
        before = service.compositions
        # posts (5.8 MB of pixels each) and an A4 re-render (36.5 MB) fit the composed-pixels
        # cache (64 MB); a print batch larger than that composes its oldest again on download
        job = client.submit(title="Progress", format="instagram_post", batch_size=3,
                            api_name="/generate")
        seen: list[str] = []
        while not job.done():
            status = job.status()
            seen += [p.desc for p in status.progress_data or [] if p.desc]
            time.sleep(0.01)
        pngs, manifests = job.result(timeout=60)
        assert len(pngs) == 3 and all(Path(p).read_bytes()[:4] == b"\x89PNG" for p in pngs)
        assert service.compositions - before == 3  # once per flyer, PNGs from those pixels
        assert any(d.startswith("Composing flyer") for d in seen), seen
        _png, pdf, _manifest = client.predict(flyer_id=manifests[0]["id"], format="a4",
                                              api_name="/rerender")
        assert pdf is not None and service.compositions - before == 4  # once more
        client.predict(flyer_id=manifests[1]["id"], kind="pdf", api_name="/download")
        assert service.compositions - before == 4  # a download encodes, it does not compose
    finally:
        client.close()


def test_one_gate_for_every_door_and_waiting_jobs_see_their_place(
    make_studio: MakeStudio, fake_sd: FakeSDServer, tmp_path: Path
) -> None:
    studio = make_studio(sd=fake_sd)
    fake_sd.mode = "slow"
    fake_sd.delay = 4.0  # long enough for two clients to join the line on a loaded machine
    body = {"prompt": "p", "size": [1080, 1350], "details": {"title": "REST first"}}
    answers: list[httpx.Response] = []
    rest = threading.Thread(target=lambda: answers.append(httpx.post(
        studio.url + "/flyer", json=body, headers=studio.headers, timeout=60)))
    rest.start()  # REST takes the one server...
    _until(lambda: len(fake_sd.txt2img_requests) == 1, 15, "the REST job to paint")
    second, third = _client(studio, tmp_path / "b"), _client(studio, tmp_path / "c")
    try:
        jobs = [second.submit(title="Second", api_name="/generate")]
        seen: dict[int, set[str]] = {0: set(), 1: set()}
        deadline = time.monotonic() + 90
        while not all(job.done() for job in jobs) or len(jobs) < 2:
            assert time.monotonic() < deadline, seen
            if len(jobs) < 2 and _backend_waiting(studio) == 1:  # the second waits: a third
                jobs.append(third.submit(title="Third", api_name="/generate"))
            for index, job in enumerate(jobs):
                seen[index] |= {p.desc for p in job.status().progress_data or [] if p.desc}
            time.sleep(0.02)
        for job in jobs:
            assert len(job.result(timeout=30)[0]) == 1
    finally:
        second.close()
        third.close()
        rest.join(30)
    assert answers and answers[0].status_code == 200
    # ...the Gradio jobs wait for it in the pool (not in a gate of their own), in order
    assert waiting_message(0) in seen[0], seen
    assert waiting_message(1) in seen[1] and waiting_message(0) in seen[1], seen
    prompts = [r["prompt"] for r in fake_sd.txt2img_requests]
    assert prompts == ["p", "Second", "Third"], prompts


def _backend_waiting(studio: RunningStudio) -> int:
    return int(studio.service.backend.waiting)  # type: ignore[attr-defined]


def test_a_full_line_refuses_the_next_job_at_once_whatever_its_door(
    make_studio: MakeStudio, fake_sd: FakeSDServer, tmp_path: Path
) -> None:
    studio = make_studio(sd=fake_sd, FLYER_QUEUE_SIZE="1")
    fake_sd.mode = "slow"
    fake_sd.delay = 4.0
    body = {"prompt": "p", "size": [1080, 1350], "details": {"title": "REST"}}
    answers: list[httpx.Response] = []
    rest = threading.Thread(target=lambda: answers.append(httpx.post(
        studio.url + "/flyer", json=body, headers=studio.headers, timeout=60)))
    rest.start()
    _until(lambda: len(fake_sd.txt2img_requests) == 1, 15, "the REST job to paint")
    client = _client(studio, tmp_path)
    try:
        waiting = client.submit(title="In line", api_name="/generate")
        _until(lambda: _backend_waiting(studio) == 1, 15, "the Gradio job to wait")
        started = time.monotonic()
        refused = httpx.post(studio.url + "/flyer", json=body, headers=studio.headers,
                             timeout=60)
        took = time.monotonic() - started
        assert refused.status_code == 503 and refused.json() == {"detail": "Service Overload"}
        assert took < 2.0, took  # at once, not after FLYER_QUEUE_MAX_WAIT or the job ahead
        assert len(waiting.result(timeout=60)[0]) == 1
    finally:
        client.close()
        rest.join(30)
    assert answers and answers[0].status_code == 200
    assert len(fake_sd.txt2img_requests) == 2  # the refused job never painted
