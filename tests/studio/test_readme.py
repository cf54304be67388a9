"""The README's gradio_client script works as written against a running studio."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from PIL import Image

from tests.studio.conftest import RunningStudio

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_script() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    [script] = [b for b in blocks if "gradio_client" in b]
    return script


def test_readme_gradio_client_script_runs(studio_server: RunningStudio, tmp_path: Path) -> None:
    script = readme_script()
    assert 'Client("http://127.0.0.1:7860", auth=("me", "YOUR_API_MASTER_KEY"))' in script
    script = script.replace("http://127.0.0.1:7860", studio_server.url).replace(
        "YOUR_API_MASTER_KEY", studio_server.key
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = tmp_path / "flyers"
    pngs = sorted(out.glob("flyer-?.png"))
    assert len(pngs) == 3
    assert Image.open(pngs[0]).size == (1080, 1350)
    pdf = (out / "flyer-1-a4.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    manifest = json.loads((out / "flyer-1-a4.json").read_text())
    assert manifest["format"]["name"] == "a4" and manifest["rerendered_from"]
    assert len(list(out.glob("flyer-?.json"))) == 3
