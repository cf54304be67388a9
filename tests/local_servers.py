"""A real ``redis-server`` and a real ``nginx`` (Debian packages) on free loopback ports, each
in a temporary folder with its own configuration, for the tests of replicas.

``need(program)`` returns the program's path; when it is missing the test is skipped locally
and fails in CI (``CI=true``), where ``.ci/run`` installs both.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = [
    "NGINX_SITE",
    "Nginx",
    "RedisServer",
    "Replica",
    "free_port",
    "need",
    "render_nginx_config",
    "run_nginx",
    "run_redis",
    "run_replicas",
    "wait_healthy",
]

NGINX_SITE = Path(__file__).resolve().parent.parent / "deploy" / "nginx.conf"
"""The load balancer's configuration as compose.yaml uses it."""

_SEARCH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin", "/sbin"])


def need(program: str) -> str:
    """The path of ``program``; skip without it (fail in CI, which must run these tests)."""
    found = shutil.which(program, path=_SEARCH)
    if found is None:
        message = f"{program} is not installed (apt-get install redis-server nginx)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}: CI must run the replica tests", pytrace=False)
        pytest.skip(message)
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}: {_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within 15 s: {_tail(log)}")


def _tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-2000:]
    except OSError:
        return "(no log)"


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@dataclass(frozen=True)
class RedisServer:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@contextlib.contextmanager
def run_redis(folder: Path, password: str | None = None) -> Iterator[RedisServer]:
    """``redis-server`` on a free loopback port, nothing saved to disk."""
    binary = need("redis-server")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = folder / "redis.log"
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
            "--save", "", "--appendonly", "no", "--logfile", str(log),
            "--maxmemory-policy", "noeviction"]
    if password:
        args += ["--requirepass", password]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, process, "redis-server", log)
        yield RedisServer(port, process)
    finally:
        _stop(process)


def render_nginx_config(
    replicas: Sequence[str], listen: str, temp_dir: Path, pid: Path, error_log: Path
) -> str:
    """A whole nginx.conf running deploy/nginx.conf for ``replicas`` (``host:port`` each) on
    ``listen``: its ``server studio-N`` lines and its ``listen`` are the only things changed."""
    site: list[str] = []
    in_servers = False
    for line in NGINX_SITE.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("server studio-"):
            if not in_servers:
                options = stripped.split(" ", 2)[2]  # max_fails=... fail_timeout=...;
                site += [f"    server {r} {options}" for r in replicas]
            in_servers = True
            continue
        in_servers = False
        if stripped == "listen 80;":
            line = f"    listen {listen};"
        site.append(line)
    if sum(line.strip().startswith("listen ") for line in site) != 1:
        raise RuntimeError(f"{NGINX_SITE} should have exactly one 'listen 80;'")
    temps = "\n".join(f"    {kind}_temp_path {temp_dir / name};" for kind, name in (
        ("client_body", "client_body"), ("proxy", "proxy"), ("fastcgi", "fastcgi"),
        ("uwsgi", "uwsgi"), ("scgi", "scgi")))
    user = "user root root;\n" if os.geteuid() == 0 else ""  # workers need the temp folder
    body = "\n".join("    " + line if line else "" for line in site)
    return (f"{user}daemon off;\nworker_processes 1;\npid {pid};\nerror_log {error_log} warn;\n"
            f"events {{ worker_connections 1024; }}\n"
            f"http {{\n    access_log off;\n{temps}\n{body}\n}}\n")


@dataclass(frozen=True)
class Nginx:
    port: int
    config: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def run_nginx(folder: Path, replicas: Sequence[str]) -> Iterator[Nginx]:
    """nginx in front of ``replicas`` (``host:port`` each) with the repository's configuration
    (deploy/nginx.conf, rendered for loopback), in the foreground, as this user."""
    binary = need("nginx")
    folder.mkdir(parents=True, exist_ok=True)
    for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / sub).mkdir(exist_ok=True)
    port = free_port()
    config = folder / "nginx.conf"
    config.write_text(render_nginx_config(replicas, listen=f"127.0.0.1:{port}",
                                          temp_dir=folder, pid=folder / "nginx.pid",
                                          error_log=folder / "error.log"))
    check = subprocess.run([binary, "-t", "-p", str(folder), "-c", str(config)],
                           capture_output=True, text=True, check=False)
    if check.returncode != 0:
        raise RuntimeError(f"nginx refused the configuration: {check.stderr}")
    process = subprocess.Popen([binary, "-p", str(folder), "-c", str(config)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, process, "nginx", folder / "error.log")
        yield Nginx(port, config, process)
    finally:
        _stop(process)


REPO = Path(__file__).resolve().parent.parent


@dataclass
class Replica:
    """One ``flyer-studio serve`` process."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL: the replica dies mid-whatever, as a crashed machine would."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def log_tail(self) -> str:
        return _tail(self.log)


def _replica_environment(port: int, folder: Path, env: dict[str, str]) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items()
               if k != "API_MASTER_KEY" and not k.startswith(("FLYER_", "GRADIO_", "STABLE_"))}
    environ.update(
        GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1",
        GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        FLYER_TEMP_DIR=str(folder / "temp"),
        FLYER_TRUSTED_PROXIES="127.0.0.1",  # the load balancer, on loopback here
        **env,
    )
    return environ


def wait_healthy(replica: Replica, timeout: float = 90) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if replica.process.poll() is not None:
            raise RuntimeError(f"replica {replica.name} exited: {replica.log_tail()}")
        try:
            if httpx.get(replica.url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"replica {replica.name} never answered /healthz: {replica.log_tail()}")


@contextlib.contextmanager
def run_replicas(folder: Path, count: int, env: dict[str, str]) -> Iterator[list[Replica]]:
    """``count`` studios (``python -m studio.cli serve``, each its own process and temporary
    folder, started together) with the settings ``env`` (API_MASTER_KEY, FLYER_STORE_URL...)."""
    import sys

    replicas: list[Replica] = []
    try:
        for n in range(count):
            name = "ABCDEFGH"[n] if n < 8 else str(n)
            here = folder / f"replica-{name}"
            here.mkdir(parents=True, exist_ok=True)
            port = free_port()
            log = here / "serve.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "studio.cli", "serve"], cwd=here,  # no .env there
                    env=_replica_environment(port, here, env), stdout=out,
                    stderr=subprocess.STDOUT)
            replicas.append(Replica(name, port, process, log))
        for replica in replicas:
            wait_healthy(replica)
        yield replicas
    finally:
        for replica in replicas:
            if replica.process.poll() is None:
                replica.process.terminate()
        for replica in replicas:
            try:
                replica.process.wait(15)
            except subprocess.TimeoutExpired:
                replica.kill()
