"""Regenerate the README's pictures: three flyers, a contact sheet, and screenshots of the
studio (one event, and a season from a spreadsheet; desktop and phone).

    .venv/bin/python docs/make_docs.py        (or: make docs)
    .venv/bin/python docs/make_docs.py --sheet-only docs/contact-sheet-after.jpg

The flyers are rendered by the real pipeline with the offline procedural generator, so they
look exactly like what a fresh install makes; the contact sheet (docs/contact-sheet-after.jpg)
puts the photographs bundled with scikit-image and the procedural backgrounds through five
formats in the ``auto`` layout (bench/bench_layout.py's set); the screenshot is taken by
headless Chromium (docs/screenshot.py) against a studio started on a free loopback port.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from PIL import Image, ImageDraw

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))
sys.path.insert(1, str(DOCS.parent / "bench"))

from pipeline.models import EventDetails, FlyerRequest  # noqa: E402
from pipeline.service import FlyerService  # noqa: E402
from pipeline.settings import load_settings  # noqa: E402

__all__ = ["EXAMPLES", "SHEET_FORMATS", "contact_sheet", "main"]

SHEET_FORMATS = ("instagram_post", "story", "x_post", "a4", "instagram_square")

EXAMPLES = [
    FlyerRequest(
        details=EventDetails(
            title="Jazz Night at the Blue Room",
            subtitle="The Mara Quartet, live",
            date="Fri 12 December",
            time="20:00–23:30",
            venue="Blue Room, 14 Harbour Street",
            metro="Harbour",
            description="Standards and originals, late bar. Doors at 19:30.",
            url="https://example.org/jazz",
        ),
        prompt="jazz night, neon, smoky club, saxophone",
        seed=5,
        layout="auto",
    ),
    FlyerRequest(
        details=EventDetails(
            title="Spring Market",
            subtitle="Local makers, food & music",
            date="Sat 4 April",
            time="10:00–16:00",
            venue="Old Tram Depot, Riverside",
            metro="Riverside",
            description="Fifty stalls of local produce, crafts and street food.",
            url="https://example.org/spring",
            organiser="Riverside Collective",
        ),
        prompt="spring market, garden, flowers",
        seed=12,
        layout="bottom_band",
    ),
    FlyerRequest(
        details=EventDetails(
            title="ليلة الموسيقى العربية",
            subtitle="Arabic music night · ערב מוזיקה",
            date="Thu 19 March",
            time="21:00",
            venue="Casa Árabe",
            metro="Sol",
            url="https://example.org/oud",
        ),
        prompt="warm desert night, lanterns",
        seed=21,
        layout="centered_poster",
        palette=("#f2c14e", "#1b263b"),
    ),
]


def render_flyers(width: int = 540) -> list[Path]:
    settings = load_settings({"FLYER_BACKEND": "procedural"}, env_file=None)
    service = FlyerService.from_settings(settings)
    paths = []
    for number, request in enumerate(EXAMPLES, start=1):
        [flyer] = service.generate(request)
        png = service.download(flyer.id, "png").data
        image = Image.open(io.BytesIO(png)).convert("RGB")
        image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
        path = DOCS / f"flyer-{number}.png"
        image.save(path, optimize=True)
        paths.append(path)
    return paths


def contact_sheet(path: Path, cell_height: int = 200) -> Path:
    """Every bench background (rows) in every sheet format (columns), layout ``auto``; the
    layout auto picked is written under each flyer."""
    from bench_layout import DETAILS, load_backgrounds  # bench/bench_layout.py

    from pipeline.models import FlyerSpec
    from pipeline.render.compose import compose
    from pipeline.render.formats import get_format

    formats = [get_format(name) for name in SHEET_FORMATS]
    widths = [round(cell_height * f.width / f.height) for f in formats]
    label, gap, caption = 130, 10, 14
    row = cell_height + caption + gap
    backgrounds = load_backgrounds()
    sheet = Image.new("RGB", (label + sum(widths) + gap * len(formats),
                              22 + len(backgrounds) * row), "white")
    draw = ImageDraw.Draw(sheet)
    x = label
    for fmt, width in zip(formats, widths, strict=True):
        draw.text((x, 6), fmt.name, fill=(0, 0, 0))
        x += width + gap
    spec = FlyerSpec(details=DETAILS.validated())
    for number, (name, background) in enumerate(backgrounds.items()):
        y = 22 + number * row
        draw.text((6, y + cell_height // 2), name, fill=(0, 0, 0))
        x = label
        for fmt, width in zip(formats, widths, strict=True):
            flyer = compose(background, spec, "auto", fmt)
            sheet.paste(flyer.image.resize((width, cell_height), Image.Resampling.LANCZOS),
                        (x, y))
            draw.text((x, y + cell_height + 1), flyer.layout, fill=(90, 90, 90))
            x += width + gap
    if path.suffix.lower() in (".jpg", ".jpeg"):  # photographs: a PNG sheet weighs ~3 MB
        sheet.save(path, quality=85, optimize=True, progressive=True)
    else:
        sheet.save(path, optimize=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description="Regenerate the README's pictures.")
    parser.add_argument("--sheet-only", type=Path, default=None,
                        help="only write the contact sheet, to this path")
    args = parser.parse_args()
    if args.sheet_only is not None:
        print(contact_sheet(args.sheet_only))
        return
    for path in render_flyers():
        print(path)
    print(contact_sheet(DOCS / "contact-sheet-after.jpg"))
    from screenshot import capture, capture_season, local_studio  # docs/screenshot.py

    with local_studio() as (url, key):
        print(capture(url, key, DOCS / "screenshot.png"))
        print(capture(url, key, DOCS / "screenshot-phone.png", width=390, height=844))
        print(capture_season(url, key, DOCS / "screenshot-season.png"))
        print(capture_season(url, key, DOCS / "screenshot-season-phone.png", width=390,
                             height=844))


if __name__ == "__main__":
    main()
