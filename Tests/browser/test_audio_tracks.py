"""Every audio stream of an upload becomes an audio track of the ladder (issue 22), on the
embedded default: a private dubbed video (English, the default, at 440 Hz; French at
880 Hz) lists both in `audioTracks` through its playback grant, and only there; the master
names both in one AUDIO group; the ffmpeg CLI, given the token's master, picks the French
track by its language and hears 880 Hz; the track's playlist without the token is refused;
each track is brought to -16 LUFS; the page says which track plays."""
import array
import re
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

from conftest import ARTIFACTS, call, launch_chromium, upload, wait_ready


def dubbed_source(folder: Path) -> Path:
    source = folder / "dubbed.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y",
                    "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=8",
                    "-f", "lavfi", "-i", "sine=frequency=440:duration=8",
                    "-f", "lavfi", "-i", "sine=frequency=880:duration=8",
                    "-map", "0:v", "-map", "1:a", "-map", "2:a", "-c:v", "libx264", "-preset", "veryfast", "-g", "60",
                    "-c:a", "aac", "-ac", "2", "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra",
                    "-disposition:a:0", "default", "-disposition:a:1", "0", str(source)], check=True)
    return source


def tone_heard(master_url: str, language: str) -> float:
    """The frequency of the track ffmpeg picks by `language`, from its zero crossings."""
    pcm = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", master_url, "-map", f"0:a:m:language:{language}",
                          "-ac", "1", "-ar", "48000", "-f", "s16le", "-"], check=True, capture_output=True).stdout
    samples = array.array("h", pcm)
    assert len(samples) > 48_000 * 4, len(samples)
    crossings = sum(1 for a, b in zip(samples, samples[1:]) if (a < 0) != (b < 0))
    return crossings / 2 / (len(samples) / 48_000)


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_dubbed_upload_keeps_every_language(server):
    base = server
    with tempfile.TemporaryDirectory() as folder:
        video, owner = upload(base, dubbed_source(Path(folder)), visibility="private")
    assert wait_ready(base, video, owner)["status"] == "READY"

    # Private: the tracks are listed only with a token, and play only through it.
    status, public = call(base + f"api/videos/{video}", token=owner)
    assert status == 200 and not public.get("audioTracks"), public
    status, grant = call(base + f"api/videos/{video}/playback", "POST", {}, token=owner)
    assert status == 200, grant
    tracks = grant["audioTracks"]
    assert [(t["language"], t["name"], t["default"]) for t in tracks] == [("eng", "English", True), ("fra", "French", False)]
    # Each track was brought to -16 LUFS, its true peak under -1 dBTP.
    for track in tracks:
        loudness = track["loudness"]
        assert abs(loudness["outputIntegrated"] - -16) < 0.5 and loudness["outputTruePeak"] <= -1, loudness
        assert abs(loudness["gain"] - (-16 - loudness["integrated"])) < 0.2, loudness
    master_url = base.rstrip("/") + grant["playbackUrl"] if grant["playbackUrl"].startswith("/") else grant["playbackUrl"]
    with urllib.request.urlopen(master_url, timeout=30) as response:
        master = response.read().decode()
    audio = re.findall(r'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",LANGUAGE="([^"]+)",NAME="[^"]+",DEFAULT=(YES|NO)', master)
    assert audio == [("eng", "YES"), ("fra", "NO")], master
    french_url = tracks[1]["url"] if tracks[1]["url"].startswith("http") else base.rstrip("/") + tracks[1]["url"]
    assert status_of(french_url) == 200
    assert "/hls/t/" in french_url and status_of(re.sub(r"/hls/t/[^/]+/", "/hls/", french_url)) == 403

    # A player picks the French track by its language and hears it, at -16 LUFS as ffmpeg's
    # own meter measures it.
    assert abs(tone_heard(master_url, "fra") - 880) < 15
    assert abs(tone_heard(master_url, "eng") - 440) < 15
    meter = subprocess.run(["ffmpeg", "-nostdin", "-nostats", "-i", master_url, "-map", "0:a:m:language:fra",
                            "-af", "ebur128=peak=true", "-f", "null", "-"], check=True, capture_output=True, text=True).stderr
    integrated = float(re.findall(r"^\s+I:\s+(-?[\d.]+) LUFS", meter.split("Summary:")[-1], re.M)[0])
    assert abs(integrated - -16) <= 1, meter[-600:]

    # The owner's page: Chromium exposes no `audioTracks`, so the page says which plays.
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page()
        page.goto(base)
        page.evaluate(f"localStorage.setItem('vstream.owner:{video}', '{owner}')")
        page.goto(base + f"watch/{video}")
        page.wait_for_function("document.getElementById('player').currentTime > 0.5", timeout=60_000)
        page.wait_for_selector("#audio-note:not([hidden])", timeout=10_000)
        note = page.text_content("#audio-note")
        assert note.startswith("Audio: English (") and note.endswith("also in French)"), note
        assert page.eval_on_selector("#audio-menu", "m => m.hidden")
        page.screenshot(path=str(ARTIFACTS / "audio-tracks.png"), full_page=True)
        browser.close()


def test_a_french_viewer_watching_while_it_transcodes_gets_the_dub(server):
    """The early master names every track, and the page's live player takes the one in
    the browser's language: a Chromium set to fr-FR, started at `playable`, fetches and
    plays the French track's EVENT playlist, not the default's."""
    from test_watch_while_transcoding import events
    base = server
    with tempfile.TemporaryDirectory() as folder:
        video, owner = upload(base, dubbed_source(Path(folder)))
    live_url = None
    for kind, data in events(base, video, owner):
        assert kind not in ("ready", "failed"), f"{kind} before the video was playable"
        if data.get("playbackUrl") and data.get("status") == "PROCESSING":
            live_url = data["playbackUrl"]
            break
    with urllib.request.urlopen(base.rstrip("/") + live_url, timeout=30) as response:
        early = response.read().decode()
    assert re.findall(r'TYPE=AUDIO,GROUP-ID="audio",LANGUAGE="([^"]+)"', early) == ["eng", "fra"], early
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_context(locale="fr-FR").new_page()
        fetched = []
        page.on("request", lambda r: fetched.append(r.url) if "/hls/" in r.url else None)
        page.goto(base)
        page.evaluate("""async url => {
            const { playLive } = await import('/live-player.js');
            const v = document.createElement('video');
            v.id = 'viewer'; v.muted = true; window.failure = null;
            document.body.append(v);
            playLive(v, url, {onError: (e) => { window.failure = String(e); }});
            v.play().catch(() => {});
        }""", live_url)
        page.wait_for_function("document.getElementById('viewer').ended || window.failure", timeout=90_000)
        assert page.evaluate("window.failure") is None, page.evaluate("window.failure")
        assert page.eval_on_selector("#viewer", "v => v.dataset.audioLanguage") == "fra"
        assert any("/audio-2/segment_" in url for url in fetched), fetched
        assert not any("/audio/segment_" in url for url in fetched), "the default track was not fetched"
        browser.close()
