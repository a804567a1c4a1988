"""What each audio track of a source costs the engine, measured (not part of `make test`).

    swift build -c release --product vstream
    python3 bench/audio_tracks.py [--seconds 60] [--rounds 2] [--baseline OTHER_VSTREAM]

Makes one source of `seconds` of 640x360 video with 8 stereo AAC tracks (distinct tones), and
stream copies of it with the first 1, 2 and 4 of them. Each is transcoded by the release
`vstream transcode --ladder 360,720` in turn, the rounds interleaved so a slow spell of the
machine falls on every count alike; wall time, CPU (user + system) and peak RSS come from GNU
time. The table, with the CPU each track adds over the one-track run, goes to stdout and
.build/bench-audio-tracks.md. With `--baseline`, another build of vstream (an older commit's)
runs every source too, interleaved, and the table compares the wall times in the same call.
"""
import argparse
import statistics
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VSTREAM = ROOT / ".build" / "release" / "vstream"
COUNTS = (1, 2, 4, 8)


def make_sources(folder: Path, seconds: int) -> dict:
    full = folder / "tracks8.mkv"
    arguments = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi",
                 "-i", f"testsrc2=size=640x360:rate=30:duration={seconds}"]
    for track in range(8):
        arguments += ["-f", "lavfi", "-i", f"sine=frequency={300 + 100 * track}:duration={seconds}"]
    arguments += ["-map", "0:v"] + [item for track in range(1, 9) for item in ("-map", f"{track}:a")]
    arguments += ["-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", "-ac", "2", str(full)]
    subprocess.run(arguments, check=True)
    sources = {8: full}
    for count in COUNTS[:-1]:
        path = folder / f"tracks{count}.mkv"
        maps = [item for track in range(count) for item in ("-map", f"0:a:{track}")]
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(full), "-map", "0:v", *maps, "-c", "copy",
                        str(path)], check=True)
        sources[count] = path
    return sources


def transcode(source: Path, output: Path, binary: Path = VSTREAM) -> tuple:
    """(wall s, CPU s, peak RSS MiB) of one run."""
    stats = output.with_suffix(".time")
    subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", "-o", str(stats), str(binary), "transcode", str(source),
                    "-o", str(output), "--ladder", "360,720", "--progress", "none"], check=True,
                   stdout=subprocess.DEVNULL)
    wall, user, system, rss = stats.read_text().split()[-4:]
    return float(wall), float(user) + float(system), int(rss) / 1024


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline", type=Path, help="another vstream binary, measured alongside")
    options = parser.parse_args()
    runs = {count: [] for count in COUNTS}
    baseline = {count: [] for count in COUNTS}
    with tempfile.TemporaryDirectory(prefix="vstream-audio-tracks-") as folder:
        sources = make_sources(Path(folder), options.seconds)
        for round_number in range(options.rounds):
            for count in COUNTS:
                runs[count].append(transcode(sources[count], Path(folder) / f"out-{count}-{round_number}"))
                if options.baseline:
                    baseline[count].append(transcode(sources[count], Path(folder) / f"base-{count}-{round_number}",
                                                     options.baseline))
    median = {count: tuple(statistics.median(run[i] for run in runs[count]) for i in range(3)) for count in COUNTS}
    base = {count: statistics.median(run[0] for run in baseline[count]) for count in COUNTS} if options.baseline else {}
    one = median[1]
    lines = [f"{options.seconds} s of 640x360 video, ladder 360p+720p, {options.rounds} rounds (median), "
             f"{VSTREAM.name} release",
             "",
             "| audio tracks | wall s | CPU s | peak RSS MiB | CPU per added track s | wall / one track |"
             + (" baseline wall s | wall / baseline |" if base else ""),
             "|---|---|---|---|---|---|" + ("---|---|" if base else "")]
    for count in COUNTS:
        wall, cpu, rss = median[count]
        added = (cpu - one[1]) / (count - 1) if count > 1 else 0
        compared = f" {base[count]:.2f} | {wall / base[count]:.3f} |" if base else ""
        lines.append(f"| {count} | {wall:.2f} | {cpu:.2f} | {rss:.0f} | {added:.2f} | {wall / one[0]:.3f} |{compared}")
    table = "\n".join(lines) + "\n"
    print(table)
    (ROOT / ".build").mkdir(exist_ok=True)
    (ROOT / ".build" / "bench-audio-tracks.md").write_text(table)


if __name__ == "__main__":
    main()
