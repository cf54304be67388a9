"""A real Chromium drives the studio: log in, type a title, generate, download a PNG.

Needs Debian's chromium at /usr/bin/chromium. Without it the test is skipped locally, but fails
when the ``CI`` environment variable is set (CI must run it).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.fake_sd import FakeSDServer

from .conftest import MakeStudio, RunningStudio

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    _require_chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def log_in(page: Page, url: str, user: str, key: str) -> None:
    """Fill Gradio's login form and wait for the studio to appear."""
    page.goto(url + "/")
    page.get_by_label("username").fill(user)
    page.get_by_label("password").fill(key)
    page.get_by_role("button", name="Login").click()
    page.locator("#fs-generate").wait_for(timeout=30_000)


def gallery_images(page: Page) -> set[str]:
    """The distinct pictures the gallery shows (its preview and strip repeat them)."""
    sources = page.locator("#fs-gallery img").evaluate_all("els => els.map(e => e.src)")
    return set(sources)


def generate(page: Page, title: str, variants: int) -> None:
    """Type a title, press Generate and wait for the gallery to show every variant."""
    page.locator("#fs-title textarea, #fs-title input").first.fill(title)
    page.locator("#fs-generate").click()
    page.wait_for_function(
        "n => new Set([...document.querySelectorAll('#fs-gallery img')].map(e => e.src)).size"
        " >= n",
        arg=variants,
        timeout=60_000,
    )


def test_log_in_generate_and_download(
    browser: Browser, studio_server: RunningStudio, tmp_path: Path
) -> None:
    context = browser.new_context(
        viewport={"width": 1440, "height": 1000}, accept_downloads=True
    )
    page = context.new_page()
    try:
        log_in(page, studio_server.url, "organiser", studio_server.key)
        generate(page, "Browser Jazz Night", variants=3)
        images = gallery_images(page)
        assert len(images) == 3
        assert all(src.endswith(".jpg") for src in images)  # fast JPEG previews, not PNG
        assert "3 flyers" in page.locator("#fs-status").inner_text()

        with page.expect_download(timeout=30_000) as download_info:
            page.locator("#fs-export-png").click()
        download = download_info.value
        saved = tmp_path / download.suggested_filename
        assert download.suggested_filename == "flyer-instagram_post-1.png"  # readable
        download.save_as(saved)
        assert saved.suffix == ".png"
        with Image.open(saved) as image:
            assert image.format == "PNG"
            assert image.size == (1080, 1350)
    finally:
        context.close()


def test_wrong_key_stays_on_the_login_page(
    browser: Browser, studio_server: RunningStudio
) -> None:
    page = browser.new_page()
    try:
        page.goto(studio_server.url + "/")
        page.get_by_label("username").fill("organiser")
        page.get_by_label("password").fill("not-the-key")
        page.get_by_role("button", name="Login").click()
        page.wait_for_timeout(1500)
        assert page.locator("#fs-generate").count() == 0
    finally:
        page.close()


def _log_in_page(browser: Browser, studio: RunningStudio) -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 1000},
                                  accept_downloads=True)
    page = context.new_page()
    log_in(page, studio.url, "organiser", studio.key)
    return context, page


def test_select_rerender_and_print_pdf(browser: Browser, studio_server: RunningStudio,
                                       tmp_path: Path) -> None:
    context, page = _log_in_page(browser, studio_server)
    try:
        generate(page, "Re-render me", variants=3)
        page.locator("#fs-gallery button.thumbnail-small").nth(1).click()
        page.wait_for_function(
            "() => document.querySelector('#fs-status').innerText.includes('Selected 2')"
        )
        page.locator("#fs-rerender").click()
        page.wait_for_function(
            "() => document.querySelector('#fs-status').innerText.includes('Re-rendered')",
            timeout=30_000,
        )
        assert len(gallery_images(page)) == 4  # the new flyer joins the variants

        with page.expect_download(timeout=60_000) as download_info:
            page.locator("#fs-export-pdf").click()
        saved = tmp_path / download_info.value.suggested_filename
        download_info.value.save_as(saved)
        assert saved.suffix == ".pdf"
        assert saved.read_bytes().startswith(b"%PDF")
    finally:
        context.close()


def test_cancel_interrupts_stable_diffusion(
    browser: Browser, studio_on_fake_sd: RunningStudio, fake_sd: FakeSDServer
) -> None:
    fake_sd.mode = "slow"
    fake_sd.delay = 30.0
    context, page = _log_in_page(browser, studio_on_fake_sd)
    try:
        page.locator("#fs-title textarea, #fs-title input").first.fill("Too slow")
        started = time.monotonic()
        page.locator("#fs-generate").click()
        deadline = time.monotonic() + 15
        while not fake_sd.txt2img_requests and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        assert fake_sd.txt2img_requests, "the generation never reached the SD server"
        page.locator("#fs-cancel").click()
        while fake_sd.interrupted == 0 and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        assert fake_sd.interrupted >= 1
        assert time.monotonic() - started < 20  # well before the 30 s job would end
    finally:
        context.close()


def test_errors_show_as_clear_messages(browser: Browser, studio_server: RunningStudio) -> None:
    context, page = _log_in_page(browser, studio_server)
    try:
        page.locator("#fs-generate").click()  # no title
        page.get_by_text("Title is required").first.wait_for(timeout=15_000)
        assert page.get_by_text("Traceback").count() == 0
    finally:
        context.close()


def test_login_page_says_when_the_address_is_locked_out(
    browser: Browser, make_studio: MakeStudio
) -> None:
    studio = make_studio(FLYER_LOGIN_MAX_FAILURES="2", FLYER_LOGIN_LOCKOUT="300")
    page = browser.new_page()
    try:
        page.goto(studio.url + "/")
        for password in ("wrong-1", "wrong-2", studio.key):  # the right key, too late
            page.get_by_label("username").fill("organiser")
            page.get_by_label("password").fill(password)
            page.get_by_role("button", name="Login").click()
            page.wait_for_timeout(500)
        alert = page.locator("#fs-login-error")
        alert.wait_for(timeout=10_000)
        assert alert.inner_text() == "Too many failed logins; try again in 5 minutes."
        assert alert.get_attribute("role") == "alert"
        assert not page.get_by_text("Incorrect credentials", exact=False).is_visible()
        assert page.locator("#fs-generate").count() == 0
    finally:
        page.close()


def _overflow(page: Page) -> int:
    """How many pixels the page is wider than the screen (0: no sideways scrolling)."""
    return int(page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    ))


@pytest.mark.parametrize("viewport", [(390, 844), (1440, 900)], ids=["phone", "desktop"])
def test_no_sideways_scrolling_on_phone_or_desktop(
    browser: Browser, studio_server: RunningStudio, viewport: tuple[int, int]
) -> None:
    width, height = viewport
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        log_in(page, studio_server.url, "organiser", studio_server.key)
        assert _overflow(page) == 0
        for tab in ("Artwork", "Design", "Event"):
            page.get_by_role("tab", name=tab, exact=True).click()
            assert _overflow(page) == 0, tab
        generate(page, "Phone Jazz", variants=3)
        assert _overflow(page) == 0
        for button in ("#fs-generate", "#fs-export-png", "#fs-export-pdf", "#fs-export-zip"):
            box = page.locator(button).bounding_box()
            assert box is not None and box["height"] >= 44, button  # big enough for a thumb
            assert box["x"] >= 0 and box["x"] + box["width"] <= width, button
    finally:
        context.close()


def test_keyboard_reaches_the_form_with_a_visible_focus(
    browser: Browser, studio_server: RunningStudio
) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    try:
        log_in(page, studio_server.url, "organiser", studio_server.key)
        title = page.get_by_label("Title", exact=True)  # the label is tied to its input
        title.first.wait_for(timeout=30_000)  # the form may render just after the buttons
        assert title.count() == 1
        page.locator("body").click(position={"x": 2, "y": 2})
        for _ in range(30):
            page.keyboard.press("Tab")
            if title.evaluate("el => el === document.activeElement"):
                break
        else:
            raise AssertionError("Tab never reached the Title field")
        outline = title.evaluate("el => getComputedStyle(el).outlineStyle")
        assert outline not in ("", "none")
        page.keyboard.type("Typed by keyboard")
        assert title.input_value() == "Typed by keyboard"
    finally:
        context.close()


def test_errors_stay_in_the_status_until_the_next_action(
    browser: Browser, studio_server: RunningStudio
) -> None:
    context, page = _log_in_page(browser, studio_server)
    status = page.locator("#fs-status")
    try:
        page.locator("#fs-generate").click()  # no title
        page.wait_for_function(
            "() => document.querySelector('#fs-status').innerText.includes('Title is required')",
            timeout=15_000,
        )
        page.wait_for_timeout(1500)
        assert "Title is required" in status.inner_text()  # still there: not a fading toast
        assert page.locator(".toast-body").count() == 0
        generate(page, "Now with a title", variants=3)
        assert "Title is required" not in status.inner_text()
        assert "3 flyers" in status.inner_text()
    finally:
        context.close()


def test_a_bad_upload_is_refused_on_arrival(
    browser: Browser, studio_server: RunningStudio, tmp_path: Path
) -> None:
    fake = tmp_path / "logo.png"
    fake.write_text("this is a text file, not a picture")
    context, page = _log_in_page(browser, studio_server)
    try:
        page.get_by_role("tab", name="Design").click()
        page.locator("#fs-logo input[type=file]").set_input_files(str(fake))
        page.wait_for_function(
            "() => document.querySelector('#fs-status').innerText.includes('Organiser logo')",
            timeout=15_000,
        )
        text = page.locator("#fs-status").inner_text()
        assert "not an image" in text
        body = page.locator("body").inner_text()
        assert "Could not preprocess" not in body and "/tmp/" not in body
        assert page.locator("#fs-logo img").count() == 0  # the picker is empty again
        good = tmp_path / "good.png"
        Image.new("RGB", (200, 80), (250, 250, 250)).save(good)
        page.locator("#fs-logo input[type=file]").set_input_files(str(good))
        page.wait_for_function(
            "() => document.querySelector('#fs-status').innerText.includes('ready')",
            timeout=15_000,
        )
        assert "200×80" in page.locator("#fs-status").inner_text()
    finally:
        context.close()


SEASON_CSV = "title,date,venue,url,prompt\n" + "".join(
    f"{title},{day} May,Hall,{url},{prompt}\n"
    for day, (title, url, prompt) in enumerate([
        ("Jazz Night", "https://example.org/j", "neon club"), ("Book Fair", "", ""),
        ("", "", ""), ("Poetry Slam", "", "neon club"), ("Clean-up", "", ""),
        ("Film Club", "", ""), ("Choir", "javascript:alert(1)", ""), ("Board Games", "", ""),
        ("Street Food", "", ""), ("Open Studio", "", ""), ("Tango", "", "neon club"),
        ("Kids Theatre", "", ""),
    ], start=1)
)


def test_many_events_from_a_sheet(browser: Browser, studio_server: RunningStudio,
                                  tmp_path: Path) -> None:
    """The "Many events" page: template, a 12-row sheet with 2 bad rows, a progress bar, the
    contact sheet, the ZIP and both bad rows in the status; no sideways scrolling on a phone."""
    sheet = tmp_path / "season.csv"
    sheet.write_text(SEASON_CSV, encoding="utf-8")
    context, page = _log_in_page(browser, studio_server)
    try:
        page.get_by_role("tab", name="Many events", exact=True).click()
        with page.expect_download(timeout=30_000) as template:
            page.locator("#fs-season-template").click()
        assert template.value.suggested_filename == "flyer-season-template.csv"
        page.locator("#fs-season-sheet input[type=file]").set_input_files(str(sheet))
        status = page.locator("#fs-season-status")
        page.wait_for_function(
            "() => document.querySelector('#fs-season-status').innerText.includes('12 events')",
            timeout=15_000)
        page.locator("#fs-season-run").click()
        page.locator("#fs-season-contact .progress-text, #fs-season-contact .eta-bar").first \
            .wait_for(state="attached", timeout=15_000)  # the run's progress shows
        page.wait_for_function(
            "() => document.querySelector('#fs-season-status').innerText.includes('10 of 12')",
            timeout=120_000)
        text = status.inner_text()
        assert "2 rows not made" in text
        assert "Row 4 · Title is required: give the event a name." in text
        assert "Row 8 (Choir) · Link: use an http(s), mailto: or tel: address" in text
        page.locator("#fs-season-contact img").wait_for(timeout=15_000)
        with page.expect_download(timeout=30_000) as download:
            page.locator("#fs-season-zip a").first.click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        import zipfile

        with zipfile.ZipFile(saved) as archive:
            folders = {name.split("/")[0] for name in archive.namelist() if "/" in name}
        assert len(folders) == 10
        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(300)
        assert _overflow(page) == 0
    finally:
        context.close()


def test_the_header_says_when_stable_diffusion_is_unreachable(
    browser: Browser, make_studio: MakeStudio
) -> None:
    with FakeSDServer(mode="down") as sd:
        studio = make_studio(sd=sd, FLYER_HEALTH_INTERVAL="60")
        context, page = _log_in_page(browser, studio)
        badge = page.locator("#fs-header .fs-badge")
        try:
            page.wait_for_function(
                "() => document.querySelector('#fs-header .fs-badge').innerText"
                ".includes('unreachable')", timeout=15_000)
            assert badge.inner_text() == "⚠ Stable Diffusion · unreachable"
            assert "fs-badge-down" in (badge.get_attribute("class") or "")
            assert "is it running?" in (badge.get_attribute("title") or "")
            colour = badge.evaluate("el => getComputedStyle(el).backgroundColor")
            assert colour == "rgb(251, 191, 36)"  # the warning colour
            sd.mode = "ok"  # back up: the next run's fresh check says so
            generate(page, "Back online", variants=2)
            page.wait_for_function(
                "() => document.querySelector('#fs-header .fs-badge').innerText"
                ".includes('up to')", timeout=15_000)
            assert badge.inner_text() == "Stable Diffusion · up to 5 variants"
        finally:
            context.close()
