"""What loudness normalisation costs, measured (not part of `make test`).

    swift build -c release --product vstream
    python3 bench/loudness.py [--seconds 60 600] [--rounds 2]

For each length, the standard 1080p30 input (the 20 s one over again, a stream copy) goes
through the release `vstream transcode --progressive --dash` as the service runs it, with
`--loudness -16` (the default) and `--loudness off`, rounds interleaved so a slow spell of
the machine falls on both alike. Measured: the early master (`live.m3u8`: the time to
playable of the engine alone), whether the gain was applied, and for inputs up to
`--whole-up-to` seconds the whole run's wall time, CPU (user + system) and peak RSS (GNU
time); longer ones are stopped at the early master. The table goes to stdout and
.build/bench-loudness.md.
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from cluster_chunks import bench_input  # noqa: E402

VSTREAM = ROOT / ".build" / "release" / "vstream"


def run(source: Path, loudness: str, whole: bool) -> dict:
    out = Path(tempfile.mkdtemp(prefix="vstream-loudness-"))
    stats = out.with_suffix(".time")
    started = time.monotonic()
    process = subprocess.Popen(["/usr/bin/time", "-f", "%e %U %S %M", "-o", str(stats), str(VSTREAM), "transcode",
                                str(source), "-o", str(out / "hls"), "--progress", "none", "--progressive", "--dash",
                                "--loudness", loudness], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    early = None
    while process.poll() is None:
        if early is None and (out / "hls" / "live.m3u8").exists():
            early = time.monotonic() - started
            if not whole:
                os.killpg(process.pid, signal.SIGTERM)  # GNU time and the transcode under it
                break
        time.sleep(0.005)
    printed, notes = process.communicate()
    found = {"early": early or float("nan"), "wall": float("nan"), "cpu": float("nan"), "rss": float("nan"),
             "gain": "?"}
    if whole:
        gains = [line.split("gain ")[1].split(" dB")[0] for line in printed.splitlines() if "loudness:" in line]
        found["gain"] = ", ".join(gains) + (" (kept: measured too late)" if "loudness left as it is" in notes else "") or "-"
        wall, user, system, rss = stats.read_text().split()[-4:]
        found.update(wall=float(wall), cpu=float(user) + float(system), rss=int(rss) / 1024)
    shutil.rmtree(out, ignore_errors=True)
    stats.unlink(missing_ok=True)
    return found


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, nargs="+", default=[60, 600])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--whole-up-to", type=int, default=60)
    options = parser.parse_args()
    rows = ["| input | loudness | gain dB | early master s | wall s | CPU s | peak RSS MiB | early / off | CPU / off |",
            "|---|---|---|---|---|---|---|---|---|"]
    for seconds in options.seconds:
        source = bench_input(seconds)
        runs = {"-16": [], "off": []}
        for _ in range(options.rounds):
            for loudness in runs:
                runs[loudness].append(run(source, loudness, seconds <= options.whole_up_to))
        median = {loudness: {key: statistics.median(r[key] for r in found) for key in found[0] if key != "gain"}
                  | {"gain": found[-1]["gain"]} for loudness, found in runs.items()}
        for loudness in ("off", "-16"):
            m, off = median[loudness], median["off"]
            rows.append(f"| {seconds} s 1080p | {loudness} | {m['gain']} | {m['early']:.2f} | {m['wall']:.2f} | {m['cpu']:.2f} | "
                        f"{m['rss']:.0f} | {m['early'] / off['early']:.3f} | {m['cpu'] / off['cpu']:.3f} |")
    table = f"{os.cpu_count()} cores, {options.rounds} rounds (median), release build\n\n" + "\n".join(rows) + "\n"
    print(table)
    (ROOT / ".build").mkdir(exist_ok=True)
    (ROOT / ".build" / "bench-loudness.md").write_text(table)


if __name__ == "__main__":
    main()
