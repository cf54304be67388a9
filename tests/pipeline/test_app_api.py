"""The application API (pipeline/app_api.py): the one request builder, the batch-size and
download-kind rules, partial re-renders, jobs and cancel, and compose once (downloads encode the
pixels made at generation; pipeline/composed.py)."""

from __future__ import annotations

import io
import threading
from typing import Any

import pytest
from PIL import Image

from pipeline.app_api import FlyerApp, build_request, check_batch_size, download_kind
from pipeline.backends.procedural import ProceduralBackend
from pipeline.composed import DEFAULT_MAX_ITEMS, ComposedCache, pixel_bytes
from pipeline.errors import BackendCancelled, InvalidRequest, NotFound
from pipeline.export import encode, read_provenance
from pipeline.models import Flyer
from pipeline.render.formats import get_format
from pipeline.service import FlyerService, compose_stored
from pipeline.settings import load_settings
from pipeline.store import FlyerStore


def make_app(composed_max_bytes: int | None = None) -> FlyerApp:
    settings = load_settings({"MAX_BATCH_SIZE": "4"}, env_file=None)
    store = FlyerStore(max_items=50, max_bytes=10**9, ttl_seconds=600)
    extra: dict[str, Any] = {}
    if composed_max_bytes is not None:
        extra["composed_max_bytes"] = composed_max_bytes
    return FlyerApp(FlyerService(settings, ProceduralBackend(), store, **extra))


# --- the request builder ----------------------------------------------------------------------


def test_build_request_coerces_plain_values_the_same_way_for_every_door() -> None:
    request = build_request(
        {"title": "Jazz", "venue": None, "seed": "42", "batch_size": 3.0, "layout": "  ",
         "format": "", "palette": "#ABC, #112233", "font_pairing": None, "prompt": "neon"},
        logo=b"", background=None)
    assert request.details.title == "Jazz" and request.details.venue == ""
    assert (request.seed, request.batch_size) == (42, 3)
    assert (request.layout, request.format, request.font_pairing) == (
        "auto", "instagram_post", "default")
    assert request.palette == ("#aabbcc", "#112233")
    assert request.prompt == "neon" and request.logo is None and request.background is None
    assert build_request({"title": "T", "palette": ["#000", "#fff"]}).palette == (
        "#000000", "#ffffff")
    defaults = build_request({"title": "T"})
    assert (defaults.seed, defaults.batch_size, defaults.palette) == (-1, 1, ())


@pytest.mark.parametrize(("fields", "field", "fragment"), [
    ({"title": "T", "seed": 1.5}, "seed", "Seed must be a whole number, not 1.5"),
    ({"title": "T", "seed": None}, "seed", "Seed must be a whole number"),
    ({"title": "T", "batch_size": "NaN"}, "batch_size", "Batch size must be a whole number"),
    ({"title": "T", "palette": "red"}, "palette", "hex code"),
    ({"title": 5}, "title", "Title must be text"),
    ({"title": "T", "colour_1": "#fff"}, "colour_1", "Unknown field colour_1"),
])
def test_build_request_refuses_bad_values_naming_the_field(
    fields: dict[str, Any], field: str, fragment: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        build_request(fields)
    assert caught.value.field == field and fragment in str(caught.value)


def test_the_batch_size_and_download_kind_rules() -> None:
    assert check_batch_size("2", 5) == 2
    for bad in (0, 6, -1):
        with pytest.raises(InvalidRequest, match="Batch size must be between 1 and 5") as caught:
            check_batch_size(bad, 5)
        assert caught.value.field == "batch_size"
    assert [download_kind(k) for k in ("PNG", " jpg ", "webp", "pdf")] == [
        "png", "jpeg", "webp", "pdf"]
    with pytest.raises(InvalidRequest, match="choose one of png, jpeg, webp, pdf"):
        download_kind("tiff")


def test_the_app_applies_the_batch_size_rule_before_painting() -> None:
    app = make_app()
    with pytest.raises(InvalidRequest, match="between 1 and 4, got 5"):
        app.generate({"title": "T", "batch_size": 5})
    assert app.service.stored_count() == 0 and app.service.compositions == 0


# --- re-render with partial changes -----------------------------------------------------------


def test_rerender_keeps_every_field_left_out_or_none() -> None:
    app = make_app()
    (first,) = app.generate({"title": "Jazz Night", "venue": "Blue Room", "date": "Fri",
                             "palette": "#112233"})
    again = app.rerender(first.id, {"title": "Jazz Night II", "venue": None, "format": "a5",
                                    "layout": None, "palette": None})
    details = again.source.details
    assert (details.title, details.venue, details.date) == ("Jazz Night II", "Blue Room", "Fri")
    assert again.format == "a5" and again.source.palette == ("#112233",)
    assert again.requested_layout == first.requested_layout
    assert again.manifest["rerendered_from"] == first.id
    with pytest.raises(InvalidRequest, match="Unknown field seed"):
        app.rerender(first.id, {"seed": 3})
    with pytest.raises(NotFound):
        app.rerender("nope", {"title": "x"})


# --- compose once -----------------------------------------------------------------------------


def test_downloads_encode_the_pixels_made_at_generation() -> None:
    app = make_app()
    service = app.service
    flyers = app.generate({"title": "Jazz Night", "format": "a5", "batch_size": 3})
    assert service.compositions == 3
    for flyer in flyers:
        png = app.download(flyer.id, "png")
        pdf = app.download(flyer.id, "pdf", crop_marks=True)
        assert png.data.startswith(b"\x89PNG") and pdf.data.startswith(b"%PDF")
        assert read_provenance(png.data)["id"] == flyer.id
    assert service.compositions == 3  # six downloads, no composition
    again = app.rerender(flyers[0].id, {"format": "story"})
    app.download(again.id, "png")
    app.download_zip([again.id, flyers[1].id], "jpeg")
    assert service.compositions == 4  # a re-render composes once, its download none


def test_a_cache_miss_composes_again_to_the_same_pixels() -> None:
    kept, missed = make_app(), make_app(composed_max_bytes=0)  # 0: nothing is kept
    fields = {"title": "Jazz Night", "seed": 7, "format": "a5"}
    (a,), (b,) = kept.generate(fields), missed.generate(fields)
    cached = kept.service.composed.get(a.id)
    assert cached is not None and missed.service.composed.get(b.id) is None
    missed.download(b.id, "png")
    missed.download(b.id, "webp")
    # with nothing kept each new encoding composes again (the store keeps the encoding)
    assert missed.service.compositions == 3
    again = compose_stored(b.source, b.layout, get_format(b.format), None)
    same = Image.open(io.BytesIO(missed.download(b.id, "png").data))
    assert same.convert("RGB").tobytes() == again.image.tobytes()
    assert cached.image.tobytes() == again.image.tobytes()  # same inputs, same pixels


def test_the_composed_cache_is_bounded_by_bytes_least_recent_out() -> None:
    def flyer(side: int) -> Flyer:
        return Flyer(Image.new("RGB", (side, side)), {}, "layout", "fmt")

    small = flyer(10)  # 400 bytes: Pillow holds RGB at 4 bytes a pixel
    assert pixel_bytes(small) == 400
    cache = ComposedCache(max_bytes=3 * pixel_bytes(small))
    for name in "abc":
        cache.put(name, small)
    assert cache.get("a") is small  # a is now the most recent
    cache.put("d", small)
    assert "b" not in cache and {"a", "c", "d"} <= {n for n in "abcd" if n in cache}
    assert cache.nbytes == 3 * pixel_bytes(small)
    cache.put("huge", flyer(100))  # larger than the whole budget: not kept, nothing dropped
    assert "huge" not in cache and len(cache) == 3
    cache.discard("a")
    assert len(cache) == 2 and cache.nbytes == 2 * pixel_bytes(small)


def test_the_composed_cache_keeps_at_most_max_items_flyers_however_small() -> None:
    """Flyers kept as their PNG count its bytes (~1.3 MB a post): the byte budget alone held
    ~50 of them; the count holds the batches being delivered now."""
    png = b"\x89PNG" + bytes(1000)
    cache = ComposedCache(max_bytes=10**9, max_items=3)
    for name in "abcde":
        cache.put(name, Flyer(Image.new("RGB", (1, 1)), {}, "layout", "fmt"), png)
    assert [n for n in "abcde" if n in cache] == ["c", "d", "e"]
    assert cache.nbytes == 3 * len(png)
    assert ComposedCache().max_items == DEFAULT_MAX_ITEMS
    none = ComposedCache(max_items=0)
    none.put("a", Flyer(Image.new("RGB", (1, 1)), {}, "layout", "fmt"))
    assert len(none) == 0
    with pytest.raises(ValueError, match="max_items"):
        ComposedCache(max_items=-1)


def test_encoding_the_cached_flyer_matches_a_fresh_encode() -> None:
    app = make_app()
    (stored,) = app.generate({"title": "Jazz", "format": "a5", "seed": 3})
    flyer = app.service.composed_flyer(stored)
    assert flyer.manifest["id"] == stored.id
    assert app.download(stored.id, "png").data == encode(flyer, "png")


# --- jobs and cancel --------------------------------------------------------------------------


def test_cancel_by_owner_stops_only_that_owners_jobs() -> None:
    app = make_app()
    started = threading.Event()
    release = threading.Event()
    outcome: dict[str, Any] = {}

    def progress(fraction: float, message: str) -> None:
        started.set()
        release.wait(5)

    def run(owner: str) -> None:
        with app.open_job(owner) as job:
            try:
                outcome[owner] = app.generate({"title": owner}, progress=progress,
                                              cancel=job.cancel)
            except BackendCancelled as exc:
                outcome[owner] = exc

    threads = [threading.Thread(target=run, args=(o,)) for o in ("alice", "bob")]
    for thread in threads:
        thread.start()
    assert started.wait(5)
    while app.running("alice") + app.running("bob") < 2:
        threading.Event().wait(0.01)
    assert app.cancel("alice") == 1 and app.cancel(None) == 0 and app.cancel("carol") == 0
    release.set()
    for thread in threads:
        thread.join(10)
    assert isinstance(outcome["alice"], BackendCancelled)
    assert isinstance(outcome["bob"], list) and len(outcome["bob"]) == 1
    assert app.running("alice") == app.running("bob") == 0
