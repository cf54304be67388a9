"""Planning cost benchmark: prints figures, it is not a test.

    .venv/bin/python bench/bench_plan.py [--runs 15] [--format instagram_post]

The CPU time (``time.process_time``, which other jobs' load disturbs far less than wall time)
of ``autolayout.rank_layouts``, the layout × placement × crop search, for ``auto`` and for one
named layout over three bench backgrounds, the median of ``--runs``. It runs against any tree
whose ``rank_layouts`` takes (background, format, subject, content, names).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from bench.bench_layout import DETAILS, load_backgrounds, machine
from pipeline.render.autolayout import rank_layouts
from pipeline.render.formats import get_format
from pipeline.render.layouts import TEXT_ROLES
from pipeline.render.see import analyse

__all__ = ["main"]

BACKGROUNDS = ("astronaut", "hubble_deep_field", "proc-neon")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--format", default="instagram_post")
    parser.add_argument("--layout", default="centered_poster")
    args = parser.parse_args(argv)
    fmt = get_format(args.format)
    details = DETAILS.validated()
    content = {r: getattr(details, r) for r in TEXT_ROLES if getattr(details, r)}
    content["qr"] = details.url
    print(f"machine: {machine()}; {fmt.name}; CPU ms, median of {args.runs}")
    for name, bg in load_backgrounds(list(BACKGROUNDS)).items():
        subject = analyse(bg)
        cells = []
        for names in (None, (args.layout,)):
            rank_layouts(bg, fmt, subject, content, names)
            runs = []
            for _ in range(args.runs):
                start = time.process_time()
                rank_layouts(bg, fmt, subject, content, names)
                runs.append((time.process_time() - start) * 1000)
            cells.append(f"{'auto' if names is None else names[0]} "
                         f"{statistics.median(runs):6.1f}")
        print(f"{name:18} " + "   ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
