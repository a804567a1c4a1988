"""An owner's changes to a long READY video, against a distant bucket (not part of `make test`).

    python3 bench/owner_edits.py BEFORE AFTER [--minutes 30] [--rtt-ms 40] [--handshake-rtts 2] [--rounds 1]

BEFORE and AFTER are `vstream` binaries. For each round and build, AFTER's `vstream serve`
(the embedded worker, SQLite, no Redis) transcodes a long, tiny source into SeaweedFS
directly, and stops. Then the build measured serves the same data folder and bucket through
bench/slow_link.py (every byte half a round trip late, a new connection's first bytes
`--handshake-rtts` more), and the owner, one request at a time:
  - adds a caption track with a cue every 2 s (POST …/captions),
  - makes the video private, and public again (PATCH; each copies the ladder and removes the
    old prefix),
  - removes the track (DELETE …/captions/eng),
  - deletes the video (DELETE).
Each is timed from its send to its answer. A video's objects grow with its length (a 2 s
segment per rung and per track), so the times do too; a 2-hour 1080p film has some 15,000.
The table goes to stdout and to .build/bench-owner-edits.md.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "browser"))
sys.path.insert(0, str(ROOT / "bench"))
from conftest import free_port, start_seaweed, stop, upload, wait_ready  # noqa: E402
from remote_bucket import publish, start_link, start_serve  # noqa: E402

STEPS = ["add captions", "make private", "make public", "remove captions", "delete video"]


def timed_call(url, method, token, body=None, content_type=None):
    """One request, with a timeout long enough for the slowest build; returns (status, seconds)."""
    request = urllib.request.Request(url, data=body, method=method, headers={"Authorization": f"Bearer {token}"})
    if content_type:
        request.add_header("Content-Type", content_type)
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=1800) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    return status, time.monotonic() - started


def captions(minutes):
    cues = []
    for number in range(minutes * 30):
        start = number * 2
        stamp = f"{start // 3600:02d}:{start // 60 % 60:02d}:{start % 60:02d}"
        cues.append(f"{number + 1}\n{stamp},000 --> {stamp},900\nCue {number}\n")
    return "\n".join(cues).encode()


def one_run(before_or_after, maker, source, minutes, s3_port, link_port, bucket, root):
    data = Path(tempfile.mkdtemp(prefix="data-", dir=root))
    env = dict(os.environ, R2_BUCKET_NAME=bucket, R2_ACCESS_KEY_ID="benchkey", R2_SECRET_ACCESS_KEY="benchsecret",
               S3_REGION="us-east-1")
    env.pop("REDIS_URL", None)
    env.pop("DATABASE_URL", None)
    try:
        process, base = start_serve(maker, str(data), dict(env, R2_S3_API=f"http://127.0.0.1:{s3_port}"))
        try:
            video, token = upload(base, source)
            assert wait_ready(base, video, token, timeout=1800)["status"] == "READY"
        finally:
            stop(process)
        process, base = start_serve(before_or_after, str(data), dict(env, R2_S3_API=f"http://127.0.0.1:{link_port}"))
        try:
            api = base + f"api/videos/{video}"
            requests = [
                (api + "/captions?language=eng&format=srt", "POST", captions(minutes), "application/x-subrip", 201),
                (api, "PATCH", json.dumps({"visibility": "private"}).encode(), "application/json", 200),
                (api, "PATCH", json.dumps({"visibility": "public"}).encode(), "application/json", 200),
                (api + "/captions/eng", "DELETE", None, None, 204),
                (api, "DELETE", None, None, 204),
            ]
            seconds = []
            for url, method, body, content_type, expected in requests:
                status, elapsed = timed_call(url, method, token, body, content_type)
                assert status == expected, f"{method} {url}: {status}"
                seconds.append(elapsed)
            return seconds
        finally:
            stop(process)
    finally:
        shutil.rmtree(data, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--rtt-ms", type=float, default=40)
    parser.add_argument("--handshake-rtts", type=float, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    arguments = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="vstream-owner-edits-", dir="/tmp"))
    source = root / f"long-{arguments.minutes}min.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"color=c=gray:size=64x64:rate=1:duration={arguments.minutes * 60}",
                    "-c:v", "libx264", "-g", "2", "-pix_fmt", "yuv420p", str(source)], check=True)
    weed_port = free_port()
    weed = start_seaweed(root, weed_port, [free_port() for _ in range(3)], "benchkey", "benchsecret")
    link, link_port = start_link(weed_port, arguments.rtt_ms, arguments.handshake_rtts)
    results = {}
    runs = 0
    try:
        for round_number in range(arguments.rounds):
            order = [("before", arguments.before), ("after", arguments.after)]
            for name, binary in (order if round_number % 2 == 0 else order[::-1]):
                runs += 1
                seconds = one_run(binary, arguments.after, source, arguments.minutes, weed_port, link_port, f"run{runs}", root)
                results.setdefault(name, []).append(seconds)
                print(f"{name}: " + ", ".join(f"{step} {value:.2f} s" for step, value in zip(STEPS, seconds)), flush=True)
    finally:
        stop(link)
        stop(weed)
        shutil.rmtree(root, ignore_errors=True)

    lines = [f"{arguments.minutes} min source (one rung, {arguments.minutes * 30} segments); RTT {arguments.rtt_ms:g} ms, "
             f"handshake {arguments.handshake_rtts:g} RTT; {arguments.rounds} rounds, alternated; medians, seconds",
             "", "| build | " + " | ".join(STEPS) + " |", "|---" * (len(STEPS) + 1) + "|"]
    for name in ("before", "after"):
        medians = [statistics.median(run[index] for run in results[name]) for index in range(len(STEPS))]
        lines.append(f"| {name} | " + " | ".join(f"{value:.2f}" for value in medians) + " |")
    publish("\n".join(lines), "bench-owner-edits.md")


if __name__ == "__main__":
    main()
