"""The seed's REST contract, served next to the studio behind the same master key.

``POST /flyer`` with ``X-API-Key`` and a JSON body::

    {"prompt": "jazz night, neon", "size": [1080, 1350], "batch_size": 3,
     "details": {"title": "...", "subtitle": "...", "date": "...", "timeframe": "...",
                 "place": "...", "metro": "..."}}

answers ``{"form": <the validated body>, "flyers_uris": ["/flyer/<id>", ...]}``: ``form``
holds the contract's fields the client sent, never other keys of the body. Each
``GET /flyer/<id>`` answers the flyer as ``image/jpeg`` (as often as wanted until it expires).

Status codes: 400 batch size out of range, 403 missing or wrong key, 404 unknown or expired
flyer, 413 body over 64 KB (``studio.bodylimit`` answers it and the 403/429 before reading the
body), 422 unusable body (not JSON, wrong types, NaN or Infinity, text the pipeline refuses;
the detail names the field), 429 address locked out after failed keys, 503 ``Service
Unavailable`` (Stable Diffusion failed) or ``Service Overload`` (store full, or too many
generations already waiting for a server, or one waited longer than ``FLYER_QUEUE_MAX_WAIT``
for its turn: the backend's server pool is the one gate for every door).
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from pipeline.app_api import FlyerApp
from pipeline.catalogue import format_for_size
from pipeline.errors import FlyerError, InvalidRequest
from pipeline.service import FlyerService
from pipeline.settings import Settings

from .auth import require_api_key
from .errors import http_status

__all__ = [
    "FlyerBody",
    "FlyerDetailsBody",
    "create_rest_router",
    "format_for_size",
    "parse_flyer_body",
]

logger = logging.getLogger(__name__)


class FlyerDetailsBody(BaseModel):
    """The seed's ``details``: ``timeframe`` is the time, ``place`` the venue."""

    model_config = ConfigDict(extra="ignore")

    title: str
    subtitle: str = ""
    date: str = ""
    timeframe: str = ""
    place: str = ""
    metro: str | None = None
    description: str = ""
    url: str = ""
    organiser: str = ""


class FlyerBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    prompt: str
    size: Annotated[list[int], Field(min_length=2, max_length=2)]
    batch_size: int = 1
    details: FlyerDetailsBody


def _fields(body: FlyerBody) -> dict[str, Any]:
    """The contract's body as the application API's request fields."""
    d = body.details
    width, height = body.size
    return {"title": d.title, "subtitle": d.subtitle, "date": d.date, "time": d.timeframe,
            "venue": d.place, "metro": d.metro, "description": d.description, "url": d.url,
            "organiser": d.organiser, "prompt": body.prompt, "batch_size": body.batch_size,
            "format": format_for_size(width, height)}


def _unreadable(message: str) -> HTTPException:
    return HTTPException(
        status_code=422, detail=[{"type": "json_invalid", "loc": ["body"], "msg": message}]
    )


def parse_flyer_body(raw: bytes) -> FlyerBody:
    """The body of ``POST /flyer``, or a 422 whose ``detail`` lists ``{type, loc, msg}`` per
    problem (FastAPI's shape).

    Parsed here rather than by FastAPI because FastAPI's 422 echoes each offending ``input``:
    a NaN or a lone surrogate there makes the error answer itself fail with a 500.
    """
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise _unreadable(f"The body is not JSON: {exc.msg} at character {exc.pos}.") from None
    except (ValueError, RecursionError):  # not UTF-8, a number too long, nested too deeply
        raise _unreadable("The body is not JSON this service reads (UTF-8, not deeply nested, "
                          "numbers of at most a few thousand digits).") from None
    try:
        return FlyerBody.model_validate(data)
    except ValidationError as exc:
        detail = [
            {"type": e["type"], "loc": ["body", *e["loc"]], "msg": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False, include_context=False)
        ]
        raise HTTPException(status_code=422, detail=detail) from None


def _fail(exc: FlyerError, what: str) -> HTTPException:
    status, detail = http_status(exc)
    log = logger.warning if status >= 500 else logger.info
    log("REST %s failed (%d %s): %s", what, status, type(exc).__name__, exc)
    return HTTPException(status_code=status, detail=detail)


def create_rest_router(
    service: FlyerService, settings: Settings, *, app: FlyerApp | None = None
) -> APIRouter:
    """The ``/flyer`` routes over ``app`` (default: one over ``service``); every route requires
    ``X-API-Key``.

    No gate of its own: a generation waits for a server in the backend's pool like every other
    door's (a bounded line, at most ``FLYER_QUEUE_MAX_WAIT``), else 503 ``Service Overload``.
    """
    router = APIRouter(dependencies=[Depends(require_api_key)], tags=["flyer"])
    flyers = app if app is not None else FlyerApp(service)

    def generate(fields: dict[str, Any]) -> list[str]:
        return [flyer.id for flyer in flyers.generate(fields)]

    @router.post("/flyer")
    async def post_flyer(request: Request) -> dict[str, Any]:
        body = parse_flyer_body(await request.body())
        try:
            flyers.check_batch_size(body.batch_size)
        except InvalidRequest as exc:  # the contract's 400, in the rule's own words
            raise HTTPException(status_code=400, detail=f"batch_size: {exc}") from None
        try:
            ids = await run_in_threadpool(generate, _fields(body))
        except FlyerError as exc:
            raise _fail(exc, "POST /flyer") from None
        logger.info("REST POST /flyer: %d flyer(s)", len(ids))
        form = body.model_dump(mode="json", exclude_unset=True)  # the contract's fields only
        return {"form": form, "flyers_uris": [f"/flyer/{i}" for i in ids]}

    @router.get("/flyer/{flyer_id}", response_class=Response)
    async def get_flyer(flyer_id: str) -> Response:
        try:
            download = await run_in_threadpool(flyers.download, flyer_id, "jpeg")
        except FlyerError as exc:
            raise _fail(exc, "GET /flyer/{id}") from None
        return Response(
            content=download.data,
            media_type="image/jpeg",
            headers={
                "Content-Disposition": f'inline; filename="{download.filename}"',
                "Cache-Control": "private, no-store",
            },
        )

    return router
