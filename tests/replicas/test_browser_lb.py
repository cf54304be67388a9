"""The browser test through the load balancer: a real Chromium logs in at nginx, generates
and downloads a PNG while nginx's affinity cookie keeps its Gradio session on one replica; two
browsers at once each keep their own session, every file of a page from one replica.

Needs Debian's chromium, redis-server and nginx: skipped locally without them, failing in CI.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, sync_playwright

from tests.studio.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    _require_chromium,
    gallery_images,
    generate,
    log_in,
)

from .conftest import Cluster

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    _require_chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_log_in_generate_and_download_through_the_balancer(
    browser: Browser, cluster: Cluster, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 1000},
                                  accept_downloads=True)
    page = context.new_page()
    try:
        log_in(page, cluster.url, "organiser", cluster.key)
        affinity = [c for c in context.cookies() if c["name"] == "flyer_replica"]
        assert len(affinity) == 1 and affinity[0]["httpOnly"]
        generate(page, "Balanced Jazz Night", variants=3)
        images = gallery_images(page)
        assert len(images) == 3
        assert all(src.startswith(cluster.url) for src in images)  # served through nginx
        assert "3 flyers" in page.locator("#fs-status").inner_text()

        with page.expect_download(timeout=30_000) as download_info:
            page.locator("#fs-export-png").click()
        saved = tmp_path / download_info.value.suggested_filename
        download_info.value.save_as(saved)
        with Image.open(saved) as image:
            assert image.format == "PNG" and image.size == (1080, 1350)

        # the same cookie, every request: the session stayed on its replica throughout
        after = [c for c in context.cookies() if c["name"] == "flyer_replica"]
        assert after == affinity
        status = httpx.get(cluster.url + "/config", cookies={
            c["name"]: c["value"] for c in context.cookies()})
        assert status.status_code == 200  # still logged in on that replica via nginx
    finally:
        context.close()


def test_two_browsers_on_the_balancer_each_keep_their_session(
    browser: Browser, cluster: Cluster
) -> None:
    contexts = [browser.new_context(viewport={"width": 1280, "height": 900}) for _ in range(2)]
    try:
        pages = [context.new_page() for context in contexts]
        for n, page in enumerate(pages):
            log_in(page, cluster.url, f"organiser-{n}", cluster.key)
        for n, page in enumerate(pages):
            generate(page, f"Browser {n}", variants=3)
            images = gallery_images(page)
            assert len(images) == 3
            # each page's files come from one replica's folder: its session never moved
            homes = {name for src in images for name in ("replica-A", "replica-B") if name in src}
            assert len(homes) == 1, images
    finally:
        for context in contexts:
            context.close()
