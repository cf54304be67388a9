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

__all__ = ["capture", "local_studio", "main"]

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
