"""The subject analysis is made once per background, stored with the flyer (compact) and
reused by re-renders and downloads."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np

from pipeline.backends.procedural import ProceduralBackend
from pipeline.models import EventDetails, FlyerRequest
from pipeline.render.subject import Subject
from pipeline.service import FlyerService
from pipeline.settings import load_settings
from pipeline.store import FlyerStore
from tests.pipeline.render.photos import ASTRONAUT_FACE, photo

DETAILS = EventDetails(title="Jazz Night", date="Fri 12 Dec", venue="Blue Room",
                       url="https://example.org/jazz")


def service() -> FlyerService:
    settings = load_settings({"FLYER_BACKEND": "procedural"}, env_file=None)
    store = FlyerStore(max_items=50, max_bytes=10**9, ttl_seconds=600)
    return FlyerService(settings, ProceduralBackend(), store)


def upload(name: str) -> bytes:
    buffer = io.BytesIO()
    photo(name).save(buffer, format="PNG")
    return buffer.getvalue()


def test_generate_stores_the_analysis_with_the_flyer() -> None:
    studio = service()
    flyers = studio.generate(FlyerRequest(details=DETAILS, background=upload("astronaut.png"),
                                          batch_size=2))
    for flyer in flyers:
        assert flyer.source.subject is not None and len(flyer.source.subject) < 8000
        stored = Subject.decode(flyer.source.subject)
        [face] = stored.faces
        assert all(abs(a - b) < 0.06 for a, b in zip(face, ASTRONAUT_FACE, strict=True))
        assert flyer.manifest["subject"]["faces"] == [list(face)]
        assert flyer.manifest["subject"]["covered"]["faces"] == 0.0
    assert flyers[0].source.subject == flyers[1].source.subject  # one picture, one analysis
    painted = studio.generate(FlyerRequest(details=DETAILS, prompt="jazz", seed=3))
    assert painted[0].source.subject is not None  # painted backgrounds are analysed too


def test_rerender_reuses_the_stored_analysis() -> None:
    """A stored subject that differs from what the detector would see (a face it invents at
    the lower left) drives the re-render: the picture is not analysed a second time."""
    studio = service()
    [flyer] = studio.generate(FlyerRequest(details=DETAILS, prompt="calm dusk", seed=8))
    grid = np.zeros((64, 51), dtype=np.float32)
    invented = (0.08, 0.6, 0.4, 0.88)
    crafted = replace(flyer, id="crafted", source=replace(
        flyer.source, subject=Subject(grid, faces=(invented,), objects=(invented,)).encode()))
    studio.store.put([crafted], studio.now())
    again = studio.rerender("crafted", format="instagram_square")
    assert again.manifest["subject"]["faces"] == [list(invented)]
    assert again.manifest["subject"]["covered"]["faces"] == 0.0
    assert again.source.subject == crafted.source.subject
    png = studio.download("crafted", "png")  # downloads compose from the store too
    assert png.data.startswith(b"\x89PNG")


def test_a_damaged_stored_analysis_is_made_again() -> None:
    studio = service()
    [flyer] = studio.generate(FlyerRequest(details=DETAILS, background=upload("camera.png")))
    broken = replace(flyer, id="broken", source=replace(flyer.source, subject=b"not json"))
    studio.store.put([broken], studio.now())
    again = studio.rerender("broken")
    assert again.manifest["subject"]["faces"] == flyer.manifest["subject"]["faces"]
