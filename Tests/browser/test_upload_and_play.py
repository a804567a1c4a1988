"""The page, in Debian's Chromium 156 driven by Playwright: a resumable upload of a
30 MB file, live transcode progress over SSE, and native HLS playback. It runs on the
embedded default and on the production backends (SeaweedFS, PostgreSQL, Redis), where
the parts go straight to the bucket and the player reads the ladder from it."""
import re

import pytest
from playwright.sync_api import sync_playwright

from conftest import ARTIFACTS, FIXTURES, launch_chromium

# A part PUT: to the server's own signed URL, or to a presigned S3 URL.
PART_PUT = re.compile(r"/api/uploads/[^/]+/parts/(\d+)\?|[?&]partNumber=(\d+)")


def part_number(request):
    match = PART_PUT.search(request.url) if request.method == "PUT" else None
    return int(match.group(1) or match.group(2)) if match else None


@pytest.mark.parametrize("backends", ["server", "production_server"])
def test_resumed_upload_transcodes_and_plays(backends, request):
    server = request.getfixturevalue(backends)
    fixture = FIXTURES / "upload_30mb.mp4"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        context = browser.new_context()  # one profile: localStorage survives the reload

        # First visit: only part 1 gets through, then the page is closed mid-upload.
        first = context.new_page()
        first.route(PART_PUT, lambda route: route.continue_() if part_number(route.request) == 1 else route.abort())
        first.goto(server)
        first.set_input_files("#file", str(fixture))
        first.wait_for_function("window.vstreamUpload && window.vstreamUpload.done.size === 1", timeout=30_000)
        first.close()

        # Second visit: the same file resumes; only the missing parts are sent.
        page = context.new_page()
        sent = []
        page.on("request", lambda r: sent.append(part_number(r)) if part_number(r) else None)
        page.goto(server)
        page.set_input_files("#file", str(fixture))
        page.wait_for_selector("#resumed:not([hidden])", timeout=10_000)
        page.wait_for_function("document.getElementById('transcode-text').textContent.startsWith('ready')",
                               timeout=180_000)
        assert sorted(sent) == [2, 3], f"the resumed page sent parts {sent}"
        # It started on `playable`, on the progressive master, before READY.
        assert page.evaluate("window.vstreamStartedLive === true")
        assert page.eval_on_selector("#transcode-bar", "e => e.style.width") == "100%"

        # The player plays the ladder natively.
        page.wait_for_function(
            "(() => { const v = document.getElementById('player'); return v.currentTime > 2 && v.videoWidth > 0; })()",
            timeout=60_000)
        width = page.eval_on_selector("#player", "v => v.videoWidth")
        assert width in (640, 1280)
        assert re.match(r"playing \d+x\d+", page.text_content("#rendition"))

        # Hovering the strip under the player shows the storyboard tile for that moment,
        # from the sheet the index names; a click seeks there.
        page.wait_for_selector("#scrub:not([hidden])", timeout=10_000)
        strip = page.locator("#scrub")
        width = strip.bounding_box()["width"]
        strip.hover(position={"x": width * 0.75, "y": 7})  # scrolls it into view first
        page.wait_for_selector("#scrub-preview:not([hidden])", timeout=5_000)
        preview = page.eval_on_selector("#scrub-preview", "e => ({image: e.style.backgroundImage, "
                                        "position: e.style.backgroundPosition, width: e.style.width, time: Number(e.dataset.time)})")
        assert "/storyboard/sheet_0.jpg" in preview["image"], preview
        assert preview["width"] == "160px" and 7 <= preview["time"] <= 8, preview
        # 7.5 s falls in the fourth tile (6-8 s): the fourth column of the first row.
        assert preview["position"] == "-480px 0px", preview
        sheet = page.evaluate("async (url) => (await fetch(url)).headers.get('content-type')",
                              re.search(r'url\("(.+)"\)', preview["image"]).group(1))
        assert sheet == "image/jpeg"
        strip.click(position={"x": width * 0.25, "y": 7})
        page.wait_for_function("Math.abs(document.getElementById('player').currentTime - 2.5) < 1.5", timeout=10_000)
        page.screenshot(path=str(ARTIFACTS / f"upload-and-play-{backends}.png"), full_page=True)

        # "My videos" shows it as READY (it is unlisted: the public list does not).
        page.wait_for_function("document.getElementById('my-videos').textContent.includes('READY')", timeout=10_000)
        browser.close()
