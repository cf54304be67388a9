"""HTTP plumbing shared by the backends that talk to a server: one request helper and the
translation, once, of every transport failure and error status into a ``BackendError``
subclass whose message says what to do and never carries a password, key or traceback."""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from ..errors import (
    BackendAuthError,
    BackendError,
    BackendResponseError,
    BackendTimeout,
    BackendUnavailable,
    QuotaExhausted,
    RateLimited,
)

__all__ = [
    "HttpServer",
    "Voice",
    "public_url",
    "retry_after",
    "scrub",
    "server_detail",
    "status_error",
    "transport_error",
]

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


def scrub(message: str, secret: str | None) -> str:
    """Belt and braces: the password or key never leaves in a message."""
    if secret:
        message = message.replace(secret, "***")
    return message


@dataclass(frozen=True)
class Voice:
    """How a backend's messages name its server and the settings that fix each problem."""

    kind: str = "Stable Diffusion server"
    auth_hint: str = "check FLYER_SD_AUTH matches the server's --api-auth user:password"
    timeout_setting: str = "FLYER_SD_READ_TIMEOUT"


def server_detail(response: httpx.Response) -> str:
    """The server's own short explanation of an error, on one line."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    parts = []
    for key in ("detail", "errors", "error", "message"):
        value = body.get(key)
        if isinstance(value, dict):
            value = value.get("message")
        if isinstance(value, str) and value.strip():
            parts.append(value.strip())
        elif isinstance(value, list) and value:
            parts.append("; ".join(str(item.get("msg", item)) if isinstance(item, dict)
                                   else str(item) for item in value))
    text = " ".join(" — ".join(parts).split())
    return text[:_DETAIL_LIMIT]


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (delta or HTTP date), when there is one."""
    raw = response.headers.get("Retry-After", "").strip()
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def transport_error(exc: httpx.HTTPError | httpx.InvalidURL, where: str, voice: Voice,
                    connect_timeout: float, read_timeout: float,
                    secret: str | None) -> BackendError:
    """The error for a request that got no HTTP answer (timeout, refused, bad URL...)."""
    if isinstance(exc, httpx.ConnectTimeout):
        return BackendUnavailable(scrub(
            f"The {voice.kind} at {where} did not accept a connection within "
            f"{connect_timeout:g} s; is it running and reachable from here?", secret
        ))
    if isinstance(exc, httpx.TimeoutException):
        return BackendTimeout(scrub(
            f"The {voice.kind} at {where} did not answer within {read_timeout:g} s; "
            f"try a smaller batch or raise {voice.timeout_setting}.", secret
        ))
    if isinstance(exc, (httpx.ConnectError, httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return BackendUnavailable(scrub(
            f"{voice.kind[0].upper()}{voice.kind[1:]} not reachable at {where}; is it running? "
            f"({type(exc).__name__})", secret
        ))
    return BackendUnavailable(scrub(
        f"The connection to the {voice.kind} at {where} failed ({type(exc).__name__}); "
        "is it running?", secret
    ))


def status_error(response: httpx.Response, where: str, voice: Voice,
                 secret: str | None) -> BackendError:
    """The error for a non-2xx answer every backend reads the same way (auth, quota, rate
    limit, out of memory, anything else with the server's own short explanation)."""
    status = response.status_code
    detail = server_detail(response)
    lowered = response.text.lower()
    if status in (401, 403):
        return BackendAuthError(scrub(
            f"The {voice.kind} at {where} refused our credentials (HTTP {status}); "
            f"{voice.auth_hint}.", secret
        ))
    if status == 402 or (status == 429 and ("quota" in lowered or "credit" in lowered)):
        return QuotaExhausted(scrub(
            f"The account at {where} has no credits or quota left (HTTP {status}); "
            "top it up or switch to another backend.", secret
        ))
    if status == 429:
        wait = retry_after(response)
        when = f"in {wait:.0f} s" if wait is not None else "in a minute"
        return RateLimited(scrub(
            f"The {voice.kind} at {where} is rate limiting us (HTTP 429); try again {when}.",
            secret,
        ), retry_after=wait)
    if status >= 500 and ("outofmemory" in lowered or "out of memory" in lowered):
        return BackendResponseError(
            f"The {voice.kind} ran out of GPU memory: try a smaller batch or size."
        )
    suffix = f": {detail}" if detail else ""
    return BackendResponseError(scrub(
        f"The {voice.kind} at {where} answered HTTP {status}{suffix}.", secret
    ))


class HttpServer:
    """One server's base URL, client, credentials and timeouts; ``request`` returns a 2xx
    response or raises the translated ``BackendError``."""

    def __init__(
        self,
        base_url: str,
        *,
        client: httpx.Client | None = None,
        voice: Voice | None = None,
        auth: httpx.Auth | None = None,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.public_url = public_url(self.base_url)
        self.client = client if client is not None else httpx.Client()
        self._owns_client = client is None
        self.voice = voice or Voice()
        self.auth = auth
        self.secret = secret or urlsplit(self.base_url).password or None
        self.headers = headers or {}
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout

    def timeout(self, read_timeout: float) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect_timeout, read=read_timeout, write=60.0,
                             pool=read_timeout)

    def close(self) -> None:
        """Close the HTTP client if this server made it (an injected one is its owner's)."""
        if self._owns_client:
            self.client.close()

    def send(self, method: str, path: str, *, read_timeout: float,
             json: Any = None, params: dict[str, str] | None = None) -> httpx.Response:
        """One HTTP call; a transport failure becomes a BackendError; any status returns."""
        if self.client.is_closed:
            raise BackendUnavailable(
                f"The connection to the {self.voice.kind} at {self.public_url} is closed: the "
                "studio is shutting down. Try again once it has restarted."
            )
        try:
            return self.client.request(
                method,
                self.base_url + path,
                json=json,
                params=params,
                headers=self.headers,
                auth=self.auth or httpx.USE_CLIENT_DEFAULT,
                timeout=self.timeout(read_timeout),
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise transport_error(exc, self.public_url, self.voice, self.connect_timeout,
                                  read_timeout, self.secret) from None

    def request(self, method: str, path: str, *, read_timeout: float,
                json: Any = None, params: dict[str, str] | None = None) -> httpx.Response:
        """``send``, and a non-2xx answer raises the common translation."""
        response = self.send(method, path, read_timeout=read_timeout, json=json, params=params)
        if response.is_success:
            return response
        raise status_error(response, self.public_url, self.voice, self.secret)
