"""ComfyUI backend: a workflow per batch, progress over ComfyUI's websocket.

One batch is one ``POST /prompt`` of an API-format workflow (the shipped default — checkpoint
loader, KSampler, VAE decode — or the user's export, filled by ``{{placeholders}}`` and/or a
node mapping; see :mod:`._comfy_workflow`). Progress comes from ``/ws?clientId=``
(``progress``, ``executing``, ``execution_cached``...; preview frames are ignored); when the
websocket cannot be opened, ``/history/{id}`` is polled instead. The images are listed in
``/history/{id}`` and fetched from ``/view``. A fully cached execution (same workflow, same
seed) finishes at once and is read from the history all the same.

Cancelling removes the job from ComfyUI's queue while it waits there, and interrupts it
(``POST /interrupt`` with its ``prompt_id``) only while it runs, so another client's job is
never stopped. Seeds: ComfyUI draws a batch's noise from one seed, so every image of a batch
records that seed (image *i* is batch index *i*); the same seed and batch size repaint it.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from ..errors import (
    BackendCancelled,
    BackendError,
    BackendResponseError,
    BackendTimeout,
    BackendUnavailable,
)
from ._batch import Batch
from ._comfy_errors import COMFY_VOICE, execution_error, prompt_error
from ._comfy_workflow import Workflow, fill, load_workflow, output_node
from ._http import HttpServer, status_error
from ._images import decode_image_bytes
from ._sizes import ModelFamily, model_family
from ._worker import CANCELLED
from .base import (
    Capabilities,
    GeneratedImage,
    Painting,
    PaintRequest,
    ProgressCallback,
)

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["ComfyOptions", "ComfyUIBackend"]

_WS_WAIT = 0.1
_MODEL_INPUTS = ("ckpt_name", "unet_name")


@dataclass(frozen=True)
class ComfyOptions:
    """Values the default workflow's placeholders take besides the request's."""

    checkpoint: str = "v1-5-pruned-emaonly.safetensors"
    sampler: str = "euler"
    scheduler: str = "normal"
    steps: int = 20
    cfg: float = 7.0


class ComfyUIBackend:
    """Paints backgrounds on one ComfyUI server."""

    name = "comfyui"
    capabilities = Capabilities()

    def __init__(
        self,
        base_url: str,
        *,
        client: httpx.Client | None = None,
        workflow: Workflow | None = None,
        nodes: Sequence[tuple[str, str]] = (),
        options: ComfyOptions | None = None,
        family: ModelFamily | None = None,
        connect_timeout: float = 10,
        read_timeout: float = 120,
        poll_interval: float = 0.5,
        websocket: bool = True,
    ) -> None:
        self.http = HttpServer(base_url, client=client, voice=COMFY_VOICE,
                               connect_timeout=connect_timeout, read_timeout=read_timeout)
        self.workflow = workflow if workflow is not None else load_workflow(None)
        self.custom = workflow is not None
        self.nodes = tuple(nodes)
        self.options = options or ComfyOptions()
        self.family = family or model_family("sd15")
        self._poll = poll_interval
        self._use_websocket = websocket

    @classmethod
    def from_settings(cls, settings: Settings, url: str,
                      client: httpx.Client | None = None) -> ComfyUIBackend:
        section = settings.comfyui
        workflow = load_workflow(section.workflow) if section.workflow is not None else None
        return cls(
            url, client=client, workflow=workflow, nodes=section.nodes,
            options=ComfyOptions(checkpoint=section.checkpoint, sampler=section.sampler,
                                 scheduler=section.scheduler, steps=section.steps,
                                 cfg=section.cfg),
            family=model_family(settings.model_family or section.family),
            connect_timeout=settings.sd_connect_timeout, read_timeout=settings.sd_read_timeout,
        )

    # --- what it is -----------------------------------------------------------------------------
    @property
    def server(self) -> str:
        return self.http.public_url

    @property
    def model(self) -> str:
        if not self.custom:
            return self.options.checkpoint
        for node in self.workflow.values():
            for key in _MODEL_INPUTS:
                value = node["inputs"].get(key)
                if isinstance(value, str) and "{{" not in value:
                    return value
        return "custom workflow"

    def close(self) -> None:
        """Close the HTTP client this backend made (the studio's lifespan calls it)."""
        self.http.close()

    def check(self) -> None:
        self.http.request("GET", "/system_stats", read_timeout=10.0)

    def paint_size(self, request: PaintRequest) -> tuple[int, int]:
        return self.family.fit(request.aspect, request.pixel_budget)

    # --- generation -----------------------------------------------------------------------------
    def generate(
        self,
        request: PaintRequest,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> Painting:
        batch = Batch.start(self, request, progress, cancel)
        batch.check_cancel()
        report, token = batch.report, batch.cancel
        width, height = batch.size
        seed = batch.first_seed(2**32)
        options = self.options
        values: dict[str, Any] = {
            "prompt": request.prompt, "negative_prompt": request.negative_prompt, "seed": seed,
            "width": width, "height": height, "batch_size": request.count,
            "checkpoint": options.checkpoint, "steps": options.steps, "cfg": options.cfg,
            "sampler": options.sampler, "scheduler": options.scheduler,
        }
        graph = fill(self.workflow, values, self.nodes)
        client_id = uuid.uuid4().hex
        socket = self._open_websocket(client_id)
        try:
            prompt_id = self._queue(graph, client_id)
            report(0.0, "queued on the ComfyUI server")
            deadline = time.monotonic() + self.http.read_timeout * max(1, request.count)
            try:
                if socket is not None:
                    self._watch_websocket(socket, prompt_id, report, token, deadline)
                else:
                    self._watch_history(prompt_id, token, deadline)
            except (BackendCancelled, BackendTimeout):
                self._withdraw(prompt_id)
                raise
        finally:
            if socket is not None:
                with contextlib.suppress(Exception):
                    socket.close()
        images = self._images(prompt_id, graph, request.count, seed)
        details: dict[str, Any] = {"workflow": "custom" if self.custom else "default",
                                   "seed_scheme": "one seed per batch; image i = batch index i"}
        if not self.custom:
            details.update(steps=options.steps, cfg_scale=options.cfg, sampler=options.sampler,
                           scheduler=options.scheduler)
        return batch.finish(self, images, details)

    def _queue(self, graph: Workflow, client_id: str) -> str:
        response = self.http.send("POST", "/prompt", read_timeout=30.0,
                                  json={"prompt": graph, "client_id": client_id})
        if not response.is_success:
            raise prompt_error(response, self.server, self.http.secret)
        try:
            body = response.json()
            prompt_id = body["prompt_id"]
        except (ValueError, KeyError, TypeError):
            raise BackendResponseError(
                f"The ComfyUI server at {self.server} did not answer /prompt with a prompt_id; "
                "is the URL really a ComfyUI server?"
            ) from None
        if body.get("node_errors"):
            raise prompt_error(httpx.Response(400, json=body), self.server, self.http.secret)
        return str(prompt_id)

    # --- watching the job -----------------------------------------------------------------------
    def _open_websocket(self, client_id: str) -> Any:
        """A websocket on ``/ws?clientId=``, or None (then the history is polled)."""
        if not self._use_websocket:
            return None
        try:
            from websockets.sync.client import connect
        except ImportError:  # pragma: no cover - websockets is a dependency
            return None
        url = self.http.base_url.replace("http", "ws", 1) + f"/ws?clientId={client_id}"
        try:
            return connect(url, open_timeout=self.http.connect_timeout, compression=None,
                           proxy=None, max_size=2**24)
        except Exception:  # any failure: fall back to polling, which reports its own errors
            return None

    def _watch_websocket(self, socket: Any, prompt_id: str, report: ProgressCallback,
                         token: threading.Event, deadline: float) -> None:
        from websockets.exceptions import ConnectionClosed

        done = 0.0
        while True:
            if token.is_set():
                raise BackendCancelled(CANCELLED)
            if time.monotonic() > deadline:
                raise self._timeout()
            try:
                frame = socket.recv(timeout=_WS_WAIT)
            except TimeoutError:
                continue
            except ConnectionClosed:
                raise BackendUnavailable(
                    f"The ComfyUI server at {self.server} closed the connection mid-job; "
                    "is it still running?") from None
            if not isinstance(frame, str):
                continue  # a binary preview image
            try:
                message = json.loads(frame)
                kind, data = message["type"], message.get("data") or {}
            except (ValueError, KeyError, TypeError):
                continue
            if not isinstance(data, dict) or data.get("prompt_id") not in (None, prompt_id):
                continue
            if data.get("prompt_id") is None and kind != "status":
                continue
            if kind == "execution_start":
                report(max(done, 0.01), "painting")
            elif kind == "execution_cached" and data.get("nodes"):
                report(max(done, 0.02), f"{len(data['nodes'])} step(s) cached")
            elif kind == "progress":
                with contextlib.suppress(TypeError, ValueError, ZeroDivisionError):
                    done = max(done, min(0.99, float(data["value"]) / float(data["max"])))
                    report(done, f"painting {done:.0%} (step {data['value']} of {data['max']})")
            elif kind == "execution_error":
                raise execution_error(data, self.server)
            elif kind == "execution_interrupted":
                raise BackendCancelled("The job was interrupted on the ComfyUI server.")
            elif kind == "execution_success" or (kind == "executing" and data.get("node") is None):
                return

    def _watch_history(self, prompt_id: str, token: threading.Event, deadline: float) -> None:
        while self._history(prompt_id) is None:
            if token.wait(self._poll):
                raise BackendCancelled(CANCELLED)
            if time.monotonic() > deadline:
                raise self._timeout()

    def _timeout(self) -> BackendTimeout:
        return BackendTimeout(
            f"The ComfyUI server at {self.server} did not finish within "
            f"{self.http.read_timeout:g} s per image; try a smaller batch or raise "
            "FLYER_SD_READ_TIMEOUT."
        )

    def _withdraw(self, prompt_id: str) -> None:
        """Take this job (and only it) off the server: out of the queue, or interrupted."""
        with contextlib.suppress(BackendError):
            self.http.request("POST", "/queue", read_timeout=10.0, json={"delete": [prompt_id]})
            queue = self.http.request("GET", "/queue", read_timeout=10.0).json()
            running = queue.get("queue_running", []) if isinstance(queue, dict) else []
            if any(isinstance(item, list) and len(item) > 1 and item[1] == prompt_id
                   for item in running):
                self.http.request("POST", "/interrupt", read_timeout=10.0,
                                  json={"prompt_id": prompt_id})

    # --- reading the result ---------------------------------------------------------------------
    def _history(self, prompt_id: str) -> dict[str, Any] | None:
        response = self.http.request("GET", f"/history/{prompt_id}", read_timeout=30.0)
        try:
            body = response.json()
        except ValueError:
            raise BackendResponseError(
                f"The ComfyUI server at {self.server} answered /history with something "
                "that is not JSON."
            ) from None
        entry = body.get(prompt_id) if isinstance(body, dict) else None
        if not isinstance(entry, dict):
            return None
        found = entry.get("status")
        status: dict[str, Any] = found if isinstance(found, dict) else {}
        if status.get("status_str") == "error":
            for message in status.get("messages") or []:
                if (isinstance(message, list) and len(message) == 2
                        and message[0] == "execution_error" and isinstance(message[1], dict)):
                    raise execution_error(message[1], self.server)
            raise BackendResponseError(f"The ComfyUI job failed on {self.server}.")
        return entry

    def _images(self, prompt_id: str, graph: Workflow, count: int,
                seed: int) -> list[GeneratedImage]:
        entry = self._history(prompt_id)
        outputs = entry.get("outputs") if entry is not None else None
        if not isinstance(outputs, dict):
            raise BackendResponseError(
                f"The ComfyUI server at {self.server} kept no outputs for the job; does the "
                "workflow end in a Save Image or Preview Image node?")
        wanted = output_node(graph, self.nodes)
        refs: list[dict[str, Any]] = []
        for node_id in sorted(outputs, key=lambda n: (len(n), n)):
            if wanted is not None and node_id != wanted:
                continue
            node = outputs[node_id]
            images = node.get("images") if isinstance(node, dict) else None
            refs.extend(ref for ref in images or [] if isinstance(ref, dict) and "filename" in ref)
        if len(refs) < count:
            raise BackendResponseError(
                f"The ComfyUI server at {self.server} returned {len(refs)} image(s) instead of "
                f"{count}; check the workflow's batch size, or try again.")
        result = []
        for index, ref in enumerate(refs[:count]):
            params = {key: str(ref.get(key, "")) for key in ("filename", "subfolder", "type")}
            response = self.http.send("GET", "/view", read_timeout=60.0, params=params)
            if not response.is_success:
                raise status_error(response, self.server, COMFY_VOICE, self.http.secret)
            image = decode_image_bytes(
                response.content, f"image {index + 1} from the ComfyUI server at {self.server}")
            result.append(GeneratedImage(image=image, seed=seed))
        return result
