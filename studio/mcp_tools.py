"""The MCP tools (see :mod:`studio.mcp_endpoint`): generate, rerender, download and the
catalogues, over :class:`pipeline.service.FlyerService`. Imported only when FLYER_MCP is on
(the ``mcp`` package is an optional extra)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.fastmcp import FastMCP
from mcp.types import (
    BlobResourceContents,
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    TextContent,
)
from pydantic import Field

from pipeline.app_api import FlyerApp
from pipeline.errors import FlyerError
from pipeline.service import FlyerService
from pipeline.settings import Settings
from pipeline.storage import StoredFlyer

from .errors import user_message
from .jobs import Jobs

__all__ = ["INSTRUCTIONS", "add_tools"]

INSTRUCTIONS = (
    "Flyer Studio makes event flyers. Call generate with the event's title (and any of "
    "subtitle, date, time, venue, metro, description, url, organiser, a background prompt); "
    "it answers with a preview image and an id per flyer. rerender(flyer_id, layout=..., "
    "format=...) composes a stored flyer again without repainting (formats: list_formats); "
    "download(flyer_id, kind='png'|'jpeg'|'webp'|'pdf') returns the file. Flyers expire after "
    "a while: download what you keep."
)

Text = Annotated[str, Field(description="Text on the flyer (may be empty)")]


def add_tools(server: FastMCP, service: FlyerService, settings: Settings,
              app: FlyerApp | None = None) -> None:
    """Register the tools on ``server``: thin adapters over ``app`` (default: one over
    ``service``). Painting waits for a server in the backend's pool, as every door does."""
    flyers = app if app is not None else FlyerApp(service)
    jobs = Jobs(flyers)

    def failed(exc: FlyerError) -> CallToolResult:
        return CallToolResult(content=[TextContent(type="text", text=user_message(exc))],
                              isError=True)

    def described(flyers: list[StoredFlyer], note: str) -> CallToolResult:
        facts = [{"id": f.id, "layout": f.layout, "format": f.format, "width": f.width,
                  "height": f.height, "seed": f.seed, "rest_url": f"/flyer/{f.id}"}
                 for f in flyers]
        content: list[Any] = [TextContent(type="text", text=json.dumps(
            {"flyers": facts, "note": note}, ensure_ascii=False))]
        content += [ImageContent(type="image", mimeType="image/jpeg",
                                 data=base64.b64encode(service.preview(f.id)).decode("ascii"))
                    for f in flyers]
        return CallToolResult(content=content, structuredContent={"flyers": facts})

    async def in_thread(work: Callable[[threading.Event], CallToolResult]) -> CallToolResult:
        def guarded(cancel: threading.Event) -> CallToolResult:
            try:
                return work(cancel)
            except FlyerError as exc:
                return failed(exc)

        return await jobs.run(None, guarded)

    @server.tool(description="Make flyers for an event: paints a background (one painting "
                             "job for all variants) and composes the details on it. Returns a "
                             "preview image and an id per flyer.")
    async def generate(
        title: Annotated[str, Field(description="The event's name (required)")],
        subtitle: Text = "", date: Text = "", time: Text = "", venue: Text = "",
        metro: Text = "", description: Text = "",
        url: Annotated[str, Field(description="Link for the QR code (http(s), mailto:, tel:)")]
        = "",
        organiser: Text = "",
        prompt: Annotated[str, Field(description="What the background shows (no text)")] = "",
        negative_prompt: str = "",
        seed: Annotated[int, Field(description="-1: random")] = -1,
        variants: Annotated[int, Field(description="Flyers to make (1 to MAX_BATCH_SIZE)")] = 1,
        layout: Annotated[str, Field(description="auto or a name from list_layouts")] = "auto",
        format: Annotated[str, Field(description="A name from list_formats or WxH")]
        = "instagram_post",
        palette: Annotated[str, Field(description="Up to 3 hex colours: #112233,#abcdef")] = "",
        font_pairing: Annotated[str, Field(description="A name from list_pairings")]
        = "default",
    ) -> CallToolResult:
        fields = {"title": title, "subtitle": subtitle, "date": date, "time": time,
                  "venue": venue, "metro": metro, "description": description, "url": url,
                  "organiser": organiser, "prompt": prompt, "negative_prompt": negative_prompt,
                  "seed": seed, "batch_size": variants, "layout": layout, "format": format,
                  "palette": palette, "font_pairing": font_pairing}

        def work(cancel: threading.Event) -> CallToolResult:
            made = flyers.generate(fields, cancel=cancel)
            return described(made, "download(flyer_id, kind) for PNG or a print PDF; "
                                   "rerender(flyer_id, ...) for another layout or format.")

        return await in_thread(work)

    @server.tool(description="Compose a stored flyer again, reusing its background (no new "
                             "painting), in another layout, format or wording. Fields left out "
                             "keep their value.")
    async def rerender(
        flyer_id: str, layout: str | None = None, format: str | None = None,
        title: str | None = None, subtitle: str | None = None, date: str | None = None,
        time: str | None = None, venue: str | None = None, metro: str | None = None,
        description: str | None = None, url: str | None = None, organiser: str | None = None,
        palette: str | None = None, font_pairing: str | None = None,
    ) -> CallToolResult:
        changes = {"title": title, "subtitle": subtitle, "date": date, "time": time,
                   "venue": venue, "metro": metro, "description": description, "url": url,
                   "organiser": organiser, "layout": layout, "format": format,
                   "palette": palette, "font_pairing": font_pairing}

        def work(cancel: threading.Event) -> CallToolResult:
            flyer = flyers.rerender(flyer_id, changes)
            return described([flyer], "A new flyer; the original is unchanged.")

        return await in_thread(work)

    @server.tool(description="A stored flyer as a file: png, jpeg or webp (an image) or pdf "
                             "(print-ready, crop_marks for print formats).")
    async def download(flyer_id: str, kind: str = "png",
                       crop_marks: bool = False) -> CallToolResult:
        def work(cancel: threading.Event) -> CallToolResult:
            item = flyers.download(flyer_id, kind, crop_marks=crop_marks)
            data = base64.b64encode(item.data).decode("ascii")
            name = TextContent(type="text", text=json.dumps(
                {"filename": item.filename, "media_type": item.media_type,
                 "bytes": len(item.data)}))
            if item.media_type.startswith("image/"):
                return CallToolResult(content=[name, ImageContent(
                    type="image", mimeType=item.media_type, data=data)])
            resource = BlobResourceContents(uri=f"flyer://{flyer_id}/{item.filename}",  # type: ignore[arg-type]
                                            mimeType=item.media_type, blob=data)
            return CallToolResult(content=[name, EmbeddedResource(type="resource",
                                                                  resource=resource)])

        return await in_thread(work)

    @server.tool(description="The layouts ('auto' first), each with name and label.")
    def list_layouts() -> list[dict[str, Any]]:
        return flyers.layouts()

    @server.tool(description="The named formats with their sizes; custom sizes are WxH.")
    def list_formats() -> list[dict[str, Any]]:
        return flyers.formats()

    @server.tool(description="The font pairings, each with name and label.")
    def list_pairings() -> list[dict[str, Any]]:
        return flyers.pairings()
