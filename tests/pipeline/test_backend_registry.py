"""The backend registry: names, factories, and the default choice."""

from __future__ import annotations

import httpx
import pytest

from pipeline.backends import BACKENDS, ImageBackend, ServerPool, create_backend
from pipeline.backends.automatic1111 import Automatic1111Backend
from pipeline.backends.procedural import ProceduralBackend
from pipeline.errors import ConfigError
from pipeline.settings import BACKEND_NAMES, load_settings


def test_registry_names_match_settings() -> None:
    assert set(BACKENDS) == set(BACKEND_NAMES)


def test_unknown_name_lists_valid_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        create_backend("dall-e", load_settings({}, env_file=None))
    message = str(caught.value)
    assert "dall-e" in message
    for name in BACKEND_NAMES:
        assert name in message


def test_default_is_procedural_without_a_server() -> None:
    settings = load_settings({}, env_file=None)
    assert settings.backend == "procedural"
    backend = create_backend(settings.backend, settings)
    # a pool of one, like every backend: the pool is the one concurrency gate
    assert isinstance(backend, ServerPool) and isinstance(backend, ImageBackend)
    (member,) = (m.backend for m in backend.members)
    assert isinstance(member, ProceduralBackend) and isinstance(member, ImageBackend)
    assert backend.name == "procedural" and backend.slots == member.capabilities.slots


@pytest.mark.parametrize("variable", ["STABLE_DIFUSION_INSTANCE", "STABLE_DIFFUSION_INSTANCE"])
def test_default_is_automatic1111_with_a_server(variable: str) -> None:
    settings = load_settings({variable: "http://127.0.0.1:7860/"}, env_file=None)
    assert settings.backend == "automatic1111"
    with httpx.Client() as client:
        backend = create_backend(settings.backend, settings, client=client)
        assert isinstance(backend, ServerPool) and isinstance(backend, ImageBackend)
        (member,) = (m.backend for m in backend.members)
        assert isinstance(member, Automatic1111Backend) and isinstance(member, ImageBackend)
        assert member.base_url == "http://127.0.0.1:7860"
        assert backend.server == "http://127.0.0.1:7860"


def test_a_server_list_is_one_pool_with_a_member_each() -> None:
    settings = load_settings(
        {"STABLE_DIFUSION_INSTANCE": "http://a:7860, http://b:7860/,http://a:7860"},
        env_file=None,
    )
    assert settings.sd_instances == ("http://a:7860", "http://b:7860")
    backend = create_backend(settings.backend, settings)
    assert isinstance(backend, ServerPool)
    assert [m.server for m in backend.members] == ["http://a:7860", "http://b:7860"]
    assert backend.slots == 2


def test_procedural_can_be_forced_with_a_server_configured() -> None:
    settings = load_settings(
        {"STABLE_DIFUSION_INSTANCE": "http://127.0.0.1:7860", "FLYER_BACKEND": "procedural"},
        env_file=None,
    )
    backend = create_backend(settings.backend, settings)
    assert isinstance(backend, ServerPool)
    assert [type(m.backend) for m in backend.members] == [ProceduralBackend]
