"""One folder per server for every temporary file, kept under a byte budget.

The studio's previews and downloads (:class:`studio.ui_files.SessionFiles`) and Gradio's uploads
and file cache all live in one folder per server, inside a folder shared by the servers that use
the same ``FLYER_TEMP_DIR`` (default: the system's temporary folder)::

    <FLYER_TEMP_DIR>/flyer-studio/   shared: what Gradio's process-global GRADIO_TEMP_DIR names
    └── <random>/                    this server: Gradio's upload folder and component cache
        ├── <sha256>/logo.png        an upload (Gradio names the folder after the content)
        └── sessions/<session>/...   the studio's previews and downloads (served in place:
                                     Gradio does not copy files already inside its cache)

:meth:`TempSpace.enforce` deletes the oldest files first until the folder holds at most
``max_bytes``; it never deletes the files it is told to keep (the one just written and about
to be returned), ``*.part`` files being written, nor Gradio's partial uploads (loose files at
the top, modified in the last minute). The folder is created when the server starts and deleted,
with everything in it, when it stops.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import os
import secrets
import shutil
import stat
import tempfile
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import ConfigError

__all__ = ["RESCAN_SECONDS", "SESSIONS", "SHARED", "TempSpace"]

logger = logging.getLogger(__name__)

SHARED = "flyer-studio"
"""Folder under FLYER_TEMP_DIR holding each server's own folder."""
SESSIONS = "sessions"
"""Sub-folder holding the studio's own previews and downloads."""
RESCAN_SECONDS = 5.0
"""How old the last full look at the folder may be before a write takes another: in between,
the studio's own writes are counted from memory (a look costs a stat of every file: ~20 ms with
1,000 files, ~50 ms with 3,000, once per write before), and Gradio's uploads are counted at the
next look (or the server's sweep, every ``studio.server.SWEEP_SECONDS``)."""
LOG_EVERY_SECONDS = 60.0
"""The budget's deletions are logged at most this often (the bytes since the last line)."""
_clock = time.monotonic
_UPLOAD_GRACE_SECONDS = 60.0
"""A loose file at the top modified this recently may be an upload Gradio is still writing."""


@dataclass(frozen=True)
class _Entry:
    path: Path
    size: int
    mtime: float


class TempSpace:
    """A server's temporary folder under ``parent`` (default: the system's temporary folder),
    holding at most about ``max_bytes``. Thread-safe."""

    def __init__(self, parent: Path | None, max_bytes: int) -> None:
        base = Path(parent) if parent is not None else Path(tempfile.gettempdir())
        self.shared = base.expanduser().resolve() / SHARED
        self.root = self.shared / secrets.token_hex(8)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._entries: collections.OrderedDict[str, _Entry] = collections.OrderedDict()
        """Every file known, oldest first (by path): the last full look plus what was added."""
        self._total = 0
        self._scanned_at = -math.inf
        self._unlogged = 0
        """Bytes freed since the last log line (one a minute at most: once the folder is at
        its budget, every generation frees some)."""
        self._logged_at = -math.inf

    @property
    def sessions(self) -> Path:
        return self.root / SESSIONS

    def open(self) -> None:
        """Create the folder (private to this user). Raises ConfigError naming FLYER_TEMP_DIR
        when it cannot be created."""
        for attempt in range(2):  # another server may remove the empty shared folder meanwhile
            try:
                self.shared.mkdir(mode=0o700, parents=True, exist_ok=True)
                self._check_owner()
                self.root.mkdir(mode=0o700, exist_ok=True)
                return
            except OSError as exc:
                if isinstance(exc, FileNotFoundError) and not attempt:
                    continue
                raise ConfigError(
                    "FLYER_TEMP_DIR", f"cannot create {str(self.root)!r}: {exc.strerror}"
                ) from exc

    def _check_owner(self) -> None:
        """The shared folder must be ours: not a link, not another user's (in /tmp, anyone
        could have made it first)."""
        info = os.lstat(self.shared)
        foreign = hasattr(os, "getuid") and info.st_uid != os.getuid()
        if stat.S_ISLNK(info.st_mode) or foreign:
            raise ConfigError(
                "FLYER_TEMP_DIR", f"{str(self.shared)!r} belongs to another user or is a link; "
                "set FLYER_TEMP_DIR to a folder of your own"
            )

    def cleanup(self) -> None:
        """Delete the folder and everything in it (when the server stops), and the shared
        folder too when no other server uses it."""
        with self._lock:
            shutil.rmtree(self.root, ignore_errors=True)
            with contextlib.suppress(OSError):
                self.shared.rmdir()  # only succeeds when empty

    def usage(self) -> int:
        """Bytes of all the files in the folder now (a fresh look at the disk)."""
        return sum(entry.size for entry in self._scan())

    def enforce(self, keep: Collection[Path] = ()) -> int:
        """Delete the oldest files until at most ``max_bytes`` remain; return the bytes freed.

        Never deletes ``keep``, ``*.part`` files or recent loose files at the top (uploads in
        progress): those still count, so the folder may stay above the budget by what they hold.
        A full look at the folder (:meth:`refresh`) is taken when the last one is older than
        ``RESCAN_SECONDS``; in between, the files written through :meth:`added` are counted
        from memory, so a write costs the same with 30 files in the folder as with 30,000.
        """
        kept = {os.path.abspath(path) for path in keep}
        with self._lock:
            if self._stale():
                self._refresh()
            if self._total <= self.max_bytes:
                return 0
            now = time.time()
            freed = 0
            gone: list[str] = []
            for key, entry in self._entries.items():  # oldest first
                if self._total - freed <= self.max_bytes:
                    break
                if key in kept or self._busy(entry, now):
                    continue
                try:
                    entry.path.unlink()
                except FileNotFoundError:
                    pass  # deleted meanwhile (a session's age prune): its bytes are gone too
                except OSError as exc:
                    logger.warning("Could not delete temporary file %s: %s", entry.path, exc)
                    continue
                gone.append(key)
                freed += entry.size
                if entry.path.parent not in (self.root, self.sessions):
                    with contextlib.suppress(OSError):
                        entry.path.parent.rmdir()  # only succeeds when it was the last one
            for key in gone:
                del self._entries[key]
            self._total -= freed
        if freed:
            self._log_freed(freed)
        return freed

    def _log_freed(self, freed: int) -> None:
        """Say what the budget deleted, at most once every ``LOG_EVERY_SECONDS`` (the sum since
        the last line): at the budget, each generation deletes a little."""
        now = _clock()
        with self._lock:
            self._unlogged += freed
            if now - self._logged_at < LOG_EVERY_SECONDS:
                return
            total, self._unlogged, self._logged_at = self._unlogged, 0, now
        logger.info("Temporary files over budget: deleted %d bytes of the oldest", total)

    def added(self, path: Path, size: int) -> None:
        """Count a file just written (``size`` bytes at ``path``) until the next full look."""
        key = os.path.abspath(path)
        entry = _Entry(Path(key), size, time.time())
        with self._lock:
            old = self._entries.pop(key, None)  # rewritten: it is now the newest
            self._total += size - (old.size if old is not None else 0)
            self._entries[key] = entry

    def refresh(self) -> None:
        """Look at every file in the folder again (what others wrote or deleted: Gradio's
        uploads, a session's age prune)."""
        with self._lock:
            self._refresh()

    def _stale(self) -> bool:
        return time.monotonic() - self._scanned_at >= RESCAN_SECONDS

    def _refresh(self) -> None:
        entries = sorted(self._scan(), key=lambda e: e.mtime)
        self._entries = collections.OrderedDict((str(e.path), e) for e in entries)
        self._total = sum(e.size for e in entries)
        self._scanned_at = time.monotonic()

    async def enforce_every(self, seconds: float) -> None:
        """Enforce the budget every ``seconds`` (catches uploads, which no studio code writes).
        Runs until cancelled."""
        while True:
            await asyncio.sleep(seconds)
            try:
                await asyncio.to_thread(self.refresh)
                await asyncio.to_thread(self.enforce)
            except Exception:  # a sweep must not end the server
                logger.exception("Sweeping temporary files failed")

    def _busy(self, entry: _Entry, now: float) -> bool:
        if entry.path.name.endswith(".part"):
            return True
        return entry.path.parent == self.root and now - entry.mtime < _UPLOAD_GRACE_SECONDS

    def _scan(self) -> list[_Entry]:
        found: list[_Entry] = []
        pending = [str(self.root)]
        while pending:
            folder = pending.pop()
            try:
                with os.scandir(folder) as items:
                    for item in items:
                        try:
                            if item.is_dir(follow_symlinks=False):
                                pending.append(item.path)
                            elif item.is_file(follow_symlinks=False):
                                stat = item.stat(follow_symlinks=False)
                                found.append(_Entry(Path(item.path), stat.st_size, stat.st_mtime))
                        except FileNotFoundError:
                            continue
            except (FileNotFoundError, NotADirectoryError):
                continue
        return found
