"""Failures of an AUTOMATIC1111-compatible server: the common HTTP translation
(:mod:`._http`) plus what only this API says (404 on ``/sdapi`` means no ``--api``)."""

from __future__ import annotations

import httpx

from ..errors import BackendError, BackendUnavailable
from ._http import Voice, scrub, server_detail, status_error

__all__ = ["A1111_VOICE", "a1111_status_error"]

A1111_VOICE = Voice()


def a1111_status_error(response: httpx.Response, path: str, where: str,
                       secret: str | None) -> BackendError:
    """The error for a non-2xx answer to ``path`` from the server at ``where``."""
    if (response.status_code == 404 and path.startswith("/sdapi")
            and server_detail(response) in ("", "Not Found")):
        return BackendUnavailable(scrub(
            f"The server at {where} has no Stable Diffusion API (HTTP 404 on {path}); "
            "start it with --api.", secret
        ))
    return status_error(response, where, A1111_VOICE, secret)
