"""Automatic1111Backend against the loopback FakeSDServer: real sockets, real HTTP."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from PIL import Image

from pipeline.backends import ServerPool, create_backend
from pipeline.backends.automatic1111 import A1111Options, Automatic1111Backend, native_size
from pipeline.backends.base import PaintRequest
from pipeline.errors import (
    BackendAuthError,
    BackendCancelled,
    BackendError,
    BackendResponseError,
    BackendUnavailable,
    InvalidRequest,
    RateLimited,
)
from pipeline.settings import load_settings
from tests.fake_http import seed_colours
from tests.fake_sd import FakeSDServer
from tests.pipeline.battery import (
    assert_fault_then_usable,
    assert_times_out,
    assert_unreachable,
    closed_port,
    closed_url,
)

PASSWORD = "pa55-Wörd-xyzzy"


OPTIONS = A1111Options(steps=12, cfg_scale=6.5, sampler="Euler a")


def params(**overrides: object) -> PaintRequest:
    """A request the backend paints at exactly 96 × 128 (the budget caps the area)."""
    values: dict[str, object] = {
        "prompt": "jazz night, neon",
        "aspect": (96, 128),
        "pixel_budget": 96 * 128,
        "count": 1,
        "negative_prompt": "text, watermark",
        "seed": 1234,
    }
    values.update(overrides)
    return PaintRequest(**values)  # type: ignore[arg-type]


def A1111(url: str, **kwargs: object) -> Automatic1111Backend:
    kwargs.setdefault("options", OPTIONS)
    return Automatic1111Backend(url, **kwargs)  # type: ignore[arg-type]


def mean_colour(image: Image.Image, box: tuple[int, int, int, int]) -> np.ndarray:
    return np.asarray(image.crop(box), dtype=np.float64).reshape(-1, 3).mean(axis=0)


@pytest.fixture
def sd() -> Iterator[FakeSDServer]:
    with FakeSDServer() as server:
        yield server


# --- the happy path ------------------------------------------------------------------------


def test_batch_is_one_request_with_every_parameter(sd: FakeSDServer, client: httpx.Client) -> None:
    backend = A1111(sd.url, client=client)
    images = backend.generate(params(count=3)).images

    assert len(sd.txt2img_requests) == 1
    sent = sd.txt2img_requests[0]
    assert sent["batch_size"] == 3
    assert sent["n_iter"] == 1
    assert (sent["width"], sent["height"]) == (96, 128)
    assert sent["prompt"] == "jazz night, neon"
    assert sent["negative_prompt"] == "text, watermark"
    assert (sent["steps"], sent["cfg_scale"], sent["sampler_name"]) == (12, 6.5, "Euler a")
    assert sent["seed"] == 1234

    assert [g.seed for g in images] == [1234, 1235, 1236]
    for generated in images:
        assert generated.image.mode == "RGB"
        assert generated.image.size == (96, 128)
        # The fake paints a gradient from seed_colours(seed): the corners prove which seed.
        top_left, bottom_right = seed_colours(generated.seed)
        assert np.abs(mean_colour(generated.image, (0, 0, 4, 4)) - top_left).max() < 12
        assert np.abs(mean_colour(generated.image, (92, 124, 96, 128)) - bottom_right).max() < 12


def test_random_seed_reports_the_servers_seeds(sd: FakeSDServer, client: httpx.Client) -> None:
    images = A1111(sd.url, client=client).generate(params(seed=-1, count=2)).images
    assert sd.txt2img_requests[0]["seed"] == -1
    first, second = (g.seed for g in images)
    assert first >= 0 and second == first + 1
    top_left, _ = seed_colours(second)
    assert np.abs(mean_colour(images[1].image, (0, 0, 4, 4)) - top_left).max() < 12


def test_data_prefix_and_extra_images_are_handled(sd: FakeSDServer, client: httpx.Client) -> None:
    backend = A1111(sd.url, client=client)
    sd.mode = "data_prefix"
    assert len(backend.generate(params(count=2)).images) == 2
    sd.mode = "extra_images"
    images = backend.generate(params(count=2, seed=7)).images
    assert [g.seed for g in images] == [7, 8]


def test_missing_info_falls_back_to_seed_plus_index(sd: FakeSDServer, client: httpx.Client) -> None:
    sd.mode = "no_info"
    images = A1111(sd.url, client=client).generate(params(count=2, seed=40)).images
    assert [g.seed for g in images] == [40, 41]


def test_model_name_is_read_once_and_falls_back(sd: FakeSDServer, client: httpx.Client) -> None:
    assert A1111(sd.url, client=client).model == "fake-model.safetensors"
    offline = A1111(f"http://127.0.0.1:{closed_port()}", client=client)
    assert offline.model == "unknown"


def test_from_settings_uses_url_auth_and_timeouts(client: httpx.Client) -> None:
    with FakeSDServer(auth=("artist", PASSWORD)) as sd:
        settings = load_settings(
            {"STABLE_DIFUSION_INSTANCE": sd.url, "FLYER_SD_AUTH": f"artist:{PASSWORD}"},
            env_file=None,
        )
        backend = create_backend(settings.backend, settings, client=client)
        assert isinstance(backend, ServerPool)
        painting = backend.generate(params())
        assert len(painting.images) == 1 and painting.server == sd.url


# --- progress and cancel -------------------------------------------------------------------


def test_progress_grows_during_a_slow_job(client: httpx.Client) -> None:
    calls: list[tuple[float, str]] = []
    with FakeSDServer(mode="slow", delay=1.2) as sd:
        backend = A1111(sd.url, client=client, poll_interval=0.1)
        backend.generate(params(), lambda fraction, message: calls.append((fraction, message)))
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions)
    assert calls[-1] == (1.0, "done")
    middle = {round(f, 2) for f in fractions if 0.0 < f < 1.0}
    assert len(middle) >= 3, calls
    assert any("left" in message for _, message in calls)


def test_cancel_from_another_thread(client: httpx.Client) -> None:
    outcome: list[BaseException | None] = []
    cancel = threading.Event()
    with FakeSDServer(mode="slow", delay=20) as sd:
        backend = A1111(sd.url, client=client, poll_interval=0.05)

        def run() -> None:
            try:
                backend.generate(params(), cancel=cancel)
                outcome.append(None)
            except BaseException as exc:
                outcome.append(exc)

        worker = threading.Thread(target=run)
        started = time.monotonic()
        worker.start()
        while not sd.txt2img_requests and time.monotonic() - started < 5:
            time.sleep(0.02)
        cancel.set()
        worker.join(10)
        assert not worker.is_alive()
        assert time.monotonic() - started < 8
        assert sd.interrupted == 1
    assert len(outcome) == 1 and isinstance(outcome[0], BackendCancelled)


def test_a_job_cancel_event_interrupts_that_job_only(client: httpx.Client) -> None:
    """Two jobs on one server (its pool is the gate): cancelling the one waiting for its turn
    interrupts nothing; cancelling the one painting interrupts the server."""
    outcomes: dict[str, BaseException | int] = {}
    with FakeSDServer(mode="slow", delay=20) as sd:
        backend = ServerPool([A1111(sd.url, client=client, poll_interval=0.05)])
        painting, waiting = threading.Event(), threading.Event()

        def run(name: str, cancel: threading.Event) -> None:
            try:
                outcomes[name] = len(backend.generate(params(), cancel=cancel).images)
            except BaseException as exc:
                outcomes[name] = exc

        first = threading.Thread(target=run, args=("painting", painting))
        first.start()
        deadline = time.monotonic() + 5
        while not sd.txt2img_requests and time.monotonic() < deadline:
            time.sleep(0.02)
        second = threading.Thread(target=run, args=("waiting", waiting))
        second.start()
        time.sleep(0.3)

        waiting.set()
        second.join(5)
        assert not second.is_alive()
        assert isinstance(outcomes["waiting"], BackendCancelled)
        assert sd.interrupted == 0 and len(sd.txt2img_requests) == 1

        painting.set()
        first.join(10)
        assert not first.is_alive()
        assert isinstance(outcomes["painting"], BackendCancelled)
        assert sd.interrupted == 1


def test_a_job_cancelled_before_its_turn_sends_nothing(
    sd: FakeSDServer, client: httpx.Client
) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(BackendCancelled):
        A1111(sd.url, client=client).generate(params(), cancel=cancel)
    assert sd.txt2img_requests == [] and sd.interrupted == 0


# --- errors --------------------------------------------------------------------------------


def test_connection_refused_is_unavailable(client: httpx.Client) -> None:
    url = closed_url()
    message = assert_unreachable(lambda: A1111(url, client=client).generate(params()))
    assert url in message and "running" in message


def test_password_in_url_is_never_shown(client: httpx.Client) -> None:
    port = closed_port()
    backend = A1111(f"http://artist:{PASSWORD}@127.0.0.1:{port}", client=client)
    with pytest.raises(BackendUnavailable) as caught:
        backend.generate(params())
    assert PASSWORD not in str(caught.value)
    assert f"127.0.0.1:{port}" in str(caught.value)


def test_no_api_says_start_with_api(sd: FakeSDServer, client: httpx.Client) -> None:
    sd.mode = "no_api"
    with pytest.raises(BackendUnavailable, match="--api"):
        A1111(sd.url, client=client).generate(params())


def test_unknown_sampler_is_not_mistaken_for_missing_api(
    sd: FakeSDServer, client: httpx.Client
) -> None:
    with pytest.raises(BackendResponseError, match="Sampler not found"):
        A1111(sd.url, client=client, options=A1111Options(sampler="Nope 9000")).generate(
            params())


@pytest.mark.parametrize("given", [None, ("artist", "wrong-" + PASSWORD), ("intruder", PASSWORD)])
def test_missing_or_wrong_auth(given: tuple[str, str] | None, client: httpx.Client) -> None:
    with FakeSDServer(auth=("artist", PASSWORD)) as sd:
        backend = A1111(sd.url, client=client, auth=given)
        with pytest.raises(BackendAuthError) as caught:
            backend.generate(params())
        assert sd.txt2img_requests == []
    message = str(caught.value)
    assert "FLYER_SD_AUTH" in message and "--api-auth" in message
    assert PASSWORD not in message


def test_right_auth_works(client: httpx.Client) -> None:
    with FakeSDServer(auth=("artist", PASSWORD)) as sd:
        backend = A1111(sd.url, client=client, auth=("artist", PASSWORD))
        assert len(backend.generate(params(count=2)).images) == 2
        assert backend.model == "fake-model.safetensors"


@pytest.mark.parametrize(
    ("mode", "error", "words"),
    [
        ("oom", BackendResponseError, "out of GPU memory"),
        ("error500", BackendResponseError, "HTTP 500"),
        ("garbage", BackendResponseError, "JSON"),
        ("bad_base64", BackendResponseError, "base64"),
        ("few_images", BackendResponseError, "2 image(s) instead of 3"),
    ],
)
def test_error_modes(
    mode: str, error: type[BackendError], words: str, client: httpx.Client
) -> None:
    with FakeSDServer(auth=("artist", PASSWORD)) as sd:
        backend = A1111(sd.url, client=client, auth=("artist", PASSWORD))
        assert_fault_then_usable(sd, mode, error, words,
                                 lambda: backend.generate(params(count=3)), count=3,
                                 secret=PASSWORD)


def test_undecodable_image_is_a_response_error(client: httpx.Client) -> None:
    import base64

    body = {"images": [base64.b64encode(b"definitely not a png").decode()], "info": "{}"}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    with httpx.Client(transport=transport) as mocked:
        backend = A1111("http://sd.invalid:7860", client=mocked, poll_interval=0.01)
        with pytest.raises(BackendResponseError, match="could not be decoded"):
            backend.generate(params())


def test_slow_server_times_out(client: httpx.Client) -> None:
    with FakeSDServer(mode="slow", delay=3) as sd:
        backend = A1111(sd.url, client=client, read_timeout=0.3, poll_interval=0.05)
        assert_times_out(lambda: backend.generate(params(count=1)), within=2.5)


def test_read_timeout_scales_with_batch_size(client: httpx.Client) -> None:
    with FakeSDServer(mode="slow", delay=0.6) as sd:
        backend = A1111(sd.url, client=client, read_timeout=0.25, poll_interval=0.05)
        # 0.25 s per image × 4 images = 1 s: enough for a 0.6 s job.
        request = params(count=4, aspect=(1, 1), pixel_budget=64 * 64)
        assert len(backend.generate(request).images) == 4


# --- native_size ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "native"),
    [
        ((1080, 1350), 512),
        ((1080, 1350), 1024),
        ((1920, 1080), 512),
        ((2480, 3508), 1024),  # A4 at 300 dpi
        ((1000, 1000), 768),
        ((1500, 500), 512),
        ((1241, 1754), 512),
    ],
)
def test_native_size(target: tuple[int, int], native: int) -> None:
    width, height = native_size(target[0], target[1], native)
    assert width % 8 == 0 and height % 8 == 0
    assert math.isclose(width / height, target[0] / target[1], rel_tol=0.03)
    assert math.isclose(width * height, native * native, rel_tol=0.06)


def test_native_size_rejects_nonsense() -> None:
    with pytest.raises(InvalidRequest):
        native_size(0, 100, 512)
    with pytest.raises(InvalidRequest):
        native_size(100, 100, -1)


def test_rate_limit_from_a_proxy_says_when_to_retry(sd: FakeSDServer, client: httpx.Client) -> None:
    caught = assert_fault_then_usable(sd, "rate_limit", RateLimited, "try again in 4 s",
                                      lambda: A1111(sd.url, client=client).generate(params()),
                                      count=1)
    assert isinstance(caught, RateLimited) and caught.retry_after == 4


def test_print_targets_over_twice_the_painting_use_the_servers_upscaler(
    sd: FakeSDServer, client: httpx.Client
) -> None:
    options = A1111Options(upscaler="R-ESRGAN 4x+")
    big = params(count=2, pixel_budget=96 * 128 * 9)  # three times the side
    painting = A1111(sd.url, client=client, options=A1111Options(
        upscaler="R-ESRGAN 4x+", native_side=110)).generate(big)
    assert [u["upscaler_1"] for u in sd.upscales] == ["R-ESRGAN 4x+"] * 2
    assert sd.upscales[0]["upscaling_resize"] == 3.0
    assert painting.size == (3 * 96, 3 * 128)  # painted at 96 × 128, upscaled three times
    assert all(g.image.size == (288, 384) for g in painting.images)
    assert painting.details["upscaler"] == "R-ESRGAN 4x+"
    sd.upscales.clear()
    A1111(sd.url, client=client, options=options).generate(params())  # not over 2x: none
    assert sd.upscales == []
