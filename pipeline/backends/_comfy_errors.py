"""ComfyUI's own error answers, said plainly: a refused workflow (``node_errors`` from
``POST /prompt``) and a failed execution (``execution_error``), each translated once."""

from __future__ import annotations

from typing import Any

import httpx

from ..errors import (
    BackendError,
    BackendResponseError,
    ContentRefused,
    ModelNotFound,
    WorkflowInvalid,
)
from ._http import Voice, status_error

__all__ = ["COMFY_VOICE", "execution_error", "prompt_error"]

COMFY_VOICE = Voice(
    kind="ComfyUI server",
    auth_hint="for a server behind a proxy with a login, put user:password in FLYER_COMFYUI_URL "
              "(http://user:password@host:8188)",
)
_REFUSAL_WORDS = ("nsfw", "content policy", "safety checker", "unsafe content")


def _node_problem(node_id: str, node: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    found = node.get("errors")
    errors: list[Any] = found if isinstance(found, list) else []
    texts = []
    for error in errors:
        if isinstance(error, dict):
            text = str(error.get("message") or error.get("type") or "error")
            if error.get("details"):
                text += f": {error['details']}"
            texts.append(text)
    kind = node.get("class_type") or "node"
    return f"node {node_id} ({kind}): {'; '.join(texts) or 'refused'}", [
        e for e in errors if isinstance(e, dict)]


def prompt_error(response: httpx.Response, where: str, secret: str | None) -> BackendError:
    """The error for a non-2xx answer to ``POST /prompt``."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 400 or not isinstance(body, dict):
        return status_error(response, where, COMFY_VOICE, secret)
    found = body.get("node_errors")
    node_errors: dict[str, Any] = found if isinstance(found, dict) else {}
    for node_id, node in node_errors.items():
        if not isinstance(node, dict):
            continue
        said, errors = _node_problem(str(node_id), node)
        for error in errors:
            info = error.get("extra_info")
            extra: dict[str, Any] = info if isinstance(info, dict) else {}
            if error.get("type") == "value_not_in_list" and extra.get("input_name") in (
                    "ckpt_name", "unet_name", "lora_name", "vae_name"):
                return ModelNotFound(
                    f"The ComfyUI server at {where} has no such model: {said}. Put the file in "
                    "ComfyUI's models folder or set FLYER_COMFYUI_CHECKPOINT to one it lists."
                )
        return WorkflowInvalid(f"ComfyUI refused the workflow: {said}.", node=str(node_id))
    top: Any = body.get("error")
    message = top.get("message") if isinstance(top, dict) else top
    details = top.get("details") if isinstance(top, dict) else ""
    text = " ".join(str(part) for part in (message, details) if part).strip() or "no reason given"
    return WorkflowInvalid(f"ComfyUI refused the workflow: {text}.")


def execution_error(data: dict[str, Any], where: str) -> BackendError:
    """The error for an ``execution_error`` message (over the websocket or in the history)."""
    node_id = str(data.get("node_id") or "?")
    node_type = str(data.get("node_type") or "node")
    exc_type = str(data.get("exception_type") or "")
    message = " ".join(str(data.get("exception_message") or "").split())[:300]
    lowered = f"{exc_type} {message}".lower()
    if "outofmemory" in lowered or "out of memory" in lowered:
        return BackendResponseError(
            "The ComfyUI server ran out of GPU memory: try a smaller batch or size."
        )
    if any(word in lowered for word in _REFUSAL_WORDS):
        return ContentRefused(
            f"The ComfyUI workflow refused the picture (node {node_id}, {node_type}: {message}); "
            "reword the prompt."
        )
    return BackendResponseError(
        f"ComfyUI at {where} failed in node {node_id} ({node_type}): "
        f"{message or exc_type or 'no message'}."
    )
