"""OpenAIImagesBackend against the loopback FakeOpenAI: real HTTP, bearer key, fixed sizes."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from pipeline.backends import create_backend
from pipeline.backends.base import PaintRequest
from pipeline.backends.openai_images import OpenAIImagesBackend
from pipeline.errors import (
    BackendAuthError,
    BackendError,
    BackendResponseError,
    ContentRefused,
    ModelNotFound,
    QuotaExhausted,
    RateLimited,
)
from pipeline.settings import load_settings
from tests.fake_openai import FakeOpenAI
from tests.pipeline.battery import (
    assert_cancel_stops_waiting,
    assert_fault_then_usable,
    assert_times_out,
    assert_unreachable,
    closed_url,
)

KEY = "sk-test-0123456789abcdef"
REQUEST = PaintRequest(prompt="jazz night, neon", aspect=(1080, 1350), count=3,
                       negative_prompt="text", seed=77)


@pytest.fixture
def api() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(key=KEY) as server:
        yield server


def backend(url: str, client: httpx.Client, **kwargs: object) -> OpenAIImagesBackend:
    kwargs.setdefault("api_key", KEY)
    return OpenAIImagesBackend(url, client=client, **kwargs)  # type: ignore[arg-type]


def test_batch_is_one_call_at_the_closest_allowed_size(
    api: FakeOpenAI, client: httpx.Client
) -> None:
    calls: list[float] = []
    painting = backend(api.url, client).generate(REQUEST, lambda f, m: calls.append(f))
    assert len(api.generations) == 1
    sent = api.generations[0]
    assert sent == {"model": "gpt-image-1", "prompt": "jazz night, neon", "n": 3,
                    "size": "1024x1536"}
    assert api.requests[-1]["headers"]["authorization"] == f"Bearer {KEY}"
    assert len(painting.images) == 3 and all(g.seed is None for g in painting.images)
    described = painting.describe()
    assert described["seeds_reproducible"] is False and "not supported" in described["seeds"]
    assert described["backend"] == "openai" and described["server"] == api.url
    assert calls[0] == 0.0 and calls[-1] == 1.0


@pytest.mark.parametrize(("aspect", "size"), [((1920, 1080), (1536, 1024)),
                                              ((1000, 1000), (1024, 1024)),
                                              ((2480, 3508), (1024, 1536))])
def test_sizes_are_mapped_to_allowed_ones(aspect: tuple[int, int], size: tuple[int, int],
                                         client: httpx.Client) -> None:
    assert backend("http://x", client).paint_size(PaintRequest("x", aspect=aspect)) == size


def test_models_taking_fewer_images_per_call_get_several_calls(
    api: FakeOpenAI, client: httpx.Client
) -> None:
    painting = backend(api.url, client, model="dall-e-2", max_images=2,
                       sizes=((256, 256),)).generate(REQUEST)
    assert [g["n"] for g in api.generations] == [2, 1]
    assert all(g["response_format"] == "b64_json" for g in api.generations)
    assert len(painting.images) == 3 and painting.details["calls"] == 2


def test_base_url_with_v1_and_settings(api: FakeOpenAI, client: httpx.Client) -> None:
    settings = load_settings({"FLYER_BACKEND": "openai", "FLYER_OPENAI_URL": api.url + "/v1",
                              "OPENAI_API_KEY": KEY, "FLYER_OPENAI_SIZES": "256x256"},
                             env_file=None)
    pool = create_backend(settings.backend, settings, client=client)
    pool.check()
    assert len(pool.generate(REQUEST).images) == 3
    assert api.generations[0]["size"] == "256x256"


def test_cancel_stops_waiting(client: httpx.Client) -> None:
    with FakeOpenAI(key=KEY, mode="slow", delay=20) as api:
        assert_cancel_stops_waiting(
            lambda cancel: backend(api.url, client).generate(REQUEST, cancel=cancel))


@pytest.mark.parametrize(
    ("mode", "error", "words"),
    [
        ("garbage", BackendResponseError, "OpenAI-compatible"),
        ("few_images", BackendResponseError, "2 image(s) instead of 3"),
        ("error500", BackendResponseError, "HTTP 500"),
        ("oom", BackendResponseError, "out of GPU memory"),
        ("refusal", ContentRefused, "reword the prompt"),
        ("rate_limit", RateLimited, "try again in 3 s"),
        ("quota", QuotaExhausted, "no credits or quota left"),
    ],
)
def test_each_fault_has_its_message_and_the_server_stays_usable(
    mode: str, error: type[BackendError], words: str, api: FakeOpenAI, client: httpx.Client
) -> None:
    assert_fault_then_usable(api, mode, error, words,
                             lambda: backend(api.url, client).generate(REQUEST),
                             count=3, secret=KEY)


def test_wrong_key_model_and_size(api: FakeOpenAI, client: httpx.Client) -> None:
    with pytest.raises(BackendAuthError, match="FLYER_OPENAI_API_KEY"):
        backend(api.url, client, api_key="sk-wrong").generate(REQUEST)
    with pytest.raises(BackendAuthError):
        backend(api.url, client, api_key="sk-wrong").check()
    with pytest.raises(ModelNotFound, match="FLYER_OPENAI_MODEL"):
        backend(api.url, client, model="dall-e-9").generate(REQUEST)
    with pytest.raises(BackendResponseError, match="FLYER_OPENAI_SIZES"):
        backend(api.url, client, sizes=((640, 480),)).generate(REQUEST)


def test_down_and_slow(client: httpx.Client) -> None:
    assert_unreachable(lambda: backend(closed_url(), client).generate(REQUEST))
    with FakeOpenAI(key=KEY, mode="slow", delay=5) as api:
        assert_times_out(lambda: backend(api.url, client, read_timeout=0.1).generate(REQUEST),
                         within=2)
