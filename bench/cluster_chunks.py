"""Split and stitch across workers, measured (not part of `make test`).

    swift build -c release --product vstream
    python3 bench/cluster_chunks.py [--seconds 60] [--chunk-seconds 10] [--rounds 1] [--input FILE]

Each run starts Redis, `vstream serve --no-worker` and N `vstream worker`s on 127.0.0.1, sharing
one local data folder (the embedded storage and SQLite: the workers need no S3 for this), and
uploads the standard 1080p30 input through the API. Each worker is pinned to cores of its own
(`taskset`), so "N workers of k cores" is what it says even on a small host. The runs:

    whole      VSTREAM_CHUNK_SECONDS=0, one worker: today's one-video-per-worker
    chunked    VSTREAM_CHUNK_SECONDS=S, one worker: what chunking costs
    chunked    VSTREAM_CHUNK_SECONDS=S, N workers: what it buys

Measured from the 202 of `complete`: the first playback URL (SSE), READY, and the CPU of the
workers and their engine children (/proc: utime + stime + cutime + cstime). From the workers'
logs: each chunk's seconds (fetch, encode, store), the audio task's, the stitch's, and so the queue's overhead
(one worker: the wall time less the sum of its tasks). The table goes to
.build/bench-cluster-chunks.md.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "browser"))
from conftest import free_port, stop, upload  # noqa: E402
from test_watch_while_transcoding import events  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def bench_input(seconds: int) -> Path:
    """The standard input, `seconds` long: the 20 s one over again (a stream copy), so the
    work per second is the bench's."""
    twenty = ROOT / "fixtures" / "media" / "bench_1080p_20s.mp4"
    subprocess.run(["bash", str(ROOT / "fixtures" / "make_bench_input.sh"), "20", str(twenty)], check=True,
                   stdout=subprocess.DEVNULL)
    if seconds == 20:
        return twenty
    out = ROOT / ".build" / f"bench_1080p_{seconds}s_concat.mp4"
    if not out.exists():
        assert seconds % 20 == 0, "a multiple of 20 s"
        listing = out.with_suffix(".txt")
        listing.parent.mkdir(parents=True, exist_ok=True)
        listing.write_text("".join(f"file '{twenty}'\n" for _ in range(seconds // 20)))
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing),
                        "-c", "copy", "-movflags", "+faststart", str(out)], check=True)
        listing.unlink()
    return out


def cpu_seconds(pid: int) -> float:
    """The process's CPU and that of the children it has waited for."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICK


def wait_for(path: Path, text: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{path.name} never said {text!r}: {path.read_text(errors='replace')[-2000:]}")


def run(binary: Path, source: Path, chunk_seconds: float, cpu_sets: list[str]) -> dict:
    root = Path(tempfile.mkdtemp(prefix="vstream-bench-cluster-"))
    processes, workers = [], []
    try:
        redis_port = free_port()
        processes.append(subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                                           "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL))
        env = dict(os.environ, REDIS_URL=f"redis://127.0.0.1:{redis_port}", VSTREAM_DATA_DIR=str(root / "data"),
                   VSTREAM_CHUNK_SECONDS=str(chunk_seconds))
        time.sleep(0.3)
        port = free_port()
        serve_log = root / "serve.log"
        processes.append(subprocess.Popen([str(binary), "serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port)],
                                          env=env, stdout=subprocess.DEVNULL, stderr=open(serve_log, "w")))
        wait_for(serve_log, "127.0.0.1")
        base = f"http://127.0.0.1:{port}/"
        for number, cpus in enumerate(cpu_sets):
            log = root / f"worker-{number}.log"
            worker = subprocess.Popen(["taskset", "-c", cpus, str(binary), "worker"], env=env,
                                      stdout=subprocess.DEVNULL, stderr=open(log, "w"))
            processes.append(worker)
            workers.append((worker, log))
            wait_for(log, "worker started")

        video, owner = upload(base, source)
        started = time.monotonic()
        cpu_before = sum(cpu_seconds(w.pid) for w, _ in workers)
        playable = ready = None
        for kind, data in events(base, video, owner):
            now = time.monotonic() - started
            if playable is None and data.get("playbackUrl"):
                playable = now
            if data.get("status") == "READY":
                ready = now
                break
            if data.get("status") == "FAILED":
                raise RuntimeError(f"FAILED: {data}")
        cpu = sum(cpu_seconds(w.pid) for w, _ in workers) - cpu_before

        logs = "".join(log.read_text(errors="replace") for _, log in workers)
        lines = [line for line in logs.splitlines() if video in line]
        chunks = {int(m.group(1)): float(s.group(1)) for line in lines if "chunk encoded" in line
                  for m in [re.search(r"chunk=(\d+)", line)] for s in [re.search(r"seconds=([\d.]+)", line)] if m and s}
        stitch = [float(m.group(1)) for line in lines if " stitched" in line for m in [re.search(r"seconds=([\d.]+)", line)] if m]
        audio = [float(m.group(1)) for line in lines if "audio encoded" in line for m in [re.search(r"seconds=([\d.]+)", line)] if m]
        whole = [float(m.group(1)) for line in lines if " transcoded" in line for m in [re.search(r"seconds=([\d.]+)", line)] if m]
        busy = sum(chunks.values()) + sum(audio) + sum(stitch) + sum(whole)
        return {"workers": len(cpu_sets), "cores": ",".join(cpu_sets), "chunk_seconds": chunk_seconds, "wall": ready,
                "playable": playable, "cpu": cpu, "chunks": chunks, "audio": sum(audio), "stitch": sum(stitch), "tasks": busy,
                "overhead": ready - busy if len(cpu_sets) == 1 else None}
    finally:
        for process in reversed(processes):
            stop(process)
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--chunk-seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--binary", type=Path, default=ROOT / ".build" / "release" / "vstream")
    parser.add_argument("--workers", default="0;0|1", help="core sets of the chunked runs' workers: runs split by ';', workers by '|'")
    parser.add_argument("--out", type=Path, default=ROOT / ".build" / "bench-cluster-chunks.md")
    parser.add_argument("--input", type=Path, help="another source than the bench input (--seconds is then ignored)")
    args = parser.parse_args()
    source = args.input or bench_input(args.seconds)
    plans = [("whole", 0, ["0"])] + [("chunked", args.chunk_seconds, cores.split("|")) for cores in args.workers.split(";")]
    rows = []
    for round_number in range(args.rounds):
        for name, seconds, cpu_sets in (plans if round_number % 2 == 0 else list(reversed(plans))):
            result = run(args.binary, source, seconds, cpu_sets)
            result["name"] = name
            rows.append(result)
            print(f"{name} x{result['workers']}: wall {result['wall']:.2f} s, CPU {result['cpu']:.1f} s, "
                  f"playable {result['playable']:.2f} s", flush=True)

    whole_wall = {r["wall"] for r in rows if r["name"] == "whole"}
    what = args.input.name if args.input else f"{args.seconds} s of 1080p30 (the bench input)"
    table = [f"{what}, {args.chunk_seconds:g} s chunks, "
             f"{os.cpu_count()} cores here, `{' '.join(sys.argv)}`", "",
             "| run | workers (cores) | wall s | CPU s | playable s | wall / whole | tasks s | audio task s | stitch s | queue overhead s | chunk s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    reference = sum(whole_wall) / len(whole_wall)
    for r in rows:
        chunk_list = " ".join(f"{r['chunks'][k]:.1f}" for k in sorted(r["chunks"]))
        overhead = f"{r['overhead']:.2f}" if r["overhead"] is not None else ""
        table.append(f"| {r['name']} | {r['workers']} ({r['cores']}) | {r['wall']:.2f} | {r['cpu']:.1f} | "
                     f"{r['playable']:.2f} | {r['wall'] / reference:.3f} | {r['tasks']:.2f} | {r['audio']:.2f} | {r['stitch']:.2f} | "
                     f"{overhead} | {chunk_list} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(table) + "\n")
    print("\n".join(table))


if __name__ == "__main__":
    main()
