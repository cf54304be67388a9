"""The checks every HTTP image backend's tests run against its loopback fake: a fault gives its
own message (no secret, no traceback) and the server stays usable; a closed port is "not
reachable"; a slow server times out naming FLYER_SD_READ_TIMEOUT; cancel stops waiting.

Each takes ``paint``, a function that runs one generation with the backend under test, so the
test files keep only what is particular to their protocol.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

import pytest

from pipeline.backends.base import Painting
from pipeline.errors import BackendCancelled, BackendError, BackendTimeout, BackendUnavailable
from tests.fake_http import FakeHTTPServer

__all__ = ["assert_cancel_stops_waiting", "assert_fault_then_usable", "assert_times_out",
           "assert_unreachable", "closed_port", "closed_url"]


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def closed_url() -> str:
    return f"http://127.0.0.1:{closed_port()}"


def assert_fault_then_usable(
    fake: FakeHTTPServer,
    mode: str,
    error: type[BackendError],
    words: str,
    paint: Callable[[], Painting],
    *,
    count: int,
    secret: str | None = None,
    within: float | None = None,
) -> BackendError:
    """In ``mode`` ``paint()`` raises ``error`` saying ``words`` (without ``secret`` or a
    traceback, within ``within`` s); back in ``ok`` the same server paints ``count`` images."""
    fake.mode = mode
    started = time.monotonic()
    with pytest.raises(error) as caught:
        paint()
    if within is not None:
        assert time.monotonic() - started < within
    message = str(caught.value)
    assert words in message, message
    assert "Traceback" not in message
    if secret is not None:
        assert secret not in message
    fake.mode = "ok"
    assert len(paint().images) == count
    return caught.value


def assert_unreachable(paint: Callable[[], object]) -> str:
    """``paint()`` against a closed port is BackendUnavailable "not reachable"; the message."""
    with pytest.raises(BackendUnavailable, match="not reachable") as caught:
        paint()
    assert "Traceback" not in str(caught.value)
    return str(caught.value)


def assert_times_out(paint: Callable[[], object], *, within: float) -> None:
    """``paint()`` against a slow server gives up within ``within`` s, naming the setting."""
    started = time.monotonic()
    with pytest.raises(BackendTimeout, match="FLYER_SD_READ_TIMEOUT"):
        paint()
    assert time.monotonic() - started < within


def assert_cancel_stops_waiting(paint: Callable[[threading.Event], object], *,
                                after: float = 0.3, within: float = 3.0) -> None:
    """``paint(cancel)`` on a slow server raises BackendCancelled soon after ``cancel`` is set
    from another thread ``after`` s in."""
    cancel = threading.Event()
    threading.Timer(after, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(BackendCancelled):
        paint(cancel)
    assert time.monotonic() - started < within
