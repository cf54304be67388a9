"""Files a client sends: only what Gradio itself stored from an upload is ever opened.

A Gradio ``FileData`` is a path chosen by the client. Gradio's own guard (``_check_allowed``)
is skipped for mounted Blocks, so the studio closes the hole at two levels:

- :class:`GuardedBlocks` checks every ``FileData`` in every event's inputs *before* Gradio
  hashes, copies or downloads it: a URL, or anything that is not a regular file inside the
  upload folder, ends the event with :data:`UPLOAD_AGAIN` (the same words whether the path
  exists or not). :func:`restore_file_guard` turns Gradio's guard back on after mounting.
- :func:`read_upload`, used by every handler that takes a file, opens the resolved path without
  following links and without blocking on devices or FIFOs, checks again that it is a regular
  file inside the upload folder, and reads at most ``max_bytes``.

Nothing here logs or returns the path the client named.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder

from pipeline.errors import InvalidRequest

from .asgi import ASGIApp, Receive, Scope, Send, send_json

__all__ = [
    "MAX_UPLOAD_BYTES",
    "UPLOAD_AGAIN",
    "FileRouteGuard",
    "GuardedBlocks",
    "file_payloads",
    "read_upload",
    "restore_file_guard",
    "upload_root",
]

MAX_UPLOAD_BYTES = 25 * 1024 * 1024
"""Largest file the studio reads from an upload (the documented image limit)."""

UPLOAD_AGAIN = "A file sent with this request was not uploaded to the studio; upload it again."

_LABELS = {"logo": "Logo", "background": "Background"}


def upload_root() -> Path:
    """Gradio's upload folder, resolved (where ``/gradio_api/upload`` stores files)."""
    return Path(get_upload_folder()).resolve()


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def _stored_upload(raw: object, root: Path) -> Path | None:
    """The resolved path when ``raw`` names a regular file inside ``root``, else None.

    Only ``stat`` is called (never ``open``), so devices, FIFOs and endless files cost
    nothing."""
    if not isinstance(raw, str) or not raw or "\x00" in raw or "://" in raw:
        return None
    try:
        resolved = Path(os.path.abspath(raw)).resolve(strict=True)
        if not _inside(resolved, root) or resolved == root:
            return None
        return resolved if stat.S_ISREG(os.stat(resolved).st_mode) else None
    except (OSError, RuntimeError, ValueError):
        return None


def file_payloads(value: Any) -> Iterator[dict[str, Any]]:
    """Every ``FileData``-shaped dict inside ``value`` (nested lists and dicts included)."""
    if isinstance(value, dict):
        meta = value.get("meta")
        if isinstance(meta, dict) and meta.get("_type") == "gradio.FileData":
            yield value
            return
        for item in value.values():
            yield from file_payloads(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from file_payloads(item)


def _path_of(value: object) -> object:
    if isinstance(value, dict):
        return value.get("path")
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    return getattr(value, "path", None)


def read_upload(
    value: object, field: str, root: Path | None = None, max_bytes: int = MAX_UPLOAD_BYTES
) -> bytes | None:
    """The bytes of a file Gradio stored from an upload, or None when nothing was sent.

    ``value`` is what Gradio hands a handler: a path string (``type="filepath"``) or a
    ``FileData`` (object or dict). Anything that is not a regular file inside the upload
    folder, or is larger than ``max_bytes``, raises :class:`InvalidRequest` naming ``field``.
    """
    raw = _path_of(value)
    if raw is None or raw == "":
        return None
    label = _LABELS.get(field, field.capitalize())
    again = InvalidRequest(f"{label}: the file was not received; upload it again.", field=field)
    resolved = _stored_upload(raw, root if root is not None else upload_root())
    if resolved is None:
        raise again
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(resolved, flags)
    except OSError as exc:
        raise again from (None if exc.errno in (errno.ELOOP, errno.ENOENT) else exc)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise again
        if info.st_size > max_bytes:
            raise InvalidRequest(_too_big(label, info.st_size, max_bytes, field), field=field)
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InvalidRequest(_too_big(label, len(data), max_bytes, field), field=field)
    return data


def _too_big(label: str, size: int, max_bytes: int, field: str) -> str:
    what = "image" if field in _LABELS else "file"
    return (f"{label}: the file is {size / 1048576:.1f} MB; the limit is "
            f"{max_bytes / 1048576:.0f} MB. Use a smaller {what}.")


class GuardedBlocks(gr.Blocks):
    """``gr.Blocks`` that refuses, before Gradio touches them, files a client names itself.

    Gradio moves every ``FileData`` in an event's inputs into its cache (hashing, copying, or
    downloading a URL) inside ``preprocess_data``; this override checks each one first, for
    every event and every component, UI and ``gr.api`` alike.
    """

    async def preprocess_data(
        self, block_fn: Any, inputs: list[Any], state: Any, explicit_call: bool = False
    ) -> list[Any]:
        root = upload_root()
        for payload in file_payloads(inputs):
            if _stored_upload(payload.get("path"), root) is None:
                raise gr.Error(UPLOAD_AGAIN, title="Upload again", print_exception=False)
        return await super().preprocess_data(block_fn, inputs, state, explicit_call)



_FILE_ROUTE = "/gradio_api/file="
_PROXY_ROUTE = "/gradio_api/proxy="


class FileRouteGuard:
    """ASGI middleware in front of Gradio's file routes.

    ``/gradio_api/file=<url>`` would make the server fetch any public URL for the caller, and
    ``/gradio_api/proxy=`` relays to other Gradio apps: the studio needs neither (403).
    ``/gradio_api/file=<path>`` is answered by Gradio only for regular files (anything else is
    404 here, before Gradio stats or streams it); Gradio's allow-list still applies after.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        status = 0
        if path.startswith(_PROXY_ROUTE):
            status = 403
        elif path.startswith(_FILE_ROUTE):
            named = path[len(_FILE_ROUTE):]
            if "://" in named or named.lower().startswith(("http:", "https:")):
                status = 403
            elif not _regular_file(named):
                status = 404
        if not status:
            await self.app(scope, receive, send)
            return
        await send_json(send, status, "File not found." if status == 404 else "Forbidden.")


def _regular_file(named: str) -> bool:
    if not named or "\x00" in named:
        return False
    try:
        return stat.S_ISREG(os.stat(Path(os.path.abspath(named)).resolve()).st_mode)
    except (OSError, RuntimeError, ValueError):
        return False


def restore_file_guard(blocks: gr.Blocks) -> None:
    """Turn Gradio's own file-path guard back on for Blocks mounted with
    ``gr.mount_gradio_app``: ``_check_allowed`` returns early unless ``has_launched``, which
    only ``launch()`` sets."""
    blocks.has_launched = True
