"""Composing in worker processes (pipeline.renderer): the same flyers as composing here, errors
that reach the caller whole, a dead worker that fails only its jobs, workers that stop."""

from __future__ import annotations

import io
import os
import pickle
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.backends.procedural import ProceduralBackend
from pipeline.errors import Busy, ConfigError, InvalidRequest, RenderError
from pipeline.executor import machine_workers, work_pool
from pipeline.models import EventDetails, FlyerRequest
from pipeline.render.subject import Subject
from pipeline.renderer import (
    AUTO_MAX,
    BACKGROUND_QUALITY,
    InlineRenderer,
    ProcessRenderer,
    RenderJob,
    decoded_background,
    make_renderer,
    process_running,
    render,
    stored_background,
    worker_threads,
)
from pipeline.service import FlyerService
from pipeline.settings import load_settings
from pipeline.storage import FlyerSource
from pipeline.store import FlyerStore
from tests.pipeline.render.photos import photo

ROOT = Path(__file__).resolve().parents[2]
DETAILS = EventDetails(title="Jazz Night", subtitle="Live quartet", date="Fri 12 Dec",
                       time="20:00", venue="Blue Room", url="https://example.org/jazz")


def _source(background: bytes = b"", details: EventDetails = DETAILS) -> FlyerSource:
    return FlyerSource(background=background, details=details, palette=(),
                       font_pairing="default", logo=None, provenance={"seed": 1})


def _painting() -> Image.Image:
    from pipeline.backends.base import PaintRequest

    request = PaintRequest(prompt="neon jazz club", aspect=(4, 5), seed=11,
                           pixel_budget=400 * 500)
    return ProceduralBackend().generate(request).images[0].image.convert("RGB")


def _upload() -> bytes:
    buffer = io.BytesIO()
    photo("astronaut.png").convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def processes() -> Iterator[ProcessRenderer]:
    renderer = ProcessRenderer(2)
    renderer.open()
    yield renderer
    renderer.close()


def test_workers_compose_the_pixels_this_process_does(processes: ProcessRenderer) -> None:
    """A painted background and an upload (analysed there, then with its analysis reused):
    pixels, manifest, stored background, analysis and encodings all equal."""
    painted = RenderJob(_source(), "auto", "instagram_post", painting=_painting(),
                        encodings=("preview", "png"))
    uploaded = RenderJob(_source(_upload()), "split_panel", "story")
    jobs = [painted, uploaded]
    here = [render(job) for job in jobs]
    there = list(processes.run(jobs))
    for mine, theirs in zip(here, there, strict=True):
        assert np.array_equal(np.asarray(mine.flyer.image), np.asarray(theirs.flyer.image))
        assert mine.flyer.manifest == theirs.flyer.manifest
        assert (mine.background, mine.subject) == (theirs.background, theirs.subject)
        assert mine.encoded == theirs.encoded
    assert set(there[0].encoded) == {"preview", "png"}
    # a job that asked for the PNG comes back without pixels: the PNG holds them
    assert there[0].canvas_is_png and not there[1].canvas_is_png
    assert not here[0].canvas_is_png  # composed here, the pixels are free
    assert there[0].background[:2] == b"\xff\xd8"  # the painting, stored as JPEG
    # the upload's analysis, given back, is reused as is
    known = replace(uploaded.source, subject=there[1].subject)
    again = list(processes.run([RenderJob(known, "split_panel", "story")]))
    assert np.array_equal(np.asarray(again[0].flyer.image), np.asarray(there[1].flyer.image))


def _pool_state() -> tuple[int, bool]:
    """In a worker: its work pool's size and whether it runs threads."""
    return work_pool().max_workers, work_pool().running


def test_a_workers_pool_is_its_share_of_the_cores(processes: ProcessRenderer) -> None:
    """At least one thread (the profile search beside the frontal one); one worker per core
    gets one, not a pool as large as the machine's cores."""
    assert [worker_threads(n, cores=8) for n in (1, 2, 4, 8, 16)] == [8, 4, 2, 1, 1]
    assert worker_threads(2, cores=2) == 1 and worker_threads(1, cores=2) == 2
    job = RenderJob(_source(), "auto", "instagram_post", painting=_painting(),
                    encodings=("png",))
    list(processes.run([job, job, job, job]))  # both workers analyse, compose and deflate
    expected = worker_threads(processes.processes)
    pool = processes._executor()
    states = {pool.submit(_pool_state).result(timeout=60) for _ in range(8)}
    assert {size for size, _ in states} == {expected}


def test_a_stored_background_is_an_optimised_jpeg_of_the_same_pixels() -> None:
    """Optimised Huffman tables: smaller than the standard ones, the same pixels decoded."""
    painting = _painting()
    kept = stored_background(painting)
    plain = io.BytesIO()
    painting.save(plain, format="JPEG", quality=BACKGROUND_QUALITY, subsampling=0)
    assert len(kept) < 0.95 * len(plain.getvalue())
    assert np.array_equal(np.asarray(decoded_background(kept)),
                          np.asarray(Image.open(io.BytesIO(plain.getvalue())).convert("RGB")))


def test_a_painting_known_to_show_no_face_is_analysed_without_the_face_searches(
        processes: ProcessRenderer) -> None:
    """``RenderJob.faces`` (from ``GeneratedImage.faces``) crosses to a worker and decides the
    analysis: a portrait said to show no face is stored with none."""
    portrait = photo("astronaut.png").convert("RGB")
    searched, said = (RenderJob(_source(), "auto", "story", painting=portrait, faces=faces)
                      for faces in (True, False))
    assert pickle.loads(pickle.dumps(said)).faces is False
    found, skipped = processes.run([searched, said])
    assert Subject.decode(found.subject).faces and not Subject.decode(skipped.subject).faces


def test_a_png_job_crosses_as_its_png_not_its_pixels() -> None:
    job = RenderJob(_source(), "auto", "instagram_post", painting=_painting(),
                    encodings=("png",))
    made = render(job)
    sent = pickle.dumps(made)
    assert len(sent) < len(made.encoded["png"]) + 300_000  # not the 4.4 MB of pixels
    back = pickle.loads(sent)
    assert back.canvas_is_png and back.flyer.image.size == (1080, 1350)
    assert np.array_equal(np.asarray(back.flyer.image.convert("RGB")),
                          np.asarray(made.flyer.image))
    without = render(replace(job, encodings=("preview",)))
    assert len(pickle.dumps(without)) > 1080 * 1350 * 3  # the pixels go when no PNG holds them


def test_a_workers_error_reaches_the_caller_whole(processes: ProcessRenderer) -> None:
    """RenderError keeps its message and field across the process boundary, and the
    worker goes on composing."""
    emoji_only = EventDetails(title="🎷🎺")
    job = RenderJob(_source(details=emoji_only), "auto", "instagram_post",
                    painting=_painting())
    with pytest.raises(RenderError, match="nothing a font can draw") as caught:
        list(processes.run([job]))
    assert caught.value.field == "title"
    assert next(processes.run([RenderJob(_source(), "auto", "x_post", painting=_painting())]))


@pytest.mark.parametrize("error", [InvalidRequest("Bad colour", field="palette"),
                                   RenderError("Too long", field="title"),
                                   ConfigError("FLYER_X", "must be 0 or more"), Busy()])
def test_pipeline_errors_pickle_with_their_fields(error: Exception) -> None:
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error) and str(back) == str(error)
    assert vars(back) == vars(error)


def _workers(renderer: ProcessRenderer) -> list[int]:
    return renderer.pids()


def test_a_dead_worker_fails_its_jobs_with_busy_and_the_next_job_works() -> None:
    renderer = ProcessRenderer(1)
    try:
        renderer.open()
        (pid,) = _workers(renderer)
        # print flyers from a 512-px upload, one worker: once the first is back, the worker
        # is busy with the next (each takes a few hundred ms) when it is killed
        jobs = [RenderJob(_source(_upload()), "auto", "a4") for _ in range(4)]
        results = renderer.run(jobs)
        assert next(results).flyer.image.size == (2550, 3578)
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(Busy, match="stopped unexpectedly"):
            list(results)
        made = next(renderer.run([RenderJob(_source(), "auto", "x_post",
                                            painting=_painting())]))
        assert made.flyer.image.size == (1600, 900)
        assert pid not in _workers(renderer)
    finally:
        renderer.close()


def test_close_stops_the_workers_and_a_later_job_starts_new_ones(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="pipeline.renderer")
    renderer = ProcessRenderer(2)
    renderer.open()
    assert "composing in 2 worker processes" in caplog.text  # said once, at start
    pids = _workers(renderer)
    assert len(pids) == 2
    renderer.close()
    deadline = time.monotonic() + 10
    while any(process_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(process_running(pid) for pid in pids)
    try:
        assert next(renderer.run([RenderJob(_source(), "auto", "x_post",
                                            painting=_painting())]))
    finally:
        renderer.close()


def test_the_setting_picks_the_renderer() -> None:
    def processes(raw: str | None) -> int | None:
        env = {} if raw is None else {"FLYER_RENDER_PROCESSES": raw}
        return load_settings(env, env_file=None).render_processes

    assert processes(None) is None and processes("auto") is None
    assert processes("0") == 0 and processes(" 3 ") == 3
    for bad in ("-1", "two", "1000"):
        with pytest.raises(ConfigError, match="FLYER_RENDER_PROCESSES"):
            processes(bad)
    assert isinstance(make_renderer(0), InlineRenderer)
    chosen = make_renderer(3)
    assert isinstance(chosen, ProcessRenderer) and chosen.processes == 3
    auto = make_renderer(None)
    cores = min(machine_workers(), AUTO_MAX)
    assert auto.processes == (cores if cores >= 2 else 0)
    # auto: worker processes for the studio server only; a script or the CLI composes here
    settings = load_settings({}, env_file=None)
    assert isinstance(FlyerService.from_settings(settings).renderer, InlineRenderer)
    served = FlyerService.from_settings(settings, server=True).renderer
    assert served.processes == auto.processes
    two = load_settings({"FLYER_RENDER_PROCESSES": "2"}, env_file=None)
    assert FlyerService.from_settings(two).renderer.processes == 2


def test_a_service_on_processes_stores_what_its_workers_made() -> None:
    """A batch composed side by side in two workers: stored, previews and the PNGs the door
    asked for kept with them (downloads compose nothing), re-render and a download's cache miss
    through the workers too; closing the service stops them."""
    settings = load_settings({"MAX_IN_MEMORY": "20"}, env_file=None)
    store = FlyerStore(max_items=20, max_bytes=10**9, ttl_seconds=600)
    renderer = ProcessRenderer(2)
    service = FlyerService(settings, ProceduralBackend(), store, renderer=renderer)
    with service:
        made = service.generate(FlyerRequest(details=DETAILS, prompt="dusk", batch_size=3),
                                encodings=("png",))
        assert len({f.id for f in made}) == 3
        assert service.compositions == 3
        for flyer in made:
            png = service.download(flyer.id, "png").data
            assert Image.open(io.BytesIO(png)).size == (1080, 1350)
            assert service.preview(flyer.id)[:2] == b"\xff\xd8"
        assert service.compositions == 3  # encoded with the composition, in the worker
        # the pixels came back as the PNG: kept as such, decoded for other downloads
        assert service.composed.nbytes < 3 * 2_000_000
        pdf = service.download(made[2].id, "pdf").data
        assert pdf[:4] == b"%PDF" and service.compositions == 3
        kept = service.composed.get(made[2].id)
        assert kept is not None and kept.image is not service.composed.get(made[2].id).image
        png = Image.open(io.BytesIO(service.download(made[2].id, "png").data)).convert("RGB")
        assert np.array_equal(np.asarray(kept.image), np.asarray(png))
        redone = service.rerender(made[0].id, layout="bottom_band")
        assert redone.layout == "bottom_band" and service.compositions == 4
        service.composed.discard(made[1].id)
        assert service.download(made[1].id, "pdf").data[:4] == b"%PDF"
        assert service.compositions == 5
        pids = _workers(renderer)
    assert renderer.pids() == []
    deadline = time.monotonic() + 10
    while any(process_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(process_running(pid) for pid in pids)


def test_workers_end_when_their_server_is_killed(tmp_path: Path) -> None:
    """A server killed outright (no shutdown) leaves no composing process behind."""
    script = tmp_path / "server.py"
    script.write_text(
        "import time\n"
        "from pipeline.renderer import ProcessRenderer\n"
        "if __name__ == '__main__':  # the workers import this module too\n"
        "    renderer = ProcessRenderer(2)\n"
        "    renderer.open()\n"
        "    print(' '.join(map(str, renderer.pids())), flush=True)\n"
        "    time.sleep(120)\n")
    server = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert server.stdout is not None
        workers = [int(pid) for pid in server.stdout.readline().split()]
        assert len(workers) == 2 and all(process_running(pid) for pid in workers)
        children = _descendants(server.pid)  # the fork server and the workers
        assert set(workers) <= set(children)
    finally:
        server.kill()
        server.wait()
    deadline = time.monotonic() + 10
    while any(process_running(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [pid for pid in children if process_running(pid)] == []


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*"):
            kids = [int(c) for c in (task / "children").read_text().split()]
            found += kids
            todo += kids
    return found


def test_where_processes_cannot_start_the_renderer_composes_here(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A platform without POSIX semaphores (some serverless sandboxes): one warning, and the
    studio composes in its own process instead of failing to start."""
    import pipeline.renderer as renderer_module

    def no_semaphores(*args: object, **kwargs: object) -> None:
        raise OSError(38, "Function not implemented: sem_open")

    monkeypatch.setattr(renderer_module, "ProcessPoolExecutor", no_semaphores)
    renderer = ProcessRenderer(2)
    renderer.open()
    assert renderer.fallback and renderer.pids() == []
    assert "cannot start composing processes" in caplog.text
    made = next(renderer.run([RenderJob(_source(), "auto", "x_post", painting=_painting())]))
    assert made.flyer.image.size == (1600, 900)
    renderer.close()


def test_a_stuck_composition_is_stopped_and_the_next_job_works() -> None:
    """A job past the time limit (here 50 ms for a print page that takes far longer): its
    worker is killed, the caller told to try again, and new workers take the next job."""
    renderer = ProcessRenderer(1, job_timeout=0.05)
    try:
        renderer.open()
        (stuck,) = renderer.pids()
        with pytest.raises(Busy, match=r"took longer than 0\.05 s"):
            list(renderer.run([RenderJob(_source(_upload()), "auto", "a4")]))
        deadline = time.monotonic() + 10
        while process_running(stuck) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not process_running(stuck)
        renderer.job_timeout = 60
        made = next(renderer.run([RenderJob(_source(), "auto", "x_post",
                                            painting=_painting())]))
        assert made.flyer.image.size == (1600, 900)
    finally:
        renderer.close()
