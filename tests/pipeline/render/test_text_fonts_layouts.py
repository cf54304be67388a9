"""Text shaping/fitting, font coverage and pairings, layout data files."""

from __future__ import annotations

import json

import pytest

from pipeline.errors import InvalidRequest
from pipeline.render.cmap import covered_codepoints
from pipeline.render.fonts import FONT_DIR, PAIRING_NAMES, get_pairing, list_pairings
from pipeline.render.layouts import LAYOUT_DIR, LAYOUT_NAMES, TEXT_ROLES, get_layout, list_layouts
from pipeline.render.qr import make_qr
from pipeline.render.text import clean_text, fit_text, paragraph_direction, split_runs


def test_bundled_fonts_and_licences() -> None:
    files = [p for p in FONT_DIR.iterdir() if p.suffix in (".ttf", ".otf")]
    assert len(files) >= 10
    assert sum(p.stat().st_size for p in files) < 15 * 1024 * 1024
    assert len(list((FONT_DIR / "licenses").glob("*"))) >= 6
    for p in files:
        assert covered_codepoints(str(p)), p.name


def test_pairings() -> None:
    assert "default" in PAIRING_NAMES and len(PAIRING_NAMES) >= 5
    assert {p["name"] for p in list_pairings()} == set(PAIRING_NAMES)
    assert all(p["title"] and p["body"] for p in list_pairings())
    with pytest.raises(InvalidRequest) as err:
        get_pairing("papyrus")
    assert err.value.field == "font_pairing"


def test_cmap_knows_what_a_font_lacks() -> None:
    inter = get_pairing("default").body
    assert inter.covers("é") and not inter.covers("ج") and not inter.covers("東")


def test_script_runs_pick_covering_fonts() -> None:
    face = get_pairing("default").title
    runs = split_runs("Jazz ليلة 東京", face, "ltr")
    names = [r.face.name for r in runs]
    assert names[0].startswith("Inter") and "Noto Sans Arabic Bold" in names
    assert "Droid Sans Fallback" in names
    assert [r.direction for r in runs if "Arabic" in r.face.name] == ["rtl"]
    assert paragraph_direction("מועדון jazz") == "rtl"
    # an RTL paragraph lists runs right to left: the Latin word is drawn first (leftmost)
    rtl = split_runs("مرحبا Jazz", face, "rtl")
    assert rtl[0].text.strip() == "Jazz"


def test_emoji_removed_with_warning_symbols_kept() -> None:
    face = get_pairing("default").title
    text, warnings = clean_text("Party 🎉 ★ time 👩‍🎤", face, "title")
    assert text == "Party ★ time"
    assert len(warnings) == 1 and "🎉" in warnings[0] and "title" in warnings[0]
    assert clean_text("Cafe\u0301", face, "venue") == ("Café", [])


def test_fit_wraps_cjk_and_balances() -> None:
    face = get_pairing("default").body
    cjk = fit_text("東京ジャズフェスティバル、今年も開催します。", face, 300, 4, 40, 10)
    assert cjk is not None and len(cjk.lines) >= 2 and " " not in "".join(cjk.lines)
    assert not any(line.startswith("、") or line.startswith("。") for line in cjk.lines)
    fitted = fit_text("one two three four five six seven", face, 400, 2, 60, 10)
    assert fitted is not None and len(fitted.lines) == 2
    a, b = fitted.line_widths
    assert min(a, b) / max(a, b) > 0.6  # no lone short last line
    assert max(fitted.line_widths) <= 400
    assert fit_text("x" * 200, face, 100, 1, 20, 12) is None


def test_layouts_are_data() -> None:
    assert len(LAYOUT_NAMES) >= 6
    assert {x["name"] for x in list_layouts()} == set(LAYOUT_NAMES)
    for name in LAYOUT_NAMES:
        raw = json.loads((LAYOUT_DIR / f"{name}.json").read_text())
        assert set(raw["variants"]) == {"portrait", "square", "landscape"}
        lay = get_layout(name)
        for v in lay.variants.values():
            assert sorted(r for b in v.blocks for r in b.roles) == sorted(TEXT_ROLES)
    with pytest.raises(InvalidRequest) as err:
        get_layout("nope")
    assert err.value.field == "layout" and "minimal_type" in str(err.value)


def test_make_qr_crisp_with_quiet_zone() -> None:
    img = make_qr("https://example.org", 200)
    assert img.width == img.height <= 200 and img.mode == "RGB"
    px = img.load()
    assert px is not None
    assert px[0, 0] == (255, 255, 255) and px[img.width // 2, img.width // 2] in (
        (0, 0, 0), (255, 255, 255))
    colours = set(img.getdata())
    assert colours == {(0, 0, 0), (255, 255, 255)}  # nearest-neighbour: no grey


def test_loaded_fonts_stay_bounded_whatever_the_sizes_fitted() -> None:
    """Each loaded font (one face at one size) holds ~350 KB; fitting new texts visits many
    sizes, so only the bounded cache may keep them: nothing else holds on to an evicted one
    (a process composing varied texts once grew by ~85 MB of fonts)."""
    import gc

    from PIL import ImageFont

    from pipeline.render.fonts import FONT_CACHE, load_font
    from pipeline.render.text import clear_caches

    face = get_pairing("default").title
    for size in range(8, 8 + 3 * FONT_CACHE):  # each fitted at one size: a font each
        assert fit_text(f"Jazz night {size}", face, 20 * size, 1, size, size) is not None
    assert load_font.cache_info().misses > 2 * FONT_CACHE  # many more sizes than it keeps
    gc.collect()
    alive = sum(isinstance(o, ImageFont.FreeTypeFont) for o in gc.get_objects())
    assert alive <= FONT_CACHE, f"{alive} fonts loaded, {FONT_CACHE} kept by the cache"
    assert FONT_CACHE * 350e3 <= 40e6, "the loaded fonts' budget: ~40 MB a process"
    clear_caches()
