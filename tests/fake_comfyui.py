"""A loopback server speaking ComfyUI's API, websocket included, for tests.

Real sockets, real HTTP, a real RFC 6455 websocket on the same port (``/ws?clientId=``), and a
worker thread that runs queued prompts one at a time as ComfyUI does::

    with FakeComfyUI() as comfy:
        backend = ComfyUIBackend(comfy.url)
        comfy.mode = "oom"

Routes: ``POST /prompt`` (validates like ComfyUI: missing class_type, unknown checkpoint →
``node_errors``), ``GET /history/{id}``, ``GET /view``, ``POST /interrupt`` (optionally
``{"prompt_id"}``), ``GET|POST /queue`` (``{"delete": [...]}``), ``GET /system_stats``.
Websocket messages: ``status``, ``execution_start``, ``execution_cached``, ``executing``,
``progress``, ``executed``, ``execution_success``, ``execution_error``,
``execution_interrupted``, and a binary preview frame while painting.

The server, the modes shared by every fake (``down``, ``garbage``, 401...) and ``kill()`` come
from :mod:`tests.fake_http`. Modes: ``ok``; ``down``; ``slow`` (``delay`` s of progress;
interrupt ends it); ``garbage`` (``/prompt`` answers HTML); ``few_images``; ``oom`` and
``refusal`` (``execution_error`` from the sampler / a safety checker); ``error500``
(``/prompt`` 500); ``rate_limit`` (429, ``Retry-After: 7``).
``auth=(user, password)`` answers 401 without HTTP Basic credentials, as a proxy would.
Running the same workflow twice is a fully cached execution (instant, no progress).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import queue
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

from tests.fake_http import FakeHTTPServer, Reply, Request, json_reply, png

__all__ = ["CHECKPOINTS", "MODES", "FakeComfyUI"]

MODES = ("ok", "down", "slow", "garbage", "few_images", "oom", "refusal", "error500",
         "rate_limit")
CHECKPOINTS = ("v1-5-pruned-emaonly.safetensors", "sd_xl_base_1.0.safetensors")
_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_NOT_FOUND = json_reply(404, {"error": "not found"})
_EMPTY: Reply = (200, b"", "text/plain", {})


class _WebSocket:
    """The server side of one websocket: unmasked frames out, masked frames in."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lock = threading.Lock()
        self.open = True

    def send(self, payload: bytes, opcode: int = 0x1) -> None:
        header = bytes([0x80 | opcode])
        length = len(payload)
        if length < 126:
            header += bytes([length])
        elif length < 1 << 16:
            header += bytes([126]) + struct.pack("!H", length)
        else:
            header += bytes([127]) + struct.pack("!Q", length)
        with self.lock:
            if not self.open:
                return
            try:
                self.sock.sendall(header + payload)
            except OSError:
                self.open = False

    def send_json(self, message: dict[str, Any]) -> None:
        self.send(json.dumps(message).encode())

    def _read(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def serve(self) -> None:
        """Answer pings and a close; return when the connection ends."""
        try:
            while self.open:
                first, second = self._read(2)
                opcode, length = first & 0x0F, second & 0x7F
                if length == 126:
                    length = struct.unpack("!H", self._read(2))[0]
                elif length == 127:
                    length = struct.unpack("!Q", self._read(8))[0]
                mask = self._read(4) if second & 0x80 else b"\0\0\0\0"
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self._read(length)))
                if opcode == 0x9:
                    self.send(payload, 0xA)
                elif opcode == 0x8:
                    self.send(payload[:2], 0x8)
                    break
        except (ConnectionError, OSError, ValueError):
            pass
        finally:
            self.open = False


class FakeComfyUI(FakeHTTPServer):
    """Context manager running the fake; see the module docstring."""

    MODES = MODES
    FAULTS: ClassVar[dict[str, Reply]] = {
        "error500": json_reply(500, {"error": "Internal Server Error"}),
        "rate_limit": json_reply(429, {"error": "Too Many Requests"}, {"Retry-After": "7"}),
    }

    def __init__(self, *, mode: str = "ok", delay: float = 0.0,
                 auth: tuple[str, str] | None = None) -> None:
        super().__init__(mode=mode, delay=delay, auth=auth)
        self.prompts: list[dict[str, Any]] = []
        self.history: dict[str, dict[str, Any]] = {}
        self.files: dict[str, bytes] = {}
        self.sockets: dict[str, _WebSocket] = {}
        self.interrupts: list[str | None] = []
        self.deleted: list[str] = []
        self.cached_runs = 0
        self._jobs: queue.Queue[tuple[str, dict[str, Any], str] | None] = queue.Queue()
        self._pending: list[str] = []
        self._running: str | None = None
        self._interrupt = threading.Event()
        self._last_key: str | None = None
        self._last_id = ""

    def workers(self) -> list[Callable[[], None]]:
        return [self._work]

    def halt(self) -> None:
        self._jobs.put(None)
        self._interrupt.set()
        for ws in list(self.sockets.values()):
            ws.open = False
            with contextlib.suppress(OSError):
                ws.sock.shutdown(socket.SHUT_RDWR)

    # --- routes ---------------------------------------------------------------------------------
    def take_over(self, request: Request, handler: BaseHTTPRequestHandler) -> bool:
        """``GET /ws?clientId=``: the websocket, on the same port, without credentials."""
        if request.method != "GET" or request.path != "/ws":
            return False
        client_id = request.query("clientId")
        key = request.headers.get("sec-websocket-key", "")
        accept = base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()
        handler.send_response(101)
        handler.send_header("Upgrade", "websocket")
        handler.send_header("Connection", "Upgrade")
        handler.send_header("Sec-WebSocket-Accept", accept)
        handler.end_headers()
        handler.wfile.flush()
        ws = _WebSocket(handler.connection)
        self.sockets[client_id] = ws
        ws.send_json({"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 0}},
                                                 "sid": client_id}})
        ws.serve()
        self.sockets.pop(client_id, None)
        handler.close_connection = True
        return True

    def route(self, request: Request) -> Reply:
        refused = self.refuse(request)
        if refused is not None:
            return refused
        path, body = request.path, request.body
        if request.method == "POST":
            if path == "/prompt":
                return self._prompt(body)
            if path == "/interrupt":
                self.interrupt((body or {}).get("prompt_id"))
                return _EMPTY
            if path == "/queue":
                self.delete((body or {}).get("delete") or [])
                return _EMPTY
            return _NOT_FOUND
        if path == "/system_stats":
            return json_reply(200, {"system": {"comfyui_version": "0.3.fake"}, "devices": []})
        if path.startswith("/history/"):
            prompt_id = path.rsplit("/", 1)[1]
            entry = self.history.get(prompt_id)
            return json_reply(200, {} if entry is None else {prompt_id: entry})
        if path == "/view":
            data = self.files.get(request.query("filename"))
            return _NOT_FOUND if data is None else (200, data, "image/png", {})
        if path == "/queue":
            return json_reply(200, self.queue_state())
        return _NOT_FOUND

    def _prompt(self, body: Any) -> Reply:
        fault = self.fault()
        if fault is not None:
            return fault
        graph = body.get("prompt") if isinstance(body, dict) else None
        if not isinstance(graph, dict):
            return json_reply(400, {"error": {"type": "invalid_prompt",
                                              "message": "Invalid prompt", "details": "no prompt",
                                              "extra_info": {}},
                                    "node_errors": {}})
        problem = self.validate(graph)
        if problem is not None:
            return json_reply(400, problem)
        prompt_id = str(uuid.uuid4())
        number = self.enqueue(prompt_id, graph, str(body.get("client_id") or ""))
        return json_reply(200, {"prompt_id": prompt_id, "number": number, "node_errors": {}})

    # --- queue ----------------------------------------------------------------------------------
    def validate(self, graph: dict[str, Any]) -> dict[str, Any] | None:
        for node_id, node in graph.items():
            if not isinstance(node, dict) or "class_type" not in node:
                return {"error": {"type": "invalid_prompt", "message": "Cannot execute because "
                                  f"node {node_id} is missing the class_type property.",
                                  "details": f"Node ID '#{node_id}'", "extra_info": {}},
                        "node_errors": {}}
            ckpt = node.get("inputs", {}).get("ckpt_name")
            if node["class_type"] == "CheckpointLoaderSimple" and ckpt not in CHECKPOINTS:
                return {
                    "error": {"type": "prompt_outputs_failed_validation",
                              "message": "Prompt outputs failed validation", "details": "",
                              "extra_info": {}},
                    "node_errors": {node_id: {
                        "errors": [{"type": "value_not_in_list", "message": "Value not in list",
                                    "details": f"ckpt_name: '{ckpt}' not in {list(CHECKPOINTS)}",
                                    "extra_info": {"input_name": "ckpt_name"}}],
                        "dependent_outputs": ["9"], "class_type": node["class_type"]}},
                }
        return None

    def enqueue(self, prompt_id: str, graph: dict[str, Any], client_id: str) -> int:
        with self.lock:
            self.prompts.append(graph)
            self._pending.append(prompt_id)
            number = len(self.prompts)
        self._jobs.put((prompt_id, graph, client_id))
        return number

    def queue_state(self) -> dict[str, Any]:
        with self.lock:
            running = [[0, self._running, {}, {}, []]] if self._running else []
            pending = [[i + 1, pid, {}, {}, []] for i, pid in enumerate(self._pending)]
        return {"queue_running": running, "queue_pending": pending}

    def interrupt(self, prompt_id: str | None) -> None:
        self.interrupts.append(prompt_id)
        with self.lock:
            if prompt_id is None or prompt_id == self._running:
                self._interrupt.set()

    def delete(self, prompt_ids: list[str]) -> None:
        with self.lock:
            for prompt_id in prompt_ids:
                if prompt_id in self._pending:
                    self._pending.remove(prompt_id)
                    self.deleted.append(prompt_id)

    # --- the worker -----------------------------------------------------------------------------
    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            prompt_id, graph, client_id = job
            with self.lock:
                if prompt_id not in self._pending:
                    continue  # deleted while waiting
                self._pending.remove(prompt_id)
                self._running = prompt_id
                self._interrupt.clear()
            try:
                self._execute(prompt_id, graph, self.sockets.get(client_id))
            finally:
                with self.lock:
                    self._running = None

    def _execute(self, prompt_id: str, graph: dict[str, Any], ws: _WebSocket | None) -> None:
        def say(kind: str, **data: Any) -> None:
            if ws is not None:
                ws.send_json({"type": kind, "data": {**data, "prompt_id": prompt_id}})

        key = json.dumps(graph, sort_keys=True)
        say("execution_start", timestamp=time.time())
        if key == self._last_key and self.mode == "ok":
            self.cached_runs += 1
            say("execution_cached", nodes=sorted(graph), timestamp=time.time())
            self._finish(prompt_id, graph, say, self.history[self._last_id]["outputs"])
            return
        say("execution_cached", nodes=[], timestamp=time.time())
        sampler = next((n for n, v in graph.items() if v["class_type"] == "KSampler"), "3")
        say("executing", node=sampler)
        steps = 10
        for step in range(1, steps + 1):
            if self._interrupt.wait(self.delay / steps if self.delay else 0):
                say("execution_interrupted", node_id=sampler, node_type="KSampler",
                    executed=[])
                self._record(prompt_id, graph, {}, "error")
                return
            say("progress", value=step, max=steps, node=sampler)
            if ws is not None and step == 1:
                ws.send(b"\x00\x00\x00\x01" + b"\x89PNG fake preview", 0x2)
        if self.mode in ("oom", "refusal"):
            error = {
                "node_id": sampler if self.mode == "oom" else "10",
                "node_type": "KSampler" if self.mode == "oom" else "SafetyChecker",
                "exception_type": "torch.OutOfMemoryError" if self.mode == "oom"
                else "ValueError",
                "exception_message": "CUDA out of memory. Tried to allocate 2.00 GiB"
                if self.mode == "oom" else "NSFW content detected by the safety checker",
                "traceback": ["..."], "executed": [],
            }
            say("execution_error", **error)
            self._record(prompt_id, graph, {}, "error", [["execution_error", error]])
            return
        latent: dict[str, Any] = next((v["inputs"] for v in graph.values()
                                       if v["class_type"] == "EmptyLatentImage"), {})
        seed = int(graph.get(sampler, {}).get("inputs", {}).get("seed", 0))
        count = self.count(int(latent.get("batch_size", 1)))
        refs = []
        for index in range(count):
            name = f"flyer_{prompt_id[:8]}_{index:05d}.png"
            self.files[name] = png(seed + index, int(latent.get("width", 512)),
                                    int(latent.get("height", 512)))
            refs.append({"filename": name, "subfolder": "", "type": "temp"})
        output = next((n for n, v in graph.items()
                       if v["class_type"] in ("PreviewImage", "SaveImage")), "9")
        if self.mode == "ok":
            self._last_key, self._last_id = key, prompt_id
        self._finish(prompt_id, graph, say, {output: {"images": refs}})

    def _finish(self, prompt_id: str, graph: dict[str, Any], say: Any,
                outputs: dict[str, Any]) -> None:
        for node_id, output in outputs.items():
            say("executed", node=node_id, output=output)
        self._record(prompt_id, graph, outputs, "success")
        say("executing", node=None)
        say("execution_success", timestamp=time.time())

    def _record(self, prompt_id: str, graph: dict[str, Any], outputs: dict[str, Any],
                status: str, messages: list[Any] | None = None) -> None:
        self.history[prompt_id] = {
            "prompt": [0, prompt_id, graph, {}, list(outputs)],
            "outputs": outputs,
            "status": {"status_str": status, "completed": status == "success",
                       "messages": messages or []},
        }
