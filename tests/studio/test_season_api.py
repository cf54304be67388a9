"""``/generate_many`` and ``/season_template`` through gradio_client against the running studio:
a sheet in (handle_file), a ZIP with a folder per event, a contact sheet and a per-row report
out."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from pipeline.render.formats import get_format
from tests.fake_sd import FakeSDServer

from .conftest import RunningStudio

TWELVE = """title,subtitle,date,time,venue,url,prompt
Jazz Night,The Blue Quartet,Fri 14 March,21:00,Le Caveau,https://example.org/jazz,neon club
Book Fair,200 publishers,5 April,10:00,Grande Halle,,
,no title here,6 April,,Somewhere,,
Poetry Slam,,7 April,19:30,Bar Ouvert,,neon club
Clean-up Day,Bring gloves,8 April,09:30,Canal,,
Film Club,Noir week,9 April,20:00,Cinéma,,
Choir Concert,,10 April,18:00,Église,,
Board Games,,11 April,19:00,Café,javascript:alert(1),
Street Food,,12 April,12:00,Market,,
Open Studio,,13 April,14:00,Atelier,,
Tango Night,,14 April,21:30,Salle,,neon club
Kids Theatre,,15 April,15:00,Théâtre,,
"""


@pytest.fixture(scope="module")
def client(studio_server: RunningStudio) -> Iterator[Client]:
    client = Client(studio_server.url + "/", auth=studio_server.auth, verbose=False)
    yield client
    client.close()


def test_twelve_rows_two_bad_give_ten_folders_and_two_reported_rows(
    client: Client, studio_server: RunningStudio, tmp_path: Path
) -> None:
    sheet = tmp_path / "season.csv"
    sheet.write_text(TWELVE, encoding="utf-8")
    stored_before = studio_server.service.stored_count()
    started = time.monotonic()
    archive_path, picture, report = client.predict(
        sheet=handle_file(str(sheet)), variants=1, format="instagram_post",
        api_name="/generate_many",
    )
    took = time.monotonic() - started
    with zipfile.ZipFile(archive_path) as archive:
        names = archive.namelist()
        folders = sorted({name.split("/")[0] for name in names if "/" in name})
        assert len(folders) == 10
        assert folders[:2] == ["002-jazz-night", "003-book-fair"]
        assert {"contact-sheet.jpg", "report.json"} <= set(names)
        png = archive.read("002-jazz-night/jazz-night-1.png")
        with Image.open(io.BytesIO(png)) as image:
            assert image.size == (1080, 1350)
        manifest = json.loads(archive.read("002-jazz-night/jazz-night-1.json"))
        assert manifest["row"] == 2
    assert Path(archive_path).name == "flyers-season.zip"
    problems = [(p["row"], p["field"], p["message"]) for p in report["problems"]]
    assert problems == [
        (4, "title", "Title is required: give the event a name."),
        (9, "url", "Link: use an http(s), mailto: or tel: address (e.g. https://example.org)."),
    ]
    assert (report["rows"], report["made"], report["flyers"]) == (12, 10, 10)
    assert report["backend_calls"] == 8  # rows 2, 5 and 12 share "neon club": one call
    with Image.open(picture) as contact:
        assert contact.format == "JPEG" and contact.width >= 1000
    assert studio_server.service.stored_count() == stored_before  # written through, not stored
    print(f"\n12-row sheet through /generate_many: {took:.1f} s end to end, "
          f"{report['seconds']:.1f} s in the run")


def test_an_xlsx_for_print_with_variants(client: Client, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Title", "Timeframe", "Place", "Notes"])
    sheet.append(["Spring Fair", "10:00–18:00", "Town Hall", "ignored"])
    sheet.append(["Summer Fair", "11:00", "Park", ""])
    path = tmp_path / "fairs.xlsx"
    book.save(path)
    archive_path, _picture, report = client.predict(
        sheet=handle_file(str(path)), variants=2, format="a5", layout="bottom_band",
        api_name="/generate_many",
    )
    assert report["problems"] == [] and report["flyers"] == 4
    assert report["ignored_columns"] == ["Notes"]
    a5 = get_format("a5")
    with zipfile.ZipFile(archive_path) as archive:
        names = set(archive.namelist())
        for n in (1, 2):
            assert f"002-spring-fair/spring-fair-{n}.pdf" in names
        with Image.open(io.BytesIO(archive.read("003-summer-fair/summer-fair-2.png"))) as png:
            assert png.size == (a5.width, a5.height)
        manifest = json.loads(archive.read("002-spring-fair/spring-fair-1.json"))
        assert manifest["layout"] == "bottom_band"
        assert manifest["provenance"]["details"]["time"] == "10:00–18:00"


@pytest.mark.parametrize(
    ("content", "options", "fragment"),
    [
        ("date,venue\n1 May,Hall\n", {}, "The sheet has no title column"),
        ("title\nA\n", {"variants": 99}, "Variants must be between 1 and"),
        ("title\nA\n", {"format": "poster"}, "Unknown format"),
    ],
)
def test_a_sheet_or_options_no_row_can_use_is_a_clear_error(
    client: Client, tmp_path: Path, content: str, options: dict[str, object], fragment: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(AppError) as caught:
        client.predict(sheet=handle_file(str(path)), api_name="/generate_many", **options)
    assert fragment in str(caught.value)


def test_a_sheet_must_be_uploaded_not_named(client: Client) -> None:
    with pytest.raises(AppError) as caught:
        client.predict(sheet="/etc/passwd", api_name="/generate_many")
    assert "passwd" not in str(caught.value)


def test_the_template_is_a_sheet_of_every_column(client: Client) -> None:
    path = client.predict(api_name="/season_template")
    text = Path(path).read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == ("title,subtitle,date,time,venue,metro,description,url,"
                                    "organiser,prompt")


def test_cancelling_a_run_stops_painting_and_leaves_no_zip(
    studio_on_fake_sd: RunningStudio, fake_sd: FakeSDServer, tmp_path: Path
) -> None:
    fake_sd.mode = "slow"
    fake_sd.delay = 30.0
    sheet = tmp_path / "slow.csv"
    sheet.write_text("title\nOne\nTwo\nThree\n")
    root = studio_on_fake_sd.app.state.temp_space.root
    client = Client(studio_on_fake_sd.url + "/", auth=studio_on_fake_sd.auth, verbose=False)
    try:
        job = client.submit(sheet=handle_file(str(sheet)), api_name="/generate_many")
        deadline = time.monotonic() + 15
        while not fake_sd.txt2img_requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fake_sd.txt2img_requests, "the run never reached the SD server"
        job.cancel()
        while fake_sd.interrupted == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        client.close()
    assert fake_sd.interrupted >= 1  # the server stopped painting this run
    time.sleep(0.5)
    assert len(fake_sd.txt2img_requests) == 1  # rows two and three were never sent
    assert not list(root.rglob("flyers-slow.zip*"))  # no ZIP, not even a partial one
