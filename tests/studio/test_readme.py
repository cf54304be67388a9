"""The README's gradio_client script works as written against a running studio."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from PIL import Image

from tests.studio.conftest import MakeStudio, RunningStudio

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_script(marker: str = 'api_name="/generate",') -> str:
    """The README's one Python block containing ``marker``."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    [script] = [b for b in blocks if marker in b]
    return script


def run_script(script: str, studio: RunningStudio, cwd: Path) -> subprocess.CompletedProcess[str]:
    script = script.replace("http://127.0.0.1:7860", studio.url).replace(
        "YOUR_API_MASTER_KEY", studio.key)
    return subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True,
                          text=True, timeout=180)


def test_readme_gradio_client_script_runs(studio_server: RunningStudio, tmp_path: Path) -> None:
    script = readme_script()
    assert ('Client("http://127.0.0.1:7860", auth=("me", "YOUR_API_MASTER_KEY"),\n'
            '                ssl_verify=ssl.create_default_context())') in script
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


def test_readme_season_script_runs(studio_server: RunningStudio, tmp_path: Path) -> None:
    from pipeline.sheets import template_csv

    (tmp_path / "events.csv").write_bytes(template_csv() + b",no title,,,,,,,,\r\n")
    result = run_script(readme_script('api_name="/generate_many"'), studio_server, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.endswith("\nrow 4: Title is required: give the event a name.\n")


def test_readme_mcp_script_runs(make_studio: MakeStudio, tmp_path: Path) -> None:
    studio = make_studio(FLYER_MCP="true")
    result = run_script(readme_script("streamablehttp_client"), studio, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    flyers = json.loads(result.stdout)["flyers"]
    assert len(flyers) == 2 and all(studio.service.get(f["id"]) for f in flyers)
