"""A browser without HLS (Firefox's case) plays the MP4 rendition, in Debian's Chromium with
its native HLS turned off: `canPlayType` answers "" for HLS, as Firefox's does. On the
embedded default and on the production backends (where the MP4 is read from the bucket,
which stores it as an attachment for download links, and a <video> still plays it)."""
import urllib.request

import pytest
from playwright.sync_api import sync_playwright

from conftest import ARTIFACTS, FIXTURES, launch_chromium, upload, wait_ready

NO_HLS = """
const canPlayType = HTMLMediaElement.prototype.canPlayType;
HTMLMediaElement.prototype.canPlayType = function (type) {
  return /mpegurl/i.test(type) ? "" : canPlayType.call(this, type);
};
"""
NOTHING = 'HTMLMediaElement.prototype.canPlayType = () => "";'


@pytest.mark.parametrize("backends", ["server", "production_server"])
def test_a_browser_without_hls_plays_the_mp4_and_offers_it_for_download(backends, request):
    base = request.getfixturevalue(backends)
    video, owner = upload(base, FIXTURES / "upload_30mb.mp4")
    body = wait_ready(base, video, owner)
    assert body["status"] == "READY", body
    assert body["downloadRendition"] == "720p" and body["downloadBytes"] > 1_000_000, body
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page()
        page.add_init_script(NO_HLS)
        page.goto(base + f"watch/{video}")
        page.wait_for_function(
            "(() => { const v = document.getElementById('player'); return v.currentTime > 2 && v.videoWidth > 0; })()",
            timeout=60_000)
        player = page.eval_on_selector("#player", "v => ({src: v.currentSrc, width: v.videoWidth, height: v.videoHeight})")
        assert player["src"].endswith(f"/{video}/download.mp4"), player
        assert (player["width"], player["height"]) == (1280, 720), player
        assert "MP4 720p" in page.text_content("#playback-kind")
        # The download link saves the file.
        link = page.get_attribute("#download", "href")
        assert "download.mp4" in link and page.is_visible("#download")
        assert "720p" in page.text_content("#download")
        target = link if link.startswith("http") else base.rstrip("/") + link
        with urllib.request.urlopen(urllib.request.Request(target, headers={"Range": "bytes=0-15"}), timeout=30) as response:
            assert response.status == 206
            assert response.headers["Content-Disposition"].startswith("attachment")
            assert response.read()[4:8] == b"ftyp"
        page.screenshot(path=str(ARTIFACTS / f"plays-everywhere-{backends}.png"), full_page=True)

        # A browser that plays neither says so, in words.
        page = browser.new_page()
        page.add_init_script(NOTHING)
        page.goto(base + f"watch/{video}")
        page.wait_for_selector("#error:not([hidden])", timeout=10_000)
        assert "neither HLS nor MP4" in page.text_content("#error")
        assert page.eval_on_selector("#player", "v => v.currentSrc") == ""
        browser.close()
