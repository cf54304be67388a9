"""The status line's answers: a handler's ``gr.Error`` shown where it stays until the next
action (not in a toast that fades), in the same words the API gives."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import gradio as gr

__all__ = ["error_status", "stays"]


def error_status(exc: gr.Error) -> str:
    """A failure as the status line shows it until the next action (the API's own words)."""
    return (f'<div class="fs-error" role="alert">⚠️ <strong>{exc.title}</strong> · '
            f"{exc.message}</div>")


def stays(status_at: int, count: int, reset: dict[int, Any] | None = None) -> Callable[
        [Callable[..., Any]], Callable[..., Any]]:
    """Show a handler's ``gr.Error`` in the status output (index ``status_at`` of ``count``)
    instead of a toast that fades: the other outputs keep their value, except those in
    ``reset`` (index -> value)."""
    def failed(exc: gr.Error) -> tuple[Any, ...]:
        outputs: list[Any] = [gr.skip()] * count
        for index, value in (reset or {}).items():
            outputs[index] = value
        outputs[status_at] = error_status(exc)
        return tuple(outputs)

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await fn(*args, **kwargs)
                except gr.Error as exc:
                    return failed(exc)
            return run_async

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except gr.Error as exc:
                return failed(exc)
        return run

    return wrap
