"""`flyer-studio render`: files for scripts, one-line errors and a non-zero exit on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from pipeline.export import read_provenance
from pipeline.render.formats import get_format

BIN = Path(sys.executable).parent / "flyer-studio"


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYER_", "STABLE_"))}
    env["FLYER_BACKEND"] = "procedural"
    return subprocess.run(
        [str(BIN), "render", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_render_writes_pngs_pdfs_and_manifests(tmp_path: Path) -> None:
    result = run(
        ["--title", "Jazz Night", "--venue", "Blue Room", "--url", "https://example.org/j",
         "--batch", "2", "--seed", "9", "--format", "a5", "--layout", "bottom_band",
         "--palette", "#112233,#f0c040", "--font", "classic", "--out", "out"],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "flyer-1.json", "flyer-1.pdf", "flyer-1.png", "flyer-2.json", "flyer-2.pdf", "flyer-2.png"
    ]
    manifest = json.loads((out / "flyer-2.json").read_text())
    assert manifest["layout"] == "bottom_band" and manifest["provenance"]["seed"] == 10
    assert manifest["palette"] == ["#112233", "#f0c040"]
    png = (out / "flyer-1.png").read_bytes()
    assert read_provenance(png)["provenance"]["seed"] == 9
    a5 = get_format("a5")
    assert Image.open(out / "flyer-1.png").size == (a5.width, a5.height)
    assert (out / "flyer-1.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--title", "  "], "Title is required"),
        (["--title", "T", "--layout", "zigzag"], "Unknown layout"),
        (["--title", "T", "--format", "99x99"], "out of bounds"),
        (["--title", "T", "--batch", "50"], "Batch size"),
        (["--title", "T", "--logo", "missing.png"], "cannot read logo"),
        (["--title", "T", "--palette", "red"], "hex code"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(
    tmp_path: Path, args: list[str], fragment: str
) -> None:
    result = run([*args, "--out", "out"], tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_render_help_lists_the_choices(tmp_path: Path) -> None:
    result = run(["--help"], tmp_path)
    assert result.returncode == 0
    text = " ".join(result.stdout.split())  # argparse wraps lines
    for name in ("split_panel", "headline_top", "instagram_post", "story", "a4",
                 "1200x628", "classic", "slab"):
        assert name in text, name
