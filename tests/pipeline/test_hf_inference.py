"""HFInferenceBackend through the real huggingface_hub InferenceClient, against a loopback
server answering like an Inference Endpoint (the client is pointed at it by its URL)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from pipeline.backends import ServerPool, create_backend
from pipeline.backends.base import PaintRequest
from pipeline.backends.hf_inference import HFInferenceBackend
from pipeline.errors import (
    BackendAuthError,
    BackendError,
    BackendResponseError,
    BackendUnavailable,
    ContentRefused,
    ModelNotFound,
    QuotaExhausted,
    RateLimited,
)
from pipeline.settings import load_settings
from tests.fake_hf import FakeHFEndpoint
from tests.fake_http import seed_colours
from tests.pipeline.battery import (
    assert_cancel_stops_waiting,
    assert_fault_then_usable,
    assert_times_out,
    assert_unreachable,
    closed_url,
)

TOKEN = "hf_test_0123456789abcdef"
REQUEST = PaintRequest(prompt="jazz night, neon", aspect=(4, 5), count=3,
                       negative_prompt="text", seed=500)


@pytest.fixture
def hf() -> Iterator[FakeHFEndpoint]:
    with FakeHFEndpoint(key=TOKEN) as server:
        yield server


def backend(endpoint: str, **kwargs: object) -> HFInferenceBackend:
    kwargs.setdefault("token", TOKEN)
    return HFInferenceBackend(model="fake-org/fake-flux", endpoint=endpoint,
                              **kwargs)  # type: ignore[arg-type]


def test_one_call_per_image_with_seeds_and_size(hf: FakeHFEndpoint) -> None:
    painting = backend(hf.endpoint, steps=4).generate(REQUEST)
    assert len(hf.calls) == 3  # the API paints one image per call
    first = hf.calls[0]
    assert first["inputs"] == "jazz night, neon"
    parameters = first["parameters"]
    assert parameters["negative_prompt"] == "text" and parameters["num_inference_steps"] == 4
    assert parameters["width"] % 16 == 0 and parameters["height"] % 16 == 0  # flux family
    assert abs(parameters["width"] / parameters["height"] - 0.8) < 0.03
    assert [c["parameters"]["seed"] for c in hf.calls] == [500, 501, 502]
    assert [g.seed for g in painting.images] == [500, 501, 502]
    top_left = np.asarray(painting.images[1].image, dtype=float)[0, 0]
    assert np.abs(top_left - seed_colours(501)[0]).max() < 12
    assert hf.requests[0]["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert painting.server == hf.endpoint and painting.details["provider"] == "hf-inference"


def test_settings_make_a_pool_of_endpoints_and_space_default(hf: FakeHFEndpoint) -> None:
    settings = load_settings({"SPACE_ID": "me/flyers", "HF_TOKEN": TOKEN,
                              "FLYER_HF_ENDPOINT": hf.endpoint,
                              "FLYER_HF_MODEL": "fake-org/fake-flux"}, env_file=None)
    assert settings.backend == "hf-inference"
    pool = create_backend(settings.backend, settings)
    assert isinstance(pool, ServerPool)
    assert len(pool.generate(REQUEST).images) == 3
    assert load_settings({"SPACE_ID": "me/flyers"}, env_file=None).backend == "procedural"


def test_progress_and_cancel(hf: FakeHFEndpoint) -> None:
    calls: list[float] = []
    backend(hf.endpoint).generate(REQUEST, lambda fraction, message: calls.append(fraction))
    assert calls == sorted(calls) and len(set(calls)) == 4 and calls[-1] == 1.0
    hf.mode, hf.delay = "slow", 20
    assert_cancel_stops_waiting(lambda cancel: backend(hf.endpoint).generate(REQUEST,
                                                                             cancel=cancel))


@pytest.mark.parametrize(
    ("mode", "error", "words"),
    [
        ("garbage", BackendResponseError, "not an image"),
        ("few_images", BackendResponseError, "not an image"),
        ("error500", BackendResponseError, "HTTP 500"),
        ("oom", BackendResponseError, "out of GPU memory"),
        ("refusal", ContentRefused, "reword the prompt"),
        ("rate_limit", RateLimited, "try again in 5 s"),
        ("quota", QuotaExhausted, "credits"),
        ("loading", BackendUnavailable, "not ready"),
    ],
)
def test_each_fault_has_its_message_and_the_server_stays_usable(
    mode: str, error: type[BackendError], words: str, hf: FakeHFEndpoint
) -> None:
    assert_fault_then_usable(hf, mode, error, words, lambda: backend(hf.endpoint).generate(REQUEST),
                             count=3, secret=TOKEN)


def test_token_model_down_and_slow(hf: FakeHFEndpoint) -> None:
    with pytest.raises(BackendAuthError, match="HF_TOKEN"):
        backend(hf.endpoint, token="hf_wrong").generate(REQUEST)
    with pytest.raises(ModelNotFound, match="FLYER_HF_MODEL"):
        backend(hf.url + "/models/nobody/nothing").generate(REQUEST)
    assert_unreachable(lambda: backend(closed_url() + "/models/x").generate(REQUEST))
    hf.mode, hf.delay = "slow", 5
    assert_times_out(lambda: backend(hf.endpoint, read_timeout=0.2).generate(REQUEST), within=2)
    with pytest.raises(BackendAuthError, match="HF_TOKEN"):
        HFInferenceBackend(model="x/y", token=None).check()
