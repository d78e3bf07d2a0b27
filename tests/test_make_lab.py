"""`make lab` really starts JupyterLab on the course: ask its HTTP API, then stop it."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from servers import free_port, stop_process_group

ROOT = Path(__file__).resolve().parents[1]



@pytest.mark.slow
def test_make_lab_serves_the_course(tmp_path):
    port, token = free_port(), secrets.token_hex(16)
    args = (f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={token} "
            "--allow-root")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "run")}
    log = tmp_path / "lab.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        contents = None
        while contents is None:
            try:
                url = f"http://127.0.0.1:{port}/api/contents?token={token}"
                with urllib.request.urlopen(url, timeout=2) as r:
                    contents = json.load(r)
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("make lab did not serve JupyterLab:\n" + log.read_text()[-3000:])
                time.sleep(1)
        names = {item["name"] for item in contents["content"]}
        assert "00_welcome.ipynb" in names, names
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}",
                                    timeout=5) as r:
            assert r.status == 200 and b"JupyterLab" in r.read()
    finally:
        stop_process_group(proc)
