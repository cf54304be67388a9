"""A key holder must never make the server open a file it names itself (issue 8, items 1-2).

Every event that takes a file (the UI's Generate, the API's /generate) is sent paths to server
files through the raw queue API: a private mode-600 file, /etc/passwd, /proc/self/environ, a
folder, symlinks pointing outside (one planted inside the upload folder), a FIFO inside the
upload folder, /dev/zero and a URL. None of their bytes may reach an answer, Gradio's cache or
a ``file=`` URL, and the server keeps answering meanwhile.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from pipeline.errors import InvalidRequest
from studio.uploads import read_upload, upload_root
from tests.studio.conftest import RunningStudio
from tests.studio.gradio_raw import (
    call,
    event,
    file_data,
    logged_in,
    ui_dependency,
    ui_event_inputs,
)

MARKER = "FLYER-SECRET-" + secrets.token_hex(8)


def _environ_marker() -> str:
    entries = Path("/proc/self/environ").read_bytes().split(b"\0")
    longest = max((e for e in entries if b"=" in e), key=len, default=b"")
    return longest.decode("utf-8", "replace")[:60]


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """name -> a path on the server that a client must not be able to use."""
    folder = tmp_path_factory.mktemp("private")
    secret = folder / "secret.env"
    secret.write_text(f"SD_PASSWORD={MARKER}\n")
    secret.chmod(0o600)
    outside_link = folder / "link.png"
    outside_link.symlink_to(secret)
    root = upload_root()
    root.mkdir(parents=True, exist_ok=True)
    planted = root / f"planted-{secrets.token_hex(4)}.png"
    planted.symlink_to(secret)
    fifo = root / f"fifo-{secrets.token_hex(4)}.png"
    os.mkfifo(fifo)
    yield {
        "private file": str(secret),
        "/etc/passwd": "/etc/passwd",
        "/proc/self/environ": "/proc/self/environ",
        "directory": str(folder),
        "upload folder itself": str(root),
        "symlink outside": str(outside_link),
        "symlink planted in the upload folder": str(planted),
        "fifo in the upload folder": str(fifo),
        "relative escape": str(root / ".." / ".." / "etc" / "passwd"),
        "url": "http://127.0.0.1:9/logo.png",
    }
    planted.unlink()
    fifo.unlink()


def _leaks(text: str) -> list[str]:
    found = [m for m in (MARKER, "root:x:0:0", _environ_marker()) if m and m in text]
    return found


def _cache_leaks(since: float) -> list[Path]:
    leaked = []
    for path in upload_root().rglob("*"):
        try:
            if path.is_symlink() or not path.is_file() or path.stat().st_mtime < since:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        if any(m.encode() in data for m in (MARKER, "root:x:0:0")):
            leaked.append(path)
    return leaked


@pytest.mark.parametrize("field", ["Organiser logo", "Own background (skips painting)"])
def test_ui_generate_refuses_server_paths(
    studio_server: RunningStudio, targets: dict[str, str], field: str
) -> None:
    started = time.time() - 1
    with logged_in(studio_server) as http:
        config = http.get("/config").json()
        fn_index, inputs = ui_dependency(config, field)
        for name, path in targets.items():
            data = ui_event_inputs(config, inputs, {field: file_data(path), "Title": "Jazz"})
            text, messages = event(http, fn_index, data)
            assert messages, f"{name}: no answer ({text[:200]})"
            done = messages[-1]
            assert done.get("success") is False, f"{name}: accepted: {text[:300]}"
            assert "upload it again" in text, f"{name}: {text[:300]}"
            assert not _leaks(text), f"{name}: leaked into the answer"
            assert path not in text or name == "url", f"{name}: the path is echoed"
            refused = http.get(f"/gradio_api/file={path}")
            assert refused.status_code in (403, 404), f"{name}: file= served it"
            assert not _leaks(refused.text)
    assert not _cache_leaks(started)


@pytest.mark.parametrize("param", ["logo", "background"])
def test_api_generate_refuses_server_paths(
    studio_server: RunningStudio, targets: dict[str, str], param: str
) -> None:
    started = time.time() - 1
    with logged_in(studio_server) as http:
        for name, path in targets.items():
            data: list[object] = ["Jazz"] + [None] * 17 + [None, None]
            data[17 if param == "logo" else 18] = file_data(path)
            text = call(http, "generate", data)
            assert "upload it again" in text, f"{name}: {text[:300]}"
            assert not _leaks(text), f"{name}: leaked into the answer"
            # a plain string naming a server file is refused too
            data[17 if param == "logo" else 18] = path
            text = call(http, "generate", data)
            assert "event: complete" not in text, f"{name}: accepted as a string"
            assert not _leaks(text)
    assert not _cache_leaks(started)


def test_dev_zero_does_not_freeze_the_server(studio_server: RunningStudio) -> None:
    """Gradio used to hash /dev/zero on the event loop: /healthz stopped answering."""
    with logged_in(studio_server) as http:
        config = http.get("/config").json()
        fn_index, inputs = ui_dependency(config, "Organiser logo")
        data = ui_event_inputs(config, inputs, {"Organiser logo": file_data("/dev/zero"),
                                                "Title": "Jazz"})
        answers: list[str] = []
        attacker = threading.Thread(target=lambda: answers.append(event(http, fn_index, data)[0]))
        attacker.start()
        api = ["Jazz"] + [None] * 17 + [file_data("/dev/zero"), None]
        second = threading.Thread(target=lambda: answers.append(call(http, "generate", api)))
        second.start()
        time.sleep(0.3)
        for _ in range(3):
            started = time.monotonic()
            health = httpx.get(f"{studio_server.url}/healthz", timeout=5)
            assert health.status_code == 200
            assert time.monotonic() - started < 1.0
            time.sleep(0.2)
        attacker.join(timeout=10)
        second.join(timeout=10)
        assert not attacker.is_alive() and not second.is_alive(), "the request never finished"
        assert len(answers) == 2 and all("upload it again" in a for a in answers)


def test_real_uploads_still_work(studio_server: RunningStudio, tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    Image.new("RGBA", (64, 64), (200, 30, 30, 255)).save(logo)
    client = Client(studio_server.url, auth=studio_server.auth, verbose=False)
    try:
        files, manifests = client.predict(title="Upload", logo=handle_file(str(logo)),
                                          api_name="/generate")
    finally:
        client.close()
    assert len(files) == 1 and manifests[0]["id"]


def test_read_upload_accepts_only_regular_files_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "uploads"
    root.mkdir()
    good = root / "a.png"
    good.write_bytes(b"x" * 10)
    assert read_upload(str(good), "logo", root=root) == b"x" * 10
    assert read_upload({"path": str(good)}, "logo", root=root) == b"x" * 10
    assert read_upload(None, "logo", root=root) is None
    big = root / "big.png"
    big.write_bytes(b"x" * 101)
    with pytest.raises(InvalidRequest, match="limit"):
        read_upload(str(big), "logo", root=root, max_bytes=100)
    outside = tmp_path / "outside.png"
    outside.write_bytes(MARKER.encode())
    (root / "link.png").symlink_to(outside)
    missing = root / "missing.png"
    for path in (outside, root / "link.png", missing, root, Path("/dev/zero")):
        with pytest.raises(InvalidRequest) as raised:
            read_upload(str(path), "logo", root=root)
        assert "upload it again" in str(raised.value)
        assert str(path) not in str(raised.value)  # no hint whether it exists
