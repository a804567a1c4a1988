"""Watch while it transcodes, through a live `vstream serve`, on the embedded default and
on SeaweedFS + PostgreSQL + Redis: the `playable` event comes before `ready`, the API says
playable while PROCESSING, and viewers started at that moment on the progressive master
(live.m3u8) follow the growing EVENT playlists to their end: Chromium, through the page's
MSE player, shows every frame and reaches `ended`, the ffmpeg CLI (-live_start_index 0) decodes every frame, GStreamer's playbin
reaches EOS."""
import json
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from conftest import ARTIFACTS, FIXTURES, LOG_FOLDERS, call, launch_chromium, server_logs, upload


def events(base, video, token):
    """Yields (kind, data) from the video's SSE stream, with the owner's credential."""
    request = urllib.request.Request(base + f"api/videos/{video}/events", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=120) as stream:
        kind = None
        for raw in stream:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind:
                yield kind, json.loads(line[6:])
                kind = None


def source_frames(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
                          "stream=nb_read_frames", "-of", "csv=p=0", str(path)], capture_output=True, text=True)
    return int(out.stdout.strip().rstrip(","))


@pytest.mark.parametrize("backends", ["server", "production_server"])
def test_viewers_started_at_playable_follow_the_growing_ladder_to_its_end(backends, request):
    base = request.getfixturevalue(backends)
    fixture = FIXTURES / "upload_30mb.mp4"
    video, token = upload(base, fixture)
    completed = time.monotonic()
    stream = events(base, video, token)
    seen, live_url = [], None
    for kind, data in stream:
        seen.append(kind)
        if data.get("playbackUrl") and data.get("status") == "PROCESSING":
            live_url = data["playbackUrl"]
            break
        assert kind not in ("ready", "failed"), f"{kind} before the video was playable: {seen}"
    assert live_url and live_url.endswith("/live.m3u8"), seen
    playable_after = time.monotonic() - completed
    status, body = call(base + f"api/videos/{video}")
    assert status == 200 and body["playable"] is True and body["playbackUrl"] == live_url
    url = live_url if live_url.startswith("http") else base.rstrip("/") + live_url

    work = Path(tempfile.mkdtemp(prefix="vstream-live-"))
    # The viewers yield the cores to the transcode they watch (this host has two): a
    # transcode slower than the video is not what this test is about.
    ffmpeg = subprocess.Popen(["nice", "-n", "15", "ffmpeg", "-nostdin", "-v", "error", "-live_start_index", "0", "-i", url,
                               "-map", "0:v:0", "-f", "framemd5", str(work / "frames.txt")],
                              stderr=open(work / "ffmpeg.err", "w"))
    gstreamer = subprocess.Popen(["nice", "-n", "15", "gst-launch-1.0", "playbin", f"uri={url}", "video-sink=fakesink sync=true",
                                  "audio-sink=fakesink sync=true"], stdout=open(work / "gst.out", "w"),
                                 stderr=subprocess.STDOUT)
    chromium = work / "chromium"
    chromium.write_text('#!/bin/sh\nexec nice -n 10 /usr/bin/chromium "$@"\n')
    chromium.chmod(0o755)
    with sync_playwright() as p:
        browser = launch_chromium(p, chromium)
        page = browser.new_page()
        page.goto(base)
        # The page's player for the growing ladder (web/live-player.js: MSE, because
        # Chromium's native HLS fails or skips ahead when it joins a playlist this young).
        page.evaluate("""async url => {
            const { playLive } = await import('/live-player.js');
            const v = document.createElement('video');
            v.id = 'viewer'; v.muted = true; window.viewer = {waits: 0, started: false, failure: null};
            v.addEventListener('playing', () => { window.viewer.started = true; });
            v.addEventListener('waiting', () => { if (window.viewer.started) window.viewer.waits++; });
            document.body.append(v);
            playLive(v, url, {onError: (e) => { window.viewer.failure = String(e); }});
            v.play().catch(() => {});
        }""", url)
        try:
            page.wait_for_function("document.getElementById('viewer').ended", timeout=90_000)
        except Exception as error:
            # What the player had, and what the service said: enough to tell a stall from a slow host.
            state = page.evaluate("""(() => { const v = document.getElementById('viewer');
                const ranges = [...Array(v.buffered.length).keys()].map(i => [v.buffered.start(i), v.buffered.end(i)]);
                return {time: v.currentTime, duration: v.duration, ready: v.readyState, network: v.networkState,
                        error: v.error && v.error.message, buffered: ranges, waits: window.viewer.waits,
                        failure: window.viewer.failure}; })()""")
            logs = server_logs(base) if base in LOG_FOLDERS else ""
            raise AssertionError(f"the viewer never ended: {state}\n{logs[-4000:]}") from error
        position = page.evaluate("document.getElementById('viewer').currentTime")
        assert position > 9.5, f"ended at {position} s of a 10 s video"
        # Every frame reached the renderer (decoded, if not all drawn on a busy host): nothing skipped.
        shown = page.evaluate("document.getElementById('viewer').getVideoPlaybackQuality().totalVideoFrames")
        assert shown >= 0.95 * source_frames(fixture), f"Chromium showed {shown} frames"
        browser.close()

    remaining = [kind for kind, _ in stream]
    assert remaining and remaining[-1] == "ready", remaining
    assert ffmpeg.wait(timeout=120) == 0, (work / "ffmpeg.err").read_text()
    frames = [line for line in (work / "frames.txt").read_text().splitlines() if not line.startswith("#")]
    assert len(frames) == source_frames(fixture), "the live viewer decoded every frame"
    assert gstreamer.wait(timeout=120) == 0, (work / "gst.out").read_text()[-2000:]
    assert "Got EOS from element \"playbin" in (work / "gst.out").read_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"time-to-playable-{backends}.txt").write_text(f"{playable_after:.2f} s\n")
    print(f"{backends}: playable {playable_after:.2f} s after complete; Chromium showed {shown} frames")


def test_a_private_video_plays_while_it_transcodes_only_with_a_token(server):
    """The `playable` event of a private video carries no URL; its owner asks for a
    playback token, which opens the progressive master while it is PROCESSING; without
    the token, its objects get 403."""
    video, token = upload(server, FIXTURES / "upload_30mb.mp4", visibility="private")
    for kind, data in events(server, video, token):
        assert kind not in ("ready", "failed"), "playable never came"
        if kind == "playable":
            assert data.get("playbackUrl") is None, data
            break
    status, grant = call(server + f"api/videos/{video}/playback", "POST", token=token)
    assert status == 200 and grant["playbackUrl"].endswith(f"/{video}/live.m3u8"), grant
    assert call(server + f"api/videos/{video}", token=token)[1]["status"] == "PROCESSING"
    status, master = call(server.rstrip("/") + grant["playbackUrl"])
    assert status == 200 and master.startswith(b"#EXTM3U"), master
    assert call(server + f"hls/{video}/live.m3u8")[0] == 403
    assert call(server + f"api/videos/{video}/playback", "POST")[0] == 404, "a stranger learns nothing"


def test_the_page_plays_a_private_video_while_it_transcodes(server):
    """Uploaded from the page as private: the `playable` event has no URL, so the page asks
    for a playback grant and starts on the token's progressive master before READY."""
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page()
        page.goto(server)
        page.select_option("#visibility", "private")
        page.set_input_files("#file", str(FIXTURES / "upload_30mb.mp4"))
        page.wait_for_function("window.vstreamStartedLive === true", timeout=120_000)
        # The page asks for its playback grant first, so the source follows a moment later.
        page.wait_for_function("document.getElementById('player').dataset.source !== undefined", timeout=30_000)
        source = page.eval_on_selector("#player", "v => v.dataset.source")
        assert "/hls/t/" in source and source.endswith("/live.m3u8"), source
        video = source.rstrip("/").split("/")[-2]
        status = page.evaluate("async (id) => (await fetch(`/api/videos/${id}`, {headers: {Authorization: "
                               "`Bearer ${localStorage.getItem('vstream.owner:' + id)}`}})).json()", video)
        assert status["visibility"] == "private" and status.get("playbackUrl") is None, status
        page.wait_for_function("document.getElementById('player').currentTime > 1", timeout=120_000)
        page.wait_for_function("document.getElementById('transcode-text').textContent.startsWith('ready')",
                               timeout=180_000)
        browser.close()
