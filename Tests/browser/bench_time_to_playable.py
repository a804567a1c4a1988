"""The time-to-playable benchmark (`make bench-service`; not part of `make test`).

For each standard input (fixtures/make_bench_input.sh; BENCH_SECONDS, default "20,60") and
each backend (the embedded default; SeaweedFS + PostgreSQL + Redis), measured from the 202
of `complete`:
- playable: the first playback URL (the `playable` event, or a state that carries one);
- first frame: a Chromium viewer, ready before the upload ends, is given that URL's 360p
  EVENT playlist at once (this host's two cores also run the transcode: a viewer decoding
  1080p in software would take the cores the engine needs); the time its <video> fires
  `playing`;
- READY: the `ready` event, and how long after the last progress event it came (progress is
  sent at most 4 times a second, so this bounds from above what storing the outputs left to
  do once the last frame was encoded);
- stalls: `waiting` events after playback started, while the viewer plays to the end;
and, beside them, the engine alone (`vstream transcode --progressive --dash`, the service's
ladder, the same binary) on the same input: its early master (the time `live.m3u8` appears, the
least any service built on it can take to playable on this machine) and its whole run. The
difference between playable and the engine's early master is what the service adds. The table
goes to .build/bench-time-to-playable.md.

Inputs listed in BENCH_PLAYABLE_ONLY (default "600") are measured to the first frame only,
then deleted (which cancels the transcode): on this 2-core machine a 10-minute input takes
about 18 minutes per run, and what it shows is that playable does not grow with the length.
"""
import os
import shutil
import subprocess
import tempfile
import time

import pytest
from playwright.sync_api import sync_playwright

from conftest import ARTIFACTS, FIXTURES, ROOT, VSTREAM, call, launch_chromium, upload
from test_watch_while_transcoding import events

SECONDS = [int(s) for s in os.environ.get("BENCH_SECONDS", "20,60").split(",") if s.strip()]
PLAYABLE_ONLY = {int(s) for s in os.environ.get("BENCH_PLAYABLE_ONLY", "600").split(",") if s.strip()}
RESULTS = []


def bench_input(seconds):
    path = FIXTURES / f"bench_1080p_{seconds}s.mp4"
    subprocess.run(["bash", str(ROOT / "fixtures" / "make_bench_input.sh"), str(seconds), str(path)], check=True,
                   stdout=subprocess.DEVNULL)
    return path


def engine_alone(path, whole):
    """(seconds to the early master, seconds to the end or None): `vstream transcode` making the
    ladder the service makes (VSTREAM_DASH is on by default; progressive, as the service runs
    it). With `whole` false it is stopped once the early master is written."""
    out = tempfile.mkdtemp(prefix="vstream-engine-")
    started = time.monotonic()
    process = subprocess.Popen([str(VSTREAM), "transcode", str(path), "-o", out, "--progress", "none",
                                "--progressive", "--dash"], stdout=subprocess.DEVNULL)
    try:
        early = None
        while process.poll() is None and early is None:
            if os.path.exists(os.path.join(out, "live.m3u8")):
                early = time.monotonic() - started
            else:
                time.sleep(0.01)
        if not whole:
            process.terminate()
            process.wait()
            return early, None
        assert process.wait() == 0
        return early, time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        shutil.rmtree(out, ignore_errors=True)


@pytest.mark.parametrize("seconds", SECONDS)
@pytest.mark.parametrize("backends", ["server", "production_server"])
def test_time_to_playable(backends, seconds, request):
    path = bench_input(seconds)
    whole = seconds not in PLAYABLE_ONLY
    engine_early, engine = engine_alone(path, whole)
    base = request.getfixturevalue(backends)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page()
        page.goto(base)
        video, token = upload(base, path)
        completed = time.monotonic()
        stream = events(base, video, token)
        url = None
        for kind, data in stream:
            if data.get("playbackUrl"):
                url = data["playbackUrl"]
                break
        playable = time.monotonic() - completed
        absolute = url if url.startswith("http") else base.rstrip("/") + url
        # The page's player for the progressive ladder (web/live-player.js), on its 360p rung.
        page.evaluate("""url => new Promise(async resolve => {
            const { playLive } = await import('/live-player.js');
            const v = document.createElement('video');
            v.id = 'viewer'; v.muted = true; window.stalls = 0; window.failure = null; let started = false;
            v.addEventListener('playing', () => { if (!started) { started = true; resolve(); } });
            v.addEventListener('waiting', () => { if (started) window.stalls++; });
            document.body.append(v);
            playLive(v, url, {onError: (e) => { window.failure = String(e); resolve(); }});
            v.play().catch(() => {});
        })""", absolute)
        first_frame = time.monotonic() - completed
        ready = encoded = None
        stalls = "not measured"
        if whole:
            for kind, data in stream:
                if kind == "progress":
                    encoded = time.monotonic() - completed
                if kind == "ready":
                    ready = time.monotonic() - completed
                    break
            page.wait_for_function("document.getElementById('viewer').ended || window.failure",
                                   timeout=(seconds + 120) * 1000)
            stalls = page.evaluate("window.failure ? 'gave up' : window.stalls")
        else:
            status, _ = call(base + f"api/videos/{video}", "DELETE", token=token)
            assert status == 204
        browser.close()
    RESULTS.append((seconds, backends, playable, first_frame, engine_early, ready, encoded, engine, stalls))
    rows = ["| input | backend | playable | first frame in Chromium | engine alone: early master | service adds "
            "| READY | after the last progress | engine alone | READY / engine | viewer |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s, b, pl, ff, ee, rd, ec, en, st in sorted(RESULTS, key=lambda row: (row[0], row[1])):
        name = "embedded default" if b == "server" else "SeaweedFS + Redis + PostgreSQL"
        length = f"{s // 60} min" if s >= 120 else f"{s} s"
        early = f"{ee:.1f} s | {pl - ee:+.1f} s" if ee is not None else "not measured | "
        if rd is None or en is None:
            rows.append(f"| {length} | {name} | {pl:.1f} s | {ff:.1f} s | {early} | not measured | | | | {st} |")
        else:
            tail = f"{rd - ec:.2f} s" if ec is not None else "not seen"
            rows.append(f"| {length} | {name} | {pl:.1f} s | {ff:.1f} s | {early} | {rd:.1f} s | {tail} | {en:.1f} s "
                        f"| {rd / en:.2f}× | {st} |")
    table = "\n".join(rows) + "\n"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ROOT / ".build" / "bench-time-to-playable.md").write_text(table)
    print("\n" + table)
