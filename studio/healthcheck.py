"""``python -m studio.healthcheck``: exit 0 when the local studio answers /healthz (Docker)."""

from __future__ import annotations

import json
import os
import ssl
import sys
import urllib.request

__all__ = ["main"]


def main() -> int:
    port = os.environ.get("GRADIO_SERVER_PORT", "7860")
    tls = bool(os.environ.get("FLYER_SSL_CERTFILE"))
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}/healthz"
    context = ssl._create_unverified_context() if tls else None  # local self-check only
    try:
        with urllib.request.urlopen(url, timeout=4, context=context) as response:
            ok = json.load(response).get("status") == "ok"
    except (OSError, ValueError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
