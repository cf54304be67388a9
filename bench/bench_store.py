"""Memory of a full store: RSS after storing N flyers (3,000 by default, MAX_IN_MEMORY's
default), offline generator, default format (instagram_post), batches of 5.

Two doors, each in a fresh process so that one does not pay for the other:

- ``service``: ``FlyerService.generate`` called directly.
- ``gradio``: the whole studio (``flyer-studio serve``) on a loopback port, driven through
  gradio_client's ``/generate`` (which also hands back each flyer as a PNG download); the
  RSS is the server's, and the target is judged on the PSS of the server with its composing
  processes (the fork server and its workers, ``pipeline/renderer.py``).

Prints the RSS after start-up (one batch made, so fonts, layouts and codecs are loaded), every
500 flyers and at the end, with the store's own byte counts when the door can see them. The
store's byte budget is raised for the run (``FLYER_STORE_MAX_BYTES``) so that a tree whose
flyers cost more still stores all N and shows what they cost.

    PYTHONPATH=$PWD .venv/bin/python bench/bench_store.py [--flyers 3000] [--door both]

To measure an older tree, put it first on ``PYTHONPATH`` (the bench reads nothing but
``FlyerService.generate``/``from_settings`` and the studio's ``/generate``).
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BATCH = 5
REPORT_EVERY = 500
LIMIT = 0.6e9  # the target: 3,000 stored flyers in at most 600 MB
TITLES = ("Midnight Jazz at the Old Harbour", "Poetry Slam Finals", "Open Air Cinema: Casablanca",
          "Techno Bunker", "Summer Solstice Street Festival", "Harbour Lights Choir",
          "Vinyl & Vermouth", "Donaudampfschifffahrtsgesellschaftskapitänsball",
          "Night Market of Small Presses", "Brass Band Battle")
"""``--texts varied``: each batch its own title (and number), as a studio in use sees them:
fitting new words visits new font sizes (pipeline/render/fonts.py, FONT_CACHE)."""


def texts(seed: int, varied: bool) -> dict[str, str]:
    """The title and subtitle of the batch starting at ``seed``."""
    if not varied:
        return {"title": "Jazz Night", "subtitle": "Live quartet"}
    batch = seed // BATCH
    return {"title": f"{TITLES[batch % len(TITLES)]} No. {batch % 97}",
            "subtitle": f"Season {2020 + batch % 7} · {'live ' * (1 + batch % 3)}music"}


def rss_mb(pid: int | str = "self") -> tuple[float, float]:
    """(current, peak) resident set size of ``pid`` in MB (10^6 bytes), from /proc."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) * 1024 / 1e6
    return fields["VmRSS"], fields["VmHWM"]


def tree_mb(pid: int | str = "self") -> tuple[float, int]:
    """(memory in MB, processes) of ``pid`` and its descendants (the composing processes and
    their fork server): the sum of their proportional set sizes (PSS: a page shared by k
    processes counts 1/k in each), so pages shared by forked workers count once."""
    total, count = 0, 0
    for one in process_tree(os.getpid() if pid == "self" else int(pid)):
        try:
            lines = Path(f"/proc/{one}/smaps_rollup").read_text().splitlines()
        except OSError:  # ended meanwhile
            continue
        for line in lines:
            if line.startswith("Pss:"):
                total += int(line.split()[1]) * 1024
                count += 1
    return total / 1e6, count


def process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants."""
    found, todo = [], [pid]
    while todo:
        one = todo.pop()
        found.append(one)
        for task in Path(f"/proc/{one}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:  # ended meanwhile
                continue
    return found


def environment(flyers: int, key: str, port: int, temp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "API_MASTER_KEY": key,
        "FLYER_BACKEND": "procedural",
        "MAX_IN_MEMORY": str(flyers),
        "FLYER_STORE_MAX_BYTES": str(8 * 1024**3),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "FLYER_LOGIN_MAX_FAILURES": "1000",
        "FLYER_TEMP_DIR": str(temp),
        "GRADIO_ANALYTICS_ENABLED": "False",
    })
    return env


def cpu_ms(pid: int | str = "self") -> tuple[float, float]:
    """(user, system) CPU time of ``pid`` so far in ms, every thread, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) * 1000 / tick, int(fields[12]) * 1000 / tick


def report(label: str, made: int, rss: float, peak: float, base: float,
           extra: str = "") -> None:
    per = (rss - base) * 1000 / made if made else 0.0
    print(f"  {label:8s} {made:5d} flyers  RSS {rss:7.1f} MB (peak {peak:7.1f})  "
          f"+{per:6.1f} KB/flyer over start{extra}", flush=True)


def fill(label: str, flyers: int, make: Callable[[int], int],
         rss: Callable[[], tuple[float, float]], store: Callable[[], str],
         every: int = REPORT_EVERY, cpu: Callable[[], tuple[float, float]] = cpu_ms,
         tree: Callable[[], tuple[float, int]] = tree_mb) -> None:
    """Call ``make(seed)`` (stores a batch, returns how many) until ``flyers`` are stored.
    The target is judged on ``tree``: the process's memory with its composing processes'."""
    made = first = make(0)  # warm-up batch: fonts, layouts, codecs
    base, _ = rss()
    user, system = cpu()
    print(f"  {label:8s} start: RSS {base:7.1f} MB after the first {made} flyers", flush=True)
    started = time.perf_counter()
    while made < flyers:
        made += make(made)
        if made % every == 0 or made >= flyers:
            now, peak = rss()
            rate = (made - first) / (time.perf_counter() - started)
            together, count = tree()
            report(label, made, now, peak, base, f"  {rate:4.1f} flyers/s{store()}  "
                   f"{count} processes: PSS {together:6.1f} MB")
    now, _ = rss()
    together, count = tree()
    user, system = (after - before for after, before in zip(cpu(), (user, system), strict=True))
    print(f"  {label:8s} CPU per flyer after the first batch: user {user / (made - first):5.1f}"
          f" ms, system {system / (made - first):5.1f} ms (the {label} process; its composing "
          "processes' not counted)", flush=True)
    verdict = "within" if together * 1e6 <= LIMIT else "OVER"
    print(f"  {label:8s} {made} flyers stored: RSS {now:.1f} MB; with its composing "
          f"processes ({count} in all) PSS {together:.1f} MB, {verdict} the "
          f"{LIMIT / 1e6:.0f} MB target", flush=True)


def child_service(flyers: int, every: int, heap: str | None, varied: bool = False) -> None:
    from pipeline.models import EventDetails, FlyerRequest
    from pipeline.service import FlyerService
    from pipeline.settings import load_settings

    after_generation = heap_policy(heap)
    service = FlyerService.from_settings(load_settings(dict(os.environ), env_file=None))

    def make(seed: int) -> int:
        details = EventDetails(**texts(seed, varied), date="Fri 12 Dec", time="20:00",
                               venue="Blue Room", url="https://example.org/jazz")
        request = FlyerRequest(details=details, prompt="neon jazz club", seed=seed,
                               batch_size=BATCH)
        made = len(service.generate(request))
        after_generation(BATCH)
        return made

    def store() -> str:
        held = service.store
        nbytes = held.nbytes
        flyers_bytes = nbytes(service.now()) if callable(nbytes) else nbytes  # older trees
        cache = getattr(held, "encoded_nbytes", None)
        text = f"  store {flyers_bytes / 1e6:6.1f} MB"
        return text + (f" + encodings {cache / 1e6:5.1f} MB" if cache is not None else "")

    fill("service", flyers, make, rss_mb, store, every)


def heap_policy(spec: str | None) -> Callable[[int], None]:
    """Apply ``--heap`` to this process; what to call after each generation."""
    if spec is None:
        return lambda flyers: None
    from studio.memory import HeapPolicy

    return HeapPolicy.parse(spec).apply().after_generation


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_gradio(flyers: int, temp: Path, every: int, clients: int, heap: str | None,
               varied: bool = False) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client

    key, port = "bench-" + secrets.token_urlsafe(24), free_port()
    log = temp.parent / f"{temp.name}-server.log"  # a file: an unread pipe would fill and stall
    with log.open("w") as sink:
        heaps = [] if heap is None else ["--heap", heap]  # an older tree: the studio's own
        server = subprocess.Popen([sys.executable, "-m", "studio.cli", "serve", *heaps],
                                  env=environment(flyers, key, port, temp),
                                  stdout=subprocess.DEVNULL, stderr=sink)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        client: Client | None = None
        others: list[Client] = []
        while client is None:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the studio did not start: {log.read_text()[-2000:]}")
            try:
                client = Client(url, auth=("bench", key), verbose=False, download_files=False)
            except Exception:  # not listening yet
                time.sleep(0.5)

        others = [Client(url, auth=("bench", key), verbose=False, download_files=False)
                  for _ in range(clients - 1)]

        def one(user: Client, seed: int) -> int:
            files: Any
            files, _manifests = user.predict(**texts(seed, varied),
                                             date="Fri 12 Dec", time="20:00",
                                             venue="Blue Room", url="https://example.org/jazz",
                                             prompt="neon jazz club", seed=seed,
                                             batch_size=BATCH, api_name="/generate")
            return len(files)

        users = [client, *others]
        with ThreadPoolExecutor(max_workers=len(users)) as pool:

            def make(seed: int) -> int:  # one batch per client, at the same time
                jobs = [pool.submit(one, user, seed + i * BATCH) for i, user in enumerate(users)]
                return sum(job.result() for job in jobs)

            fill("gradio", flyers, make, lambda: rss_mb(server.pid), lambda: "", every,
                 lambda: cpu_ms(server.pid), lambda: tree_mb(server.pid))
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flyers", type=int, default=3000)
    parser.add_argument("--door", choices=("service", "gradio", "both"), default="both")
    parser.add_argument("--every", type=int, default=REPORT_EVERY,
                        help=f"print the RSS every this many flyers (default {REPORT_EVERY})")
    parser.add_argument("--clients", type=int, default=1,
                        help="gradio door: gradio_client clients asking at once (default 1)")
    parser.add_argument("--heap", metavar="SPEC",
                        help="the allocator's policy instead of the studio's own, as "
                             "studio.memory.HeapPolicy.parse reads it, e.g. "
                             "'mmap=131072,arenas=2,trim_every=1' ('' for glibc's defaults); "
                             "the service door applies it too (without it: glibc's defaults)")
    parser.add_argument("--texts", choices=("same", "varied"), default="same",
                        help="every flyer 'Jazz Night' (default), or each batch its own title")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flyers < 2 * BATCH or args.flyers % BATCH:
        parser.error(f"--flyers: a multiple of {BATCH}, at least {2 * BATCH}")
    if not 1 <= args.clients <= 8:
        parser.error("--clients: 1 to 8")
    step = BATCH * args.clients
    if args.every <= 0 or args.every % step or args.flyers % step:
        parser.error(f"--every and --flyers: multiples of {step} (batches of {BATCH} times "
                     "the clients)")
    if args.child:
        child_service(args.flyers, args.every, args.heap, args.texts == "varied")
        return
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-store-") as folder:
        temp = Path(folder)
        policy = "the studio's" if args.heap is None else repr(args.heap)
        print(f"{args.flyers} flyers, batches of {BATCH}, offline generator, instagram_post; "
              f"heap policy {policy}; texts {args.texts}; "
              f"load average {os.getloadavg()[0]:.2f} at the start", flush=True)
        if args.door in ("service", "both"):
            env = environment(args.flyers, "bench-" + secrets.token_urlsafe(24), free_port(), temp)
            subprocess.run([sys.executable, __file__, "--child", "--door", "service",
                            "--flyers", str(args.flyers), "--every", str(args.every),
                            "--texts", args.texts,
                            *([] if args.heap is None else ["--heap", args.heap])],
                           env=env, check=True)
        if args.door in ("gradio", "both"):
            run_gradio(args.flyers, temp, args.every, args.clients, args.heap,
                       args.texts == "varied")
        print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
