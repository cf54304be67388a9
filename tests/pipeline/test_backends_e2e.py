"""End-to-end: the real Stable Diffusion server in STABLE_DIFUSION_INSTANCE.

Run with ``TEST_END_TO_END=true STABLE_DIFUSION_INSTANCE=http://host:7860 pytest -m end_to_end``
(and ``FLYER_SD_AUTH=user:password`` if the server uses ``--api-auth``).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from pipeline.backends import ImageBackend, create_backend
from pipeline.backends.base import PaintRequest
from pipeline.errors import ConfigError
from pipeline.settings import Settings, load_settings

pytestmark = pytest.mark.end_to_end


def _settings_or_reason() -> tuple[Settings | None, str]:
    try:
        settings = load_settings()
    except ConfigError as exc:
        return None, f"settings are invalid: {exc}"
    if not settings.test_end_to_end:
        return None, "set TEST_END_TO_END=true to run the end-to-end tests"
    if not settings.sd_instance:
        return None, "TEST_END_TO_END is true but STABLE_DIFUSION_INSTANCE is not set"
    return settings, ""


@pytest.fixture(scope="module")
def backend() -> Iterator[ImageBackend]:
    settings, reason = _settings_or_reason()
    if settings is None:
        pytest.skip(reason)
    with httpx.Client() as client:
        yield create_backend("automatic1111", settings, client=client)


def test_real_server_paints_a_batch_in_one_call(backend: ImageBackend) -> None:
    request = PaintRequest(prompt="abstract jazz night background, bokeh", aspect=(1080, 1350),
                           count=2, seed=1234)
    width, height = backend.paint_size(request)
    calls: list[float] = []
    images = backend.generate(request, lambda fraction, message: calls.append(fraction)).images
    assert [g.seed for g in images] == [1234, 1235]
    for generated in images:
        assert generated.image.size == (width, height) and generated.image.mode == "RGB"
    assert calls[-1] == 1.0


def test_real_server_reports_its_model(backend: ImageBackend) -> None:
    assert backend.model != "unknown"
