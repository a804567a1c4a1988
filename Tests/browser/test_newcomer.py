"""The README's run command, exactly as a newcomer types it: it starts the embedded
default and prints the URL to open, and that URL serves the page."""
import os
import re
import signal
import subprocess
import tempfile
import time
import urllib.request

from conftest import ROOT, free_port


def readme_run_command() -> str:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", readme, re.S).group(1)
    line = next(l for l in block.splitlines() if "run" in l.split("#")[0])
    return line.split("#")[0].strip()


def test_the_readme_run_command_serves_the_page():
    command = readme_run_command()
    assert command == "make run"
    port = free_port()
    data = tempfile.mkdtemp(prefix="vstream-newcomer-")
    env = dict(os.environ, PORT=str(port), VSTREAM_DATA_DIR=data)
    process = subprocess.Popen(command, shell=True, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        url = None
        deadline = time.time() + 2400  # a first release build from a cold cache takes many minutes
        while time.time() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
            if match:
                url = match.group(0)
                break
        assert url == f"http://127.0.0.1:{port}/", f"no URL printed (got {url})"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
            assert b"vstream" in response.read()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
