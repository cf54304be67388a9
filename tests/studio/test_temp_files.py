"""Temporary files: one folder per server under FLYER_TEMP_DIR, kept under FLYER_TEMP_MAX_BYTES,
deleted when the server stops."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from PIL import Image

from studio.temp_space import TempSpace

from .conftest import run_studio, studio_settings

MIB = 1024 * 1024


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def _bytes(folder: Path) -> int:
    total = 0
    for path in _files(folder):
        try:
            total += path.stat().st_size
        except FileNotFoundError:  # evicted while we looked
            continue
    return total


def _aged(path: Path, seconds_ago: float) -> None:
    stamp = time.time() - seconds_ago
    os.utime(path, (stamp, stamp))


def test_budget_evicts_oldest_first_and_spares_what_is_in_use(tmp_path: Path) -> None:
    space = TempSpace(tmp_path, max_bytes=250)
    space.open()
    sessions = space.sessions / "s"
    sessions.mkdir(parents=True)
    old, middle, new = (sessions / f"{name}.png" for name in ("old", "middle", "new"))
    writing = sessions / "next.png.part"
    upload = space.root / "tmp1234"  # Gradio's upload in progress: a loose file at the top
    for age, path in ((300, old), (200, middle), (100, new), (400, writing), (500, upload)):
        path.write_bytes(b"x" * 100)
        _aged(path, age)
    _aged(upload, 1)  # still being written

    assert space.usage() == 500
    assert space.enforce(keep=[old]) == 200  # the oldest go first, but never `keep`
    assert old.exists() and not middle.exists() and not new.exists()
    assert writing.exists() and upload.exists()
    space.cleanup()
    assert not space.root.exists() and list(tmp_path.iterdir()) == []


def test_many_generations_stay_under_budget_and_leave_nothing(tmp_path: Path) -> None:
    budget = 8 * MIB
    parent = tmp_path / "temp"
    logo = tmp_path / "logo.png"
    Image.new("RGBA", (300, 200), (220, 30, 60, 255)).save(logo)
    gradio_default = Path(tempfile.gettempdir()) / "gradio"  # where Gradio's files went before
    default_before = set(_files(gradio_default))
    settings = studio_settings(FLYER_TEMP_DIR=str(parent), FLYER_TEMP_MAX_BYTES=str(budget))

    peak, written, largest, received = 0, 0, 0, 0
    ids: list[str] = []
    with run_studio(settings) as studio:
        shared = parent / "flyer-studio"
        assert shared.is_dir(), "the studio made no folder under FLYER_TEMP_DIR"
        [root] = list(shared.iterdir())  # this server's own folder
        assert os.environ["GRADIO_TEMP_DIR"] == str(shared.resolve())  # Gradio's global checks
        client = Client(studio.url + "/", auth=studio.auth, verbose=False,
                        download_files=str(tmp_path / "client"))
        try:
            for number in range(40):
                logo_file = handle_file(str(logo)) if number % 5 == 0 else None
                pngs, manifests = client.predict(title=f"Night {number}", logo=logo_file,
                                                 api_name="/generate")
                ids.append(manifests[0]["id"][:8])  # in the files' names
                if number == 0:  # uploads land here too (checked at once: the budget evicts)
                    assert any(p.name == "logo.png" for p in _files(root))
                pdf = client.predict(flyer_id=manifests[0]["id"], kind="pdf",
                                     api_name="/download")
                for path in (*pngs, pdf):
                    size = Path(path).stat().st_size  # downloaded: the studio served it
                    written += size
                    largest = max(largest, size)
                    received += 1
                peak = max(peak, _bytes(parent))
            assert (root / "sessions").is_dir()
        finally:
            client.close()
        during = _bytes(parent)

    print(f"\ntemporary files: peak {peak} bytes ({peak / MIB:.1f} MiB) with a budget of "
          f"{budget} bytes; {written} bytes ({written / MIB:.1f} MiB) handed out in "
          f"{received} files; {during} bytes just before stopping")
    assert received == 80 and written > 3 * budget  # the budget really had to evict
    assert 0 < peak <= budget + largest  # one in-flight file of tolerance
    assert list(parent.iterdir()) == []  # everything deleted when the studio stopped
    # Nothing of ours went to Gradio's default folder (other processes on this machine may
    # write there meanwhile, so only files named after this test's flyers count).
    leaked = [p for p in set(_files(gradio_default)) - default_before
              if any(flyer_id in p.name for flyer_id in ids)]
    assert leaked == []


def test_writes_count_from_memory_between_full_looks(tmp_path: Path) -> None:
    """A write evicts by what the studio wrote itself (no stat of every file each time);
    what others put in the folder (an upload) counts from the next full look."""
    from studio.ui_files import SessionFiles

    space = TempSpace(tmp_path, max_bytes=250)
    space.open()
    files = SessionFiles(space=space)
    first = files.write("s", "first.png", b"x" * 100)  # the first write takes a full look
    upload = space.root / "upload.png"
    upload.write_bytes(b"u" * 100)
    _aged(upload, 3600)  # older than anything: the first to go once it is seen
    second = files.write("s", "second.png", b"x" * 100)
    assert first.exists() and second.exists() and upload.exists()  # 200 bytes known: room
    third = files.write("s", "third.png", b"x" * 100)
    assert not first.exists() and second.exists() and third.exists()  # oldest of its own
    space.refresh()  # the sweep's full look: the upload is counted now
    assert space.enforce() == 100 and not upload.exists()
    assert space.usage() == 200
    space.cleanup()


def test_deletions_are_logged_once_a_minute_with_their_sum(
        tmp_path: Path, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """At its budget the folder frees a little on every generation: one log line a minute,
    not one a flyer (an unread log pipe filled with them and stalled a long benchmark)."""
    from studio import temp_space
    from studio.ui_files import SessionFiles

    clock = [1000.0]
    monkeypatch.setattr(temp_space, "_clock", lambda: clock[0])
    space = TempSpace(tmp_path, max_bytes=150)
    space.open()
    files = SessionFiles(space=space)
    with caplog.at_level(logging.INFO, logger=temp_space.logger.name):
        for name in range(6):  # each write past the first frees 100 bytes
            files.write("s", f"{name}.png", b"x" * 100)
        lines = [r.getMessage() for r in caplog.records if "over budget" in r.getMessage()]
        assert lines == ["Temporary files over budget: deleted 100 bytes of the oldest"]
        clock[0] += temp_space.LOG_EVERY_SECONDS
        files.write("s", "last.png", b"x" * 100)
        lines = [r.getMessage() for r in caplog.records if "over budget" in r.getMessage()]
        assert lines[1:] == ["Temporary files over budget: deleted 500 bytes of the oldest"]
    space.cleanup()
