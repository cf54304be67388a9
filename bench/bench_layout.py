"""Layout quality benchmark: prints figures, it is not a test.

    .venv/bin/python bench/bench_layout.py [--formats a,b] [--backgrounds x,y] [--layouts ...]

Real photographs bundled with scikit-image (astronaut, camera, chelsea, coffee, rocket,
motorcycle_left, hubble_deep_field, moon) and three backgrounds from the offline procedural
generator go through five formats, every layout and ``auto``. For each flyer it measures, on the
picture as the flyer shows it (``see.analyse`` of the source, reframed through the crop):

* ``sal%``: share of the salient pixels (saliency ≥ 0.5) under text, panels, scrims, the QR
  code and the logo; ``Occ``: mean saliency under them (PosterLayout's Occ);
* ``face%``: share of the detected faces' area under them (photos with a face only);
  ``ink%``: the same without gradient scrims (their recorded box includes the soft tail that
  fades out around the text, so ``face%`` counts a face a scrim only brushes as covered);
* ``Rea``: mean edge energy under text, damped by the opacity of a panel under it;
* ``Ove``: overlap between elements; ``Ali``: misalignment (-log(1 - d), 0 = aligned);
* ``Uti``: share of the non-salient area used;
* ``ms``: compose time (the subject analysed beforehand and passed in where compose takes it).

It runs against any checkout whose ``pipeline/render`` has ``subject.py``, ``see.py`` and
``score.py`` (copy them into an older tree to measure it "before"): the crop and the panels are
read from the manifest when it has them, else rebuilt as the older compose made them (a centre
cover crop; panels and scrims from the layout).
"""

from __future__ import annotations

import argparse
import inspect
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pipeline.backends.base import PaintRequest
from pipeline.backends.procedural import ProceduralBackend
from pipeline.models import EventDetails, FlyerSpec
from pipeline.render.autolayout import edge_energy
from pipeline.render.compose import compose
from pipeline.render.formats import Format, get_format
from pipeline.render.geometry import Box, FracBox
from pipeline.render.layouts import LAYOUT_NAMES, get_layout, pixel_box
from pipeline.render.score import alignment, overlap
from pipeline.render.see import analyse
from pipeline.render.subject import Subject, box_weights, resample

__all__ = ["PHOTOS", "load_backgrounds", "main", "measure"]

PHOTOS = ("astronaut.png", "camera.png", "chelsea.png", "coffee.png", "rocket.jpg",
          "motorcycle_left.png", "hubble_deep_field.jpg", "moon.png")
PROCEDURAL = (("neon jazz club at night", 7), ("spring market, garden, flowers", 12),
              ("warm desert night, lanterns", 21))
FORMATS = ("instagram_post", "story", "x_post", "a4", "instagram_square")
GRID = 64
SALIENT = 0.5
"""A cell is a salient pixel from this saliency on."""
DETAILS = EventDetails(
    title="Midnight Jazz at the Old Harbour",
    subtitle="Live quartet · guest vocalist Léa Moreau",
    date="Saturday 14 June 2025",
    time="21:00 – 02:00",
    venue="Le Hangar, 12 quai de la Loire",
    metro="Jaurès",
    description="Modal jazz and late-night standards in a converted harbour warehouse.",
    url="https://example.org/midnight-jazz",
    organiser="Harbour Sounds Collective",
)


def photo_dir() -> Path:
    import skimage.data  # the test extra; its photographs ship inside the wheel

    return Path(skimage.data.__file__).parent


def load_backgrounds(names: Sequence[str] | None = None) -> dict[str, Image.Image]:
    """The photographs (RGB) and the procedural backgrounds, by short name."""
    out: dict[str, Image.Image] = {}
    folder = photo_dir()
    for file in PHOTOS:
        out[file.split(".")[0]] = Image.open(folder / file).convert("RGB")
    backend = ProceduralBackend()
    for prompt, seed in PROCEDURAL:
        request = PaintRequest(prompt=prompt, aspect=(512, 640), seed=seed,
                               pixel_budget=512 * 640)
        painted = backend.generate(request).images[0].image
        out["proc-" + prompt.split()[0]] = painted.convert("RGB")
    if names:
        out = {k: v for k, v in out.items() if k in names}
    return out


def _cover(src: tuple[int, int], target: tuple[int, int]) -> tuple[float, ...]:
    ratio = target[0] / target[1]
    if src[0] / src[1] > ratio:
        w, h = ratio * src[1], float(src[1])
    else:
        w, h = float(src[0]), src[0] / ratio
    left, top = (src[0] - w) / 2, (src[1] - h) / 2
    return (left, top, left + w, top + h)


def _union(boxes: list[list[int]]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def _older_panels(manifest: dict[str, Any], fmt: Format) -> list[dict[str, Any]]:
    """Panels and scrims as the older compose drew them (its manifest does not list them)."""
    variant = get_layout(manifest["layout"]).variant(fmt)
    pad = round(0.03 * min(fmt.width, fmt.height))
    els = manifest["elements"]
    qr = next((e["box"] for e in els if e["role"] == "qr"), None)
    out: list[dict[str, Any]] = []
    for p in variant.panels:
        if p.style == "solid":
            out.append({"box": list(pixel_box(p.area, (0, 0, fmt.width, fmt.height))),
                        "opacity": p.opacity})
            continue
        mine = [e["box"] for e in els if e.get("block") == p.block]
        if not mine:
            continue
        c = _union(mine)
        if p.style == "card":
            out.append({"box": [c[0] - pad, c[1] - pad, c[2] + pad, c[3] + pad],
                        "opacity": p.opacity})
        else:
            top = min(c[1], qr[1]) if qr is not None and qr[3] > c[1] else c[1]
            out.append({"box": [0, top - pad, fmt.width, fmt.height], "opacity": p.opacity})
    blocks = {e.get("block") for e in els if e.get("treatment") == "scrim"}
    for block in sorted(b for b in blocks if b):
        c = _union([e["box"] for e in els if e.get("block") == block])
        out.append({"box": [c[0] - pad, c[1] - pad, c[2] + pad, c[3] + pad], "opacity": 0.8})
    return out


def _inside(box: Sequence[float], picture: Sequence[int]) -> FracBox | None:
    w, h = picture[2] - picture[0], picture[3] - picture[1]
    out = (max(0.0, (box[0] - picture[0]) / w), max(0.0, (box[1] - picture[1]) / h),
           min(1.0, (box[2] - picture[0]) / w), min(1.0, (box[3] - picture[1]) / h))
    return out if out[2] > out[0] and out[3] > out[1] else None


def measure(manifest: dict[str, Any], bg: Image.Image, subject: Subject,
            energy: np.ndarray, fmt: Format) -> dict[str, float]:
    """sal, face (nan without a face), rea, ove, ali, uti of one finished flyer."""
    size = (fmt.width, fmt.height)
    record = manifest.get("subject") or {}
    picture = record.get("picture") or [0, 0, fmt.width, fmt.height]
    target = (picture[2] - picture[0], picture[3] - picture[1])
    crop = record.get("crop") or _cover(bg.size, target)
    frac = (crop[0] / bg.width, crop[1] / bg.height, crop[2] / bg.width, crop[3] / bg.height)
    scale = GRID / max(target)
    grid = (max(1, round(target[0] * scale)), max(1, round(target[1] * scale)))
    seen = subject.reframe(frac, grid)
    surface = resample(energy, frac, grid)
    panels = manifest["panels"] if "panels" in manifest else _older_panels(manifest, fmt)
    elements = manifest["elements"]
    covers = [b for e in elements + panels if (b := _inside(e["box"], picture)) is not None]
    solid = [b for e in elements + [p for p in panels if p.get("kind") != "scrim"]
             if (b := _inside(e["box"], picture)) is not None]
    sal = seen.saliency.astype(np.float64)
    weights = box_weights(covers, sal.shape)
    calm = 1.0 - sal
    rea_sum, area_sum = 0.0, 0.0
    for e in elements:
        if e["role"] in ("qr", "logo"):
            continue
        b = e["box"]
        damp = max((p["opacity"] for p in panels
                    if p["box"][0] <= b[0] and p["box"][1] <= b[1] and p["box"][2] >= b[2]
                    and p["box"][3] >= b[3]), default=0.0)
        frac_box = _inside(b, picture)
        mean = 0.0
        if frac_box is not None:
            cells = box_weights([frac_box], sal.shape)
            mean = float((cells * surface).sum() / max(1e-9, cells.sum()))
        area = float((b[2] - b[0]) * (b[3] - b[1]))
        rea_sum += mean * (1 - damp) * area
        area_sum += area
    boxes = [tuple(e["box"]) for e in elements]
    covered_area = float(weights.sum())
    return {
        "sal": seen.covered(covers, level=SALIENT),
        "occ": float((weights * sal).sum() / covered_area) if covered_area else 0.0,
        "face": seen.face_share(covers) if seen.faces else float("nan"),
        "ink": seen.face_share(solid) if seen.faces else float("nan"),
        "rea": rea_sum / area_sum if area_sum else 0.0,
        "ove": overlap(boxes),  # type: ignore[arg-type]
        "ali": alignment(boxes, size),  # type: ignore[arg-type]
        "uti": float((weights * calm).sum() / max(1e-9, calm.sum())),
    }


def machine() -> str:
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return (f"{platform.machine()}, nproc {len(os.sched_getaffinity(0))}, Python "
            f"{platform.python_version()}; load {load}")


def _pct(v: float) -> str:
    return "   -" if v != v else f"{100 * v:4.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--backgrounds", default="")
    parser.add_argument("--layouts", default="")
    args = parser.parse_args(argv)
    formats = [get_format(f) for f in args.formats.split(",") if f]
    backgrounds = load_backgrounds([b for b in args.backgrounds.split(",") if b] or None)
    layouts = [x for x in args.layouts.split(",") if x] or [*LAYOUT_NAMES, "auto"]
    takes_subject = "subject" in inspect.signature(compose).parameters
    spec = FlyerSpec(details=DETAILS.validated())
    print(f"machine: {machine()}")
    print(f"compose takes the subject: {takes_subject}; {len(backgrounds)} backgrounds × "
          f"{len(formats)} formats × {len(layouts)} layouts\n")

    # analysis speed (what generate pays once per background)
    print(f"{'background':20} {'size':>9} {'analyse ms':>10}  faces / objects")
    subjects: dict[str, Subject] = {}
    energies: dict[str, np.ndarray] = {}
    analyse_ms: list[float] = []
    for name, bg in backgrounds.items():
        analyse(bg)
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            subjects[name] = analyse(bg)
            runs.append((time.perf_counter() - start) * 1000)
        analyse_ms.append(min(runs))
        energies[name] = edge_energy(bg)
        s = subjects[name]
        print(f"{name:20} {bg.width:4}×{bg.height:<4} {min(runs):10.1f}  {len(s.faces)} / "
              f"{len(s.objects)}")
    print(f"analyse: median {statistics.median(analyse_ms):.1f} ms, max "
          f"{max(analyse_ms):.1f} ms (best of 5 per background)\n")

    rows: dict[str, list[dict[str, float]]] = {lay: [] for lay in layouts}
    auto_pick: dict[tuple[str, str], tuple[str, dict[str, float]]] = {}
    fixed_faces: dict[tuple[str, str], list[float]] = {}
    for name, bg in backgrounds.items():
        for fmt in formats:
            for lay in layouts:
                kwargs = {"subject": subjects[name]} if takes_subject else {}
                start = time.perf_counter()
                flyer = compose(bg, spec, lay, fmt, **kwargs)
                ms = (time.perf_counter() - start) * 1000
                m = measure(flyer.manifest, bg, subjects[name], energies[name], fmt)
                m["ms"] = ms
                rows[lay].append(m)
                if lay == "auto":
                    auto_pick[(name, fmt.name)] = (flyer.layout, m)
                else:
                    fixed_faces.setdefault((name, fmt.name), []).append(m["face"])

    print(f"{'layout':16} {'sal% med':>8} {'sal% mean':>9} {'face% mean':>10} "
          f"{'faces hit':>9} {'ink% mean':>9} {'Occ':>6} {'Rea':>6} {'Ove':>6} {'Ali':>6} "
          f"{'Uti':>5} {'ms med':>7}")
    print("-" * 109)
    for lay, items in rows.items():
        sal = [r["sal"] for r in items]
        faces = [r["face"] for r in items if r["face"] == r["face"]]
        hit = sum(1 for f in faces if f > 0)
        ink = [r["ink"] for r in items if r.get("ink", float("nan")) == r.get("ink")]
        print(f"{lay:16} {100 * statistics.median(sal):8.1f} {100 * statistics.mean(sal):9.1f} "
              f"{(100 * statistics.mean(faces)) if faces else float('nan'):10.1f} "
              f"{f'{hit}/{len(faces)}':>9} "
              f"{(100 * statistics.mean(ink)) if ink else float('nan'):9.1f} "
              f"{statistics.mean(r['occ'] for r in items):6.3f} "
              f"{statistics.mean(r['rea'] for r in items):6.3f} "
              f"{statistics.mean(r['ove'] for r in items):6.3f} "
              f"{statistics.mean(r['ali'] for r in items):6.3f} "
              f"{statistics.mean(r['uti'] for r in items):5.2f} "
              f"{statistics.median(r['ms'] for r in items):7.0f}")

    if auto_pick:
        print("\nauto, per background: layout  sal%  face%")
        print(f"{'':20}" + "".join(f"{f.name[:16]:>27}" for f in formats))
        for name in backgrounds:
            cells = []
            for fmt in formats:
                chosen, m = auto_pick[(name, fmt.name)]
                cells.append(f"{chosen[:14]:>15} {_pct(m['sal'])} {_pct(m['face'])}")
            print(f"{name:20}" + "".join(f"{c:>27}" for c in cells))
        misses = [(k, m["face"]) for k, (_, m) in auto_pick.items()
                  if m["face"] == m["face"] and m["face"] > 0
                  and any(f == 0 for f in fixed_faces.get(k, []))]
        with_face = sum(1 for _, m in auto_pick.values() if m["face"] == m["face"])
        sal = [m["sal"] for _, m in auto_pick.values()]
        print(f"\nauto covers a face although a layout keeps it clear: {len(misses)} of "
              f"{with_face} flyers with a face{'' if not misses else ': ' + str(misses)}")
        print(f"auto median salient coverage: {100 * statistics.median(sal):.1f} % "
              f"(target ≤ 15 %)")
        picks: dict[str, int] = {}
        for chosen, _ in auto_pick.values():
            picks[chosen] = picks.get(chosen, 0) + 1
        print("auto's layouts: " + ", ".join(f"{n} {c}" for n, c in
                                             sorted(picks.items(), key=lambda i: -i[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
