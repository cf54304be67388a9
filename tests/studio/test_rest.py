"""The seed's REST contract (POST /flyer, GET /flyer/{id}) on the running studio."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from typing import Any

import httpx
import pytest
from fastapi import HTTPException
from PIL import Image

from studio.rest import format_for_size, parse_flyer_body
from tests.fake_sd import FakeSDServer
from tests.studio.conftest import MakeStudio, RunningStudio


def body(batch_size: int = 1, size: list[int] | None = None, **details: Any) -> dict[str, Any]:
    return {
        "prompt": "a jazz club at night, neon, bokeh",
        "size": size or [1080, 1350],
        "batch_size": batch_size,
        "details": {
            "title": "Jazz Night",
            "subtitle": "Live quartet",
            "date": "Friday 14 March",
            "timeframe": "20:00 – 23:00",
            "place": "Le Caveau, Paris",
            "metro": "Saint-Michel",
            **details,
        },
    }


def post(studio: RunningStudio, payload: Any, **kwargs: Any) -> httpx.Response:
    return httpx.post(
        studio.url + "/flyer", json=payload, headers=studio.headers, timeout=60, **kwargs
    )


def fetch(studio: RunningStudio, uri: str) -> httpx.Response:
    return httpx.get(studio.url + uri, headers=studio.headers, timeout=60)


def jpeg(response: httpx.Response) -> Image.Image:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "JPEG"
    return image


def test_post_then_fetch_each_flyer_twice(studio_server: RunningStudio) -> None:
    payload = body(batch_size=2)
    response = post(studio_server, payload)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["form"] == payload
    uris = answer["flyers_uris"]
    assert len(uris) == 2 and len(set(uris)) == 2
    assert all(uri.startswith("/flyer/") for uri in uris)
    for uri in uris:
        first, second = jpeg(fetch(studio_server, uri)), jpeg(fetch(studio_server, uri))
        assert first.size == second.size == (1080, 1350)


def test_details_reach_the_flyer(studio_server: RunningStudio) -> None:
    uri = post(studio_server, body()).json()["flyers_uris"][0]
    manifest = studio_server.service.get(uri.rsplit("/", 1)[1]).manifest
    text = repr(manifest)
    for expected in ("Jazz Night", "20:00 – 23:00", "Le Caveau, Paris", "Saint-Michel"):
        assert expected in text


def test_custom_size_becomes_a_custom_format(studio_server: RunningStudio) -> None:
    response = post(studio_server, body(size=[800, 600]))
    assert response.status_code == 200, response.text
    assert jpeg(fetch(studio_server, response.json()["flyers_uris"][0])).size == (800, 600)


def test_size_maps_to_a_named_format() -> None:
    assert format_for_size(1080, 1350) == "instagram_post"
    assert format_for_size(1920, 1005) == "facebook_event"
    assert format_for_size(1000, 700) == "1000x700"


@pytest.mark.parametrize("batch_size", [0, -1, 6, 100])
def test_batch_size_out_of_range_is_400(studio_server: RunningStudio, batch_size: int) -> None:
    response = post(studio_server, body(batch_size=batch_size))
    assert response.status_code == 400
    assert "batch_size" in response.json()["detail"]


def test_missing_or_wrong_key_is_403(studio_server: RunningStudio) -> None:
    good = post(studio_server, body()).json()["flyers_uris"][0]
    for headers in ({}, {"X-API-Key": studio_server.key + "x"}, {"X-API-Key": ""}):
        assert (
            httpx.post(studio_server.url + "/flyer", json=body(), headers=headers).status_code
            == 403
        )
        assert httpx.get(studio_server.url + good, headers=headers).status_code == 403


def test_unknown_flyer_is_404(studio_server: RunningStudio) -> None:
    response = fetch(studio_server, "/flyer/no-such-flyer")
    assert response.status_code == 404
    assert response.json()["detail"]


@pytest.mark.parametrize(
    "payload",
    [
        {"prompt": "p", "size": [1080, 1350], "batch_size": 1},  # no details
        {"size": [1080, 1350], "batch_size": 1, "details": {"title": "T"}},  # no prompt
        body(size=[1080]),
        body(size=[1080, 1350, 3]),
        {**body(), "size": ["wide", "tall"]},
        {"prompt": "p", "size": [1080, 1350], "batch_size": "many", "details": {"title": "T"}},
        ["not", "an", "object"],
    ],
)
def test_invalid_body_is_422(studio_server: RunningStudio, payload: Any) -> None:
    assert post(studio_server, payload).status_code == 422


def test_body_that_is_not_json_is_422(studio_server: RunningStudio) -> None:
    response = httpx.post(
        studio_server.url + "/flyer",
        content=b"{nope",
        headers={**studio_server.headers, "content-type": "application/json"},
    )
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (body(title=""), "Title"),
        (body(title="x" * 500), "Title"),
        (body(size=[10, 10]), "size"),
        (body(size=[5000, 5000]), "size"),
    ],
)
def test_pipeline_refusals_are_422_with_the_reason(
    studio_server: RunningStudio, payload: dict[str, Any], field: str
) -> None:
    response = post(studio_server, payload)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert isinstance(detail, str) and field.lower() in detail.lower()


def test_batch_of_three_is_one_txt2img_request(
    studio_on_fake_sd: RunningStudio, fake_sd: FakeSDServer
) -> None:
    response = post(studio_on_fake_sd, body(batch_size=3))
    assert response.status_code == 200, response.text
    assert len(fake_sd.txt2img_requests) == 1
    assert fake_sd.txt2img_requests[0]["batch_size"] == 3
    images = [jpeg(fetch(studio_on_fake_sd, uri)) for uri in response.json()["flyers_uris"]]
    assert len(images) == 3


@pytest.mark.parametrize("mode", ["error500", "oom", "no_api", "garbage"])
def test_stable_diffusion_failure_is_503_service_unavailable(
    studio_on_fake_sd: RunningStudio, fake_sd: FakeSDServer, mode: str
) -> None:
    fake_sd.mode = mode
    response = post(studio_on_fake_sd, body())
    assert response.status_code == 503
    assert response.json() == {"detail": "Service Unavailable"}


def test_unreachable_stable_diffusion_is_503(make_studio: MakeStudio) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    studio = make_studio(
        STABLE_DIFUSION_INSTANCE=f"http://127.0.0.1:{port}", FLYER_BACKEND="automatic1111"
    )
    response = post(studio, body())
    assert response.status_code == 503
    assert response.json() == {"detail": "Service Unavailable"}


def test_full_store_is_503_service_overload_and_keeps_what_it_has(make_studio: MakeStudio) -> None:
    studio = make_studio(MAX_IN_MEMORY="2")
    first = post(studio, body(batch_size=2))
    assert first.status_code == 200
    refused = post(studio, body(batch_size=1))
    assert refused.status_code == 503
    assert refused.json() == {"detail": "Service Overload"}
    for uri in first.json()["flyers_uris"]:
        jpeg(fetch(studio, uri))
        jpeg(fetch(studio, uri))


def test_generation_does_not_block_the_server(
    studio_on_fake_sd: RunningStudio, fake_sd: FakeSDServer
) -> None:
    fake_sd.mode = "slow"
    fake_sd.delay = 1.5
    result: list[httpx.Response] = []
    worker = threading.Thread(target=lambda: result.append(post(studio_on_fake_sd, body())))
    worker.start()
    time.sleep(0.3)
    started = time.monotonic()
    health = httpx.get(studio_on_fake_sd.url + "/healthz", timeout=5)
    waited = time.monotonic() - started
    worker.join(timeout=30)
    assert health.status_code == 200 and waited < 0.5
    assert result and result[0].status_code == 200


def post_raw(studio: RunningStudio, raw: str) -> httpx.Response:
    """POST /flyer with ``raw`` sent as is (JSON that httpx would refuse to write)."""
    return httpx.post(
        studio.url + "/flyer",
        content=raw.encode("ascii"),
        headers={**studio.headers, "content-type": "application/json"},
        timeout=60,
    )


def raw_body(prompt: str = '"neon"', size: str = "[1080, 1350]", batch_size: str = "1",
             title: str = '"Jazz"', description: str = '""') -> str:
    return (f'{{"prompt": {prompt}, "size": {size}, "batch_size": {batch_size}, '
            f'"details": {{"title": {title}, "description": {description}}}}}')


BROKEN_BODIES = [
    (raw_body(batch_size="NaN"), "batch_size"),
    (raw_body(batch_size="Infinity"), "batch_size"),
    (raw_body(batch_size="-Infinity"), "batch_size"),
    (raw_body(size="[NaN, 1350]"), "size"),
    (raw_body(size="[1080, Infinity]"), "size"),
    (raw_body(size='["\\ud800", 1350]'), "size"),
    (raw_body(title='"Jazz \\ud800"'), "Title"),
    (raw_body(title='"Jazz \\udfff night"'), "Title"),
    (raw_body(description='"Free \\ud83d entry"'), "Description"),
    (raw_body(prompt='"neon \\ud800"'), "Prompt"),
    (raw_body(title='"Jazz\\u0000"'), "Title"),
    (raw_body(title='"Jazz\\u001b[31m"'), "Title"),
    ('{"prompt": "p", "details": "\\ud800", "size": NaN}', "details"),
]


@pytest.mark.parametrize(("raw", "field"), BROKEN_BODIES)
def test_nan_infinity_and_broken_text_are_422_and_store_nothing(
    studio_server: RunningStudio, raw: str, field: str
) -> None:
    before = studio_server.service.stored_count()
    response = post_raw(studio_server, raw)
    assert response.status_code == 422, response.text
    assert field.lower() in response.text.lower()
    assert "Traceback" not in response.text
    assert studio_server.service.stored_count() == before
    assert httpx.get(studio_server.url + "/healthz", timeout=5).status_code == 200


def test_the_server_keeps_serving_after_broken_bodies(studio_server: RunningStudio) -> None:
    for raw, _ in BROKEN_BODIES:
        post_raw(studio_server, raw)
    response = post(studio_server, body())
    assert response.status_code == 200, response.text
    jpeg(fetch(studio_server, response.json()["flyers_uris"][0]))


def test_form_echoes_only_the_contract_fields(studio_server: RunningStudio) -> None:
    payload = body(evil="<script>alert(1)</script>")  # an unknown field inside details
    payload["evil"] = "<script>alert(2)</script>"  # and one at the top
    payload["__proto__"] = {"admin": True}
    response = post(studio_server, payload)
    assert response.status_code == 200, response.text
    form = response.json()["form"]
    assert form == body()
    assert "evil" not in form and "evil" not in form["details"] and "__proto__" not in form
    assert "<script>" not in response.text


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)//example.org",
        "JaVaScRiPt:alert(1)//example.org",
        " javascript:alert(1)//example.org",
        "java\tscript:alert(1)//example.org",
        "data:text/html,<script>alert(1)</script>.org",
    ],
)
def test_script_and_data_links_are_422(studio_server: RunningStudio, url: str) -> None:
    before = studio_server.service.stored_count()
    response = post(studio_server, body(url=url))
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("Link: use an http(s), mailto: or tel: address")
    assert studio_server.service.stored_count() == before


@pytest.mark.parametrize("url", ["https://example.org/jazz", "mailto:hi@example.org", "tel:+3312"])
def test_web_mail_and_phone_links_make_a_flyer(studio_server: RunningStudio, url: str) -> None:
    response = post(studio_server, body(url=url))
    assert response.status_code == 200, response.text
    assert response.json()["form"]["details"]["url"] == url


@pytest.mark.parametrize(
    "raw",
    [b"[" * 5000 + b"]" * 5000, b'{"batch_size": ' + b"9" * 5000 + b"}", b"\xff\xfe{", b"{nope"],
)
def test_unreadable_json_is_422_without_echo(raw: bytes) -> None:
    with pytest.raises(HTTPException) as caught:
        parse_flyer_body(raw)
    assert caught.value.status_code == 422
    [error] = caught.value.detail
    assert error["loc"] == ["body"] and "not JSON" in error["msg"]
    assert set(error) == {"type", "loc", "msg"}


def test_validation_errors_never_echo_the_input() -> None:
    with pytest.raises(HTTPException) as caught:
        parse_flyer_body(b'{"prompt": "\\ud800", "size": [NaN, "\\udfff"], "batch_size": 1e999,'
                         b' "details": {"title": ["<script>"]}}')
    assert caught.value.status_code == 422
    locs = {tuple(e["loc"]) for e in caught.value.detail}
    assert locs == {("body", "size", 0), ("body", "size", 1), ("body", "batch_size"),
                    ("body", "details", "title")}
    assert all(set(e) == {"type", "loc", "msg"} for e in caught.value.detail)
    json.dumps(caught.value.detail, allow_nan=False).encode("utf-8")  # answerable


def test_healthz_names_backend_model_and_servers_only_with_the_key(
    studio_on_fake_sd: RunningStudio, fake_sd: FakeSDServer
) -> None:
    url = studio_on_fake_sd.url + "/healthz"
    assert httpx.get(url, timeout=5).json() == {"status": "ok"}
    assert httpx.get(url, headers={"X-API-Key": "not-the-key"}, timeout=5).json() == {
        "status": "ok"}
    detail = httpx.get(url, headers=studio_on_fake_sd.headers, timeout=20).json()
    assert detail["status"] == "ok" and detail["backend"] == "automatic1111"
    assert detail["model"] == "fake-model.safetensors"
    assert [s["server"] for s in detail["servers"]] == [fake_sd.url]
    assert detail["capabilities"]["seeds"] is True
    assert studio_on_fake_sd.headers["X-API-Key"] not in str(detail)
