#!/usr/bin/env python3
"""A still picture while it transcodes (issue 22): how soon the early ladder is out, and what
the whole run costs, for one or more builds, rounds interleaved, in one call.

    python3 bench/still_picture.py --seconds 600 --rounds 2 [--container mkv] BUILD [BUILD...]

The source is one 640x360 frame, then SECONDS of a stereo tone in AAC (made with the ffmpeg
CLI, moov first; or the same streams in Matroska, which counts no frames). Each build runs `vstream transcode SOURCE -o OUT --progressive --dash
--ladder 360`, as the service does, under GNU time. "early s" is when `live.m3u8` (the early
master) appears; "sound 1 s later" is how much sound the early ladder names a second after that
(its audio EVENT playlist's EXTINFs), what a viewer who started then can play. Prints one
Markdown table of the medians.
"""
import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path


def make_source(folder: Path, seconds: int, container: str) -> Path:
    picture, tone, source = folder / "one.mp4", folder / "tone.m4a", folder / f"still.{container}"
    for arguments in (["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-frames:v", "1", "-c:v", "libx264", str(picture)],
                      ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}", "-ac", "2",
                       "-c:a", "aac", "-b:a", "128k", str(tone)],
                      ["-i", str(picture), "-i", str(tone), "-map", "0:v", "-map", "1:a", "-c", "copy",
                       *(["-movflags", "+faststart"] if container == "mp4" else []), str(source)]):
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *arguments], check=True)
    return source


def sound_named(playlist: Path) -> float:
    try:
        text = playlist.read_text()
    except OSError:
        return 0.0
    return sum(float(line[8:].split(",")[0]) for line in text.splitlines() if line.startswith("#EXTINF:"))


def run(binary: str, source: Path, out: Path) -> dict:
    timing = out.with_suffix(".time")
    started = time.monotonic()
    child = subprocess.Popen(["/usr/bin/time", "-f", "%e %U %S %M", "-o", str(timing), binary, "transcode", str(source),
                              "-o", str(out), "--progressive", "--dash", "--ladder", "360", "--progress", "none"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    early, sound = None, None
    while child.poll() is None:
        now = time.monotonic() - started
        if early is None and (out / "live.m3u8").exists():
            early = now
        if early is not None and sound is None and now >= early + 1:
            sound = sound_named(out / "audio" / "live.m3u8")
        time.sleep(0.01)
    if sound is None:  # it ended within the second: what the ended playlist names
        sound = sound_named(out / "audio" / "live.m3u8")
    if child.returncode != 0:
        raise SystemExit(f"{binary} failed ({child.returncode})")
    wall, user, system, rss = timing.read_text().split()[-4:]
    return {"early": early if early is not None else float("nan"), "sound": sound, "wall": float(wall),
            "cpu": float(user) + float(system), "rss": int(rss) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("builds", nargs="+")
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--container", choices=["mp4", "mkv"], default="mp4")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        source = make_source(work, arguments.seconds, arguments.container)
        results: dict[str, list[dict]] = {build: [] for build in arguments.builds}
        for round_number in range(arguments.rounds):
            for index, build in enumerate(arguments.builds):
                results[build].append(run(build, source, work / f"out-{round_number}-{index}"))
        print(f"| build | early s | sound 1 s later s | wall s | CPU s | peak RSS MiB |  ({arguments.seconds} s still picture, "
              f"{arguments.container}, "
              f"{arguments.rounds} rounds, medians)")
        print("|---|---|---|---|---|---|")
        for build, runs in results.items():
            median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
            print(f"| {os.path.relpath(build)} | {median['early']:.2f} | {median['sound']:.1f} | {median['wall']:.2f} "
                  f"| {median['cpu']:.2f} | {median['rss']:.0f} |")


if __name__ == "__main__":
    main()
