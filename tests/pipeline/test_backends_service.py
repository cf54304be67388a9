"""Every server backend through FlyerService, from its settings, against its loopback fake:
the manifest names backend, model and server; a fault later leaves stored flyers in place."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest

from pipeline.errors import BackendError
from pipeline.models import EventDetails, FlyerRequest
from pipeline.service import FlyerService
from pipeline.settings import load_settings
from tests.fake_comfyui import FakeComfyUI
from tests.fake_hf import MODEL, FakeHFEndpoint
from tests.fake_openai import FakeOpenAI
from tests.fake_sd import FakeSDServer

KEY = "sk-service-test"
Case = tuple[Callable[[], AbstractContextManager[object]], Callable[[object], dict[str, str]],
             str, str]

CASES: dict[str, Case] = {
    "automatic1111": (FakeSDServer, lambda f: {"STABLE_DIFUSION_INSTANCE": f.url},  # type: ignore[attr-defined]
                      "oom", "fake-model.safetensors"),
    "comfyui": (FakeComfyUI, lambda f: {"FLYER_COMFYUI_URL": f.url},  # type: ignore[attr-defined]
                "oom", "v1-5-pruned-emaonly.safetensors"),
    "openai": (lambda: FakeOpenAI(key=KEY),
               lambda f: {"FLYER_BACKEND": "openai", "FLYER_OPENAI_URL": f.url,  # type: ignore[attr-defined]
                          "OPENAI_API_KEY": KEY, "FLYER_OPENAI_SIZES": "256x256"},
               "refusal", "gpt-image-1"),
    "hf-inference": (lambda: FakeHFEndpoint(key=KEY),
                     lambda f: {"FLYER_BACKEND": "hf-inference", "HF_TOKEN": KEY,
                                "FLYER_HF_ENDPOINT": f.endpoint,  # type: ignore[attr-defined]
                                "FLYER_HF_MODEL": MODEL},
                     "rate_limit", MODEL),
}


@pytest.fixture(params=list(CASES))
def running(request: pytest.FixtureRequest) -> Iterator[tuple[str, object, FlyerService]]:
    start, env, _, _ = CASES[request.param]
    with start() as fake:
        settings = load_settings({**env(fake), "FLYER_SD_READ_TIMEOUT": "10"}, env_file=None)
        yield request.param, fake, FlyerService.from_settings(settings)


def test_manifest_names_what_painted_and_faults_keep_stored_flyers(
    running: tuple[str, object, FlyerService]
) -> None:
    name, fake, service = running
    _, _, fault, model = CASES[name]
    flyers = service.generate(FlyerRequest(details=EventDetails(title="Jazz Night"),
                                           prompt="jazz", batch_size=2, seed=9))
    provenance = flyers[0].manifest["provenance"]
    assert provenance["backend"] == name and provenance["model"] == model
    assert provenance["server"] and "sk-" not in provenance["server"]
    assert provenance["seeds_reproducible"] is (name != "openai")
    fake.mode = fault  # type: ignore[attr-defined]
    with pytest.raises(BackendError):
        service.generate(FlyerRequest(details=EventDetails(title="Jazz Night"), batch_size=1))
    assert [service.get(f.id).id for f in flyers] == [f.id for f in flyers]
    assert service.download(flyers[1].id, "jpeg").data[:2] == b"\xff\xd8"
