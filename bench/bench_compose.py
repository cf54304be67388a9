"""Compose + export benchmark: prints figures (median, p90, targets), not a test.

    .venv/bin/python bench/bench_compose.py [--runs 15] [--layout NAME] [--profile]

Measures (a) compose an instagram_post flyer from a 512×640 background → JPEG preview,
(b) the same → PNG, (c) an A4 print flyer → PDF, each stage separately, and peak RSS; and
the cost of fitting words: compose with a long German compound title (hyphenated, the
language detected) beside the same flyer with the usual title, warm and with cold caches.
Before ``pipeline.render.compose`` exists it measures the export stages on a synthetic canvas.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import math
import os
import platform
import pstats
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from pipeline.export import encode, preview_jpeg
from pipeline.models import EventDetails, Flyer, FlyerSpec
from pipeline.render.formats import Format, get_format
from pipeline.render.images import load_image

__all__ = ["main"]

Compose = Callable[[Image.Image, FlyerSpec, str, Format], Flyer]

TARGETS_MS: dict[str, float] = {
    "(a) compose + JPEG preview, 1080×1350": 30,
    "(b) compose + PNG, 1080×1350": 150,
    "(c) compose + PDF, A4 print": 1500,
}

DETAILS = EventDetails(
    title="Midnight Jazz at the Old Harbour",
    subtitle="Live quartet · guest vocalist Léa Moreau",
    date="Saturday 14 June 2025",
    time="21:00 – 02:00",
    venue="Le Hangar, 12 quai de la Loire, Paris",
    metro="Jaurès",
    description=(
        "An evening of modal jazz and late-night standards in a converted harbour warehouse. "
        "Bar open all night, vinyl DJ set after the concert. Free entry before 22:00."
    ),
    url="https://example.org/midnight-jazz",
    organiser="Harbour Sounds Collective",
)


LONG_TITLE = "Donaudampfschifffahrtsgesellschaftskapitänsball"
"""47 letters, one word: fits no layout unless it is hyphenated."""


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {model}; load {load}"


def background() -> tuple[Image.Image, str]:
    """A 512×640 background from the procedural backend, or a synthetic gradient."""
    try:
        from pipeline.backends.base import PaintRequest
        from pipeline.backends.procedural import ProceduralBackend

        request = PaintRequest(prompt="neon jazz club at night", aspect=(512, 640), seed=7,
                               pixel_budget=512 * 640)
        image = ProceduralBackend().generate(request).images[0].image.convert("RGB")
        return image, "procedural"
    except ImportError:
        y = np.linspace(0, 1, 640, dtype=np.float32)[:, None, None]
        x = np.linspace(0, 1, 512, dtype=np.float32)[None, :, None]
        rgb = np.concatenate([40 + 180 * x * (1 - y), 20 + 60 * y + 0 * x, 90 + 140 * y + 0 * x], 2)
        return Image.fromarray(rgb.astype(np.uint8), "RGB"), "synthetic gradient"


def logo() -> Image.Image:
    """A 600×600 RGBA logo, round-tripped through PNG and load_image like an upload."""
    image = Image.new("RGBA", (600, 600), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((20, 20, 580, 580), fill=(240, 200, 40, 255), outline=(20, 20, 20, 255), width=24)
    draw.rectangle((200, 160, 400, 440), fill=(20, 20, 20, 230))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return load_image(buf.getvalue(), field="logo")


def find_compose() -> Compose | None:
    try:
        from pipeline.render.compose import compose
    except ImportError as exc:
        print(f"! pipeline.render.compose not importable ({exc}); export stages only\n")
        return None
    return compose


def find_analyse() -> Callable[[Image.Image], Any] | None:
    """see.analyse where this checkout has it (compose then takes its result)."""
    try:
        from pipeline.render.see import analyse
    except ImportError:
        return None
    return analyse


def _name(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("name", item))
    return item if isinstance(item, str) else str(getattr(item, "name", item))


def default_layout() -> str:
    try:
        from pipeline.render import layouts

        names = getattr(layouts, "list_layouts", None) or getattr(layouts, "layout_names", None)
        if callable(names):
            found = [_name(n) for n in names()]
            for preferred in ("centered_poster", "bottom_band"):
                if preferred in found:
                    return preferred
            if found:
                return str(found[0])
    except ImportError:
        pass
    return "centered_poster"


def synthetic(fmt: Format, bg: Image.Image) -> Flyer:
    image = bg.resize((fmt.width, fmt.height), Image.Resampling.BICUBIC)
    return Flyer(image, {"title": DETAILS.title, "synthetic": True}, "synthetic", fmt.name)


@dataclass
class Timing:
    """Wall and CPU milliseconds (the process's, every thread's) of each run."""

    wall: list[float]
    cpu: list[float]


WARM_UP = 3
"""Runs before each row's timed ones: fonts, layouts and codecs load on the first; the
allocator settles over the first few (glibc raises its mmap threshold as big blocks are freed,
after which canvases come from the heap instead of fresh, zero-filled pages), as in a
server that has made a few flyers."""


def timed(fn: Callable[[], Any], runs: int) -> Timing:
    for _ in range(WARM_UP):
        fn()
    out = Timing([], [])
    for _ in range(runs):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        out.wall.append((time.perf_counter() - start) * 1000)
        out.cpu.append((time.process_time() - cpu) * 1000)
    return out


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def report(rows: list[tuple[str, Timing]]) -> int:
    """The table: wall-clock median and p90 (judged against the targets) and the median CPU
    time of all the process's threads (what a run costs a loaded machine)."""
    misses = 0
    print(f"{'measure':46} {'median ms':>10} {'p90 ms':>9} {'CPU ms':>7} {'target':>8}  verdict")
    print("-" * 94)
    for name, timing in rows:
        values = timing.wall
        med, top = statistics.median(values), p90(values)
        target = TARGETS_MS.get(name)
        verdict, tgt = "", ""
        if target is not None:
            tgt = f"≤{target:g}"
            verdict = "PASS" if med <= target else "MISS"
            misses += verdict == "MISS"
        cpu = statistics.median(timing.cpu)
        print(f"{name:46} {med:10.1f} {top:9.1f} {cpu:7.1f} {tgt:>8}  {verdict}")
    return misses


def profile(fn: Callable[[], Any], runs: int, label: str) -> None:
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(runs):
        fn()
    prof.disable()
    print(f"\n=== cProfile: {label}, {runs} runs, top 18 by own time ===")
    stats = pstats.Stats(prof, stream=sys.stdout).strip_dirs().sort_stats("tottime")
    stats.print_stats(18)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--layout", default=None)
    parser.add_argument("--profile", action="store_true", help="cProfile compose afterwards")
    args = parser.parse_args(argv)
    runs = max(3, args.runs)

    print(f"machine: {machine()}; Python {platform.python_version()}; runs per row: {runs}")
    bg, source = background()
    compose = find_compose()
    layout = args.layout or default_layout()
    social, a4 = get_format("instagram_post"), get_format("a4")
    upload = logo()

    def spec_for(fmt: Format, details: EventDetails = DETAILS) -> FlyerSpec:
        # as FlyerService does once per request (a batch, a re-render), not per flyer
        from pipeline.render.compose import prepare_logo

        return FlyerSpec(
            details=details.validated(),
            logo=prepare_logo(upload, fmt),
            provenance={"prompt": "neon jazz club at night", "seed": 7, "backend": "bench"},
        )

    specs = {fmt.name: spec_for(fmt) for fmt in (social, a4)} if compose is not None else {}
    if compose is not None:
        long_details = replace(DETAILS, title=LONG_TITLE, subtitle="Festabend mit Musik und Tanz")
        specs["long"] = spec_for(social, long_details)
    print(f"background: {bg.width}×{bg.height} {source}; layout: {layout}\n")

    # as FlyerService does: the background is analysed once (see.analyse), when it is
    # painted, and every composition of it reuses that analysis
    seen: dict[str, Any] = {}
    analyse = find_analyse()
    if compose is not None and analyse is not None:
        seen["subject"] = analyse(bg)

    def make(fmt: Format, spec: str = "", named: str = "") -> Flyer:
        if compose is None:
            return synthetic(fmt, bg)
        return compose(bg, specs[spec or fmt.name], named or layout, fmt, **seen)

    def cold(fmt: Format, spec: str = "") -> Flyer:
        from pipeline.render.text import clear_caches

        clear_caches()  # as for new texts: fitting and rasterising from scratch
        return make(fmt, spec)

    post, page = make(social), make(a4)
    rows: list[tuple[str, Timing]] = []
    if compose is not None:
        rows += [
            (
                "(a) compose + JPEG preview, 1080×1350",
                timed(lambda: preview_jpeg(make(social)), runs),
            ),
            ("(b) compose + PNG, 1080×1350", timed(lambda: encode(make(social), "png"), runs)),
            (
                "(c) compose + PDF, A4 print",
                timed(lambda: encode(make(a4), "pdf"), max(3, runs // 3)),
            ),
            ("compose alone, 1080×1350", timed(lambda: make(social), runs)),
            ("compose alone, 1080×1350, layout auto", timed(lambda: make(social, "", "auto"),
                                                            runs)),
            ("compose alone, 1080×1350, cold text caches", timed(lambda: cold(social), runs)),
            ("compose alone, 1080×1350, long German title", timed(lambda: make(social, "long"),
                                                                 runs)),
            ("compose alone, 1080×1350, long title, cold", timed(lambda: cold(social, "long"),
                                                                runs)),
            ("compose alone, A4 (2550×3578)", timed(lambda: make(a4), max(3, runs // 3))),
            ("prepare 600×600 logo (once per request)", timed(lambda: spec_for(social), runs)),
        ]
        if analyse is not None:
            rows.append(("analyse background (once per background)",
                         timed(lambda: analyse(bg), runs)))
    rows += [
        ("preview_jpeg alone, 1080×1350", timed(lambda: preview_jpeg(post), runs)),
        ("encode PNG alone, 1080×1350", timed(lambda: encode(post, "png"), runs)),
        ("encode JPEG q90 alone, 1080×1350", timed(lambda: encode(post, "jpeg"), runs)),
        ("encode WebP q90 alone, 1080×1350", timed(lambda: encode(post, "webp"), runs)),
        ("preview_jpeg alone, A4", timed(lambda: preview_jpeg(page), runs)),
        ("encode PDF alone, A4", timed(lambda: encode(page, "pdf"), runs)),
        (
            "encode PDF + crop marks alone, A4",
            timed(lambda: encode(page, "pdf", crop_marks=True), runs),
        ),
    ]
    misses = report(rows)
    sizes = {
        "PNG": len(encode(post, "png")),
        "JPEG": len(encode(post, "jpeg")),
        "WebP": len(encode(post, "webp")),
        "preview": len(preview_jpeg(post)),
        "A4 PDF": len(encode(page, "pdf")),
    }
    print("\nsizes: " + ", ".join(f"{k} {v / 1024:.0f} KiB" for k, v in sizes.items()))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"peak RSS: {peak:.0f} MiB; load average at the end: {load} (high = noisy figures)")
    if args.profile and compose is not None:
        profile(lambda: make(social), runs, "compose 1080×1350")
        profile(lambda: make(a4), max(2, runs // 5), "compose A4")
    if compose is None:
        print("\n(end-to-end rows (a)-(c) need pipeline.render.compose)")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
