"""FlyerService end to end through real parts: the loopback SD server, compose, export, store."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image

from pipeline.backends.automatic1111 import Automatic1111Backend
from pipeline.backends.procedural import ProceduralBackend
from pipeline.errors import BackendCancelled, BackendError, InvalidRequest, NotFound, StoreFull
from pipeline.export import read_provenance
from pipeline.models import EventDetails, FlyerRequest
from pipeline.render.formats import get_format
from pipeline.service import FlyerService, compose_stored
from pipeline.settings import load_settings
from pipeline.store import FlyerStore
from tests.fake_sd import FakeSDServer

DETAILS = EventDetails(
    title="Jazz Night",
    subtitle="Live quartet",
    date="Fri 12 Dec",
    time="20:00",
    venue="Blue Room",
    url="https://example.org/jazz",
)


def make_service(backend: object, max_items: int = 50) -> FlyerService:
    settings = load_settings({"MAX_IN_MEMORY": str(max_items)}, env_file=None)
    store = FlyerStore(max_items=max_items, max_bytes=10**9, ttl_seconds=600)
    return FlyerService(settings, backend, store)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def sd() -> Iterator[FakeSDServer]:
    with FakeSDServer() as server:
        yield server


@pytest.fixture()
def a1111(sd: FakeSDServer) -> Iterator[FlyerService]:
    sd.mode = "ok"
    backend = Automatic1111Backend(sd.url, poll_interval=0.05)
    yield make_service(backend)


def test_a_batch_is_one_backend_call_at_the_format_aspect(
    sd: FakeSDServer, a1111: FlyerService
) -> None:
    before = len(sd.txt2img_requests)
    seen: list[float] = []
    flyers = a1111.generate(
        FlyerRequest(details=DETAILS, prompt="neon sax", batch_size=3, seed=41),
        progress=lambda f, _m: seen.append(f),
    )
    assert len(sd.txt2img_requests) == before + 1
    payload = sd.txt2img_requests[-1]
    assert payload["batch_size"] == 3 and payload["prompt"] == "neon sax"
    assert payload["width"] % 8 == 0 and payload["height"] % 8 == 0
    assert abs(payload["width"] / payload["height"] - 1080 / 1350) < 0.05
    assert [f.seed for f in flyers] == [41, 42, 43]
    assert len({f.id for f in flyers}) == 3
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    for f in flyers:
        preview = Image.open(io.BytesIO(a1111.preview(f.id)))
        assert preview.format == "JPEG"
        assert f.manifest["provenance"]["seed"] == f.seed
        assert f.manifest["provenance"]["backend"] == "automatic1111"
        assert f.layout != "auto"


def test_rerender_reuses_the_background(sd: FakeSDServer, a1111: FlyerService) -> None:
    [first] = a1111.generate(FlyerRequest(details=DETAILS, batch_size=1, seed=7))
    calls = len(sd.txt2img_requests)
    other = next(name for name in ("bottom_band", "headline_top") if name != first.layout)
    again = a1111.rerender(first.id, layout=other, format="a5")
    assert len(sd.txt2img_requests) == calls
    assert again.id != first.id and again.layout == other and again.format == "a5"
    assert (again.width, again.height) == (get_format("a5").width, get_format("a5").height)
    reworded = a1111.rerender(first.id, details=EventDetails(title="Jazz Night II"))
    assert reworded.manifest["provenance"]["details"]["title"] == "Jazz Night"  # as painted
    assert any(e.get("text") == "Jazz Night II" for e in reworded.manifest["elements"])
    assert a1111.get(first.id).id == first.id  # the original is still there


def test_downloads_encode_once_and_carry_provenance(a1111: FlyerService) -> None:
    [flyer] = a1111.generate(FlyerRequest(details=DETAILS, format="a5", seed=3))
    png = a1111.download(flyer.id, "png")
    assert png.media_type == "image/png" and png.filename.endswith(".png")
    assert a1111.download(flyer.id, "png").data is png.data  # encoded once, then reused
    assert read_provenance(png.data)["provenance"]["seed"] == 3
    pdf = a1111.download(flyer.id, "pdf", crop_marks=True)
    assert pdf.data.startswith(b"%PDF") and pdf.media_type == "application/pdf"
    image = Image.open(io.BytesIO(png.data))
    assert image.size == (get_format("a5").width, get_format("a5").height)
    with pytest.raises(InvalidRequest, match="download type"):
        a1111.download(flyer.id, "gif")


def test_stored_flyer_recomposes_to_the_same_pixels(a1111: FlyerService) -> None:
    [flyer] = a1111.generate(FlyerRequest(details=DETAILS, seed=11))
    png = Image.open(io.BytesIO(a1111.download(flyer.id, "png").data)).convert("RGB")
    again = compose_stored(flyer.source, flyer.layout, get_format(flyer.format), None)
    assert np.array_equal(np.asarray(png), np.asarray(again.image.convert("RGB")))


def test_zip_holds_every_variant_and_manifest(a1111: FlyerService) -> None:
    flyers = a1111.generate(FlyerRequest(details=DETAILS, batch_size=2, seed=5))
    archive = zipfile.ZipFile(io.BytesIO(a1111.download_zip([f.id for f in flyers]).data))
    assert sorted(archive.namelist()) == [
        "flyer-1.json", "flyer-1.png", "flyer-2.json", "flyer-2.png"
    ]
    assert json.loads(archive.read("flyer-2.json"))["id"] == flyers[1].id


def test_zip_is_bounded_whatever_the_request(a1111: FlyerService) -> None:
    """One request must not make the server build an archive of 100,000 copies."""
    [flyer] = a1111.generate(FlyerRequest(details=DETAILS, seed=6))
    repeated = zipfile.ZipFile(io.BytesIO(a1111.download_zip([flyer.id] * 100_000).data))
    assert sorted(repeated.namelist()) == ["flyer-1.json", "flyer-1.png"]
    with pytest.raises(InvalidRequest, match="at most 100 flyers") as raised:
        a1111.download_zip([f"id-{n}" for n in range(101)])
    assert raised.value.field == "flyer_ids"


def test_full_store_refuses_before_painting_and_keeps_flyers(sd: FakeSDServer) -> None:
    sd.mode = "ok"
    service = make_service(Automatic1111Backend(sd.url, poll_interval=0.05), max_items=2)
    kept = service.generate(FlyerRequest(details=DETAILS, batch_size=2))
    calls = len(sd.txt2img_requests)
    with pytest.raises(StoreFull, match="try again later"):
        service.generate(FlyerRequest(details=DETAILS, batch_size=1))
    assert len(sd.txt2img_requests) == calls  # no painting wasted
    for f in kept:
        assert service.download(f.id, "jpeg").data[:2] == b"\xff\xd8"


def test_backend_failure_is_a_backend_error_and_stores_nothing(
    sd: FakeSDServer, a1111: FlyerService
) -> None:
    sd.mode = "oom"
    with pytest.raises(BackendError, match="memory"):
        a1111.generate(FlyerRequest(details=DETAILS, batch_size=2))
    assert a1111.stored_count() == 0
    sd.mode = "ok"


def test_a_cancelled_job_stops_between_stages_and_stores_nothing() -> None:
    service = make_service(ProceduralBackend())
    cancel = threading.Event()

    def progress(fraction: float, message: str) -> None:
        if message.startswith("Composing flyer 2"):
            cancel.set()  # after painting, while composing

    with pytest.raises(BackendCancelled):
        service.generate(FlyerRequest(details=DETAILS, batch_size=3), progress, cancel)
    assert service.stored_count() == 0
    assert len(service.generate(FlyerRequest(details=DETAILS))) == 1  # the next job runs


def test_own_background_makes_layout_variants_without_painting() -> None:
    service = make_service(ProceduralBackend())
    picture = Image.new("RGB", (800, 600), (30, 60, 90))
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG")
    flyers = service.generate(
        FlyerRequest(details=DETAILS, batch_size=3, background=buffer.getvalue())
    )
    assert len({f.layout for f in flyers}) == 3
    assert flyers[0].manifest["provenance"]["backend"] == "upload"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 6}, "batch_size"),
        ({"layout": "zigzag"}, "layout"),
        ({"format": "poster"}, "format"),
        ({"palette": ("#12345g",)}, "palette"),
        ({"font_pairing": "comic"}, "font_pairing"),
        ({"seed": -5}, "seed"),
        ({"details": EventDetails(title="  ")}, "title"),
        ({"details": EventDetails(title="x" * 500)}, "title"),
        ({"details": EventDetails(title="a\x00b")}, "title"),
        ({"details": EventDetails(title="Jazz \ud800")}, "title"),
        ({"details": EventDetails(title="Jazz", description="Free \udfff entry")}, "description"),
        ({"details": EventDetails(title="Jazz", url="javascript:alert(1)//x.org")}, "url"),
        ({"prompt": "neon \ud800 saxophone"}, "prompt"),
        ({"prompt": "neon\x1b[31m"}, "prompt"),
        ({"negative_prompt": "blurry \ud800"}, "negative_prompt"),
        ({"logo": b"not an image"}, "logo"),
        ({"background": b"\x89PNG\r\n\x1a\n broken"}, "background"),
    ],
)
def test_bad_requests_name_the_field(change: dict[str, object], field: str) -> None:
    service = make_service(ProceduralBackend())
    request = FlyerRequest(details=DETAILS)
    with pytest.raises(InvalidRequest) as info:
        service.generate(FlyerRequest(**{**vars(request), **change}))  # type: ignore[arg-type]
    assert info.value.field == field
    assert service.stored_count() == 0


def test_unknown_flyer_is_not_found() -> None:
    service = make_service(ProceduralBackend())
    with pytest.raises(NotFound):
        service.download("nope", "png")
    with pytest.raises(NotFound):
        service.rerender("nope", layout="bottom_band")


def test_manifest_and_background_reproduce_the_pixels() -> None:
    from pipeline.service import flyer_from_manifest

    service = make_service(ProceduralBackend())
    [flyer] = service.generate(
        FlyerRequest(details=DETAILS, seed=21, palette=("#ffcc00",), font_pairing="classic")
    )
    manifest = json.loads(json.dumps(flyer.manifest))  # as saved to disk
    background = Image.open(io.BytesIO(flyer.source.background))
    again = flyer_from_manifest(manifest, background)
    png = Image.open(io.BytesIO(service.download(flyer.id, "png").data)).convert("RGB")
    assert np.array_equal(np.asarray(png), np.asarray(again.image))
    assert again.manifest["elements"] == manifest["elements"]
    with pytest.raises(InvalidRequest, match="manifest"):
        flyer_from_manifest({"layout": "auto"}, background)


def test_language_setting_reaches_every_composition() -> None:
    """FLYER_LANGUAGE decides hyphenation for generation, re-renders and downloads alike, and
    the manifest records it so the flyer recomposes the same."""
    from pipeline.service import flyer_from_manifest

    details = EventDetails(title="Sommernachtsfestbeleuchtungsprobe", url="https://example.org")
    settings = load_settings({"FLYER_LANGUAGE": "de"}, env_file=None)
    store = FlyerStore(max_items=10, max_bytes=10**9, ttl_seconds=600)
    service = FlyerService(settings, ProceduralBackend(), store)
    [flyer] = service.generate(FlyerRequest(details=details, seed=5, layout="corner_card"))
    assert flyer.manifest["language"] == {"code": "de", "source": "setting",
                                          "hyphenation": "de_DE"}
    title = next(e for e in flyer.manifest["elements"] if e["role"] == "title")
    assert title["lines"][0].endswith("-")
    again = service.rerender(flyer.id, format="instagram_square")
    assert again.manifest["language"]["source"] == "setting"
    manifest = json.loads(json.dumps(flyer.manifest))
    recomposed = flyer_from_manifest(manifest, Image.open(io.BytesIO(flyer.source.background)))
    assert recomposed.manifest["elements"] == manifest["elements"]
    png = Image.open(io.BytesIO(service.download(flyer.id, "png").data)).convert("RGB")
    assert np.array_equal(np.asarray(png), np.asarray(recomposed.image))
