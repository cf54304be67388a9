"""Canaries for the private parts of Pillow and Gradio the studio relies on.

pyproject.toml pins both below the next major version (Gradio exactly). Before raising a pin,
run this file against the new version: each failure names what changed and the code that
depends on it, so an upgrade breaks here, loudly, instead of in a flyer or a login.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
FONT = str(ROOT / "pipeline" / "render" / "fonts" / "Inter-Regular.otf")


def changed(library: str, what: str, users: str) -> str:
    return (f"{library} {version(library)} changed {what}, which {users} relies on: adapt that "
            "code (or keep the pin in pyproject.toml) before upgrading.")


# --- Pillow ----------------------------------------------------------------------------------


def test_pillow_core_drawing_still_inks_rasterised_runs_like_draw_text() -> None:
    """pipeline/render/text.py rasterises each run once (``getmask2``) and inks it later through
    ImageDraw's core object (``draw.draw.draw_ink``/``draw_bitmap``, ``draw.im``)."""
    from pipeline.render.fonts import load_font

    why = changed("pillow", "ImageDraw's core drawing (draw.draw, draw.im) or getmask2",
                  "pipeline/render/text.py (FittedText.stamps and paint)")
    font = load_font(FONT, 48)
    expected = Image.new("RGB", (400, 90), (20, 30, 40))
    ImageDraw.Draw(expected).text((10.25, 64), "Jazz Night", font=font, fill=(250, 200, 60),
                                  anchor="ls")
    canvas = Image.new("RGB", (400, 90), (20, 30, 40))
    draw = ImageDraw.Draw(canvas)
    assert hasattr(draw, "draw") and hasattr(draw, "im"), why
    assert callable(getattr(draw.draw, "draw_ink", None)), why
    assert callable(getattr(draw.draw, "draw_bitmap", None)), why
    assert "start" in inspect.signature(font.getmask2).parameters, why
    mask, offset = font.getmask2("Jazz Night", "L", anchor="ls", start=(0.25, 0.0))
    assert tuple(draw.im.size) == (400, 90), why
    draw.draw.draw_bitmap((10 + offset[0], 64 + offset[1]), mask, draw.draw.draw_ink(
        (250, 200, 60)))
    assert np.array_equal(np.asarray(canvas), np.asarray(expected)), why


def test_pillow_resize_of_strips_equals_one_resize() -> None:
    """pipeline/render/resample.py resizes horizontal strips on threads (each with its slice of
    the source box); that is only right while Pillow reads the filter's support outside the
    box."""
    from concurrent.futures import ThreadPoolExecutor

    from pipeline.render.resample import start_strips

    why = changed("pillow", "how resize(box=...) samples around the box",
                  "pipeline/render/resample.py (compose's background resize)")
    rng = np.random.default_rng(4)
    source = Image.fromarray(rng.integers(0, 256, (300, 240, 3), dtype=np.uint8), "RGB")
    box = (13.5, 20.25, 230.0, 290.0)
    size = (700, 800)
    whole = source.resize(size, Image.Resampling.BICUBIC, box=box)
    with ThreadPoolExecutor(max_workers=2) as pool:
        parts = start_strips(pool, source, size, Image.Resampling.BICUBIC, box)
        assert len(parts) > 1
        joined = Image.new("RGB", size)
        for top, part in parts:
            joined.paste(part.result(), (0, top))
    assert np.array_equal(np.asarray(joined), np.asarray(whole)), why


# --- Gradio ----------------------------------------------------------------------------------


def test_gradio_file_guard_still_turns_on_with_has_launched() -> None:
    """studio/uploads.py restore_file_guard sets ``blocks.has_launched`` so that Gradio's path
    guard (``processing_utils._check_allowed``) works for mounted Blocks."""
    import gradio as gr
    from gradio import processing_utils
    from gradio.context import LocalContext
    from gradio.exceptions import InvalidPathError

    why = changed("gradio", "processing_utils._check_allowed or Blocks.has_launched",
                  "studio/uploads.py (restore_file_guard: the file-path guard of mounted Blocks)")
    check = getattr(processing_utils, "_check_allowed", None)
    assert callable(check), why
    with gr.Blocks() as blocks:
        pass
    assert blocks.has_launched is False, why
    token = LocalContext.blocks.set(blocks)
    try:
        check("/etc/passwd", True)  # not launched: Gradio lets it through (the hole we close)
        blocks.has_launched = True
        with pytest.raises(InvalidPathError):
            check("/etc/passwd", True)
    finally:
        LocalContext.blocks.reset(token)


def test_gradio_app_still_has_what_the_server_and_sessions_use() -> None:
    """studio/server.py (shutdown ends streams via ``stop_event`` and ``get_blocks()._queue``;
    ``uploaded_file_dir`` and components' ``GRADIO_CACHE`` per studio) and studio/sessions.py,
    studio/gate.py (logins in ``App.tokens``, cookies ``access-token[-unsecure]-{cookie_id}``,
    the page's ``window.gradio_api_info``)."""
    import gradio as gr
    from gradio import routes
    from gradio.utils import get_upload_folder

    why = changed("gradio", "gradio.routes.App (tokens, cookie_id, stop_event, "
                  "uploaded_file_dir, get_blocks, the queue's close, the login cookies)",
                  "studio/server.py, studio/sessions.py and studio/gate.py")
    with gr.Blocks() as blocks:
        gr.Textbox()
    app = routes.App.create_app(blocks)
    assert isinstance(app.tokens, dict) and isinstance(app.cookie_id, str), why
    assert hasattr(app.stop_event, "set") and isinstance(app.uploaded_file_dir, str), why
    assert app.get_blocks() is blocks, why
    assert callable(getattr(blocks._queue, "close", None)), why
    assert all(hasattr(block, "GRADIO_CACHE") for block in blocks.blocks.values()), why
    assert callable(get_upload_folder), why
    source = inspect.getsource(routes)
    assert 'f"access-token-{app.cookie_id}"' in source, why
    assert 'f"access-token-unsecure-{app.cookie_id}"' in source, why
    assert '"gradio_api_info"' in source, why


def test_the_pins_cover_the_versions_checked_here() -> None:
    """The versions this file checks are inside pyproject.toml's pins (and requirements.txt's
    for the Space), so an install cannot move past them unseen."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"gradio==6.31.0"' in text and version("gradio") == "6.31.0"
    assert '"pillow>=10.1,<13"' in text and int(version("pillow").split(".")[0]) < 13
    assert "pillow>=10.1,<13" in (ROOT / "requirements.txt").read_text(encoding="utf-8")


def test_enlarge_is_opencv_bicubic_close_to_pillows() -> None:
    """pipeline/render/resample.enlarge blows paintings up with OpenCV's bicubic instead of
    Pillow's (7x faster): the same picture within a grey level on average, whatever
    OpenCV's thread count, and on whole source pixels (a fractional crop is rounded)."""
    import cv2

    from pipeline.render.resample import enlarge

    why = changed("opencv-python-headless", "what INTER_CUBIC resize gives",
                  "pipeline/render/resample.py (compose's background enlargement)")
    rng = np.random.default_rng(5)
    small = rng.integers(0, 256, (60, 48, 3), dtype=np.uint8)
    source = Image.fromarray(cv2.resize(small, (240, 300), interpolation=cv2.INTER_CUBIC))
    box, size = (13.4, 20.6, 230.0, 290.0), (700, 873)
    got = enlarge(source, size, box)
    assert got.size == size and got.mode == "RGB"
    rounded = (13.0, 21.0, 230.0, 290.0)
    pillow = np.asarray(source.resize(size, Image.Resampling.BICUBIC, box=rounded), np.int16)
    assert float(np.abs(np.asarray(got, np.int16) - pillow).mean()) < 1.0, why
    threads = cv2.getNumThreads()
    try:
        cv2.setNumThreads(1)
        alone = enlarge(source, size, box)
    finally:
        cv2.setNumThreads(threads)
    assert np.array_equal(np.asarray(alone), np.asarray(got)), why


# --- Starlette ---------------------------------------------------------------------------------


def test_starlette_file_responses_read_their_chunk_size() -> None:
    """studio/server.py big_file_chunks sets ``FileResponse.chunk_size`` (Gradio's file route
    serves every /generate PNG through FileResponse): it only helps while FileResponse reads
    files in pieces of that class attribute."""
    import inspect

    from starlette.responses import FileResponse

    from studio.server import FILE_CHUNK, big_file_chunks

    why = changed("starlette", "how FileResponse sizes its reads",
                  "studio/server.py (big_file_chunks)")
    big_file_chunks()
    assert FileResponse.chunk_size == FILE_CHUNK, why
    assert "self.chunk_size" in inspect.getsource(FileResponse), why


def test_pillow_raw_encoder_still_packs_a_whole_image_in_one_call() -> None:
    """pipeline/pixels.py packs canvases through ``Image._getencoder(mode, "raw", mode)``,
    ``setimage`` and one ``encode(size)`` (10x faster than ``tobytes``' 64 KiB pieces); it
    falls back to ``tobytes`` when that fails, so a change would only be slow: caught here."""
    why = changed("pillow", "Image._getencoder or the raw encoder's setimage/encode",
                  "pipeline/pixels.py (raw_bytes, pixels)")
    image = Image.linear_gradient("L").convert("RGB").resize((300, 200))
    encoder = Image._getencoder(image.mode, "raw", image.mode)
    encoder.setimage(image.im, (0, 0, *image.size))
    _, status, data = encoder.encode(300 * 200 * 3)
    assert status == 1 and data == image.tobytes(), why
