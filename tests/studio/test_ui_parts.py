"""The studio's small parts without a server: form -> request, and the session file folder."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pipeline.errors import InvalidRequest
from studio.handlers import format_from, palette_from, request_from
from studio.ui_files import SessionFiles
from studio.uploads import upload_root


def test_request_from_form_values() -> None:
    root = upload_root()  # handlers read only files Gradio stored from an upload
    root.mkdir(parents=True, exist_ok=True)
    logo = root / f"test-logo-{os.getpid()}.png"
    logo.write_bytes(b"not checked here")
    request = request_from({
        "title": " Jazz ", "venue": "Cave", "prompt": "neon", "random_seed": False,
        "seed": 42.0, "batch_size": 3.0, "layout": "auto", "format": "custom",
        "custom_size": "1200x628", "use_palette": True, "colour_1": "#AABBCC",
        "colour_2": "#aabbcc", "colour_3": "#123", "font_pairing": "default",
        "logo": str(logo), "background": None,
    })
    assert request.details.title == " Jazz " and request.details.venue == "Cave"
    assert (request.seed, request.batch_size, request.format) == (42, 3, "1200x628")
    assert request.palette == ("#aabbcc", "#112233")  # duplicates dropped, normalised
    assert request.logo == b"not checked here" and request.background is None
    logo.unlink()


def test_random_seed_and_defaults() -> None:
    request = request_from({"title": "x", "random_seed": True, "seed": 7})
    assert request.seed == -1 and request.batch_size == 1
    assert request.format == "instagram_post" and request.palette == ()


def test_form_errors_name_the_field() -> None:
    with pytest.raises(InvalidRequest) as caught:
        format_from({"format": "custom", "custom_size": ""})
    assert caught.value.field == "format"
    with pytest.raises(InvalidRequest) as caught:
        request_from({"title": "x", "random_seed": False, "seed": 1.5})
    assert caught.value.field == "seed"
    assert palette_from({"use_palette": False, "colour_1": "#zzzzzz"}) == ()


def test_session_files_are_separate_and_pruned(tmp_path: Path) -> None:
    files = SessionFiles(tmp_path / "root", max_age_seconds=60)
    a = files.write("session-a", "flyer.png", b"a")
    b = files.write("session-b", "flyer.png", b"b")
    assert a != b and a.read_bytes() == b"a" and b.read_bytes() == b"b"
    evil = files.write("../../etc", "../passwd", b"x")
    assert files.root in evil.parents
    old = time.time() - 120
    os.utime(a, (old, old))
    assert files.prune() == 1
    assert not a.exists() and b.exists()
    files.cleanup()
    assert not files.root.exists()


def test_composer_warnings_reach_the_status_once() -> None:
    from pipeline.backends.procedural import ProceduralBackend
    from pipeline.models import EventDetails, FlyerRequest
    from pipeline.service import FlyerService
    from pipeline.settings import load_settings
    from pipeline.store import FlyerStore
    from studio.handlers import StudioHandlers

    service = FlyerService(
        load_settings({}, env_file=None), ProceduralBackend(), FlyerStore(10, 10**8, 60)
    )
    flyers = service.generate(
        FlyerRequest(details=EventDetails(title="Party 🎉 time"), batch_size=2)
    )
    status = StudioHandlers.warnings(flyers)
    assert status.count("🎉") == 1 and "title" in status
    assert StudioHandlers.warnings(
        service.generate(FlyerRequest(details=EventDetails(title="Calm")))
    ) == ""


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), "nan", "Infinity",
                                   "1e999", 2.5, "2.5", "three", None, [1]])
def test_seed_and_batch_size_must_be_whole_finite_numbers(value: object) -> None:
    for field, label in (("seed", "Seed"), ("batch_size", "Batch size")):
        with pytest.raises(InvalidRequest) as caught:
            request_from({"title": "x", "random_seed": False, "seed": 1, "batch_size": 1,
                          field: value})
        assert caught.value.field == field
        assert str(caught.value).startswith(f"{label} must be a whole number")


def test_whole_numbers_arrive_exactly() -> None:
    request = request_from({"title": "x", "random_seed": False, "seed": 10**30, "batch_size": "2"})
    assert (request.seed, request.batch_size) == (10**30, 2)  # the service checks the range


def test_manifest_is_shown_readably() -> None:
    from studio.manifest_view import EMPTY, manifest_markdown

    assert manifest_markdown(None) == EMPTY
    text = manifest_markdown({
        "layout": "split_panel", "layout_reason": {"why": "keeps the face clear"},
        "format": {"name": "a4", "label": "A4", "width": 2550, "height": 3578},
        "fonts": {"pairing": "classic", "title": "Serif Bold", "body": "Sans"},
        "elements": [{"role": "title", "text": "Jazz | Night", "size": 120,
                      "colour": "#ffffff", "contrast": 7.25},
                     {"role": "qr", "text": "https://example.org", "box": [0, 0, 1, 1]}],
        "warnings": ["The picture is enlarged 2.5x"],
    })
    assert "| **Layout** | split_panel (keeps the face clear) |" in text
    assert "A4 · 2550×3578 px" in text and "contrast 7.2:1" in text
    assert "Jazz \\| Night" in text  # a table cell cannot be broken by the user's text
    assert "| **QR code** | https://example.org |" in text
    assert "⚠️ Warning" in text and '"layout": "split_panel"' in text  # full JSON kept
