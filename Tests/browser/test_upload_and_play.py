"""The page, in Debian's Chromium 156 driven by Playwright: a resumable upload of a
30 MB file, live transcode progress over SSE, and native HLS playback."""
import re

from playwright.sync_api import sync_playwright

from conftest import ARTIFACTS, FIXTURES

PART_PUT = re.compile(r"/api/uploads/[^/]+/parts/(\d+)\?")


def test_resumed_upload_transcodes_and_plays(server):
    fixture = FIXTURES / "upload_30mb.mp4"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        context = browser.new_context()  # one profile: localStorage survives the reload

        # First visit: only part 1 gets through, then the page is closed mid-upload.
        first = context.new_page()
        first.route(PART_PUT, lambda route: route.continue_() if "/parts/1?" in route.request.url else route.abort())
        first.goto(server)
        first.set_input_files("#file", str(fixture))
        first.wait_for_function("window.vstreamUpload && window.vstreamUpload.done.size === 1", timeout=30_000)
        first.close()

        # Second visit: the same file resumes; only the missing parts are sent.
        page = context.new_page()
        sent = []
        page.on("request", lambda r: sent.append(int(PART_PUT.search(r.url).group(1)))
                if r.method == "PUT" and PART_PUT.search(r.url) else None)
        page.goto(server)
        page.set_input_files("#file", str(fixture))
        page.wait_for_selector("#resumed:not([hidden])", timeout=10_000)
        page.wait_for_function("document.getElementById('transcode-text').textContent.startsWith('ready')",
                               timeout=180_000)
        assert sorted(sent) == [2, 3], f"the resumed page sent parts {sent}"
        assert page.eval_on_selector("#transcode-bar", "e => e.style.width") == "100%"

        # The player plays the ladder natively.
        page.wait_for_function(
            "(() => { const v = document.getElementById('player'); return v.currentTime > 2 && v.videoWidth > 0; })()",
            timeout=60_000)
        width = page.eval_on_selector("#player", "v => v.videoWidth")
        assert width in (640, 1280)
        assert re.match(r"playing \d+x\d+", page.text_content("#rendition"))
        page.screenshot(path=str(ARTIFACTS / "upload-and-play.png"), full_page=True)

        # The list shows the video as READY.
        page.wait_for_function("document.getElementById('videos').textContent.includes('READY')", timeout=10_000)
        browser.close()
