"""A loopback server answering like a Hugging Face Inference Endpoint (what
``InferenceClient(model=<url>, provider="hf-inference").text_to_image`` calls): ``POST`` of
``{"inputs": prompt, "parameters": {...}}`` answered with PNG bytes, for tests.

Modes (see :mod:`tests.fake_http`) answer as the Hub does: ``refusal`` 400 with an NSFW error,
``rate_limit`` 429 with ``Retry-After: 5``, ``quota`` 402 (credits used up), ``loading`` 503
(model loading), ``oom`` 500 "CUDA out of memory", ``few_images`` an empty 200 body,
``garbage`` HTML. Only paths under ``/models/`` that name ``MODEL`` exist.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from tests.fake_http import COMMON_MODES, FakeHTTPServer, Reply, Request, json_reply, png

__all__ = ["MODEL", "FakeHFEndpoint"]

MODEL = "fake-org/fake-flux"


class FakeHFEndpoint(FakeHTTPServer):
    """``with FakeHFEndpoint(key="hf_test") as hf: hf.url + f"/models/{MODEL}"``."""

    MODES = (*COMMON_MODES, "loading")
    UNAUTHORISED = json_reply(401, {"error": "Invalid credentials in Authorization header"})
    FAULTS: ClassVar[dict[str, Reply]] = {
        "few_images": (200, b"", "image/png", {}),
        "error500": json_reply(500, {"error": "Internal error"}),
        "oom": json_reply(500, {"error": "CUDA out of memory. Tried to allocate 1 GiB"}),
        "refusal": json_reply(400, {"error": "NSFW content detected; the image was blocked by "
                                             "the safety checker"}),
        "rate_limit": json_reply(429, {"error": "Rate limit reached"}, {"Retry-After": "5"}),
        "quota": json_reply(402, {"error": "You have exceeded your monthly included credits "
                                           "for Inference Providers."}),
        "loading": json_reply(503, {"error": "Model fake-org/fake-flux is currently loading",
                                    "estimated_time": 20.0}),
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: list[dict[str, Any]] = []

    @property
    def endpoint(self) -> str:
        return f"{self.url}/models/{MODEL}"

    def route(self, request: Request) -> Reply:
        refused = self.refuse(request)
        if refused is not None:
            return refused
        if request.method != "POST" or request.path != f"/models/{MODEL}":
            return json_reply(404, {"error": f"Model {request.path.removeprefix('/models/')} "
                                             "does not exist"})
        body = request.body if isinstance(request.body, dict) else {}
        with self.lock:
            self.calls.append(body)
        if self.mode == "slow":
            self.sleep()
        fault = self.fault()
        if fault is not None:
            return fault
        parameters = body.get("parameters") or {}
        seed = int(parameters.get("seed") or 0)
        width, height = int(parameters.get("width") or 64), int(parameters.get("height") or 64)
        return 200, png(seed, width // 8, height // 8), "image/png", {
            "X-Echo": json.dumps(sorted(parameters))}
