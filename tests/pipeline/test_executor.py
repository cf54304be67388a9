"""The process-wide thread settings a server makes (pipeline/executor.py)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import cv2
import pytest

from pipeline.executor import WorkPool, cpu_quota, machine_workers, one_opencv_thread


def test_one_opencv_thread_runs_opencv_on_the_calling_thread() -> None:
    before = cv2.getNumThreads()
    try:
        cv2.setNumThreads(2)
        one_opencv_thread()
        assert cv2.getNumThreads() == 1
    finally:
        cv2.setNumThreads(before)


def test_the_usable_cores_count_a_containers_cpu_quota(tmp_path: Path) -> None:
    """``docker run --cpus 1.5`` on a bigger host: 2 workers, not one per host core."""
    assert cpu_quota(tmp_path) is None  # no cgroup files: no quota
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cpu_quota(tmp_path) is None
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cpu_quota(tmp_path) == 1.5
    assert machine_workers(tmp_path) == min(2, len(os.sched_getaffinity(0)))
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cpu_quota(v1) is None
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("100000\n")
    assert cpu_quota(v1) == 1.0 and machine_workers(v1) == 1


def test_a_pool_resized_stops_its_threads_and_starts_as_many_as_asked() -> None:
    """``resize``: what a composing worker does with its share of the cores."""
    pool = WorkPool(2)
    here = threading.get_ident()
    assert pool.submit(threading.get_ident).result() != here  # a thread of the pool
    pool.resize(1)
    assert not pool.running and pool.max_workers == 1  # the threads were stopped
    ran = {pool.submit(threading.get_ident).result() for _ in range(4)}
    assert len(ran) == 1 and here not in ran  # one thread, not this one
    pool.shutdown()
    with pytest.raises(ValueError, match="at least one thread, not 0"):
        pool.resize(0)
