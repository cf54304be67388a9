"""Encode a composed flyer as PNG, JPEG, WebP or PDF, with its manifest embedded as provenance.

* PNG: written by ``_png.write_png`` ("Up" filter, ISA-L's deflate level 1 in slices on the
  shared pool: an A4 page in 132 ms where zlib's level 1 took 578, bench_e2e), text chunk
  ``flyer-studio`` = the JSON manifest, plus Software, Title, Description (the prompt); dpi for
  print formats. No timestamps: same flyer, same bytes.
* JPEG: ``optimize=False``; 4:4:4 chroma at quality ≥ 90 (crisp text), 4:2:0 below; the manifest
  in a COM segment; dpi for print formats.
* WebP: ``method=2`` (twice as fast as 4, about the same size); the manifest in XMP.
* PDF: written here (one page, one DCT image, no dates, so deterministic); the page image is a
  JPEG at quality 95 without chroma subsampling (4:4:4), so coloured text keeps crisp edges
  (4:2:0 halves the colour resolution: a red title's edges bled into the background); lossless
  Flate was measured 5x larger and 10x slower on an A4 page. MediaBox = the canvas
  (trim + bleed) at the format's dpi, BleedBox and TrimBox set for the printer, metadata in the
  Info dictionary (the manifest under ``/FlyerStudioManifest``). With ``crop_marks=True`` (print
  formats only) the page gains a white 6 mm slug and thin registration-black vector trim marks
  that start one bleed away from each trim corner: nothing is drawn on the flyer's pixels.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import re
from typing import Any

from PIL import Image, UnidentifiedImageError

from . import __version__
from ._png import write_png
from .errors import InvalidRequest, RenderError
from .models import Flyer
from .render.formats import MM_PER_INCH, Format, get_format

__all__ = [
    "EXPORT_KINDS",
    "encode",
    "extension",
    "media_type",
    "normalise_kind",
    "preview_jpeg",
    "provenance_json",
    "read_provenance",
]

EXPORT_KINDS: tuple[str, ...] = ("png", "jpeg", "webp", "pdf")
_MEDIA = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "pdf": "application/pdf"}
_EXT = {"png": "png", "jpeg": "jpg", "webp": "webp", "pdf": "pdf"}
_SOFTWARE = f"Flyer Studio {__version__}"
_PNG_KEY = "flyer-studio"
_PDF_KEY = "FlyerStudioManifest"
_XMP_RE = re.compile(rb"<flyer:manifest>(.*?)</flyer:manifest>", re.S)
_PDF_RE = re.compile(rb"/" + _PDF_KEY.encode() + rb"\s*<([0-9A-Fa-f\s]*)>")
PDF_JPEG_QUALITY = 95
PDF_JPEG_SUBSAMPLING = "4:4:4"
SCREEN_PDF_DPI = 150
"""A social format printed from its PDF: 1080 px -> 7.2 in (not the 15 in of 72 dpi)."""
WEBP_METHOD = 2  # ~2x faster than 4 at 1080x1350, same size within 4%
MARK_LENGTH_MM = 5.0
MARK_WIDTH_PT = 0.25
SLUG_MM = 6.0


def normalise_kind(kind: str) -> str:
    """'PNG', '.jpg', 'jpeg' → the canonical kind; anything else is InvalidRequest."""
    key = (kind or "").strip().lower().lstrip(".")
    key = "jpeg" if key == "jpg" else key
    if key not in EXPORT_KINDS:
        raise InvalidRequest(
            f"Unknown file type {kind!r}; choose one of png, jpeg, webp or pdf.", field="format"
        )
    return key


def media_type(kind: str) -> str:
    return _MEDIA[normalise_kind(kind)]


def extension(kind: str) -> str:
    """File extension without the dot ('jpg' for jpeg)."""
    return _EXT[normalise_kind(kind)]


def provenance_json(manifest: dict[str, Any]) -> str:
    """The manifest as compact, key-sorted JSON (deterministic)."""
    return json.dumps(
        manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


def _find(manifest: dict[str, Any], key: str) -> str:
    """The shallowest string value stored under ``key`` in nested dicts ('' if none)."""
    level: list[dict[str, Any]] = [manifest]
    for _ in range(4):
        following: list[dict[str, Any]] = []
        for item in level:
            value = item.get(key)
            if isinstance(value, str) and value:
                return value
            following.extend(v for v in item.values() if isinstance(v, dict))
        level = following
    return ""


def _event(manifest: dict[str, Any], key: str) -> str:
    """An event detail (``title``, ``organiser``) as the organiser typed it: from the
    provenance's details, else top-level details, else the drawn element of that role. Never
    a font's or a layout's "title"."""
    for holder in (manifest.get("provenance"), manifest):
        details = holder.get("details") if isinstance(holder, dict) else None
        if isinstance(details, dict) and isinstance(details.get(key), str) and details[key]:
            return str(details[key])
    for element in manifest.get("elements") or []:
        if isinstance(element, dict) and element.get("role") == key and element.get("text"):
            return str(element["text"])
    return ""


def _resolve_format(flyer: Flyer, fmt: Format | None) -> Format:
    w, h = flyer.image.size
    if fmt is not None:
        if (fmt.width, fmt.height) != (w, h):
            raise RenderError(
                f"The flyer is {w}×{h} px but format {fmt.name} is {fmt.width}×{fmt.height}."
            )
        return fmt
    try:
        found = get_format(flyer.format)
    except InvalidRequest:
        found = None
    if found is None or (found.width, found.height) != (w, h):
        return Format(name=flyer.format, label=flyer.format, width=w, height=h)
    return found


def _rgb(image: Image.Image) -> Image.Image:
    return image if image.mode == "RGB" else image.convert("RGB")


def _check_quality(quality: int) -> None:
    if not 1 <= quality <= 100:
        raise InvalidRequest(f"Quality must be 1–100, not {quality}.", field="quality")


def encode(
    flyer: Flyer,
    kind: str,
    *,
    quality: int = 90,
    crop_marks: bool = False,
    fmt: Format | None = None,
) -> bytes:
    """The flyer as ``kind`` (png, jpeg/jpg, webp, pdf) bytes with provenance embedded.

    ``fmt`` defaults to ``get_format(flyer.format)``. ``crop_marks`` only applies to PDFs of
    print formats (formats with bleed); elsewhere it is ignored.
    """
    key = normalise_kind(kind)
    _check_quality(quality)
    fmt = _resolve_format(flyer, fmt)
    manifest = provenance_json(flyer.manifest)
    title = _event(flyer.manifest, "title")
    prompt = _find(flyer.manifest, "prompt")
    buf = io.BytesIO()
    if key == "png":
        text = {"Software": _SOFTWARE, "Title": title, "Description": prompt, _PNG_KEY: manifest}
        return write_png(
            flyer.image,
            text={k: v for k, v in text.items() if v},
            dpi=fmt.dpi if fmt.print else None,
        )
    elif key == "jpeg":
        extra: dict[str, Any] = {"dpi": (fmt.dpi, fmt.dpi)} if fmt.print else {}
        comment = manifest.encode("utf-8")
        if len(comment) <= 65_000:
            extra["comment"] = comment
        _rgb(flyer.image).save(
            buf,
            "JPEG",
            quality=quality,
            optimize=False,
            subsampling="4:4:4" if quality >= 90 else "4:2:0",
            **extra,
        )
    elif key == "webp":
        image = flyer.image if flyer.image.mode in ("RGB", "RGBA") else _rgb(flyer.image)
        image.save(buf, "WEBP", quality=quality, method=WEBP_METHOD, xmp=_xmp(manifest))
    else:
        return _pdf(flyer, fmt, manifest, title, prompt, crop_marks and fmt.bleed > 0)
    return buf.getvalue()


def preview_jpeg(flyer: Flyer, *, max_side: int = 1350, quality: int = 85) -> bytes:
    """A quick JPEG for the UI, at most ``max_side`` px: big canvases are box-reduced by an
    integer factor (fast) when that keeps at least 80% of ``max_side``, else resized."""
    _check_quality(quality)
    image = _rgb(flyer.image)
    longest = max(image.size)
    if longest > max_side:
        factor = -(-longest // max_side)
        if longest // factor >= 0.8 * max_side:
            image = image.reduce(factor)
        else:
            scale = max_side / longest
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            image = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality, optimize=False, subsampling="4:2:0")
    return buf.getvalue()


def _xmp(manifest: str) -> bytes:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:flyer="urn:flyer-studio:ns:1.0/"'
        f' xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="{_SOFTWARE}">'
        f"<flyer:manifest>{html.escape(manifest, quote=False)}</flyer:manifest>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


def _pdf_text(text: str) -> bytes:
    """A PDF text string: UTF-16BE with BOM, hex encoded (any character, no escaping)."""
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode("ascii") + b">"


def _num(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")


def _box(x0: float, y0: float, x1: float, y1: float) -> str:
    return f"[{_num(x0)} {_num(y0)} {_num(x1)} {_num(y1)}]"


def _marks(trim: tuple[float, float, float, float], offset: float, length: float) -> str:
    """Vector trim marks in registration black, each starting ``offset`` from a trim corner."""
    x0, y0, x1, y1 = trim
    ops = [f"q {_num(MARK_WIDTH_PT)} w 0 J 1 1 1 1 K"]
    for x, dx in ((x0, -1), (x1, 1)):
        for y, dy in ((y0, -1), (y1, 1)):
            ops.append(
                f"{_num(x + dx * offset)} {_num(y)} m {_num(x + dx * (offset + length))} "
                f"{_num(y)} l S"
            )
            ops.append(
                f"{_num(x)} {_num(y + dy * offset)} m {_num(x)} "
                f"{_num(y + dy * (offset + length))} l S"
            )
    ops.append("Q")
    return "\n".join(ops) + "\n"


def _pdf(
    flyer: Flyer, fmt: Format, manifest: str, title: str, prompt: str, crop_marks: bool
) -> bytes:
    image = _rgb(flyer.image)
    jpeg = io.BytesIO()
    image.save(jpeg, "JPEG", quality=PDF_JPEG_QUALITY, optimize=False,
               subsampling=PDF_JPEG_SUBSAMPLING)
    pixels = jpeg.getvalue()
    pt = 72.0 / (fmt.dpi if fmt.print else SCREEN_PDF_DPI)
    width, height = image.width * pt, image.height * pt
    bleed = fmt.bleed * pt
    mm = 72.0 / MM_PER_INCH
    slug = SLUG_MM * mm if crop_marks else 0.0
    media = (0.0, 0.0, width + 2 * slug, height + 2 * slug)
    bleed_box = (slug, slug, slug + width, slug + height)
    trim = (slug + bleed, slug + bleed, slug + width - bleed, slug + height - bleed)
    content = f"q {_num(width)} 0 0 {_num(height)} {_num(slug)} {_num(slug)} cm /Im0 Do Q\n"
    if crop_marks:
        content += _marks(trim, bleed, MARK_LENGTH_MM * mm)
    stream = content.encode("ascii")
    keywords = f"Flyer Studio; layout {flyer.layout}; format {fmt.name}"
    info = b"".join(
        b"/" + name + b" " + _pdf_text(value)
        for name, value in (
            (b"Title", title or "Flyer"),
            (b"Author", _event(flyer.manifest, "organiser") or "Flyer Studio"),
            (b"Subject", prompt or title or "Event flyer"),
            (b"Keywords", keywords),
            (b"Creator", _SOFTWARE),
            (b"Producer", _SOFTWARE),
            (_PDF_KEY.encode(), manifest),
        )
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            f"<< /Type /Page /Parent 2 0 R /MediaBox {_box(*media)} /BleedBox {_box(*bleed_box)}"
            f" /TrimBox {_box(*trim)} /Resources << /XObject << /Im0 4 0 R >> >>"
            " /Contents 5 0 R >>"
        ).encode("ascii"),
        (
            f"<< /Type /XObject /Subtype /Image /Width {image.width} /Height {image.height}"
            " /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode"
            f" /Length {len(pixels)} >>\nstream\n"
        ).encode("ascii")
        + pixels
        + b"\nendstream",
        f"<< /Length {len(stream)} >>\nstream\n".encode("ascii") + stream + b"endstream",
        b"<< " + info + b" >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode("ascii") + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode("ascii")
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode("ascii")
    digest = hashlib.md5(pixels + stream + info, usedforsecurity=False).hexdigest().upper()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 6 0 R"
        f" /ID [<{digest}> <{digest}>] >>\nstartxref\n{xref}\n%%EOF\n"
    ).encode("ascii")
    return bytes(out)


def read_provenance(data: bytes) -> dict[str, Any]:
    """The manifest embedded by :func:`encode` in a PNG, JPEG, WebP or PDF file."""
    raw: str | bytes | None = None
    if data.startswith(b"%PDF"):
        match = _PDF_RE.search(data)
        if match:
            hexed = re.sub(rb"\s", b"", match.group(1))
            raw = bytes.fromhex(hexed.decode("ascii"))[2:].decode("utf-16-be")
    else:
        try:
            with Image.open(io.BytesIO(data)) as image:
                info = dict(image.info)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise InvalidRequest(
                "This file is not a PNG, JPEG, WebP or PDF made by Flyer Studio.", field="file"
            ) from exc
        raw = info.get(_PNG_KEY) or info.get("comment")
        xmp = info.get("xmp")
        if raw is None and isinstance(xmp, bytes):
            found = _XMP_RE.search(xmp)
            raw = html.unescape(found.group(1).decode("utf-8")) if found else None
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    try:
        manifest = json.loads(raw) if raw else None
    except json.JSONDecodeError:
        manifest = None
    if not isinstance(manifest, dict):
        raise InvalidRequest("This file carries no Flyer Studio provenance.", field="file")
    return manifest
