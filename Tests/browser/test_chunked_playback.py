"""A video split into chunks across two workers (`VSTREAM_CHUNK_SECONDS`) and stitched back
plays in Debian's Chromium from start to end, across every seam between chunks, on the
production backends (SeaweedFS, PostgreSQL, Redis)."""
import re

import pytest
from playwright.sync_api import sync_playwright

from conftest import ARTIFACTS, FIXTURES, launch_chromium, production_backends, server_logs, upload, wait_ready


@pytest.fixture()
def chunked_server():
    # 4 s chunks of the 10 s fixture: chunks start at 0, 4 and 8 s. `serve`'s own worker and
    # one more `vstream worker` share the stream.
    yield from production_backends({"VSTREAM_CHUNK_SECONDS": "4"}, workers=1)


def test_a_chunked_video_plays_across_its_seams_in_chromium(chunked_server):
    base = chunked_server
    video, owner = upload(base, FIXTURES / "upload_30mb.mp4")
    body = wait_ready(base, video, owner)
    assert body["status"] == "READY", body
    assert abs(body["durationSeconds"] - 10) < 0.1, body

    lines = [line for line in server_logs(base).splitlines() if video in line]
    chunks = sorted(int(m.group(1)) for line in lines if "chunk encoded" in line
                    for m in [re.search(r"chunk=(\d+)", line)] if m)
    assert chunks == [0, 1, 2], "\n".join(lines[-20:])
    assert sum("stitched" in line for line in lines) == 1

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page()
        page.goto(base + f"watch/{video}")
        page.wait_for_function(
            "(() => { const v = document.getElementById('player'); return v.currentTime > 1 && v.videoWidth > 0; })()",
            timeout=60_000)
        assert page.eval_on_selector("#player", "v => v.currentSrc").endswith("master.m3u8")
        # Into each later chunk, just before its first segment ends: it plays on from there.
        for start in (4.2, 8.2):
            page.eval_on_selector("#player", f"v => {{ v.currentTime = {start}; v.play(); }}")
            page.wait_for_function(
                f"(() => {{ const v = document.getElementById('player'); return v.currentTime > {start + 1} || v.ended; }})()",
                timeout=30_000)
        page.wait_for_function("document.getElementById('player').ended", timeout=30_000)
        state = page.eval_on_selector("#player", "v => ({error: v.error && v.error.message, time: v.currentTime, "
                                      "width: v.videoWidth})")
        assert state["error"] is None and state["time"] > 9.5 and state["width"] in (640, 1280), state
        page.screenshot(path=str(ARTIFACTS / "chunked-playback.png"), full_page=True)
        browser.close()
