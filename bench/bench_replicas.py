"""Replicas benchmark: prints figures, it is not a test.

    .venv/bin/python bench/bench_replicas.py [--seconds 30] [--clients 8] [--sd-delay 1.0]

One real redis-server, 1 then 2 studio replicas (``flyer-studio serve`` processes sharing it
through FLYER_STORE_URL) and nginx in front with deploy/nginx.conf, all on loopback. For each
row ``--clients`` threads send ``POST /flyer`` (batch of one) to nginx for ``--seconds``:
flyers made per second, median and 95th percentile latency, errors (anything but 200).

Rows: the offline generator (painting and composing on this machine's CPUs), then a pool of
``--sd-servers`` fake AUTOMATIC1111 servers (tests/fake_sd.py) that paint one batch at a time
in ``--sd-delay`` seconds each, as a GPU does: where the bottleneck moves when painting is
elsewhere. Needs redis-server and nginx (apt-get install redis-server nginx).
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fake_sd import FakeSDServer
from tests.local_servers import run_nginx, run_redis, run_replicas

BODY = {
    "prompt": "jazz night, neon",
    "size": [1080, 1350],
    "batch_size": 1,
    "details": {"title": "Jazz on the roof", "date": "12 June", "timeframe": "21:00",
                "place": "Le Duc des Lombards"},
}


class OneJobAtATimeSD(FakeSDServer):
    """A fake AUTOMATIC1111 that, like the real one on its GPU, paints one batch at a time:
    a second request waits for the first."""

    def __init__(self, delay: float) -> None:
        super().__init__(mode="slow", delay=delay)
        self._gpu = threading.Lock()

    def run_slow_job(self) -> None:
        with self._gpu:
            super().run_slow_job()


@dataclass
class Row:
    label: str
    replicas: int
    seconds: float
    latencies: list[float]
    errors: dict[str, int]

    @property
    def made(self) -> int:
        return len(self.latencies)

    def line(self) -> str:
        lat = sorted(self.latencies) or [float("nan")]
        p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))]
        errors = sum(self.errors.values())
        kinds = ", ".join(f"{k}: {v}" for k, v in sorted(self.errors.items()))
        return (f"  {self.label:<28} {self.replicas:>8} {self.made:>7} "
                f"{self.made / self.seconds:>9.2f} {statistics.median(lat):>7.2f} {p95:>7.2f} "
                f"{errors:>7}" + (f"  ({kinds})" if kinds else ""))


def load(url: str, key: str, clients: int,
         seconds: float) -> tuple[float, list[float], dict[str, int]]:
    """(wall seconds until the last answer, latencies of the flyers made, errors by kind)."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    started_all = time.monotonic()
    deadline = started_all + seconds

    def client() -> None:
        with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=120) as http:
            while time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    response = http.post("/flyer", json=BODY)
                    outcome = "ok" if response.status_code == 200 else str(response.status_code)
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                took = time.monotonic() - started
                with lock:
                    if outcome == "ok":
                        latencies.append(took)
                    else:
                        errors[outcome] = errors.get(outcome, 0) + 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.monotonic() - started_all, latencies, errors


@contextmanager
def cluster(folder: Path, redis_url: str, replicas: int, env: dict[str, str]) -> Iterator[str]:
    settings = {
        "API_MASTER_KEY": KEY,
        "FLYER_STORE_URL": redis_url,
        "FLYER_REDIS_PREFIX": "bench-" + secrets.token_hex(4),
        "MAX_IN_MEMORY": "100000",
        "FLYER_STORE_MAX_BYTES": str(8 * 1024**3),
        "FLYER_QUEUE_SIZE": "64",
        **env,
    }
    with run_replicas(folder, replicas, settings) as running, run_nginx(
        folder / "nginx", [f"127.0.0.1:{r.port}" for r in running]
    ) as nginx:
        for replica in running:  # warm up: imports, fonts, layouts, first connections
            for _ in range(2):
                httpx.post(replica.url + "/flyer", json=BODY, headers={"X-API-Key": KEY},
                           timeout=120).raise_for_status()
        yield nginx.url


KEY = "bench-" + secrets.token_urlsafe(24)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--sd-servers", type=int, default=2)
    parser.add_argument("--sd-delay", type=float, default=1.0, help="seconds per batch")
    parser.add_argument("--replicas", default="1,2", help="replica counts to compare")
    args = parser.parse_args()
    counts = [int(n) for n in args.replicas.split(",")]

    print(f"machine: {os.cpu_count()} CPUs; load average before: "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{args.clients} clients, {args.seconds:.0f} s a row, POST /flyer (batch 1, "
          "1080x1350) through nginx; Redis store shared by the replicas\n")
    print(f"  {'backend':<28} {'replicas':>8} {'flyers':>7} {'flyers/s':>9} {'p50 s':>7} "
          f"{'p95 s':>7} {'errors':>7}")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-replicas-") as tmp, ExitStack() as stack:
        folder = Path(tmp)
        redis = stack.enter_context(run_redis(folder / "redis"))
        fakes = [stack.enter_context(OneJobAtATimeSD(args.sd_delay))
                 for _ in range(args.sd_servers)]
        sd_env = {"STABLE_DIFUSION_INSTANCE": ",".join(f.url for f in fakes),
                  "FLYER_BACKEND": "automatic1111", "FLYER_SD_READ_TIMEOUT": "120"}
        scenarios = [("offline", "offline generator", {})]
        scenarios.append(("sd", f"{args.sd_servers} fake SD, {args.sd_delay:g} s/batch", sd_env))
        for slug, label, env in scenarios:
            for n in counts:
                with cluster(folder / f"{slug}-{n}", redis.url, n, env) as url:
                    took, latencies, errors = load(url, KEY, args.clients, args.seconds)
                row = Row(label, n, took, latencies, errors)
                rows.append(row)
                print(row.line(), flush=True)
    print(f"\nload average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
