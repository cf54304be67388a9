"""The master key: generating one and writing it into ``.env`` (as the seed's setenvkey.sh did)."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

__all__ = ["new_key", "write_key"]

_KEY_LINE = re.compile(r"^\s*(export\s+)?API_MASTER_KEY\s*=")


def new_key() -> str:
    """A fresh random key: 32 bytes of entropy, URL-safe text (43 characters)."""
    return secrets.token_urlsafe(32)


def write_key(env_file: str | os.PathLike[str], key: str | None = None) -> str:
    """Put ``API_MASTER_KEY=<key>`` into ``env_file``, replacing any old key line and keeping
    every other line as it was. Creates the file (mode 0600) if missing. Returns the key."""
    key = key or new_key()
    path = Path(env_file)
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    out: list[str] = []
    replaced = False
    for line in lines:
        if _KEY_LINE.match(line):
            if not replaced:
                out.append(f"API_MASTER_KEY={key}")
                replaced = True
            continue  # drop duplicate key lines
        out.append(line)
    if not replaced:
        out.append(f"API_MASTER_KEY={key}")
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(out) + "\n")
    os.replace(tmp, path)
    return key
