"""Reading a season's sheet: CSV flavours, XLSX cells, headings, limits and hostile files."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import openpyxl
import pytest

from pipeline.errors import InvalidRequest
from pipeline.sheets import MAX_ROWS, SHEET_FIELDS, read_sheet, template_csv


def xlsx(rows: list[list[object]], formats: dict[str, str] | None = None) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    for cell, number_format in (formats or {}).items():
        sheet[cell].number_format = number_format
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def refused(data: bytes, fragment: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        read_sheet(data)
    assert fragment in str(caught.value)
    assert caught.value.field == "sheet"


def test_the_template_reads_back_with_every_column() -> None:
    data = template_csv()
    assert data.startswith(b"\xef\xbb\xbf")  # a BOM: Excel then reads the accents right
    sheet = read_sheet(data)
    assert sheet.kind == "csv"
    assert list(sheet.columns) == list(SHEET_FIELDS)
    assert [row.number for row in sheet.rows] == [2, 3]
    assert sheet.rows[0].values["metro"] == "Châtelet"
    assert sheet.rows[0].details.title == "Late Night Jazz"
    assert sheet.rows[1].prompt.startswith("stacks of colourful books")


def test_headings_are_matched_loosely_with_the_rest_contracts_aliases() -> None:
    text = ("Event Title;TIMEFRAME;Place;metro_station;Organizer;Price\n"
            "Jazz;20:00;Caveau;Cité;Club;12 €\n")
    sheet = read_sheet(text.encode("utf-8"))
    row = sheet.rows[0].values
    assert (row["title"], row["time"], row["venue"], row["metro"], row["organiser"]) == (
        "Jazz", "20:00", "Caveau", "Cité", "Club")
    assert sheet.ignored == ("Price",)


def test_windows_1252_tabs_quotes_and_blank_rows() -> None:
    text = 'title\tdescription\r\n"Café ""Noir"""\t"two\r\nlines"\r\n\t\r\n\r\nFête\t\r\n'
    sheet = read_sheet(text.encode("cp1252"))
    assert [(r.number, r.values["title"]) for r in sheet.rows] == [
        (2, 'Café "Noir"'), (5, "Fête")]
    assert sheet.rows[0].values["description"] == "two\r\nlines"


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty"),
        (b"  \n \n", "empty"),
        (b"date,venue\n1 May,Hall\n", "no title column"),
        (b"title\n\n\n", "no events"),
        (b"title,Name\nA,B\n", "both give the title"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "old Excel (.xls)"),
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "neither a CSV nor an XLSX"),
        (b"PK\x03\x04 broken", "cannot be opened"),
        (b"title\n" + b"A\n" * (MAX_ROWS + 1), f"more than {MAX_ROWS} events"),
        (b"title\n" + b"x" * (5 * 1024 * 1024), "the limit is 5 MB"),
    ],
)
def test_unusable_sheets_are_refused_plainly(data: bytes, fragment: str) -> None:
    refused(data, fragment)


def test_exactly_the_row_limit_is_read() -> None:
    sheet = read_sheet(b"title\n" + b"A\n" * MAX_ROWS)
    assert len(sheet.rows) == MAX_ROWS


def test_an_opendocument_sheet_or_another_zip_is_named() -> None:
    for inner, fragment in (("content.xml", "OpenDocument"), ("hello.txt", "not an XLSX")):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(inner, "x")
        refused(buffer.getvalue(), fragment)


def test_a_zip_bomb_is_refused_before_it_is_unpacked() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/sharedStrings.xml", b"\0" * (60 * 1024 * 1024))
    assert len(buffer.getvalue()) < 1024 * 1024
    refused(buffer.getvalue(), "unpacks to 60 MB")


def test_xlsx_cells_read_as_people_see_them() -> None:
    data = xlsx(
        [
            ["Title", "Date", "Time", "Venue", "url", "Description"],
            ["Jazz", dt.datetime(2025, 3, 14), dt.time(21, 0), 12.0, '=HYPERLINK("x")', True],
            [],
            ["Fair", dt.datetime(2025, 4, 5), dt.time(9, 5), 2.5, None, None],
            ["Talk", dt.date(2025, 4, 6), dt.datetime(2025, 4, 6, 18, 30), "Hall", None, None],
        ],
        {"B2": "dddd d mmmm", "C2": "hh:mm", "B4": "dd/mm/yyyy", "C4": "h:mm AM/PM",
         "B5": 'd" de "mmmm', "C5": "[$-409]h:mm"},
    )
    sheet = read_sheet(data)
    assert sheet.kind == "xlsx"
    values = [(r.number, r.values["date"], r.values["time"], r.values["venue"]) for r in sheet.rows]
    assert values == [
        (2, "Friday 14 March", "21:00", "12"),
        (4, "05/04/2025", "9:05 AM", "2.5"),
        (5, "6 de April", "18:30", "Hall"),
    ]
    assert sheet.rows[0].values["url"] == ""  # a formula without a cached value: nothing
    assert sheet.rows[0].values["description"] == "yes"


def test_xlsx_cells_are_text_for_the_pipeline_to_judge() -> None:
    hostile = "Jazz\x85<script>alert(1)</script>"  # a C1 control (NEL)
    sheet = read_sheet(xlsx([["title", "url"], [hostile, "javascript:alert(1)"]]))
    details = sheet.rows[0].details
    assert details.title == hostile  # kept as typed: the run's validation refuses it
    with pytest.raises(InvalidRequest, match="control character"):
        details.validated()
