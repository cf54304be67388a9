"""Deployment: the Docker image's start command and the Hugging Face Space entry point.

There is no Docker engine here, so the test reads the Dockerfile's ENV, CMD and HEALTHCHECK and
runs them in a plain subprocess from a scratch folder: the Dockerfile is the one place the
command lives, and this test cannot drift from it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
KEY = "deploy-test-key-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text()
    text = re.sub(r"\\\n\s*", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _exec_form(rest: str) -> list[str]:
    return list(json.loads(rest)) if rest.startswith("[") else shlex.split(rest)


def docker_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in _instructions():
        if word == "ENV":
            for item in shlex.split(rest):
                key, _, value = item.partition("=")
                env[key] = value
    return env


def docker_cmd() -> list[str]:
    return _exec_form([rest for word, rest in _instructions() if word == "CMD"][-1])


def docker_healthcheck() -> list[str]:
    rest = [rest for word, rest in _instructions() if word == "HEALTHCHECK"][-1]
    return _exec_form(rest.split("CMD", 1)[1].strip())


def _resolve(argv: list[str]) -> list[str]:
    head = argv[0]
    if head in ("python", "python3"):
        return [sys.executable, *argv[1:]]
    return [str(BIN / head), *argv[1:]]


def _start(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _wait_healthy(url: str, proc: subprocess.Popen[str], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            pytest.fail(f"the server exited with {proc.returncode}:\n{out}")
        try:
            if httpx.get(url + "/healthz", timeout=2).json() == {"status": "ok"}:
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.3)
    pytest.fail("the server did not answer /healthz in time")


@pytest.fixture()
def base_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYER_", "GRADIO_"))}
    for name in ("STABLE_DIFUSION_INSTANCE", "STABLE_DIFFUSION_INSTANCE", "METRO_PATH"):
        env.pop(name, None)
    env["API_MASTER_KEY"] = KEY
    env["HOME"] = str(tmp_path)
    return env


@pytest.fixture()
def image_server(tmp_path: Path, base_env: dict[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
    port = _free_port()
    env = {**base_env, **docker_env(), "GRADIO_SERVER_PORT": str(port)}
    proc = _start(_resolve(docker_cmd()), env, tmp_path)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", proc)
        yield f"http://127.0.0.1:{port}", env
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_dockerfile_has_what_the_image_needs() -> None:
    words = [w for w, _ in _instructions()]
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.\d+-slim", text, re.M)
    assert "EXPOSE" in words and "HEALTHCHECK" in words and "USER" in words
    assert re.search(r"--uid 1000", text)
    env = docker_env()
    assert env["GRADIO_SERVER_NAME"] == "0.0.0.0" and env["GRADIO_SERVER_PORT"] == "7860"
    assert not any("KEY" in k or "AUTH" in k for k in env), "no secret baked into the image"
    ignored = (ROOT / ".dockerignore").read_text().split()
    for needed in (".env", ".venv/", "tests/"):
        assert needed in ignored


def test_image_start_command_serves_health_and_login(
    image_server: tuple[str, dict[str, str]],
) -> None:
    url, env = image_server
    page = httpx.get(url + "/", timeout=10)
    assert page.status_code == 200 and '"auth_required":true' in page.text.replace(" ", "")
    login = httpx.post(url + "/login", data={"username": "ops", "password": KEY}, timeout=10)
    assert login.status_code == 200
    assert httpx.get(url + "/config", timeout=10).status_code == 401
    check = subprocess.run(_resolve(docker_healthcheck()), env=env, timeout=30)
    assert check.returncode == 0


def test_space_front_matter_and_app_file(tmp_path: Path, base_env: dict[str, str]) -> None:
    import gradio

    text = (ROOT / "README.md").read_text()
    assert text.startswith("---\n")
    meta = yaml.safe_load(text.split("---\n", 2)[1])
    assert meta["sdk"] == "gradio"
    assert str(meta["sdk_version"]) == gradio.__version__
    pinned = re.search(r'"gradio==([\d.]+)"', (ROOT / "pyproject.toml").read_text())
    assert pinned and pinned.group(1) == str(meta["sdk_version"])
    assert meta["title"] and meta["emoji"] and str(meta["python_version"]).startswith("3.")
    app_file = ROOT / meta["app_file"]
    assert app_file.is_file()
    port = _free_port()
    env = {**base_env, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port)}
    env.pop("PYTHONPATH", None)
    proc = _start([sys.executable, str(app_file)], env, tmp_path)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", proc)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_space_requirements_match_the_package() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    deps = re.search(r"^dependencies = \[(.*?)\]", pyproject, re.S | re.M)
    assert deps
    names = re.findall(r'"([^"]+)"', deps.group(1))
    declared = {re.split(r"[<>=!~ ]", d)[0].lower() for d in names}
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    listed = {re.split(r"[<>=!~ ]", ln)[0].lower() for ln in lines if ln and ln[0] != "#"}
    assert listed == declared - {"gradio"}


def test_make_run_reinstalls_only_when_pyproject_changes(tmp_path: Path) -> None:
    """`make run` used to reinstall the package on every start (15 of 20 s of a restart)."""
    import os
    import shutil
    import subprocess
    import time

    root = Path(__file__).resolve().parents[1]
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(root / name, tmp_path / name)
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)

    def planned() -> str:
        done = subprocess.run(["make", "-n", "run"], cwd=tmp_path, capture_output=True,
                              text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "pip install" in planned()  # a fresh venv installs
    past = time.time() - 60
    os.utime(tmp_path / "pyproject.toml", (past, past))
    (tmp_path / ".venv" / ".installed").touch()
    assert "pip install" not in planned()  # nothing changed: straight to serve
    assert "flyer-studio serve" in planned()
    (tmp_path / "pyproject.toml").touch()  # newer than the stamp
    assert "pip install" in planned()


def test_every_data_file_of_the_packages_is_installed() -> None:
    """``pip install .`` (the Dockerfile's) copies only the data files that pyproject's
    package-data names: a cascade, font or layout added without its pattern would be missing
    from the image and found only there."""
    import ast
    import fnmatch

    # tomllib is 3.11's, the package runs on 3.10: the section's lines are `"pkg" = [globs]`
    text = (ROOT / "pyproject.toml").read_text()
    section = text.split("[tool.setuptools.package-data]", 1)[1].split("\n[", 1)[0]
    patterns = {name: ast.literal_eval(globs) for name, globs in
                re.findall(r'^"([\w.]+)" = (\[.*\])$', section, re.M)}
    assert "pipeline.render" in patterns, section
    missing = []
    for top in ("pipeline", "studio"):
        for path in (ROOT / top).rglob("*"):
            if not path.is_file() or path.suffix in {".py", ".pyc", ".pyi"} or \
                    "__pycache__" in path.parts:
                continue
            relative = path.relative_to(ROOT)
            matched = False
            for package, globs in patterns.items():
                folder = Path(*package.split("."))
                if relative.is_relative_to(folder):
                    inside = relative.relative_to(folder).as_posix()
                    matched = matched or any(fnmatch.fnmatch(inside, g) for g in globs)
            if not matched:
                missing.append(str(relative))
    assert not missing, f"not in pyproject's package-data: {missing}"
