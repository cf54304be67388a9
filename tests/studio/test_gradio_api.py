"""Gradio's API for scripts, driven through gradio_client against the real, running studio."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from pipeline.render.formats import get_format
from tests.fake_sd import FakeSDServer

from .conftest import MakeStudio, RunningStudio


def _client(studio: RunningStudio, folder: Path) -> Client:
    """A client saving its downloads in ``folder`` (under pytest's temp dir), not in
    gradio_client's default (a folder in the system's temp dir that nobody empties)."""
    return Client(studio.url + "/", auth=studio.auth, verbose=False,
                  download_files=str(folder))


@pytest.fixture(scope="module")
def client(studio_server: RunningStudio,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    client = _client(studio_server, tmp_path_factory.mktemp("client"))
    yield client
    client.close()


@pytest.fixture(scope="module")
def sd_client(studio_on_fake_sd: RunningStudio,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    client = _client(studio_on_fake_sd, tmp_path_factory.mktemp("client"))
    yield client
    client.close()


def _png(path: str, size: tuple[int, int]) -> Image.Image:
    assert Path(path).is_file(), path
    image = Image.open(path)
    assert image.format == "PNG"
    assert image.size == size
    image.load()
    return image


def _size(fmt: str) -> tuple[int, int]:
    f = get_format(fmt)
    return (f.width, f.height)


def test_generate_with_only_a_title(client: Client, studio_server: RunningStudio) -> None:
    pngs, manifests = client.predict(title="Jazz Night", api_name="/generate")
    assert len(pngs) == len(manifests) == 1
    _png(pngs[0], _size("instagram_post"))
    flyer_id = manifests[0]["id"]
    stored = studio_server.service.get(flyer_id)
    assert stored.format == "instagram_post"
    assert stored.source.details.title == "Jazz Night"


def test_generate_with_every_field(client: Client, tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    Image.new("RGBA", (200, 120), (220, 30, 60, 255)).save(logo)
    layouts = [d["name"] for d in client.predict(api_name="/layouts") if d["name"] != "auto"]
    pairings = [d["name"] for d in client.predict(api_name="/pairings")]
    pngs, manifests = client.predict(
        title="Spring Book Fair",
        subtitle="200 publishers",
        date="5–7 April",
        time="10:00–19:00",
        venue="Grande Halle",
        metro="Porte de Pantin",
        description="Readings all weekend.",
        url="https://example.org/books",
        organiser="Lire Ensemble",
        prompt="books under cherry trees",
        negative_prompt="people",
        seed=42,
        batch_size=2,
        layout=layouts[-1],
        format="instagram_square",
        palette="#123456, #abcdef",
        font_pairing=pairings[-1],
        logo=handle_file(str(logo)),
        api_name="/generate",
    )
    assert len(pngs) == 2
    first, second = (_png(p, (1080, 1080)) for p in pngs)
    assert list(first.getdata()) != list(second.getdata())  # different seeds paint differently
    assert len({m["id"] for m in manifests}) == 2
    text = repr(manifests[0])
    for expected in ("Spring Book Fair", "Porte de Pantin", layouts[-1], "#123456"):
        assert expected in text


def test_a_batch_is_one_txt2img_request(
    sd_client: Client, fake_sd: FakeSDServer
) -> None:
    pngs, manifests = sd_client.predict(
        title="Jazz Night", prompt="neon saxophone", batch_size=3, format="x_post",
        api_name="/generate",
    )
    assert len(fake_sd.txt2img_requests) == 1
    assert fake_sd.txt2img_requests[0]["batch_size"] == 3
    assert len(pngs) == len(manifests) == 3
    for path in pngs:
        _png(path, _size("x_post"))


def test_rerender_reuses_the_background(
    sd_client: Client, fake_sd: FakeSDServer, studio_on_fake_sd: RunningStudio
) -> None:
    _, manifests = sd_client.predict(title="Jazz Night", api_name="/generate")
    original = studio_on_fake_sd.service.get(manifests[0]["id"])
    assert len(fake_sd.txt2img_requests) == 1
    other = next(
        d["name"] for d in sd_client.predict(api_name="/layouts")
        if d["name"] not in ("auto", original.layout)
    )

    png, pdf, manifest = sd_client.predict(
        flyer_id=original.id, layout=other, title="Jazz Night — extra date",
        api_name="/rerender",
    )
    assert manifest["id"] != original.id
    assert pdf is None
    _png(png, _size("instagram_post"))
    again = studio_on_fake_sd.service.get(manifest["id"])
    assert again.layout == other
    assert again.source.details.title == "Jazz Night — extra date"
    assert again.source.details.venue == original.source.details.venue
    assert again.source.background == original.source.background

    png, pdf, manifest = sd_client.predict(flyer_id=original.id, format="a4",
                                           api_name="/rerender")
    _png(png, _size("a4"))
    assert pdf is not None and Path(pdf).read_bytes().startswith(b"%PDF")
    assert studio_on_fake_sd.service.get(manifest["id"]).format == "a4"
    assert len(fake_sd.txt2img_requests) == 1  # neither re-render painted again


def test_download_endpoint(client: Client) -> None:
    _, manifests = client.predict(title="Download me", api_name="/generate")
    path = client.predict(flyer_id=manifests[0]["id"], kind="jpeg", api_name="/download")
    with Image.open(path) as image:
        assert image.format == "JPEG"
        assert image.size == _size("instagram_post")


def test_list_endpoints(client: Client) -> None:
    layouts = client.predict(api_name="/layouts")
    assert layouts[0]["name"] == "auto" and len(layouts) > 2
    assert all({"name", "label"} <= set(d) for d in layouts)
    formats = {d["name"]: d for d in client.predict(api_name="/formats")}
    assert (formats["instagram_post"]["width"], formats["instagram_post"]["height"]) == (
        1080, 1350
    )
    assert formats["a4"]["print"] is True
    pairings = client.predict(api_name="/pairings")
    assert "default" in {d["name"] for d in pairings}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"title": "   "}, "Title is required"),
        ({"title": "Jazz", "batch_size": 99}, "Batch size must be between 1 and 5"),
        ({"title": "Jazz", "layout": "zigzag"}, "Unknown layout 'zigzag'"),
        ({"title": "Jazz", "format": "huge"}, "Unknown format 'huge'"),
        ({"title": "Jazz", "palette": "#12"}, "is not a hex code"),
        ({"title": "Jazz", "logo": "/etc/passwd"}, "handle_file"),
    ],
)
def test_errors_reach_the_client_clearly(
    client: Client, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(AppError) as caught:
        client.predict(**kwargs, api_name="/generate")
    assert message in str(caught.value)
    assert "Traceback" not in str(caught.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seed": "nan"}, "Seed must be a whole number, not nan"),
        ({"seed": "inf"}, "Seed must be a whole number, not inf"),
        ({"seed": "-Infinity"}, "Seed must be a whole number, not -inf"),
        ({"seed": "1e999"}, "Seed must be a whole number, not inf"),
        ({"batch_size": "NaN"}, "Batch size must be a whole number, not nan"),
        ({"batch_size": "Infinity"}, "Batch size must be a whole number, not inf"),
    ],
)
def test_nan_and_infinity_are_clear_errors(
    client: Client, studio_server: RunningStudio, kwargs: dict[str, Any], message: str
) -> None:
    # gradio_client (httpx) will not write a float NaN into JSON; their text gets through.
    before = studio_server.service.stored_count()
    with pytest.raises(AppError) as caught:
        client.predict(title="Jazz", **kwargs, api_name="/generate")
    assert message in str(caught.value)
    assert studio_server.service.stored_count() == before
    pngs, _ = client.predict(title="Still serving", api_name="/generate")
    assert len(pngs) == 1


GENERATE_DEFAULTS: dict[str, Any] = {
    "title": "Jazz", "subtitle": "", "date": "", "time": "", "venue": "", "metro": "",
    "description": "", "url": "", "organiser": "", "prompt": "", "negative_prompt": "",
    "seed": -1, "batch_size": 1, "layout": "auto", "format": "instagram_post", "palette": "",
    "font_pairing": "default", "logo": None, "background": None,
}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"title": "Jazz \ud800"}, "Title contains a broken character"),
        ({"subtitle": "Live \udfff quartet"}, "Subtitle contains a broken character"),
        ({"prompt": "neon \ud800"}, "Prompt contains a broken character"),
        ({"url": "javascript:alert(1)//example.org"}, "Link: use an http(s)"),
        ({"title": "Jazz\x07"}, "Title contains a control character (U+0007)"),
    ],
)
def test_broken_text_through_gradio_api_is_a_clear_error(
    studio_server: RunningStudio, given: dict[str, str], message: str
) -> None:
    """Lone surrogates cannot be sent with gradio_client (httpx refuses to encode them), so
    this speaks Gradio's HTTP API with the JSON escapes a script in another language sends."""
    data = list({**GENERATE_DEFAULTS, **given}.values())
    before = studio_server.service.stored_count()
    with httpx.Client(base_url=studio_server.url, timeout=60) as http:
        login = http.post("/login", data={"username": "me", "password": studio_server.key})
        assert login.is_success
        started = http.post(
            "/gradio_api/call/generate",
            content=json.dumps({"data": data}).encode("ascii"),  # "\ud800" as an escape
            headers={"content-type": "application/json"},
        )
        assert started.status_code == 200, started.text
        events = http.get(f"/gradio_api/call/generate/{started.json()['event_id']}").text
    assert "event: error" in events, events
    assert message in events, events
    assert studio_server.service.stored_count() == before


def test_unknown_flyer(client: Client) -> None:
    with pytest.raises(AppError) as caught:
        client.predict(flyer_id="no-such-flyer", layout="auto", api_name="/rerender")
    assert "Traceback" not in str(caught.value)
    assert str(caught.value).strip()


def test_store_full_says_try_again_later(make_studio: MakeStudio, tmp_path: Path) -> None:
    studio = make_studio(MAX_IN_MEMORY="1")
    client = _client(studio, tmp_path)
    try:
        client.predict(title="First", api_name="/generate")
        with pytest.raises(AppError) as caught:
            client.predict(title="Second", api_name="/generate")
        assert "try again later" in str(caught.value)
    finally:
        client.close()


def test_png_bytes_are_a_real_png(client: Client) -> None:
    pngs, _ = client.predict(title="Bytes", api_name="/generate")
    data = Path(pngs[0]).read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    Image.open(io.BytesIO(data)).verify()


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("oom", "memory"),
        ("no_api", "--api"),
        ("garbage", "Stable Diffusion"),
        ("error500", "Stable Diffusion"),
    ],
)
def test_a_failing_sd_server_is_a_clear_error_and_keeps_flyers(
    sd_client: Client, fake_sd: FakeSDServer, mode: str, message: str
) -> None:
    [kept], [manifest] = sd_client.predict(title="Kept", api_name="/generate")
    fake_sd.mode = mode
    with pytest.raises(AppError) as caught:
        sd_client.predict(title="Lost", batch_size=2, api_name="/generate")
    assert message in str(caught.value) and "Traceback" not in str(caught.value)
    fake_sd.mode = "ok"
    again = sd_client.predict(flyer_id=manifest["id"], kind="png", api_name="/download")
    assert Path(again).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert Path(kept).is_file()


def test_one_tls_context_serves_every_request_of_a_predict(
    studio_server: RunningStudio, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README tells scripts to pass ``ssl_verify=ssl.create_default_context()``: the
    installed gradio_client must hand that one context to every request of a ``predict``
    (login, join, SSE stream, heartbeat, the PNG's download), so no request loads the CA
    bundle again; the stock client loads it for each of them."""
    import ssl
    import traceback

    loads: list[str] = []
    original = ssl.SSLContext.load_verify_locations

    def counting(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads.append("".join(traceback.format_stack(limit=12)))
        original(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)
    context = ssl.create_default_context()

    def predict(client: Client, name: str) -> int:
        """Loads of the CA bundle from the client's start to the end of its predict (its
        heartbeat thread included: one client alive at a time)."""
        try:
            pngs, _ = client.predict(title="Jazz Night", api_name="/generate")
            assert Path(pngs[0]).is_relative_to(tmp_path / name)  # downloaded by this client
            _png(pngs[0], _size("instagram_post"))
        finally:
            client.close()
        return len(loads)

    loads.clear()
    made = predict(Client(studio_server.url + "/", auth=studio_server.auth, verbose=False,
                          download_files=str(tmp_path / "shared"),
                          ssl_verify=context),  # type: ignore[arg-type]  # typed bool
                   "shared")
    assert made == 0, "a request built its own TLS context:\n" + loads[-1]
    made = predict(Client(studio_server.url + "/", auth=studio_server.auth, verbose=False,
                          download_files=str(tmp_path / "stock")), "stock")
    assert made >= 3  # config, login, join, stream, heartbeat, download: what the advice saves
