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

Modes: ``ok``; ``slow`` (``delay`` s of progress; interrupt ends it); ``garbage`` (``/prompt``
answers HTML); ``few_images``; ``oom`` and ``refusal`` (``execution_error`` from the sampler /
a safety checker); ``error500`` (``/prompt`` 500); ``rate_limit`` (429, ``Retry-After: 7``).
``auth=(user, password)`` answers 401 without HTTP Basic credentials, as a proxy would.
Running the same workflow twice is a fully cached execution (instant, no progress).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import queue
import socket
import struct
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
from PIL import Image

from tests.fake_sd import seed_colours

__all__ = ["CHECKPOINTS", "MODES", "FakeComfyUI"]

MODES = ("ok", "slow", "garbage", "few_images", "oom", "refusal", "error500", "rate_limit")
CHECKPOINTS = ("v1-5-pruned-emaonly.safetensors", "sd_xl_base_1.0.safetensors")
_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _png(seed: int, width: int, height: int) -> bytes:
    top, bottom = seed_colours(seed)
    t = (np.add.outer(np.arange(height), np.arange(width)) / max(1, width + height - 2))[..., None]
    pixels = np.array(top, float) * (1 - t) + np.array(bottom, float) * t
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8), "RGB").save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


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


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _json(self, status: int, payload: object, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            return None

    def _authorised(self) -> bool:
        fake = self.server.fake
        if fake.auth is None:
            return True
        expected = "Basic " + base64.b64encode(":".join(fake.auth).encode()).decode()
        if self.headers.get("Authorization") == expected:
            return True
        self._json(401, {"error": "Unauthorized"}, {"WWW-Authenticate": "Basic"})
        return False

    def do_GET(self) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        if parts.path == "/ws":
            self._websocket(parse_qs(parts.query).get("clientId", [""])[0])
            return
        if not self._authorised():
            return
        if parts.path == "/system_stats":
            self._json(200, {"system": {"comfyui_version": "0.3.fake"}, "devices": []})
        elif parts.path.startswith("/history/"):
            entry = fake.history.get(parts.path.rsplit("/", 1)[1])
            self._json(200, {} if entry is None else {parts.path.rsplit("/", 1)[1]: entry})
        elif parts.path == "/view":
            name = parse_qs(parts.query).get("filename", [""])[0]
            data = fake.files.get(name)
            if data is None:
                self._json(404, {"error": "not found"})
            else:
                self._send(200, data, "image/png")
        elif parts.path == "/queue":
            self._json(200, fake.queue_state())
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        fake = self.server.fake
        body = self._body()
        if not self._authorised():
            return
        if self.path == "/prompt":
            self._prompt(body)
        elif self.path == "/interrupt":
            fake.interrupt((body or {}).get("prompt_id"))
            self._send(200, b"", "text/plain")
        elif self.path == "/queue":
            fake.delete((body or {}).get("delete") or [])
            self._send(200, b"", "text/plain")
        else:
            self._json(404, {"error": "not found"})

    def _prompt(self, body: Any) -> None:
        fake = self.server.fake
        mode = fake.mode
        if mode == "garbage":
            self._send(200, b"<html><body>Welcome to nginx!</body></html>", "text/html")
            return
        if mode == "error500":
            self._json(500, {"error": "Internal Server Error"})
            return
        if mode == "rate_limit":
            self._json(429, {"error": "Too Many Requests"}, {"Retry-After": "7"})
            return
        graph = body.get("prompt") if isinstance(body, dict) else None
        if not isinstance(graph, dict):
            self._json(400, {"error": {"type": "invalid_prompt", "message": "Invalid prompt",
                                       "details": "no prompt", "extra_info": {}},
                             "node_errors": {}})
            return
        problem = fake.validate(graph)
        if problem is not None:
            self._json(400, problem)
            return
        prompt_id = str(uuid.uuid4())
        number = fake.enqueue(prompt_id, graph, str(body.get("client_id") or ""))
        self._json(200, {"prompt_id": prompt_id, "number": number, "node_errors": {}})

    def _websocket(self, client_id: str) -> None:
        key = self.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        ws = _WebSocket(self.connection)
        fake = self.server.fake
        fake.sockets[client_id] = ws
        ws.send_json({"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 0}},
                                                 "sid": client_id}})
        ws.serve()
        fake.sockets.pop(client_id, None)
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeComfyUI


class FakeComfyUI:
    """Context manager running the fake; see the module docstring."""

    def __init__(self, *, mode: str = "ok", delay: float = 0.0,
                 auth: tuple[str, str] | None = None) -> None:
        self.mode = mode
        self.delay = delay
        self.auth = auth
        self.url = ""
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
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._threads: list[threading.Thread] = []

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in MODES:
            raise ValueError(f"unknown FakeComfyUI mode {value!r}; valid: {', '.join(MODES)}")
        self._mode = value

    def __enter__(self) -> FakeComfyUI:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        for target in (lambda: server.serve_forever(poll_interval=0.05), self._work):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._jobs.put(None)
        self._interrupt.set()
        for ws in list(self.sockets.values()):
            ws.open = False
            with contextlib.suppress(OSError):
                ws.sock.shutdown(socket.SHUT_RDWR)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

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
        with self._lock:
            self.prompts.append(graph)
            self._pending.append(prompt_id)
            number = len(self.prompts)
        self._jobs.put((prompt_id, graph, client_id))
        return number

    def queue_state(self) -> dict[str, Any]:
        with self._lock:
            running = [[0, self._running, {}, {}, []]] if self._running else []
            pending = [[i + 1, pid, {}, {}, []] for i, pid in enumerate(self._pending)]
        return {"queue_running": running, "queue_pending": pending}

    def interrupt(self, prompt_id: str | None) -> None:
        self.interrupts.append(prompt_id)
        with self._lock:
            if prompt_id is None or prompt_id == self._running:
                self._interrupt.set()

    def delete(self, prompt_ids: list[str]) -> None:
        with self._lock:
            for prompt_id in prompt_ids:
                if prompt_id in self._pending:
                    self._pending.remove(prompt_id)
                    self.deleted.append(prompt_id)

    # --- the worker -----------------------------------------------------------------------------
    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            prompt_id, graph, client_id = job
            with self._lock:
                if prompt_id not in self._pending:
                    continue  # deleted while waiting
                self._pending.remove(prompt_id)
                self._running = prompt_id
                self._interrupt.clear()
            try:
                self._execute(prompt_id, graph, self.sockets.get(client_id))
            finally:
                with self._lock:
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
        latent = next((v["inputs"] for v in graph.values()
                       if v["class_type"] == "EmptyLatentImage"), {})
        seed = int(graph.get(sampler, {}).get("inputs", {}).get("seed", 0))
        count = int(latent.get("batch_size", 1)) - (1 if self.mode == "few_images" else 0)
        refs = []
        for index in range(count):
            name = f"flyer_{prompt_id[:8]}_{index:05d}.png"
            self.files[name] = _png(seed + index, int(latent.get("width", 512)),
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
