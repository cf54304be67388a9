"""A season through real parts: sheets in, the loopback SD server or the offline painter,
compose, export, a real ZIP or folders out; the flyer store stays empty."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from pipeline.backends.automatic1111 import Automatic1111Backend
from pipeline.backends.procedural import ProceduralBackend
from pipeline.errors import BackendCancelled, InvalidRequest
from pipeline.export import read_provenance
from pipeline.render.formats import get_format
from pipeline.season import FolderSink, SeasonOptions, ZipSink, event_folder
from pipeline.service import FlyerService
from pipeline.settings import load_settings
from pipeline.sheets import SheetRow, read_sheet
from pipeline.store import FlyerStore
from tests.fake_sd import FakeSDServer


def make_service(backend: object, **env: str) -> FlyerService:
    settings = load_settings(env, env_file=None)
    store = FlyerStore(max_items=settings.max_in_memory, max_bytes=10**9, ttl_seconds=600)
    return FlyerService(settings, backend, store)  # type: ignore[arg-type]


def sheet_rows(lines: list[str]) -> tuple[SheetRow, ...]:
    return read_sheet(("\n".join(lines) + "\n").encode("utf-8")).rows


def twelve_rows() -> tuple[SheetRow, ...]:
    """Rows 2-13: six share a prompt, four have their own, row 5 lacks a title and row 10's
    link is javascript:."""
    lines = ["title,date,venue,url,prompt"]
    for number in range(2, 14):
        title = f"Concert {number}"
        prompt = "neon jazz club" if number <= 8 else ""
        url = "https://example.org/c"
        if number == 5:
            title = ""
        if number == 10:
            url = "javascript:alert(1)"
        lines.append(f"{title},{number} May,Hall,{url},{prompt}")
    return sheet_rows(lines)


def run_zip(service: FlyerService, rows: tuple[SheetRow, ...], options: SeasonOptions,
            **kwargs: object) -> tuple[zipfile.ZipFile, object]:
    buffer = io.BytesIO()
    with ZipSink(buffer) as sink:
        result = service.generate_many(rows, options, sink, **kwargs)  # type: ignore[arg-type]
    return zipfile.ZipFile(io.BytesIO(buffer.getvalue())), result


@pytest.fixture(scope="module")
def sd() -> Iterator[FakeSDServer]:
    with FakeSDServer() as server:
        yield server


def test_twelve_rows_two_bad_ten_folders_in_few_painting_calls(sd: FakeSDServer) -> None:
    sd.txt2img_requests.clear()
    service = make_service(Automatic1111Backend(sd.url, poll_interval=0.05))
    reports: list[float] = []
    archive, result = run_zip(service, twelve_rows(), SeasonOptions(variants=2),
                              progress=lambda f, m: reports.append(f))
    report = result.report()  # type: ignore[attr-defined]
    folders = sorted({n.split("/")[0] for n in archive.namelist() if "/" in n})
    assert len(folders) == 10 and folders[0] == "002-concert-2"
    assert [(p["row"], p["field"]) for p in report["problems"]] == [(5, "title"), (10, "url")]
    assert report["problems"][0]["message"] == "Title is required: give the event a name."
    assert "http(s), mailto: or tel:" in report["problems"][1]["message"]
    # rows 2-8 share a prompt: 6 good rows x 2 variants in calls of at most 5 images (2 events
    # each) = 3 calls; rows 9, 11, 12, 13 paint their titles: one call each with 2 variants
    batches = sorted(r["batch_size"] for r in sd.txt2img_requests)
    assert batches == [2, 2, 2, 2, 4, 4, 4]
    assert report["backend_calls"] == 7
    seeds = [seed for event in report["events"] for seed in event["seeds"]]
    assert len(seeds) == 20 and len(set(seeds)) == 20  # events sharing a prompt differ
    assert report["flyers"] == 20 and service.stored_count() == 0  # nothing stored
    png = archive.read("002-concert-2/concert-2-2.png")
    manifest = json.loads(archive.read("002-concert-2/concert-2-2.json"))
    assert read_provenance(png)["provenance"]["row"] == 2 == manifest["row"]
    assert manifest["provenance"]["variant"] == 2
    assert json.loads(archive.read("report.json"))["made"] == 10
    with Image.open(io.BytesIO(archive.read("contact-sheet.jpg"))) as sheet:
        assert sheet.format == "JPEG" and sheet.width > 1000
    assert reports == sorted(reports) and reports[-1] == 1.0


def test_print_formats_get_a_pdf_and_a_logo_on_every_flyer(tmp_path: Path) -> None:
    logo = io.BytesIO()
    Image.new("RGBA", (200, 100), (220, 30, 60, 255)).save(logo, "PNG")
    service = make_service(ProceduralBackend())
    rows = sheet_rows(["Title,Timeframe,Place", "Book Fair,10:00,Halle", "Readings,18:00,Café"])
    result = service.generate_many(rows, SeasonOptions(format="a5", logo=logo.getvalue(),
                                                       layout="bottom_band"),
                                   FolderSink(tmp_path))
    folder = tmp_path / "002-book-fair"
    assert sorted(p.name for p in folder.iterdir()) == [
        "book-fair-1.json", "book-fair-1.pdf", "book-fair-1.png"]
    a5 = get_format("a5")
    assert Image.open(folder / "book-fair-1.png").size == (a5.width, a5.height)
    assert (folder / "book-fair-1.pdf").read_bytes().startswith(b"%PDF")
    manifest = json.loads((folder / "book-fair-1.json").read_text())
    assert manifest["layout"] == "bottom_band"
    assert manifest["provenance"]["details"]["time"] == "10:00"
    assert (tmp_path / "003-readings" / "readings-1.png").is_file()
    assert (tmp_path / "contact-sheet.jpg").is_file() and result.backend_calls == 2


@pytest.mark.parametrize(
    ("options", "fragment", "field"),
    [
        (SeasonOptions(variants=9), "Variants must be between 1 and 5", "variants"),
        (SeasonOptions(layout="zigzag"), "Unknown layout", "layout"),
        (SeasonOptions(format="99x99"), "out of bounds", None),
        (SeasonOptions(palette="red"), "hex code", "palette"),
        (SeasonOptions(logo=b"not an image"), "Organiser logo: this file", "logo"),
    ],
)
def test_options_no_row_could_use_stop_the_run(options: SeasonOptions, fragment: str,
                                               field: str | None) -> None:
    service = make_service(ProceduralBackend())
    with pytest.raises(InvalidRequest) as caught:
        service.generate_many(sheet_rows(["title", "A"]), options, FolderSink(Path("/nowhere")))
    assert fragment in str(caught.value)
    if field is not None:
        assert caught.value.field == field


def test_too_many_flyers_for_one_run() -> None:
    service = make_service(ProceduralBackend())
    rows = sheet_rows(["title", *[f"E{i}" for i in range(150)]])
    with pytest.raises(InvalidRequest, match="150 events × 5 variants is 750 flyers"):
        service.generate_many(rows, SeasonOptions(variants=5), FolderSink(Path("/nowhere")))


def test_an_unreachable_server_is_tried_once_and_every_row_reported() -> None:
    with FakeSDServer() as gone:
        url = gone.url  # the port is closed once the block ends
    service = make_service(Automatic1111Backend(url, connect_timeout=1, poll_interval=0.05))
    archive, result = run_zip(service, sheet_rows(["title", "A", "B", "C"]), SeasonOptions())
    report = result.report()  # type: ignore[attr-defined]
    assert report["made"] == 0 and report["backend_calls"] == 0
    messages = [p["message"] for p in report["problems"]]
    assert len(messages) == 3 and "not reachable" in messages[0]
    assert messages[1].startswith("Not painted: ") and messages[1].endswith(messages[0])
    assert archive.namelist() == ["report.json"]


def test_a_failing_group_does_not_stop_the_others(sd: FakeSDServer) -> None:
    service = make_service(Automatic1111Backend(sd.url, poll_interval=0.05))

    def progress(fraction: float, message: str) -> None:
        if message.startswith("Painting"):  # row 2's call fails, row 3's succeeds
            sd.mode = "oom" if message == "Painting row 2" else "ok"

    sd.mode = "ok"
    try:
        _archive, result = run_zip(service, sheet_rows(["title", "A", "B"]), SeasonOptions(),
                                   progress=progress)
    finally:
        sd.mode = "ok"
    report = result.report()  # type: ignore[attr-defined]
    assert [p["row"] for p in report["problems"]] == [2]
    assert "out of GPU memory" in report["problems"][0]["message"]
    assert [e["row"] for e in report["events"]] == [3]


def test_cancel_ends_the_run() -> None:
    service = make_service(ProceduralBackend())
    cancel = threading.Event()

    def progress(fraction: float, message: str) -> None:
        if message.startswith("Composing"):
            cancel.set()

    with pytest.raises(BackendCancelled):
        run_zip(service, sheet_rows(["title", "A", "B"]), SeasonOptions(), progress=progress,
                cancel=cancel)


def test_folder_names_are_plain_and_safe(tmp_path: Path) -> None:
    assert event_folder(7, "Fête de la Musique — 2025!") == "007-fete-de-la-musique-2025"
    assert event_folder(12, "../../etc/passwd") == "012-etc-passwd"
    assert event_folder(3, "音楽の夜") == "003-event"
    with pytest.raises(ValueError):
        FolderSink(tmp_path).add("../escape.png", b"x")


def test_a_zip_with_a_limit_stops_making_rows_and_says_so() -> None:
    service = make_service(ProceduralBackend())
    rows = sheet_rows(["title,prompt", "A,same", "B,same", "C,same", "D,other"])
    buffer = io.BytesIO()
    with ZipSink(buffer, max_bytes=3 * 1024 * 1024) as sink:  # room for about two flyers
        result = service.generate_many(rows, SeasonOptions(), sink)
    report = result.report()
    assert [e["row"] for e in report["events"]] == [2, 3]
    assert [p["row"] for p in report["problems"]] == [4, 5]
    assert all("the ZIP reached the studio's limit for one run (3 MB)" in p["message"]
               for p in report["problems"])
    names = zipfile.ZipFile(io.BytesIO(buffer.getvalue())).namelist()
    assert "contact-sheet.jpg" in names and "report.json" in names  # always added
