"""Starts `vstream serve` (the embedded default) on 127.0.0.1 for the browser tests and
stops it by PID. The binary is the debug build that `make test` has just made."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VSTREAM = ROOT / ".build" / "debug" / "vstream"
FIXTURES = ROOT / "fixtures" / "media"
ARTIFACTS = ROOT / ".build" / "browser-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def server():
    data = tempfile.mkdtemp(prefix="vstream-browser-")
    port = free_port()
    log = open(Path(data) / "serve.log", "w+")
    process = subprocess.Popen(
        [str(VSTREAM), "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", data],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True)
    url = None
    deadline = time.time() + 30
    while time.time() < deadline and url is None:
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+/", line or "")
        if match:
            url = match.group(0)
    assert url, "vstream serve did not print its URL"
    try:
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(data, ignore_errors=True)
