"""The studio's web server: one FastAPI app holding Gradio (UI and API), the REST contract,
the MCP endpoint for agents (``/mcp``, with FLYER_MCP) and ``/healthz``, all behind the master
key.

``create_server(settings, service)`` builds the app and launches nothing; ``serve(settings)``
runs it with uvicorn (HTTPS when a certificate is configured).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

import gradio as gr
import uvicorn
from fastapi import FastAPI, Request
from starlette.routing import Mount, Route

from pipeline.app_api import FlyerApp
from pipeline.declare import summary
from pipeline.errors import ConfigError, StoreUnavailable
from pipeline.executor import one_opencv_thread, work_pool
from pipeline.health import Health
from pipeline.keys import new_key
from pipeline.service import FlyerService
from pipeline.settings import Settings

from .auth import (
    API_KEY_HEADER,
    FailureCounter,
    KeyChecker,
    LoginThrottle,
    LoginThrottleMiddleware,
)
from .bodylimit import BodyLimitMiddleware, studio_limits
from .gate import SessionGate
from .health import HealthMonitor, service_health_check
from .login_page import LoginPageScript
from .mcp_endpoint import MCP_PATH, create_mcp_endpoint, mcp_off
from .memory import HEAP, HeapPolicy
from .queue_wait import QueueClock
from .rest import create_rest_router
from .sessions import SessionMiddleware, Sessions, add_logout_routes
from .temp_space import TempSpace
from .theme import mount_options
from .ui_api import COMPOSE_CONCURRENCY
from .ui_files import SessionFiles
from .uploads import FileRouteGuard, restore_file_guard
from .web_guard import OriginGuardMiddleware, SecureTransportMiddleware, add_cors

__all__ = [
    "MAX_UPLOAD",
    "MIN_KEY_LENGTH",
    "QUEUE_POLL_SECONDS",
    "StudioServer",
    "backend_warning",
    "create_server",
    "login_hint",
    "login_throttle",
    "quiet_queue",
    "serve",
    "server_url",
    "store_warning",
    "uvicorn_config",
]

logger = logging.getLogger(__name__)

MAX_UPLOAD = "25mb"
"""Largest file Gradio accepts (logos, own backgrounds)."""

MIN_KEY_LENGTH = 16
"""Shortest master key the studio starts with."""

AUTH_MESSAGE = "User name: any name. Password: the studio's API_MASTER_KEY."
SWEEP_SECONDS = 10.0
"""How often the temporary folder's budget is enforced besides after each studio write."""


def _use_folder(app: FastAPI, blocks: gr.Blocks, folder: Path) -> None:
    """Make the mounted Blocks keep its uploads and file cache in ``folder``.

    Gradio reads ``GRADIO_TEMP_DIR`` (default ``/tmp/gradio``) when each object is built: into
    ``App.uploaded_file_dir`` (where uploads go and the only folder ``/gradio_api/file=``
    serves) and into every component's ``GRADIO_CACHE`` (where returned files are copied unless
    already inside it). Setting both per studio keeps several studios in one process apart.
    Components Gradio re-creates for an update read the global again, but files are always moved
    with the original component; the checks that only read the global are
    :func:`_share_global_with_gradio`'s business.
    """
    for block in (blocks, *blocks.blocks.values()):
        block.GRADIO_CACHE = str(folder)
    for route in app.routes:
        if isinstance(route, Mount) and getattr(route.app, "blocks", None) is blocks:
            gradio_app: Any = route.app
            gradio_app.uploaded_file_dir = str(folder)


def _share_global_with_gradio(shared: Path) -> None:
    """Point Gradio's process-global ``GRADIO_TEMP_DIR`` at the folder holding every studio's
    temporary folder.

    Some of Gradio's checks read that variable on every call and offer nothing per app: the
    files in a gallery's select event must lie under it, and so must uploads when Gradio's
    launch-time path guard is on. It is set once per process; studios in one process should share
    ``FLYER_TEMP_DIR`` (the last one built names the folder otherwise).
    """
    current = os.environ.get("GRADIO_TEMP_DIR")
    if current != str(shared):
        if current:
            logger.info("GRADIO_TEMP_DIR %s replaced by the studio's %s", current, shared)
        os.environ["GRADIO_TEMP_DIR"] = str(shared)


def _lifespan(settings: Settings, service: FlyerService, space: TempSpace,
              health: HealthMonitor,
              extra: Callable[[], contextlib.AbstractAsyncContextManager[Any]] | None = None,
              ) -> Any:
    """The studio's resources, opened at start and closed at the end, in reverse order:

    - the temporary folder (created, kept under FLYER_TEMP_MAX_BYTES, deleted with every
      session's previews and downloads);
    - the process's shared worker threads (:func:`pipeline.executor.work_pool`, held while the
      server runs and stopped when the last server in the process stops);
    - the service's backend: a server pool's health thread and every HTTP client;
    - the backend health checks every FLYER_HEALTH_INTERVAL seconds, and ``extra`` (the MCP
      endpoint's session manager).

    The settings are logged once at start, without secrets."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logger.info("Flyer Studio settings: %s", summary(settings))
        space.open()
        try:
            with contextlib.ExitStack() as resources:
                resources.enter_context(work_pool().held())
                service.open()
                resources.callback(service.close)
                tasks = [asyncio.create_task(space.enforce_every(SWEEP_SECONDS)),
                         asyncio.create_task(health.run_every())]
                try:
                    async with contextlib.AsyncExitStack() as stack:
                        if extra is not None:
                            await stack.enter_async_context(extra())
                        yield
                finally:
                    for task in tasks:
                        task.cancel()
                    for task in tasks:
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
        finally:
            space.cleanup()
            logger.info("Closed the backend and deleted the temporary folder %s", space.root)

    return lifespan


FILE_CHUNK = 1024 * 1024
"""Bytes a file response reads and sends at a time (Starlette's default is 64 KiB)."""


def big_file_chunks() -> None:
    """Serve files in 1 MiB chunks: each chunk of Starlette's ``FileResponse`` (Gradio's file
    route hands every /generate PNG, ~1.3 MB, to gradio_client through it) is a read on a
    worker thread and a send on the event loop, so its 64 KiB default made ~21 thread hops
    a flyer. Process-wide (a class attribute); a canary in tests/test_private_apis.py."""
    from starlette.responses import FileResponse

    FileResponse.chunk_size = FILE_CHUNK


def create_server(
    settings: Settings,
    service: FlyerService | None = None,
    clock: Callable[[], float] = time.monotonic,
    after_generation: Callable[[int], None] | None = None,
) -> FastAPI:
    """The whole studio as an ASGI app: nothing is started until a server runs it. ``clock``
    times login sessions (tests pass a fake one). The server owns ``service`` (made from the
    settings when not given): its lifespan opens it at start and closes it at the end.
    ``after_generation(batch_size)`` runs in the worker thread after each generation,
    whichever door asked (``serve`` gives the heap back to the system there)."""
    from .app import build_app  # the UI pulls in the most; import it when a server is built

    if not settings.api_master_key:
        raise ConfigError("API_MASTER_KEY", "the studio needs a master key to protect it")
    if len(settings.api_master_key) < MIN_KEY_LENGTH:
        raise ConfigError(
            "API_MASTER_KEY",
            f"the key is {len(settings.api_master_key)} characters; use at least "
            f"{MIN_KEY_LENGTH} (`flyer-studio keygen` writes 32 random bytes into .env)",
        )
    big_file_chunks()
    service = service if service is not None else FlyerService.from_settings(settings,
                                                                             server=True)
    # the application API every door calls (one job registry, one place after a generation)
    flyers = FlyerApp(service, after_generation)
    checker = KeyChecker(settings.api_master_key)
    throttle = login_throttle(settings)

    space = TempSpace(settings.temp_dir, settings.temp_max_bytes)
    files = SessionFiles(max_age_seconds=float(settings.store_ttl_seconds), space=space)
    health = HealthMonitor(service_health_check(service), service.backend.name,
                           settings.health_interval_seconds)
    mcp: Any = mcp_off
    mcp_running = None
    if settings.mcp_enabled:
        mcp, mcp_running = create_mcp_endpoint(service, settings, checker, throttle, flyers)

    app = FastAPI(title="Flyer Studio", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=_lifespan(settings, service, space, health, mcp_running))
    app.state.settings = settings
    app.state.temp_space = space
    app.state.service = service
    app.state.key_checker = checker
    app.state.login_throttle = throttle
    app.state.health = health
    sessions = Sessions(settings.session_idle_seconds, settings.session_max_seconds, clock)
    app.state.sessions = sessions

    @app.get("/healthz", include_in_schema=False)
    def healthz(request: Request) -> dict[str, Any]:
        """``{"status": "ok"}`` for anyone; with the right X-API-Key, also which backend,
        model and servers paint and how each is doing. A wrong key counts as a failed login
        and gets only the short answer."""
        supplied = request.headers.get(API_KEY_HEADER)
        if supplied is None:
            return {"status": "ok"}
        address = request.client.host if request.client else "unknown"
        if throttle.locked_for(address) > 0:
            return {"status": "ok"}
        if not checker.matches(supplied):
            throttle.record_failure(address)
            return {"status": "ok"}
        return {"status": "ok", **service.backend_status()}

    # Routes before the mount: Gradio, mounted at "/", answers every path not matched earlier.
    app.include_router(create_rest_router(service, settings, app=flyers))
    app.router.routes.append(Route(MCP_PATH, mcp, methods=["GET", "POST", "DELETE"]))
    add_logout_routes(app, sessions)
    # Added innermost first; a request meets them outermost first: HTTPS headers, origin
    # check, CORS, the login page's script, body limits (and the REST key check before any
    # body byte), login throttle, session expiry, the default-deny gate, the file-route guard
    # (after the gate, so strangers cannot probe which files exist).
    app.add_middleware(FileRouteGuard)
    app.add_middleware(SessionGate, app_state=app.state)
    app.add_middleware(SessionMiddleware, sessions=sessions)
    app.add_middleware(LoginThrottleMiddleware, throttle=throttle)
    app.add_middleware(QueueClock)  # when each job joined Gradio's queue (FLYER_QUEUE_MAX_WAIT)
    app.add_middleware(BodyLimitMiddleware, checker=checker, throttle=throttle,
                       limits=studio_limits(MAX_UPLOAD))
    app.add_middleware(LoginPageScript)
    add_cors(app, settings.allowed_origins)  # Gradio's own CORS middleware then defers
    app.add_middleware(OriginGuardMiddleware, allowed=settings.allowed_origins)
    app.add_middleware(SecureTransportMiddleware)

    blocks = build_app(service, settings, files, health, app=flyers)  # no queue yet
    # Painting events have no Gradio limit (the backend's server pool is their gate); the
    # default (Gradio's own is 1) is for everything else: no event serialises the UI.
    blocks.queue(max_size=settings.queue_size, default_concurrency_limit=COMPOSE_CONCURRENCY)
    quiet_queue(blocks)
    options: dict[str, Any] = {**mount_options()}  # theme and CSS
    options.update(
        auth=checker,
        auth_message=AUTH_MESSAGE,
        server_name=settings.server_name,
        server_port=settings.server_port,
        show_error=True,
        max_file_size=MAX_UPLOAD,
        mcp_server=False,  # Gradio's MCP server does not honour auth
        ssr_mode=False,
        # Gradio's own FastAPI would publish its route schema at /openapi.json to anyone
        app_kwargs={"docs_url": None, "redoc_url": None, "openapi_url": None},
    )
    app = gr.mount_gradio_app(app, blocks, path="/", **options)
    _use_folder(app, blocks, space.root)
    _share_global_with_gradio(space.shared)
    restore_file_guard(blocks)
    app.state.gradio_app = _gradio_app(app)
    sessions.attach(app.state.gradio_app)
    return app


QUEUE_POLL_SECONDS = 0.005
"""How often Gradio's queue looks for work while it has none or every worker is busy.
Gradio polls every 1 ms (50 ms on Windows): 7 % of a core on an idle studio, paid by every
door. 5 ms: at most 5 ms more before an event starts."""


def quiet_queue(blocks: gr.Blocks) -> None:
    """Stop Gradio's queue from spending CPU the studio does not use (Gradio 6.31's private
    attributes; tests/studio/test_gradio_api.py is their canary):

    * it polls for work every ``QUEUE_POLL_SECONDS`` instead of every millisecond;
    * with monitoring off (the studio never turns it on) it no longer rebuilds its analytics
      summary (a pandas DataFrame of up to 10,000 past events: ~14 ms) after every event, only
      every 10,000 events.
    """
    queue = blocks._queue
    queue.sleep_when_free = max(queue.sleep_when_free, QUEUE_POLL_SECONDS)
    if not blocks.enable_monitoring:
        queue.ANAYLTICS_CACHE_FREQUENCY = max(queue.ANAYLTICS_CACHE_FREQUENCY,
                                              queue.ANALYTICS_MAX_EVENTS)


def login_throttle(settings: Settings) -> FailureCounter:
    """The failed-login counters: in this process, or in the Redis of FLYER_STORE_URL so that a
    lockout holds on every replica."""
    limits: dict[str, Any] = {
        "max_failures": settings.login_max_failures,
        "window_s": settings.login_window_seconds,
        "lockout_s": settings.login_lockout_seconds,
        "global_max_failures": settings.login_global_max_failures,
    }
    if settings.store_url is None:
        return LoginThrottle(**limits)
    from pipeline.store_redis import redis_client, redis_location

    from .throttle_redis import RedisLoginThrottle

    return RedisLoginThrottle(redis_client(settings.store_url), prefix=settings.redis_prefix,
                              location=redis_location(settings.store_url), **limits)


def _gradio_app(app: FastAPI) -> Any:
    """The Gradio ``App`` mounted in ``app``."""
    for route in app.routes:
        if isinstance(route, Mount) and hasattr(route.app, "get_blocks"):
            return route.app
    raise RuntimeError("no Gradio app is mounted")


class StudioServer(uvicorn.Server):
    """``uvicorn.Server`` that first ends Gradio's long-lived streams (session heartbeats,
    queue streams), so that stopping does not wait out the graceful timeout for every open tab
    and ``gradio_client``."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        app = self.config.app
        for route in getattr(app, "routes", []):
            if isinstance(route, Mount) and hasattr(route.app, "get_blocks"):
                gradio_app: Any = route.app
                gradio_app.stop_event.set()  # ends /gradio_api/heartbeat streams
                gradio_app.get_blocks()._queue.close()  # ends /gradio_api/queue/data streams
        await super().shutdown(sockets)


def server_url(settings: Settings) -> str:
    """The address to open in a browser."""
    scheme = "https" if settings.ssl_certfile and settings.ssl_keyfile else "http"
    host = settings.server_name
    if host in ("0.0.0.0", "::", ""):
        host = "localhost"
    elif ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{settings.server_port}/"


def login_hint() -> str:
    return "Log in with user: any name, password: the API_MASTER_KEY."


def serve(settings: Settings, out: TextIO | None = None, heap: HeapPolicy = HEAP) -> None:
    """Run the studio until interrupted.

    Without ``API_MASTER_KEY`` a fresh key is generated for this run and printed once to
    ``out`` (stdout); it is never logged. ``heap``: the allocator's policy for this long-lived
    process (studio/memory.py; benchmarks pass others).
    """
    trimmer = heap.apply()  # first, before any thread starts
    one_opencv_thread()  # requests run side by side: see pipeline/executor.py
    out = out or sys.stdout
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    if not settings.api_master_key:
        settings = replace(settings, api_master_key=new_key())
        print(
            "No API_MASTER_KEY is configured; this run uses a generated key (shown once):\n"
            f"    {settings.api_master_key}\n"
            "For a key that lasts, run `flyer-studio keygen` (writes a fresh one into .env).",
            file=out,
            flush=True,
        )
    app = create_server(settings, after_generation=trimmer.after_generation)
    warning = backend_warning(app.state.health.refresh())
    if warning:
        print(warning, file=out, flush=True)
    warning = store_warning(app.state.service)
    if warning:
        print(warning, file=out, flush=True)
    print(f"Flyer Studio on {server_url(settings)}", file=out, flush=True)
    print(login_hint(), file=out, flush=True)
    print(
        f"REST: POST {server_url(settings)}flyer with header X-API-Key: <the key>",
        file=out,
        flush=True,
    )
    StudioServer(uvicorn_config(app, settings)).run()


def backend_warning(health: Health) -> str:
    """What ``serve`` prints at start when the backend cannot paint ("" when it can)."""
    if health.up:
        return ""
    where = f" at {health.server}" if health.server else ""
    return (f"WARNING: the image backend{where} is {health.status}: {health.problem}\n"
            "The studio starts anyway and checks again every FLYER_HEALTH_INTERVAL seconds; "
            "the header shows when it is back. Without STABLE_DIFUSION_INSTANCE the offline "
            "painter is used.")


def store_warning(service: FlyerService) -> str:
    """What ``serve`` prints at start when the shared store (FLYER_STORE_URL) cannot be
    reached ("" when it can, or when flyers are kept in this process)."""
    try:
        service.stored_count()
    except StoreUnavailable as exc:
        return (f"WARNING: {exc}\nThe studio starts anyway: until Redis answers, new flyers "
                "and downloads get 503 and logins are refused as locked out.")
    return ""


def uvicorn_config(app: Any, settings: Settings, **overrides: Any) -> uvicorn.Config:
    """How uvicorn runs the studio (``serve`` and the tests share it).

    ``X-Forwarded-For``/``-Proto`` are believed only from ``FLYER_TRUSTED_PROXIES``: with none
    listed, uvicorn's proxy handling is off (its default trusts 127.0.0.1, so any local
    process, or a proxy that appends to the header, could pick the address the login
    throttle counts)."""
    trusted = list(settings.trusted_proxies)
    options: dict[str, Any] = {
        "host": settings.server_name,
        "port": settings.server_port,
        "ssl_certfile": str(settings.ssl_certfile) if settings.ssl_certfile else None,
        "ssl_keyfile": str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or [],
        "log_level": "info",
        "timeout_graceful_shutdown": 5,
    }
    options.update(overrides)
    return uvicorn.Config(app, **options)
