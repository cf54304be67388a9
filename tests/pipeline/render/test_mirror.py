"""Right-to-left titles (Arabic, Hebrew) mirror the layout horizontally."""

from __future__ import annotations

import pytest

from pipeline.models import EventDetails, FlyerSpec
from pipeline.render.compose import compose
from pipeline.render.formats import get_format
from pipeline.render.layouts import LAYOUT_NAMES, get_layout

from .helpers import background, check_flyer, logo_image

LTR = EventDetails(title="Jazz Night", subtitle="Live at the harbour", date="14.06.2025",
                   venue="Old Warehouse", metro="Bastille", url="https://example.org/ar")
ARABIC = EventDetails(title="ليلة الجاز في المدينة", subtitle="رباعي حي وضيف خاص",
                      date="14.06.2025", venue="المستودع القديم", metro="Bastille",
                      url="https://example.org/ar")
HEBREW = EventDetails(title="מסיבת ג׳אז", subtitle="Live at the harbour", date="14.06.2025",
                      venue="Old Warehouse", metro="Bastille", url="https://example.org/ar")


def _flip(box: list[int], width: int) -> list[int]:
    return [width - box[2], box[1], width - box[0], box[3]]


def _near(a: list[int], b: list[int]) -> bool:
    return all(abs(x - y) <= 1 for x, y in zip(a, b, strict=True))


def test_variant_mirrors_boxes_and_alignment() -> None:
    fmt = get_format("1600x900")
    plain, mirrored = (get_layout("split_panel").variant(fmt, m) for m in (False, True))
    assert mirrored.panels[0].area == (0.5, 0.0, 1.0, 1.0)  # the panel moves right
    assert mirrored.qr.box == pytest.approx((0.79, 0.66, 1.0, 1.0))
    assert mirrored.qr.align == "right" and plain.qr.align == "left"
    assert [b.align for b in mirrored.blocks] == ["right"]


@pytest.mark.parametrize("fmt_name", ["400x500", "640x360"])
@pytest.mark.parametrize("layout", LAYOUT_NAMES)
def test_rtl_title_mirrors_the_layout(layout: str, fmt_name: str) -> None:
    fmt = get_format(fmt_name)
    spec = FlyerSpec(details=LTR, logo=logo_image("RGBA"))
    ltr = compose(background("dusk"), spec, layout, fmt)
    for details in (ARABIC, HEBREW):
        rtl = compose(background("dusk"), FlyerSpec(details=details, logo=logo_image("RGBA")),
                      layout, fmt)
        check_flyer(rtl.image, rtl.manifest)
        assert rtl.manifest["mirrored"] is True and ltr.manifest["mirrored"] is False
        for block, box in ltr.manifest["regions"].items():
            assert _near(rtl.manifest["regions"][block], _flip(box, fmt.width)), block
        for role in ("qr", "logo"):
            a = next(e for e in ltr.manifest["elements"] if e["role"] == role)
            b = next(e for e in rtl.manifest["elements"] if e["role"] == role)
            assert _near(b["box"], _flip(a["box"], fmt.width)), role
        title = next(e for e in rtl.manifest["elements"] if e["role"] == "title")
        region = rtl.manifest["regions"][title["block"]]
        if title["align"] != "center":  # the column hangs from the right edge
            assert title["align"] == "right" and title["box"][2] == region[2]
