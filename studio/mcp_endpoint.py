"""An MCP endpoint for agents at ``/mcp``, behind the master key (``FLYER_MCP=true``).

Gradio's own MCP server ignores ``auth``, so the studio serves its own: the official ``mcp``
SDK's streamable HTTP transport (stateless, JSON answers) on the same FastAPI app, wrapped in
the key check the REST routes have. Every request needs the master key as ``X-API-Key`` or
``Authorization: Bearer <key>``: a locked-out address gets 429, a missing key 401, a wrong one
401 and a failed login in :class:`studio.auth.LoginThrottle` (the same counter as the login
form and REST). The session gate lets ``/mcp`` through to this check, as it does ``/flyer``.

Tools: ``generate`` (previews as images, the flyers' ids), ``rerender`` (another layout, format
or wording, no new painting), ``download`` (PNG/JPEG/WebP as an image, a print PDF as an embedded
resource), ``list_layouts``, ``list_formats``, ``list_pairings``. Their errors come back as tool
errors in the API's words. Generations wait for a server in the backend's pool like every other
door's and give up as busy after FLYER_QUEUE_MAX_WAIT (or at once when the line is full).
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.datastructures import Headers

from pipeline.app_api import FlyerApp
from pipeline.errors import ConfigError
from pipeline.service import FlyerService
from pipeline.settings import Settings

from .asgi import Receive, Scope, Send, send_json
from .auth import API_KEY_HEADER, FailureCounter, KeyChecker, lockout_message

__all__ = ["MCP_PATH", "McpEndpoint", "create_mcp_endpoint", "mcp_off"]

logger = logging.getLogger(__name__)

MCP_PATH = "/mcp"
_NEEDS_KEY = (f"Send the studio's key as {API_KEY_HEADER}: <key> or Authorization: Bearer "
              "<key>.")


def _key(headers: Headers) -> str | None:
    supplied = headers.get(API_KEY_HEADER)
    if supplied is not None:
        return supplied
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class McpEndpoint:
    """ASGI app: the key check, then the MCP transport (``handle``)."""

    def __init__(self, handle: Callable[[Scope, Receive, Send], Any], checker: KeyChecker,
                 throttle: FailureCounter) -> None:
        self.handle = handle
        self.checker = checker
        self.throttle = throttle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        address = str(client[0]) if client else "unknown"
        remaining = self.throttle.locked_for(address)
        if remaining > 0:
            logger.warning("MCP refused for %s: locked out", address)
            await send_json(send, 429, lockout_message(remaining),
                            [(b"retry-after", str(math.ceil(remaining)).encode("ascii"))])
            return
        supplied = _key(Headers(scope=scope))
        if not self.checker.matches(supplied):
            if supplied is None:
                logger.info("MCP refused for %s: no key", address)
                detail = f"Missing key. {_NEEDS_KEY}"
            else:
                logger.warning("MCP refused for %s: wrong key", address)
                if self.throttle.record_failure(address):
                    logger.warning("too many wrong keys from %s: locked out", address)
                detail = "Wrong key."
            await send_json(send, 401, detail,
                            [(b"www-authenticate", b'Bearer realm="Flyer Studio"')])
            return
        await self.handle(scope, receive, send)


class _Off:
    """``/mcp`` while FLYER_MCP is off: 404 for everyone (an ASGI app, as the endpoint is)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send_json(send, 404,
                        "The MCP endpoint is off: the operator can set FLYER_MCP=true.")


mcp_off = _Off()


def create_mcp_endpoint(
    service: FlyerService, settings: Settings, checker: KeyChecker, throttle: FailureCounter,
    app: FlyerApp | None = None,
) -> tuple[McpEndpoint, Callable[[], contextlib.AbstractAsyncContextManager[None]]]:
    """The endpoint and the context its transport must run in (the app's lifespan)."""
    try:
        from mcp.server.fastmcp import FastMCP
        from mcp.server.transport_security import TransportSecuritySettings

        from .mcp_tools import INSTRUCTIONS, add_tools
    except ImportError:
        raise ConfigError("FLYER_MCP", "the MCP endpoint needs the mcp package: pip install "
                          "'flyer-studio[mcp]'") from None

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    server = FastMCP(
        "Flyer Studio", instructions=INSTRUCTIONS, stateless_http=True, json_response=True,
        streamable_http_path=MCP_PATH, log_level="WARNING",
        # The studio's origin guard and key check stand in front; a Host allow-list would
        # refuse every real hostname.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)  # FastMCP configures the root logger; that is serve's job
    root.setLevel(level)
    add_tools(server, service, settings, app)
    server.streamable_http_app()  # creates the session manager
    manager = server.session_manager

    @contextlib.asynccontextmanager
    async def running() -> AsyncIterator[None]:
        async with manager.run():
            yield

    return McpEndpoint(manager.handle_request, checker, throttle), running
