"""Words that fit: hyphenation by language, soft hyphens, CJK untouched, the title clearly
larger than the subtitle, and layouts that say where a text would fit."""

from __future__ import annotations

import pytest

from pipeline.errors import RenderError
from pipeline.models import EventDetails, FlyerSpec
from pipeline.render.compose import compose
from pipeline.render.fonts import get_pairing
from pipeline.render.formats import get_format
from pipeline.render.hyphenate import split_word
from pipeline.render.language import check_language, detect_language, resolve_language
from pipeline.render.layouts import LAYOUT_NAMES
from pipeline.render.text import fit_text

from .helpers import TEXTS, background, check_flyer

COMPOUNDS = ("Donaudampfschifffahrtsgesellschaftskapitänsball",
             "Frühjahrsgemeinschaftsausstellungseröffnungsfeier")
ENGLISH = ("Jazz Night", "The Summer Festival of Improvised Music and Late Night Jazz",
           "Extraordinary Celebrations of Contemporary Photography",
           "International Documentary Film Festival", "Neighbourhood Community Fundraiser")
SHY = "\u00ad"


def _element(manifest: dict[str, object], role: str) -> dict[str, object]:
    elements = manifest["elements"]
    assert isinstance(elements, list)
    return next(e for e in elements if e["role"] == role)


def _words_of(lines: list[str]) -> str:
    """The text the lines spell, hyphens drawn at breaks taken away."""
    return "".join(line[:-1] if line.endswith("-") else line + " " for line in lines).strip()


@pytest.mark.parametrize("fmt_name", ["instagram_post", "story", "480x600"])
@pytest.mark.parametrize("layout", LAYOUT_NAMES)
@pytest.mark.parametrize("title", COMPOUNDS)
def test_long_compound_titles_fit_every_portrait_layout(title: str, layout: str,
                                                        fmt_name: str) -> None:
    details = EventDetails(title=title, subtitle="Festabend mit Musik und Tanz",
                           date="Samstag, 14. Juni 2025", venue="Donaupark, Linz",
                           url="https://example.org/ball")
    fmt = get_format(fmt_name)
    assert fmt.orientation == "portrait"
    flyer = compose(background("dusk"), FlyerSpec(details=details), layout, fmt)
    assert flyer.layout == layout
    assert flyer.manifest["language"] == {"code": "de", "source": "detected",
                                          "hyphenation": "de_DE"}
    el = _element(flyer.manifest, "title")
    lines = el["lines"]
    assert isinstance(lines, list) and 2 <= len(lines) <= 3
    assert all(line.endswith("-") for line in lines[:-1]) and not lines[-1].endswith("-")
    assert _words_of(lines) == title
    assert min(len(line.rstrip("-")) for line in lines) >= 5  # no scraps of a word
    subtitle = _element(flyer.manifest, "subtitle")
    assert isinstance(el["size"], int) and isinstance(subtitle["size"], int)
    assert el["size"] >= 1.5 * subtitle["size"]
    check_flyer(flyer.image, flyer.manifest)


def test_compounds_break_at_their_joints() -> None:
    flyer = compose(background("dusk"), FlyerSpec(details=EventDetails(title=COMPOUNDS[0])),
                    "headline_top", get_format("instagram_post"))
    assert _element(flyer.manifest, "title")["lines"] == [
        "Donaudampfschiff-", "fahrtsgesellschafts-", "kapitänsball"]
    flyer = compose(background("dusk"), FlyerSpec(details=EventDetails(title=COMPOUNDS[1])),
                    "headline_top", get_format("instagram_post"))
    assert _element(flyer.manifest, "title")["lines"] == [
        "Frühjahrsgemeinschafts-", "ausstellungs-", "eröffnungsfeier"]


@pytest.mark.parametrize("fmt_name", ["instagram_post", "x_post", "400x500"])
@pytest.mark.parametrize("title", ENGLISH)
def test_english_titles_that_fit_are_unaffected(title: str, fmt_name: str) -> None:
    for layout in LAYOUT_NAMES:
        sets = []
        for language in ("en", "none"):
            spec = FlyerSpec(details=EventDetails(title=title, date="Sat 14 June"),
                             language=language)
            flyer = compose(background("dusk"), spec, layout, get_format(fmt_name))
            el = _element(flyer.manifest, "title")
            sets.append((el["size"], el["lines"]))
        assert sets[0] == sets[1], (layout, sets)
        assert not any(str(line).endswith("-") for line in sets[0][1])


def test_whole_words_win_unless_breaking_gains_two_thirds() -> None:
    face = get_pairing("default").title
    # breaking "Extraordinary" and "Celebrations" would set them a third larger: not enough
    whole = fit_text("Extraordinary Celebrations", face, 520, 3, 135, 20, 1.04, None)
    hyph = fit_text("Extraordinary Celebrations", face, 520, 3, 135, 20, 1.04, "en_US")
    assert whole == hyph
    # a word far wider than the line is broken, and the type is much larger for it
    long_word = "Supercalifragilisticexpialidocious"
    unbroken = fit_text(long_word, face, 500, 3, 135, 10, 1.04, None)
    broken = fit_text(long_word, face, 500, 3, 135, 10, 1.04, "en_US")
    assert unbroken is not None and broken is not None
    assert broken.size > 1.67 * unbroken.size and len(broken.lines) >= 2
    assert _words_of(list(broken.lines)) == long_word


def test_soft_hyphens_break_there_and_draw_a_hyphen_only_when_broken() -> None:
    face = get_pairing("default").title
    text = f"Donau{SHY}dampf{SHY}schiff{SHY}fahrt"
    wide = fit_text(text, face, 2000, 3, 100, 10)
    assert wide is not None and wide.lines == ("Donaudampfschifffahrt",)
    narrow = fit_text(text, face, 520, 3, 135, 10)
    assert narrow is not None and len(narrow.lines) >= 2
    assert all(line.endswith("-") for line in narrow.lines[:-1])
    assert _words_of(list(narrow.lines)) == "Donaudampfschifffahrt"
    assert not any(SHY in line for line in narrow.lines)
    for line in narrow.lines:  # breaks only where the organiser put them
        assert line.rstrip("-") in {"Donau", "dampf", "schiff", "fahrt", "Donaudampf",
                                    "dampfschiff", "schifffahrt", "Donaudampfschiff",
                                    "dampfschifffahrt"}
    # soft hyphens hold even with hyphenation off, and the patterns are not used for such a
    # word ("Schiff-fahrt" stays where the organiser wanted it)
    assert split_word(f"Schiff{SHY}fahrts{SHY}gesellschaft", "de_DE").texts == (
        "Schiff", "fahrts", "gesellschaft")


def test_soft_hyphen_in_a_composed_title() -> None:
    title = f"Donau{SHY}dampf{SHY}schiff{SHY}fahrts{SHY}gesellschafts{SHY}kapitänsball"
    spec = FlyerSpec(details=EventDetails(title=title), language="none")
    flyer = compose(background("dusk"), spec, "corner_card", get_format("instagram_post"))
    lines = _element(flyer.manifest, "title")["lines"]
    assert isinstance(lines, list) and len(lines) >= 2
    assert _words_of(lines) == title.replace(SHY, "")


def test_cjk_lines_unchanged_by_hyphenation() -> None:
    face = get_pairing("default").body
    text = "東京ジャズフェスティバル、今年も開催します。音楽と食事をお楽しみください。"
    for width in (200, 300, 500):
        plain = fit_text(text, face, width, 4, 40, 10)
        for patterns in ("de_DE", "en_US"):
            assert fit_text(text, face, width, 4, 40, 10, 1.2, patterns) == plain
        assert plain is not None
        assert not any(line[0] in "、。" for line in plain.lines)  # kinsoku kept
        assert not any(line.endswith("-") for line in plain.lines)
    flyer = compose(background("dusk"), FlyerSpec(details=TEXTS["cjk"]), "corner_card",
                    get_format("480x600"))
    assert flyer.manifest["language"] == {"code": "ja", "source": "detected",
                                          "hyphenation": None}


SUBTITLES = ("Live at the harbour", "Forty musicians, three stages and a night market",
             "Festabend mit Musik und Tanz für die ganze Familie")


@pytest.mark.parametrize("fmt_name", ["instagram_post", "instagram_square", "x_post",
                                      "400x500", "640x360"])
def test_title_at_least_one_and_a_half_times_the_subtitle(fmt_name: str) -> None:
    titles = (*COMPOUNDS, ENGLISH[1], "Jazz", "Ein Abend")
    for n, title in enumerate(titles):
        subtitle = SUBTITLES[n % len(SUBTITLES)]
        details = EventDetails(title=title, subtitle=subtitle, date="Sat 14 June",
                               venue="Quay 3", description="Three bands, one night.")
        for layout in LAYOUT_NAMES:
            flyer = compose(background("dusk"), FlyerSpec(details=details), layout,
                            get_format(fmt_name))
            t, s = _element(flyer.manifest, "title"), _element(flyer.manifest, "subtitle")
            assert isinstance(t["size"], int) and isinstance(s["size"], int)
            assert t["size"] >= 1.5 * s["size"], (title, layout, t["size"], s["size"])


GERMAN = EventDetails(title=COMPOUNDS[1], date="Sa 14. Juni")


def test_explicit_layout_error_names_where_it_fits() -> None:
    fmt = get_format("640x360")
    spec = FlyerSpec(details=GERMAN, language="none")  # no hyphenation: only some layouts fit
    fits = []
    for name in LAYOUT_NAMES:
        try:
            compose(background("dusk"), spec, name, fmt)
        except RenderError:
            continue
        fits.append(name)
    assert fits and len(fits) < len(LAYOUT_NAMES)
    refused = next(n for n in LAYOUT_NAMES if n not in fits)
    with pytest.raises(RenderError) as err:
        compose(background("dusk"), spec, refused, fmt)
    message = str(err.value)
    assert err.value.field == "title" and "too long" in message
    named = [n for n in LAYOUT_NAMES if n in message.split("It fits", 1)[1]]
    assert named == fits


def test_auto_falls_back_to_a_layout_where_the_text_fits() -> None:
    spec = FlyerSpec(details=GERMAN, language="none")
    flyer = compose(background("noise"), spec, "auto", get_format("640x360"))
    reason = flyer.manifest["layout_reason"]
    assert isinstance(reason, dict) and "fallback" in reason
    calmest = reason["fallback"]["from"]
    assert calmest != flyer.layout and "too long" in reason["fallback"]["because"]
    scores = reason["calm_scores"]
    assert scores[calmest] <= scores[flyer.layout]
    with pytest.raises(RenderError):
        compose(background("noise"), spec, calmest, get_format("640x360"))
    check_flyer(flyer.image, flyer.manifest)


def test_auto_gives_up_only_when_no_layout_fits() -> None:
    spec = FlyerSpec(details=GERMAN, language="none")
    with pytest.raises(RenderError) as err:
        compose(background("dusk"), spec, "auto", get_format("instagram_post"))
    assert err.value.field == "title" and "No layout has room for it" in str(err.value)
    # with hyphenation (the default) the same title fits
    flyer = compose(background("dusk"), FlyerSpec(details=GERMAN), "auto",
                    get_format("instagram_post"))
    assert "fallback" not in flyer.manifest["layout_reason"]


@pytest.mark.parametrize(("texts", "code"), [
    (["Donaudampfschifffahrtsgesellschaftskapitänsball"], "de"),
    (["Kinderbuchausstellung", "Eintritt frei"], "de"),
    (["Midnight Jazz at the Old Harbour", "Live quartet"], "en"),
    (["Soirée jazz au bord de l'eau", "Entrée libre"], "fr"),
    (["Noche de flamenco", "Entrada libre para niños"], "es"),
    (["Serata di musica", "Ingresso libero"], "it"),
    (["Zomeravond in het park", "Gratis toegang"], "nl"),
    (["東京ジャズ", "渋谷区"], "ja"),
    (["ليلة الجاز في المدينة"], "ar"),
    (["מסיבת ג׳אז"], "he"),
    (["Джазовый вечер"], "ru"),
    (["12:00", ""], "en"),
])
def test_detect_language(texts: list[str], code: str) -> None:
    assert detect_language(texts) == code


def test_language_setting_wins_and_is_checked() -> None:
    assert resolve_language("fr", ["Donaudampfschiff"]).patterns == "fr"
    assert resolve_language("de-CH", []).patterns == "de_CH"
    assert resolve_language("none", ["Donaudampfschiff"]).patterns is None
    assert resolve_language("auto", ["Donaudampfschiff für alle"]).as_dict() == {
        "code": "de", "source": "detected", "hyphenation": "de_DE"}
    assert check_language("klingon") is None and check_language("Auto") == "auto"
    assert check_language("ja") == "ja" and check_language("OFF") == "none"
