"""A stand-in for Hugging Face's ``spaces`` package (ZeroGPU) for tests: ``spaces.GPU`` runs
the function with its arguments and result passed through pickle, as ZeroGPU passes them to
and from the process that holds the GPU, and records each call's duration."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

CALLS: list[int] = []


def GPU(duration: int = 60) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(function: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any) -> Any:
            CALLS.append(duration)
            sent = pickle.loads(pickle.dumps(args))  # plain data only, or this fails
            return pickle.loads(pickle.dumps(function(*sent)))

        return run

    return wrap
