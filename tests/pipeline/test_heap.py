"""pipeline.heap: the composing processes run on one allocator arena (counted by glibc
itself, ``malloc_info``), which their fork server sets before any thread starts."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator")

COUNT_ARENAS = """
import ctypes, os, tempfile
def arenas():
    libc = ctypes.CDLL(None)
    libc.fopen.restype = ctypes.c_void_p
    libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    path = tempfile.mktemp()
    fp = libc.fopen(path.encode(), b"w")
    libc.malloc_info(0, fp)
    libc.fclose(fp)
    with open(path) as fh:
        text = fh.read()
    os.unlink(path)
    return text.count("<heap nr=")
"""

THREADS = """
import threading
import numpy as np
def work():
    kept = [np.ones(50_000 + i) for i in range(40)]
    return sum(len(k) for k in kept)
threads = [threading.Thread(target=work) for _ in range(6)]
for t in threads: t.start()
for t in threads: t.join()
"""


def _arenas(setup: str) -> int:
    code = COUNT_ARENAS + setup + THREADS + "print(arenas())"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    return int(out.stdout.strip().splitlines()[-1])


def test_threads_share_at_most_the_arenas_allowed() -> None:
    assert _arenas("") > 2  # glibc's default: an arena per new thread (the check can fail)
    limited = "from pipeline.heap import limit_arenas\nassert limit_arenas(2)\n"
    assert _arenas(limited) <= 2


def test_the_composing_processes_fork_server_caps_its_arenas_before_its_threads() -> None:
    """Importing the fork server's preload composes a flyer on the shared pool's threads;
    workers are forked from it and inherit its allocator's limit."""
    preload = "import pipeline._forkserver\nassert pipeline._forkserver.ARENAS == 1\n"
    assert _arenas(preload) == 1
