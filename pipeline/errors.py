"""One error tree for the whole pipeline.

::

    FlyerError                      base: every error the pipeline raises on purpose
    ├── ConfigError                 a setting is missing or malformed (names the variable)
    ├── InvalidRequest              the user's input cannot be used (names the field)
    ├── BackendError                the image backend failed
    │   ├── BackendUnavailable      server not reachable (refused, DNS, wrong URL, no --api)
    │   ├── BackendTimeout          server too slow
    │   ├── BackendAuthError        401/403: --api-auth credentials missing or wrong
    │   ├── BackendResponseError    server answered garbage, an error, or too few images
    │   ├── BackendCancelled        the user cancelled the job
    │   ├── ContentRefused          the service refused the prompt (content policy)
    │   ├── RateLimited             too many requests for now (``retry_after`` seconds)
    │   ├── QuotaExhausted          the account's credits or quota are used up
    │   ├── ModelNotFound           the configured model/checkpoint does not exist there
    │   └── WorkflowInvalid         a ComfyUI workflow was refused (``node`` names the node)
    ├── RenderError                 composition failed (e.g. text cannot fit)
    ├── StoreFull                   the flyer store is full of live entries
    │   └── StoreUnavailable        the shared store (Redis) cannot be reached
    ├── Busy                        a job waited too long for its turn (queue, REST slots)
    └── NotFound                    no such flyer (unknown or expired id)

Third-party exceptions are translated once, where they happen, with ``raise ... from exc``.
Only ``studio/`` turns these into ``gr.Error`` or HTTP status codes. Every message says what
happened and what the user can do about it.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BackendAuthError",
    "BackendCancelled",
    "BackendError",
    "BackendResponseError",
    "BackendTimeout",
    "BackendUnavailable",
    "Busy",
    "ConfigError",
    "ContentRefused",
    "FlyerError",
    "InvalidRequest",
    "ModelNotFound",
    "NotFound",
    "QuotaExhausted",
    "RateLimited",
    "RenderError",
    "StoreFull",
    "StoreUnavailable",
    "WorkflowInvalid",
]


class FlyerError(Exception):
    """Base class of every error the pipeline raises on purpose."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled whole (a composing process's error reaches the door): the message and the
        # attributes (``field``…), which the default (the constructor's ``args``) would lose.
        return _rebuilt, (type(self), self.args, dict(self.__dict__))


def _rebuilt(cls: type[FlyerError], args: tuple[Any, ...], state: dict[str, Any]) -> FlyerError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class ConfigError(FlyerError):
    """A setting is missing or malformed. The message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        self.problem = problem
        super().__init__(f"{variable}: {problem}")


class InvalidRequest(FlyerError):
    """The user's input cannot be used. ``field`` names the offending field when known."""

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class BackendError(FlyerError):
    """The image backend failed."""


class BackendUnavailable(BackendError):
    """The Stable Diffusion server cannot be reached or has no API."""


class BackendTimeout(BackendError):
    """The Stable Diffusion server did not answer in time."""


class BackendAuthError(BackendError):
    """The Stable Diffusion server refused our credentials."""


class BackendResponseError(BackendError):
    """The Stable Diffusion server answered with an error or something unusable."""


class BackendCancelled(BackendError):
    """The generation was cancelled by the user."""


class ContentRefused(BackendError):
    """The image service refused the prompt under its content policy (not worth retrying as is)."""


class RateLimited(BackendError):
    """The image service asks us to slow down. ``retry_after`` is in seconds when it said."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class QuotaExhausted(BackendError):
    """The account's credits or quota at the image service are used up."""


class ModelNotFound(BackendError):
    """The configured model (or checkpoint) is not available on the image service."""


class WorkflowInvalid(BackendError):
    """A ComfyUI workflow was refused; ``node`` names the node at fault when known."""

    def __init__(self, message: str, node: str | None = None) -> None:
        self.node = node
        super().__init__(message)


class RenderError(FlyerError):
    """The flyer could not be composed. ``field`` names the offending field when known."""

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class StoreFull(FlyerError):
    """The flyer store is full of live entries; nothing stored was touched."""


class StoreUnavailable(StoreFull):
    """The shared flyer store (Redis, FLYER_STORE_URL) cannot be reached or answered an error.

    A subclass of :class:`StoreFull` so that every door answers it the same way (503, try
    again later); the message says which it is.
    """


class Busy(FlyerError):
    """A job waited longer than FLYER_QUEUE_MAX_WAIT for its turn and was not started."""

    def __init__(self, message: str = "The studio is busy; try again in a moment.") -> None:
        super().__init__(message)


class NotFound(FlyerError):
    """No flyer with that id (unknown, or expired)."""
