"""Pool benchmark: prints figures, it is not a test.

    .venv/bin/python bench/bench_pool.py [--delay 1.0] [--jobs 6]

Three loopback AUTOMATIC1111 fakes that take ``--delay`` seconds per batch, behind one
ServerPool (one job per server at a time, least-busy dispatch):

1. the same ``--jobs`` concurrent batches on one server, then on three (about 6 s vs 2 s);
2. three servers, one killed half a batch into the run: every batch still finishes (failover).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.backends import PaintRequest, ServerPool, start_job
from pipeline.backends.automatic1111 import Automatic1111Backend
from tests.fake_sd import FakeSDServer

REQUEST = PaintRequest(prompt="jazz night", aspect=(4, 5), count=2, seed=1, pixel_budget=64 * 80)


def run(pool: ServerPool, jobs: int, kill: FakeSDServer | None = None,
        kill_after: float = 0.0) -> tuple[float, int, dict[str, int]]:
    """(seconds, batches finished, batches per server) for ``jobs`` concurrent batches."""
    started = time.monotonic()
    handles = [start_job(pool, REQUEST) for _ in range(jobs)]
    if kill is not None:
        threading.Timer(kill_after, kill.kill).start()
    served: dict[str, int] = {}
    finished = 0
    for handle in handles:
        painting = handle.result(120)
        finished += len(painting.images) == REQUEST.count
        served[painting.server or "?"] = served.get(painting.server or "?", 0) + 1
    return time.monotonic() - started, finished, served


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=1.0, help="seconds per batch")
    parser.add_argument("--jobs", type=int, default=6, help="concurrent batches")
    args = parser.parse_args()
    with ExitStack() as stack, httpx.Client() as client:
        fakes = [stack.enter_context(FakeSDServer(mode="slow", delay=args.delay))
                 for _ in range(3)]

        def pool(servers: list[FakeSDServer]) -> ServerPool:
            return ServerPool([Automatic1111Backend(f.url, client=client, poll_interval=0.1)
                               for f in servers], health_interval=0.5)

        print(f"{args.jobs} concurrent batches of {REQUEST.count}, {args.delay:g} s per batch")
        one, done_one, _ = run(pool(fakes[:1]), args.jobs)
        print(f"  1 server : {one:5.2f} s  ({done_one}/{args.jobs} finished)")
        three, done_three, served = run(pool(fakes), args.jobs)
        spread = ", ".join(str(n) for n in served.values())
        print(f"  3 servers: {three:5.2f} s  ({done_three}/{args.jobs} finished; "
              f"batches per server: {spread})  speed-up {one / three:.1f}x")
        fresh = [stack.enter_context(FakeSDServer(mode="slow", delay=args.delay))
                 for _ in range(3)]
        with pool(fresh) as failing:
            killed, done_killed, served = run(failing, args.jobs, kill=fresh[0],
                                              kill_after=args.delay / 2)
            lost = args.jobs - done_killed
            print(f"  3 servers, one killed at {args.delay / 2:g} s: {killed:5.2f} s  "
                  f"({done_killed}/{args.jobs} finished, {lost} lost; batches per server: "
                  + ", ".join(f"{n}" for n in served.values()) + ")")
            state = [("up" if s["healthy"] else "down") for s in failing.status()]
            print(f"  health after the run: {', '.join(state)}")
    return 0 if done_one == done_three == done_killed == args.jobs else 1


if __name__ == "__main__":
    raise SystemExit(main())
