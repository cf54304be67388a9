"""A fast, deterministic PNG writer for 8-bit RGB/RGBA canvases (used by ``export``).

Pillow's encoder tries all five filters on every row ("adaptive"), which costs as much as the
compression itself. Flyers are mostly smooth backgrounds, for which the "Up" filter alone is
within a few percent of adaptive, and it is one numpy subtraction. The filtered rows are then
deflated at level 1 in slices on the shared worker threads (``pipeline.executor``; the
compressor releases the GIL), joined pigz-style with full flushes into one valid zlib stream.
Output is byte-for-byte reproducible (for one compressor).

The deflate is ISA-L's (the ``isal`` package, a dependency) when it is installed: on a
1080×1350 flyer its level 1 is about 7x faster than zlib's level 1 and a few percent smaller
(``DEFLATE``, ``bench/bench_compose.py``), and so are its checksums (the stream's Adler-32
over the ~4 MB of filtered rows, each chunk's CRC-32: ~2 ms a post with zlib's, ~0.6 with
ISA-L's, the same values). Without it, zlib's. Both write standard deflate: every PNG reader
decodes either.
"""

from __future__ import annotations

import struct
import zlib
from types import ModuleType

import numpy as np
from PIL import Image

from .executor import work_pool
from .pixels import pixels as raw_pixels

__all__ = ["DEFLATE", "write_png"]


def _deflater() -> tuple[str, ModuleType]:
    try:
        from isal import isal_zlib
    except ImportError:  # pragma: no cover - isal is a dependency; zlib is the fallback
        return "zlib", zlib
    return "isal", isal_zlib


DEFLATE, _Z = _deflater()
"""Which deflate writes the pixels: "isal" or "zlib"."""

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MIN_SLICE = 1 << 20  # bytes of filtered data worth a thread of its own


def _chunk(kind: bytes, body: bytes) -> bytes:
    crc = _Z.crc32(body, _Z.crc32(kind))  # ISA-L's: ~4x zlib's on a flyer's ~1 MB IDAT
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def _text(key: str, value: str) -> bytes:
    """tEXt for plain Latin-1 values, compressed iTXt otherwise (or when long)."""
    name = key.encode("latin-1")[:79]
    if len(value) < 1024:
        try:
            return _chunk(b"tEXt", name + b"\0" + value.encode("latin-1"))
        except UnicodeEncodeError:
            pass
    body = zlib.compress(value.encode("utf-8"), 9)
    return _chunk(b"iTXt", name + b"\0\x01\x00\0\0" + body)


def _filtered(image: Image.Image) -> memoryview:
    """Rows prefixed by filter type 2 (Up): each byte minus the byte above it (a view of the
    filtered array: no copy of its ~4 MB into bytes, nor of each slice deflated)."""
    pixels = raw_pixels(image)
    height = pixels.shape[0]
    rows = pixels.reshape(height, -1)
    out = np.empty((height, rows.shape[1] + 1), dtype=np.uint8)
    out[:, 0] = 2
    out[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=out[1:, 1:])
    return memoryview(out.data).cast("B")


def _deflate(raw: memoryview, level: int, workers: int) -> bytes:
    if not 0 <= level <= 9:
        raise ValueError(f"PNG compression level must be 0-9 (zlib's scale), not {level}")
    if DEFLATE == "isal":
        level = min(level, 3)  # ISA-L's levels are 0-3, 3 its best
    pieces = max(1, min(workers, len(raw) // _MIN_SLICE))
    if pieces == 1:
        return bytes(_Z.compress(raw, level))
    step = -(-len(raw) // pieces)
    slices = [raw[i : i + step] for i in range(0, len(raw), step)]

    def deflate(index: int) -> bytes:
        comp = _Z.compressobj(level, _Z.DEFLATED, -15)
        last = index == len(slices) - 1
        return bytes(comp.compress(slices[index]) + comp.flush(
            _Z.Z_FINISH if last else _Z.Z_FULL_FLUSH
        ))

    parts = list(work_pool().map(deflate, range(len(slices))))
    header = b"\x78\x01"  # deflate, 32K window, fastest
    return header + b"".join(parts) + struct.pack(">I", _Z.adler32(raw))


def write_png(
    image: Image.Image,
    *,
    text: dict[str, str] | None = None,
    dpi: int | None = None,
    level: int = 1,
    workers: int = 2,
) -> bytes:
    """PNG bytes of an RGB or RGBA image, with text chunks (before the pixels) and dpi."""
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGB")
    colour_type = 6 if image.mode == "RGBA" else 2
    ihdr = struct.pack(">IIBBBBB", image.width, image.height, 8, colour_type, 0, 0, 0)
    parts = [_SIGNATURE, _chunk(b"IHDR", ihdr)]
    if dpi:
        per_metre = round(dpi / 0.0254)
        parts.append(_chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)))
    parts.extend(_text(key, value) for key, value in (text or {}).items())
    parts.append(_chunk(b"IDAT", _deflate(_filtered(image), level, workers)))
    parts.append(_chunk(b"IEND", b""))
    return b"".join(parts)
