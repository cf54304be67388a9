"""The service and its store: the service's clock decides expiry, a stored flyer costs its
painted background (compact, at its painted size) and its analysis, and what re-renders and
downloads compose from the store is what generation showed."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from pipeline.backends import PaintRequest
from pipeline.backends.procedural import ProceduralBackend
from pipeline.errors import NotFound
from pipeline.models import EventDetails, FlyerRequest
from pipeline.render.formats import get_format
from pipeline.service import FlyerService, flyer_from_manifest
from pipeline.settings import load_settings
from pipeline.store import FlyerStore

DETAILS = EventDetails(title="Jazz Night", subtitle="Live quartet", date="Fri 12 Dec",
                       venue="Blue Room", url="https://example.org/jazz")


class Clock:
    def __init__(self) -> None:
        self.now = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now


def service(clock: Clock | None = None, encoded: int = 64 * 2**20) -> FlyerService:
    settings = load_settings({}, env_file=None)
    store = FlyerStore(max_items=20, max_bytes=10**9, ttl_seconds=600,
                       max_encoded_bytes=encoded)
    if clock is None:
        return FlyerService(settings, ProceduralBackend(), store)
    return FlyerService(settings, ProceduralBackend(), store, clock=clock)


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)


def test_the_services_clock_decides_expiry() -> None:
    clock = Clock()
    studio = service(clock)
    [flyer] = studio.generate(FlyerRequest(details=DETAILS, seed=3))
    assert flyer.created_at == clock.now and flyer.expires_at == clock.now + 600
    clock.now += 599
    assert studio.get(flyer.id).id == flyer.id and studio.stored_count() == 1
    clock.now += 1
    with pytest.raises(NotFound, match="expired"):
        studio.get(flyer.id)
    with pytest.raises(NotFound):
        studio.download(flyer.id, "png")
    assert studio.stored_count() == 0


def test_a_painted_background_is_kept_compact_at_its_painted_size() -> None:
    studio = service()
    flyers = studio.generate(FlyerRequest(details=DETAILS, seed=11, batch_size=2))
    for flyer in flyers:
        kept = Image.open(io.BytesIO(flyer.source.background))
        assert kept.format == "JPEG"
        assert list(kept.size) == flyer.manifest["provenance"]["generated_size"]
        lossless = io.BytesIO()
        kept.convert("RGB").save(lossless, format="PNG", compress_level=1)
        assert len(flyer.source.background) < 0.5 * len(lossless.getvalue())
    # the batch's analyses are one per background; equal bytes are counted once by the store
    assert studio.store.nbytes(studio.now()) <= sum(f.nbytes for f in flyers)


def test_downloads_show_the_pixels_generation_showed() -> None:
    """The preview made at generation and one composed again from the store (the encodings
    cache dropped it) are the same bytes; the PNG download has the preview's pixels up to
    JPEG's loss; and the stored background changes the flyer by less than one level on
    average (PSNR over 40 dB) against one composed on the background exactly as painted."""
    request = FlyerRequest(details=DETAILS, seed=29, layout="auto")
    kept, dropped = service(), service(encoded=0)  # the second keeps no encoding at all
    [flyer] = kept.generate(request)
    [again] = dropped.generate(request)
    assert kept.store.encoded_nbytes > 0 and dropped.store.encoded_nbytes == 0
    assert kept.preview(flyer.id) == dropped.preview(again.id)

    png = pixels(kept.download(flyer.id, "png").data)
    preview = pixels(kept.preview(flyer.id))
    assert png.shape == preview.shape
    assert np.abs(png - preview).mean() < 2.0

    fmt = get_format(flyer.format)
    left, top, right, bottom = fmt.trim_box
    painting = ProceduralBackend().generate(PaintRequest(
        prompt=DETAILS.title, aspect=(right - left, bottom - top),
        pixel_budget=(right - left) * (bottom - top), seed=29))
    original = flyer_from_manifest(flyer.manifest, painting.images[0].image)
    assert original.layout == flyer.layout
    difference = np.abs(np.asarray(original.image, dtype=np.int16) - png)
    squared = (difference.astype(np.float64) ** 2).mean()
    assert 10 * np.log10(255**2 / squared) > 40.0  # PSNR: no visible difference
    assert difference.mean() < 1.5 and np.percentile(difference, 99) <= 6


def test_rerenders_share_the_background_they_reuse() -> None:
    studio = service()
    [flyer] = studio.generate(FlyerRequest(details=DETAILS, seed=5))
    before = studio.store.nbytes(studio.now())
    again = studio.rerender(flyer.id, format="instagram_square")
    assert again.source.background == flyer.source.background
    grown = studio.store.nbytes(studio.now()) - before
    assert grown < len(flyer.source.background) // 4  # the manifest's share, not a new copy
