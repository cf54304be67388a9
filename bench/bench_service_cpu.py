"""CPU time per flyer of the service's stages, in process: prints figures, it is not a test.

    .venv/bin/python bench/bench_service_cpu.py             # 20 flyers a round, 4 rounds

Paints seeds 0..N-1 of bench_e2e's prompt with the offline painter (its five styles cost the
face cascades differently) and times, in CPU seconds of this process (``getrusage``: threads
included, other processes not): the painting, ``see.analyse``, the stored background (JPEG
and its decode: ``renderer.stored_background`` and ``decoded_background``) and all of
``FlyerService.generate`` (compose and the preview included). Each figure is the smallest
round: on a shared machine the other jobs only ever add. OpenCV runs as ``serve`` sets it
(``one_opencv_thread``, where this checkout has it). For an A/B, run it in two checkouts one
after the other, a few times alternating.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PROMPT = "neon saxophone, smoky club"


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flyers", type=int, default=20, help="flyers (seeds) per round")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    try:
        from pipeline.executor import one_opencv_thread
    except ImportError:
        pass
    else:
        one_opencv_thread()
    from pipeline.backends.procedural import render
    from pipeline.models import EventDetails, FlyerRequest
    from pipeline.render.see import analyse
    from pipeline.renderer import decoded_background, stored_background
    from pipeline.service import FlyerService
    from pipeline.settings import load_settings

    settings = load_settings({"API_MASTER_KEY": "bench-" + "x" * 24,
                              "FLYER_BACKEND": "procedural"}, env_file=None)
    service = FlyerService.from_settings(settings)
    details = EventDetails(title="Jazz Night", subtitle="Live quartet")
    count = args.flyers
    paintings = [render(PROMPT, seed, 456, 568) for seed in range(count)]
    service.generate(FlyerRequest(details=details, prompt=PROMPT))  # warm: fonts, layouts

    def best(step: Callable[[int], object]) -> float:
        rounds = []
        for _ in range(args.rounds):
            began = cpu()
            for seed in range(count):
                step(seed)
            rounds.append((cpu() - began) / count * 1000)
        return min(rounds)

    paint = best(lambda seed: render(PROMPT, seed, 456, 568))
    seen = best(lambda seed: analyse(paintings[seed]))
    kept = best(lambda seed: decoded_background(stored_background(paintings[seed])))
    whole = best(lambda seed: service.generate(
        FlyerRequest(details=details, prompt=PROMPT, seed=seed)))
    print(f"CPU ms per flyer (least of {args.rounds} rounds of {count}): paint {paint:.1f}  "
          f"analyse {seen:.1f}  stored background {kept:.1f}  generate {whole:.1f}  "
          f"(load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
