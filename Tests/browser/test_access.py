"""Access control in Debian's Chromium, driven by Playwright, on the embedded default.

- The owner renames and deletes from "My videos"; a second browser (a context without
  the owner token) sees the public video but neither control, and cannot delete it.
- A private video plays on its watch page for its owner (the page asks for a playback
  URL); without a token, or with a forged or expired one, the segments get 403.
"""
import os
import re
import shutil
import tempfile
import time

from playwright.sync_api import sync_playwright

from conftest import ARTIFACTS, FIXTURES, call, launch_chromium, start_vstream, stop, upload, wait_ready

# Short, so an expired token can be watched expiring.
TOKEN_SECONDS = 12


def test_the_owner_renames_and_deletes_and_a_stranger_sees_no_controls():
    data = tempfile.mkdtemp(prefix="vstream-access-")
    process, base = start_vstream(data)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            owner = browser.new_context()
            page = owner.new_page()
            page.on("dialog", lambda dialog: dialog.accept())  # "Delete …? This cannot be undone."
            page.goto(base)
            page.select_option("#visibility", "public")
            page.set_input_files("#file", str(FIXTURES / "no_audio.mp4"))
            page.wait_for_function("document.getElementById('transcode-text').textContent.startsWith('ready')",
                                   timeout=120_000)
            video = page.evaluate("window.vstreamUpload.videoId")
            assert page.evaluate(f"localStorage.getItem('vstream.owner:{video}')").startswith("vso_")
            row = f"#my-videos li[data-video-id='{video}']"
            page.wait_for_selector(row + " .rename", timeout=10_000)

            page.fill(row + " .rename-input", "Holiday, renamed")
            page.click(row + " .rename")
            page.wait_for_function(
                f"document.querySelector(\"{row} .title\")?.textContent === 'Holiday, renamed'", timeout=10_000)
            status, seen = call(base + f"api/videos/{video}")
            assert status == 200 and seen["title"] == "Holiday, renamed" and seen["visibility"] == "public"

            # Someone else: the video is listed for them, with no controls, and the API
            # refuses their DELETE.
            stranger = browser.new_context().new_page()
            stranger.goto(base)
            stranger.wait_for_selector(f"#videos li[data-video-id='{video}']", timeout=15_000)
            assert stranger.query_selector(f"li[data-video-id='{video}'] .rename") is None
            assert stranger.query_selector(f"li[data-video-id='{video}'] .delete") is None
            assert stranger.query_selector(f"#my-videos li[data-video-id='{video}']") is None
            refused = stranger.evaluate(f"fetch('/api/videos/{video}', {{method: 'DELETE'}}).then(r => r.status)")
            assert refused == 401
            # A token of the wrong shape is no credential at all (401); a well-formed one
            # that is not this video's owner is refused (403).
            malformed = stranger.evaluate(
                f"fetch('/api/videos/{video}', {{method: 'DELETE', headers: {{authorization: 'Bearer vso_forged'}}}})"
                ".then(r => r.status)")
            assert malformed == 401
            forged = stranger.evaluate(
                f"fetch('/api/videos/{video}', {{method: 'DELETE', headers: {{authorization: 'Bearer vso_{'A' * 43}'}}}})"
                ".then(r => r.status)")
            assert forged == 403
            page.screenshot(path=str(ARTIFACTS / "access-my-videos.png"), full_page=True)

            # The owner deletes it: gone from both lists and from the API.
            page.click(row + " .delete")
            page.wait_for_function(f"!document.querySelector(\"{row}\")", timeout=10_000)
            assert call(base + f"api/videos/{video}")[0] == 404
            stranger.reload()
            stranger.wait_for_load_state("networkidle")
            assert stranger.query_selector(f"li[data-video-id='{video}']") is None
            browser.close()
    finally:
        stop(process)
        shutil.rmtree(data, ignore_errors=True)


def test_a_private_video_plays_only_with_a_valid_token():
    data = tempfile.mkdtemp(prefix="vstream-private-")
    process, base = start_vstream(data, env=dict(os.environ, VSTREAM_PLAYBACK_TOKEN_SECONDS=str(TOKEN_SECONDS)))
    try:
        video, owner_token = upload(base, FIXTURES / "h264_1080p30_stereo.mp4", visibility="private")
        assert wait_ready(base, video, owner_token)["status"] == "READY"
        with sync_playwright() as p:
            browser = launch_chromium(p)
            # The owner's browser: its localStorage holds the owner token, as after an upload.
            context = browser.new_context()
            page = context.new_page()
            statuses = []
            page.on("response", lambda r: statuses.append((r.url, r.status)) if "/hls/" in r.url else None)
            page.goto(base)
            page.evaluate(f"localStorage.setItem('vstream.owner:{video}', '{owner_token}')")
            page.goto(base + f"watch/{video}")
            page.wait_for_function("document.getElementById('player').currentTime > 2", timeout=60_000)
            src = page.eval_on_selector("#player", "v => v.currentSrc")
            match = re.search(r"/hls/t/([^/]+)/" + video + "/master.m3u8$", src)
            assert match, src
            token = match.group(1)
            segments = [(url, status) for url, status in statuses if url.endswith(".m4s") or "/init" in url]
            assert segments and all(status in (200, 206) for _, status in segments), segments
            assert all(f"/hls/t/{token}/" in url for url, _ in statuses), "every object carries the token"
            page.screenshot(path=str(ARTIFACTS / "access-private-watch.png"), full_page=True)
            segment = next(url for url, _ in segments if url.endswith(".m4s"))

            # No token, a forged one: the segment and the master are refused, and a player
            # given those URLs does not play.
            stranger = browser.new_context().new_page()
            stranger.goto(base)
            plain = segment.replace(f"/hls/t/{token}/", "/hls/")
            forged_token = token[:-1] + ("A" if token[-1] != "A" else "B")
            forged = segment.replace(token, forged_token)
            for url in (plain, forged, plain.rsplit("/", 2)[0] + "/master.m3u8",
                        src.replace(token, forged_token)):
                assert stranger.evaluate(f"fetch('{url}').then(r => r.status)") == 403, url
            stranger.evaluate(f"""() => {{ const v = document.getElementById('player'); v.muted = true;
                                          v.src = '{src.replace(token, forged_token)}'; v.play().catch(() => {{}}); }}""")
            stranger.wait_for_function("document.getElementById('player').error !== null", timeout=20_000)
            # A stranger's watch page for the private video: not found, nothing plays.
            stranger.goto(base + f"watch/{video}")
            stranger.wait_for_function("document.getElementById('error').textContent.includes('Not found')",
                                       timeout=10_000)

            # Expired: the URL that played stops working.
            expires = time.time() + TOKEN_SECONDS + 1
            while time.time() < expires:
                time.sleep(0.5)
            assert stranger.evaluate(f"fetch('{segment}').then(r => r.status)") == 403
            assert stranger.evaluate(f"fetch('{src}').then(r => r.status)") == 403
            browser.close()
    finally:
        stop(process)
        shutil.rmtree(data, ignore_errors=True)
