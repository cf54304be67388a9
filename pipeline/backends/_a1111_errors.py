"""Failures of an AUTOMATIC1111-compatible server, translated once into ``BackendError``
subclasses whose messages say what to do and never carry the password or a traceback."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import httpx

from ..errors import (
    BackendAuthError,
    BackendError,
    BackendResponseError,
    BackendTimeout,
    BackendUnavailable,
)

__all__ = ["public_url", "scrub", "status_error", "transport_error"]

_DETAIL_LIMIT = 200


def public_url(url: str) -> str:
    """``url`` without any user:password part, safe to show."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def scrub(message: str, password: str | None) -> str:
    """Belt and braces: the password never leaves in a message."""
    if password:
        message = message.replace(password, "***")
    return message


def _detail(response: httpx.Response) -> str:
    """The server's own short explanation of an error, on one line."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    parts = []
    for key in ("detail", "errors", "error"):
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            parts.append(value.strip())
        elif isinstance(value, list) and value:
            parts.append("; ".join(str(item.get("msg", item)) if isinstance(item, dict)
                                   else str(item) for item in value))
    text = " ".join(" — ".join(parts).split())
    return text[:_DETAIL_LIMIT]


def transport_error(exc: httpx.HTTPError | httpx.InvalidURL, where: str,
                    connect_timeout: float, read_timeout: float,
                    password: str | None) -> BackendError:
    """The error for a request that got no HTTP answer (timeout, refused, bad URL...)."""
    if isinstance(exc, httpx.ConnectTimeout):
        return BackendTimeout(scrub(
            f"The Stable Diffusion server at {where} did not accept a connection within "
            f"{connect_timeout:g} s; is it running and reachable from here?", password
        ))
    if isinstance(exc, httpx.TimeoutException):
        return BackendTimeout(scrub(
            f"The Stable Diffusion server at {where} did not answer within "
            f"{read_timeout:g} s; try a smaller batch or raise FLYER_SD_READ_TIMEOUT.", password
        ))
    if isinstance(exc, (httpx.ConnectError, httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return BackendUnavailable(scrub(
            f"Stable Diffusion server not reachable at {where}; is it running? "
            f"({type(exc).__name__})", password
        ))
    return BackendUnavailable(scrub(
        f"The connection to the Stable Diffusion server at {where} failed "
        f"({type(exc).__name__}); is it running?", password
    ))


def status_error(response: httpx.Response, path: str, where: str,
                 password: str | None) -> BackendError:
    """The error for a non-2xx answer to ``path`` from the server at ``where``."""
    status = response.status_code
    detail = _detail(response)
    if status in (401, 403):
        return BackendAuthError(scrub(
            f"The Stable Diffusion server at {where} refused our credentials (HTTP {status}); "
            "check FLYER_SD_AUTH matches the server's --api-auth user:password.", password
        ))
    if status == 404 and path.startswith("/sdapi") and detail in ("", "Not Found"):
        return BackendUnavailable(scrub(
            f"The server at {where} has no Stable Diffusion API (HTTP 404 on {path}); "
            "start it with --api.", password
        ))
    if status >= 500 and "OutOfMemoryError" in response.text:
        return BackendResponseError(
            "The Stable Diffusion server ran out of GPU memory: try a smaller batch or size."
        )
    suffix = f": {detail}" if detail else ""
    return BackendResponseError(scrub(
        f"The Stable Diffusion server at {where} answered HTTP {status}{suffix}.", password
    ))
