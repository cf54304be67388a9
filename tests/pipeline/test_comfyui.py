"""ComfyUIBackend against the loopback FakeComfyUI: real HTTP and a real websocket."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from pipeline.backends import ServerPool
from pipeline.backends._comfy_workflow import load_workflow
from pipeline.backends.base import PaintRequest
from pipeline.backends.comfyui import ComfyOptions, ComfyUIBackend
from pipeline.errors import (
    BackendAuthError,
    BackendCancelled,
    BackendError,
    BackendResponseError,
    ContentRefused,
    ModelNotFound,
    RateLimited,
    WorkflowInvalid,
)
from pipeline.settings import load_settings
from tests.fake_comfyui import FakeComfyUI
from tests.fake_http import seed_colours
from tests.pipeline.battery import (
    assert_fault_then_usable,
    assert_times_out,
    assert_unreachable,
    closed_url,
)

REQUEST = PaintRequest(prompt="jazz night, neon", aspect=(4, 5), count=3,
                       negative_prompt="text, watermark", seed=1234, pixel_budget=96 * 120)


@pytest.fixture
def comfy() -> Iterator[FakeComfyUI]:
    with FakeComfyUI() as server:
        yield server


def corner(image: object) -> np.ndarray:
    return np.asarray(image, dtype=np.float64)[:4, :4].reshape(-1, 3).mean(axis=0)


def test_batch_is_one_prompt_with_the_placeholders_filled(
    comfy: FakeComfyUI, client: httpx.Client
) -> None:
    backend = ComfyUIBackend(comfy.url, client=client,
                             options=ComfyOptions(steps=9, cfg=5.5, sampler="dpmpp_2m"))
    painting = backend.generate(REQUEST)
    assert len(comfy.prompts) == 1
    graph = comfy.prompts[0]
    assert graph["6"]["inputs"]["text"] == "jazz night, neon"
    assert graph["7"]["inputs"]["text"] == "text, watermark"
    sampler = graph["3"]["inputs"]
    assert (sampler["seed"], sampler["steps"], sampler["cfg"], sampler["sampler_name"]) == (
        1234, 9, 5.5, "dpmpp_2m")
    latent = graph["5"]["inputs"]
    assert (latent["width"], latent["height"], latent["batch_size"]) == (96, 120, 3)
    assert graph["4"]["inputs"]["ckpt_name"] == "v1-5-pruned-emaonly.safetensors"
    assert [g.seed for g in painting.images] == [1234] * 3
    for index, generated in enumerate(painting.images):  # batch index i: the fake's seed + i
        assert generated.image.size == (96, 120)
        assert np.abs(corner(generated.image) - seed_colours(1234 + index)[0]).max() < 12
    assert painting.server == comfy.url and painting.backend == "comfyui"
    assert painting.model == "v1-5-pruned-emaonly.safetensors"
    assert painting.describe()["workflow"] == "default"


def test_a_random_seed_is_chosen_and_recorded(comfy: FakeComfyUI, client: httpx.Client) -> None:
    painting = ComfyUIBackend(comfy.url, client=client).generate(
        PaintRequest(prompt="x", seed=-1, pixel_budget=64 * 64))
    sent = comfy.prompts[0]["3"]["inputs"]["seed"]
    assert isinstance(sent, int) and sent >= 0 and painting.images[0].seed == sent


def test_paint_size_follows_the_model_family(client: httpx.Client) -> None:
    settings = load_settings({"FLYER_COMFYUI_URL": "http://127.0.0.1:8188",
                              "FLYER_MODEL_FAMILY": "flux"}, env_file=None)
    backend = ComfyUIBackend.from_settings(settings, "http://127.0.0.1:8188", client=client)
    width, height = backend.paint_size(PaintRequest(prompt="x", aspect=(1080, 1350)))
    assert width % 16 == 0 and height % 16 == 0
    assert abs(width * height - 1024 * 1024) < 0.06 * 1024 * 1024


def test_progress_arrives_over_the_websocket(client: httpx.Client) -> None:
    calls: list[tuple[float, str]] = []
    with FakeComfyUI(delay=0.6) as comfy:
        ComfyUIBackend(comfy.url, client=client).generate(
            REQUEST, lambda fraction, message: calls.append((fraction, message)))
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and calls[-1] == (1.0, "done")
    assert len({f for f in fractions if 0.05 < f < 1}) >= 5, calls
    assert any("step 5 of 10" in message for _, message in calls)


def test_a_cached_execution_still_returns_the_images(
    comfy: FakeComfyUI, client: httpx.Client
) -> None:
    backend = ComfyUIBackend(comfy.url, client=client)
    first = backend.generate(REQUEST)
    calls: list[str] = []
    started = time.monotonic()
    again = backend.generate(REQUEST, lambda fraction, message: calls.append(message))
    assert time.monotonic() - started < 2 and comfy.cached_runs == 1
    assert any("cached" in message for message in calls)
    assert [g.seed for g in again.images] == [g.seed for g in first.images]
    assert np.array_equal(np.asarray(again.images[2].image), np.asarray(first.images[2].image))


def test_without_a_websocket_the_history_is_polled(
    comfy: FakeComfyUI, client: httpx.Client
) -> None:
    backend = ComfyUIBackend(comfy.url, client=client, websocket=False, poll_interval=0.05)
    assert len(backend.generate(REQUEST).images) == 3


def run_in_thread(backend: ComfyUIBackend | ServerPool, cancel: threading.Event,
                  outcomes: dict[str, object], name: str) -> threading.Thread:
    def run() -> None:
        try:
            outcomes[name] = backend.generate(REQUEST, cancel=cancel)
        except BackendError as exc:
            outcomes[name] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_cancel_interrupts_only_the_running_job(client: httpx.Client) -> None:
    outcomes: dict[str, object] = {}
    with FakeComfyUI(delay=20) as comfy:
        backend = ComfyUIBackend(comfy.url, client=client)
        cancel = threading.Event()
        thread = run_in_thread(backend, cancel, outcomes, "job")
        deadline = time.monotonic() + 5
        while comfy.queue_state()["queue_running"] == [] and time.monotonic() < deadline:
            time.sleep(0.02)
        started = time.monotonic()
        cancel.set()
        thread.join(10)
        assert time.monotonic() - started < 3
        assert isinstance(outcomes["job"], BackendCancelled)
        assert len(comfy.interrupts) == 1 and comfy.interrupts[0] is not None


def test_cancelling_a_queued_job_removes_it_and_spares_the_running_one(
    client: httpx.Client
) -> None:
    """Two studios (two clients) share one ComfyUI: cancelling the one still queued takes it out
    of the queue and never interrupts the other's running job."""
    outcomes: dict[str, object] = {}
    with FakeComfyUI(delay=1.5) as comfy:
        other = ComfyUIBackend(comfy.url, client=client)
        mine = ComfyUIBackend(comfy.url, client=client)
        running = run_in_thread(other, threading.Event(), outcomes, "other")
        while not comfy.queue_state()["queue_running"]:
            time.sleep(0.02)
        cancel = threading.Event()
        queued = run_in_thread(mine, cancel, outcomes, "mine")
        while not comfy.queue_state()["queue_pending"]:
            time.sleep(0.02)
        cancel.set()
        queued.join(5)
        running.join(10)
        assert isinstance(outcomes["mine"], BackendCancelled)
        assert comfy.interrupts == [] and len(comfy.deleted) == 1
        assert len(outcomes["other"].images) == 3  # type: ignore[attr-defined]


# --- faults --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "error", "words"),
    [
        ("garbage", BackendResponseError, "prompt_id"),
        ("few_images", BackendResponseError, "2 image(s) instead of 3"),
        ("oom", BackendResponseError, "out of GPU memory"),
        ("error500", BackendResponseError, "HTTP 500"),
        ("refusal", ContentRefused, "reword the prompt"),
        ("rate_limit", RateLimited, "try again in 7 s"),
    ],
)
def test_each_fault_has_its_message_and_the_server_stays_usable(
    mode: str, error: type[BackendError], words: str, comfy: FakeComfyUI, client: httpx.Client
) -> None:
    backend = ComfyUIBackend(comfy.url, client=client, read_timeout=5)
    caught = assert_fault_then_usable(comfy, mode, error, words,
                                      lambda: backend.generate(REQUEST), count=3, within=5)
    if isinstance(caught, RateLimited):
        assert caught.retry_after == 7


def test_down_server_is_unavailable(client: httpx.Client) -> None:
    assert_unreachable(lambda: ComfyUIBackend(closed_url(), client=client).generate(REQUEST))


def test_slow_server_times_out(client: httpx.Client) -> None:
    with FakeComfyUI(delay=5) as comfy:
        backend = ComfyUIBackend(comfy.url, client=client, read_timeout=0.2)
        assert_times_out(lambda: backend.generate(REQUEST), within=2.5)
        assert comfy.interrupts  # the job was taken off the server


def test_credentials_from_the_url(client: httpx.Client) -> None:
    with FakeComfyUI(auth=("artist", "s3cret-pass")) as comfy:
        with pytest.raises(BackendAuthError) as caught:
            ComfyUIBackend(comfy.url, client=client).generate(REQUEST)
        assert "FLYER_COMFYUI_URL" in str(caught.value)
        url = comfy.url.replace("http://", "http://artist:s3cret-pass@")
        backend = ComfyUIBackend(url, client=client, websocket=False, poll_interval=0.05)
        assert len(backend.generate(REQUEST).images) == 3
        assert "s3cret-pass" not in (backend.server or "")


def test_unknown_checkpoint_is_model_not_found(comfy: FakeComfyUI, client: httpx.Client) -> None:
    backend = ComfyUIBackend(comfy.url, client=client,
                             options=ComfyOptions(checkpoint="missing.safetensors"))
    with pytest.raises(ModelNotFound) as caught:
        backend.generate(REQUEST)
    assert "missing.safetensors" in str(caught.value)
    assert "FLYER_COMFYUI_CHECKPOINT" in str(caught.value)


def test_node_errors_are_shown_plainly(comfy: FakeComfyUI, client: httpx.Client) -> None:
    workflow = load_workflow(None)
    del workflow["8"]["class_type"]
    with pytest.raises(WorkflowInvalid, match="node 8"):
        ComfyUIBackend(comfy.url, client=client, workflow=workflow).generate(REQUEST)
    assert comfy.prompts == []


def test_a_ui_format_workflow_is_refused_with_the_export_hint(tmp_path: Path) -> None:
    path = tmp_path / "ui.json"
    path.write_text(json.dumps({"last_node_id": 9, "nodes": [{"id": 3, "type": "KSampler"}],
                                "links": [], "version": 0.4}))
    with pytest.raises(WorkflowInvalid) as caught:
        load_workflow(path)
    assert "UI format" in str(caught.value) and "API" in str(caught.value)


def test_own_workflow_with_a_node_mapping(
    comfy: FakeComfyUI, client: httpx.Client, tmp_path: Path
) -> None:
    workflow = load_workflow(None)  # an export without placeholders, nodes renumbered
    renumbered = json.loads(json.dumps(workflow).replace('"{{checkpoint}}"',
                                                         '"sd_xl_base_1.0.safetensors"'))
    for node in renumbered.values():
        for key, value in list(node["inputs"].items()):
            if isinstance(value, str) and value.startswith("{{"):
                node["inputs"][key] = 0 if key != "text" else ""
    renumbered["3"]["inputs"].update(steps=8, cfg=6.0, sampler_name="euler",
                                     scheduler="normal")
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(renumbered))
    settings = load_settings({
        "FLYER_COMFYUI_URL": comfy.url, "FLYER_COMFYUI_WORKFLOW": str(path),
        "FLYER_COMFYUI_NODES": "prompt=6.text,negative_prompt=7.text,seed=3.seed,width=5.width,"
                               "height=5.height,batch_size=5.batch_size,output=9",
    }, env_file=None)
    backend = ComfyUIBackend.from_settings(settings, comfy.url, client=client)
    painting = backend.generate(REQUEST)
    graph = comfy.prompts[0]
    assert graph["6"]["inputs"]["text"] == "jazz night, neon"
    assert graph["3"]["inputs"]["seed"] == 1234
    assert graph["5"]["inputs"]["batch_size"] == 3 and graph["3"]["inputs"]["steps"] == 8
    assert painting.model == "sd_xl_base_1.0.safetensors" and len(painting.images) == 3
    bad = load_settings({
        "FLYER_COMFYUI_URL": comfy.url, "FLYER_COMFYUI_WORKFLOW": str(path),
        "FLYER_COMFYUI_NODES": "prompt=60.text"}, env_file=None)
    with pytest.raises(WorkflowInvalid, match="node 60"):
        ComfyUIBackend.from_settings(bad, comfy.url, client=client).generate(REQUEST)
