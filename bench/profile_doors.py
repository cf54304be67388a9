"""Where the server's CPU goes per flyer, door by door: prints figures, it is not a test.

    .venv/bin/python bench/profile_doors.py                 # 20 s per door, 8 clients
    .venv/bin/python bench/profile_doors.py --seconds 10 --clients 4

Starts ``flyer-studio serve`` (offline painter) as ``bench_e2e.py`` does, drives one door at a
time with ``--clients`` concurrent batch-1 clients, and samples the server with py-spy
(``pip install py-spy``; it reads the process from outside, so the figures include every
thread: Gradio's event loop, its worker threads, the shared pool's deflate slices). Idle
threads are not sampled, so a sample is CPU (or a thread runnable and waiting for the GIL).

Each sample is put in a bucket by the frame nearest its leaf that a rule matches (the first
matching rule, in order from the pipeline's stages to the web stack, decides for that frame; so
Gradio's work under the studio's middleware, or the event loop under ``flyer-studio serve``'s
entry frames, is Gradio's or the loop's, not the studio's), and the buckets are printed as ms of
CPU per flyer: the server's measured CPU time (``/proc``) spread over the buckets by their share of
the samples.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_e2e import (
    SHARED_TLS,
    STOCK,
    Call,
    Load,
    client_files,
    cpu_seconds,
    gradio_door,
    rest_door,
    rest_get_door,
    studio,
    throughput,
)

BUCKETS: list[tuple[str, Callable[[str, str], bool]]] = [
    ("paint (procedural backend)", lambda fn, where: "backends/procedural" in where),
    # see.py only: render/subject.py is mostly compose's scoring of crops (resample_many,
    # covered), counted as analyse before; only the analysis's encode/decode is analyse's
    ("analyse (see)", lambda fn, where: "render/see.py" in where
     or fn in ("Subject.encode", "Subject.decode")),
    ("store: background JPEG", lambda fn, where: fn in ("stored_background",
                                                         "decoded_background")),
    ("preview JPEG", lambda fn, where: fn == "preview_jpeg"),
    ("PNG encode (export)", lambda fn, where: "pipeline/_png.py" in where),
    ("other encode (JPEG/PDF)", lambda fn, where: "pipeline/export.py" in where),
    ("compose (render)", lambda fn, where: "pipeline/render/" in where),
    ("service / store / app", lambda fn, where: "pipeline/" in where),
    ("REST handler", lambda fn, where: "studio/rest.py" in where),
    # the event loop waiting (or polling) for sockets
    ("event loop: select/epoll", lambda fn, where: "selectors.py" in where),
    ("studio adapters (write files, jobs)", lambda fn, where: "studio/" in where),
    ("Gradio: output files (move, hash, copy)",
     lambda fn, where: "gradio/processing_utils" in where or "move_files" in fn
     or "hash_" in fn or "gradio/data_classes" in where),
    ("Gradio: queue, events, SSE, JSON",
     lambda fn, where: "gradio/" in where or "gradio_client/" in where),
    ("web stack (uvicorn, starlette, h11, anyio)",
     lambda fn, where: any(name in where for name in ("uvicorn", "starlette", "fastapi", "h11",
                                                      "anyio", "httptools", "asyncio"))),
]


def _bucket(stack: str) -> tuple[str, str]:
    """(bucket, the frame that put the sample there -> the leaf frame)."""
    frames = []
    for frame in stack.split(";"):
        fn, _, where = frame.partition(" (")
        frames.append((fn.strip(), where))
    leaf = f"{frames[-1][0]} ({frames[-1][1]}"
    for fn, where in reversed(frames):  # the frame nearest the leaf that a rule knows
        for name, rule in BUCKETS:
            if rule(fn, where):
                return name, f"{fn} ({where.rsplit(':', 1)[0]}) -> {leaf}"
    return "other", leaf


Counts = tuple[collections.Counter[str], collections.Counter[tuple[str, str]]]


def profile(pid: int, seconds: float, drive: Callable[[], object], gil: bool = False) -> Counts:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "raw.txt"
        recorder = subprocess.Popen(
            [spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "97",
             "--format", "raw", "--output", str(out), "--nonblocking", "--subprocesses",
             *(["--gil"] if gil else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        drive()
        _, err = recorder.communicate(timeout=seconds + 60)
        if recorder.returncode or not out.exists():
            raise SystemExit(f"py-spy failed: {err.decode()[-800:]}")
        counts: collections.Counter[str] = collections.Counter()
        where: collections.Counter[tuple[str, str]] = collections.Counter()
        for line in out.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            if stack and n.isdigit():
                bucket, frame = _bucket(stack)
                counts[bucket] += int(n)
                where[bucket, frame] += int(n)
    return counts, where


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--detail", action="store_true",
                        help="the top frames of each bucket")
    parser.add_argument("--gil", action="store_true",
                        help="sample only the thread holding the GIL (Python CPU; native "
                             "work that drops the GIL, such as deflate, is then not seen)")
    parser.add_argument("--doors", default="",
                        help="comma-separated door names (default all): 'gradio_client "
                             "(stock)', 'gradio_client (one TLS context)', 'REST POST only', "
                             "'REST POST + GET'")
    args = parser.parse_args()
    key = "bench-" + os.urandom(12).hex()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with studio(key) as (url, pid), client_files() as saved:
        doors = {STOCK: gradio_door(url, key, downloads=saved),
                 SHARED_TLS: gradio_door(url, key, shared_tls=True, downloads=saved),
                 "REST POST only": rest_door(url, key),
                 "REST POST + GET": rest_get_door(url, key)}
        if args.doors:
            doors = {n: m for n, m in doors.items() if n in args.doors.split(",")}
        for make in doors.values():  # warm: fonts, layouts, first connections
            make()(1)
        for name, make in doors.items():
            spent = sum(cpu_seconds(pid, tree=True))
            result: list[Load] = []

            def drive(make: Callable[[], Call] = make, result: list[Load] = result) -> None:
                result.append(throughput(make, args.clients, args.seconds))

            counts, where = profile(pid, args.seconds, drive, args.gil)
            spent = sum(cpu_seconds(pid, tree=True)) - spent
            flyers = result[0].flyers
            total = sum(counts.values()) or 1
            per = spent / flyers * 1000 if flyers else float("nan")
            print(f"\n{name}: {flyers} flyers in {args.seconds:g} s, server CPU {per:.0f} "
                  f"ms/flyer ({total} samples)")
            for bucket, n in counts.most_common():
                print(f"  {bucket:<44} {per * n / total:6.1f} ms  {100 * n / total:5.1f} %")
                if args.detail:
                    top = [(f, m) for (b, f), m in where.most_common() if b == bucket][:4]
                    for frame, m in top:
                        print(f"      {per * m / total:6.1f} ms  {frame[:150]}")
            time.sleep(1)
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
