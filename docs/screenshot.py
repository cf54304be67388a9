"""Screenshot of the studio after a generation, taken with headless Chromium.

    .venv/bin/python docs/screenshot.py [OUT.png] [--url URL --key KEY]

Without ``--url`` it starts a studio of its own (offline procedural backend, a throwaway key)
on a free loopback port. Needs Playwright (Python package) and Debian's chromium.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import uvicorn
from playwright.sync_api import Page, sync_playwright

__all__ = ["SEASON_CSV", "capture", "capture_season", "local_studio", "main"]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]


@contextlib.contextmanager
def local_studio() -> Iterator[tuple[str, str]]:
    """Run the real server (``create_server``) on a free loopback port; yield (url, key)."""
    from pipeline.settings import load_settings
    from studio.server import create_server

    key = "shot-" + secrets.token_urlsafe(16)
    settings = load_settings({"API_MASTER_KEY": key, "FLYER_BACKEND": "procedural"},
                             env_file=None)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(create_server(settings), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                break
        if time.monotonic() > deadline:
            raise RuntimeError("the studio did not start")
        time.sleep(0.1)
    try:
        yield url, key
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _generate(page: Page) -> None:
    page.locator("#fs-examples button").first.click()
    title = page.locator("#fs-title textarea, #fs-title input").first
    page.wait_for_function("el => el.value !== ''", arg=title.element_handle(), timeout=10_000)
    page.locator("#fs-generate").click()
    page.locator("#fs-gallery img").nth(2).wait_for(state="attached", timeout=120_000)
    page.wait_for_timeout(800)


def capture(url: str, key: str, out: Path, width: int = 1440, height: int = 1100) -> Path:
    """Log in, start from the first example, generate, and save a screenshot to ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(url.rstrip("/") + "/")
        page.get_by_label("username").fill("organiser")
        page.get_by_label("password").fill(key)
        page.get_by_role("button", name="Login").click()
        page.locator("#fs-generate").wait_for(timeout=30_000)
        _generate(page)
        page.screenshot(path=str(out), full_page=True)
        browser.close()
    return out


SEASON_CSV = """title,subtitle,date,time,venue,url,prompt
Late Night Jazz,The Blue Quartet,Fri 14 March,21:00,Le Caveau,https://example.org/jazz,neon club
Spring Book Fair,200 publishers,5–7 April,10:00,Grande Halle,https://example.org/books,
Poetry Slam,Open mic,Tue 8 April,19:30,Bar Ouvert,,neon club
Community Clean-up,Bring gloves,Sun 13 April,09:30,Canal Saint-Martin,,
,Title forgotten,Wed 16 April,20:00,Cinéma du Parc,,
Choir in the Park,,Sat 19 April,18:00,Parc Monceau,javascript:alert(1),
Board Game Night,Newcomers welcome,Thu 24 April,19:00,Café des Jeux,,
Tango Milonga,Live bandoneón,Sat 26 April,21:30,Salle Pleyel,https://example.org/tango,neon club
"""
"""The season the docs show: 8 events, two of them with a problem (no title, a javascript:
link), three sharing a prompt."""


def capture_season(url: str, key: str, out: Path, width: int = 1440,
                   height: int = 1100) -> Path:
    """Log in, open "Many events", upload :data:`SEASON_CSV`, make every flyer and save a
    screenshot of the page to ``out``."""
    import tempfile

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch, sync_playwright() as p:
        sheet = Path(scratch) / "spring-season.csv"
        sheet.write_text(SEASON_CSV, encoding="utf-8")
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(url.rstrip("/") + "/")
        page.get_by_label("username").fill("organiser")
        page.get_by_label("password").fill(key)
        page.get_by_role("button", name="Login").click()
        page.locator("#fs-generate").wait_for(timeout=30_000)
        page.get_by_role("tab", name="Many events", exact=True).click()
        page.locator("#fs-season-sheet input[type=file]").set_input_files(str(sheet))
        page.wait_for_function("() => document.querySelector('#fs-season-status')"
                               ".innerText.includes('8 events')", timeout=30_000)
        page.locator("#fs-season-run").click()
        page.wait_for_function("() => document.querySelector('#fs-season-status')"
                               ".innerText.includes('6 of 8')", timeout=180_000)
        page.locator("#fs-season-contact img").wait_for(timeout=30_000)
        page.wait_for_timeout(800)
        page.screenshot(path=str(out), full_page=True)
        browser.close()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="docs/screenshot.png", type=Path)
    parser.add_argument("--url")
    parser.add_argument("--key")
    args = parser.parse_args(argv)
    if args.url:
        print(capture(args.url, args.key or "", args.out))
        return
    with local_studio() as (url, key):
        print(capture(url, key, args.out))


if __name__ == "__main__":
    main()
