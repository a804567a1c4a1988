"""The service against a distant bucket, measured (not part of `make test`).

    swift build -c release --product vstream     # once per build compared
    python3 bench/remote_bucket.py BEFORE AFTER [--input FILE] [--rtt-ms 0,40] [--handshake-rtts 2] [--rounds 2]
                                    [--requests FILE]

R2 is a remote bucket, reached over HTTPS; SeaweedFS on 127.0.0.1 answers in a millisecond,
so what the service's round trips cost never shows in the tests. Here `vstream serve` (the
embedded worker, SQLite, no Redis) stores into SeaweedFS through bench/slow_link.py, which
delays every byte by half a round trip and a new connection's first bytes by
`--handshake-rtts` more (TCP + TLS 1.3: 2). An RTT of 0 is SeaweedFS direct.

The two builds are run alternately (BEFORE, AFTER, AFTER, BEFORE, ...) in one call, on the
same input, uploaded through the API as the page does. Measured from the 202 of `complete`:
the first playback URL (the `playable` event) and READY. The table goes to stdout and to
.build/bench-remote-bucket.md.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "browser"))
from conftest import free_port, start_seaweed, stop, upload, wait_for_port  # noqa: E402
from test_watch_while_transcoding import events  # noqa: E402


def start_link(to_port, rtt_ms, handshake_rtts, log=None):
    port = free_port()
    process = subprocess.Popen([sys.executable, str(ROOT / "bench" / "slow_link.py"), "--listen", str(port), "--to",
                                str(to_port), "--rtt-ms", str(rtt_ms), "--handshake-rtts", str(handshake_rtts)]
                               + (["--log", log] if log else []))
    wait_for_port(port)
    return process, port


def start_serve(binary, data, env):
    port = free_port()
    log = open(Path(data) / "serve.log", "w+")
    process = subprocess.Popen([binary, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", data],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log, env=env)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            wait_for_port(port, timeout=1)
            return process, f"http://127.0.0.1:{port}/"
        except AssertionError:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"vstream serve ended: {log.read()[-2000:]}")
    raise RuntimeError("vstream serve did not listen")


def one_run(binary, source, s3_port, bucket, root):
    data = Path(tempfile.mkdtemp(prefix="data-", dir=root))
    env = dict(os.environ, R2_S3_API=f"http://127.0.0.1:{s3_port}", R2_BUCKET_NAME=bucket,
               R2_ACCESS_KEY_ID="benchkey", R2_SECRET_ACCESS_KEY="benchsecret", S3_REGION="us-east-1")
    env.pop("REDIS_URL", None)
    env.pop("DATABASE_URL", None)
    process, base = start_serve(binary, str(data), env)
    try:
        video, token = upload(base, source)
        completed = time.monotonic()
        playable = ready = None
        for kind, event in events(base, video, token):
            if playable is None and event.get("playbackUrl"):
                playable = time.monotonic() - completed
            if kind == "ready":
                ready = time.monotonic() - completed
                break
            if kind == "failed":
                raise RuntimeError(f"the video failed: {event}")
        return playable, ready
    finally:
        stop(process)
        shutil.rmtree(data, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--input", default=str(ROOT / "fixtures" / "media" / "upload_30mb.mp4"))
    parser.add_argument("--rtt-ms", default="0,40")
    parser.add_argument("--handshake-rtts", type=float, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests", help="a file where bench/slow_link.py writes every request it carries")
    arguments = parser.parse_args()
    rtts = [float(value) for value in arguments.rtt_ms.split(",")]
    root = Path(tempfile.mkdtemp(prefix="vstream-remote-bucket-", dir="/tmp"))
    weed_port = free_port()
    weed = start_seaweed(root, weed_port, [free_port() for _ in range(3)], "benchkey", "benchsecret")
    results = {}
    runs = 0
    try:
        for rtt in rtts:
            link, port = start_link(weed_port, rtt, arguments.handshake_rtts, arguments.requests) if rtt > 0 else (None, weed_port)
            try:
                for round_number in range(arguments.rounds):
                    order = [("before", arguments.before), ("after", arguments.after)]
                    for name, binary in (order if round_number % 2 == 0 else order[::-1]):
                        runs += 1
                        if arguments.requests:
                            with open(arguments.requests, "a") as requests:
                                requests.write(f"# run {runs}: rtt {rtt:g} ms, {name}\n")
                        playable, ready = one_run(binary, arguments.input, port, f"run{runs}", root)
                        results.setdefault((rtt, name), []).append((playable, ready))
                        print(f"rtt {rtt:g} ms, {name}: playable {playable:.2f} s, READY {ready:.2f} s", flush=True)
            finally:
                if link:
                    stop(link)
    finally:
        stop(weed)
        shutil.rmtree(root, ignore_errors=True)

    lines = [f"input {Path(arguments.input).name}; handshake {arguments.handshake_rtts:g} RTT; "
             f"{arguments.rounds} rounds, alternated; seconds from the 202 of complete",
             "", "| RTT ms | build | playable s | median | READY s | median |", "|---|---|---|---|---|---|"]
    for (rtt, name), values in results.items():
        playables, readies = [v[0] for v in values], [v[1] for v in values]
        lines.append(f"| {rtt:g} | {name} | {', '.join(f'{v:.2f}' for v in playables)} | {statistics.median(playables):.2f} "
                     f"| {', '.join(f'{v:.2f}' for v in readies)} | {statistics.median(readies):.2f} |")
    publish("\n".join(lines), "bench-remote-bucket.md")


def publish(table, name):
    """Prints a bench's table and keeps it in .build/NAME."""
    print(table)
    out = ROOT / ".build" / name
    out.parent.mkdir(exist_ok=True)
    out.write_text(table + "\n")


if __name__ == "__main__":
    main()
