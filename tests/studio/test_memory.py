"""studio.memory: the heap policy is applied at start and the heap is given back to the system
after generations, from the one place every door goes through (bench/bench_store.py measures
why)."""

from __future__ import annotations

import asyncio
import ctypes
import platform
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio_client import Client

from studio.memory import HEAP, HeapPolicy, Trimmer, glibc
from tests.studio.conftest import run_studio, studio_settings
from tests.studio.test_serve import serving, stderr_of

on_glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator")


REST_BODY = {"prompt": "neon jazz club", "size": [1080, 1350], "batch_size": 2,
             "details": {"title": "Jazz Night"}}


class SpyLibc:
    """Records the allocator calls a policy makes (the real ones change the test process)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int | None]] = []

    def mallopt(self, number: int, value: int) -> int:
        self.calls.append(("mallopt", number, value))
        return 1

    def malloc_trim(self, pad: int) -> int:
        self.calls.append(("malloc_trim", pad, None))
        return 1


def test_the_studio_trims_after_every_batch_of_five() -> None:
    assert HEAP.trim_every == 5
    assert HEAP.mmap_threshold is None  # a fixed threshold costs ~100 ms of system CPU a flyer


def test_trims_follow_the_flyers_made_not_the_calls() -> None:
    libc = SpyLibc()
    trimmer = HeapPolicy(trim_every=5).apply(libc)
    for _ in range(3):
        trimmer.after_generation(5)  # a batch of 5: every generation
    assert trimmer.trims == 3
    for _ in range(9):
        trimmer.after_generation(1)  # batches of 1: every 5th
    assert trimmer.trims == 4 and len(libc.calls) == 4


def test_a_policy_sets_glibc_options_and_trims_every_nth_generation() -> None:
    libc = SpyLibc()
    trimmer = HeapPolicy.parse("mmap=1048576,arenas=2,trim_every=3").apply(libc)
    assert libc.calls == [("mallopt", -3, 1048576), ("mallopt", -8, 2)]
    libc.calls.clear()
    for _ in range(7):
        trimmer.after_generation()
    assert libc.calls == [("malloc_trim", 0, None)] * 2
    assert trimmer.trims == 2


def test_glibc_defaults_change_nothing() -> None:
    libc = SpyLibc()
    trimmer = HeapPolicy.parse("").apply(libc)
    trimmer.after_generation()
    assert libc.calls == [] and not trimmer.active


def test_trimming_counts_generations_from_every_thread() -> None:
    libc = SpyLibc()
    trimmer = Trimmer(5, libc)
    threads = [threading.Thread(target=lambda: [trimmer.after_generation() for _ in range(50)])
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert trimmer.trims == 8 * 50 // 5 == len(libc.calls)


def test_a_bad_policy_is_named() -> None:
    with pytest.raises(ValueError, match="unknown heap setting 'arena'"):
        HeapPolicy.parse("arena=2")
    with pytest.raises(ValueError, match="trim_every: a whole number"):
        HeapPolicy.parse("trim_every=often")


@on_glibc
def test_glibc_gives_freed_heap_pages_back() -> None:
    libc = glibc()
    assert libc is not None
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(64 * 1024) for _ in range(200)]  # 12.5 MiB below the mmap threshold
    for block in blocks:
        ctypes.memset(block, 1, 64 * 1024)  # touched: resident
    for block in blocks[:-1]:  # the last one holds the heap's top: only a trim frees the rest
        libc.free(block)
    try:
        assert libc.malloc_trim(0) == 1  # 1: memory was given back
    finally:
        libc.free(blocks[-1])


def test_every_door_calls_the_hook_after_a_generation_in_a_worker_thread() -> None:
    called: list[tuple[int, bool]] = []

    def spy(flyers: int) -> None:
        try:
            asyncio.get_running_loop()
            called.append((flyers, False))  # on the event loop: it would stall every request
        except RuntimeError:
            called.append((flyers, True))

    settings = studio_settings()
    with run_studio(settings, after_generation=spy) as studio:
        rest = httpx.post(f"{studio.url}/flyer", headers=studio.headers,
                          json=REST_BODY, timeout=60)
        assert rest.status_code == 200, rest.text
        assert called == [(2, True)]
        client = Client(studio.url, auth=studio.auth, verbose=False, download_files=False)
        files: Any
        files, _ = client.predict(title="Jazz", batch_size=1, api_name="/generate")
        assert len(files) == 1
        assert called == [(2, True), (1, True)]


@on_glibc
def test_serve_trims_the_heap_after_a_generation(tmp_path: Path) -> None:
    key = "configured-" + "k" * 30
    with serving(tmp_path, API_MASTER_KEY=key, FLYER_BACKEND="procedural") as served:
        served.wait_healthy()
        batch = {**REST_BODY, "batch_size": HEAP.trim_every}  # one batch: one trim
        made = httpx.post(served.url + "/flyer", headers={"X-API-Key": key}, json=batch,
                          timeout=120)
        assert made.status_code == 200, made.text
        logs = stderr_of(served)
    assert "heap given back to the system after a generation" in logs
