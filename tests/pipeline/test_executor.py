"""The process-wide thread settings a server makes (pipeline/executor.py)."""

from __future__ import annotations

import cv2

from pipeline.executor import one_opencv_thread


def test_one_opencv_thread_runs_opencv_on_the_calling_thread() -> None:
    before = cv2.getNumThreads()
    try:
        cv2.setNumThreads(2)
        one_opencv_thread()
        assert cv2.getNumThreads() == 1
    finally:
        cv2.setNumThreads(before)
