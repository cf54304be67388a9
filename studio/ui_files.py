"""Real files for Gradio to serve: previews and downloads, one folder per session.

Gradio serves files by path, so every preview, PNG, PDF or ZIP the studio hands back is first
written under a temporary folder owned by one ``build_app`` call (never a module-level one).
Each browser session (or API call) writes into its own sub-folder; files older than
``max_age_seconds`` are pruned as new ones arrive, and when a :class:`studio.temp_space.TempSpace`
is given, every write is followed by its byte budget (oldest files first, never the one just
written), so the folder cannot grow without bound.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .temp_space import TempSpace

__all__ = ["SessionFiles"]

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_PRUNE_EVERY_SECONDS = 60.0


def _safe_name(name: str, fallback: str) -> str:
    cleaned = _SAFE.sub("-", name).strip(".-")[:120]
    return cleaned or fallback


class SessionFiles:
    """A temporary folder with one sub-folder per session. Thread-safe."""

    def __init__(self, root: Path | None = None, max_age_seconds: float = 3600.0,
                 space: TempSpace | None = None) -> None:
        if root is None:
            root = space.sessions if space is not None else Path(
                tempfile.mkdtemp(prefix="flyer-studio-"))
        self.root = root  # created on first write
        self.max_age_seconds = max_age_seconds
        self.space = space
        self._lock = threading.Lock()
        self._last_prune = time.monotonic()

    def folder(self, session: str | None) -> Path:
        """The session's folder (created on first use)."""
        path = self.root / _safe_name(session or "", "anonymous")
        path.mkdir(parents=True, exist_ok=True)
        return path

    def write(self, session: str | None, filename: str, data: bytes) -> Path:
        """Write ``data`` as ``filename`` in the session's folder and return its path."""
        self._maybe_prune()
        path = self.root / _safe_name(session or "", "anonymous") / _safe_name(filename, "file")
        partial = path.with_name(path.name + ".part")
        # The folder is made only when missing (a first write, or a concurrent prune removed it
        # when it was empty): no mkdir per file on the /generate path.
        for attempt in range(3):
            try:
                partial.write_bytes(data)
                partial.replace(path)
                break
            except FileNotFoundError:
                if attempt == 2:
                    raise
                path.parent.mkdir(parents=True, exist_ok=True)
        if self.space is not None:
            self.space.added(path, len(data))
            self.space.enforce(keep=(path,))
        return path

    @contextlib.contextmanager
    def stream(self, session: str | None, filename: str) -> Iterator[tuple[BinaryIO, Path]]:
        """A file written bit by bit (a season's ZIP): yields ``(handle, final path)``; the file
        appears under its name only when the block ends without an error (a failed or
        cancelled run leaves nothing behind). Counted against the byte budget at the end."""
        self._maybe_prune()
        path = self.folder(session) / _safe_name(filename, "file")
        partial = path.with_name(path.name + ".part")
        try:
            with partial.open("wb") as handle:
                yield handle, path
            partial.replace(path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        if self.space is not None:
            self.space.added(path, path.stat().st_size)
            self.space.enforce(keep=(path,))

    def prune(self, now: float | None = None) -> int:
        """Delete files older than ``max_age_seconds`` and empty folders; return how many."""
        cutoff = (time.time() if now is None else now) - self.max_age_seconds
        removed = 0
        try:
            folders = list(self.root.iterdir())
        except FileNotFoundError:
            return 0
        for folder in folders:
            if not folder.is_dir():
                continue
            for item in list(folder.iterdir()):
                try:
                    if item.stat().st_mtime < cutoff:
                        item.unlink()
                        removed += 1
                except FileNotFoundError:
                    continue
            with contextlib.suppress(OSError):
                folder.rmdir()  # only succeeds when empty
        return removed

    def cleanup(self) -> None:
        """Delete everything (when the server stops)."""
        shutil.rmtree(self.root, ignore_errors=True)

    def _maybe_prune(self) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._last_prune < _PRUNE_EVERY_SECONDS:
                return
            self._last_prune = now
        self.prune()
