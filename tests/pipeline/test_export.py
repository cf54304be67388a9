"""encode / preview_jpeg / read_provenance on hand-made flyers (compose is tested elsewhere)."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pipeline.errors import InvalidRequest, RenderError
from pipeline.export import (
    encode,
    extension,
    media_type,
    preview_jpeg,
    read_provenance,
)
from pipeline.models import Flyer
from pipeline.render.formats import MM_PER_INCH, get_format

MANIFEST: dict[str, Any] = {
    "id": "abc123",
    "layout": "poster",
    "details": {"title": "Jazz × Nacht", "venue": "Café Olé"},
    "provenance": {"prompt": "neon jazz club, été", "seed": 42},
}


def _canvas(width: int, height: int) -> Image.Image:
    """A busy, deterministic RGB canvas: gradients plus blocks (something like a flyer)."""
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    r = np.broadcast_to(x, (height, width))
    g = np.broadcast_to(y, (height, width))
    b = (r + g) / 2
    arr = np.stack([r, g, b], axis=-1).astype(np.uint8)
    arr[height // 4 : height // 3, width // 6 : width * 5 // 6] = (250, 240, 30)
    return Image.fromarray(np.ascontiguousarray(arr), "RGB")


def _flyer(fmt_name: str = "instagram_post", manifest: dict[str, Any] | None = None) -> Flyer:
    fmt = get_format(fmt_name)
    return Flyer(
        image=_canvas(fmt.width, fmt.height),
        manifest=MANIFEST if manifest is None else manifest,
        layout="poster",
        format=fmt.name,
    )


def _diff(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).mean())


@pytest.mark.parametrize("kind", ["png", "jpeg", "jpg", "webp"])
def test_raster_kinds_decode_back_with_provenance(kind: str) -> None:
    flyer = _flyer()
    data = encode(flyer, kind)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == {"jpg": "JPEG"}.get(kind, kind.upper())
        assert image.size == (1080, 1350)
        assert image.mode == "RGB"
        assert _diff(image.convert("RGB"), flyer.image) < (0.01 if kind == "png" else 3)
    assert read_provenance(data) == MANIFEST


def test_png_text_chunks_and_print_dpi() -> None:
    with Image.open(io.BytesIO(encode(_flyer("a5"), "png"))) as image:
        assert image.info["Title"] == "Jazz × Nacht"
        assert image.info["Description"] == "neon jazz club, été"
        assert image.info["Software"].startswith("Flyer Studio")
        assert round(image.info["dpi"][0]) == 300
    with Image.open(io.BytesIO(encode(_flyer("a5"), "jpeg"))) as image:
        assert image.info["dpi"] == (300, 300)


def test_png_is_deterministic() -> None:
    assert encode(_flyer(), "png") == encode(_flyer(), "png")
    assert encode(_flyer(), "pdf") == encode(_flyer(), "pdf")
    other = _flyer(manifest={**MANIFEST, "id": "different"})
    assert encode(other, "png") != encode(_flyer(), "png")


def test_png_stream_is_valid_for_strict_decoders() -> None:
    """Every chunk CRC and the zlib stream (adler32 included) check out; rows round-trip."""
    import struct
    import zlib

    flyer = _flyer("a5")  # big enough to be deflated in several slices
    data = encode(flyer, "png")
    pos, idat, kinds = 8, b"", []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body), kind
        kinds.append(kind)
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"pHYs" in kinds
    raw = zlib.decompress(idat)  # raises on a bad adler32
    assert len(raw) == flyer.image.height * (flyer.image.width * 3 + 1)
    with Image.open(io.BytesIO(data)) as image:
        assert np.array_equal(np.asarray(image), np.asarray(flyer.image))


def _media_box(pdf: bytes, name: str = "MediaBox") -> list[float]:
    match = re.search(rb"/" + name.encode() + rb"\s*\[([^\]]+)\]", pdf)
    assert match, f"no /{name} in the PDF"
    return [float(v) for v in match.group(1).split()]


@pytest.mark.parametrize("fmt_name", ["a4", "letter"])
def test_pdf_page_is_trim_plus_bleed(fmt_name: str) -> None:
    fmt = get_format(fmt_name)
    pdf = encode(_flyer(fmt_name), "pdf")
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    x0, y0, x1, y1 = _media_box(pdf)
    assert (x0, y0) == (0, 0)
    assert x1 == pytest.approx(fmt.width * 72 / 300, abs=0.01)
    assert y1 == pytest.approx(fmt.height * 72 / 300, abs=0.01)
    if fmt_name == "a4":  # 210×297 mm + 2×3 mm bleed, to within a pixel's rounding
        assert x1 / 72 * MM_PER_INCH == pytest.approx(216, abs=0.2)
        assert y1 / 72 * MM_PER_INCH == pytest.approx(303, abs=0.2)
    tx0, ty0, tx1, ty1 = _media_box(pdf, "TrimBox")
    bleed_pt = fmt.bleed * 72 / 300
    assert ty1 == pytest.approx(y1 - bleed_pt, abs=0.01)
    assert (tx0, ty0) == (pytest.approx(bleed_pt, abs=0.01), pytest.approx(bleed_pt, abs=0.01))
    assert tx1 == pytest.approx(x1 - bleed_pt, abs=0.01)
    assert read_provenance(pdf) == MANIFEST
    assert b"/Title <FEFF" in pdf and b"DCTDecode" in pdf
    assert len(pdf) < 3_000_000  # JPEG inside keeps the A4 file small


needs_poppler = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="needs pdftoppm")


def _rasterise(pdf: bytes, tmp_path: Path, dpi: int) -> Image.Image:
    src = tmp_path / "in.pdf"
    src.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-png", "-singlefile", str(src), str(tmp_path / "out")],
        check=True,
        timeout=60,
    )
    with Image.open(tmp_path / "out.png") as image:
        return image.convert("RGB")


@needs_poppler
def test_pdf_rasterises_to_the_flyer(tmp_path: Path) -> None:
    flyer = _flyer("a5")
    page = _rasterise(encode(flyer, "pdf"), tmp_path, 75)
    expected = flyer.image.resize(page.size, Image.Resampling.BOX)
    assert _diff(page, expected) < 4


@needs_poppler
def test_crop_marks_sit_outside_the_bleed(tmp_path: Path) -> None:
    fmt = get_format("a5")
    # a plain light flyer: any mark drawn over it (bleed included) would show as dark pixels
    flyer = Flyer(Image.new("RGB", (fmt.width, fmt.height), (200, 210, 220)), MANIFEST, "x", "a5")
    plain = encode(flyer, "pdf")
    marked = encode(flyer, "pdf", crop_marks=True)
    _, _, x1, _ = _media_box(marked)
    slug_pt = (x1 - fmt.width * 72 / 300) / 2
    assert slug_pt / 72 * MM_PER_INCH == pytest.approx(6, abs=0.01)  # 6 mm slug each side
    bx0, by0, bx1, _ = _media_box(marked, "BleedBox")
    assert (bx0, by0) == (pytest.approx(slug_pt, abs=0.01), pytest.approx(slug_pt, abs=0.01))
    assert bx1 - bx0 == pytest.approx(fmt.width * 72 / 300, abs=0.01)
    assert b"1 1 1 1 K" in marked and b"1 1 1 1 K" not in plain
    # at 127 dpi the 6 mm slug is exactly 30 px, so both pages rasterise on the same grid
    dpi, s = 127, 30
    page = np.asarray(_rasterise(marked, tmp_path, dpi), np.int16)
    base = np.asarray(_rasterise(plain, tmp_path, dpi), np.int16)
    h, w = base.shape[:2]
    assert page.shape[:2] == (h + 2 * s, w + 2 * s)
    # the flyer, bleed included, is untouched by the marks (the last row and column of the
    # page are half flyer, half slug at this resolution: left out)
    assert np.abs(page[s : s + h - 1, s : s + w - 1] - base[:-1, :-1]).max() <= 8
    assert page[s : s + h - 1, s : s + w - 1].min() >= 190
    # the far corner of the slug is white; the marks continue the trim lines into the slug
    assert page[: s - 2, : s - 2].min() >= 250
    trim = round((slug_pt + fmt.bleed * 72 / 300) / 72 * dpi)
    assert page[5 : s - 1, trim - 1 : trim + 2].min() < 100  # vertical mark, top-left
    assert page[trim - 1 : trim + 2, 5 : s - 1].min() < 100  # horizontal mark, top-left
    assert page[-(s - 1) : -5, -(trim + 2) : -(trim - 1)].min() < 100  # bottom-right


def test_crop_marks_ignored_without_bleed() -> None:
    flyer = _flyer()
    assert encode(flyer, "pdf", crop_marks=True) == encode(flyer, "pdf")


def test_preview_is_small_and_fast_shape() -> None:
    social = Image.open(io.BytesIO(preview_jpeg(_flyer())))
    assert social.size == (1080, 1350)
    a4 = _flyer("a4")
    preview = Image.open(io.BytesIO(preview_jpeg(a4)))
    assert max(preview.size) <= 1350 and max(preview.size) >= 0.8 * 1350
    ratio = a4.image.width / a4.image.height
    assert preview.width / preview.height == pytest.approx(ratio, rel=0.01)
    assert _diff(preview.convert("RGB"), a4.image.resize(preview.size)) < 4


def test_kinds_media_types_and_extensions() -> None:
    assert media_type("PNG") == "image/png"
    assert media_type("jpg") == media_type("jpeg") == "image/jpeg"
    assert media_type("pdf") == "application/pdf"
    assert extension("jpeg") == "jpg"
    assert extension(".webp") == "webp"


@pytest.mark.parametrize("kind", ["gif", "", "tiff"])
def test_unknown_kind(kind: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        encode(_flyer(), kind)
    assert info.value.field == "format"
    assert "png, jpeg, webp or pdf" in str(info.value)
    with pytest.raises(InvalidRequest):
        media_type(kind)


def test_bad_quality_and_mismatched_format() -> None:
    with pytest.raises(InvalidRequest):
        encode(_flyer(), "jpeg", quality=0)
    with pytest.raises(RenderError):
        encode(_flyer(), "pdf", fmt=get_format("a4"))


def test_read_provenance_refuses_foreign_files() -> None:
    buf = io.BytesIO()
    _canvas(32, 32).save(buf, "PNG")
    with pytest.raises(InvalidRequest):
        read_provenance(buf.getvalue())
    with pytest.raises(InvalidRequest):
        read_provenance(b"not an image at all")


def _pdf_image(pdf: bytes) -> bytes:
    """The page image's stream (the one image XObject) from a PDF written by ``encode``."""
    match = re.search(rb"/Subtype /Image .*?/Length (\d+) >>\nstream\n", pdf, re.S)
    assert match, "no image XObject"
    start = match.end()
    return pdf[start : start + int(match.group(1))]


def _jpeg_sampling(data: bytes) -> list[tuple[int, int]]:
    """(horizontal, vertical) sampling factors of each component, from the JPEG's SOF."""
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    pos = 2
    while pos < len(data):
        marker, length = data[pos + 1], int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            count = data[pos + 9]
            comps = data[pos + 10 : pos + 10 + 3 * count]
            return [(comps[i + 1] >> 4, comps[i + 1] & 15) for i in range(0, 3 * count, 3)]
        pos += 2 + length
    raise AssertionError("no SOF marker")


def test_pdf_page_image_keeps_full_colour_resolution() -> None:
    """The print PDF's page image is not chroma-subsampled: red text on a light page keeps
    its colour up to the edge (4:2:0 smeared it over two pixels)."""
    fmt = get_format("a5")
    canvas = Image.new("RGB", (fmt.width, fmt.height), (245, 240, 230))
    ImageDraw.Draw(canvas).rectangle((301, 301, 900, 340), fill=(214, 40, 40))  # odd edges
    pdf = encode(Flyer(canvas, MANIFEST, "poster", "a5"), "pdf")
    stream = _pdf_image(pdf)
    assert _jpeg_sampling(stream) == [(1, 1), (1, 1), (1, 1)]  # 4:4:4
    with Image.open(io.BytesIO(stream)) as decoded:
        got = np.asarray(decoded.convert("YCbCr"), np.float64)
    want = np.asarray(canvas.convert("YCbCr"), np.float64)
    edge = (slice(296, 346), slice(296, 906))  # the bar with 5 px around it
    bleed = np.abs(got[edge][..., 1:] - want[edge][..., 1:]).max()
    assert bleed < 12, bleed


def test_pdf_of_a_social_format_has_a_sensible_page_size() -> None:
    """1080x1350 px at 72 dpi would be a 15x18.75 inch page; at 150 dpi it is 7.2x9 in."""
    pdf = encode(_flyer("instagram_post"), "pdf")
    x0, y0, x1, y1 = _media_box(pdf)
    assert (x1 - x0, y1 - y0) == pytest.approx((1080 * 72 / 150, 1350 * 72 / 150))


@pytest.mark.parametrize("with_provenance", [True, False])
def test_metadata_title_is_the_events_title(with_provenance: bool) -> None:
    """A composed flyer's manifest also names fonts ("title": a font) and layouts: the PNG
    and PDF Title (and the PDF Author) must be the event's title and organiser."""
    from pipeline.models import EventDetails, FlyerSpec
    from pipeline.render.compose import compose

    details = EventDetails(title="Nuit du Jazz — été", organiser="Harbour Arts",
                           date="14 June")
    provenance = {"prompt": "harbour at night", "details": vars(details)} if with_provenance \
        else {}
    flyer = compose(_canvas(400, 500), FlyerSpec(details=details, provenance=provenance),
                    "minimal_type", get_format("400x500"))
    assert flyer.manifest["fonts"]["title"] != details.title  # the trap
    with Image.open(io.BytesIO(encode(flyer, "png"))) as image:
        assert image.info["Title"] == details.title
    pdf = encode(flyer, "pdf")
    title = re.search(rb"/Title <FEFF([0-9A-F]+)>", pdf)
    author = re.search(rb"/Author <FEFF([0-9A-F]+)>", pdf)
    assert title is not None and author is not None
    assert bytes.fromhex(title.group(1).decode()).decode("utf-16-be") == details.title
    assert bytes.fromhex(author.group(1).decode()).decode("utf-16-be") == "Harbour Arts"


def test_png_pixels_are_deflated_by_isal_and_levels_are_checked() -> None:
    """isal is a dependency: without it PNGs silently cost ~7x more CPU (zlib's level 1)."""
    from pipeline._png import DEFLATE, write_png

    assert DEFLATE == "isal"
    image = _flyer().image
    for level in (0, 1, 9):  # zlib's scale, mapped onto ISA-L's 0-3
        with Image.open(io.BytesIO(write_png(image, level=level))) as back:
            assert np.array_equal(np.asarray(back), np.asarray(image))
    with pytest.raises(ValueError, match="0-9"):
        write_png(image, level=10)
