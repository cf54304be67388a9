"""Settings: parsing, defaults, both spellings, every bad value, env.example in step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.settings import ENV_VARIABLES, Settings, canonical_origin, load_settings

ROOT = Path(__file__).resolve().parents[2]


def settings(**env: str) -> Settings:
    return load_settings(env, env_file=None)


def test_defaults_match_the_seed() -> None:
    s = settings()
    assert s.max_in_memory == 3000
    assert s.max_batch_size == 5
    assert s.test_end_to_end is False
    assert s.sd_instance is None
    assert s.backend == "procedural"
    assert s.api_master_key is None


@pytest.mark.parametrize("name", ["STABLE_DIFUSION_INSTANCE", "STABLE_DIFFUSION_INSTANCE"])
@pytest.mark.parametrize("url", ["http://sd.local:7860", "http://sd.local:7860/"])
def test_both_spellings_and_trailing_slash(name: str, url: str) -> None:
    s = settings(**{name: url})
    assert s.sd_instance == "http://sd.local:7860"
    assert s.backend == "automatic1111"


def test_seed_spelling_wins_over_correct_spelling() -> None:
    s = settings(STABLE_DIFUSION_INSTANCE="http://a:1", STABLE_DIFFUSION_INSTANCE="http://b:2")
    assert s.sd_instance == "http://a:1"


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("MAX_IN_MEMORY", "lots", "whole number"),
        ("MAX_IN_MEMORY", "0", "greater than zero"),
        ("MAX_BATCH_SIZE", "-2", "greater than zero"),
        ("MAX_BATCH_SIZE", "2.5", "whole number"),
        ("STABLE_DIFUSION_INSTANCE", "sd.local:7860", "URL"),
        ("STABLE_DIFUSION_INSTANCE", "ftp://sd.local", "URL"),
        ("STABLE_DIFUSION_INSTANCE", "http://sd.local:notaport", "port"),
        ("METRO_PATH", "/no/such/metro.png", "no readable file"),
        ("TEST_END_TO_END", "maybe", "true or false"),
        ("FLYER_BACKEND", "dalle", "valid: automatic1111, comfyui, openai, hf-inference"),
        ("FLYER_SD_AUTH", "nopassword", "user:password"),
        ("FLYER_SD_READ_TIMEOUT", "0", "greater than zero"),
        ("FLYER_SD_READ_TIMEOUT", "nan", "finite"),
        ("FLYER_SD_NATIVE_SIZE", "64", "between 256 and 2048"),
        ("GRADIO_SERVER_PORT", "70000", "port"),
        ("FLYER_SESSION_IDLE", "0", "greater than zero"),
        ("FLYER_SESSION_MAX", "a day", "whole number"),
        ("FLYER_ALLOWED_ORIGINS", "*", "origins like"),
        ("FLYER_ALLOWED_ORIGINS", "https://ok.example, intranet.example", "origins like"),
        ("FLYER_ALLOWED_ORIGINS", "https://ok.example/app", "origins like"),
        ("FLYER_ALLOWED_ORIGINS", "null", "origins like"),
        ("FLYER_QUEUE_MAX_WAIT", "soon", "a number"),
        ("FLYER_QUEUE_MAX_WAIT", "0", "greater than zero"),
        ("FLYER_TEMP_MAX_BYTES", "512MiB", "whole number"),
        ("FLYER_TEMP_MAX_BYTES", "0", "greater than zero"),
        ("FLYER_LANGUAGE", "klingon", "use auto, none or a code such as de"),
        ("FLYER_STORE_URL", "http://cache:6379", "expected redis://host:port/db"),
        ("FLYER_STORE_URL", "cache:6379", "expected redis://host:port/db"),
        ("FLYER_STORE_URL", "redis://cache:port/0", "port is not a number"),
        ("FLYER_STORE_URL", "redis:///0", "names no host"),
        ("FLYER_STORE_URL", "unix://", "names no socket path"),
        ("FLYER_REDIS_PREFIX", "flyer *", "letters, digits"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings(**{name: value})
    assert info.value.variable == name
    assert str(info.value).startswith(name)
    assert fragment in str(info.value)


def test_unreadable_metro_path_is_a_config_error(tmp_path: Path) -> None:
    folder = tmp_path / "dir.png"
    folder.mkdir()
    with pytest.raises(ConfigError, match="METRO_PATH"):
        settings(METRO_PATH=str(folder))


def test_temp_dir_must_be_a_folder(tmp_path: Path) -> None:
    afile = tmp_path / "not-a-folder"
    afile.write_text("x")
    with pytest.raises(ConfigError, match=r"FLYER_TEMP_DIR.*not a folder"):
        settings(FLYER_TEMP_DIR=str(afile))
    later = tmp_path / "made" / "at-start"
    s = settings(FLYER_TEMP_DIR=str(later), FLYER_TEMP_MAX_BYTES="1048576",
                 FLYER_QUEUE_MAX_WAIT="2.5")
    assert (s.temp_dir, s.temp_max_bytes, s.queue_max_wait_seconds) == (later, 1048576, 2.5)
    assert settings().temp_dir is None and settings().temp_max_bytes == 512 * 1024 * 1024


def test_automatic1111_without_url_is_refused() -> None:
    with pytest.raises(ConfigError, match="STABLE_DIFUSION_INSTANCE"):
        settings(FLYER_BACKEND="automatic1111")


def test_tls_needs_both_files(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    with pytest.raises(ConfigError, match="FLYER_SSL_KEYFILE"):
        settings(FLYER_SSL_CERTFILE=str(cert))


def test_values_are_cast() -> None:
    s = settings(
        MAX_IN_MEMORY=" 12 ",
        TEST_END_TO_END="True",
        FLYER_SD_AUTH="me:p:w",
        FLYER_SD_CFG_SCALE="6.5",
        GRADIO_SERVER_PORT="8001",
    )
    assert (s.max_in_memory, s.test_end_to_end, s.sd_auth) == (12, True, ("me", "p:w"))
    assert (s.sd_cfg_scale, s.server_port) == (6.5, 8001)


def test_environment_wins_over_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("MAX_BATCH_SIZE=3\nMAX_IN_MEMORY=10\nAPI_MASTER_KEY=from-file\n")
    s = load_settings({"MAX_BATCH_SIZE": "4"}, env_file=env_file)
    assert (s.max_batch_size, s.max_in_memory, s.api_master_key) == (4, 10, "from-file")


def test_empty_values_count_as_unset() -> None:
    s = settings(STABLE_DIFUSION_INSTANCE="", MAX_IN_MEMORY="")
    assert s.sd_instance is None and s.max_in_memory == 3000


def test_env_example_and_settings_in_step() -> None:
    text = (ROOT / "env.example").read_text()
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", text, flags=re.M))
    mentioned = set(re.findall(r"\b([A-Z][A-Z0-9_]{3,})\b", text))
    # every variable Settings reads is in env.example (the alias may be only mentioned)
    assert set(ENV_VARIABLES) - {"STABLE_DIFFUSION_INSTANCE"} <= documented
    assert "STABLE_DIFFUSION_INSTANCE" in mentioned
    # and env.example sets nothing Settings does not read
    assert documented <= set(ENV_VARIABLES)
    # the example itself is a valid configuration
    load_settings({}, env_file=ROOT / "env.example")


def test_every_variable_is_read() -> None:
    source = (ROOT / "pipeline" / "settings.py").read_text().split("def _choose_backend", 1)[1]
    sections = (ROOT / "pipeline" / "backend_settings.py").read_text()
    source += sections.split("def load_sections", 1)[1]
    for name in ENV_VARIABLES:
        assert f'"{name}"' in source, name


def test_store_url_selects_redis_and_stays_out_of_repr() -> None:
    assert settings().store_url is None and settings(FLYER_STORE_URL="memory").store_url is None
    s = settings(FLYER_STORE_URL=" redis://:hunter2-secret@cache:6380/2 ",
                 FLYER_REDIS_PREFIX="studio-a")
    assert s.store_url == "redis://:hunter2-secret@cache:6380/2"
    assert s.redis_prefix == "studio-a"
    assert "hunter2" not in repr(s)
    assert settings(FLYER_STORE_URL="unix:///run/redis.sock").store_url == (
        "unix:///run/redis.sock")


def test_sessions_and_origins() -> None:
    s = settings()
    assert (s.session_idle_seconds, s.session_max_seconds, s.allowed_origins) == (7200, 43200, ())
    s = settings(
        FLYER_SESSION_IDLE="60",
        FLYER_SESSION_MAX="600",
        FLYER_ALLOWED_ORIGINS=(
            "HTTPS://Intranet.Example:443/, http://[::1]:8080,,https://intranet.example"
        ),
    )
    assert (s.session_idle_seconds, s.session_max_seconds) == (60, 600)
    assert s.allowed_origins == ("https://intranet.example", "http://[::1]:8080")


@pytest.mark.parametrize(
    ("raw", "origin"),
    [
        ("http://Host.Example:80", "http://host.example"),
        ("https://host.example:8443/", "https://host.example:8443"),
        ("http://127.0.0.1:7860", "http://127.0.0.1:7860"),
        ("null", None),
        ("ftp://host.example", None),
        ("https://user@host.example", None),
        ("https://host.example:99999", None),
        ("https://host.example/path", None),
        ("https://", None),
    ],
)
def test_canonical_origin(raw: str, origin: str | None) -> None:
    assert canonical_origin(raw) == origin


def test_language_setting() -> None:
    assert settings().language == "auto"
    assert settings(FLYER_LANGUAGE="de-CH").language == "de_CH"
    assert settings(FLYER_LANGUAGE="None").language == "none"
    assert settings(FLYER_LANGUAGE="ja").language == "ja"
