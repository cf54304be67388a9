"""`flyer-studio keygen`: a fresh key in .env, every other line kept."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

from pipeline.keys import new_key, write_key
from pipeline.settings import load_settings
from studio.cli import main


def test_new_key_has_32_bytes_of_entropy() -> None:
    key = new_key()
    assert len(base64.urlsafe_b64decode(key + "=")) >= 32
    assert new_key() != key


def test_keygen_replaces_the_key_and_keeps_other_lines(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("# comment\nMAX_BATCH_SIZE=3\nAPI_MASTER_KEY=old\nMETRO_PATH=\n")
    assert main(["keygen", "--env-file", str(env)]) == 0
    lines = env.read_text().splitlines()
    assert lines[0] == "# comment" and lines[1] == "MAX_BATCH_SIZE=3" and lines[3] == "METRO_PATH="
    key = lines[2].split("=", 1)[1]
    assert key != "old" and len(key) >= 43
    assert load_settings({}, env_file=env).api_master_key == key
    assert stat.S_IMODE(env.stat().st_mode) == 0o600


def test_keygen_creates_the_file_and_adds_a_missing_key(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    first = write_key(env)
    assert env.read_text() == f"API_MASTER_KEY={first}\n"
    env.write_text("MAX_IN_MEMORY=5\n")
    second = write_key(env)
    assert env.read_text() == f"MAX_IN_MEMORY=5\nAPI_MASTER_KEY={second}\n"
