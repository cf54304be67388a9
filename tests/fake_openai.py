"""A loopback server speaking the OpenAI images API (``POST /v1/images/generations``), as
OpenAI, LocalAI and other compatible servers do, for tests.

It checks the bearer key, the model and the size (only ``SIZES``), answers ``b64_json`` (or
``url`` when no ``response_format`` is given, as DALL·E and LocalAI do) and lists models at
``GET /v1/models``. Modes (see :mod:`tests.fake_http`): ``refusal`` is OpenAI's
``content_policy_violation``, ``rate_limit`` a 429 with ``Retry-After: 3``, ``quota``
``insufficient_quota``, ``oom`` LocalAI's 500 "out of memory".
"""

from __future__ import annotations

import base64
import random
from typing import Any, ClassVar

from tests.fake_http import FakeHTTPServer, Reply, Request, json_reply, png

__all__ = ["MODELS", "SIZES", "FakeOpenAI"]

MODELS = ("gpt-image-1", "dall-e-2", "stablediffusion")
SIZES = ("1024x1024", "1024x1536", "1536x1024", "256x256")


def _error(status: int, message: str, kind: str, code: str | None,
           headers: dict[str, str] | None = None) -> Reply:
    return json_reply(status, {"error": {"message": message, "type": kind, "param": None,
                                         "code": code}}, headers)


class FakeOpenAI(FakeHTTPServer):
    """``with FakeOpenAI(key="sk-test") as api: ...``; ``api.generations`` holds the bodies."""

    UNAUTHORISED = _error(401, "Incorrect API key provided: sk-w***ng.",
                          "invalid_request_error", "invalid_api_key")
    FAULTS: ClassVar[dict[str, Reply]] = {
        "error500": _error(500, "The server had an error while processing your request.",
                           "server_error", None),
        "oom": _error(500, "rpc error: CUDA out of memory", "server_error", None),
        "refusal": _error(400, "Your request was rejected as a result of our safety system.",
                          "invalid_request_error", "content_policy_violation"),
        "rate_limit": _error(429, "Rate limit reached for images per minute.", "requests",
                             "rate_limit_exceeded", {"Retry-After": "3"}),
        "quota": _error(429, "You exceeded your current quota, please check your plan and "
                        "billing details.", "insufficient_quota", "insufficient_quota"),
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.generations: list[dict[str, Any]] = []
        self.images: dict[str, bytes] = {}

    def route(self, request: Request) -> Reply:
        refused = self.refuse(request)
        if refused is not None:
            return refused
        method, path = request.method, request.path
        if method == "GET" and path == "/v1/models":
            return json_reply(200, {"object": "list",
                                    "data": [{"id": m, "object": "model"} for m in MODELS]})
        if method == "GET" and path.startswith("/files/"):
            data = self.images.get(path.rsplit("/", 1)[1])
            return (200, data, "image/png", {}) if data else json_reply(404, {})
        if method != "POST" or path != "/v1/images/generations":
            return _error(404, "Not found", "invalid_request_error", None)
        return self._generate(request.body if isinstance(request.body, dict) else {})

    def _generate(self, body: dict[str, Any]) -> Reply:
        with self.lock:
            self.generations.append(body)
        if self.mode == "slow":
            self.sleep()
        fault = self.fault()
        if fault is not None:
            return fault
        model = body.get("model")
        if model not in MODELS:
            return _error(404, f"The model '{model}' does not exist.", "invalid_request_error",
                          "model_not_found")
        size = str(body.get("size", "1024x1024"))
        if size not in SIZES:
            return _error(400, f"Invalid size '{size}'. Supported: {', '.join(SIZES)}.",
                          "invalid_request_error", "invalid_size")
        width, height = (int(side) for side in size.split("x"))
        data = []
        for _ in range(self.count(int(body.get("n", 1)))):
            image = png(random.randrange(2**31), width // 16, height // 16)
            if body.get("response_format") == "b64_json" or str(model).startswith("gpt-image"):
                data.append({"b64_json": base64.b64encode(image).decode()})
            else:
                name = f"img{len(self.images)}.png"
                self.images[name] = image
                data.append({"url": f"{self.url}/files/{name}"})
        return json_reply(200, {"created": 1700000000, "data": data})
