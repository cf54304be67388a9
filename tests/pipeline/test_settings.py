"""Settings: parsing, defaults, both spellings, every bad value, env.example and the README
generated from the declarations, secrets never shown."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path

import pytest

from pipeline.casts import positive_int
from pipeline.declare import declared, load_declared, setting, summary
from pipeline.errors import ConfigError
from pipeline.settings import ENV_VARIABLES, Settings, canonical_origin, load_settings
from pipeline.settings_docs import BEGIN, END, env_example, readme_table, rewrite_readme

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


def test_env_example_and_readme_are_generated_from_the_declarations() -> None:
    """Adding a setting without `make settings-docs` fails here."""
    assert (ROOT / "env.example").read_text() == env_example(), "run `make settings-docs`"
    readme = (ROOT / "README.md").read_text()
    assert rewrite_readme(readme) == readme, "run `make settings-docs`"
    assert readme.count(BEGIN) == 1 and readme.count(END) == 1


def test_env_example_documents_every_variable_and_is_valid() -> None:
    text = (ROOT / "env.example").read_text()
    documented = re.findall(r"^([A-Z][A-Z0-9_]+)=", text, flags=re.M)
    primary = [item.var.name for item in declared(Settings)]
    assert documented == primary  # each once, in declaration order
    assert len(set(ENV_VARIABLES)) == len(ENV_VARIABLES)
    for item in declared(Settings):  # aliases are mentioned in their variable's help
        for alias in item.var.aliases:
            assert alias in text and alias in ENV_VARIABLES
    table = readme_table()
    for name in ENV_VARIABLES:
        assert f"`{name}`" in table
    # the example itself is a valid configuration, equal to the defaults
    assert load_settings({}, env_file=ROOT / "env.example") == settings()


def test_every_field_is_declared() -> None:
    """Each Settings field (and each section's) comes from one declared variable, except the
    sections' model family, which FLYER_MODEL_FAMILY sets in all of them."""
    paths = {item.path for item in declared(Settings)}
    derived = {"comfyui.family", "hf.family", "diffusers.family"}
    sections = {"comfyui", "openai", "hf", "diffusers"}
    every = set()
    for f in fields(Settings):
        if f.name in sections:
            every |= {f"{f.name}.{g.name}" for g in fields(getattr(Settings(), f.name))}
        else:
            every.add(f.name)
    assert every == paths | derived
    assert paths.isdisjoint(derived)


def test_each_declared_variable_reaches_its_field() -> None:
    """Setting a declared variable to a value other than its default changes its field."""
    samples = {"STABLE_DIFUSION_INSTANCE": "http://sd:1", "FLYER_BACKEND": "openai",
               "FLYER_SD_AUTH": "me:pw", "METRO_PATH": str(ROOT / "README.md"),
               "FLYER_TEMP_DIR": "/tmp", "FLYER_SSL_CERTFILE": "", "FLYER_SSL_KEYFILE": "",
               "FLYER_COMFYUI_WORKFLOW": str(ROOT / "README.md"), "FLYER_COMFYUI_NODES": "",
               "FLYER_OPENAI_SIZES": "512x512", "FLYER_MODEL_FAMILY": "sdxl",
               "FLYER_LANGUAGE": "de", "FLYER_TRUSTED_PROXIES": "10.0.0.1",
               "FLYER_ALLOWED_ORIGINS": "https://x.example", "GRADIO_SERVER_PORT": "8000",
               "FLYER_SD_NATIVE_SIZE": "1024", "FLYER_OPENAI_URL": "http://oa:1",
               "FLYER_COMFYUI_URL": "http://comfy:1", "FLYER_HF_ENDPOINT": "http://hf:1"}
    for item in declared(Settings):
        name = item.var.name
        raw = samples.get(name)
        guessed = raw is None
        if raw is None:
            default = item.default
            if isinstance(default, bool):
                raw = "false" if default else "true"
            elif isinstance(default, (int, float)):
                raw = str(default + 1) if isinstance(default, int) else f"{default + 1.5:g}"
            else:
                raw = "sample-value"
        if not raw:
            continue
        try:
            loaded: object = settings(**{name: raw})
        except ConfigError:
            if guessed:  # a setting with a cast this guess cannot satisfy: not checked here
                continue
            raise
        for part in item.path.split("."):
            loaded = getattr(loaded, part)
        assert loaded != item.default, name


def test_aliases_and_model_family() -> None:
    assert settings(OPENAI_API_KEY="sk-b").openai.api_key == "sk-b"
    assert settings(OPENAI_API_KEY="sk-b", FLYER_OPENAI_API_KEY="sk-a").openai.api_key == "sk-a"
    s = settings(FLYER_MODEL_FAMILY="SDXL")
    assert s.model_family == s.comfyui.family == s.hf.family == s.diffusers.family == "sdxl"
    assert (settings().comfyui.family, settings().hf.family) == ("sd15", "flux")
    assert settings(FLYER_POOL_HEALTH_INTERVAL="5").pool_health_interval == 5.0


SECRETS = {
    "API_MASTER_KEY": "master-key-4f8a1c9e2b7d",
    "FLYER_SD_AUTH": "sduser:sd-password-93k1",
    "HF_TOKEN": "hf_token_7Qx2",
    "FLYER_OPENAI_API_KEY": "sk-openai-secret-55",
    "STABLE_DIFUSION_INSTANCE": "http://sduser:url-password-12@sd.local:7860",
}
SECRET_TEXTS = ["master-key-4f8a1c9e2b7d", "sd-password-93k1", "hf_token_7Qx2",
                "sk-openai-secret-55", "url-password-12"]


def test_repr_and_str_hide_every_secret() -> None:
    s = settings(**SECRETS)
    assert s.api_master_key == SECRETS["API_MASTER_KEY"]  # the value is there to use
    assert s.sd_auth == ("sduser", "sd-password-93k1")
    for shown in (repr(s), str(s), f"{s}", repr(s.hf), repr(s.openai), summary(s)):
        for secret in SECRET_TEXTS:
            assert secret not in shown
    assert "api_master_key=<secret>" in repr(s) and "token=<secret>" in repr(s.hf)
    assert "http://sduser:***@sd.local:7860" in repr(s)
    assert "api_master_key=None" in repr(settings())
    assert "API_MASTER_KEY=<secret>" in summary(s) and "MAX_IN_MEMORY" not in summary(s)
    assert summary(settings()) == "all defaults"


@pytest.mark.parametrize(("name", "value"), [
    ("MAX_IN_MEMORY", "lots"),
    ("FLYER_SD_AUTH", "sd-password-93k1"),  # a secret's own bad value (no user:)
    ("STABLE_DIFUSION_INSTANCE", "http://sduser:url-password-12@sd.local:port"),
    ("STABLE_DIFUSION_INSTANCE", "sduser:url-password-12@sd.local"),
])
def test_config_errors_never_carry_a_secret(name: str, value: str) -> None:
    env = {**SECRETS, name: value}
    with pytest.raises(ConfigError) as info:
        settings(**env)
    assert info.value.variable == name
    chain: list[BaseException] = [info.value]
    while chain[-1].__cause__ or chain[-1].__context__:
        chain.append(chain[-1].__cause__ or chain[-1].__context__)  # type: ignore[arg-type]
    for error in chain:
        for secret in SECRET_TEXTS:
            assert secret not in str(error) and secret not in repr(error.args)


def test_a_secret_cast_that_echoes_its_value_is_redacted() -> None:
    """A secret's cast may quote the bad value (positive_int does): the loader masks it."""

    @dataclass(frozen=True)
    class Section:
        pin: int = setting("X_PIN", positive_int, 1, "A secret number.", group="x",
                           secret=True)
        size: int = setting("X_SIZE", positive_int, 1, "Not secret.", group="x")

    with pytest.raises(ConfigError) as info:
        load_declared(Section, {"X_PIN": " hunter2 "})
    assert "hunter2" not in str(info.value) and "***" in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    with pytest.raises(ConfigError, match="'plain'"):  # others keep quoting: it helps
        load_declared(Section, {"X_SIZE": "plain"})


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


def test_settings_docs_command(capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.settings_docs import main

    assert main(["--check"]) == 0  # env.example and README.md are up to date
    assert main(["--env-example"]) == 0
    assert capsys.readouterr().out == env_example()
    assert main(["--readme-table"]) == 0
    assert capsys.readouterr().out.startswith("| Variable | Default | Meaning |\n")
    with pytest.raises(SystemExit, match="lacks the markers"):
        rewrite_readme("# a README without the table's markers\n")
