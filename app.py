"""Hugging Face Space entry point (README front matter: app_file: app.py).

Spaces set GRADIO_SERVER_NAME/GRADIO_SERVER_PORT; API_MASTER_KEY and STABLE_DIFUSION_INSTANCE come
from the Space's secrets. Runs from the repository root without installing the package.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from studio.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["serve"]))
