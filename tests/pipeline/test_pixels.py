"""pipeline.pixels: an image's bytes and array in one piece, the same as Pillow's own."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pipeline import pixels as module
from pipeline.pixels import pixels, raw_bytes


def _image(mode: str, size: tuple[int, int]) -> Image.Image:
    rng = np.random.default_rng(len(mode) * 31 + size[0])
    bands = len(Image.new(mode, (1, 1)).getbands())
    data = rng.integers(0, 256, (size[1], size[0], bands), dtype=np.uint8)
    return Image.frombytes(mode, size, data.tobytes()) if bands > 1 or mode == "L" else \
        Image.new(mode, size)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "LA", "P", "1", "I;16", "F", "CMYK"])
@pytest.mark.parametrize("size", [(1, 1), (7, 3), (1080, 1350), (3, 1)])
def test_the_same_bytes_and_array_as_pillows_own(mode: str, size: tuple[int, int]) -> None:
    image = _image(mode, size) if mode in ("L", "RGB", "RGBA", "CMYK", "LA") else \
        Image.new(mode, size)
    assert raw_bytes(image) == image.tobytes()
    got, want = pixels(image), np.asarray(image)
    assert got.shape == want.shape and got.dtype == want.dtype
    assert np.array_equal(got, want)
    assert not got.flags.writeable  # as np.asarray gives a Pillow image: a copy to change it


def test_an_empty_image_has_no_pixels() -> None:
    empty = Image.new("RGB", (0, 5))
    assert raw_bytes(empty) == b""
    assert pixels(empty).size == 0


def test_a_lazily_loaded_file_is_read_first(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "p.png"
    _image("RGB", (40, 30)).save(path)
    with Image.open(path) as opened:  # not loaded yet
        assert raw_bytes(opened) == Image.open(path).tobytes()


def test_pillows_public_way_when_its_encoder_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    image = _image("RGB", (64, 48))
    want, calls = image.tobytes(), []

    def tobytes(*args: object) -> bytes:
        calls.append(args)
        return want

    def gone(*_args: object) -> None:
        raise AttributeError("no _getencoder")

    monkeypatch.setattr(module.Image, "_getencoder", gone)
    monkeypatch.setattr(image, "tobytes", tobytes)
    assert raw_bytes(image) == want and len(calls) == 1
    assert np.array_equal(pixels(image), np.frombuffer(want, np.uint8).reshape(48, 64, 3))
