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


def run_many(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYER_", "STABLE_"))}
    env["FLYER_BACKEND"] = "procedural"
    return subprocess.run([str(BIN), "render-many", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_render_many_makes_a_folder_per_event_and_reports_bad_rows(tmp_path: Path) -> None:
    made = run_many(["events.csv", "--template"], tmp_path)
    assert made.returncode == 0, made.stderr
    lines = (tmp_path / "events.csv").read_text(encoding="utf-8-sig").splitlines()
    lines += [",no title,,,,,,,,", "Bad link,,,,,,,javascript:alert(1),,"]  # rows 4 and 5
    (tmp_path / "events.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_many(["events.csv", "--out", "out", "--format", "a5", "--variants", "2",
                       "--font", "classic"], tmp_path)
    assert result.returncode == 3, result.stderr  # some rows have problems
    assert result.stderr.splitlines() == [
        "row 4: Title is required: give the event a name.",
        "row 5: Link: use an http(s), mailto: or tel: address (e.g. https://example.org).",
    ]
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "002-late-night-jazz", "003-spring-book-fair", "contact-sheet.jpg", "report.json"]
    jazz = sorted(p.name for p in (out / "002-late-night-jazz").iterdir())
    assert jazz == [f"late-night-jazz-{n}.{ext}" for n in (1, 2) for ext in ("json", "pdf", "png")]
    report = json.loads((out / "report.json").read_text())
    assert (report["made"], report["flyers"], len(report["problems"])) == (2, 4, 2)
    assert "2 of 4 events, 4 flyers" in result.stdout


def test_render_many_refuses_what_no_row_could_use(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("date,venue\n1 May,Hall\n")
    result = run_many(["e.csv", "--out", "out"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("flyer-studio: The sheet has no title column")
    missing = run_many(["nope.xlsx", "--out", "out"], tmp_path)
    assert missing.returncode != 0 and "cannot read sheet" in missing.stderr
