"""Regenerate the README's pictures: three flyers and screenshots of the studio (one event, and
a season from a spreadsheet; desktop and phone).

    .venv/bin/python docs/make_docs.py        (or: make docs)

The flyers are rendered by the real pipeline with the offline procedural generator, so they
look exactly like what a fresh install makes; the screenshot is taken by headless Chromium
(docs/screenshot.py) against a studio started on a free loopback port.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from PIL import Image

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))

from pipeline.models import EventDetails, FlyerRequest  # noqa: E402
from pipeline.service import FlyerService  # noqa: E402
from pipeline.settings import load_settings  # noqa: E402

__all__ = ["EXAMPLES", "main"]

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


def main() -> None:
    for path in render_flyers():
        print(path)
    from screenshot import capture, capture_season, local_studio  # docs/screenshot.py

    with local_studio() as (url, key):
        print(capture(url, key, DOCS / "screenshot.png"))
        print(capture(url, key, DOCS / "screenshot-phone.png", width=390, height=844))
        print(capture_season(url, key, DOCS / "screenshot-season.png"))
        print(capture_season(url, key, DOCS / "screenshot-season-phone.png", width=390,
                             height=844))


if __name__ == "__main__":
    main()
