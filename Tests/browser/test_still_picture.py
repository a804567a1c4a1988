"""A still picture with long audio (a podcast's cover, a song's artwork) uploaded to the
embedded default (issue 22's leftover, issue 21's one-frame case): the whole audio is kept,
where the ladder used to stop 2 s after the picture. The video is READY with the audio's
duration, the ffmpeg CLI hears the audio to its end through the master, and the watch page
plays it in Chromium well past the picture (from download.mp4: Chromium's HLS stalls there)."""
import subprocess
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from conftest import launch_chromium, upload, wait_ready

SECONDS = 20


def still_source(folder: Path, seconds: int = SECONDS) -> Path:
    picture, tone, source = folder / "one.mp4", folder / "tone.m4a", folder / "still.mp4"
    for arguments in (["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-frames:v", "1", "-c:v", "libx264", str(picture)],
                      ["-f", "lavfi", "-i", f"sine=frequency=660:sample_rate=48000:duration={seconds}", "-ac", "2", "-c:a", "aac",
                       str(tone)],
                      ["-i", str(picture), "-i", str(tone), "-map", "0:v", "-map", "1:a", "-c", "copy", str(source)]):
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *arguments], check=True)
    return source


def test_a_still_picture_with_long_audio_plays_all_of_it(server):
    base = server
    with tempfile.TemporaryDirectory() as folder:
        video, owner = upload(base, still_source(Path(folder)))
    body = wait_ready(base, video, owner)
    assert body["status"] == "READY", body
    assert abs(body["durationSeconds"] - SECONDS) < 0.2, body

    master = base.rstrip("/") + body["playbackUrl"] if body["playbackUrl"].startswith("/") else body["playbackUrl"]
    heard = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", "packet=pts_time",
                            "-of", "csv=p=0", master], check=True, capture_output=True, text=True).stdout.split()
    assert max(float(t) for t in heard if t) > SECONDS - 0.2, heard[-3:]

    # Each rung's video is the picture's 0.04 s: the API says so, and the page plays the MP4.
    assert body["renditions"] and all(rung["durationSeconds"] < 1 for rung in body["renditions"]), body["renditions"]

    # Chromium's own HLS player stalls once the picture has played (buffered [0, 0.04],
    # currentTime 0: it waits for video that never comes; the DASH ladder and the ffmpeg CLI
    # play on), so the watch page plays download.mp4, which plays all of it.
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page()
        page.goto(base + f"watch/{video}")
        page.wait_for_function("document.getElementById('player').currentTime > 0.2", timeout=60_000)
        assert page.evaluate("document.getElementById('player').dataset.source").endswith("download.mp4")
        assert "sound plays on past the picture" in page.text_content("#playback-kind")
        assert abs(page.evaluate("document.getElementById('player').duration") - SECONDS) < 0.2
        page.evaluate("document.getElementById('player').playbackRate = 4")
        page.wait_for_function(f"document.getElementById('player').currentTime > {SECONDS / 2}", timeout=30_000)
        browser.close()


def test_a_viewer_who_watches_it_transcode_hears_the_sound_past_the_picture(server):
    """Uploaded from the page, watched while it transcodes. The picture's one segment is out
    at once (the engine ends its rung once the container's frames are read and the sound has
    run 10 s past them), and its playlist ends while the sound's grows. The page's player for
    the growing ladder (MSE) holds the picture while the sound plays on (live-player.js);
    before, it stopped once the picture's segment had played (at 2.03 s of 120) until READY.
    At READY the page moves to download.mp4, where the viewer was, and the sound plays on."""
    seconds = 600
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as p:
        source = still_source(Path(folder), seconds)
        browser = launch_chromium(p)
        page = browser.new_page()
        page.goto(server)
        page.set_input_files("#file", str(source))
        # `playable` comes before `ready`, so the page is on the growing ladder first.
        page.wait_for_function("window.vstreamStartedLive === true", timeout=120_000)
        page.evaluate("""() => {
            const player = document.getElementById('player');
            window.liveReached = 0;
            player.addEventListener('timeupdate', () => {
                if (player.dataset.live === 'true') window.liveReached = Math.max(window.liveReached, player.currentTime);
            });
            // Loading the growing ladder resets the rate to the default one.
            player.defaultPlaybackRate = player.playbackRate = 8;
        }""")
        # Well past the picture's 2 s, on the growing ladder, before the video is READY.
        page.wait_for_function("window.liveReached > 20 || document.getElementById('transcode-text').textContent.startsWith('ready')",
                               timeout=120_000)
        reached = page.evaluate("window.liveReached")
        assert reached > 20, f"the growing ladder stopped at {reached} s"
        page.wait_for_function("document.getElementById('transcode-text').textContent.startsWith('ready')", timeout=180_000)
        page.wait_for_function("(document.getElementById('player').dataset.source || '').endsWith('download.mp4')", timeout=30_000)
        assert "sound plays on past the picture" in page.text_content("#playback-kind")
        page.wait_for_function("document.getElementById('player').readyState >= 1", timeout=30_000)
        assert abs(page.evaluate("document.getElementById('player').duration") - seconds) < 0.2
        # The MP4 goes on from where the viewer was, not from the start.
        page.wait_for_function("document.getElementById('player').currentTime > 20", timeout=30_000)
        position = page.evaluate("document.getElementById('player').currentTime")
        page.evaluate("document.getElementById('player').playbackRate = 8")
        page.wait_for_function(f"document.getElementById('player').currentTime > {position + 10}", timeout=60_000)
        browser.close()
