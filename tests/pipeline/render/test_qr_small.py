"""QR codes stay scannable on small canvases: at least 3 px per module, decoded by zxing-cpp
from the final flyer, or a clear refusal."""

from __future__ import annotations

import pytest
import zxingcpp

from pipeline.errors import RenderError
from pipeline.models import EventDetails, FlyerSpec
from pipeline.render.compose import compose
from pipeline.render.formats import get_format
from pipeline.render.layouts import LAYOUT_NAMES
from pipeline.render.qr import MIN_MODULE_PX, give_way, plan_qr, qr_modules

from .helpers import background, check_flyer

LINK = ("https://example.org/events/summer-jazz-festival-2025/harbour-stage/"
        "tickets?ref=flyer&lang=en&utm=qr2")
assert len(LINK) == 100


@pytest.mark.parametrize("fmt_name", ["300x300", "300x600", "600x300"])
@pytest.mark.parametrize("layout", [*LAYOUT_NAMES, "auto"])
def test_100_character_link_decodes_at_300_px(fmt_name: str, layout: str) -> None:
    details = EventDetails(title="Jazz Night", subtitle="Live at the harbour",
                           date="Sat 14 June", venue="Quay 3", url=LINK)
    flyer = compose(background("noise", 320, 400), FlyerSpec(details=details), layout,
                    get_format(fmt_name))
    assert [r.text for r in zxingcpp.read_barcodes(flyer.image)] == [LINK]
    qr = next(e for e in flyer.manifest["elements"] if e["role"] == "qr")
    side = qr["box"][2] - qr["box"][0]
    assert side // qr_modules(LINK, "l") >= MIN_MODULE_PX
    check_flyer(flyer.image, flyer.manifest)  # the text made way: no overlap


def test_error_correction_is_medium_where_there_is_room() -> None:
    fmt = get_format("instagram_post")
    plan = plan_qr("https://example.org/jazz", (700, 1000, 1021, 1291), "right", "bottom", fmt)
    assert plan.level in ("M", "Q", "H") and not plan.grown
    assert plan.module_px >= 4
    small = plan_qr(LINK, (220, 220, 284, 284), "right", "bottom", get_format("300x300"))
    assert small.level == "L" and small.grown and small.module_px == MIN_MODULE_PX
    assert small.box[2] == 284 and small.box[3] == 284  # grown out of its corner, inwards


def test_too_long_a_link_is_refused_clearly() -> None:
    details = EventDetails(title="Jazz", url="https://example.org/" + "x" * 180)
    with pytest.raises(RenderError) as err:
        compose(background("dusk"), FlyerSpec(details=details), "minimal_type",
                get_format("300x300"))
    assert err.value.field == "url"
    message = str(err.value)
    assert "too long for a scannable QR code" in message and "px" in message
    assert "shorter link" in message


def test_give_way_keeps_the_largest_part() -> None:
    assert give_way((0, 0, 100, 100), (200, 200, 250, 250), 5) == (0, 0, 100, 100)
    assert give_way((0, 0, 100, 200), (60, 150, 100, 200), 5) == (0, 0, 100, 145)
    assert give_way((0, 0, 200, 100), (150, 40, 200, 100), 5) == (0, 0, 145, 100)
