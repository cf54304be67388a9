"""The one place that turns pipeline errors into HTTP status codes and ``gr.Error``.

Both mappings read the same table, so the UI, Gradio's API and the REST contract agree on what
each failure means. Messages come from the pipeline's own (user-facing) error messages; a
traceback, a setting's value or the master key never ends up in one.
"""

from __future__ import annotations

import html

import gradio as gr

from pipeline.errors import (
    BackendAuthError,
    BackendCancelled,
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    Busy,
    ConfigError,
    FlyerError,
    InvalidRequest,
    NotFound,
    RenderError,
    StoreFull,
    StoreUnavailable,
)

__all__ = ["SERVICE_OVERLOAD", "SERVICE_UNAVAILABLE", "http_status", "to_gr_error", "user_message"]

SERVICE_UNAVAILABLE = "Service Unavailable"
"""REST ``detail`` when Stable Diffusion fails or the shared store (Redis) cannot be reached
(the seed's wording)."""
SERVICE_OVERLOAD = "Service Overload"
"""REST ``detail`` when the flyer store is full or a job waited too long (the seed's wording)."""

_CONFIG_MESSAGE = "The studio is misconfigured; the operator should check the server's log."
_UNEXPECTED_MESSAGE = "Something went wrong while making the flyer; please try again."


# Most specific first: the first class the error is an instance of gives the toast's title.
_TITLES: tuple[tuple[type[FlyerError], str], ...] = (
    (InvalidRequest, "Check your input"),
    (RenderError, "Could not compose the flyer"),
    (BackendCancelled, "Cancelled"),
    (BackendAuthError, "Stable Diffusion refused the credentials"),
    (BackendTimeout, "Stable Diffusion is too slow"),
    (BackendUnavailable, "Stable Diffusion is unreachable"),
    (BackendError, "Stable Diffusion failed"),
    (StoreUnavailable, "The flyer store is unreachable"),
    (StoreFull, "The studio is full"),
    (Busy, "The studio is busy"),
    (NotFound, "Flyer not found"),
)


def _title(exc: FlyerError) -> str:
    return next((title for kind, title in _TITLES if isinstance(exc, kind)), "Error")


def user_message(exc: FlyerError) -> str:
    """The message a user sees for ``exc``: the pipeline's own wording, except for
    configuration problems (operator business) and unnamed errors."""
    if isinstance(exc, ConfigError):
        return _CONFIG_MESSAGE
    text = str(exc).strip()
    if not text:
        if isinstance(exc, StoreFull):
            return "The studio holds as many flyers as it can; try again when some expire."
        if isinstance(exc, NotFound):
            return "No such flyer: it never existed or has expired."
        if isinstance(exc, BackendError):
            return "Stable Diffusion failed; try again in a moment."
        return _UNEXPECTED_MESSAGE
    return text


def http_status(exc: FlyerError) -> tuple[int, str]:
    """``(status code, detail)`` for the REST contract.

    400 is the REST layer's own (batch size) and is not produced here.
    """
    if isinstance(exc, (InvalidRequest, RenderError)):
        return 422, user_message(exc)
    if isinstance(exc, (BackendError, StoreUnavailable)):
        return 503, SERVICE_UNAVAILABLE
    if isinstance(exc, (StoreFull, Busy)):
        return 503, SERVICE_OVERLOAD
    if isinstance(exc, NotFound):
        return 404, user_message(exc)
    if isinstance(exc, ConfigError):
        return 500, _CONFIG_MESSAGE
    return 500, _UNEXPECTED_MESSAGE


def to_gr_error(exc: FlyerError) -> gr.Error:
    """A ``gr.Error`` for the UI and Gradio's API (reaches gradio_client as ``AppError``).

    Gradio renders the message as HTML, so it is escaped (user input may be quoted in it). Expected
    errors do not print a traceback on the server's console.
    """
    message = html.escape(user_message(exc), quote=False)
    unexpected = isinstance(exc, ConfigError) or type(exc) is FlyerError
    return gr.Error(message, title=_title(exc), print_exception=unexpected)
