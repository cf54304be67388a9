"""Validation of what users type: text fields and the link that becomes a QR code."""

from __future__ import annotations

import pytest

from pipeline.errors import InvalidRequest
from pipeline.models import FIELD_LIMITS, EventDetails, check_link, check_text
from pipeline.render.qr import make_qr


def _with(field: str, text: str) -> EventDetails:
    """Details with ``text`` in ``field`` (as the path of a link for ``url``)."""
    value = f"https://example.org/{text}" if field == "url" else text
    return EventDetails(**{"title": "Jazz", field: value})


def _refused(details: EventDetails) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        details.validated()
    return caught.value


@pytest.mark.parametrize("field", list(FIELD_LIMITS))
@pytest.mark.parametrize("bad", ["\ud800", "\udfff", "a\ud83db"])
def test_lone_surrogates_are_refused_in_every_field(field: str, bad: str) -> None:
    error = _refused(_with(field, f"Jazz-{bad}"))
    assert error.field == field
    assert "broken character" in str(error) and FIELD_LIMITS[field][0] in str(error)


def test_a_proper_surrogate_pair_is_an_ordinary_character() -> None:
    assert EventDetails(title="Jazz 🎷").validated().title == "Jazz 🎷"


@pytest.mark.parametrize("field", list(FIELD_LIMITS))
@pytest.mark.parametrize("bad", ["\x00", "\x07", "\x1b[31m", "\x7f", "\x85", "\x9b"])
def test_control_characters_are_refused_in_every_field(field: str, bad: str) -> None:
    error = _refused(_with(field, f"Jazz{bad}night"))
    assert error.field == field
    assert "control character (U+" in str(error)


@pytest.mark.parametrize("field", [f for f in FIELD_LIMITS if f != "description"])
def test_tabs_are_refused_outside_the_description(field: str) -> None:
    error = _refused(_with(field, "Jazz\tnight"))
    assert error.field == field
    assert "a tab" in str(error)


def test_the_description_keeps_its_line_breaks_and_tabs_become_spaces() -> None:
    details = EventDetails(title="Jazz", description="Doors\t21:00\r\nEntry\tfree").validated()
    assert details.description == "Doors 21:00\nEntry free"


def test_text_checks_name_the_field_and_allow_line_breaks_only_in_multiline_text() -> None:
    check_text("neon\n\tsaxophone", "prompt", "Prompt", multiline=True)
    for text, multiline in (("neon\nsax", False), ("neon\ud800", True), ("neon\x00", True)):
        with pytest.raises(InvalidRequest) as caught:
            check_text(text, "prompt", "Prompt", multiline=multiline)
        assert caught.value.field == "prompt" and str(caught.value).startswith("Prompt ")


GOOD_LINKS = [
    "https://example.org/jazz",
    "http://example.org",
    "HTTPS://EXAMPLE.ORG/Jazz",
    "example.org/jazz",
    "https://example.org/?next=javascript:alert(1)",
    "mailto:hello@example.org",
    "mailto:hello@example.org?subject=Jazz",
    "tel:+33123456789",
    "tel:+33-1-23-45-67-89",
]
DANGEROUS_LINKS = [
    "javascript:alert(1)//example.org",
    "JaVaScRiPt:alert(1)//example.org",
    " javascript:alert(1)//example.org",
    "java\tscript:alert(1)//example.org",
    "java\nscript:alert(1)//example.org",
    "\x00javascript:alert(1)//example.org",
    "javascript\x0b:alert(1)//example.org",
    "ｊａｖａｓｃｒｉｐｔ:alert(1)//example.org",
    "data:text/html,<script>alert(1)</script>.org",
    "DATA:image/png;base64,iVBORw0KGgo.org",
    "vbscript:msgbox(1).org",
    "file:///etc/passwd.org",
    "example.org:8080",  # reads as scheme "example.org"; https://example.org:8080 is fine
]


@pytest.mark.parametrize("url", GOOD_LINKS)
def test_web_mail_and_phone_links_are_accepted(url: str) -> None:
    check_link(url)
    assert EventDetails(title="Jazz", url=url).validated().url == url.strip()
    make_qr(url, 400)


@pytest.mark.parametrize("url", DANGEROUS_LINKS)
def test_other_schemes_are_refused_however_spelled(url: str) -> None:
    error = _refused(EventDetails(title="Jazz", url=url))
    assert error.field == "url"
    assert "Link: use an http(s), mailto: or tel: address" in str(error)
    with pytest.raises(InvalidRequest) as caught:  # the QR code refuses them on its own
        make_qr(url, 400)
    assert caught.value.field == "url"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mailto:nobody", "needs an email address"),
        ("tel:call-me", "needs a phone number"),
        ("https://localhost", "does not look like a web address"),
        ("//example.org", "does not look like a web address"),
        ("jazz", "does not look like a web address"),
        ("https://exa mple.org", "cannot contain spaces"),
    ],
)
def test_unusable_links_say_why(url: str, message: str) -> None:
    error = _refused(EventDetails(title="Jazz", url=url))
    assert error.field == "url" and message in str(error)


def test_validating_a_validated_copy_returns_it_and_refusals_are_never_remembered() -> None:
    raw = EventDetails(title="  Jazz\r\nNight ", description="Live\tquartet",
                       venue=None)  # type: ignore[arg-type]
    clean = raw.validated()
    assert clean == EventDetails(title="Jazz Night", description="Live quartet")
    assert clean is not raw
    assert clean.validated() is clean  # already clean: the same object, nothing redone
    assert raw.validated() == clean  # the same answer the second time
    for _ in range(2):  # a refusal raises every time (it is not cached as an answer)
        with pytest.raises(InvalidRequest, match="Title is required"):
            EventDetails(title="   ").validated()
        with pytest.raises(InvalidRequest, match="Title must be text"):
            EventDetails(title=3).validated()  # type: ignore[arg-type]


def test_one_generated_flyer_checks_its_texts_once() -> None:
    """The service and then compose, its planner and the QR code all ask for validated
    details; the texts are cleaned and checked once per flyer, not at every stage."""
    from pipeline.models import FlyerRequest, _cleaned
    from pipeline.service import FlyerService
    from pipeline.settings import load_settings

    settings = load_settings({"API_MASTER_KEY": "k" * 32, "FLYER_BACKEND": "procedural",
                              "FLYER_RENDER_PROCESSES": "0"},  # this process's caches
                             env_file=None)
    service = FlyerService.from_settings(settings)
    details = EventDetails(title="Checked once", venue="Blue Room", url="example.org/once",
                           metro="Bastille")
    before = _cleaned.cache_info()
    service.generate(FlyerRequest(details=details, prompt="dusk", batch_size=1))
    after = _cleaned.cache_info()
    assert after.misses - before.misses == 1  # validated once ...
    assert after.hits - before.hits >= 3  # ... and asked for again by the later stages
