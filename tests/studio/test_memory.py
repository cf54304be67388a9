"""studio.memory: the mmap threshold is fixed on glibc (bench/bench_store.py measures why)."""

from __future__ import annotations

import platform

import pytest

from studio.memory import MMAP_THRESHOLD, fix_mmap_threshold

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")


@glibc
def test_the_threshold_is_fixed() -> None:
    assert fix_mmap_threshold() is True
    assert MMAP_THRESHOLD == 128 * 1024

