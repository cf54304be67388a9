"""The login page tells a locked-out person why and for how long.

Gradio's login form only reacts to 400 ("Incorrect credentials") and 200; a 429 from the login
throttle left the form silent. :class:`LoginPageScript` adds a small script to the studio's
HTML page that shows the 429's message ("Too many failed logins; try again in N minutes.") in
the form. The page before login gets no ``head`` from Gradio, hence a middleware rather than
``mount_gradio_app(head=...)``.
"""

from __future__ import annotations

from .asgi import ASGIApp, Message, Receive, Scope, Send

__all__ = ["LOGIN_LOCKOUT_JS", "LoginPageScript"]


PAGE_PATHS = frozenset({"/", ""})

LOGIN_LOCKOUT_JS = rb"""<script>
(() => {
  // Gradio's login form shows nothing when /login answers 429: show the studio's message
  // ("Too many failed logins; try again in N minutes.") in the form instead.
  const send = window.fetch.bind(window);
  window.fetch = async (input, init) => {
    const response = await send(input, init);
    const url = typeof input === "string" ? input : (input && input.url) || "";
    const method = ((init && init.method) || (input && input.method) || "GET").toUpperCase();
    if (method === "POST" && /\/login\/?$/.test(new URL(url, location.href).pathname)) {
      let note = document.getElementById("fs-login-error");
      // Gradio's own "Incorrect credentials" line (p.creds) would contradict the lockout
      const creds = () => document.querySelectorAll("p.creds");
      if (response.status === 429) {
        let detail = "Too many failed logins; try again later.";
        try { detail = (await response.clone().json()).detail || detail; } catch (e) {}
        if (!note) {
          note = document.createElement("p");
          note.id = "fs-login-error";
          note.setAttribute("role", "alert");
          note.style.cssText = "color:#b91c1c;font-weight:600;margin:8px 0;";
          const heading = document.querySelector("h2");
          if (heading && heading.parentNode) heading.after(note);
          else document.body.prepend(note);
        }
        note.textContent = detail;
        creds().forEach((line) => { line.style.display = "none"; });
      } else {
        if (note) note.remove();
        creds().forEach((line) => { line.style.display = ""; });
      }
    }
    return response;
  };
})();
</script>"""
"""Gradio's login form shows nothing on 429: this shows the lockout message instead."""


class LoginPageScript:
    """ASGI middleware: inserts :data:`LOGIN_LOCKOUT_JS` before ``</head>`` of the page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope.get("method") != "GET"
                or scope.get("path") not in PAGE_PATHS):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def collect(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            await _send_page(send, start, b"".join(chunks))

        await self.app(scope, receive, collect)


async def _send_page(send: Send, start: Message, body: bytes) -> None:
    headers = [(k, v) for k, v in start.get("headers", [])]
    html = any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers)
    if html and start.get("status") == 200 and b"</head>" in body:
        body = body.replace(b"</head>", LOGIN_LOCKOUT_JS + b"\n</head>", 1)
        headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode("ascii")))
    await send({**start, "headers": headers})
    await send({"type": "http.response.body", "body": body})
