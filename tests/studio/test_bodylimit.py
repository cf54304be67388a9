"""Request bodies at the perimeter: the REST key before the body, 413 past each route's cap."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from studio.bodylimit import (
    DEFAULT_MAX_BODY,
    MULTIPART_OVERHEAD,
    REST_MAX_BODY,
    BodyLimit,
    parse_size,
    studio_limits,
)
from studio.server import MAX_UPLOAD
from tests.studio.conftest import MakeStudio, RunningStudio

MB = 1024 * 1024
HUGE = 100 * MB
JSON = {"content-type": "application/json"}


class Spaces:
    """A body of ``total`` spaces in 1 MB chunks that counts what the client got to send."""

    def __init__(self, total: int, chunk: int = MB) -> None:
        self.total = total
        self.chunk = chunk
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        while self.sent < self.total:
            piece = b" " * min(self.chunk, self.total - self.sent)
            self.sent += len(piece)
            yield piece


def status_or_reset(studio: RunningStudio, path: str, body: Spaces,
                    headers: dict[str, str]) -> int | str:
    """POST ``body``: the answer's status, or "reset" when the server closed the connection
    under the client still sending (its answer may then be lost on the way)."""
    try:
        return httpx.post(studio.url + path, content=body, headers=headers, timeout=30).status_code
    except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError):
        return "reset"


def flyer_body(**details: str) -> dict[str, object]:
    return {"prompt": "neon", "size": [1080, 1350], "batch_size": 1,
            "details": {"title": "Jazz", **details}}


# --- the table ------------------------------------------------------------------------------


def test_the_studio_table() -> None:
    rest, upload, default = studio_limits(MAX_UPLOAD)
    assert (rest.path, rest.max_bytes, rest.needs_key) == ("/flyer", 64 * 1024, True)
    assert upload.path == "/gradio_api/upload"
    assert upload.max_bytes == 25 * MB + MULTIPART_OVERHEAD and not upload.needs_key
    assert (default.path, default.max_bytes, default.needs_key) == ("", MB, False)
    assert REST_MAX_BODY == 64 * 1024 and DEFAULT_MAX_BODY == MB
    assert "64 KB" in rest.message() and "25 MB" in upload.message()


@pytest.mark.parametrize(
    ("path", "matched"),
    [("/flyer", True), ("/flyer/", True), ("/flyer/abc", True), ("/flyers", False),
     ("/flyerx/abc", False), ("/", False), ("/gradio_api/flyer", False)],
)
def test_a_row_matches_its_path_and_below(path: str, matched: bool) -> None:
    assert BodyLimit("/flyer", 10).matches(path) is matched
    assert BodyLimit("", 10).matches(path)


def test_parse_size() -> None:
    assert parse_size("25mb") == parse_size("25 MB") == 25 * MB
    assert parse_size("64kb") == 64 * 1024 and parse_size("100") == parse_size(100) == 100
    for bad in ("", "mb", "25 parsecs", "-3mb"):
        with pytest.raises(ValueError):
            parse_size(bad)


# --- the running studio ---------------------------------------------------------------------


def _connect(studio: RunningStudio) -> socket.socket:
    address = urlsplit(studio.url)
    sock = socket.create_connection((address.hostname, address.port), timeout=10)
    return sock


def _head(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: studio", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of the answer; the body is read up to Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        assert more, f"the server closed the connection without answering: {data!r}"
        data += more
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip()
               for k, v in (line.split(":", 1) for line in header_lines)}
    while len(body) < int(headers.get("content-length", 0)):
        more = sock.recv(65536)
        assert more
        body += more
    return int(status_line.split()[1]), headers, body


def _closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


@pytest.mark.parametrize("key", [None, "wrong"])
def test_stranger_with_a_100_mb_body_gets_403_before_sending_it(
    studio_server: RunningStudio, key: str | None
) -> None:
    """The server answers after 1 KB of a declared 100 MB and drops the connection."""
    headers = {**JSON, "Content-Length": str(HUGE)}
    if key is not None:
        headers["X-API-Key"] = key
    with _connect(studio_server) as sock:
        started = time.monotonic()
        sock.sendall(_head("/flyer", headers) + b"{" + b" " * 1023)
        status, answer_headers, body = _response(sock)
        assert time.monotonic() - started < 5
        assert status == 403, body
        assert b"X-API-Key" in body
        assert answer_headers.get("connection") == "close"
        assert _closed_by_server(sock)


def test_stranger_streaming_100_mb_is_cut_short(studio_server: RunningStudio) -> None:
    for headers in ({**JSON, "Content-Length": str(HUGE)}, JSON):  # declared, then chunked
        body = Spaces(HUGE)
        assert status_or_reset(studio_server, "/flyer", body, headers) in (403, "reset")
        assert body.sent < 20 * MB, f"the client got to send {body.sent // MB} MB"


def test_refused_bodies_of_a_few_mb_still_get_their_answer(studio_server: RunningStudio) -> None:
    """Up to DRAIN_MAX the server reads and drops the rest rather than resetting the client."""
    with httpx.Client(base_url=studio_server.url, timeout=30) as client:
        for _ in range(3):
            stranger = client.post("/flyer", content=b" " * (3 * MB), headers=JSON)
            assert stranger.status_code == 403
            too_big = client.post("/flyer", content=b" " * (3 * MB),
                                  headers={**JSON, **studio_server.headers})
            assert too_big.status_code == 413
            assert client.get("/healthz").status_code == 200


def test_locked_out_address_gets_429_before_its_body(make_studio: MakeStudio) -> None:
    studio = make_studio(FLYER_LOGIN_MAX_FAILURES="2")
    for _ in range(2):
        wrong = httpx.post(studio.url + "/flyer", json=flyer_body(),
                           headers={"X-API-Key": "wrong"}, timeout=30)
        assert wrong.status_code == 403
    with _connect(studio) as sock:  # even with the right key
        sock.sendall(_head("/flyer", {**JSON, **studio.headers, "Content-Length": str(HUGE)})
                     + b"{" + b" " * 1023)
        status, headers, body = _response(sock)
        assert status == 429, body
        assert int(headers["retry-after"]) > 0
        assert b"Too many failed logins" in body
        assert _closed_by_server(sock)


def test_oversize_rest_json_is_413(studio_server: RunningStudio) -> None:
    before = studio_server.service.stored_count()
    payload = flyer_body(description="x" * (REST_MAX_BODY + 1))
    response = httpx.post(studio_server.url + "/flyer", json=payload,
                          headers=studio_server.headers, timeout=30)
    assert response.status_code == 413
    assert "64 KB" in response.json()["detail"]
    assert studio_server.service.stored_count() == before


def test_declared_100_mb_with_the_key_is_413_before_it_is_sent(
    studio_server: RunningStudio,
) -> None:
    with _connect(studio_server) as sock:
        sock.sendall(_head("/flyer", {**JSON, **studio_server.headers,
                                      "Content-Length": str(HUGE)}))
        status, _, body = _response(sock)
        assert status == 413, body
        assert _closed_by_server(sock)


def test_chunked_oversize_rest_body_is_413(studio_server: RunningStudio) -> None:
    """No Content-Length: the bytes are counted as they arrive."""
    with _connect(studio_server) as sock:
        sock.sendall(_head("/flyer", {**JSON, **studio_server.headers,
                                      "Transfer-Encoding": "chunked"}))
        chunk = b" " * 16 * 1024
        for _ in range(5):  # 80 KB, and the body is never finished
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        status, _, body = _response(sock)
        assert status == 413, body
        assert b"64 KB" in body
    stream = Spaces(HUGE, chunk=16 * 1024)
    status = status_or_reset(studio_server, "/flyer", stream, {**JSON, **studio_server.headers})
    assert status in (413, "reset")
    assert stream.sent < 20 * MB


def test_chunked_rest_body_under_the_cap_still_works(studio_server: RunningStudio) -> None:
    raw = json.dumps(flyer_body(description="A long evening. " * 10)).encode()
    response = httpx.post(studio_server.url + "/flyer",
                          content=iter([raw[:100], raw[100:]]),  # chunked
                          headers={**JSON, **studio_server.headers}, timeout=60)
    assert response.status_code == 200, response.text
    assert httpx.get(studio_server.url + response.json()["flyers_uris"][0],
                     headers=studio_server.headers, timeout=30).status_code == 200


@pytest.fixture
def logged_in(studio_server: RunningStudio) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=studio_server.url, timeout=30) as client:
        assert client.post(
            "/login", data={"username": "me", "password": studio_server.key}
        ).is_success
        yield client


def test_queue_join_over_1_mb_is_413(logged_in: httpx.Client) -> None:
    big = {"data": ["x" * (DEFAULT_MAX_BODY + 1)], "fn_index": 0, "session_hash": "abc"}
    response = logged_in.post("/gradio_api/queue/join", json=big)
    assert response.status_code == 413
    assert "1 MB" in response.json()["detail"]


def test_chunked_gradio_body_over_1_mb_is_413(
    logged_in: httpx.Client, studio_server: RunningStudio
) -> None:
    cookie = "; ".join(f"{name}={value}" for name, value in logged_in.cookies.items())
    with _connect(studio_server) as sock:
        sock.sendall(_head("/gradio_api/call/generate",
                           {**JSON, "Transfer-Encoding": "chunked", "Cookie": cookie}))
        chunk = b" " * 64 * 1024
        for _ in range(17):  # 1 MB and 64 KB, never finished
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        status, _, body = _response(sock)
        assert status == 413, body
        assert b"1 MB" in body


def test_uploads_get_their_own_larger_cap(
    logged_in: httpx.Client, studio_server: RunningStudio
) -> None:
    cookie = "; ".join(f"{name}={value}" for name, value in logged_in.cookies.items())
    picture = b"\x89PNG\r\n\x1a\n" + b"\0" * (2 * MB)  # over the 1 MB of JSON routes
    response = logged_in.post("/gradio_api/upload",
                              files={"files": ("big.png", picture, "image/png")})
    assert response.status_code == 200, response.text
    with _connect(studio_server) as sock:
        sock.sendall(_head("/gradio_api/upload", {
            "Content-Type": "multipart/form-data; boundary=x", "Cookie": cookie,
            "Content-Length": str(25 * MB + MULTIPART_OVERHEAD + 1),
        }))
        status, _, body = _response(sock)
        assert status == 413, body
        assert b"25 MB" in body
