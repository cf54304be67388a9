"""Events from a spreadsheet: one row per event, the first row names the columns.

``read_sheet(data)`` reads a CSV (UTF-8, or Windows-1252 as older Excel saves it; comma,
semicolon or tab) or an XLSX workbook (its first sheet, with openpyxl in read-only mode, cached
values rather than formulas) into :class:`SheetRow`\\ s of plain text. Column names are matched
case-insensitively, spaces, dashes and underscores alike, with a few aliases (the REST
contract's ``timeframe`` and ``place`` among them); other columns are ignored and named.

Cells are hostile text: nothing here trusts them beyond turning them into strings. Validation
(lengths, control characters, links...) is the pipeline's own, done per row by the run, so a
row's problem reads exactly as the API says it. What a file may cost is capped: its size, the
unpacked size of a workbook, the rows and columns read.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import InvalidRequest
from .models import FIELD_LIMITS, EventDetails

__all__ = [
    "COLUMN_ALIASES",
    "MAX_ROWS",
    "MAX_SHEET_BYTES",
    "SHEET_FIELDS",
    "Sheet",
    "SheetRow",
    "read_sheet",
    "template_csv",
]

SHEET_FIELDS: tuple[str, ...] = (*FIELD_LIMITS, "prompt")
"""The columns a sheet may have, in the template's order."""

COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "title": ("event", "event title", "name"),
    "subtitle": ("tagline", "line up", "lineup"),
    "date": ("day",),
    "time": ("timeframe", "hours", "start"),
    "venue": ("place", "location", "address"),
    "metro": ("metro station", "station", "subway", "underground"),
    "description": ("about", "details"),
    "url": ("link", "website", "tickets", "qr"),
    "organiser": ("organizer", "host", "organised by", "organized by"),
    "prompt": ("artwork", "image prompt", "background prompt"),
}
"""Other names a column may have (compared after :func:`_key`)."""

MAX_ROWS = 200
"""Most events in one sheet (blank rows do not count)."""
MAX_SHEET_BYTES = 5 * 1024 * 1024
"""Largest file read (200 events of long text fit in well under 1 MB)."""
MAX_UNPACKED_BYTES = 50 * 1024 * 1024
"""Largest total a workbook's parts may unpack to (a zip bomb is refused before reading)."""
MAX_COLUMNS = 40
_MAX_SCANNED_ROWS = 10_000  # blank formatted rows of a workbook are read up to here, no further

_TEMPLATE_ROWS: tuple[dict[str, str], ...] = (
    {"title": "Late Night Jazz", "subtitle": "The Blue Quartet live", "date": "Friday 14 March",
     "time": "21:00", "venue": "Le Caveau, 12 rue des Lombards", "metro": "Châtelet",
     "description": "Two sets of modern jazz in a vaulted cellar.",
     "url": "https://example.org/jazz", "organiser": "Caveau Music Club",
     "prompt": "moody jazz club, neon saxophone silhouette, deep blue haze"},
    {"title": "Spring Book Fair", "subtitle": "200 publishers · readings", "date": "5–7 April",
     "time": "10:00–19:00", "venue": "Grande Halle de la Villette", "metro": "Porte de Pantin",
     "description": "Meet the authors and swap books all weekend.",
     "url": "https://example.org/books", "organiser": "Lire Ensemble",
     "prompt": "stacks of colourful books under cherry blossom, watercolour"},
)


@dataclass(frozen=True)
class SheetRow:
    """One event as typed in the sheet: unvalidated text per field."""

    number: int
    """The row's number in the spreadsheet as its program shows it (the header is row 1)."""
    values: dict[str, str]
    """Field name -> cell text; missing columns are empty."""

    @property
    def details(self) -> EventDetails:
        return EventDetails(**{name: self.values.get(name, "") for name in FIELD_LIMITS})

    @property
    def prompt(self) -> str:
        return self.values.get("prompt", "")

    @property
    def title(self) -> str:
        """The title as typed, shortened for reports."""
        title = " ".join(self.values.get("title", "").split())
        return title if len(title) <= 60 else title[:59] + "…"


@dataclass(frozen=True)
class Sheet:
    rows: tuple[SheetRow, ...]
    columns: dict[str, str]
    """Field -> the column heading it was read from."""
    ignored: tuple[str, ...]
    """Headings that name no field (their cells are not used)."""
    kind: str
    """``csv`` or ``xlsx``."""


def _key(heading: str) -> str:
    """A heading as compared: case-folded, ``_``/``-``/``.`` as spaces, spaces collapsed."""
    return " ".join(re.sub(r"[_\-.]+", " ", heading).casefold().split())


_LOOKUP: dict[str, str] = {
    _key(name): field
    for field in SHEET_FIELDS
    for name in (field, *COLUMN_ALIASES.get(field, ()))
}


def _problem(message: str) -> InvalidRequest:
    return InvalidRequest(message, field="sheet")


def template_csv() -> bytes:
    """A CSV with every column and two example events (UTF-8 with a BOM, so Excel reads the
    accents right)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(SHEET_FIELDS), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(_TEMPLATE_ROWS)
    return out.getvalue().encode("utf-8-sig")


def read_sheet(data: bytes) -> Sheet:
    """The events in a CSV or XLSX file's bytes; refuses (InvalidRequest naming ``sheet``)
    files that are neither, too large, without a ``title`` column or with too many events."""
    if not data or not data.strip():
        raise _problem("The sheet is empty: the first row names the columns (title, date, "
                       "venue...), then one row per event.")
    if len(data) > MAX_SHEET_BYTES:
        raise _problem(f"The sheet is {len(data) / 1048576:.1f} MB; the limit is "
                       f"{MAX_SHEET_BYTES // 1048576} MB.")
    if data.startswith(b"PK\x03\x04"):
        return _from_rows(_xlsx_rows(data), "xlsx")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise _problem("This is an old Excel (.xls) file: save it as .xlsx or .csv.")
    if b"\x00" in data[:4096]:
        raise _problem("This file is neither a CSV nor an XLSX sheet.")
    return _from_rows(_csv_rows(data), "csv")


# -- CSV ---------------------------------------------------------------------------------------
def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _delimiter(first_line: str) -> str:
    counts = {sep: first_line.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _csv_rows(data: bytes) -> Iterator[list[Any]]:
    text = _decode(data)
    first = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first))
    try:
        for record in reader:
            yield record[:MAX_COLUMNS]
    except csv.Error as exc:
        raise _problem(f"The CSV cannot be read near line {reader.line_num}: {exc}.") from None


# -- XLSX --------------------------------------------------------------------------------------
def _xlsx_rows(data: bytes) -> Iterator[list[Any]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError):
        raise _problem("This file looks like a workbook but cannot be opened; save it again "
                       "as .xlsx or .csv.") from None
    if "xl/workbook.xml" not in names:
        hint = "an OpenDocument sheet" if "content.xml" in names else "not an XLSX workbook"
        raise _problem(f"This is {hint}: save it as .xlsx or .csv.")
    if unpacked > MAX_UNPACKED_BYTES:
        raise _problem(f"The workbook unpacks to {unpacked / 1048576:.0f} MB; the limit is "
                       f"{MAX_UNPACKED_BYTES // 1048576} MB. Save the events alone as .csv.")
    import openpyxl  # only workbooks need it

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # a hostile or broken file can fail anywhere inside openpyxl
        raise _problem("The workbook cannot be read; save it again as .xlsx or .csv "
                       f"({type(exc).__name__}).") from None
    try:
        if not book.worksheets:
            raise _problem("The workbook has no sheet.")
        sheet = book.worksheets[0]
        try:
            for cells in sheet.iter_rows(max_row=_MAX_SCANNED_ROWS, max_col=MAX_COLUMNS):
                yield [_cell_text(cell) for cell in cells]
        except InvalidRequest:
            raise
        except Exception as exc:  # malformed sheet XML
            raise _problem("The workbook's first sheet cannot be read; save it again as "
                           f".xlsx or .csv ({type(exc).__name__}).") from None
    finally:
        book.close()


_CODES = {
    "yyyy": "%Y", "yy": "%y", "mmmm": "%B", "mmm": "%b", "mm": "%m", "m": "%-m",
    "dddd": "%A", "ddd": "%a", "dd": "%d", "d": "%-d", "hh": "%H", "h": "%-H", "ss": "%S",
    "am/pm": "%p",
}
_TOKENS = sorted(_CODES, key=len, reverse=True)  # longest first: "mmmm" before "mm"


def _strftime_pattern(number_format: str, value: dt.date | dt.time) -> str | None:
    """Excel's display format of a date/time cell as a ``strftime`` pattern, for the common
    formats (``dd/mm/yyyy``, ``d mmmm``, ``dddd d mmm``, ``hh:mm``, ``h:mm AM/PM``...); None
    for anything else."""
    fmt = re.sub(r"\[[^\]]*\]", "", number_format.split(";", 1)[0]).strip()
    if not fmt or fmt.lower() == "general":
        return None
    out: list[str] = []
    i, lower, previous = 0, fmt.lower(), ""
    while i < len(fmt):
        if fmt[i] in "\"\\":  # "literal text" or \x: copied as it is
            end = fmt.find('"', i + 1) if fmt[i] == '"' else i + 2
            end = len(fmt) if end < 0 else end
            literal = fmt[i + 1:end]
            out.append(literal.replace("%", "%%"))
            i = end + (fmt[i] == '"')
            continue
        token = next((t for t in _TOKENS if lower.startswith(t, i)), None)
        if token is None:
            if fmt[i].isalpha():
                return None  # a token this reader does not know
            out.append("%%" if fmt[i] == "%" else fmt[i])
            i += 1
            continue
        code = _CODES[token]
        if token in ("mm", "m") and previous in ("hh", "h"):
            code = "%M"  # minutes after hours, not months
        out.append(code)
        previous = token
        i += len(token)
    pattern = "".join(out)
    if "%p" in pattern:
        pattern = pattern.replace("%-H", "%-I").replace("%H", "%I")
    if isinstance(value, dt.time) and re.search(r"%-?[dmYyBbAa]", pattern):
        return None  # a bare time shown with a date format
    return pattern


def _format_date(value: dt.date | dt.time, number_format: str) -> str:
    pattern = _strftime_pattern(number_format, value)
    if pattern:
        try:
            return value.strftime(pattern).strip()
        except ValueError:
            pass
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M" if not value.second else "%H:%M:%S")
    return value.isoformat()


def _cell_text(cell: Any) -> str:
    """A cell's value as the text a person typed or sees (dates in the cell's own format where
    it is a common one)."""
    value = getattr(cell, "value", cell)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dt.date, dt.time)):
        return _format_date(value, str(getattr(cell, "number_format", "") or ""))
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:g}"
    return str(value)


# -- rows --------------------------------------------------------------------------------------
def _columns(header: Sequence[Any]) -> tuple[dict[int, str], dict[str, str], list[str]]:
    """Column index -> field, field -> heading, and the headings ignored."""
    by_index: dict[int, str] = {}
    headings: dict[str, str] = {}
    ignored: list[str] = []
    for index, raw in enumerate(header):
        heading = " ".join(str(raw or "").split())
        if not heading:
            continue
        field = _LOOKUP.get(_key(heading))
        if field is None:
            ignored.append(heading[:40])
            continue
        if field in headings:
            raise _problem(f"Columns {headings[field]!r} and {heading[:40]!r} both give the "
                           f"{field}; keep one of them.")
        headings[field] = heading[:40]
        by_index[index] = field
    return by_index, headings, ignored


def _from_rows(records: Iterable[Sequence[Any]], kind: str) -> Sheet:
    iterator = iter(records)
    header: Sequence[Any] | None = None
    number = 0
    for record in iterator:
        number += 1
        if any(str(cell or "").strip() for cell in record):
            header = record
            break
    if header is None:
        raise _problem("The sheet is empty: the first row names the columns (title, date, "
                       "venue...), then one row per event.")
    by_index, headings, ignored = _columns(header)
    if "title" not in headings:
        raise _problem("The sheet has no title column: its first row must name the columns "
                       f"({', '.join(SHEET_FIELDS)}). Download the template to start from.")
    rows: list[SheetRow] = []
    for record in iterator:
        number += 1
        values = {field: "" for field in SHEET_FIELDS}
        for index, field in by_index.items():
            if index < len(record):
                values[field] = str(record[index] if record[index] is not None else "")
        if not any(value.strip() for value in values.values()):
            continue  # blank rows separate groups of events; they are not events
        if len(rows) >= MAX_ROWS:
            raise _problem(f"The sheet has more than {MAX_ROWS} events; a run makes at most "
                           f"{MAX_ROWS}. Split it into several sheets.")
        rows.append(SheetRow(number=number, values=values))
    if not rows:
        raise _problem("The sheet has no events: fill one row per event under the header row.")
    return Sheet(rows=tuple(rows), columns=headings, ignored=tuple(ignored), kind=kind)
