"""Which characters a font file covers, read straight from its OpenType ``cmap`` table.

Pillow cannot tell whether a font has a glyph for a character (it silently draws .notdef, the
"tofu" box), so we read the font's character map ourselves: formats 4 (BMP) and 12 (full
Unicode) cover every font we ship. No third-party dependency.
"""

from __future__ import annotations

import struct
from functools import lru_cache
from pathlib import Path

__all__ = ["covered_codepoints"]


def _format4(data: bytes, off: int) -> set[int]:
    seg_x2 = struct.unpack_from(">H", data, off + 6)[0]
    n = seg_x2 // 2
    ends_at = off + 14
    starts_at = ends_at + seg_x2 + 2
    deltas_at = starts_at + seg_x2
    ranges_at = deltas_at + seg_x2
    ends = struct.unpack_from(f">{n}H", data, ends_at)
    starts = struct.unpack_from(f">{n}H", data, starts_at)
    deltas = struct.unpack_from(f">{n}h", data, deltas_at)
    range_offsets = struct.unpack_from(f">{n}H", data, ranges_at)
    out: set[int] = set()
    for i in range(n):
        start, end, delta, ro = starts[i], ends[i], deltas[i], range_offsets[i]
        if start == 0xFFFF:
            continue
        if ro == 0:
            out.update(c for c in range(start, end + 1) if (c + delta) & 0xFFFF)
            continue
        for c in range(start, end + 1):
            where = ranges_at + 2 * i + ro + 2 * (c - start)
            if where + 2 > len(data):
                break
            glyph = struct.unpack_from(">H", data, where)[0]
            if glyph and (glyph + delta) & 0xFFFF:
                out.add(c)
    return out


def _format12(data: bytes, off: int) -> set[int]:
    groups = struct.unpack_from(">I", data, off + 12)[0]
    out: set[int] = set()
    for g in range(groups):
        start, end, glyph = struct.unpack_from(">III", data, off + 16 + 12 * g)
        if glyph == 0:
            start += 1
        out.update(range(start, end + 1))
    return out


@lru_cache(maxsize=64)
def covered_codepoints(path: str) -> frozenset[int]:
    """Every code point the font at ``path`` maps to a real glyph (not .notdef)."""
    data = Path(path).read_bytes()
    # a collection (ttcf): use the first face
    data_off = struct.unpack_from(">I", data, 12)[0] if data[:4] == b"ttcf" else 0
    num_tables = struct.unpack_from(">H", data, data_off + 4)[0]
    cmap_off = None
    for t in range(num_tables):
        tag, _, offset, _ = struct.unpack_from(">4sIII", data, data_off + 12 + 16 * t)
        if tag == b"cmap":
            cmap_off = offset
            break
    if cmap_off is None:
        return frozenset()
    count = struct.unpack_from(">H", data, cmap_off + 2)[0]
    best: tuple[int, int] | None = None  # (priority, absolute offset)
    for i in range(count):
        platform, encoding, sub = struct.unpack_from(">HHI", data, cmap_off + 4 + 8 * i)
        fmt = struct.unpack_from(">H", data, cmap_off + sub)[0]
        if fmt == 12 and (platform, encoding) in ((3, 10), (0, 4), (0, 6)):
            priority = 2
        elif fmt == 4 and (platform == 0 or (platform, encoding) == (3, 1)):
            priority = 1
        else:
            continue
        if best is None or priority > best[0]:
            best = (priority, cmap_off + sub)
    if best is None:
        return frozenset()
    priority, off = best
    return frozenset(_format12(data, off) if priority == 2 else _format4(data, off))
