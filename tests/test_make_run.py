"""`make run` serves the app on 127.0.0.1 only (issue 18): checked through the Makefile's own command."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_run_command_binds_loopback_by_default_and_exposes_only_on_request():
    dry = subprocess.run(["make", "-n", "run"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert "--server.address 127.0.0.1" in dry.stdout and "0.0.0.0" not in dry.stdout
    exposed = subprocess.run(["make", "-n", "run", "COSTSIM_HOST=0.0.0.0"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert "--server.address 0.0.0.0" in exposed.stdout


def _listening(port: int) -> list[str]:
    """Local addresses listening on `port` (from /proc/net/tcp and tcp6)."""
    out = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(name, encoding="ascii").read().splitlines()[1:]
        except OSError:
            continue
        for ln in lines:
            parts = ln.split()
            local, state = parts[1], parts[3]
            addr, p = local.rsplit(":", 1)
            if state == "0A" and int(p, 16) == port:  # 0A = LISTEN
                out.append(addr)
    return out


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="needs Linux /proc/net/tcp")
def test_make_run_listens_on_loopback_only():
    port = _free_port()
    env = {**os.environ, "COSTSIM_PORT": str(port)}
    proc = subprocess.Popen(["make", "run", f"COSTSIM_PORT={port}"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "make run did not start the app"
            time.sleep(0.5)
        addrs = _listening(port)
        assert addrs, "nothing listens on the port"
        loopback = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1 (v4), ::1 (v6) in /proc byte order
        assert set(addrs) <= loopback, f"listening on {addrs}, not only on loopback"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
