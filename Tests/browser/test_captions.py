"""Captions added to a READY video through the API (issue 22), on the embedded default: SRT
as the request body and WebVTT in JSON become SUBTITLES renditions that a player opening
the master afterwards finds; bad files get 400 with the line at fault and change nothing;
a stranger gets 403; the page shows the track in Chromium's native player, with a CC menu,
and its cue at its time (`textTracks[…].activeCues`)."""
import os
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request

from playwright.sync_api import sync_playwright

from conftest import ARTIFACTS, FIXTURES, call, launch_chromium, upload, wait_ready

SRT = "1\n00:00:00,500 --> 00:00:01,250\n<i>Hello</i> there\n\n2\n00:00:01,900 --> 00:00:02,600\nAcross the seam\n"
VTT = "WEBVTT\n\n00:00:03.000 --> 00:00:04.500\nBonjour\n"


def get(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode()


def add(base, video, token, body, **query):
    """POST …/captions with the file as the body and its fields in the query."""
    url = base + f"api/videos/{video}/captions?" + urllib.parse.urlencode(query)
    data = body if isinstance(body, bytes) else body.encode()
    return call(url, "POST", raw=data, headers={"Content-Type": "application/x-subrip"}, token=token)


def subtitles(master):
    return re.findall(r'#EXT-X-MEDIA:TYPE=SUBTITLES,.*LANGUAGE="([^"]+)".*URI="([^"]+)"', master)


def test_captions_added_to_a_ready_video_play_in_the_page(server):
    base = server
    video, owner = upload(base, FIXTURES / "upload_30mb.mp4")
    assert wait_ready(base, video, owner)["status"] == "READY"
    status, body = call(base + f"api/videos/{video}", token=owner)
    master_url = base + body["playbackUrl"].lstrip("/")
    master_before = get(master_url)
    assert not body.get("captions") and not subtitles(master_before)

    # Refused: each names what is wrong, and nothing changes.
    for bad, words in [("1\n00:00:02,000 --> 00:00:01,000\nBackwards\n", "line 2"),
                       (os.urandom(4096), "UTF-8"),
                       ("1\n00:00:00,000 --> 00:00:01,000\n" + "x" * (2 << 20) + "\n", "MiB")]:
        status, refusal = add(base, video, owner, bad, language="eng", format="srt")
        assert status == 400 and words in refusal["error"], refusal
    status, refusal = add(base, video, owner, SRT, language="not a tag!", format="srt")
    assert status == 400, refusal
    assert get(master_url) == master_before
    assert not call(base + f"api/videos/{video}", token=owner)[1].get("captions")

    # A stranger (the owner of another video) may not.
    other, stranger = upload(base, FIXTURES / "tiny_256x144.mp4")
    status, refusal = add(base, video, stranger, SRT, language="eng", format="srt")
    assert status == 403, refusal

    # SRT as the body, WebVTT in JSON.
    status, changed = add(base, video, owner, SRT, language="eng", name="English", format="srt")
    assert status == 201, changed
    status, changed = call(base + f"api/videos/{video}/captions", "POST",
                           {"language": "fra", "name": "Français", "format": "vtt", "content": VTT}, token=owner)
    assert status == 201, changed
    assert [(c["language"], c["name"]) for c in changed["captions"]] == [("eng", "English"), ("fra", "Français")]

    # A player that opens the master now finds both renditions, on the video's segments.
    master = get(master_url)
    tracks = dict(subtitles(master))
    assert set(tracks) == {"eng", "fra"}, master
    assert all('SUBTITLES="subs"' in line for line in master.splitlines() if line.startswith("#EXT-X-STREAM-INF"))
    folder = master_url.rsplit("/", 1)[0] + "/"
    video_playlist = get(folder + "360p/index.m3u8")
    caption_playlist = get(folder + tracks["eng"])
    extinf = lambda text: [line for line in text.splitlines() if line.startswith("#EXTINF")]
    assert extinf(caption_playlist) == extinf(video_playlist)
    first = get(folder + tracks["eng"].rsplit("/", 1)[0] + "/segment_00000.vtt")
    assert first.startswith("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:") and "00:00:00.500 --> 00:00:01.250\nHello there" in first
    assert "Bonjour" in get(folder + "captions/fra.vtt")
    assert 'lang="fra"' in get(folder + "manifest.mpd")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page()
        page.goto(base + f"watch/{video}")
        page.wait_for_function("document.getElementById('player').videoWidth > 0", timeout=60_000)
        page.wait_for_selector("#captions-menu:not([hidden])", timeout=10_000)
        options = page.eval_on_selector_all("#captions-menu option", "o => o.map(x => x.textContent)")
        assert options == ["Captions off", "CC: English", "CC: Français"], options
        page.select_option("#captions-menu", label="CC: English")
        # Paused at 0.8 s, inside the first cue (0.5 to 1.25 s): it is the active cue.
        page.eval_on_selector("#player", "v => { v.pause(); v.currentTime = 0.8; }")
        page.wait_for_function(
            "(() => { const t = document.getElementById('player').textTracks[0];"
            " return t.mode === 'showing' && t.activeCues && t.activeCues.length === 1; })()", timeout=15_000)
        cue = page.evaluate("(() => { const c = document.getElementById('player').textTracks[0].activeCues[0];"
                            " return {text: c.text, start: c.startTime, end: c.endTime}; })()")
        assert cue["text"] == "Hello there" and abs(cue["start"] - 0.5) <= 0.04 and abs(cue["end"] - 1.25) <= 0.04, cue
        modes = page.evaluate("[...document.getElementById('player').textTracks].map(t => t.mode)")
        assert modes == ["showing", "disabled"], modes
        page.screenshot(path=str(ARTIFACTS / "captions.png"), full_page=True)
        browser.close()

    # Removed: gone from the master, the MPD and storage; a second removal finds nothing.
    status, _ = call(base + f"api/videos/{video}/captions/fra", "DELETE", token=owner)
    assert status == 204
    assert set(dict(subtitles(get(master_url)))) == {"eng"}
    assert 'lang="fra"' not in get(folder + "manifest.mpd")
    try:
        get(folder + "captions/fra.vtt")
        raise AssertionError("fra.vtt is still served")
    except urllib.error.HTTPError as error:
        assert error.code == 404
    status, refusal = call(base + f"api/videos/{video}/captions/fra", "DELETE", token=owner)
    assert status == 404, refusal
    status, refusal = call(base + f"api/videos/{video}/captions/eng", "DELETE", token=stranger)
    assert status == 403, refusal

    # Captions for the deaf and hard of hearing (kind=captions): named and marked as such,
    # and shown as HTML "captions"; a kind that is neither is refused.
    status, refusal = add(base, video, owner, SRT, language="spa", format="srt", kind="closed")
    assert status == 400 and "kind" in refusal["error"], refusal
    status, changed = add(base, video, owner, SRT, language="spa", format="srt", kind="captions")
    assert status == 201, changed
    assert [(c["name"], c["hearingImpaired"]) for c in changed["captions"]] == [("English", False), ("Spanish (SDH)", True)]
    sdh = [line for line in get(master_url).splitlines() if 'LANGUAGE="spa"' in line]
    assert len(sdh) == 1 and 'CHARACTERISTICS="public.accessibility.transcribes-spoken-dialog' in sdh[0], sdh
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page()
        page.goto(base + f"watch/{video}")
        page.wait_for_selector("#captions-menu:not([hidden])", timeout=30_000)
        kinds = page.eval_on_selector_all("#player track", "t => t.map(x => [x.label, x.kind])")
        assert kinds == [["English", "subtitles"], ["Spanish (SDH)", "captions"]], kinds
        browser.close()


def test_a_viewer_watching_while_it_transcodes_has_the_captions(server, tmp_path):
    """A source with English subtitles, uploaded from the page: the page starts on the early
    ladder while it is PROCESSING, and its player already has the caption track, every cue
    of it (the last one far past what is transcoded), with a CC menu and the cue shown at its
    time; when the video is READY the finished ladder's track replaces it and the viewer's
    choice stays."""
    srt = tmp_path / "eng.srt"
    srt.write_text(SRT + "\n3\n00:00:24,000 --> 00:00:26,000\nNear the end\n")
    source = tmp_path / "subtitled.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=30",
                    "-i", str(srt), "-map", "0:v", "-map", "1:s", "-c:v", "libx264", "-preset", "veryfast", "-g", "60",
                    "-c:s", "mov_text", "-metadata:s:s:0", "language=eng", str(source)], check=True)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page()
        page.goto(server)
        page.set_input_files("#file", str(source))
        page.wait_for_function("window.vstreamStartedLive === true", timeout=120_000)
        page.wait_for_selector("#captions-menu:not([hidden])", timeout=30_000)
        state = page.evaluate("""() => ({ live: document.getElementById('player').dataset.live,
                                          transcode: document.getElementById('transcode-text').textContent })""")
        assert state["live"] == "true" and not state["transcode"].startswith("ready"), state
        options = page.eval_on_selector_all("#captions-menu option", "o => o.map(x => x.textContent)")
        # The source's stream has no title: the track is named for its language.
        assert options == ["Captions off", "CC: English"], options
        page.select_option("#captions-menu", label="CC: English")
        page.wait_for_function("(() => { const t = document.getElementById('player').textTracks[0];"
                               " return t && t.mode === 'showing' && t.cues && t.cues.length === 3; })()", timeout=15_000)
        last = page.evaluate("(() => { const c = document.getElementById('player').textTracks[0].cues[2];"
                             " return {text: c.text, start: c.startTime}; })()")
        assert last["text"] == "Near the end" and abs(last["start"] - 24) <= 0.04, last
        page.wait_for_function("document.getElementById('player').currentTime > 0.2", timeout=60_000)
        page.eval_on_selector("#player", "v => { v.pause(); v.currentTime = 0.8; }")
        page.wait_for_function("(() => { const t = document.getElementById('player').textTracks[0];"
                               " return t.activeCues && t.activeCues.length === 1 && t.activeCues[0].text === 'Hello there'; })()",
                               timeout=15_000)
        # READY: the finished ladder's track takes over (a new <track>), still shown.
        page.eval_on_selector("#player track", "t => { t.dataset.early = 'yes'; }")
        page.wait_for_function("document.getElementById('transcode-text').textContent.startsWith('ready')", timeout=180_000)
        page.wait_for_function("(() => { const p = document.getElementById('player');"
                               " return p.querySelector('track') && !p.querySelector('track[data-early]')"
                               " && document.getElementById('captions-menu').value === '0'"
                               " && p.textTracks[0] && p.textTracks[0].mode === 'showing'; })()", timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "captions-while-transcoding.png"), full_page=True)
        browser.close()
