"""``flyer-studio``: serve the studio, render flyers (one event or a sheet of them) from a
script, or write a fresh key."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.catalogue import format_names, layout_names, pairing_names
from pipeline.errors import FlyerError
from pipeline.keys import write_key
from pipeline.settings import load_settings
from pipeline.sheets import SHEET_FIELDS

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flyer-studio", description="Event flyers: Stable Diffusion paints, Pillow composes."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the studio (UI, Gradio API, REST)")
    serve.add_argument("--host", help="address to listen on (default GRADIO_SERVER_NAME)")
    serve.add_argument("--port", type=int, help="port (default GRADIO_SERVER_PORT or 7860)")
    serve.add_argument("--heap", metavar="SPEC",
                       help="glibc allocator policy, for benchmarks (default: the studio's, "
                       "see studio/memory.py): e.g. 'mmap=131072,arenas=2,trim_every=1', "
                       "'' for glibc's defaults")

    keygen = sub.add_parser("keygen", help="write a fresh API_MASTER_KEY into .env")
    keygen.add_argument("--env-file", default=".env", help="file to update (default .env)")

    render = sub.add_parser("render", help="render flyers to files with the configured backend")
    render.add_argument("--title", required=True)
    for name in ("subtitle", "date", "time", "venue", "metro", "description", "organiser"):
        render.add_argument(f"--{name}", default="")
    render.add_argument("--url", default="", help="link for the QR code")
    render.add_argument("--prompt", default="")
    render.add_argument("--negative-prompt", default="")
    render.add_argument("--seed", type=int, default=-1)
    render.add_argument("--batch", type=int, default=1)
    render.add_argument("--layout", default="auto", metavar="LAYOUT",
                        help=f"auto (default) or one of: {', '.join(layout_names())}")
    render.add_argument("--format", default="instagram_post", metavar="FORMAT",
                        help=f"one of: {', '.join(format_names())} (default instagram_post), "
                        "or a custom size like 1200x628")
    render.add_argument("--background", type=Path, help="use this image instead of painting one")
    render.add_argument("--logo", type=Path, help="organiser logo")
    render.add_argument("--palette", default="", help="up to 3 brand colours: #112233,#abcdef")
    render.add_argument("--font", default="default", metavar="PAIRING",
                        help="font pairing: " + ", ".join(pairing_names()))
    render.add_argument("--crop-marks", action="store_true", help="crop marks on print PDFs")
    render.add_argument("--out", type=Path, required=True, help="output folder")
    _many_parser(sub)
    return parser


def _many_parser(sub: Any) -> None:
    many = sub.add_parser(
        "render-many", help="flyers for every event of a CSV or XLSX sheet",
        description="One folder per event (PNG, PDF for print formats, JSON manifest), a "
        "contact sheet and report.json in --out. Columns: " + ", ".join(SHEET_FIELDS) + ". "
        "Exit status 0 when every row was made, 3 when some rows have problems (listed on "
        "stderr with their row numbers), 2 when nothing could be made.",
    )
    many.add_argument("sheet", type=Path, help="the events: .csv or .xlsx, one row per event")
    many.add_argument("--out", type=Path, help="output folder (required unless --template)")
    many.add_argument("--template", action="store_true",
                      help="write an example sheet to SHEET instead (then fill it in)")
    many.add_argument("--variants", type=int, default=1, help="flyers per event (default 1)")
    many.add_argument("--layout", default="auto", metavar="LAYOUT",
                      help=f"auto (default) or one of: {', '.join(layout_names())}")
    many.add_argument("--format", default="instagram_post", metavar="FORMAT",
                      help=f"one of: {', '.join(format_names())} (default instagram_post), "
                      "or a custom size like 1200x628")
    many.add_argument("--font", default="default", metavar="PAIRING",
                      help="font pairing: " + ", ".join(pairing_names()))
    many.add_argument("--palette", default="", help="up to 3 brand colours: #112233,#abcdef")
    many.add_argument("--logo", type=Path, help="organiser logo on every flyer")
    many.add_argument("--seed", type=int, default=-1)
    many.add_argument("--crop-marks", action="store_true", help="crop marks on print PDFs")


def _read(path: Path | None, what: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SystemExit(f"flyer-studio: cannot read {what} {str(path)!r}: {exc.strerror}") from exc


_RENDER_FIELDS = {"title": "title", "subtitle": "subtitle", "date": "date", "time": "time",
                  "venue": "venue", "metro": "metro", "description": "description",
                  "url": "url", "organiser": "organiser", "prompt": "prompt",
                  "negative_prompt": "negative_prompt", "seed": "seed", "batch_size": "batch",
                  "layout": "layout", "format": "format", "palette": "palette",
                  "font_pairing": "font"}
"""Request field -> the ``render`` option's attribute."""


def _render(args: argparse.Namespace) -> int:
    from pipeline.app_api import FlyerApp
    from pipeline.service import FlyerService

    with FlyerService.from_settings(load_settings()) as service:
        app = FlyerApp(service)
        fields = {name: getattr(args, option) for name, option in _RENDER_FIELDS.items()}
        flyers = app.generate(fields, logo=_read(args.logo, "logo"),
                              background=_read(args.background, "background"),
                              encodings=("png",))  # what it writes (no preview)
        _write_flyers(app, flyers, args)
    return 0


def _write_flyers(app: Any, flyers: list[Any], args: argparse.Namespace) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    for number, flyer in enumerate(flyers, start=1):
        stem = args.out / f"flyer-{number}"
        stem.with_suffix(".png").write_bytes(app.download(flyer.id, "png").data)
        if flyer.manifest.get("format", {}).get("print"):
            pdf = app.download(flyer.id, "pdf", crop_marks=args.crop_marks)
            stem.with_suffix(".pdf").write_bytes(pdf.data)
        stem.with_suffix(".json").write_text(
            json.dumps(flyer.manifest, indent=2, ensure_ascii=False), encoding="utf-8"
        )
        print(f"{stem}.png  layout={flyer.layout} seed={flyer.seed}")


def _render_many(args: argparse.Namespace) -> int:
    from pipeline.season import FolderSink, SeasonOptions
    from pipeline.service import FlyerService
    from pipeline.sheets import read_sheet, template_csv

    if args.template:
        args.sheet.write_bytes(template_csv())
        print(f"Wrote an example sheet to {args.sheet}; one row per event, then run "
              f"flyer-studio render-many {args.sheet} --out flyers/")
        return 0
    if args.out is None:
        raise SystemExit("flyer-studio render-many: --out DIR is required")
    data = _read(args.sheet, "sheet")
    assert data is not None
    sheet = read_sheet(data)
    service = FlyerService.from_settings(load_settings())
    options = SeasonOptions(
        layout=args.layout, format=args.format, variants=args.variants,
        font_pairing=args.font, palette=args.palette, logo=_read(args.logo, "logo"),
        seed=args.seed, crop_marks=args.crop_marks,
    )
    args.out.mkdir(parents=True, exist_ok=True)

    def progress(fraction: float, message: str) -> None:
        if sys.stderr.isatty():
            print(f"\r{fraction:4.0%} {message[:70]:<70}", end="", file=sys.stderr, flush=True)

    result = service.generate_many(sheet.rows, options, FolderSink(args.out), progress)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    for event in sorted(result.made, key=lambda e: e.row):
        count = len(event.layouts)
        print(f"row {event.row}: {args.out / event.folder}/  ({count} "
              f"flyer{'' if count == 1 else 's'})")
    for problem in sorted(result.problems, key=lambda p: p.row):
        print(f"row {problem.row}: {problem.message}", file=sys.stderr)
    if sheet.ignored:
        print(f"columns not used: {', '.join(sheet.ignored)}", file=sys.stderr)
    print(f"{len(result.made)} of {result.rows} events, {result.flyers} flyers, "
          f"{result.backend_calls} painting calls, {result.seconds:.1f} s; contact sheet: "
          f"{args.out / 'contact-sheet.jpg'}")
    if not result.made:
        return 2
    return 3 if result.problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "keygen":
            write_key(args.env_file)
            print(f"Wrote a new API_MASTER_KEY to {args.env_file} (other lines kept).")
            return 0
        if args.command == "render":
            return _render(args)
        if args.command == "render-many":
            return _render_many(args)
        from studio.server import serve

        settings = load_settings()
        if args.host or args.port:
            from dataclasses import replace

            settings = replace(
                settings,
                server_name=args.host or settings.server_name,
                server_port=args.port or settings.server_port,
            )
        if args.heap is None:
            serve(settings)
        else:
            from studio.memory import HeapPolicy

            try:
                heap = HeapPolicy.parse(args.heap)
            except ValueError as exc:
                raise SystemExit(f"flyer-studio serve --heap: {exc}") from None
            serve(settings, heap=heap)
        return 0
    except FlyerError as exc:
        print(f"flyer-studio: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
