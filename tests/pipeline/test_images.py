"""load_image: every colour mode, EXIF rotation, and every way an upload can be bad."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.errors import InvalidRequest
from pipeline.render.images import load_image


def _save(image: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **params)
    return buf.getvalue()


def _gradient(mode: str = "RGB", size: tuple[int, int] = (64, 48)) -> Image.Image:
    w, h = size
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :].repeat(h, 0)
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None].repeat(w, 1)
    rgb = np.stack([x, y, 255 - x], axis=-1).astype(np.uint8)
    return Image.fromarray(rgb, "RGB").convert(mode)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width×height 1-bit pixels (the data is a few bytes)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("mode", "fmt", "expected"),
    [
        ("RGB", "PNG", "RGB"),
        ("RGBA", "PNG", "RGBA"),
        ("P", "PNG", "RGB"),
        ("L", "PNG", "RGB"),
        ("LA", "PNG", "RGBA"),
        ("1", "PNG", "RGB"),
        ("RGB", "JPEG", "RGB"),
        ("L", "JPEG", "RGB"),
        ("CMYK", "JPEG", "RGB"),
        ("CMYK", "TIFF", "RGB"),
        ("YCbCr", "JPEG", "RGB"),
        ("RGB", "WEBP", "RGB"),
        ("RGBA", "WEBP", "RGBA"),
        ("P", "GIF", "RGB"),
    ],
)
def test_modes_are_normalised(mode: str, fmt: str, expected: str) -> None:
    source = _gradient(mode)
    if mode in {"RGBA", "LA"}:
        source.putalpha(Image.linear_gradient("L").resize(source.size))
    image = load_image(_save(source, fmt), field="logo")
    assert image.mode == expected
    assert image.size == (64, 48)
    if mode in {"RGB", "RGBA", "CMYK", "YCbCr"} and fmt in {"PNG", "TIFF"}:
        # lossless: colours survive the round trip (CMYK via Pillow's naive conversion)
        ref = np.asarray(source.convert("RGB"), dtype=np.int16)
        got = np.asarray(image.convert("RGB"), dtype=np.int16)
        assert np.abs(ref - got).mean() < 2


def test_palette_with_transparency_becomes_rgba() -> None:
    source = _gradient("P")
    source.paste(0, (0, 0, 8, 8))  # palette index 0 is the transparent one
    data = _save(source, "PNG", transparency=0)
    image = load_image(data, field="logo")
    assert image.mode == "RGBA"
    alpha = np.asarray(image)[..., 3]
    assert alpha.min() == 0 and alpha.max() == 255


def test_16_bit_png_is_scaled_not_clipped() -> None:
    ramp = np.linspace(0, 65535, 64, dtype=np.uint16)[None, :].repeat(8, 0)
    data = _save(Image.fromarray(ramp, "I;16"), "PNG")
    image = load_image(data, field="background")
    assert image.mode == "RGB"
    row = np.asarray(image)[0, :, 0].astype(int)
    assert row[0] == 0 and row[-1] == 255
    assert 100 < row[32] < 160  # mid-grey, not clipped to white


def test_exif_orientation_is_applied() -> None:
    source = _gradient("RGB", (80, 40))
    source.paste((255, 0, 0), (0, 0, 10, 10))  # a red marker top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    data = _save(source, "JPEG", exif=exif, quality=95)
    image = load_image(data, field="logo")
    assert image.size == (40, 80)
    # top-left of the stored image ends up top-right of the displayed image
    top_right = np.asarray(image)[2:8, 32:38].reshape(-1, 3).mean(0)
    assert top_right[0] > 200 and top_right[1] < 60


def test_animated_gif_gives_first_frame() -> None:
    frames = [Image.new("RGB", (32, 32), c) for c in ((255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    image = load_image(buf.getvalue(), field="logo")
    assert image.mode == "RGB"
    assert image.getpixel((16, 16)) == (255, 0, 0)


def test_path_input(tmp_path: Path) -> None:
    path = tmp_path / "metro.png"
    path.write_bytes(_save(_gradient("RGBA"), "PNG"))
    assert load_image(path, field="METRO_PATH").mode == "RGBA"
    assert load_image(str(path), field="METRO_PATH").size == (64, 48)


def _bad(data: bytes | str | Path, field: str = "logo", **kw: int) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        load_image(data, field=field, **kw)
    assert info.value.field == field
    return info.value


def test_empty_file() -> None:
    err = _bad(b"")
    assert "Organiser logo" in str(err) and "empty" in str(err)


def test_text_file() -> None:
    err = _bad(b"hello, this is not a picture\n" * 10, field="background")
    assert str(err).startswith("Background image:") and "not an image" in str(err)


def test_missing_path(tmp_path: Path) -> None:
    err = _bad(tmp_path / "nope.png", field="METRO_PATH")
    assert "Metro logo (METRO_PATH)" in str(err) and "does not exist" in str(err)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated(fmt: str) -> None:
    noise = np.random.default_rng(1).integers(0, 255, (200, 200, 3), dtype=np.uint8)
    data = _save(Image.fromarray(noise), fmt)
    err = _bad(data[: len(data) // 2])
    assert "corrupt or truncated" in str(err)


def test_corrupt_bytes_in_the_middle_of_png() -> None:
    noise = np.random.default_rng(2).integers(0, 255, (100, 100, 3), dtype=np.uint8)
    data = bytearray(_save(Image.fromarray(noise), "PNG"))
    mid = len(data) // 2
    data[mid : mid + 16] = bytes(16)
    err = _bad(bytes(data))
    assert "corrupt" in str(err)


def test_decompression_bomb_header_is_refused_before_decoding() -> None:
    before = Image.MAX_IMAGE_PIXELS
    err = _bad(_png_header_only(50_000, 50_000))  # 2.5 gigapixels in ~100 bytes
    assert "megapixels" in str(err) or "too many pixels" in str(err)
    assert before == Image.MAX_IMAGE_PIXELS


def test_pixel_budget_below_pillow_limit() -> None:
    err = _bad(_png_header_only(8_000, 6_000))  # 48 MP: under Pillow's limit, over ours
    assert "48 megapixels" in str(err)
    _bad(_save(_gradient(), "PNG"), max_pixels=1000)  # a real 64×48 image, tiny budget


def test_too_many_bytes(tmp_path: Path) -> None:
    data = _save(_gradient(), "PNG")
    err = _bad(data, max_bytes=len(data) - 1)
    assert "limit" in str(err)
    path = tmp_path / "big.png"
    path.write_bytes(data)
    _bad(path, field="METRO_PATH", max_bytes=100)


def test_result_is_detached_and_usable() -> None:
    image = load_image(_save(_gradient(), "PNG"), field="logo")
    image.thumbnail((10, 10))  # works without the source buffer
    assert image.size[0] <= 10


def test_pillow_warning_zone_is_refused_even_with_a_generous_budget() -> None:
    # 100 MP is above Pillow's warning threshold (~89 MP) but below its hard error:
    # the image must still be refused, whatever max_pixels says.
    err = _bad(_png_header_only(10_000, 10_000), max_pixels=500_000_000)
    assert "pixels" in str(err)
